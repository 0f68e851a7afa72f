"""The app: a control panel wired to live charts and a table of finished runs.

    from widgets import make_app
    app = make_app(base_config=ExperimentConfig(dataset="digits", log_dir=tmp))
    app.widget                      # display it; press Run

From code (tests, notebooks): `app.panel.set(num_gpus=2); app.panel.run_button.click()`
or `app.run()`. `runner` is `hourglass_core.run` by default; tests may inject any
callable with the same signature, `runner(config, on_round=callback) -> RunResult`.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as W

import hourglass_core
from hourglass_core import ConfigError, ExperimentConfig, RunResult
from hourglass_core.experiment import label as core_label

from .charts import LiveCharts
from .controls import ControlPanel, make_control_panel

COLUMNS = (("run", "run"), ("rounds", "rounds"), ("final_accuracy", "final acc."),
           ("best_accuracy", "best acc."), ("sim_time_s", "sim. time (s)"), ("wall_time_s", "wall time (s)"),
           ("server_state_bytes", "server memory"), ("swap_share", "swap share"))


def run_label(index: int, config: ExperimentConfig) -> str:
    """`3: hourglass-dff-M2 N=10 a=0.1`: the run's number, system and the panel's knobs."""
    return f"{index}: {core_label(config)} N={config.num_clients} a={config.alpha:g}"


def summary_row(name: str, config: ExperimentConfig, result: RunResult) -> dict:
    s = result.summary
    sim = s.get("sim_time_s") or 0.0
    return {"run": name, "rounds": s.get("rounds"), "final_accuracy": s.get("final_accuracy"),
            "best_accuracy": s.get("best_accuracy"), "sim_time_s": sim, "wall_time_s": s.get("wall_time_s"),
            "server_state_bytes": s.get("server_state_bytes"),
            "swap_share": (s.get("swap_time_s") or 0.0) / (sim * config.num_gpus) if sim else 0.0,
            "run_dir": str(result.run_dir)}


def _format(key: str, value) -> str:
    if value is None:
        return "-"
    if key in ("final_accuracy", "best_accuracy", "swap_share"):
        return f"{100 * value:.1f}%"
    if key == "server_state_bytes":
        return human_bytes(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def summary_html(rows: list[dict]) -> str:
    if not rows:
        return "<i>No runs yet: choose settings and press Run.</i>"
    head = "".join(f"<th style='padding:2px 8px'>{title}</th>" for _, title in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{_format(k, row[k])}</td>" for k, _ in COLUMNS)
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class App:
    """Panel + live charts + summary table. `run()` is what the Run button does."""

    def __init__(self, panel: ControlPanel, charts: LiveCharts, runner: Callable):
        self.panel, self.charts, self.runner = panel, charts, runner
        self.results: list[tuple[ExperimentConfig, RunResult]] = []
        self.rows: list[dict] = []
        self.summary = W.HTML(summary_html(self.rows))
        self.widget = W.VBox([W.HBox([panel.widget]), charts.widget, self.summary])

    def run(self) -> RunResult | None:
        """Run the panel's config with live charts; returns its result, or None when the
        settings were refused (the reason is shown in the panel's status line)."""
        try:
            config = self.panel.config()
        except ConfigError as error:
            self.panel.show_status(str(error), error=True)
            return None
        name = run_label(len(self.results) + 1, config)
        self.charts.start_run(name, config.num_gpus if config.system != "fedavg" else 1)

        def on_round(record):
            self.charts.on_round(record)
            self.panel.show_status(f"{name}: round {record['round']}/{config.num_rounds}, "
                                   f"accuracy {100 * record['test_accuracy']:.1f}%")

        self.panel.run_button.disabled = True
        self.panel.show_status(f"{name}: preparing ...")
        try:
            result = self.runner(config, on_round=on_round)
        except ConfigError as error:    # e.g. a data folder that is missing
            self.panel.show_status(str(error), error=True)
            return None
        except Exception as error:
            self.panel.show_status(f"{name} failed: {type(error).__name__}: {error}", error=True)
            raise
        finally:
            self.panel.run_button.disabled = False
        self.results.append((config, result))
        self.rows.append(summary_row(name, config, result))
        self.summary.value = summary_html(self.rows)
        final = result.summary.get("final_accuracy")
        self.panel.show_status(f"{name}: done, final accuracy "
                               f"{'-' if final is None else f'{100 * final:.1f}%'} in {result.run_dir}")
        return result


def make_app(base_config: ExperimentConfig | None = None, runner: Callable = hourglass_core.run) -> App:
    """A control panel over `base_config` wired to live charts; `runner(config, on_round=...)`
    trains (default `hourglass_core.run`)."""
    charts = LiveCharts()
    app_ref: list[App] = []
    panel = make_control_panel(base_config, on_run=lambda _panel: app_ref[0].run())
    app = App(panel, charts, runner)
    app_ref.append(app)
    return app
