"""Scheduling policies: which waiting feature batch a free GPU serves next.

Paper, section on scheduling features across GPUs. A policy is asked once a GPU
is free; by choosing *which* waiting batch that GPU takes it decides both the
placement (GPU) and the order. Which free GPU asks first is the placement rule
(`Placement`): capacity-aware (fastest free GPU first, the paper's mixed-GPU
design) or random.

- FCFS: the oldest waiting batch.
- SFF (similar feature first): each bucket is owned by one GPU, claimed the first
  time a GPU takes one of its batches; a GPU serves its current bucket back to back,
  then its other buckets, then claims an unowned one. It never takes another GPU's
  bucket, so similar features stay together (and a GPU may idle: that is SFF's cost).
- DFF (dissimilar feature first, the paper's choice): a GPU takes the waiting batch
  whose bucket is least represented in its last `history` served batches, oldest
  first on ties, so every replica sees a representative mix and nothing starves.
  When several equally fast GPUs are free, a batch goes to the one where its
  bucket is rarest; placement still decides between GPUs of different speeds (a
  batch never goes to a slow free GPU because its bucket is rarer there).
"""
from __future__ import annotations

from collections import Counter, deque

import numpy as np


class Policy:
    """Pairs a free GPU with a waiting batch. Waiting lists are oldest first."""

    def assign(self, free_gpus: list[int], candidates_for) -> tuple[int, object] | None:
        """`free_gpus` in placement order; `candidates_for(gpu)`: the waiting batches
        that GPU may serve. The first GPU whose `choose` finds a batch gets it."""
        for gpu in free_gpus:
            candidates = candidates_for(gpu)
            batch = self.choose(gpu, candidates) if candidates else None
            if batch is not None:
                return gpu, batch
        return None

    def choose(self, gpu: int, waiting: list):
        raise NotImplementedError

    def served(self, gpu: int, batch) -> None:
        """Called when `gpu` starts serving `batch`."""


class FCFS(Policy):
    def choose(self, gpu, waiting):
        return waiting[0]


class SFF(Policy):
    def __init__(self):
        self.owner: dict = {}      # bucket -> GPU
        self.current: dict = {}    # GPU -> bucket it is serving

    def choose(self, gpu, waiting):
        mine = [b for b in waiting if self.owner.get(b.bucket) == gpu]
        same = [b for b in mine if b.bucket == self.current.get(gpu)]
        free = [b for b in waiting if b.bucket not in self.owner]
        for candidates in (same, mine, free):
            if candidates:
                return candidates[0]
        return None

    def served(self, gpu, batch):
        self.owner.setdefault(batch.bucket, gpu)
        self.current[gpu] = batch.bucket


class DFF(Policy):
    def __init__(self, history: int, speeds: list[float] | None = None):
        self.history = history
        self.speeds = speeds       # relative GPU speeds; None: all equal
        self.recent: dict[int, deque] = {}

    def _speed(self, gpu: int) -> float:
        return 1.0 if self.speeds is None else self.speeds[gpu]

    def assign(self, free_gpus, candidates_for):
        """Placement picks the speed tier: the first free GPU (in placement order)
        that may serve something, and every free GPU as fast as it. Over those GPUs
        and their waiting batches: the batch least represented in that GPU's
        history, then the oldest, then the GPU first in placement order. With
        several equally fast GPUs free this also decides which one: a bucket goes
        where it is rare. (Letting rarity override speed would send batches to a
        slow GPU while a fast one idles, defeating capacity-aware placement.)"""
        tier = None
        best = None
        for rank, gpu in enumerate(free_gpus):
            if tier is not None and self._speed(gpu) != tier:
                continue
            candidates = candidates_for(gpu)
            if not candidates:
                continue
            tier = self._speed(gpu)
            counts = Counter(self.recent.get(gpu, ()))
            for age, batch in enumerate(candidates):
                key = (counts[batch.bucket], age, rank)
                if best is None or key < best[0]:
                    best = (key, gpu, batch)
        return None if best is None else best[1:]

    def served(self, gpu, batch):
        self.recent.setdefault(gpu, deque(maxlen=self.history)).append(batch.bucket)


def make_policy(config) -> Policy:
    return {"fcfs": FCFS, "sff": SFF, "dff": lambda: DFF(config.dff_history, config.resolved_gpu_speeds)}[config.scheduler]()


class Placement:
    """The order in which free GPUs pick work.

    capacity: fastest first (ties by index), the paper's capacity-aware placement.
    random:   a seeded random order each time, the baseline it is compared with.
    """

    def __init__(self, kind: str, speeds: list[float], rng: np.random.Generator):
        self.kind, self.speeds, self.rng = kind, speeds, rng

    def order(self, free_gpus: list[int]) -> list[int]:
        if self.kind == "random":
            return [free_gpus[i] for i in self.rng.permutation(len(free_gpus))]
        return sorted(free_gpus, key=lambda g: (-self.speeds[g], g))
