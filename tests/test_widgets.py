"""The notebook UI driven without a browser: set values, click Run, read the figures."""
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")  # plotly's FigureWidget needs it

from hourglass_core import ExperimentConfig, RunResult  # noqa: E402
from widgets import LiveCharts, make_app, make_control_panel  # noqa: E402


def fake_runner(calls):
    """A runner with run()'s signature that reports rounds without training."""

    def runner(config, on_round=None):
        calls.append(config)
        records = []
        for r in range(config.num_rounds):
            record = {"round": r + 1, "test_accuracy": 0.2 + 0.1 * r, "sim_time_s": 1.5 * (r + 1),
                      "gpu_busy_share": [0.5 / (g + 1) for g in range(config.num_gpus)]}
            records.append(record)
            if on_round:
                on_round(record)
        summary = {"rounds": config.num_rounds, "final_accuracy": records[-1]["test_accuracy"],
                   "best_accuracy": records[-1]["test_accuracy"], "sim_time_s": records[-1]["sim_time_s"],
                   "wall_time_s": 0.01, "server_state_bytes": 1000 * config.num_gpus, "swap_time_s": 0.0}
        return RunResult(Path("/nonexistent/fake"), records, summary)

    return runner


def test_panel_builds_a_config_from_its_values(tmp_path):
    base = ExperimentConfig(use_gpu=False, log_dir=str(tmp_path), batch_size=16)
    panel = make_control_panel(base)
    panel.set(system="hourglass", scheduler="dff", grouping="kmeans", num_clients=12, num_gpus=3, alpha=1.0,
              num_rounds=4, dataset="digits")
    config = panel.config()
    assert (config.system, config.scheduler, config.grouping) == ("hourglass", "dff", "kmeans")
    assert (config.num_clients, config.num_gpus, config.alpha, config.num_rounds) == (12, 3, 1.0, 4)
    assert config.batch_size == 16 and config.log_dir == str(tmp_path)  # the rest comes from the base


def test_panel_keeps_choices_consistent():
    panel = make_control_panel(ExperimentConfig())
    panel.set(scheduler="dff", grouping="lsh")
    panel.set(system="splitfed")
    assert panel.controls["scheduler"].value == "fcfs" and panel.controls["scheduler"].disabled
    assert panel.config().resolved_grouping == "none"
    panel.set(system="sflv2")
    assert panel.controls["num_gpus"].value == 1
    panel.set(system="hourglass", scheduler="sff", grouping="none")
    assert panel.controls["grouping"].value != "none"  # SFF needs buckets: switched back to auto
    assert panel.config().resolved_grouping == "lsh"


def test_data_folder_only_shows_for_cifar10():
    panel = make_control_panel(ExperimentConfig())
    assert panel.controls["data_dir"].layout.display == "none"
    panel.set(dataset="cifar10")
    assert panel.controls["data_dir"].layout.display is None


def test_run_button_grows_charts_and_overlays_a_second_run():
    calls = []
    app = make_app(ExperimentConfig(use_gpu=False), runner=fake_runner(calls))
    app.panel.set(num_rounds=3, num_gpus=2, scheduler="dff")
    app.panel.run_button.click()
    assert len(calls) == 1 and calls[0].num_gpus == 2
    assert list(app.charts.by_round.data[0].x) == [1, 2, 3]
    assert list(app.charts.by_time.data[0].x) == [1.5, 3.0, 4.5]
    assert list(app.charts.by_time.data[0].y) == pytest.approx([0.2, 0.3, 0.4])
    assert list(app.charts.gpu_busy.data[0].y) == pytest.approx([0.5, 0.25])
    assert "40.0%" in app.summary.value and "done" in app.panel.status.value

    app.panel.set(system="splitfed", num_rounds=2)
    app.panel.run_button.click()
    assert len(app.charts.by_time.data) == 2 and len(app.charts.by_round.data) == 2  # the overlay
    assert app.charts.points(-1) == 2 and app.charts.points(0) == 3
    assert app.charts.by_time.data[0].opacity < 1                                    # earlier run dimmed
    assert app.summary.value.count("<tr>") == 3                                       # header + two runs
    assert "splitfed" in app.summary.value


def test_bad_settings_show_an_error_and_run_nothing():
    calls = []
    app = make_app(ExperimentConfig(use_gpu=False, num_clients=4), runner=fake_runner(calls))
    app.panel.set(dataset="cifar10", data_dir="/definitely/not/here")
    app.panel.set(system="sflv2")
    app.panel.controls["num_gpus"].value = 3   # forced to 1 by sflv2; set anyway
    app.panel.controls["num_gpus"].disabled = False
    assert app.run() is None
    assert "num_gpus" in app.panel.status.value and not calls
    assert app.charts.num_runs == 0


def test_a_real_tiny_run_on_digits(tmp_path):
    app = make_app(ExperimentConfig(use_gpu=False, dataset="digits", log_dir=str(tmp_path)))
    app.panel.set(num_clients=4, num_gpus=2, num_rounds=2, scheduler="dff", alpha=0.5)
    app.panel.run_button.click()
    assert len(app.results) == 1, app.panel.status.value
    config, result = app.results[0]
    assert Path(result.run_dir).parent == tmp_path
    assert app.charts.points() == 2
    assert list(app.charts.by_round.data[0].y) == [r["test_accuracy"] for r in result.records]
    assert len(app.charts.gpu_busy.data[0].y) == 2
    assert f"{100 * result.summary['final_accuracy']:.1f}%" in app.summary.value


def test_live_charts_accept_records_without_start():
    charts = LiveCharts()
    charts.on_round({"round": 1, "test_accuracy": 0.5, "sim_time_s": 2.0, "gpu_busy_share": [0.1]})
    assert charts.num_runs == 1 and charts.points() == 1
