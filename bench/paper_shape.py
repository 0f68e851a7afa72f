"""The paper's comparisons at our scale.

Real CIFAR-10, Dirichlet alpha 0.1, the CPU-sized ResNet (resnet18_narrow), N = 20
and 50 clients, M = 1, 2, 4 virtual GPUs: simulated time to a target accuracy for
Hourglass-DFF/FCFS/SFF, SplitFed-V1, SplitFed-V2 and FL; SplitFed-V1's swap share of
time; final accuracy. Without a CIFAR-10 folder it says so and stops (exit 0), unless
`--quick`, which runs a seconds-long digits version for CI.

    python bench/paper_shape.py --data_dir DIR                 # the full run
    python bench/paper_shape.py --quick                        # smoke run on digits
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import base_config, emit, parse_args  # noqa: E402

from hourglass_core import compare  # noqa: E402
from hourglass_core.metrics import time_to_accuracy  # noqa: E402
from hourglass_core.sweeps import paper_grid  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default=None, help="CIFAR-10 image folder (train/<class>, test/<class>)")
    parser.add_argument("--clients", default="20,50")
    parser.add_argument("--gpus", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--max_train_samples", type=int, default=10000)
    parser.add_argument("--target_accuracy", type=float, default=None,
                        help="default: the best accuracy the weakest run reached")
    parser.add_argument("--targets", default="0.15,0.2,0.25,0.3", type=accuracy_list,
                        help="more target accuracies: simulated time to each is printed per run")
    parser.add_argument("--splitfed_capacity", type=int, default=4, help="SplitFed-V1 partitions per GPU")
    parser.add_argument("--gpu_tflops", type=float, default=0.15,
                        help="effective speed of a virtual GPU; the default makes 20 clients load one GPU "
                             "about as hundreds load a real one in the paper (see bench/README.md)")
    parser.add_argument("--use_gpu", default="true")
    parser.add_argument("--log_dir", default=None,
                        help="keep the run folders here (default: a temporary folder), e.g. for bench/bn_statistics.py")
    parser.add_argument("--quick", action="store_true",
                        help="digits, tiny sizes, for CI (cnn, N = 10, M = 1, 2, 2 rounds, --gpu_tflops 0.005)")
    args = parse_args(parser, argv, clients="10", gpus="1,2", rounds=2, gpu_tflops=0.005, max_train_samples=None)
    if args.quick:
        args.dataset, args.model = "digits", "cnn"
    elif not args.data_dir or not Path(args.data_dir).is_dir():
        print(f"skipped: no CIFAR-10 folder (--data_dir {args.data_dir}); pass one, or --quick for digits")
        emit({"skipped": True})
        return
    else:
        args.dataset, args.model = "cifar10", "resnet18_narrow"
    started = time.perf_counter()
    rows = []
    for n in [int(c) for c in args.clients.split(",")]:
        base = base_config(args, model=args.model, num_clients=n, num_rounds=args.rounds, alpha=0.1,
                           max_train_samples=args.max_train_samples, gpu_tflops=args.gpu_tflops)
        table = compare(paper_grid(base, [int(m) for m in args.gpus.split(",")], args.splitfed_capacity),
                        target_accuracy=args.target_accuracy)
        ladder = target_ladder([result.records for result in table.results], args.targets)
        print(f"\nN = {n} clients\n{table}\n")
        print(ladder_text([row["label"] for row in table.rows], ladder))
        for row, times in zip(table.rows, ladder):
            rows.append({"num_clients": n, **{k: v for k, v in row.items() if k != "run_dir"},
                         "target_accuracy": table.target_accuracy, "time_to": times})
    emit({"dataset": args.dataset, "model": args.model, "wall_s": round(time.perf_counter() - started, 1),
          "rows": rows})


def accuracy_list(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated accuracies in (0, 1], e.g. 0.2,0.3")
    return values


def target_ladder(records_per_run: list[list[dict]], targets: list[float]) -> list[dict]:
    """Per run, simulated seconds until test accuracy first reached each target
    (None: never). One target near chance compares noise; a ladder of targets shows
    where the curves part (our choice, beside `compare`'s single target)."""
    return [{f"{t:g}": time_to_accuracy(records, t) for t in targets} for records in records_per_run]


def ladder_text(labels: list[str], ladder: list[dict]) -> str:
    lines = ["simulated seconds to each target accuracy (- never reached)",
             f"{'run':>18}" + "".join(f"{t:>10}" for t in ladder[0])]
    for label, times in zip(labels, ladder):
        lines.append(f"{label:>18}" + "".join(f"{'-' if v is None else f'{v:.1f}':>10}" for v in times.values()))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
