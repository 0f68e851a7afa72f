"""Feature descriptors: a small, order-invariant vector per feature batch.

The scheduler groups feature batches by similarity (paper: section on scheduling
features across GPUs). The paper does not say how a batch is summarised; our
documented default is per-channel mean and standard deviation over batch and space,
L2-normalised: small, independent of sample order and batch size, and never the
flattened raw batch.
"""
from __future__ import annotations

import numpy as np
import torch


def _reduce_dims(features: torch.Tensor) -> tuple[int, ...]:
    """Every dimension except the channel/feature one: (B,C,H,W) -> (0,2,3),
    (B,T,D) sequences -> (0,1), (B,D) -> (0,)."""
    if features.dim() == 4:
        return (0, 2, 3)
    return tuple(range(features.dim() - 1))


def channel_stats(features: torch.Tensor) -> torch.Tensor:
    dims = _reduce_dims(features)
    return torch.cat([features.mean(dims), features.std(dims, unbiased=False)])


def channel_mean(features: torch.Tensor) -> torch.Tensor:
    return features.mean(_reduce_dims(features))


DESCRIPTORS = {"channel_stats": channel_stats, "channel_mean": channel_mean}


def describe(features: torch.Tensor, kind: str = "channel_stats") -> np.ndarray:
    """The L2-normalised descriptor of one feature batch, as float64 numpy."""
    with torch.no_grad():
        vector = DESCRIPTORS[kind](features.detach().float()).cpu().double().numpy()
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector
