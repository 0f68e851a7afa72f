"""Live plotly charts that grow while a run trains.

    charts = LiveCharts()
    charts.start_run("hourglass-dff-M2", num_gpus=2)
    run(config, on_round=charts.on_round)     # each round adds a point
    charts.widget                             # the box to display

Three `FigureWidget`s:

- `by_round`: test accuracy against rounds,
- `by_time`: test accuracy against *simulated* seconds (the paper's time axis),
- `gpu_busy`: per-GPU busy share (mean over the rounds so far).

Every run gets its own trace in each figure and earlier runs stay, dimmed: the
comparison overlay. `FigureWidget` updates reach the browser as they happen, so
the charts grow during a run even though the run blocks the kernel.
"""
from __future__ import annotations

import ipywidgets as W
import plotly.graph_objects as go
from plotly.colors import qualitative

PALETTE = qualitative.Plotly


def _figure(title: str, xaxis: str, yaxis: str, **layout) -> go.FigureWidget:
    """The layout is given at construction: only that is kept as widget state, which
    views opened later (Voila, a reloaded page) are built from."""
    return go.FigureWidget(layout=dict(title=title, xaxis_title=xaxis, yaxis_title=yaxis, height=320, width=470,
                                       margin=dict(l=55, r=10, t=45, b=45), legend=dict(font=dict(size=10)),
                                       **layout))


class LiveCharts:
    """Accuracy by round, accuracy by simulated time and per-GPU busy share, one trace per run."""

    def __init__(self):
        self.by_round = _figure("Test accuracy by round", "round", "accuracy", yaxis_range=[0, 1])
        self.by_time = _figure("Test accuracy by simulated time", "simulated time (s)", "accuracy",
                               yaxis_range=[0, 1])
        self.gpu_busy = _figure("GPU busy share (mean over rounds)", "GPU", "share of round time busy",
                                barmode="group")
        self.labels: list[str] = []
        self._busy: list[list[float]] = []   # the current run's per-round busy shares
        self.widget = W.VBox([W.HBox([self.by_round, self.by_time]), self.gpu_busy])

    @property
    def num_runs(self) -> int:
        return len(self.labels)

    def start_run(self, label: str, num_gpus: int = 1) -> None:
        """Add this run's (empty) traces; dim the earlier runs'."""
        colour = PALETTE[len(self.labels) % len(PALETTE)]
        self.labels.append(label)
        self._busy = []
        for fig in (self.by_round, self.by_time):
            with fig.batch_update():
                for trace in fig.data:
                    trace.opacity = 0.45
                fig.add_scatter(x=[], y=[], mode="lines+markers", name=label, line=dict(color=colour))
        with self.gpu_busy.batch_update():
            for trace in self.gpu_busy.data:
                trace.opacity = 0.45
            self.gpu_busy.add_bar(x=[f"GPU {g}" for g in range(num_gpus)], y=[0.0] * num_gpus, name=label,
                                  marker_color=colour)

    def on_round(self, record: dict) -> None:
        """The `on_round` callback of `hourglass_core.run`: add this round's point."""
        if not self.labels:
            self.start_run("run")
        accuracy = record["test_accuracy"]
        for fig, x in ((self.by_round, record["round"]), (self.by_time, record["sim_time_s"])):
            trace = fig.data[-1]
            with fig.batch_update():
                trace.x = (*(trace.x or ()), x)
                trace.y = (*(trace.y or ()), accuracy)
        busy = list(record.get("gpu_busy_share") or [])
        if busy:
            self._busy.append(busy)
            mean = [sum(r[g] for r in self._busy) / len(self._busy) for g in range(len(busy))]
            bar = self.gpu_busy.data[-1]
            with self.gpu_busy.batch_update():
                bar.x = [f"GPU {g}" for g in range(len(mean))]
                bar.y = mean

    def points(self, run: int = -1) -> int:
        """How many rounds run `run` has drawn so far."""
        return len(self.by_round.data[run].x or ())
