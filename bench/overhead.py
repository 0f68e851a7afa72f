"""Engine overhead: a plain centralised PyTorch loop against the engine.

Same split model, data, batch size and number of samples, trained (a) as a plain
loop of the full model and (b) through the engine as Hourglass with 10 IID clients,
1 GPU, FCFS. Both index the same data tensor per batch and move the batch to the
device. Runs alternate `--repeats` times after a warm-up; the best of each is kept.

    python bench/overhead.py --dataset cifar10 --data_dir DIR --model resnet18_narrow
    python bench/overhead.py --quick            # seconds-long smoke run
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import base_config, data_args, emit, parse_args  # noqa: E402

from hourglass_core import run  # noqa: E402
from hourglass_core.experiment import pick_devices, prepare  # noqa: E402
from hourglass_core.split_models import build_split_model  # noqa: E402


def plain_loop(config, data, samples: int, device) -> float:
    """Samples/s of a plain eager loop of the full model over `samples` samples."""
    split = build_split_model(config.resolved_model, data.num_classes, data.input_shape, config.cut_layer,
                              seed=config.seed)
    model = split.full().to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=config.momentum)
    order = np.random.default_rng(0).permutation(len(data.train_y))
    batches = [order[i:i + config.batch_size] for i in range(0, samples, config.batch_size)]
    started = time.perf_counter()
    trained = 0
    for batch in batches:
        index = torch.from_numpy(batch)
        inputs, labels = data.train_x[index].to(device), data.train_y[index].to(device)
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        trained += len(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return trained / (time.perf_counter() - started)


def engine(config) -> tuple[float, int]:
    record = run(config).records[-1]
    return record["wall_samples_per_s"], record["samples"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_args(parser)
    parser.add_argument("--model", default="resnet18_narrow")
    parser.add_argument("--samples", type=int, default=6400, help="training samples per measurement")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI (cnn, 640 samples, 1 repeat)")
    args = parse_args(parser, argv, samples=640, repeats=1, model="cnn")
    config = base_config(args, model=args.model, num_clients=10, num_gpus=1, scheduler="fcfs", num_rounds=1,
                         non_iid=False, batch_size=args.batch_size, max_train_samples=args.samples)
    data = prepare(config).data
    device = pick_devices(config)[0]
    plain_loop(config, data, min(args.samples, 10 * args.batch_size), device)  # warm-up
    engine(config.replace(max_train_samples=min(args.samples, 20 * args.batch_size)))
    plain, eng = [], []
    for _ in range(args.repeats):
        rate, samples = engine(config)
        eng.append(rate)
        plain.append(plain_loop(config, data, samples, device))
        print(f"plain {plain[-1]:8.1f} samples/s   engine {eng[-1]:8.1f} samples/s   ({samples} samples)")
    emit({"model": args.model, "dataset": args.dataset, "device": str(device), "samples": samples,
          "threads": torch.get_num_threads(), "plain_samples_per_s": round(max(plain), 1),
          "engine_samples_per_s": round(max(eng), 1), "ratio": round(max(eng) / max(plain), 3)})


if __name__ == "__main__":
    main()
