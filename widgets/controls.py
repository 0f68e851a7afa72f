"""The control panel: pick a run's main knobs, then press Run.

    panel = make_control_panel(base_config, on_run=lambda panel: ...)
    panel.widget          # the ipywidgets box to display
    panel.controls        # {"system": Dropdown, "num_clients": IntSlider, ...}
    panel.set(num_gpus=2) # set values from code (tests, notebooks)
    panel.config()        # base_config with the panel's values, validated
    panel.run_button      # .click() runs `on_run(panel)`

Every other field of the run (seed, batch size, cost model ...) comes from
`base_config`. The panel keeps its choices consistent: systems other than
Hourglass have no feature scheduling, so the scheduler is fixed to FCFS and the
grouping to none for them, and SFF/DFF always get a grouping.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as W

from hourglass_core import ConfigError, ExperimentConfig
from hourglass_core.config import GROUPINGS, SCHEDULERS, SYSTEMS
from hourglass_core.datasets import DATASETS

AUTO = "auto"
SYSTEM_LABELS = {"hourglass": "Hourglass (shared server model)", "splitfed": "SplitFed-V1 (one per client)",
                 "sflv2": "SplitFed-V2 (one at a time)", "fedavg": "FL (FedAvg, no split)"}
SCHEDULER_LABELS = {"fcfs": "FCFS (arrival order)", "sff": "SFF (similar first)",
                    "dff": "DFF (dissimilar first)"}
GROUPING_LABELS = {AUTO: "auto (LSH for SFF/DFF)", "none": "none", "kmeans": "k-means", "lsh": "Euclidean LSH"}
# The fields the panel sets; everything else comes from the base config.
FIELDS = ("system", "scheduler", "grouping", "num_clients", "num_gpus", "alpha", "num_rounds", "dataset",
          "data_dir")


class ControlPanel:
    """A box of controls over a base `ExperimentConfig`, with a Run button."""

    def __init__(self, base_config: ExperimentConfig | None = None,
                 on_run: Callable[["ControlPanel"], None] | None = None):
        self.base = base_config or ExperimentConfig()
        self.on_run = on_run
        style = {"description_width": "150px"}
        b = self.base
        self.controls: dict[str, W.Widget] = {
            "system": W.Dropdown(options=[(SYSTEM_LABELS[s], s) for s in SYSTEMS], value=b.system,
                                 description="system", style=style, layout=_wide()),
            "scheduler": W.Dropdown(options=[(SCHEDULER_LABELS[s], s) for s in SCHEDULERS], value=b.scheduler,
                                    description="scheduler", style=style, layout=_wide()),
            "grouping": W.Dropdown(options=[(GROUPING_LABELS[g], g) for g in (AUTO, *GROUPINGS)],
                                   value=b.grouping or AUTO, description="grouping", style=style, layout=_wide()),
            "num_clients": W.IntSlider(value=b.num_clients, min=1, max=max(100, b.num_clients),
                                       description="clients (N)", style=style, layout=_wide()),
            "num_gpus": W.IntSlider(value=b.num_gpus, min=1, max=max(16, b.num_gpus),
                                    description="GPUs (M)", style=style, layout=_wide()),
            "alpha": W.FloatLogSlider(value=b.alpha, base=10, min=-2, max=2, step=0.1, readout_format=".2g",
                                      description="non-IID alpha", style=style, layout=_wide(),
                                      tooltip="Dirichlet alpha: small = each client sees few classes"),
            "num_rounds": W.IntSlider(value=b.num_rounds, min=1, max=max(50, b.num_rounds),
                                      description="rounds", style=style, layout=_wide()),
            "dataset": W.Dropdown(options=list(DATASETS), value=b.dataset, description="data set",
                                  style=style, layout=_wide()),
            "data_dir": W.Text(value=b.data_dir or "", placeholder="folder with train/ and test/ (CIFAR-10)",
                               description="data folder", style=style, layout=_wide()),
        }
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.status = W.HTML()
        self.run_button.on_click(lambda _: self._clicked())
        self.controls["system"].observe(lambda _: self._sync(), "value")
        self.controls["scheduler"].observe(lambda _: self._sync(), "value")
        self.controls["grouping"].observe(lambda _: self._sync(), "value")
        self.controls["dataset"].observe(lambda _: self._sync(), "value")
        self._sync()
        self.widget = W.VBox([*self.controls.values(), W.HBox([self.run_button, self.status])])

    # ------------------------------------------------------------ values
    def values(self) -> dict:
        """The panel's fields as `ExperimentConfig` keyword arguments."""
        v = {name: control.value for name, control in self.controls.items()}
        v["grouping"] = None if v["grouping"] == AUTO else v["grouping"]
        v["data_dir"] = v["data_dir"].strip() or None
        return v

    def set(self, **values) -> "ControlPanel":
        """Set controls from code, e.g. `panel.set(system="splitfed", num_clients=20)`."""
        for name, value in values.items():
            if name not in self.controls:
                raise ConfigError(name, value, "one of the panel's fields: " + ", ".join(self.controls))
            if name == "grouping" and value is None:
                value = AUTO
            if name == "data_dir" and value is None:
                value = ""
            self.controls[name].value = value
        return self

    def config(self) -> ExperimentConfig:
        """The base config with the panel's values; raises ConfigError if they do not fit."""
        values = self.values()
        base = self.base
        if base.gpu_speeds is not None and len(base.gpu_speeds) != values["num_gpus"]:
            base = base.replace(gpu_speeds=None)   # mixed speeds were for another GPU count
        if values["dataset"] != base.dataset and base.model is not None:
            base = base.replace(model=None)        # the base model was for another data set
        return base.replace(**values).validate()

    # ------------------------------------------------------------ behaviour
    def _sync(self) -> None:
        """Keep choices consistent: feature scheduling is Hourglass's, SFF/DFF need buckets."""
        c = self.controls
        hourglass = c["system"].value == "hourglass"
        if not hourglass:
            c["scheduler"].value = "fcfs"
            c["grouping"].value = AUTO
        elif c["scheduler"].value != "fcfs" and c["grouping"].value == "none":
            c["grouping"].value = AUTO
        c["scheduler"].disabled = not hourglass
        c["grouping"].disabled = not hourglass
        if c["system"].value == "sflv2":
            c["num_gpus"].value = 1
        c["num_gpus"].disabled = c["system"].value in ("sflv2", "fedavg")
        c["data_dir"].layout.display = None if c["dataset"].value == "cifar10" else "none"

    def _clicked(self) -> None:
        if self.on_run is not None:
            self.on_run(self)

    def show_status(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#333"
        self.status.value = f'<span style="color:{colour}">{_escape(text)}</span>'


def _wide() -> W.Layout:
    return W.Layout(width="420px")   # one Layout per control: hiding one must not hide all


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_control_panel(base_config: ExperimentConfig | None = None,
                       on_run: Callable[[ControlPanel], None] | None = None) -> ControlPanel:
    """A control panel over `base_config`; `on_run(panel)` is called when Run is clicked."""
    return ControlPanel(base_config, on_run)
