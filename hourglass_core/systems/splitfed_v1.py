"""SplitFed-V1: one server-side partition per client (Thapa et al. 2022), the
baseline the paper attacks.

A GPU holds at most `gpu_capacity` partitions; the rest wait in host memory and are
swapped in (partition plus optimizer state, over the host<->GPU link) when their
client's features arrive, evicting the least recently used one (swapped out at the
same cost). Per-client partitions are FedAvg'd at round end. Server state is O(N).

Our choice for M > 1 GPUs: client c's partition is pinned to GPU c mod M, which
serves that client's batches first-come-first-served; partitions never migrate.
"""
from __future__ import annotations

from collections import OrderedDict

from .split_system import SplitSystem


class SplitFedV1(SplitSystem):
    name = "splitfed"

    def __init__(self, ctx):
        super().__init__(ctx)
        capacity = self.config.gpu_capacity
        # GPU -> partitions resident there, least recently used first. Initially the
        # first `capacity` of each GPU's clients are loaded (no swap charged).
        self.resident = [OrderedDict() for _ in range(self.config.num_gpus)]
        for cid in range(len(self.replicas)):
            gpu = self.resident[cid % self.config.num_gpus]
            if capacity is None or len(gpu) < capacity:
                gpu[cid] = True

    def build_replicas(self):
        return [self.new_replica(cid) for cid in range(self.config.num_clients)]

    def replica_for(self, gpu, client_id):
        return self.replicas[client_id]

    def servable(self, gpu, waiting):
        return [b for b in waiting if b.client.id % self.config.num_gpus == gpu]

    def make_resident(self, gpu, client_id, ledger):
        resident = self.resident[gpu]
        if client_id in resident:
            resident.move_to_end(client_id)
            return 0.0
        one_way = self.ctx.cost.swap_s(self.replicas[client_id].state_bytes())
        seconds = one_way
        if self.config.gpu_capacity is not None and len(resident) >= self.config.gpu_capacity:
            resident.popitem(last=False)
            seconds += one_way
        resident[client_id] = True
        ledger.swap_count += 1
        ledger.swap_time_s += seconds
        return seconds
