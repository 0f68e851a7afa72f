"""The browser tier: the notebooks as a student sees them, in JupyterLab and Voila.

JupyterLab (one server for the module, private Jupyter folders, 127.0.0.1, a free port,
a fresh token) is driven in the system Chromium through Playwright's Python package:

- 00_quickstart: Run All, then the control panel: DFF, 20 clients, 2 GPUs, 6 rounds,
  Run; the accuracy chart must gain its points one round after another while the run
  trains, and the summary table must show the run.
- 03_feature_scheduling: Run All; every chart renders and no cell shows an error.

Voila serves 00_quickstart as a standalone app: the page must carry the control panel
(over plain HTTP), and in Chromium its Run button must train and draw.

Every request the browser makes outside the local server is refused and must not
happen (the kit works offline). Screenshots and server logs go to
$BROWSER_ARTIFACTS or test-artifacts/browser/. Without Chromium, Playwright, JupyterLab
or Voila the tests skip with the reason; HOURGLASS_REQUIRE_BROWSER=1 makes that a failure.
Run with `pytest -m browser`.
"""
from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from contextlib import contextmanager

import pytest

from browser_support import (JupyterServer, VoilaServer, artifacts_dir, copy_notebooks, launch_chromium,
                             offline_context, require_chromium, require_module, require_playwright)

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1400, "height": 1600}
PANEL_RUN = dict(scheduler="DFF (dissimilar first)", clients=20, gpus=2, rounds=6)
RUN_BUTTON = 'button.widget-button[title="Run"]'
LAB_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "jupyterlab-plotly", "anywidget")
VOILA_TEMPLATE_CDN = re.compile(r"https://cdn\.jsdelivr\.net/npm/@fortawesome/fontawesome-free@[^/]+/css/[\w.-]+\.css$")
ERROR_PATTERN = re.compile(r"Traceback|\b\w+Error\b|\bException\b")


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def chromium():
    executable = require_chromium()
    sync_playwright = require_playwright()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_module("jupyterlab", "pip install -e '.[dev]'")
    tmp = tmp_path_factory.mktemp("lab")
    server = JupyterServer(tmp / "home", copy_notebooks(tmp / "notebooks"), tmp / "jupyterlab.log")
    listing = server.labextensions()
    for extension in LAB_EXTENSIONS:   # the private config/data folders must not hide the venv's
        assert re.search(rf"{re.escape(extension)} v\S+ .*enabled.*OK", listing), f"{extension} missing:\n{listing}"
    try:
        server.start(ready_timeout=180)
        yield server
    finally:
        try:
            server.stop(check=True)     # REST shutdown, process group, kernels; port free, nothing left
        finally:
            shutil.copy2(server.log_path, artifacts_dir() / "jupyterlab.log")


