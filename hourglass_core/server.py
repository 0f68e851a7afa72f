"""The server side of split FL: a waiting list, a scheduler and M virtual GPUs.

Each virtual GPU is a SimPy process that reads like the protocol it models:

    wait until the scheduler hands me a feature batch
    make its server partition resident (SplitFed-V1 may have to swap)
    run the real server step on that partition -> dL/d(features)
    hold for the step's simulated duration
    answer the client

Batches reach the waiting list through the grouping stage (grouping.py); every
time a batch arrives or a GPU frees up, `_dispatch` lets free GPUs, in placement
order, ask the policy for their next batch (schedulers.py).
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import simpy


@dataclass(eq=False)
class FeatureBatch:
    """One client's feature batch (smashed data) travelling through the server.

    It carries the indices of the client's samples, not its activations: the
    client's model cannot change while it waits for its gradient, so the features
    are computed (with their autograd graph) only when a GPU serves the batch,
    exactly what they would have been at upload time. Queued batches therefore hold
    no tensors at all, and memory does not grow with the number of clients waiting
    (DESIGN.md section 4).
    """

    id: int
    client: object
    iteration: int
    samples: np.ndarray          # indices into the training set
    arrived_s: float
    reply: simpy.Event
    descriptor: np.ndarray | None = None
    bucket: str | None = None
    ready_s: float | None = None   # when grouping released it to the waiting list

    @property
    def size(self) -> int:
        return len(self.samples)


@dataclass
class RoundLedger:
    """What the server saw this round: feeds rounds.jsonl and events.jsonl."""

    num_gpus: int
    busy_s: list = field(default_factory=list)
    served: list = field(default_factory=list)    # (gpu, bucket) per batch, in service order
    events: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    samples: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    discarded: int = 0    # batches whose client vanished before they were served
    swap_count: int = 0
    swap_time_s: float = 0.0

    def __post_init__(self):
        self.busy_s = [0.0] * self.num_gpus

    def _bucket_counts(self) -> dict[int, Counter]:
        per_gpu: dict[int, Counter] = {}
        for gpu, bucket in self.served:
            if bucket is not None:
                per_gpu.setdefault(gpu, Counter())[bucket] += 1
        return per_gpu

    def gpu_purity(self) -> float | None:
        """Mean over GPUs of the share of its batches that fall in its most common bucket."""
        per_gpu = self._bucket_counts()
        if not per_gpu:
            return None
        return float(np.mean([c.most_common(1)[0][1] / sum(c.values()) for c in per_gpu.values()]))

    def gpu_mix_distance(self) -> float | None:
        """Mean over GPUs of the total-variation distance between the GPU's bucket
        histogram and the overall one: 0 when every GPU sees the overall mix (DFF's
        aim), near 1 when each GPU sees its own buckets (SFF)."""
        per_gpu = self._bucket_counts()
        if not per_gpu:
            return None
        overall = sum(per_gpu.values(), Counter())
        total = sum(overall.values())
        distances = []
        for counts in per_gpu.values():
            n = sum(counts.values())
            distances.append(0.5 * sum(abs(counts[b] / n - overall[b] / total) for b in overall))
        return float(np.mean(distances))


class Server:
    """Waiting list + policy + M virtual GPU processes for one round."""

    def __init__(self, env, system, policy, placement, cost, ledger: RoundLedger, record_events: bool):
        self.env, self.system, self.policy, self.placement = env, system, policy, placement
        self.cost, self.ledger, self.record_events = cost, ledger, record_events
        self.grouping = None  # set by the engine (it needs the server to release batches to)
        self._ids = itertools.count()
        self.waiting: list[FeatureBatch] = []
        self.free: dict[int, simpy.Event] = {}
        for gpu in range(ledger.num_gpus):
            env.process(self._gpu(gpu))

    # ------------------------------------------------------------ arrivals
    def submit(self, client, iteration, samples) -> simpy.Event:
        """A client's upload has arrived; returns the event its gradient will fire."""
        batch = FeatureBatch(next(self._ids), client, iteration, samples, self.env.now, self.env.event())
        if self.grouping.needs_descriptors:
            batch.descriptor = client.describe(samples)
        self.grouping.admit(batch)
        return batch.reply

    def enqueue(self, *batches: FeatureBatch) -> None:
        """These batches are ready to be scheduled; a group joins the waiting list at
        one instant, so the policy sees all of it before a free GPU picks."""
        for batch in batches:
            batch.ready_s = self.env.now
        self.waiting.extend(batches)
        self._dispatch()

    # ------------------------------------------------------------ dispatch
    def _dispatch(self) -> None:
        gone = [b for b in self.waiting if b.client.gone]
        if gone:  # clients that vanished: their waiting features are discarded
            self.ledger.discarded += len(gone)
            self.waiting = [b for b in self.waiting if not b.client.gone]
        while self.waiting and self.free:
            choice = self.policy.assign(self.placement.order(list(self.free)),
                                        lambda gpu: self.system.servable(gpu, self.waiting))
            if choice is None:
                return
            gpu, batch = choice
            self.waiting.remove(batch)
            self.policy.served(gpu, batch)
            self.free.pop(gpu).succeed(batch)

    # ------------------------------------------------------------ a virtual GPU
    def _gpu(self, gpu: int):
        env, ledger = self.env, self.ledger
        while True:
            ready = self.free[gpu] = env.event()
            self._dispatch()
            batch = yield ready
            started = env.now
            ledger.served.append((gpu, batch.bucket))
            swap_s = self.system.make_resident(gpu, batch.client.id, ledger)
            if swap_s:
                yield env.timeout(swap_s)
            replica = self.system.replica_for(gpu, batch.client.id)
            inputs, labels = batch.client.inputs(batch.samples)
            features = batch.client.forward(inputs)
            smashed = features.detach().to(replica.device).requires_grad_()
            loss = replica.train_step(smashed, labels.to(replica.device))
            batch.client.backward(features, smashed.grad.to(features.device))
            yield env.timeout(self.cost.server_step_s(gpu, batch.size))
            ledger.busy_s[gpu] += env.now - started
            ledger.losses.append((loss, batch.size))
            ledger.samples += batch.size
            if self.record_events:
                ledger.events.append({"client": batch.client.id, "iteration": batch.iteration,
                                      "gpu": gpu, "bucket": batch.bucket, "samples": batch.size,
                                      "arrive_s": batch.arrived_s, "ready_s": batch.ready_s,
                                      "start_s": started,
                                      "end_s": env.now, "swap_s": swap_s})
            batch.reply.succeed(batch)
