"""ipywidgets + plotly UI for the notebooks. Imports hourglass_core; never the reverse.

- `make_control_panel(base_config, on_run)` -> `ControlPanel` (controls.py)
- `LiveCharts()`: FigureWidgets fed by `run(..., on_round=charts.on_round)` (charts.py)
- `make_app(base_config, runner=hourglass_core.run)` -> `App`: both, wired (app.py)
- plots.py: static figures for the notebooks, `show(fig)` renders them offline
"""
from .app import App, make_app
from .charts import LiveCharts
from .controls import ControlPanel, make_control_panel

__all__ = ["App", "make_app", "LiveCharts", "ControlPanel", "make_control_panel"]