@pytest.fixture
def lab_page(chromium, lab):
    context = offline_context(chromium, lab.url, viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
        assert context.refused == [], f"the page tried to reach beyond the local server: {context.refused}"
    finally:
        context.close()
        lab.shutdown_kernels()          # the next test starts with no kernel running


@contextmanager
def screenshot_on_failure(page, name):
    try:
        yield
    except BaseException:
        try:
            page.screenshot(path=str(artifacts_dir() / f"{name}-failure.png"))
        except Exception:
            pass
        raise


# ------------------------------------------------------------------ JupyterLab helpers

def open_notebook(page, lab, name):
    page.goto(lab.notebook_url(name), timeout=120_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell", timeout=120_000)
    # The toolbar indicator says "idle" before a kernel exists: wait for the status bar and the REST API too.
    page.wait_for_selector(".jp-StatusBar-Widget:has-text('| Idle')", timeout=120_000)
    deadline = time.monotonic() + 60
    while not any(k["execution_state"] == "idle" for k in lab.kernels()):
        assert time.monotonic() < deadline, "the notebook's kernel did not start"
        time.sleep(0.5)


def run_all_cells(page, timeout_s=240):
    """Run > Run All Cells, then wait until every code cell has an execution count."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
        }""", timeout=timeout_s * 1000, polling=500)


def error_outputs(page) -> list[str]:
    """Text of stderr/error outputs that look like errors (tracebacks, ...Error)."""
    texts = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    return [t for t in texts if ERROR_PATTERN.search(t)]


def control(scope, label):
    """The ipywidgets control whose label is exactly `label`."""
    return scope.locator(".widget-inline-hbox").filter(
        has=scope.page.locator("label.widget-label", has_text=re.compile(rf"^{re.escape(label)}$")))


def choose(select, text):
    """Pick a <select> option by its visible text (ipywidgets writes spaces as &nbsp;)."""
    index = select.evaluate("(s, text) => [...s.options].findIndex(o => o.textContent.replace(/\\u00a0/g, ' ')"
                            " === text)", text)
    assert index >= 0, f"no option {text!r}"
    select.select_option(index=index)


def set_slider(scope, label, value):
    readout = control(scope, label).locator(".widget-readout")
    readout.click()
    readout.press("Control+A")
    readout.type(str(value))
    readout.press("Enter")
    page = scope.page
    page.wait_for_function("([el, v]) => el.textContent.trim() === v", arg=[readout.element_handle(), str(value)],
                           timeout=10_000)


CHART_POINTS_JS = """(title) => {
    const plot = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => [...p.querySelectorAll('.gtitle')].some(t => t.textContent === title));
    return plot ? plot.querySelectorAll('.scatterlayer .trace .points path.point').length : -1;
}"""

GPU_BARS_JS = """() => {
    const plot = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => [...p.querySelectorAll('.gtitle')].some(t => t.textContent.startsWith('GPU busy share')));
    return plot ? plot.querySelectorAll('.barlayer .point').length : -1;
}"""

# Records every change of the chart's point count, with the panel's status line at that moment:
# a MutationObserver sees each DOM update, however fast the rounds come.
WATCH_CHART_JS = """([title, statusEl]) => {
    const plot = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => [...p.querySelectorAll('.gtitle')].some(t => t.textContent === title));
    const count = () => plot.querySelectorAll('.scatterlayer .trace .points path.point').length;
    window.__hgSamples = [{points: count(), status: statusEl.textContent, t: performance.now()}];
    window.__hgObserver = new MutationObserver(() => {
        const last = window.__hgSamples[window.__hgSamples.length - 1];
        const points = count();
        if (points !== last.points)
            window.__hgSamples.push({points, status: statusEl.textContent, t: performance.now()});
    });
    window.__hgObserver.observe(plot, {subtree: true, childList: true, attributes: true});
}"""


# The app's live charts: the plotly figures inside the box that also holds the Run button.
APP_CHARTS_JS = """(button) => {
    let box = button;
    while (box && !box.querySelector('.js-plotly-plot')) box = box.parentElement;
    return [...box.querySelectorAll('.js-plotly-plot')].map(p => ({
        title: [...p.querySelectorAll('.gtitle')].map(t => t.textContent).join(''),
        points: p.querySelectorAll('.scatterlayer .trace .points path.point').length,
        bars: p.querySelectorAll('.barlayer .point').length,
        ready: !!(p._fullLayout && p.querySelector('.main-svg'))}));
}"""


def wait_for_app_charts(page, run_button):
    """Wait until the app's three live charts have drawn their first frame. Clicking Run earlier
    can lose a chart's first trace: plotly's FigureWidget view drops traces added before its
    first render finishes (seen in Voila, where the views appear after the page)."""
    page.wait_for_function(
        f"b => {{ const c = ({APP_CHARTS_JS})(b); return c.length === 3 && c.every(x => x.ready); }}",
        arg=run_button.element_handle(), timeout=60_000, polling=200)


# ------------------------------------------------------------------ the tests

def test_quickstart_control_panel_runs_dff_with_live_charts(lab_page, lab):
    page, out = lab_page, artifacts_dir()
    with screenshot_on_failure(page, "00_quickstart"):
        open_notebook(page, lab, "00_quickstart.ipynb")
        run_all_cells(page)
        assert error_outputs(page) == []

        run_button = page.locator(f".jp-OutputArea-output {RUN_BUTTON}")
        assert run_button.count() == 1, "the control panel's Run button is not shown"
        panel = page.locator(".jp-OutputArea-output").filter(has=page.locator(RUN_BUTTON))
        choose(control(panel, "system").locator("select"), "Hourglass (shared server model)")
        choose(control(panel, "scheduler").locator("select"), PANEL_RUN["scheduler"])
        set_slider(panel, "clients (N)", PANEL_RUN["clients"])
        set_slider(panel, "GPUs (M)", PANEL_RUN["gpus"])
        set_slider(panel, "rounds", PANEL_RUN["rounds"])
        control(panel, "system").evaluate("e => e.scrollIntoView({block: 'start'})")   # panel + charts in view
        wait_for_app_charts(page, run_button)
        assert page.evaluate(CHART_POINTS_JS, "Test accuracy by round") == 0
        page.screenshot(path=str(out / "00_quickstart-before.png"))

        status = run_button.locator("xpath=following-sibling::*[1]")      # the panel's status line (HTML)
        page.evaluate(WATCH_CHART_JS, ["Test accuracy by round", status.element_handle()])
        started = time.monotonic()
        run_button.click()
        page.wait_for_function("el => /done, final accuracy/.test(el.textContent)", arg=status.element_handle(),
                               timeout=120_000, polling=200)
        run_seconds = time.monotonic() - started
        page.wait_for_function(f"() => ({CHART_POINTS_JS})('Test accuracy by round') === {PANEL_RUN['rounds']}"
                               f" && ({GPU_BARS_JS})() === {PANEL_RUN['gpus']}", timeout=10_000)
        samples = page.evaluate("() => { window.__hgObserver.disconnect(); return window.__hgSamples; }")
        control(panel, "system").evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(out / "00_quickstart-after.png"))
        (out / "00_quickstart-chart-samples.json").write_text(json.dumps(samples, indent=1))

    counts = [s["points"] for s in samples]
    rounds = PANEL_RUN["rounds"]
    assert counts[0] == 0 and counts[-1] == rounds, samples
    assert counts == sorted(counts), f"the chart lost points: {counts}"
    during = [s for s in samples if 0 < s["points"] < rounds]
    assert during, f"the chart only changed once, at the end ({counts}): not live"
    assert any("round" in s["status"] and "done" not in s["status"] for s in during), \
        f"no point appeared while the status said a round was running: {samples}"
    assert run_seconds < 120, f"the panel's run took {run_seconds:.0f} s"

    status_text = status.inner_text()
    assert "hourglass-dff-M2 N=20" in status_text, status_text
    summary = page.locator(".jp-OutputArea .widget-html table").filter(has_text="hourglass-dff-M2 N=20")
    assert summary.count() == 1, "no result summary for the run"
    cells = summary.locator("tr").nth(1).locator("td").all_inner_texts()
    assert cells[0].startswith("1: hourglass-dff-M2 N=20") and cells[1] == str(rounds), cells
    assert re.fullmatch(r"\d+\.\d%", cells[2]), f"final accuracy cell: {cells}"
    bars = page.evaluate(GPU_BARS_JS)
    assert bars == PANEL_RUN["gpus"], f"{bars} GPU bars for {PANEL_RUN['gpus']} GPUs"
    assert error_outputs(page) == []


