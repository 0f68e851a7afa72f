"""Why do short non-IID runs sit near chance? Re-estimate BatchNorm statistics.

Evaluates the last checkpoint of each run folder twice: as stored, with the running
statistics that training left in every BatchNorm layer, and again after re-estimating
those statistics on IID training images, with every weight unchanged. Under Dirichlet
alpha 0.1 a client's batches hold one or two classes, so the running statistics follow
the last few clients served (and FedAvg averages statistics of skewed clients). A
large gap says the weights have learned more than the stored statistics let them
show. A diagnostic of ours, not part of the paper's method.

    python bench/paper_shape.py --data_dir DIR --log_dir runs/paper_shape
    python bench/bn_statistics.py runs/paper_shape/*/
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit  # noqa: E402

from hourglass_core import ExperimentConfig, checkpoint  # noqa: E402
from hourglass_core.experiment import label, prepare  # noqa: E402
from hourglass_core.metrics import evaluate  # noqa: E402
from hourglass_core.systems import make_system  # noqa: E402


def reestimate_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int = 250) -> int:
    """Replace every BatchNorm layer's running statistics by the plain average of their
    per-batch values over `images` (weights untouched); returns how many layers there were."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average instead of an exponential one
    model.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            model(images[start:start + batch_size])
    return len(layers)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", help="run folders holding checkpoint.pt")
    parser.add_argument("--samples", type=int, default=2000, help="IID training images to re-estimate on")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error(f"--samples {args.samples}: expected a positive number of images")
    runs = []
    for run_dir in args.run_dirs:
        if not (Path(run_dir) / "checkpoint.pt").is_file():
            parser.error(f"run_dirs: {run_dir!r} holds no checkpoint.pt; expected run folders written by the kit")
        state = checkpoint.load(Path(run_dir) / "checkpoint.pt")
        config = ExperimentConfig(**state["config"])
        ctx = prepare(config)
        system = make_system(ctx)
        system.load_global_state(state["models"])
        model, device = system.eval_model(), ctx.devices[0]
        stored = evaluate(model, ctx.data.test_x, ctx.data.test_y, device)[0]
        picked = torch.randperm(len(ctx.data.train_y), generator=torch.Generator().manual_seed(config.seed))
        layers = reestimate_batchnorm(model, ctx.data.train_x[picked[:args.samples]].to(device))
        fresh = evaluate(model, ctx.data.test_x, ctx.data.test_y, device)[0]
        run = {"run": f"{label(config)}-N{config.num_clients}", "rounds": state["next_round"],
               "batchnorm_layers": layers, "stored_accuracy": stored, "reestimated_accuracy": fresh}
        print(f"{run['run']:>24}  round {run['rounds']}  stored {stored:.4f}  BatchNorm re-estimated {fresh:.4f}")
        runs.append(run)
    emit({"samples": args.samples, "runs": runs})


if __name__ == "__main__":
    main()
