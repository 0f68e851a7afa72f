"""A client of split FL and its life in a round (paper, split FL workflow).

`Client.split_life` is a SimPy process that reads like the protocol:

    download the global client-side model
    for each local batch:
        forward it through my part            (hold: my compute time)
        upload features and labels            (hold: bytes / my bandwidth)
        wait for the server's dL/d(features)
        download it                           (hold)
        back-propagate and step my optimizer  (hold: my compute time)
    upload my model for FedAvg                (hold)

Real compute happens in simulated-event order. One documented shortcut: the real
forward of a batch runs when a GPU serves it (see `FeatureBatch`), which gives the
same numbers because this client's model cannot change while it waits.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .descriptors import describe
from .server_replica import make_optimizer


@contextmanager
def preserved_buffers(module: nn.Module):
    """Run a module in train mode without letting BatchNorm update its running stats."""
    saved = [b.clone() for b in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(module.buffers(), saved):
                buffer.copy_(value)


class Client:
    def __init__(self, cid: int, indices: np.ndarray, data, config, device: torch.device):
        self.id, self.indices, self.data = cid, indices, data
        self.config, self.device = config, device
        self.model: nn.Module | None = None
        self.optimizer = None
        self.gone = False  # vanished mid-round (dropout)

    @property
    def num_samples(self) -> int:
        return len(self.indices)

    def plan_batches(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Shuffled local batches for `local_epochs` epochs. A trailing batch of one
        sample is dropped (BatchNorm cannot train on it; our choice)."""
        batches = []
        for _ in range(self.config.local_epochs):
            order = rng.permutation(self.indices)
            batches += [order[i:i + self.config.batch_size] for i in range(0, len(order), self.config.batch_size)]
        return [b for b in batches if len(b) > 1]

    def inputs(self, samples: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(samples)
        return self.data.train_x[index], self.data.train_y[index]

    # ------------------------------------------------------------ model lifecycle
    def start(self, global_model: nn.Module) -> None:
        self.gone = False
        self.model = copy.deepcopy(global_model).to(self.device).train()
        self.optimizer = make_optimizer(self.model, self.config)

    def finish(self) -> dict:
        state = {k: v.detach() for k, v in self.model.state_dict().items()}
        self.model = self.optimizer = None
        return state

    # ------------------------------------------------------------ split compute
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs.to(self.device))

    def describe(self, samples: np.ndarray) -> np.ndarray:
        """The descriptor of the features this batch uploads (for grouping)."""
        with torch.no_grad(), preserved_buffers(self.model):
            return describe(self.forward(self.inputs(samples)[0]), self.config.descriptor)

    def backward(self, features: torch.Tensor, grad: torch.Tensor) -> None:
        features.backward(grad)

    def step(self) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def local_step(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """FedAvg: one step of the whole model on the client."""
        loss = F.cross_entropy(self.forward(inputs), labels.to(self.device))
        loss.backward()
        self.step()
        return loss.detach()

    # ------------------------------------------------------------ the protocol
    def split_life(self, env, server, cost, batches, drop_at, on_done):
        """One round of split training. `drop_at`: index of the batch right after
        whose upload this client vanishes, its features still in flight (None: it
        stays); the server discards them. `on_done(client, state)` gets the trained
        model, or None for a client that dropped (left out of FedAvg)."""
        c, ledger = cost.costs, server.ledger
        ledger.bytes_down += c.client_model_bytes
        yield env.timeout(cost.transfer_s(self.id, c.client_model_bytes))
        for iteration, batch in enumerate(batches):
            yield env.timeout(cost.client_forward_s(self.id, len(batch)))
            ledger.bytes_up += cost.feature_bytes(len(batch))
            yield env.timeout(cost.transfer_s(self.id, cost.feature_bytes(len(batch))))
            if iteration == drop_at:  # vanish with these features in flight
                self.gone = True
                server.submit(self, iteration, batch)
                server.grouping.withdraw(range(iteration + 1, len(batches)))
                self.model = self.optimizer = None
                on_done(self, None)
                return
            yield server.submit(self, iteration, batch)
            ledger.bytes_down += c.feature_bytes * len(batch)
            yield env.timeout(cost.transfer_s(self.id, c.feature_bytes * len(batch)))
            yield env.timeout(cost.client_backward_s(self.id, len(batch)))
            self.step()
        ledger.bytes_up += c.client_model_bytes
        yield env.timeout(cost.transfer_s(self.id, c.client_model_bytes))
        on_done(self, self.finish())
