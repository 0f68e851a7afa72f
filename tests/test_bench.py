"""Smoke runs of the benchmark scripts at tiny sizes: each must finish and end with
one JSON object holding its figures (the real figures are in bench/README.md)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def last_json(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_overhead_quick():
    figures = last_json("overhead.py", "--quick", "--use_gpu", "false")
    assert figures["plain_samples_per_s"] > 0 and figures["engine_samples_per_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["engine_samples_per_s"] / figures["plain_samples_per_s"], rel=0.01)


def test_scale_quick():
    figures = last_json("scale.py", "--quick", "--use_gpu", "false")
    assert figures["splitfed_state_ratio_50_vs_5"] == pytest.approx(10, rel=0.01)
    assert figures["hourglass_state_ratio_50_vs_5"] == 1
    assert figures["memory_ratio_50_vs_5"] > 0 and figures["time_ratio_50_vs_5"] > 0


def test_paper_shape_quick_and_skip_without_data():
    figures = last_json("paper_shape.py", "--quick", "--use_gpu", "false")
    labels = {row["label"] for row in figures["rows"]}
    assert {"hourglass-dff-M1", "hourglass-fcfs-M2", "splitfed-M1", "sflv2-M1", "fedavg-M1"} <= labels
    for row in figures["rows"]:
        assert set(row["time_to"]) == {"0.15", "0.2", "0.25", "0.3"}
        reached = [t for t in row["time_to"].values() if t is not None]
        assert reached == sorted(reached)  # a higher target is never reached sooner
        assert (row["time_to"]["0.15"] is not None) == (row["best_accuracy"] >= 0.15)
    assert last_json("paper_shape.py", "--data_dir", "/nonexistent") == {"skipped": True}


def test_batchnorm_reestimation_replaces_running_statistics_with_the_plain_average():
    sys.path.insert(0, str(BENCH))
    from bn_statistics import reestimate_batchnorm
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    model[1].running_mean.fill_(7.0)
    model[1].running_var.fill_(9.0)
    images = torch.randn(300, 3, 4, 4) * 3 + 1
    weights_before = model[0].weight.clone()
    assert reestimate_batchnorm(model, images, batch_size=100) == 1
    features = model[0](images).detach()
    assert torch.allclose(model[1].running_mean, features.mean(dim=(0, 2, 3)), atol=1e-4)
    assert torch.equal(model[0].weight, weights_before)


def test_bn_statistics_reads_a_finished_run(tmp_path):
    from hourglass_core import ExperimentConfig, run
    result = run(ExperimentConfig(dataset="synthetic", model="resnet18_narrow", num_clients=4, num_rounds=1,
                                  alpha=0.1, use_gpu=False, log_dir=str(tmp_path)))
    figures = last_json("bn_statistics.py", str(result.run_dir), "--samples", "200")
    [one] = figures["runs"]
    assert one["run"] == "hourglass-fcfs-M1-N4" and one["rounds"] == 1 and one["batchnorm_layers"] > 10
    assert one["stored_accuracy"] == pytest.approx(result.records[-1]["test_accuracy"])
    assert 0 <= one["reestimated_accuracy"] <= 1
    refused = subprocess.run([sys.executable, str(BENCH / "bn_statistics.py"), str(tmp_path)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "run_dirs" in refused.stderr and "checkpoint.pt" in refused.stderr


def test_quick_sets_defaults_only_and_bad_values_are_refused_by_name():
    figures = last_json("overhead.py", "--quick", "--samples", "320", "--use_gpu", "false")
    assert figures["samples"] == 320 and figures["model"] == "cnn"  # explicit wins, the rest is quick
    for script, flag, value in (("scale.py", "--dataset", "nope"), ("overhead.py", "--model", "nope"),
                                ("paper_shape.py", "--gpu_tflops", "-1")):
        out = subprocess.run([sys.executable, str(BENCH / script), "--quick", flag, value],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, (script, out.stderr[-500:])
        assert out.stderr.startswith("error: ") and flag[2:] in out.stderr and "Traceback" not in out.stderr
