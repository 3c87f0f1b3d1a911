"""A JupyterLab server for the browser test: started from this environment, stopped for sure.

The server runs on a free localhost port with a random token, on a COPY of the notebooks (so
nothing the test does can touch the committed files), with its own config, data, settings and
workspace folders (so neither the user's Jupyter setup nor the test's leftovers leak in or out).
Every process it starts (the server, its kernels) carries a marker in its environment; `stop()`
asks the server to shut down, kills what is left, and reports any process still carrying the
marker, so that a failed test never leaves a kernel behind.
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
import urllib.parse
import urllib.request
from pathlib import Path

MARKER = "SCRATCHLIB_BROWSER_TEST_RUN"

# What a student's JupyterLab should look like, minus what makes a test flaky:
# every cell attached to the page (no virtual scrolling hiding outputs from the DOM),
# no autosave (belt and braces: we work on a copy anyway), no news or update pop-ups.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with_marker(value: str) -> list[int]:
    """Pids of the live processes whose environment holds MARKER=value."""
    needle = f"{MARKER}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone, or not ours to read
            continue
        if state != "Z" and needle in env.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_marked(value: str, grace: float = 10.0, patience: float = 15.0) -> list[int]:
    """Give the processes whose environment holds MARKER=value `grace` seconds to end by
    themselves, then kill those left; return the pids that had to be killed."""
    deadline = time.monotonic() + grace
    while processes_with_marker(value) and time.monotonic() < deadline:
        time.sleep(0.25)
    killed: list[int] = []
    deadline = time.monotonic() + patience
    while (pids := processes_with_marker(value)) and time.monotonic() < deadline:
        for pid in pids:
            if pid not in killed:
                killed.append(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    return killed


class LabServer:
    """`jupyter lab` on a copy of `notebook_dir`, under `workdir`; use as a context manager."""

    def __init__(self, notebook_dir: Path, workdir: Path, startup_timeout: float = 180.0):
        self.workdir = Path(workdir)
        self.root = self.workdir / "notebooks"
        shutil.copytree(notebook_dir, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.token = secrets.token_hex(24)
        self.run_id = secrets.token_hex(8)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = self.workdir / "jupyterlab.log"

    # -- starting -------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # A student's kernel picks matplotlib's inline backend itself; an MPLBACKEND inherited
        # from the shell (Agg, say) would silently turn every plot off.
        env.pop("MPLBACKEND", None)
        env.pop("JUPYTER_TOKEN", None)
        settings = self.workdir / "lab-settings"
        for name, values in SETTINGS.items():
            path = settings / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        for var, sub in [
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
            ("IPYTHONDIR", "ipython"),
        ]:
            (self.workdir / sub).mkdir(exist_ok=True)
            env[var] = str(self.workdir / sub)
        env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
        env["JUPYTER_TOKEN"] = self.token  # not on the command line, where `ps` shows it
        env[MARKER] = self.run_id
        return env

    def _command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",  # the port we picked or fail (we retry with another)
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read cell outputs
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")  # a container: JupyterLab refuses root otherwise
        return cmd

    def start(self) -> LabServer:
        for _attempt in range(3):  # the free port can be taken between our bind and the server's
            self.port = free_port()
            log = open(self.log_path, "ab")
            # A new session: the server and everything it starts form one process group.
            self.proc = subprocess.Popen(
                self._command(),
                env=self._env(),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            if self._wait_ready():
                return self
            self._kill_group()
        raise RuntimeError(f"JupyterLab did not start; its log:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.api("GET", "/api/status", timeout=5)
                return True
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        return False

    # -- using ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab_url(self, notebook: str) -> str:
        # ?reset: a fresh workspace, so a notebook opened by an earlier test is not reopened.
        return f"{self.url}/lab/tree/{urllib.parse.quote(notebook)}?reset&token={self.token}"

    def api(self, method: str, path: str, timeout: float = 30):
        req = urllib.request.Request(self.url + path, method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self, notebook: str | None = None) -> None:
        """Stop the kernel (and session) of one notebook, or of all. Quiet if the server is
        gone: this runs in teardown, where it must not hide the test's own failure."""
        try:
            for session in self.api("GET", "/api/sessions"):
                if notebook is None or session.get("path") == notebook:
                    self.api("DELETE", f"/api/sessions/{session['id']}")
        except (OSError, urllib.error.URLError):
            pass

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # -- stopping -------------------------------------------------------------------------
    def _kill_group(self) -> None:
        if self.proc is None:
            return
        for sig, wait in [(signal.SIGTERM, 15), (signal.SIGKILL, 10)]:
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        try:  # stragglers in the group after the leader exited
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self) -> list[int]:
        """Shut the server down cleanly, else by force; return the pids that had to be killed
        after that (processes started by this server that outlived it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.shutdown_kernels()
            try:  # the clean way: the server stops its kernels and exits
                self.api("POST", "/api/shutdown", timeout=10)
                self.proc.wait(60)
            except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
                pass
        self._kill_group()
        return kill_marked(self.run_id)

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
