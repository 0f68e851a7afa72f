"""Memory and time flat in the number of clients.

One Hourglass round (FCFS, 1 GPU) over the same training data split IID across
N = 10, 100, 1,000 clients. Each N runs in its own process, so its peak resident
memory is its own. Beside it, the server-side state SplitFed-V1 holds for the same
N (its system is built, not trained: one partition plus optimizer state per client).

    python bench/scale.py --dataset cifar10 --data_dir DIR     # 50,000 CIFAR-10 images
    python bench/scale.py --quick                               # seconds-long smoke run
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import base_config, data_args, emit, parse_args, peak_rss_bytes  # noqa: E402


def config_for(args, num_clients: int):
    return base_config(args, model=args.model, num_clients=num_clients, num_rounds=1, non_iid=False,
                       max_train_samples=args.samples)


def child(args) -> dict:
    from hourglass_core import run
    from hourglass_core.experiment import prepare
    from hourglass_core.systems import make_system

    config = config_for(args, args.child)
    if args.splitfed:
        system = make_system(prepare(config.replace(system="splitfed")))
        return {"splitfed_state_bytes": system.server_state_bytes()}
    record = run(config).records[-1]
    return {"peak_rss_bytes": peak_rss_bytes(), "server_state_bytes": record["server_state_bytes"],
            "round_wall_s": record["round_wall_s"], "samples": record["samples"]}


def measure(argv: list[str], n: int, splitfed: bool) -> dict:
    cmd = [sys.executable, __file__, *argv, "--child", str(n)] + (["--splitfed"] if splitfed else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_args(parser)
    parser.add_argument("--model", default="resnet18_narrow")
    parser.add_argument("--samples", type=int, default=None, help="training samples (default: all)")
    parser.add_argument("--clients", default="10,100,1000")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI (cnn, 1,600 samples, N = 5, 50)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--splitfed", action="store_true", help=argparse.SUPPRESS)
    args = parse_args(parser, argv, model="cnn", samples=1600, clients="5,50")
    if args.child is not None:
        emit(child(args))
        return
    counts = [int(n) for n in args.clients.split(",")]
    for n in counts:  # refuse bad values here, before any child starts
        config_for(args, n)
    rows = {}
    for n in counts:
        rows[n] = {**measure(argv, n, False), **measure(argv, n, True)}
        r = rows[n]
        print(f"N={n:5d}  peak RSS {r['peak_rss_bytes'] / 2**20:8.1f} MiB  round wall {r['round_wall_s']:7.2f} s  "
              f"Hourglass server state {r['server_state_bytes'] / 2**20:8.2f} MiB  "
              f"SplitFed-V1 server state {r['splitfed_state_bytes'] / 2**20:10.2f} MiB")
    lo, hi = rows[counts[0]], rows[counts[-1]]
    tag = f"{counts[-1]}_vs_{counts[0]}"
    emit({"model": args.model, "dataset": args.dataset, "rows": rows,
          f"memory_ratio_{tag}": round(hi["peak_rss_bytes"] / lo["peak_rss_bytes"], 3),
          f"time_ratio_{tag}": round(hi["round_wall_s"] / lo["round_wall_s"], 3),
          f"hourglass_state_ratio_{tag}": round(hi["server_state_bytes"] / lo["server_state_bytes"], 3),
          f"splitfed_state_ratio_{tag}": round(hi["splitfed_state_bytes"] / lo["splitfed_state_bytes"], 3)})


if __name__ == "__main__":
    main()
