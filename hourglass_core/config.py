"""The experiment configuration: one dataclass whose fields are the CLI flags.

`ExperimentConfig.validate()` checks every field before any training starts and
raises `ConfigError(param, value, allowed)` on the first bad one. Checks that need
the data (batch size against client sizes, cut layer against the model) run in
`experiment.prepare`, still before training.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ConfigError

SYSTEMS = ("hourglass", "splitfed", "sflv2", "fedavg")
SCHEDULERS = ("fcfs", "sff", "dff")
GROUPINGS = ("none", "kmeans", "lsh")
PLACEMENTS = ("capacity", "random")
DEFAULT_MODEL = {"digits": "cnn", "synthetic": "cnn", "cifar10": "resnet18_narrow"}


@dataclass
class ExperimentConfig:
    """Every parameter of a run. Field names are the CLI flags (`--num_clients` ...).

    Defaults follow the seed description (10 clients, 5 rounds, batch 32, lr 0.01,
    Dirichlet alpha 0.1, seed 42); the rest are our documented choices.
    """

    # --- the seed's flags ---
    num_clients: int = 10
    num_rounds: int = 5
    local_epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 0.01
    scheduler: str = "fcfs"
    use_gpu: bool = True
    seed: int = 42
    log_dir: str = "logs/"
    non_iid: bool = True
    alpha: float = 0.1
    # --- what is trained, and where ---
    system: str = "hourglass"
    num_gpus: int = 1
    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    model: str | None = None          # None: cnn for digits/synthetic, resnet18_narrow for cifar10
    cut_layer: str | None = None      # None: the model's default cut
    target_accuracy: float | None = None
    max_train_samples: int | None = None  # use a seeded random subset of the training set
    partitioner: str | None = None    # None: dirichlet when non_iid else iid; or "shards"
    shards_per_client: int = 2
    min_partition_size: int = 2
    client_fraction: float = 1.0      # share of clients that take part in each round
    momentum: float = 0.9
    reset_server_optimizer: bool = True  # our choice: server optimizer state reset each round
    # --- scheduling (paper section on scheduling features across GPUs) ---
    grouping: str | None = None       # None: lsh for sff/dff, none for fcfs
    descriptor: str = "channel_stats"
    num_clusters: int = 4
    lsh_width: float | None = None    # None: twice the median distance between calibration descriptors
    lsh_hashes: int = 2
    dff_history: int = 8
    placement: str = "capacity"
    gpu_speeds: list[float] | None = None  # relative speed per GPU, e.g. [1, 1, 0.5]
    # --- the cost model (documented assumptions; see cost_model.py) ---
    client_gflops: float = 20.0       # median client compute, CPU-only clients
    client_speed_spread: float = 0.5  # sigma of the log-normal client speeds
    client_mbps: float = 100.0        # median client link bandwidth
    client_latency_ms: float = 20.0
    gpu_tflops: float = 5.0           # effective speed of a speed-1.0 GPU at batch 32 (consumer GPU)
    host_gpu_gbps: float = 12.0       # host<->GPU copy bandwidth, for swaps
    gpu_capacity: int | None = None   # server partitions that fit on one GPU (splitfed); None: unlimited
    straggler_share: float = 0.0      # share of clients that are `straggler_factor` times slower
    straggler_factor: float = 5.0
    dropout_prob: float = 0.0         # chance a client vanishes mid-round
    # --- outputs ---
    run_name: str | None = None
    overwrite: bool = False
    events: bool = False              # also write events.jsonl (one line per served batch)

    def __post_init__(self):
        if isinstance(self.gpu_speeds, str):
            self.gpu_speeds = parse_speeds(self.gpu_speeds)

    # ------------------------------------------------------------------ resolved values
    @property
    def resolved_model(self) -> str:
        return self.model or DEFAULT_MODEL.get(self.dataset, "cnn")

    @property
    def resolved_partitioner(self) -> str:
        return self.partitioner or ("dirichlet" if self.non_iid else "iid")

    @property
    def resolved_grouping(self) -> str:
        return self.grouping or ("none" if self.scheduler == "fcfs" else "lsh")

    @property
    def resolved_gpu_speeds(self) -> list[float]:
        return list(self.gpu_speeds) if self.gpu_speeds else [1.0] * self.num_gpus

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ validation
    def validate(self) -> "ExperimentConfig":
        """Check every field; raise ConfigError naming the first bad one."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        for name in types:
            _check_type(name, getattr(self, name), types[name])
        for name in ("num_clients", "num_rounds", "local_epochs", "batch_size", "num_gpus",
                     "shards_per_client", "min_partition_size", "num_clusters", "lsh_hashes",
                     "dff_history"):
            if getattr(self, name) < 1:
                raise ConfigError(name, getattr(self, name), "an integer >= 1")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ConfigError("max_train_samples", self.max_train_samples, "an integer >= 1, or unset for all")
        if self.gpu_capacity is not None and self.gpu_capacity < 1:
            raise ConfigError("gpu_capacity", self.gpu_capacity, "an integer >= 1, or unset for unlimited")
        if self.lsh_width is not None:
            _positive("lsh_width", self.lsh_width)
        for name in ("learning_rate", "alpha", "client_gflops", "client_mbps",
                     "gpu_tflops", "host_gpu_gbps"):
            _positive(name, getattr(self, name))
        for name in ("momentum", "client_speed_spread", "client_latency_ms"):
            if not getattr(self, name) >= 0 or not math.isfinite(getattr(self, name)):
                raise ConfigError(name, getattr(self, name), "a finite number >= 0")
        if not 0 < self.client_fraction <= 1:
            raise ConfigError("client_fraction", self.client_fraction, "a number in (0, 1]")
        for name in ("straggler_share", "dropout_prob"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(name, getattr(self, name), "a number in [0, 1)")
        if not self.straggler_factor >= 1:
            raise ConfigError("straggler_factor", self.straggler_factor, "a number >= 1")
        if self.target_accuracy is not None and not 0 < self.target_accuracy <= 1:
            raise ConfigError("target_accuracy", self.target_accuracy, "a fraction in (0, 1], e.g. 0.8")
        _choice("system", self.system, SYSTEMS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        _choice("placement", self.placement, PLACEMENTS)
        if self.grouping is not None:
            _choice("grouping", self.grouping, GROUPINGS)
        if self.system != "hourglass" and self.scheduler != "fcfs":
            raise ConfigError("scheduler", self.scheduler,
                              f"fcfs only for system {self.system}; feature scheduling is Hourglass's")
        if self.scheduler != "fcfs" and self.resolved_grouping == "none":
            raise ConfigError("grouping", self.grouping,
                              f"kmeans or lsh: scheduler {self.scheduler} needs feature buckets")
        if self.system != "hourglass" and self.resolved_grouping != "none":
            raise ConfigError("grouping", self.grouping, f"none for system {self.system}; grouping is Hourglass's")
        if self.system == "sflv2" and self.num_gpus != 1:
            raise ConfigError("num_gpus", self.num_gpus, "1 for sflv2, which keeps one server model")
        if self.gpu_speeds is not None:
            if len(self.gpu_speeds) != self.num_gpus:
                raise ConfigError("gpu_speeds", _fmt(self.gpu_speeds),
                                  f"one relative speed per GPU ({self.num_gpus} numbers)")
            if not all(math.isfinite(s) and s > 0 for s in self.gpu_speeds):
                raise ConfigError("gpu_speeds", _fmt(self.gpu_speeds), "positive finite numbers, e.g. 1,1,0.5")
        from .datasets import DATASETS
        from .descriptors import DESCRIPTORS
        from .partitioners import PARTITIONERS
        from .split_models import MODELS
        _choice("dataset", self.dataset, DATASETS)
        _choice("descriptor", self.descriptor, tuple(DESCRIPTORS))
        _choice("model", self.resolved_model, tuple(MODELS))
        _choice("partitioner", self.resolved_partitioner, PARTITIONERS)
        if self.resolved_partitioner == "dirichlet" and not self.non_iid:
            raise ConfigError("partitioner", self.partitioner, "iid or shards when non_iid is false")
        if self.run_name is not None and (not self.run_name or "/" in self.run_name or self.run_name in (".", "..")):
            raise ConfigError("run_name", self.run_name, "a folder name without '/'")
        return self

    def notes(self) -> list[str]:
        """Legal but noteworthy settings, said once before a run starts."""
        notes = []
        if self.num_gpus > self.num_clients and self.system in ("hourglass", "splitfed"):
            notes.append(f"num_gpus={self.num_gpus} is more than num_clients={self.num_clients}: "
                         "some GPUs will stay idle")
        return notes


def parse_speeds(text: str) -> list[float]:
    """Parse `--gpu_speeds 1,1,0.5`."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError("gpu_speeds", text, "comma-separated positive numbers, e.g. 1,1,0.5") from None


def _fmt(speeds) -> str:
    return ",".join(f"{s:g}" for s in speeds)


def _choice(name, value, allowed):
    if value not in allowed:
        raise ConfigError(name, value, "one of " + ", ".join(allowed))


def _positive(name, value):
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(name, value, "a finite number > 0")


def _check_type(name, value, annotation: str):
    """Reject values of the wrong type (e.g. a string where a count belongs)."""
    optional = "None" in annotation
    if value is None:
        if not optional:
            raise ConfigError(name, value, f"a value of type {annotation}")
        return
    base = annotation.replace(" | None", "")
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list[float]": isinstance(value, (list, tuple)) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value),
    }[base]
    if not ok:
        raise ConfigError(name, value, f"a value of type {base}")
    if base == "float" and not math.isfinite(value):
        raise ConfigError(name, value, "a finite number")
