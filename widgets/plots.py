"""Static plotly figures for the notebooks, and `show` to render them offline.

Each builder returns a plain `go.Figure` (so headless runs can build and check it
without displaying anything); `show(fig)` renders it offline (no CDN): the
plotly mime type for JupyterLab, HTML over an embedded plotly.js for other front ends.
"""
from __future__ import annotations

from collections import Counter

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.offline import get_plotlyjs

PALETTE = qualitative.Plotly
_plotlyjs_sent = False


def show(fig: go.Figure) -> None:
    """Display `fig` offline, with nothing fetched from a CDN: JupyterLab (and Notebook 7,
    VS Code) draw the plotly mime type through the extension that ships with plotly; other
    front ends get HTML that uses a copy of plotly.js embedded once per kernel session
    (plotly's own "notebook" renderer would also link MathJax from a CDN)."""
    global _plotlyjs_sent
    from IPython.display import display

    if not _plotlyjs_sent:
        display({"text/html": f"<script type='text/javascript'>{get_plotlyjs()}</script>"}, raw=True)
        _plotlyjs_sent = True
    bundle = pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict())
    bundle["text/html"] = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False)
    display(bundle, raw=True)


def _layout(fig: go.Figure, title: str, xaxis: str, yaxis: str, **more) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=xaxis, yaxis_title=yaxis, height=380,
                      margin=dict(l=60, r=20, t=50, b=50), **more)
    return fig


def accuracy_figure(runs: dict[str, list[dict]], x: str = "sim_time_s", title: str | None = None) -> go.Figure:
    """Test accuracy of several runs (label -> round records) against `x`
    ("sim_time_s", "round" or "wall_time_s")."""
    names = {"sim_time_s": "simulated time (s)", "round": "round", "wall_time_s": "wall time (s)"}
    fig = go.Figure()
    for i, (label, records) in enumerate(runs.items()):
        fig.add_scatter(x=[r[x] for r in records], y=[r["test_accuracy"] for r in records],
                        mode="lines+markers", name=label, line=dict(color=PALETTE[i % len(PALETTE)]))
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, title or f"Test accuracy against {names.get(x, x)}", names.get(x, x), "test accuracy")


def bar_figure(labels: list[str], values: list[float], title: str, yaxis: str, text: list[str] | None = None
               ) -> go.Figure:
    fig = go.Figure(go.Bar(x=labels, y=values, text=text, marker_color=PALETTE[0]))
    return _layout(fig, title, "", yaxis)


def line_figure(series: dict[str, tuple[list, list]], title: str, xaxis: str, yaxis: str,
                log_y: bool = False) -> go.Figure:
    """Several named (x, y) series."""
    fig = go.Figure()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        fig.add_scatter(x=list(xs), y=list(ys), mode="lines+markers", name=name,
                        line=dict(color=PALETTE[i % len(PALETTE)]))
    if log_y:
        fig.update_yaxes(type="log")
    return _layout(fig, title, xaxis, yaxis)


def gpu_timeline(events: list[dict], title: str = "Which GPU served which batch", colour_by: str = "bucket"
                 ) -> go.Figure:
    """A Gantt chart of served batches (events.jsonl lines): one row per GPU, one bar
    per batch from start_s to end_s, coloured by `colour_by` ("bucket" or "client")."""
    groups: dict[str, list[dict]] = {}
    for e in events:
        groups.setdefault(str(e.get(colour_by)), []).append(e)
    fig = go.Figure()
    for i, (key, items) in enumerate(sorted(groups.items())):
        fig.add_bar(base=[e["start_s"] for e in items], x=[e["end_s"] - e["start_s"] for e in items],
                    y=[f"GPU {e['gpu']}" for e in items], orientation="h", name=f"{colour_by} {key}",
                    marker_color=PALETTE[i % len(PALETTE)],
                    customdata=[[e["client"], e["iteration"], e["arrive_s"]] for e in items],
                    hovertemplate="client %{customdata[0]}, batch %{customdata[1]}<br>arrived %{customdata[2]:.4f}s"
                                  "<br>served %{base:.4f}s + %{x:.5f}s")
    fig.update_layout(barmode="overlay", showlegend=len(groups) <= 20)
    return _layout(fig, title, "simulated time (s)", "")


def gpu_bucket_heatmap(events: list[dict], title: str) -> go.Figure:
    """Batches served per (GPU, bucket): a concentrated row means one GPU got one kind
    of feature (SFF); a flat row means a mix (DFF)."""
    counts = Counter((e["gpu"], str(e["bucket"])) for e in events)
    gpus = sorted({g for g, _ in counts})
    buckets = [b for b, _ in Counter(str(e["bucket"]) for e in events).most_common()]
    z = [[counts.get((g, b), 0) for b in buckets] for g in gpus]
    fig = go.Figure(go.Heatmap(z=z, x=buckets, y=[f"GPU {g}" for g in gpus], colorscale="Blues"))
    return _layout(fig, title, "bucket (most common first)", "")


def scatter_2d(points, colours: list, title: str, hover: list[str] | None = None, legend: str = "") -> go.Figure:
    """A 2-D scatter, one trace per colour value (e.g. PCA of descriptors by bucket)."""
    fig = go.Figure()
    for i, key in enumerate(sorted(set(map(str, colours)), key=lambda k: (len(k), k))):
        idx = [j for j, c in enumerate(colours) if str(c) == key]
        fig.add_scatter(x=[float(points[j][0]) for j in idx], y=[float(points[j][1]) for j in idx],
                        mode="markers", name=f"{legend} {key}".strip(),
                        marker=dict(color=PALETTE[i % len(PALETTE)], size=8),
                        text=None if hover is None else [hover[j] for j in idx])
    return _layout(fig, title, "PC 1", "PC 2")
