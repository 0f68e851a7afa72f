"""The experiment runner: `run(config)` and `compare([...])`.

`prepare` does every check and every expensive set-up step (data, split, model,
cost model) before training; `run` then loops over rounds: draw this round's
participants, batches and dropouts from the seed, let the system run the round on
the simulated clock, evaluate on the global test set, append the round record,
checkpoint, call back. Every random stream is derived from (seed, round), so a
resumed run replays exactly what an uninterrupted one would have done.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .client import Client
from .config import ExperimentConfig
from .cost_model import CostModel, PartitionCosts
from .datasets import load_dataset
from .errors import ConfigError
from .grouping import EuclideanLSH
from .metrics import evaluate, time_to_accuracy
from .partitioners import partition
from .run_log import RunFolder, read_jsonl
from .split_models import build_split_model
from .systems import make_system

log = logging.getLogger("hourglass_core")

# Fields that must agree for runs to be compared on the same data split.
SPLIT_FIELDS = ("dataset", "data_dir", "num_clients", "non_iid", "alpha", "partitioner",
                "shards_per_client", "min_partition_size", "seed", "batch_size", "local_epochs")


class DivergenceError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class RunContext:
    """Everything a system needs, built once per run."""

    config: ExperimentConfig
    data: object
    partitions: list
    split: object
    cost: CostModel
    devices: list
    clients: list
    grouping_state: dict = field(default_factory=dict)


@dataclass
class RunResult:
    run_dir: Path
    records: list
    summary: dict


def pick_devices(config) -> list[torch.device]:
    """Virtual GPUs spread over the real CUDA devices when asked and present."""
    if config.use_gpu and torch.cuda.is_available():
        return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    if config.use_gpu:
        log.warning("note: use_gpu=true but no CUDA device is available; computing on the CPU "
                    "(virtual GPUs are simulated either way)")
    return [torch.device("cpu")]


def prepare(config: ExperimentConfig) -> RunContext:
    config.validate()
    for note in config.notes():
        log.warning("note: %s", note)
    data = load_dataset(config.dataset, config.data_dir, config.download, config.seed)
    if config.max_train_samples is not None and config.max_train_samples < len(data.train_y):
        keep = torch.from_numpy(np.sort(np.random.default_rng(config.seed).permutation(
            len(data.train_y))[:config.max_train_samples]))
        data = dataclasses.replace(data, train_x=data.train_x[keep], train_y=data.train_y[keep])
    partitions = partition(data.train_y.numpy(), config.num_clients, config.resolved_partitioner,
                           alpha=config.alpha, shards_per_client=config.shards_per_client,
                           min_size=config.min_partition_size, seed=config.seed)
    largest = max(len(p) for p in partitions)
    if config.batch_size > largest:
        raise ConfigError("batch_size", config.batch_size,
                          f"at most {largest}, the largest client's number of samples")
    split = build_split_model(config.resolved_model, data.num_classes, data.input_shape,
                              config.cut_layer, seed=config.seed)
    costs = PartitionCosts.measure(split.client, split.server, data.input_shape)
    devices = pick_devices(config)
    if devices[0].type == "cuda":  # hold the data on the device once, not per batch
        data = dataclasses.replace(data, **{k: getattr(data, k).to(devices[0])
                                            for k in ("train_x", "train_y", "test_x", "test_y")})
    split.client.to(devices[0])
    split.server.to(devices[0])
    cost = CostModel(config, costs, config.num_clients)
    clients = [Client(i, p, data, config, devices[0]) for i, p in enumerate(partitions)]
    ctx = RunContext(config, data, partitions, split, cost, devices, clients)
    if config.resolved_grouping == "lsh":
        sample = calibration_descriptors(ctx)
        # Our default width: twice the median distance between calibration descriptors,
        # which gives a handful of buckets (5-8 for 20 non-IID digits clients) rather
        # than many singletons, so SFF has groups to keep and DFF has groups to mix.
        width = config.lsh_width or 2 * median_distance(sample)
        ctx.grouping_state["lsh"] = EuclideanLSH(sample.shape[1], config.lsh_hashes, width, config.seed)
    return ctx


def calibration_descriptors(ctx: RunContext, clients: int = 32) -> np.ndarray:
    """Descriptors of the first batch of up to 32 clients under the initial client
    model (BatchNorm statistics left untouched)."""
    client = ctx.clients[0]
    client.start(ctx.split.client)
    vectors = []
    for other in ctx.clients[:clients]:
        vectors.append(client.describe(other.indices[:ctx.config.batch_size]))
    client.finish()
    return np.stack(vectors)


def median_distance(vectors: np.ndarray) -> float:
    """The median pairwise distance of a calibration sample."""
    distances = np.sqrt(((vectors[:, None] - vectors[None]) ** 2).sum(-1))
    upper = distances[np.triu_indices(len(vectors), 1)]
    return float(np.median(upper)) if len(upper) and np.median(upper) > 0 else 1.0


def resolved_settings(ctx: RunContext) -> dict:
    """What the defaults of a config turned into for this run (for config.json)."""
    config = ctx.config
    lsh = ctx.grouping_state.get("lsh")
    return {"model": config.resolved_model, "cut_layer": ctx.split.cut_layer,
            "partitioner": config.resolved_partitioner, "grouping": config.resolved_grouping,
            "gpu_speeds": config.resolved_gpu_speeds, "devices": [str(d) for d in ctx.devices],
            "partition_sizes": [len(p) for p in ctx.partitions], "stragglers": ctx.cost.stragglers.tolist(),
            "lsh_width": lsh.width if lsh else None}


def round_rng(seed: int, round_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, round_index, stream]))


def plan_round(ctx: RunContext, round_index: int):
    """This round's participants, their batches and who drops out (and before which batch)."""
    config, seed = ctx.config, ctx.config.seed
    count = max(1, round(config.client_fraction * config.num_clients))
    chosen = np.sort(round_rng(seed, round_index, 0).choice(config.num_clients, count, replace=False))
    participants = [ctx.clients[i] for i in chosen]
    batch_rng = round_rng(seed, round_index, 1)
    plans = {c.id: c.plan_batches(batch_rng) for c in participants}
    drop_rng = round_rng(seed, round_index, 2)
    drops = {}
    for c in participants:
        if drop_rng.random() < config.dropout_prob:
            drops[c.id] = int(drop_rng.integers(0, len(plans[c.id])))
    return participants, plans, drops


