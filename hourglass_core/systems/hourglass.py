"""Hourglass: one shared server-side partition per GPU (paper, shared server model design).

Every client's features update the shared replica of whichever GPU serves them,
immediately; the scheduler (FCFS, SFF or DFF over k-means or LSH buckets) decides
which GPU serves which batch and in what order. At round end the M replicas are
averaged, weighted by the samples each served. Server state is O(M), not O(N).
"""
from __future__ import annotations

from ..schedulers import make_policy
from .split_system import SplitSystem


class Hourglass(SplitSystem):
    name = "hourglass"

    def build_replicas(self):
        return [self.new_replica(gpu) for gpu in range(self.config.num_gpus)]

    def replica_for(self, gpu, client_id):
        return self.replicas[gpu]

    def make_policy(self):
        return make_policy(self.config)
