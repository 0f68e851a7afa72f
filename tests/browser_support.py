"""Helpers for the browser tier (tests/test_browser.py): servers, Chromium, clean-up.

- `require_browser()` returns the Chromium path and Playwright's sync API, or skips
  (fails instead when HOURGLASS_REQUIRE_BROWSER=1, so CI cannot skip silently).
- `JupyterServer` / `VoilaServer` start a server on 127.0.0.1, a free port, in a
  process group of its own, with Jupyter's config, data and runtime folders, TMPDIR,
  IPython's folder and the lab settings all in a temporary folder, and proxies that
  lead nowhere; `stop()` shuts it down (REST shutdown, then the process group, then
  any kernel left) and checks that the port is free and no process of it is left.
- `launch_chromium(playwright)`: the system Chromium, headless, no network extras;
  `offline_context(browser, base_url)`: a context that refuses every request not to
  `base_url` and records it.
Nothing here downloads anything; Playwright's own browsers are never used.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
VENV_BIN = Path(sys.executable).parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
                 "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
                 "--disable-domain-reliability", "--no-pings"]
DEAD_PROXY = "http://127.0.0.1:9"   # the discard port: any request through it fails at once


# ------------------------------------------------------------------ prerequisites

def _skip_or_fail(reason: str):
    if os.environ.get("HOURGLASS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (HOURGLASS_REQUIRE_BROWSER=1: the browser tier must run here)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    path = os.environ.get("HOURGLASS_CHROMIUM", "/usr/bin/chromium")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        wanted = os.environ.get("HOURGLASS_CHROMIUM", "/usr/bin/chromium")
        _skip_or_fail(f"Chromium not found at {wanted} (Debian: apt-get install chromium; "
                      "or set HOURGLASS_CHROMIUM to a Chromium binary)")
    return path


def require_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("the playwright Python package is missing (.venv/bin/pip install playwright; "
                      "never `playwright install`: the system Chromium is used)")
    return sync_playwright


def require_module(name: str, hint: str):
    try:
        __import__(name)
    except ImportError:
        _skip_or_fail(f"{name} is missing ({hint})")


# ------------------------------------------------------------------ ports and processes

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens there and a server could bind it again (TIME_WAIT from the browser's
    closed connections does not count, as for any server that sets SO_REUSEADDR)."""
    if port_accepts(port):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid: int) -> list[int]:
    import psutil   # ipykernel depends on it
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def processes_mentioning(text: str) -> list[int]:
    """Our processes whose command line mentions `text` (e.g. the private runtime folder:
    every kernel we started carries its connection file from there)."""
    import psutil
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(text in part for part in (p.info["cmdline"] or ())):
                found.append(p.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return [pid for pid in found if pid != os.getpid()]


def alive(pid: int) -> bool:
    import psutil
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_pids(pids, sig=signal.SIGTERM) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ------------------------------------------------------------------ the servers

def isolated_env(home: Path) -> dict:
    """The environment of a server and its kernels: private Jupyter folders, one torch
    thread, proxies that lead nowhere (loopback excepted), the venv first on PATH."""
    dirs = {name: home / name for name in ("config", "data", "runtime", "ipython", "tmp", "workspaces")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update({
        "JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["config"] / "lab" / "user-settings"),
        "JUPYTER_PLATFORM_DIRS": "1", "IPYTHONDIR": str(dirs["ipython"]), "TMPDIR": str(dirs["tmp"]),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PIP_NO_INDEX": "1", "HF_HUB_OFFLINE": "1",
    })
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env[name] = DEAD_PROXY
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def lab_settings(env: dict) -> None:
    """JupyterLab user settings for the test: no news, no update check, no toasts, and
    every cell attached to the DOM (windowing off), so queries see the whole notebook."""
    root = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab"
    files = {
        "apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
        "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }
    for name, value in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(value))


def copy_notebooks(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for nb in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy2(nb, target / nb.name)
    return target


class _Server:
    """A server process in its own session; `stop()` is safe to call more than once."""
    name = "server"

    def __init__(self, home: Path, log_path: Path):
        self.home, self.log_path = home, log_path
        self.env = isolated_env(home)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._known: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, ready_timeout: float = 180) -> "_Server":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), env=self.env, cwd=str(self.home), stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.stop(check=False)
                raise RuntimeError(f"{self.name} exited with {code}:\n{self.log_tail()}")
            if self.ready():
                return self
            time.sleep(0.5)
        self.stop(check=False)
        raise TimeoutError(f"{self.name} not ready after {ready_timeout:.0f} s:\n{self.log_tail()}")

    def ready(self) -> bool:
        return port_accepts(self.port)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def remember_children(self) -> None:
        if self.proc is not None:
            self._known.update(descendants(self.proc.pid))

    def request_shutdown(self) -> bool:
        """Ask the server to shut down; False when it has no such request (then SIGTERM)."""
        return False

    def stop(self, check: bool = True) -> None:
        """Shut down, pass or fail: REST shutdown, then SIGTERM/SIGKILL to the process
        group, then any kernel (own session) left; then check port and processes."""
        if self.proc is None:
            return
        proc = self.proc
        self.remember_children()
        if proc.poll() is None:
            try:
                asked = self.request_shutdown()
            except Exception:
                asked = False
            if asked:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):   # Voila: SIGTERM shuts its kernels
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
        try:   # anything else left in the group (the leader is gone)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        leftovers = {pid for pid in self._known | set(processes_mentioning(str(self.home))) if alive(pid)}
        kill_pids(leftovers, signal.SIGTERM)
        wait_until(lambda: not any(alive(p) for p in leftovers), 5)
        kill_pids([p for p in leftovers if alive(p)], signal.SIGKILL)
        if self._log:
            self._log.close()
        self.proc = None
        if check:
            assert wait_until(lambda: port_is_free(self.port), 10), f"port {self.port} still taken after stop"
            left = [p for p in self._known | set(processes_mentioning(str(self.home))) if alive(p)]
            assert not left, f"processes left after stopping {self.name}: {left}"


