"""What every split system shares: one round of client processes against a server.

Each system (Hourglass, SplitFed-V1, SplitFed-V2) says only what differs:
where server partitions live (`build_replicas`, `replica_for`), which waiting
batches a GPU may serve (`servable`), what it costs to make a partition resident
(`make_resident`), and how clients are launched (`launch`). The client's life,
the server's GPU processes, grouping, scheduling and FedAvg are shared.
"""
from __future__ import annotations

import copy
from collections import Counter

import simpy

from ..aggregation import WeightedAverage, average
from ..grouping import make_grouping
from ..schedulers import FCFS, Placement, make_policy
from ..server import RoundLedger, Server
from ..server_replica import ServerReplica


class SplitSystem:
    name = "split"

    def __init__(self, ctx):
        self.ctx = ctx
        self.config = ctx.config
        self.replicas: list[ServerReplica] = self.build_replicas()

    # ------------------------------------------------------------ what systems differ in
    def build_replicas(self) -> list[ServerReplica]:
        raise NotImplementedError

    def replica_for(self, gpu: int, client_id: int) -> ServerReplica:
        raise NotImplementedError

    def servable(self, gpu: int, waiting: list) -> list:
        return waiting

    def make_resident(self, gpu: int, client_id: int, ledger: RoundLedger) -> float:
        """Simulated seconds to bring this client's partition onto `gpu` (0: it is there)."""
        return 0.0

    def make_policy(self):
        return FCFS()

    def launch(self, env, server, clients, plans, drops, on_done, rng) -> list:
        """Clients train concurrently (Hourglass, SplitFed-V1)."""
        return [env.process(c.split_life(env, server, self.ctx.cost, plans[c.id], drops.get(c.id), on_done))
                for c in clients]

    # ------------------------------------------------------------ shared mechanics
    def new_replica(self, index: int) -> ServerReplica:
        devices = self.ctx.devices
        return ServerReplica(copy.deepcopy(self.ctx.split.server), self.config, devices[index % len(devices)])

    def eval_model(self):
        return self.ctx.split.full()

    def server_state_bytes(self) -> int:
        return sum(r.state_bytes() for r in self.replicas)

    def global_state(self) -> dict:
        return {"client": self.ctx.split.client.state_dict(), "server": self.ctx.split.server.state_dict()}

    def load_global_state(self, state: dict) -> None:
        self.ctx.split.client.load_state_dict(state["client"])
        self.ctx.split.server.load_state_dict(state["server"])

    def run_round(self, round_index: int, clock: float, clients, plans, drops, rng):
        """Run one round from simulated time `clock`; returns the round's ledger and end time."""
        env = simpy.Environment(initial_time=clock)
        ledger = RoundLedger(self.config.num_gpus)
        for replica in self.replicas:
            replica.load(self.ctx.split.server.state_dict())
        placement = Placement(self.config.placement, self.config.resolved_gpu_speeds, rng)
        server = Server(env, self, self.make_policy(), placement, self.ctx.cost, ledger, self.config.events)
        server.grouping = make_grouping(env, server, self.ctx.cost, self.config, self.ctx.grouping_state)
        server.grouping.expect(iteration_sizes(plans, clients))
        client_models = WeightedAverage()
        dropped = []

        def on_done(client, state):
            if state is None:
                dropped.append(client.id)
            else:
                client_models.add(state, client.num_samples)

        for client in clients:
            client.start(self.ctx.split.client)
        env.run(until=env.all_of(self.launch(env, server, clients, plans, drops, on_done, rng)))
        self.aggregate(client_models)
        ledger.dropped = dropped
        ledger.grouping = server.grouping.stats.record()
        return ledger, env.now

    def aggregate(self, client_models: WeightedAverage) -> None:
        """FedAvg the client models (weighted by data size) and the server replicas
        (weighted by samples each served this round)."""
        split = self.ctx.split
        new_client = client_models.result(split.client.state_dict())
        if new_client is not None:
            split.client.load_state_dict(new_client)
        new_server = average(((r.module.state_dict(), r.samples) for r in self.replicas),
                             split.server.state_dict())
        if new_server is not None:
            split.server.load_state_dict(new_server)


def iteration_sizes(plans, clients) -> Counter:
    """How many batches each iteration index will bring (for k-means's barrier)."""
    return Counter(it for client in clients for it in range(len(plans[client.id])))
