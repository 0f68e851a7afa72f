"""Evaluation on the global test set, and time-to-accuracy."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device, batch_size: int = 250) -> tuple[float, float]:
    """Top-1 accuracy and mean cross-entropy of `model` on (x, y)."""
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(y), batch_size):
        inputs = x[start:start + batch_size].to(device)
        labels = y[start:start + batch_size].to(device)
        logits = model(inputs)
        loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
    model.train()
    return correct / len(y), loss / len(y)


def time_to_accuracy(records: list[dict], target: float | None) -> float | None:
    """Simulated seconds until test accuracy first reached `target` (None: never)."""
    if target is None:
        return None
    for record in records:
        if record["test_accuracy"] >= target:
            return record["sim_time_s"]
    return None