def describe_round(ctx: RunContext, round_index: int = 0) -> list[dict]:
    """Every batch a round would upload, with its feature descriptor and majority
    label, under the current global client model (for looking at grouping: PCA
    views, bucket quality). BatchNorm statistics are left untouched."""
    participants, plans, _ = plan_round(ctx, round_index)
    rows = []
    for client in participants:
        client.start(ctx.split.client)
        for iteration, samples in enumerate(plans[client.id]):
            labels = ctx.data.train_y[torch.from_numpy(samples)]
            rows.append({"client": client.id, "iteration": iteration, "samples": samples,
                         "descriptor": client.describe(samples), "majority_class": int(torch.mode(labels).values)})
        client.finish()
    return rows


def run(config: ExperimentConfig, on_round=None, resume: str | Path | None = None) -> RunResult:
    """Train `config` and write its run folder. `on_round(record)` is called after
    every round. `resume`: a run folder to continue from its last checkpoint."""
    if resume is not None:
        folder, state = checkpoint.open_for_resume(resume)
        config = ExperimentConfig(**state["config"])
    ctx = prepare(config)
    system = make_system(ctx)
    if resume is None:
        folder = RunFolder.create(config)
        folder.write_config({**config.to_dict(), "resolved": resolved_settings(ctx),
                             "versions": checkpoint.versions()})
        start, clock, records = 0, 0.0, []
    else:
        start, clock = checkpoint.restore(state, system, ctx)
        folder.truncate_rounds(start)
        records = read_jsonl(folder.rounds_path)
    server_bytes = system.server_state_bytes()
    for r in range(start, config.num_rounds):
        participants, plans, drops = plan_round(ctx, r)
        wall_start = time.perf_counter()
        ledger, end = system.run_round(r, clock, participants, plans, drops, round_rng(config.seed, r, 3))
        train_wall = time.perf_counter() - wall_start
        loss_sum = sum(float(loss) * n for loss, n in ledger.losses)
        train_loss = loss_sum / max(ledger.samples, 1)
        if not math.isfinite(train_loss):
            raise DivergenceError(f"training loss became {train_loss} in round {r + 1}; "
                                  f"the last good checkpoint and records are in {folder.path}")
        accuracy, test_loss = evaluate(system.eval_model(), ctx.data.test_x, ctx.data.test_y, ctx.devices[0])
        round_sim = end - clock
        wall = time.perf_counter() - wall_start  # training and evaluation
        record = {
            "round": r + 1, "test_accuracy": accuracy, "test_loss": test_loss, "train_loss": train_loss,
            "sim_time_s": float(end), "round_sim_s": float(round_sim),
            "wall_time_s": (records[-1]["wall_time_s"] if records else 0.0) + wall,
            "round_wall_s": train_wall, "eval_wall_s": wall - train_wall,
            "samples": ledger.samples, "samples_per_s": ledger.samples / round_sim if round_sim else 0.0,
            "wall_samples_per_s": ledger.samples / train_wall,
            "bytes_up": ledger.bytes_up, "bytes_down": ledger.bytes_down,
            "server_state_bytes": server_bytes, "swap_count": ledger.swap_count,
            "swap_time_s": ledger.swap_time_s,
            "gpu_busy_share": [float(b / round_sim) if round_sim else 0.0 for b in ledger.busy_s],
            "gpu_purity": ledger.gpu_purity(), "gpu_mix_distance": ledger.gpu_mix_distance(),
            **ledger.grouping,
            "participants": len(participants), "dropped_clients": len(ledger.dropped),
            "discarded_batches": ledger.discarded,
        }
        clock = end
        records.append(record)
        if config.events:
            folder.append(folder.events_path, [{"round": r + 1, **e} for e in ledger.events])
        folder.append(folder.rounds_path, [record])
        checkpoint.save(folder.checkpoint_path, config, system, ctx, r + 1, clock)
        if on_round is not None:
            on_round(record)
    summary = summarize(records, config)
    folder.write_summary(summary)
    return RunResult(folder.path, records, summary)


