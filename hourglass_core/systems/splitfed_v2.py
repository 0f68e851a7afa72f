"""SplitFed-V2: one server-side model, clients served one after another.

Thapa et al. 2022. Each round the participating clients take turns in a random
order (drawn from the seed); a client runs all its batches against the single
server model before the next one starts.
"""
from __future__ import annotations

from .split_system import SplitSystem


class SplitFedV2(SplitSystem):
    name = "sflv2"

    def build_replicas(self):
        return [self.new_replica(0)]

    def replica_for(self, gpu, client_id):
        return self.replicas[0]

    def launch(self, env, server, clients, plans, drops, on_done, rng):
        order = [clients[i] for i in rng.permutation(len(clients))]

        def one_after_another():
            for client in order:
                yield from client.split_life(env, server, self.ctx.cost, plans[client.id],
                                             drops.get(client.id), on_done)

        return [env.process(one_after_another())]
