"""Grouping feature batches into buckets of similar features: k-means or online LSH.

Paper, section on scheduling features across GPUs. A grouping sits between a
batch's arrival at the server and the scheduler's waiting list:

- `NoGrouping`: batches go straight to the waiting list (FCFS needs no buckets).
- `LSHGrouping`: online Euclidean (p-stable) LSH. Each batch is hashed the moment it
  arrives, h(v) = floor((a.v + b) / w) for `num_hashes` hashes concatenated, with a
  and b drawn once per run from the seed; it is dispatchable at once.
- `KMeansGrouping`: waits until every participating client's batch of the current
  iteration has arrived (stragglers stall it), clusters their descriptors with
  scikit-learn's k-means, then releases them all. Our choice: centroids carry over
  from one iteration to the next (warm start) so cluster ids mean the same thing
  across iterations.

Descriptor, hashing and clustering work is charged to the simulated clock through
the cost model; `GroupingStats` collects what `rounds.jsonl` reports.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans


class EuclideanLSH:
    """p-stable LSH for Euclidean distance (Datar et al. 2004)."""

    def __init__(self, dim: int, num_hashes: int, width: float, seed: int):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 104729]))
        self.a = rng.standard_normal((num_hashes, dim))
        self.b = rng.uniform(0.0, width, num_hashes)
        self.width = width

    def bucket(self, vector: np.ndarray) -> str:
        codes = np.floor((self.a @ vector + self.b) / self.width).astype(int)
        return ",".join(map(str, codes))


@dataclass
class GroupingStats:
    """Per-round grouping figures for rounds.jsonl."""

    bucket_sizes: Counter = field(default_factory=Counter)
    cluster_time_s: float = 0.0     # simulated seconds charged for descriptors, hashing, clustering
    cluster_wall_s: float = 0.0     # real seconds this machine spent on the same
    cluster_wait_s: float = 0.0     # simulated seconds batches waited before they could be scheduled

    def record(self) -> dict:
        sizes = sorted(self.bucket_sizes.values(), reverse=True)
        return {"num_buckets": len(sizes), "bucket_sizes": sizes,
                "cluster_time_s": self.cluster_time_s, "cluster_wall_s": self.cluster_wall_s,
                "cluster_wait_s": self.cluster_wait_s}


class NoGrouping:
    needs_descriptors = False

    def __init__(self, env, server, cost, config):
        self.env, self.server, self.cost, self.config = env, server, cost, config
        self.stats = GroupingStats()

    def expect(self, iteration_sizes: Counter) -> None:
        """How many batches each iteration of this round will bring."""

    def withdraw(self, iterations) -> None:
        """A client dropped: it will bring no batch for these iterations."""

    def admit(self, batch) -> None:
        self.server.enqueue(batch)

    def _release(self, *batches) -> None:
        for batch in batches:
            self.stats.cluster_wait_s += self.env.now - batch.arrived_s
            self.stats.bucket_sizes[batch.bucket] += 1
        self.server.enqueue(*batches)


class LSHGrouping(NoGrouping):
    needs_descriptors = True

    def __init__(self, env, server, cost, config, lsh: EuclideanLSH):
        super().__init__(env, server, cost, config)
        self.lsh = lsh

    def admit(self, batch):
        self.env.process(self._hash(batch))

    def _hash(self, batch):
        started = time.perf_counter()
        batch.bucket = self.lsh.bucket(batch.descriptor)
        self.stats.cluster_wall_s += time.perf_counter() - started
        charge = self.cost.descriptor_s(batch.size) + self.cost.hash_s(len(batch.descriptor), len(self.lsh.b))
        self.stats.cluster_time_s += charge
        yield self.env.timeout(charge)
        self._release(batch)


class KMeansGrouping(NoGrouping):
    needs_descriptors = True
    ITERATIONS = 10  # Lloyd iterations charged per clustering (sklearn's run may stop sooner)

    def __init__(self, env, server, cost, config, centroids: dict):
        super().__init__(env, server, cost, config)
        self.centroids = centroids           # shared across rounds: {"value": array or None}
        self.expected: Counter = Counter()
        self.pending: dict[int, list] = defaultdict(list)

    def expect(self, iteration_sizes):
        self.expected = Counter(iteration_sizes)

    def withdraw(self, iterations):
        for it in iterations:
            self.expected[it] -= 1
            self._maybe_release(it)

    def admit(self, batch):
        self.pending[batch.iteration].append(batch)
        self._maybe_release(batch.iteration)

    def _maybe_release(self, iteration):
        group = self.pending[iteration]
        if group and len(group) >= self.expected[iteration]:
            del self.pending[iteration]
            self.env.process(self._cluster(group))

    def _cluster(self, group):
        started = time.perf_counter()
        labels = self._labels(np.stack([b.descriptor for b in group]))
        self.stats.cluster_wall_s += time.perf_counter() - started
        dim = len(group[0].descriptor)
        charge = sum(self.cost.descriptor_s(b.size) for b in group) + self.cost.kmeans_s(
            len(group), dim, self.config.num_clusters, self.ITERATIONS)
        self.stats.cluster_time_s += charge
        yield self.env.timeout(charge)
        for batch, label in zip(group, labels):
            batch.bucket = f"k{label}"
        self._release(*sorted(group, key=lambda b: (b.arrived_s, b.id)))

    def _labels(self, points: np.ndarray) -> np.ndarray:
        labels, centers = kmeans_labels(points, self.config.num_clusters, self.config.seed,
                                        self.centroids.get("value"), self.ITERATIONS)
        self.centroids["value"] = centers
        return labels


def kmeans_labels(points: np.ndarray, k: int, seed: int, previous: np.ndarray | None = None,
                  max_iter: int = KMeansGrouping.ITERATIONS) -> tuple[np.ndarray, np.ndarray | None]:
    """Cluster `points` into k groups, warm-started from `previous` centroids when
    given (so ids stay stable across iterations). With fewer points than k, each
    point joins its nearest previous centroid (or its own group at the start).
    Returns (labels, centroids to carry on)."""
    if len(points) < k:
        if previous is None:
            return np.arange(len(points)), None
        return np.argmin(((points[:, None, :] - previous[None]) ** 2).sum(-1), axis=1), previous
    init = previous if previous is not None else "k-means++"
    km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=max_iter, random_state=seed).fit(points)
    return km.labels_, km.cluster_centers_


def make_grouping(env, server, cost, config, shared_state: dict):
    """The grouping for this round. `shared_state` carries the LSH functions and
    the k-means centroids from round to round."""
    kind = config.resolved_grouping
    if kind == "lsh":
        return LSHGrouping(env, server, cost, config, shared_state["lsh"])
    if kind == "kmeans":
        return KMeansGrouping(env, server, cost, config, shared_state.setdefault("centroids", {}))
    return NoGrouping(env, server, cost, config)
