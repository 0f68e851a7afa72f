"""The cost model: how many simulated seconds each event of a round takes.

Real PyTorch compute decides *what* is learnt; this model decides *when* things
happen on the simulated clock (DESIGN.md section 4). Durations are deterministic
functions of the configuration and the seed, never of this machine's speed, so the
same config and seed replay the same timeline.

FLOPs of each partition are counted once per run with `torch.utils.flop_counter`
(forward, and forward+backward) on a small batch and scaled linearly with batch size.

Our documented assumptions (all configurable, see `ExperimentConfig`):
- clients are CPU-only devices with log-normal compute speeds (median
  `client_gflops`, sigma `client_speed_spread`) and log-normal links (median
  `client_mbps`, same sigma) plus `client_latency_ms` per message;
- a share `straggler_share` of clients (drawn from the seed) is `straggler_factor`
  times slower, in compute and in its link;
- a speed-1.0 GPU sustains `gpu_tflops`; mixed GPUs scale that by `gpu_speeds`;
  each server step also pays a fixed launch overhead of 0.5 ms;
- host<->GPU copies (SplitFed-V1 swaps) run at `host_gpu_gbps`;
- the server's grouping work (descriptor, hashing, k-means) runs on a host CPU of
  50 GFLOP/s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

GPU_STEP_OVERHEAD_S = 5e-4
SERVER_CPU_FLOPS = 50e9
BYTES_PER_LABEL = 8


def count_flops(module: nn.Module, example: torch.Tensor, backward: bool) -> int:
    """FLOPs of one forward (and backward, if asked) of `module` on `example`."""
    module = module.train()
    example = example.detach().requires_grad_(backward)
    with FlopCounterMode(display=False) as counter:
        out = module(example)
        if backward:
            out.float().sum().backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


@dataclass
class PartitionCosts:
    """FLOPs per sample and bytes of one split model, counted once per run."""

    client_forward_flops: float
    client_backward_flops: float
    server_step_flops: float        # server forward + backward
    feature_bytes: int              # smashed data per sample
    client_model_bytes: int
    server_model_bytes: int         # parameters and buffers of one server partition

    @classmethod
    def measure(cls, client: nn.Module, server: nn.Module, input_shape) -> "PartitionCosts":
        batch = 2  # BatchNorm needs more than one sample in train mode
        x = torch.zeros(batch, *input_shape)
        fwd = count_flops(client, x, backward=False)
        fwd_bwd = count_flops(client, x, backward=True)
        with torch.no_grad():
            features = client(x)
        server_flops = count_flops(server, features, backward=True)
        return cls(
            client_forward_flops=fwd / batch,
            client_backward_flops=max(fwd_bwd - fwd, fwd) / batch,
            server_step_flops=server_flops / batch,
            feature_bytes=features[0].numel() * features.element_size(),
            client_model_bytes=module_bytes(client),
            server_model_bytes=module_bytes(server),
        )


def module_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


class CostModel:
    """Simulated durations of every event; one instance per run."""

    def __init__(self, config, costs: PartitionCosts, num_clients: int):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 7919]))
        spread = config.client_speed_spread
        self.costs = costs
        self.client_flops = config.client_gflops * 1e9 * rng.lognormal(0.0, spread, num_clients)
        self.client_bytes_per_s = config.client_mbps * 1e6 / 8 * rng.lognormal(0.0, spread, num_clients)
        stragglers = rng.random(num_clients) < config.straggler_share
        self.client_flops[stragglers] /= config.straggler_factor
        self.client_bytes_per_s[stragglers] /= config.straggler_factor
        self.stragglers = np.flatnonzero(stragglers)
        self.latency_s = config.client_latency_ms / 1000
        self.gpu_flops = [config.gpu_tflops * 1e12 * s for s in config.resolved_gpu_speeds]
        self.host_gpu_bytes_per_s = config.host_gpu_gbps * 1e9

    # --- clients
    def client_forward_s(self, client: int, samples: int) -> float:
        return self.costs.client_forward_flops * samples / self.client_flops[client]

    def client_backward_s(self, client: int, samples: int) -> float:
        return self.costs.client_backward_flops * samples / self.client_flops[client]

    def client_full_step_s(self, client: int, samples: int) -> float:
        """FedAvg: the whole model's forward and backward on the client."""
        c = self.costs
        flops = c.client_forward_flops + c.client_backward_flops + c.server_step_flops
        return flops * samples / self.client_flops[client]

    def transfer_s(self, client: int, nbytes: float) -> float:
        return self.latency_s + nbytes / self.client_bytes_per_s[client]

    def feature_bytes(self, samples: int) -> int:
        return (self.costs.feature_bytes + BYTES_PER_LABEL) * samples

    # --- server
    def server_step_s(self, gpu: int, samples: int) -> float:
        return GPU_STEP_OVERHEAD_S + self.costs.server_step_flops * samples / self.gpu_flops[gpu]

    def swap_s(self, nbytes: float) -> float:
        return nbytes / self.host_gpu_bytes_per_s

    def descriptor_s(self, samples: int) -> float:
        """Reading the features once for per-channel statistics."""
        return 2 * self.costs.feature_bytes / 4 * samples / SERVER_CPU_FLOPS

    def hash_s(self, dim: int, num_hashes: int) -> float:
        return 2 * dim * num_hashes / SERVER_CPU_FLOPS

    def kmeans_s(self, points: int, dim: int, clusters: int, iterations: int) -> float:
        return 3 * points * dim * clusters * max(iterations, 1) / SERVER_CPU_FLOPS
