"""FL (FedAvg, McMahan et al. 2017): the whole model trains on each client; no split.

Each client downloads the whole model, trains it on its batches (its compute time
for the full model's forward and backward), uploads it, and the server averages
the models weighted by data size. No server-side training state.
"""
from __future__ import annotations

import simpy
from torch import nn

from ..aggregation import WeightedAverage
from ..grouping import GroupingStats
from ..server import RoundLedger
from .split_system import SplitSystem


class FedAvg(SplitSystem):
    name = "fedavg"

    def build_replicas(self):
        return []

    def run_round(self, round_index, clock, clients, plans, drops, rng):
        env = simpy.Environment(initial_time=clock)
        ledger = RoundLedger(0)
        full = nn.Sequential(self.ctx.split.client, self.ctx.split.server)
        models = WeightedAverage()
        model_bytes = self.ctx.cost.costs.client_model_bytes + self.ctx.cost.costs.server_model_bytes
        ledger.dropped = []

        def life(client):
            cost = self.ctx.cost
            ledger.bytes_down += model_bytes
            yield env.timeout(cost.transfer_s(client.id, model_bytes))
            for iteration, batch in enumerate(plans[client.id]):
                if iteration == drops.get(client.id):
                    client.model = client.optimizer = None
                    ledger.dropped.append(client.id)
                    return
                inputs, labels = client.inputs(batch)
                ledger.losses.append((client.local_step(inputs, labels), len(batch)))
                ledger.samples += len(batch)
                yield env.timeout(cost.client_full_step_s(client.id, len(batch)))
            ledger.bytes_up += model_bytes
            yield env.timeout(cost.transfer_s(client.id, model_bytes))
            models.add(client.finish(), client.num_samples)

        for client in clients:
            client.start(full)
        env.run(until=env.all_of([env.process(life(c)) for c in clients]))
        new_state = models.result(full.state_dict())
        if new_state is not None:
            full.load_state_dict(new_state)
        ledger.grouping = GroupingStats().record()
        return ledger, env.now
