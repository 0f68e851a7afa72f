"""The notebooks: committed clean (fast checks), and executed headless with papermill.

The papermill tests (marker `notebooks`) run every notebook with `quick=True`,
`interactive=False` (no widgets, no figures shown), run folders in a temporary
directory, and check the small JSON of results each notebook writes.
Run them with `pytest -m notebooks`.
"""
import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ["00_quickstart", "01_split_learning", "02_shared_server_model", "03_feature_scheduling",
            "04_lsh_vs_kmeans", "05_experiments"]
CHANCE = 0.1  # ten digit classes


def notebook_paths():
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def load(path):
    return json.loads(path.read_text())


# ---------------------------------------------------------------- hygiene (fast, not marked)

def test_every_lesson_has_its_notebook():
    assert [p.stem for p in notebook_paths()] == EXPECTED


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"], "widget state saved in the notebook's metadata"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    for name in ("quick: bool", "interactive: bool", "results_path: str"):
        assert name in source, f"parameter {name!r} missing"
    for cell in nb["cells"]:
        assert "widgets" not in cell.get("metadata", {})
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], "a code cell has outputs"
            assert cell.get("execution_count") is None, "a code cell has an execution count"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_headless_mode_builds_no_widgets(path):
    """Widgets and shown figures only happen under `if interactive:`."""
    for cell in load(path)["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code":
            continue
        for call in ("make_app(", "display(", "show("):
            for line in source.splitlines():
                if call in line and not line.lstrip().startswith(("def ", "#", "from ", "import ")):
                    assert "if interactive:" in source, f"{call} outside 'if interactive:' in {path.stem}"


# ---------------------------------------------------------------- papermill (slow: marked)

def execute(name, tmp_path, **parameters):
    papermill = pytest.importorskip("papermill")
    results = tmp_path / f"{name}.json"
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)   # the kernel inherits it: one torch thread, as in conftest
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"), str(tmp_path / f"{name}.out.ipynb"),
            parameters={"quick": True, "interactive": False, "results_path": str(results),
                        "log_dir": str(tmp_path / "runs"), **parameters},
            kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert any((tmp_path / "runs").iterdir()), "no run folder under the given log_dir"
    return json.loads(results.read_text())


@pytest.mark.notebooks
def test_00_quickstart(tmp_path):
    r = execute("00_quickstart", tmp_path)
    assert r["hourglass_final_accuracy"] > CHANCE + 0.15
    assert r["splitfed_server_bytes"] == r["num_clients"] // r["num_gpus"] * r["hourglass_server_bytes"]
    assert 0 < r["target_accuracy"] <= 1
    assert r["hourglass_time_to_target_s"] is not None and r["hourglass_time_to_target_s"] > 0


@pytest.mark.notebooks
def test_01_split_learning(tmp_path):
    r = execute("01_split_learning", tmp_path)
    assert r["feature_shape"] == [32, 16, 8, 8]
    assert r["upload_bytes_per_batch"] == 32 * (16 * 8 * 8 * 4 + 8)
    assert r["grad_shape_matches"] is True
    assert r["manual_grad_max_diff"] < 1e-5
    assert r["engine_max_diff"] < 1e-4           # split training equals centralised training
    assert r["one_client_accuracy"] > CHANCE + 0.2
    assert set(r["per_cut"]) == {"conv1", "conv2"}
    assert r["split_round_bytes"] > r["fedavg_round_bytes"] > 0  # a tiny model: features outweigh it


@pytest.mark.notebooks
def test_02_shared_server_model(tmp_path):
    r = execute("02_shared_server_model", tmp_path)
    counts, memory = r["client_counts"], r["memory_bytes"]
    assert len(set(memory["hourglass"])) == 1                                      # O(M)
    assert all(sf > hg for sf, hg in zip(memory["splitfed"], memory["hourglass"]))
    per_client = memory["splitfed"][0] / counts[0]
    assert memory["splitfed"] == pytest.approx([per_client * n for n in counts])  # O(N)
    runs = r["runs"]
    swapping = runs["SplitFed-V1, 2 per GPU"]
    assert swapping["swaps"] > 0 and 0.1 < swapping["swap_share_of_gpu_time"] < 1
    assert 0 < swapping["swap_share_of_time"] < swapping["swap_share_of_gpu_time"]
    assert runs["SplitFed-V1, unlimited GPU memory"]["swaps"] == 0
    hourglass = runs["Hourglass, M=1"]
    assert hourglass["swaps"] == 0 and hourglass["server_bytes"] < swapping["server_bytes"]
    assert swapping["sim_time_s"] > runs["SplitFed-V1, unlimited GPU memory"]["sim_time_s"]
    assert all(run["final_accuracy"] > CHANCE for run in runs.values())