def test_feature_scheduling_charts_render_without_errors(lab_page, lab):
    page = lab_page
    with screenshot_on_failure(page, "03_feature_scheduling"):
        open_notebook(page, lab, "03_feature_scheduling.ipynb")
        run_all_cells(page)
        # JupyterLab's plotly renderer (jupyterlab-plotly) draws each figure into its output element.
        page.wait_for_function("() => [...document.querySelectorAll('.jp-RenderedPlotly')]"
                               ".filter(p => p.querySelector('.main-svg')).length >= 7", timeout=30_000)
        heatmap = page.locator(".jp-RenderedPlotly").filter(
            has=page.locator(".gtitle", has_text="DFF: batches per GPU and bucket"))
        heatmap.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir() / "03_feature_scheduling.png"))
    titles = page.evaluate("() => [...document.querySelectorAll('.jp-RenderedPlotly .gtitle')].map(t => t.textContent)")
    for expected in ("Descriptors by LSH bucket (PCA)", "The same descriptors by majority class",
                     "SFF: batches per GPU and bucket", "DFF: batches per GPU and bucket",
                     "DFF, round 1: which GPU served which batch"):
        assert expected in titles, f"chart {expected!r} not rendered; rendered: {titles}"
    assert sum(t.startswith("Test accuracy") for t in titles) == 2, titles
    drawn = page.evaluate("""() => [...document.querySelectorAll('.jp-RenderedPlotly')].map(p =>
        p.querySelectorAll('.scatterlayer .point, .barlayer .point, .heatmaplayer image').length)""")
    assert all(n > 0 for n in drawn), f"a chart has nothing drawn: {drawn}"
    assert error_outputs(page) == []
    assert page.locator(".jp-OutputArea-output", has_text="DFF: accuracy").count() == 1


