"""Fixtures for the browser test: a Chromium and a JupyterLab server, torn down for sure.

Settings: see labconfig.py.
"""

from __future__ import annotations

import os
import secrets
import signal

import pytest
from labconfig import NOTEBOOK_DIR, REQUIRED, find_chromium
from labserver import MARKER, LabServer, kill_marked, processes_with_marker


def skip_or_fail(reason: str):
    if REQUIRED:
        pytest.fail(f"browser test required (SCRATCHLIB_BROWSER_REQUIRED=1), but {reason}", pytrace=False)
    pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="session", autouse=True)
def _terminate_cleanly():
    """Turn SIGTERM (`timeout`, a CI runner giving up) into KeyboardInterrupt while the browser
    test runs, so that the fixtures' teardown still stops JupyterLab and Chromium."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        skip_or_fail(
            "no Chromium found; install one (Debian/Ubuntu: apt-get install chromium) or set SCRATCHLIB_CHROMIUM"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is missing; pip install -e '.[dev]'")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A headless Chromium driven by playwright; closed, and checked gone, at the end."""
    from playwright.sync_api import sync_playwright

    run_id = secrets.token_hex(8)
    pw = sync_playwright().start()
    browser = None
    try:
        # the system's Chromium: playwright never downloads a browser here
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, env={**os.environ, MARKER: run_id})
        yield browser
    finally:
        try:
            if browser is not None:
                browser.close()
        finally:
            pw.stop()
        leftovers = kill_marked(run_id)
        assert not leftovers, f"Chromium processes outlived the browser: {leftovers} (killed)"


@pytest.fixture(scope="session")
def lab(chromium_path, tmp_path_factory):
    """JupyterLab on a copy of the notebooks; shut down, and checked gone, at the end."""
    server = LabServer(NOTEBOOK_DIR, tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.start()
        yield server
    finally:
        leftovers = server.stop()
        assert not leftovers, f"processes started by JupyterLab outlived it: {leftovers} (killed)"
        assert not processes_with_marker(server.run_id)