@pytest.mark.notebooks
def test_03_feature_scheduling(tmp_path):
    r = execute("03_feature_scheduling", tmp_path)
    s = r["schedulers"]
    assert set(s) == {"FCFS", "SFF", "DFF"}
    assert all(v["final_accuracy"] > CHANCE + 0.1 for v in s.values())
    assert s["FCFS"]["gpu_purity"] is None                      # FCFS groups nothing
    assert s["SFF"]["gpu_purity"] > s["DFF"]["gpu_purity"]      # SFF concentrates, DFF mixes
    assert len({v["batches_served"] for v in s.values()}) == 1  # same batches, another order
    assert all(0.1 < v["mean_busy_share"] <= 1 for v in s.values())  # the slow GPU is really used
    assert r["descriptor_points"] > 20


@pytest.mark.notebooks
def test_04_lsh_vs_kmeans(tmp_path):
    r = execute("04_lsh_vs_kmeans", tmp_path)
    q = r["bucket_quality"]
    assert q["k-means"]["groups"] <= 4 and q["LSH"]["groups"] >= 2
    assert all(0 < v["tightness"] < 1.2 for v in q.values())
    o = r["overhead"]
    for share in ("0%", "30%"):
        kmeans, lsh = o[f"kmeans, stragglers {share}"], o[f"lsh, stragglers {share}"]
        assert kmeans["sim_time_s"] > lsh["sim_time_s"]          # waiting for the whole iteration
        assert kmeans["cluster_wait_s"] > 100 * lsh["cluster_wait_s"]
    assert o["kmeans, stragglers 30%"]["cluster_wait_s"] > o["kmeans, stragglers 0%"]["cluster_wait_s"]
    p = r["placement"]
    assert p["capacity"]["sim_time_s"] <= p["random"]["sim_time_s"]
    assert p["capacity"]["busy_share"][0] > p["capacity"]["busy_share"][-1]  # the fast GPU works most
    assert all(v["final_accuracy"] > CHANCE for v in o.values())


@pytest.mark.notebooks
def test_05_experiments(tmp_path):
    r = execute("05_experiments", tmp_path)
    assert r["dataset"] == "digits"
    systems = r["systems"]
    assert {"hourglass-dff-M2", "splitfed-M2", "sflv2-M1", "fedavg-M1"} <= set(systems)
    assert systems["splitfed-M2"]["server_state_bytes"] > systems["hourglass-dff-M2"]["server_state_bytes"]
    assert systems["splitfed-M2"]["swap_share"] > 0 == systems["hourglass-dff-M2"]["swap_share"]
    assert systems["sflv2-M1"]["sim_time_s"] > systems["hourglass-dff-M2"]["sim_time_s"]  # one at a time
    assert systems["hourglass-dff-M2"]["final_accuracy"] > CHANCE + 0.15
    assert systems["hourglass-dff-M2"]["time_to_target_s"] is not None
    sweep = r["gpu_sweep"]
    assert list(sweep) == ["1", "2", "4"]
    assert sweep["1"]["sim_time_s"] >= sweep["4"]["sim_time_s"]   # more GPUs: less queueing
    assert all(v["final_accuracy"] > CHANCE for v in sweep.values())
    for accuracies in r["non_iid_sweep"].values():
        assert all(a > CHANCE + 0.2 for a in accuracies.values())


@pytest.mark.notebooks
def test_00_quickstart_interactive_shows_figures_and_the_panel(tmp_path):
    """The interactive path too: figures render offline and the control panel is displayed."""
    execute("00_quickstart", tmp_path, interactive=True)
    nb = load(tmp_path / "00_quickstart.out.ipynb")
    kinds = [kind for cell in nb["cells"] for out in cell.get("outputs", []) for kind in out.get("data", {})]
    assert "application/vnd.plotly.v1+json" in kinds
    assert "application/vnd.jupyter.widget-view+json" in kinds
    assert not any(out.get("output_type") == "error" for cell in nb["cells"] for out in cell.get("outputs", []))
    html = [out["data"]["text/html"] for cell in nb["cells"] for out in cell.get("outputs", [])
            if "text/html" in out.get("data", {})]
    assert not any(re.search(r"src=[\"']https?://", "".join(h)) for h in html), "scripts must not load from a CDN"
    assert any("plotly" in "".join(h) and len("".join(h)) > 1_000_000 for h in html)  # plotly.js embedded
