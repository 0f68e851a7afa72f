"""Shared helpers of the benchmark scripts (not part of the kit's API)."""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile

from hourglass_core import ConfigError, ExperimentConfig


def data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="synthetic", help="synthetic (default), digits or cifar10")
    parser.add_argument("--data_dir", default=None, help="CIFAR-10 folder when --dataset cifar10")
    parser.add_argument("--use_gpu", default="true", help="compute on CUDA when available")


def base_config(args, **fields) -> ExperimentConfig:
    """The script's config, validated: a bad value stops the script as the CLI does,
    with the message naming the parameter, and exit status 2. Run folders go to
    `args.log_dir` when the script has one and it is set, else to a fresh temporary folder."""
    log_dir = getattr(args, "log_dir", None) or tempfile.mkdtemp(prefix="hourglass-bench-")
    try:
        return ExperimentConfig(dataset=args.dataset, data_dir=args.data_dir, use_gpu=args.use_gpu == "true",
                                log_dir=log_dir, **fields).validate()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None, **quick):
    """Parse `argv`. With `--quick` the defaults become `quick` (tiny sizes for CI);
    a value given explicitly still wins, so no flag is silently replaced."""
    argv = sys.argv[1:] if argv is None else argv
    if "--quick" in argv:
        parser.set_defaults(**quick)
    return parser.parse_args(argv)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit(figures: dict) -> None:
    """The last line of every benchmark: one JSON object of its figures."""
    print(json.dumps(figures))