def summarize(records: list[dict], config) -> dict:
    accuracies = [r["test_accuracy"] for r in records]
    return {
        "system": config.system, "scheduler": config.scheduler, "grouping": config.resolved_grouping,
        "rounds": len(records),
        "final_accuracy": accuracies[-1] if accuracies else None,
        "best_accuracy": max(accuracies) if accuracies else None,
        "sim_time_s": records[-1]["sim_time_s"] if records else 0.0,
        "wall_time_s": records[-1]["wall_time_s"] if records else 0.0,
        "target_accuracy": config.target_accuracy,
        "time_to_target_s": time_to_accuracy(records, config.target_accuracy),
        "server_state_bytes": records[-1]["server_state_bytes"] if records else None,
        "swap_time_s": sum(r["swap_time_s"] for r in records),
        "bytes_moved": sum(r["bytes_up"] + r["bytes_down"] for r in records),
    }


@dataclass
class Comparison:
    """The table `compare` returns: one row per config."""

    target_accuracy: float
    rows: list[dict]
    results: list[RunResult]

    COLUMNS = ("label", "final_accuracy", "best_accuracy", "time_to_target_s", "sim_time_s",
               "wall_time_s", "server_state_bytes", "swap_share", "bytes_moved")

    def __str__(self) -> str:
        lines = [f"target accuracy {self.target_accuracy:.4f}", "  ".join(f"{c:>18}" for c in self.COLUMNS)]
        for row in self.rows:
            lines.append("  ".join(f"{_cell(row[c]):>18}" for c in self.COLUMNS))
        return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def label(config: ExperimentConfig) -> str:
    if config.system == "hourglass":
        return f"hourglass-{config.scheduler}-M{config.num_gpus}"
    return f"{config.system}-M{config.num_gpus}"


def compare(configs: list[ExperimentConfig], target_accuracy: float | None = None, on_round=None) -> Comparison:
    """Run several configs on the same data split and seed; return a table of final
    and best accuracy, simulated time to a target accuracy (default: the best
    accuracy the weakest run reached, so every run reaches it), wall time, server
    memory, swap share of time and bytes moved."""
    if not configs:
        raise ConfigError("configs", configs, "a non-empty list of ExperimentConfig")
    for cfg in configs[1:]:
        for name in SPLIT_FIELDS:
            if getattr(cfg, name) != getattr(configs[0], name):
                raise ConfigError(name, getattr(cfg, name),
                                  f"{getattr(configs[0], name)!r} as in the first config: compared runs share one data split and seed")
    for cfg in configs:
        cfg.validate()
    results = [run(cfg, on_round=on_round) for cfg in configs]
    if target_accuracy is None:
        target_accuracy = min(r.summary["best_accuracy"] for r in results)
    rows = []
    for cfg, result in zip(configs, results):
        s = result.summary
        rows.append({
            "label": label(cfg), "final_accuracy": s["final_accuracy"], "best_accuracy": s["best_accuracy"],
            "time_to_target_s": time_to_accuracy(result.records, target_accuracy),
            "sim_time_s": s["sim_time_s"], "wall_time_s": s["wall_time_s"],
            "server_state_bytes": s["server_state_bytes"],
            "swap_share": s["swap_time_s"] / (s["sim_time_s"] * cfg.num_gpus) if s["sim_time_s"] else 0.0,
            "bytes_moved": s["bytes_moved"], "run_dir": str(result.run_dir),
        })
    return Comparison(target_accuracy, rows, results)
