"""tools/lab.sh (make lab): its options, and the URL it prints opening notebook 01 with a token."""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "tools" / "lab.sh"
FIRST = "/lab/tree/notebooks/01_forward_equations.ipynb"


def dry_run(*options, env=None):
    run = subprocess.run(
        ["bash", str(LAB), "--dry-run", *options], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    assert run.returncode == 0, run.stderr
    *said, command = run.stdout.strip().splitlines()
    return said, shlex.split(command)


def test_by_default_it_listens_on_localhost_and_starts_at_notebook_01():
    said, command = dry_run(env={"PORT": "9000"})
    assert command[:2] == [".venv/bin/jupyter", "lab"]
    assert "--ServerApp.ip=localhost" in command and "--ServerApp.port=9000" in command
    assert f"--LabApp.default_url={FIRST}" in command
    assert not any("token" in c.lower() for c in command)  # the server makes one and prints it


def test_host_port_and_venv_options_for_a_container():
    said, command = dry_run("--host", "0.0.0.0", "--port", "8000", "--venv", "/opt/env")
    assert command[0] == "/opt/env/bin/jupyter"
    assert "--ServerApp.ip=0.0.0.0" in command and "--ServerApp.port=8000" in command
    assert not any("token" in c.lower() or "password" in c.lower() for c in command)
    assert any("every address" in line and "token" in line for line in said)


@pytest.mark.parametrize(
    "options, error", [(["--port", "80a"], "--port must be a number"), (["--hots", "x"], "unknown option --hots")]
)
def test_bad_options_are_refused_with_the_reason(options, error):
    run = subprocess.run(["bash", str(LAB), *options], capture_output=True, text=True)
    assert run.returncode == 2 and error in run.stderr


def test_the_makefile_passes_host_only_from_its_command_line():
    makefile = (ROOT / "Makefile").read_text()
    assert "$(if $(filter command line,$(origin HOST)),--host $(HOST))" in makefile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_short_start_on_loopback_prints_a_url_that_opens_notebook_01(tmp_path):
    """Start make lab's launcher for real, read the URL it prints, fetch it, stop it."""
    env = {
        **os.environ,
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
        "JUPYTER_TOKEN": "",
        **{
            var: str(tmp_path / var)
            for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR")
        },
    }
    venv = Path(sys.executable).parent.parent
    log = tmp_path / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", str(LAB), "--venv", str(venv), "--host", "127.0.0.1", "--port", str(free_port())],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"http://127\.0\.0\.1:\d+/\S+", log.read_text(errors="replace"))
            url = found.group(0) if found else None
            time.sleep(0.3)
        assert url, f"no URL printed; output:\n{log.read_text(errors='replace')}"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+" + re.escape(FIRST) + r"\?token=[0-9a-f]{32,}", url), url
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
        no_token = urllib.request.Request(url.split("?")[0])
        with urllib.request.urlopen(no_token, timeout=30) as page:  # redirected to the login page
            assert "/login" in page.url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
