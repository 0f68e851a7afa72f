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
    assert last_json("paper_shape.py", "--data_dir", "/nonexistent") == {"skipped": True}
