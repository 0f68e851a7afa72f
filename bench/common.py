"""Shared helpers of the benchmark scripts (not part of the kit's API)."""
from __future__ import annotations

import argparse
import json
import resource
import tempfile

from hourglass_core import ExperimentConfig


def data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="synthetic", help="synthetic (default), digits or cifar10")
    parser.add_argument("--data_dir", default=None, help="CIFAR-10 folder when --dataset cifar10")
    parser.add_argument("--use_gpu", default="true", help="compute on CUDA when available")


def base_config(args, **fields) -> ExperimentConfig:
    return ExperimentConfig(dataset=args.dataset, data_dir=args.data_dir, use_gpu=args.use_gpu == "true",
                            log_dir=tempfile.mkdtemp(prefix="hourglass-bench-"), **fields)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit(figures: dict) -> None:
    """The last line of every benchmark: one JSON object of its figures."""
    print(json.dumps(figures))
