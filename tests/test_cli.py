"""The command line: a real run end to end, and a table of bad inputs (each must
fail before training with exit status 2, one line naming the flag and the value,
no traceback, and nothing written)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from hourglass_core.cli import main


def image_tree(root: Path, classes=("cat", "dog"), per_class=3) -> Path:
    for split in ("train", "test"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.new("RGB", (32, 32), (i * 40, 10, 200)).save(folder / f"{i}.png")
    return root


def no_images(tmp: Path) -> Path:
    (tmp / "empty" / "train" / "cat").mkdir(parents=True)
    (tmp / "empty" / "test" / "cat").mkdir(parents=True)
    return tmp / "empty"


def damaged_image(tmp: Path) -> Path:
    root = image_tree(tmp / "damaged")
    (root / "train" / "cat" / "1.png").write_bytes(b"not an image at all")
    return root


def unknown_class(tmp: Path) -> Path:
    root = image_tree(tmp / "unknown")
    extra = root / "test" / "zebra"
    extra.mkdir()
    Image.new("RGB", (32, 32)).save(extra / "0.png")
    return root


# (flags, the parameter the message must name, the value it must quote)
BAD_INPUTS = [
    (["--num_clients", "0"], "num_clients", "0"),
    (["--num_clients", "-5"], "num_clients", "-5"),
    (["--num_clients", "ten"], "num_clients", "ten"),
    (["--num_rounds", "0"], "num_rounds", "0"),
    (["--local_epochs", "-1"], "local_epochs", "-1"),
    (["--batch_size", "0"], "batch_size", "0"),
    (["--batch_size", "100000"], "batch_size", "100000"),
    (["--learning_rate", "0"], "learning_rate", "0"),
    (["--learning_rate", "fast"], "learning_rate", "fast"),
    (["--learning_rate", "nan"], "learning_rate", "nan"),
    (["--alpha", "0"], "alpha", "0"),
    (["--alpha", "-0.5"], "alpha", "-0.5"),
    (["--client_fraction", "0"], "client_fraction", "0"),
    (["--client_fraction", "1.5"], "client_fraction", "1.5"),
    (["--system", "splitfed3"], "system", "splitfed3"),
    (["--scheduler", "lifo"], "scheduler", "lifo"),
    (["--grouping", "dbscan"], "grouping", "dbscan"),
    (["--model", "resnet99"], "model", "resnet99"),
    (["--dataset", "mnist"], "dataset", "mnist"),
    (["--cut_layer", "layer9"], "cut_layer", "layer9"),
    (["--gpu_speeds", "1,x"], "gpu_speeds", "1,x"),
    (["--gpu_speeds", "1,1"], "gpu_speeds", "1,1"),
    (["--num_gpus", "2", "--gpu_speeds", "1,-1"], "gpu_speeds", "1,-1"),
    (["--num_gpus", "0"], "num_gpus", "0"),
    (["--use_gpu", "maybe"], "use_gpu", "maybe"),
    (["--non_iid", "perhaps"], "non_iid", "perhaps"),
    (["--seed", "abc"], "seed", "abc"),
    (["--dropout_prob", "1"], "dropout_prob", "1"),
    (["--straggler_factor", "0.5"], "straggler_factor", "0.5"),
    (["--target_accuracy", "1.5"], "target_accuracy", "1.5"),
    (["--system", "sflv2", "--num_gpus", "2"], "num_gpus", "2"),
    (["--system", "splitfed", "--scheduler", "dff"], "scheduler", "dff"),
    (["--scheduler", "dff", "--grouping", "none"], "grouping", "none"),
    (["--num_clusters", "0"], "num_clusters", "0"),
    (["--lsh_width", "-1"], "lsh_width", "-1"),
    (["--min_partition_size", "0"], "min_partition_size", "0"),
    (["--momentum", "-0.1"], "momentum", "-0.1"),
    (["--gpu_capacity", "0"], "gpu_capacity", "0"),
    (["--partitioner", "byname"], "partitioner", "byname"),
    (["--run_name", "a/b"], "run_name", "a/b"),
    (["--resume", "/nonexistent/run"], "resume", "/nonexistent/run"),
    (["--dataset", "cifar10", "--data_dir", "/nonexistent/cifar"], "data_dir", "/nonexistent/cifar"),
    (["--dataset", "cifar10", "--data_dir", no_images], "data_dir", "empty"),
    (["--dataset", "cifar10", "--data_dir", damaged_image], "data_dir", "1.png"),
    (["--dataset", "cifar10", "--data_dir", unknown_class], "data_dir", "zebra"),
]


@pytest.mark.parametrize("flags, param, value", BAD_INPUTS, ids=lambda x: " ".join(map(str, x)) if isinstance(x, list) else None)
def test_bad_input_fails_before_training_naming_flag_and_value(flags, param, value, tmp_path, capsys):
    flags = [str(f(tmp_path)) if callable(f) else f for f in flags]
    log_dir = tmp_path / "logs"
    code = main(["--log_dir", str(log_dir), "--use_gpu", "false", *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    message = err[-1]
    assert message.startswith("error: ") and param in message and value in message, message
    assert not log_dir.exists() or not any(log_dir.iterdir())  # nothing started, nothing written


def test_at_least_thirty_bad_inputs_are_covered():
    assert len(BAD_INPUTS) >= 30


def test_cli_runs_and_prints_the_run_folder_last(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hourglass_core", "--num_rounds", "1", "--num_clients", "4",
                          "--log_dir", str(tmp_path), "--run_name", "first"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    assert run_dir == tmp_path / "first"
    assert json.loads((run_dir / "summary.json").read_text())["rounds"] == 1
    assert "no CUDA device" in out.stderr  # the one-line CPU note
    # an earlier run is never overwritten unless asked
    again = subprocess.run([sys.executable, "-m", "hourglass_core", "--num_rounds", "1", "--num_clients", "4",
                            "--log_dir", str(tmp_path), "--run_name", "first"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "run_name" in again.stderr and "--overwrite" in again.stderr
    assert json.loads((run_dir / "summary.json").read_text())["rounds"] == 1


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--num_clients", "--scheduler", "--grouping", "--gpu_speeds", "--cut_layer", "--target_accuracy",
                 "--download", "--resume"):
        assert flag in text


def test_more_gpus_than_clients_is_allowed_but_said(tmp_path, capsys, caplog):
    assert main(["--num_rounds", "1", "--num_clients", "2", "--num_gpus", "3", "--log_dir", str(tmp_path),
                 "--use_gpu", "false"]) == 0
    assert "more than num_clients" in capsys.readouterr().err + caplog.text  # pytest captures the log
