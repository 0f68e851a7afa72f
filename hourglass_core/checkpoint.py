"""End-of-round checkpoints and resume.

A checkpoint holds only tensors, numbers, strings, lists and dicts, and is read
back with `torch.load(..., weights_only=True)`: a file carrying a pickled object is
refused. It stores the global models, the simulated clock, the next round index,
the k-means centroids, SplitFed-V1's residency and, when server optimizer state
is kept across rounds, each replica's optimizer state. Random streams need no
saving: every one is derived from (seed, round) (see experiment.round_rng).
"""
from __future__ import annotations

import os
import pickle
from collections import OrderedDict
import platform
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError
from .run_log import RunFolder


def versions() -> dict:
    import simpy
    import sklearn
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "simpy": simpy.__version__}


def save(path: Path, config, system, ctx, next_round: int, clock: float) -> None:
    centroids = ctx.grouping_state.get("centroids", {}).get("value")
    state = {
        "format": 1, "config": config.to_dict(), "next_round": int(next_round), "clock": float(clock),
        "models": system.global_state(),
        "centroids": None if centroids is None else torch.from_numpy(centroids),
        "residency": [list(r) for r in getattr(system, "resident", [])],
        "optimizers": [] if config.reset_server_optimizer else [r.optimizer.state_dict() for r in system.replicas],
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ConfigError("resume", str(path), "a checkpoint written by this kit (tensors and plain "
                          f"values only); this file carries pickled objects and was refused: {err}") from None


def open_for_resume(run_dir) -> tuple[RunFolder, dict]:
    folder = RunFolder(Path(run_dir))
    if not folder.checkpoint_path.exists():
        raise ConfigError("resume", str(run_dir), "a run folder holding checkpoint.pt (written after each round)")
    return folder, load(folder.checkpoint_path)


def restore(state: dict, system, ctx) -> tuple[int, float]:
    """Put a system back where the checkpoint left it; returns (next round, clock)."""
    system.load_global_state(state["models"])
    if state["centroids"] is not None:
        ctx.grouping_state.setdefault("centroids", {})["value"] = state["centroids"].numpy()
    for gpu, clients in enumerate(state["residency"]):
        system.resident[gpu] = OrderedDict((c, True) for c in clients)
    for replica, opt_state in zip(system.replicas, state["optimizers"]):
        replica.optimizer.load_state_dict(opt_state)
    return state["next_round"], state["clock"]
