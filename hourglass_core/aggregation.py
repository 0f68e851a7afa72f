"""FedAvg: weighted averaging of model states (McMahan et al. 2017).

Streaming, so a finished client's model is folded in and freed at once: memory
holds one running sum, not one model per client.
"""
from __future__ import annotations

import torch


class WeightedAverage:
    def __init__(self):
        self.total: dict[str, torch.Tensor] | None = None
        self.weight = 0.0

    def add(self, state: dict, weight: float) -> None:
        if weight <= 0:
            return
        if self.total is None:
            self.total = {k: v.detach().double() * weight for k, v in state.items()}
        else:
            for k, v in state.items():
                self.total[k] += v.detach().double() * weight
        self.weight += weight

    def result(self, like: dict) -> dict | None:
        """The average, cast back to the dtypes of `like`; None if nothing was added."""
        if self.total is None:
            return None
        return {k: (v / self.weight).to(like[k].dtype) if like[k].is_floating_point()
                else (v / self.weight).round().to(like[k].dtype)
                for k, v in self.total.items()}


def average(states_and_weights, like: dict) -> dict | None:
    avg = WeightedAverage()
    for state, weight in states_and_weights:
        avg.add(state, weight)
    return avg.result(like)
