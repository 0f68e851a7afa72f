"""Golden tests of the engine (issue: foundation, point 7) and its records."""
import json

import numpy as np
import pytest
import torch

from hourglass_core import ExperimentConfig, run
from hourglass_core.checkpoint import load
from hourglass_core.experiment import plan_round, prepare
from hourglass_core.run_log import read_jsonl
from hourglass_core.split_models import build_split_model

FAST = dict(dataset="digits", use_gpu=False)


def test_split_training_with_one_client_equals_centralised_training(tmp_path):
    config = ExperimentConfig(**FAST, num_rounds=1, num_clients=1, non_iid=False, log_dir=str(tmp_path), run_name="split")
    result = run(config)
    trained = load(result.run_dir / "checkpoint.pt")["models"]

    ctx = prepare(config)
    _, plans, _ = plan_round(ctx, 0)  # the very batches the run used
    reference = build_split_model(config.resolved_model, 10, ctx.data.input_shape, seed=config.seed)
    model = reference.full().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=config.momentum)
    for batch in plans[0]:
        index = torch.from_numpy(batch)
        loss = torch.nn.functional.cross_entropy(model(ctx.data.train_x[index]), ctx.data.train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    expected = {"client": reference.client.state_dict(), "server": reference.server.state_dict()}
    for part in ("client", "server"):
        for name, value in expected[part].items():
            torch.testing.assert_close(trained[part][name].float(), value.float(), atol=1e-5, rtol=0,
                                       msg=f"{part}.{name}")


def test_fcfs_with_one_gpu_serves_batches_in_arrival_order(tmp_path):
    result = run(ExperimentConfig(**FAST, num_rounds=1, num_clients=8, events=True, log_dir=str(tmp_path)))
    events = read_jsonl(result.run_dir / "events.jsonl")
    served = sorted(events, key=lambda e: e["start_s"])
    assert sum(e["samples"] for e in served) == result.records[0]["samples"]
    arrivals = [e["arrive_s"] for e in served]
    assert arrivals == sorted(arrivals)
    # one GPU: service periods never overlap
    for earlier, later in zip(served, served[1:]):
        assert later["start_s"] >= earlier["end_s"] - 1e-12


def test_fcfs_one_gpu_on_one_client_stream_equals_splitfed_v2(tmp_path):
    common = dict(**FAST, num_clients=1, num_rounds=2, log_dir=str(tmp_path))
    hourglass = run(ExperimentConfig(**common, system="hourglass")).records
    sflv2 = run(ExperimentConfig(**common, system="sflv2")).records
    keys = ("test_accuracy", "test_loss", "train_loss", "sim_time_s", "samples")
    assert [[r[k] for k in keys] for r in hourglass] == [[r[k] for k in keys] for r in sflv2]


def test_splitfed_swaps_only_when_partitions_do_not_fit(tmp_path):
    common = dict(**FAST, num_rounds=1, num_clients=4, system="splitfed", log_dir=str(tmp_path))
    roomy = run(ExperimentConfig(**common, gpu_capacity=4)).records[0]
    assert roomy["swap_count"] == 0 and roomy["swap_time_s"] == 0
    tight = run(ExperimentConfig(**common, gpu_capacity=1)).records[0]
    assert tight["swap_count"] > 0 and tight["swap_time_s"] > 0
    assert tight["sim_time_s"] > roomy["sim_time_s"]


def test_splitfed_server_state_grows_with_clients_and_hourglass_does_not(tmp_path):
    def state(system, n):
        return run(ExperimentConfig(**FAST, num_rounds=1, num_clients=n, system=system, log_dir=str(tmp_path))).records[0][
            "server_state_bytes"]

    assert state("splitfed", 10) == 10 * state("hourglass", 10)
    assert state("hourglass", 20) == state("hourglass", 10)
    assert state("splitfed", 20) == 2 * state("splitfed", 10)


def test_run_folder_holds_the_documented_schema(tmp_path):
    result = run(ExperimentConfig(**FAST, num_clients=4, num_rounds=2, target_accuracy=0.05,
                                  log_dir=str(tmp_path), run_name="schema"))
    folder = tmp_path / "schema"
    config = json.loads((folder / "config.json").read_text())
    assert config["seed"] == 42 and "torch" in config["versions"] and config["resolved"]["model"] == "cnn"
    rounds = read_jsonl(folder / "rounds.jsonl")
    assert [r["round"] for r in rounds] == [1, 2]
    for key in ("round", "test_accuracy", "test_loss", "sim_time_s", "wall_time_s", "samples_per_s",
                "bytes_up", "bytes_down", "server_state_bytes", "swap_count", "swap_time_s", "gpu_busy_share"):
        assert key in rounds[0], key
    assert rounds[1]["sim_time_s"] > rounds[0]["sim_time_s"] > 0
    assert len(rounds[0]["gpu_busy_share"]) == 1 and 0 < rounds[0]["gpu_busy_share"][0] <= 1
    summary = json.loads((folder / "summary.json").read_text())
    for key in ("final_accuracy", "best_accuracy", "sim_time_s", "wall_time_s", "time_to_target_s"):
        assert key in summary
    assert summary["time_to_target_s"] == rounds[0]["sim_time_s"]  # 5% is reached in round 1
    assert result.summary == summary


def test_same_seed_same_records_different_seed_different(tmp_path):
    def records(seed):
        rs = run(ExperimentConfig(**FAST, num_clients=6, num_rounds=2, seed=seed, log_dir=str(tmp_path))).records
        return [{k: v for k, v in r.items() if "wall" not in k} for r in rs]

    assert records(1) == records(1)
    assert records(1) != records(2)


def test_every_round_learns_something_on_digits(tmp_path):
    result = run(ExperimentConfig(dataset="digits", use_gpu=False, num_rounds=3, log_dir=str(tmp_path)))
    accuracies = [r["test_accuracy"] for r in result.records]
    assert accuracies[-1] > 0.3  # chance is 0.1
    assert np.isfinite([r["train_loss"] for r in result.records]).all()