# ------------------------------------------------------------------ Voila: the notebook as an app

@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    require_module("voila", "pip install voila")
    tmp = tmp_path_factory.mktemp("voila")
    notebooks = copy_notebooks(tmp / "notebooks")
    server = VoilaServer(tmp / "home", notebooks / "00_quickstart.ipynb", tmp / "voila.log")
    try:
        server.start(ready_timeout=120)
        yield server
    finally:
        try:
            server.stop(check=True)
        finally:
            shutil.copy2(server.log_path, artifacts_dir() / "voila.log")


def test_voila_serves_quickstart_with_its_panel(voila):
    """Plain HTTP: Voila runs the whole notebook and streams the page (no browser needed)."""
    with urllib.request.urlopen(voila.app_url, timeout=240) as response:
        assert response.status == 200
        html = response.read().decode()
    assert "application/vnd.jupyter.widget-view+json" in html        # the control panel's view
    assert "Your turn: the control panel" in html                    # markdown rendered
    assert "Traceback" not in html and "There was an error when executing cell" not in html
    assert not re.search(r"<script[^>]+src=[\"']https?://", html), "a script loads from the network"


def test_voila_panel_trains_in_chromium(chromium, voila):
    """The classroom screen: Voila's page in Chromium; the panel's Run trains and the charts draw."""
    context = offline_context(chromium, voila.url, viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        with screenshot_on_failure(page, "voila"):
            page.goto(voila.app_url, timeout=240_000)
            run_button = page.locator(RUN_BUTTON)
            run_button.wait_for(state="visible", timeout=240_000)
            set_slider(page.locator("body"), "rounds", 3)
            wait_for_app_charts(page, run_button)
            status = run_button.locator("xpath=following-sibling::*[1]")
            run_button.click()
            page.wait_for_function("el => /done, final accuracy/.test(el.textContent)",
                                   arg=status.element_handle(), timeout=120_000, polling=200)
            page.wait_for_function(f"b => {{ const c = ({APP_CHARTS_JS})(b); "
                                   f"return c[0].points === 3 && c[1].points === 3 && c[2].bars === 2; }}",
                                   arg=run_button.element_handle(), timeout=10_000)
            control(page.locator("body"), "system").evaluate("e => e.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(artifacts_dir() / "voila-00_quickstart.png"))
            charts = page.evaluate(APP_CHARTS_JS, run_button.element_handle())
        assert [(c["points"], c["bars"]) for c in charts] == [(3, 0), (3, 0), (0, 2)], charts
        assert "Traceback" not in page.locator("body").inner_text()
        # Voila's own lab template links Font Awesome from jsdelivr (its bundle carries the same
        # icons, so refusing these changes nothing); anything else from the network is ours: a bug.
        ours = [url for url in context.refused if not VOILA_TEMPLATE_CDN.match(url)]
        assert ours == [], f"the app tried to reach beyond the local server: {ours}"
        # Views built after the notebook ran (Voila) keep the charts' titles (layout set at construction)
        assert all(c["title"] for c in charts), charts
    finally:
        context.close()
