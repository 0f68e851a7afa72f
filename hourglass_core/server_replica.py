"""A server-side replica: one server partition and its optimizer.

Hourglass keeps one per GPU (shared by all clients), SplitFed-V1 one per client,
SplitFed-V2 exactly one. Kept behind this small interface so a replica can live
on any device (DESIGN.md section 4).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def make_optimizer(module: nn.Module, config) -> torch.optim.Optimizer:
    """Plain SGD with momentum, the same for clients and servers (our choice)."""
    return torch.optim.SGD(module.parameters(), lr=config.learning_rate, momentum=config.momentum)


def state_bytes(module: nn.Module, config) -> int:
    """Bytes of a partition plus its optimizer state (momentum: one buffer per parameter)."""
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    buffers = sum(b.numel() * b.element_size() for b in module.buffers())
    return params + buffers + (params if config.momentum > 0 else 0)


class ServerReplica:
    def __init__(self, module: nn.Module, config, device: torch.device):
        self.module = module.to(device)
        self.device = device
        self.config = config
        self.optimizer = make_optimizer(self.module, config)
        self.samples = 0  # samples served this round: the weight of this replica in FedAvg

    def train_step(self, smashed: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Server forward, loss, backward and step; fills smashed.grad. Returns the loss."""
        self.module.train()
        loss = F.cross_entropy(self.module(smashed), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.samples += len(labels)
        return loss.detach()

    def load(self, state: dict) -> None:
        self.module.load_state_dict(state)
        if self.config.reset_server_optimizer:
            self.optimizer = make_optimizer(self.module, self.config)
        self.samples = 0

    def state_bytes(self) -> int:
        return state_bytes(self.module, self.config)
