"""The command line: `python -m hourglass_core` or `hourglass`.

Every flag is a field of `ExperimentConfig` (same name, same default). Bad values
are reported in one line naming the flag, the value and what is allowed, with exit
status 2 and no traceback. A progress bar per round goes to stderr when it is a
terminal; the run folder's path is the last line on stdout.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from .config import ExperimentConfig
from .errors import ConfigError

HELP = {
    "num_clients": "number of federated clients",
    "num_rounds": "number of federated rounds",
    "local_epochs": "local epochs per client per round",
    "batch_size": "client batch size",
    "learning_rate": "SGD learning rate (clients and server)",
    "scheduler": "feature scheduler: fcfs, sff (similar first) or dff (dissimilar first)",
    "use_gpu": "compute on CUDA when available (virtual GPUs are simulated either way)",
    "seed": "random seed: same seed, same results",
    "log_dir": "folder that receives one folder per run",
    "non_iid": "non-IID (Dirichlet) partition; false for IID",
    "alpha": "Dirichlet concentration (lower = more non-IID)",
    "system": "hourglass, splitfed (SplitFed-V1), sflv2 (SplitFed-V2) or fedavg (FL)",
    "num_gpus": "virtual server GPUs (Hourglass keeps one shared server model per GPU)",
    "dataset": "digits (bundled, default), cifar10 or synthetic",
    "data_dir": "CIFAR-10 folder: <dir>/train/<class>/*, <dir>/test/<class>/* or torchvision's layout",
    "download": "let torchvision download CIFAR-10 into --data_dir (needs a network)",
    "model": "cnn, resnet18, resnet18_narrow or vgg16_bn (default: by data set)",
    "cut_layer": "where to split the model (default: the model's default cut)",
    "target_accuracy": "test accuracy (fraction) for time-to-accuracy",
    "max_train_samples": "train on a seeded random subset of this many samples (default: all)",
    "partitioner": "iid, dirichlet or shards (default: dirichlet if --non_iid else iid)",
    "shards_per_client": "classes per client for --partitioner shards",
    "min_partition_size": "fewest samples a client may get",
    "client_fraction": "share of clients taking part in each round",
    "momentum": "SGD momentum",
    "reset_server_optimizer": "reset server optimizer state at each round start",
    "grouping": "none, kmeans or lsh (default: lsh for sff/dff, none for fcfs)",
    "descriptor": "feature descriptor: channel_stats or channel_mean",
    "num_clusters": "k for k-means grouping",
    "lsh_width": "LSH bucket width w",
    "lsh_hashes": "LSH hash functions concatenated",
    "dff_history": "DFF: recent batches per GPU whose buckets are avoided",
    "placement": "which free GPU picks first: capacity (fastest) or random",
    "gpu_speeds": "relative GPU speeds, comma-separated, e.g. 1,1,0.5",
    "client_gflops": "median client compute speed (GFLOP/s)",
    "client_speed_spread": "log-normal sigma of client speeds and links",
    "client_mbps": "median client bandwidth (Mbit/s)",
    "client_latency_ms": "latency per client message (ms)",
    "gpu_tflops": "effective TFLOP/s of a speed-1.0 GPU",
    "host_gpu_gbps": "host<->GPU bandwidth for swaps (GB/s)",
    "gpu_capacity": "server partitions one GPU holds (splitfed); default unlimited",
    "straggler_share": "share of clients that are slow",
    "straggler_factor": "how many times slower a straggler computes",
    "dropout_prob": "chance a client vanishes mid-round",
    "run_name": "name of the run folder (default: system-scheduler-dataset-seed-time)",
    "overwrite": "replace an existing run folder of the same name",
    "events": "also write events.jsonl (one line per served batch)",
}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: same one-line shape, exit 2
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hourglass", description="Train split federated learning on a simulated clock "
                     "(Hourglass, EuroSys 2025). Writes one folder per run under --log_dir.")
    for f in dataclasses.fields(ExperimentConfig):
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        parser.add_argument(f"--{f.name}", default=None, metavar=f.type.replace(" | None", "").upper(),
                            help=f"{HELP[f.name]} (default: {shown})")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its last checkpoint")
    return parser


def convert(name: str, text: str, annotation: str):
    """A flag's text to the field's type, or ConfigError naming the flag."""
    base = annotation.replace(" | None", "")
    if "None" in annotation and base != "str" and text.strip().lower() in ("none", ""):
        return None
    try:
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
        if base == "bool":
            return parse_bool(text)
        if base == "list[float]":
            return text  # parsed (and checked) by ExperimentConfig
        return text
    except ValueError:
        allowed = {"int": "an integer", "float": "a number", "bool": "true or false"}[base]
        raise ConfigError(name, text, allowed) from None


def config_from_args(args) -> ExperimentConfig:
    fields = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
    values = {name: convert(name, getattr(args, name), fields[name].type)
              for name in fields if getattr(args, name) is not None}
    return ExperimentConfig(**values).validate()


class ProgressBar:
    """A per-round progress bar on stderr (tqdm), only when stderr is a terminal."""

    def __init__(self, total: int):
        from tqdm import tqdm
        self.bar = tqdm(total=total, unit="round", disable=not sys.stderr.isatty(), file=sys.stderr)

    def __call__(self, record: dict) -> None:
        self.bar.set_postfix(acc=f"{record['test_accuracy']:.3f}", sim_s=f"{record['sim_time_s']:.1f}")
        self.bar.update(1)

    def close(self):
        self.bar.close()


def main(argv=None) -> int:
    from .experiment import DivergenceError, run
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        if args.resume:
            given = [f.name for f in dataclasses.fields(ExperimentConfig) if getattr(args, f.name) is not None]
            if given:
                raise ConfigError("resume", args.resume, f"no other flags (got --{given[0]}): "
                                  "a resumed run keeps its saved configuration")
            config = None
        else:
            config = config_from_args(args)
        bar = ProgressBar(config.num_rounds if config else 0)
        try:
            result = run(config, on_round=bar, resume=args.resume)
        finally:
            bar.close()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DivergenceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    s = result.summary
    print(f"final accuracy {s['final_accuracy']:.4f}, best {s['best_accuracy']:.4f}, "
          f"simulated {s['sim_time_s']:.1f} s, wall {s['wall_time_s']:.1f} s", file=sys.stderr)
    print(result.run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
