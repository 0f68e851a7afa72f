"""The paper's comparisons as config grids, shared by `bench/paper_shape.py` and
notebook 05.

Paper, evaluation: Hourglass with DFF, FCFS and SFF on 1..M GPUs against SplitFed
(SplitFed-V1), SplitFed-V2 and FL (FedAvg), on the same non-IID split.
"""
from __future__ import annotations

from .config import ExperimentConfig


def paper_grid(base: ExperimentConfig, gpu_counts=(1, 2, 4), splitfed_capacity: int | None = None) -> list[ExperimentConfig]:
    """Every system of the comparison for one client count (that of `base`).

    Hourglass runs each scheduler on each GPU count; SplitFed-V1 runs on each GPU
    count with `splitfed_capacity` partitions per GPU (swapping when they do not
    fit); SplitFed-V2 and FL need no GPU count (one server model / none)."""
    configs = [base.replace(system="hourglass", scheduler=s, num_gpus=m, grouping=None)
               for m in gpu_counts for s in ("dff", "fcfs", "sff")]
    configs += [base.replace(system="splitfed", scheduler="fcfs", grouping=None, num_gpus=m,
                             gpu_capacity=splitfed_capacity) for m in gpu_counts]
    configs += [base.replace(system=s, scheduler="fcfs", grouping=None, num_gpus=1) for s in ("sflv2", "fedavg")]
    return configs
