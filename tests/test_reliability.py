"""Runs that survive interruption, identical replays, refused pickles, faults."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from hourglass_core import ConfigError, DivergenceError, ExperimentConfig, run
from hourglass_core.checkpoint import load
from hourglass_core.cli import main
from hourglass_core.run_log import read_jsonl

TINY = dict(dataset="digits", use_gpu=False, num_clients=6)


def without_wall(records):
    return [{k: v for k, v in r.items() if "wall" not in k} for r in records]


def test_sigkill_after_round_two_then_resume_gives_the_uninterrupted_records(tmp_path):
    flags = ["--num_rounds", "4", "--num_clients", "6", "--scheduler", "dff", "--num_gpus", "2",
             "--use_gpu", "false", "--log_dir", str(tmp_path)]
    reference = run(ExperimentConfig(**TINY, num_rounds=4, scheduler="dff", num_gpus=2,
                                     log_dir=str(tmp_path), run_name="reference")).records

    proc = subprocess.Popen([sys.executable, "-m", "hourglass_core", *flags, "--run_name", "killed"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    rounds = tmp_path / "killed" / "rounds.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and len(read_jsonl(rounds)) < 2 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(read_jsonl(rounds))
    assert 2 <= done < 4, f"the run was meant to be killed after round 2, it had {done} rounds"

    assert main(["--resume", str(tmp_path / "killed")]) == 0
    assert without_wall(read_jsonl(rounds)) == without_wall(reference)


def test_checkpoints_load_weights_only_and_pickled_objects_are_refused(tmp_path):
    result = run(ExperimentConfig(**TINY, num_rounds=1, log_dir=str(tmp_path), run_name="ok"))
    state = torch.load(result.run_dir / "checkpoint.pt", weights_only=True)
    assert state["next_round"] == 1

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    bad = tmp_path / "bad"
    bad.mkdir()
    torch.save({"format": 1, "evil": Payload()}, bad / "checkpoint.pt")
    with pytest.raises(ConfigError, match="pickled objects"):
        load(bad / "checkpoint.pt")
    with pytest.raises(ConfigError, match="resume"):
        run(None, resume=bad)


@pytest.mark.parametrize("overrides", [
    dict(system="hourglass", scheduler="fcfs"),
    dict(system="hourglass", scheduler="sff", grouping="lsh", num_gpus=2),
    dict(system="hourglass", scheduler="dff", grouping="kmeans", num_gpus=2),
    dict(system="hourglass", scheduler="dff", grouping="lsh", num_gpus=2, dropout_prob=0.3),
    dict(system="splitfed", gpu_capacity=2),
    dict(system="sflv2"),
    dict(system="fedavg"),
], ids=lambda o: "-".join(str(v) for v in o.values()))
def test_same_config_and_seed_replay_identically(overrides, tmp_path):
    config = ExperimentConfig(**TINY, num_rounds=2, log_dir=str(tmp_path), events=True, **overrides)
    first, second = run(config), run(config)
    assert without_wall(first.records) == without_wall(second.records)
    assert read_jsonl(first.run_dir / "events.jsonl") == read_jsonl(second.run_dir / "events.jsonl")
    other = run(config.replace(seed=7))
    assert without_wall(other.records) != without_wall(first.records)


def test_dropped_clients_are_counted_and_the_round_completes(tmp_path):
    records = run(ExperimentConfig(**TINY, num_rounds=2, dropout_prob=0.5, log_dir=str(tmp_path))).records
    assert len(records) == 2
    assert sum(r["dropped_clients"] for r in records) > 0
    assert sum(r["discarded_batches"] for r in records) > 0  # their in-flight features were dropped
    full = run(ExperimentConfig(**TINY, num_rounds=2, log_dir=str(tmp_path))).records
    assert sum(r["samples"] for r in records) < sum(r["samples"] for r in full)


def test_divergence_stops_with_a_clear_message_and_keeps_good_records(tmp_path, capsys):
    code = main(["--learning_rate", "1e12", "--num_rounds", "3", "--num_clients", "4", "--use_gpu", "false",
                 "--log_dir", str(tmp_path), "--run_name", "boom"])
    err = capsys.readouterr().err
    assert code == 3 and "in round" in err and ("nan" in err or "inf" in err), err
    folder = tmp_path / "boom"
    kept = read_jsonl(folder / "rounds.jsonl")
    if kept:  # whatever rounds completed before the blow-up are intact and checkpointed
        assert load(folder / "checkpoint.pt")["next_round"] == len(kept)


def test_stragglers_grow_the_kmeans_wait_but_not_lsh_dispatch(tmp_path):
    """A share of clients `straggler_factor` times slower (cost_model.py): k-means
    must wait for them every iteration, LSH dispatches each batch as it arrives."""
    def wait(grouping, share):
        config = ExperimentConfig(**TINY, num_rounds=1, scheduler="dff", grouping=grouping, straggler_share=share,
                                  straggler_factor=20.0, client_speed_spread=0.0, client_gflops=0.001,
                                  log_dir=str(tmp_path))
        record = run(config).records[0]
        return record["cluster_wait_s"] / record["samples"]

    assert wait("kmeans", 0.4) > 2 * wait("kmeans", 0.0)
    assert wait("lsh", 0.4) == pytest.approx(wait("lsh", 0.0), rel=0.05)
    assert wait("lsh", 0.4) < wait("kmeans", 0.4) / 10