class JupyterServer(_Server):
    """JupyterLab over a folder of notebooks, reached as `{url}/lab/tree/<nb>?token=...`."""
    name = "JupyterLab"

    def __init__(self, home: Path, root_dir: Path, log_path: Path):
        super().__init__(home, log_path)
        self.root_dir = root_dir
        lab_settings(self.env)

    def labextensions(self) -> str:
        """`jupyter labextension list` as this server sees it (private folders, the venv's share/jupyter)."""
        done = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=self.env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        return done.stdout + done.stderr

    def command(self) -> list[str]:
        return [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.open_browser=False",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
                "--ServerApp.shutdown_no_activity_timeout=1800",   # a forgotten server ends by itself
                "--MappingKernelManager.cull_idle_timeout=1800",
                "--LabApp.extension_manager=readonly",            # no PyPI listing
                *(["--allow-root"] if os.geteuid() == 0 else [])]

    def api(self, method: str, path: str, timeout: float = 10):
        request = urllib.request.Request(f"{self.url}{path}", method=method, data=b"" if method == "POST" else None,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def ready(self) -> bool:
        try:
            return self.api("GET", "/api/status", timeout=3) is not None
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def kernels(self) -> list[dict]:
        return self.api("GET", "/api/kernels")

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel (between tests), and wait until they are gone."""
        self.remember_children()
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.kernels():
            self.api("DELETE", f"/api/kernels/{kernel['id']}")
        wait_until(lambda: not self.kernels(), 20)

    def request_shutdown(self) -> bool:
        self.api("POST", "/api/shutdown")
        return True

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"


class VoilaServer(_Server):
    """Voila serving one notebook as an app at `{url}/`."""
    name = "Voila"

    def __init__(self, home: Path, notebook: Path, log_path: Path):
        super().__init__(home, log_path)
        self.notebook = notebook

    def command(self) -> list[str]:
        return [str(VENV_BIN / "voila"), str(self.notebook), "--no-browser", f"--port={self.port}",
                "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", f"--token={self.token}",
                "--show_tracebacks=True"]

    @property
    def app_url(self) -> str:
        return f"{self.url}/?token={self.token}"


# ------------------------------------------------------------------ Chromium

def launch_chromium(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                                      timeout=60_000)


def offline_context(browser, base_url: str, **kwargs):
    """A browser context that aborts every request outside `base_url`; the refused URLs
    are in `context.refused`."""
    context = browser.new_context(**kwargs)
    refused: list[str] = []

    def refuse(route):
        refused.append(route.request.url)
        route.abort()

    local = (base_url, base_url.replace("http", "ws", 1), "data:", "blob:", "about:")
    context.route(lambda url: not url.startswith(local), refuse)
    context.refused = refused
    return context


def artifacts_dir() -> Path:
    path = Path(os.environ.get("BROWSER_ARTIFACTS") or REPO / "test-artifacts" / "browser")
    path.mkdir(parents=True, exist_ok=True)
    return path
