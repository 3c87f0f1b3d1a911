"""Course tools: the one runner behind the self-check (`make check`) and the grader.

It runs pytest tests in a child pytest and a notebook's code cells in a fresh kernel, and says
for each test or cell whether it passed and, in one line, why not. A stub still in place is
recognised here and nowhere else: its reason reads "not attempted: the stub is still there".

The self-check (scratchlib.course.exercises) uses it as it is. The teacher's tools (tools/teacher,
not in the student edition) build on it: exercise by exercise isolation, time limits per test,
workers side by side. They load this file by its path, so it imports nothing of scratchlib.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pytest runs this plugin; importing scratchlib does not need it
    import pytest

STUB = "not attempted: the stub is still there"
STUB_ERROR = "NotImplementedError"  # what a stub raises (and check.compare given `...`)
NOT_RUN = "not run: an earlier cell stopped the notebook, or the cell is missing"
PLUGIN = "scratchlib.course.runner"  # this module, as pytest loads it with -p
RECORD = "SCRATCHLIB_RECORD"  # the file the plugin writes to, named in the child's environment

# "NotImplementedError: exercise 3.1: double: return twice x", or from check.compare
# "NotImplementedError: exercise 3.6 is not done yet: replace ... with your numbers"
_STUB_LINE = re.compile(rf"\b{STUB_ERROR}: (exercise (\d+\.\d+)\b.*)")


def not_attempted(what: str) -> str:
    """The reason of a stub still in place; what names its exercise ("exercise 3.1: its task")."""
    return f"{STUB} ({what})"


def reason(text: str) -> str:
    """One line saying why a test or cell failed: the first line of its error, a stub said as such."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    first = lines[0] if lines else "failed"
    found = _STUB_LINE.search(first)
    return not_attempted(found.group(1)) if found else first[:300]


def stub_exercise(line: str) -> str:
    """The exercise whose stub a reason line names ("3.1"), or "" when the reason is no stub."""
    found = re.search(r"exercise (\d+\.\d+)", line) if line.startswith(STUB) else None
    return found.group(1) if found else ""


# ---------------------------------------------------------------- pytest tests


class Recorder:
    """A pytest plugin object: one JSON line when a test starts, one when it is done.

    The line of a finished test holds its node id, outcome (passed, failed or skipped), duration,
    the failure text and the one-line reason of its first failure (setup, call or teardown). A
    test whose start line has no done line took its process down.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.current: dict | None = None

    def start(self, nodeid: str) -> dict:
        """The record of a test that starts (a subclass adds its own fields)."""
        return {"nodeid": nodeid, "outcome": "passed", "duration": 0.0, "message": "", "reason": ""}

    def finish(self, record: dict) -> None:
        """Called with a test's record before it is written (a subclass adds its own fields)."""

    def reason(self, report: pytest.TestReport) -> str:
        crash = getattr(report.longrepr, "reprcrash", None)
        return reason(crash.message if crash is not None else str(report.longrepr))

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.current = self.start(nodeid)
        self.write({"event": "start", **self.current})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.current
        if record is None or record["nodeid"] != report.nodeid:
            return
        record["duration"] += report.duration
        if report.failed:
            record["outcome"] = "failed"
            record["message"] += report.longreprtext[-3000:] + "\n"
            record["reason"] = record["reason"] or self.reason(report)
        elif report.skipped and record["outcome"] == "passed":
            record["outcome"], record["reason"] = "skipped", "skipped"

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        record, self.current = self.current, None
        if record is not None:
            self.finish(record)
            self.write({"event": "done", **record})


def pytest_configure(config: pytest.Config) -> None:
    """Loaded with -p scratchlib.course.runner: record every test to the file named by RECORD."""
    if os.environ.get(RECORD):
        config.pluginmanager.register(Recorder(os.environ[RECORD]), "scratchlib-record")


def child_pytest(root: Path, plugin: str, timeout: float, args: list[str]) -> list[str]:
    """The command line of a child pytest: quiet, no cache, no nbval, the recording plugin loaded."""
    pytest = [sys.executable, "-m", "pytest", "-q", "--no-header", "-p", "no:cacheprovider", "-p", "no:nbval"]
    return [*pytest, "-p", plugin, "--rootdir", str(root), f"--timeout={timeout:g}", *args]


def read_records(path: Path) -> tuple[list[dict], list[dict]]:
    """What a Recorder wrote: the records of the tests that started, and of those that finished."""
    started: list[dict] = []
    done: list[dict] = []
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the process died while writing
                continue
            (started if record.pop("event") == "start" else done).append(record)
    return started, done


def run_tests(tests: list[str], root: Path, timeout: float = 120.0) -> list[dict]:
    """Run these pytest node ids in one child pytest at root; one record per test, in this order."""
    with tempfile.TemporaryDirectory(prefix="scratchlib-check-") as work:
        path = Path(work) / "records.jsonl"
        command = child_pytest(root, PLUGIN, timeout, tests)
        subprocess.run(command, cwd=root, capture_output=True, text=True, env={**os.environ, RECORD: str(path)})
        done = {record["nodeid"]: record for record in read_records(path)[1]}
    missing = "did not run (a test file that does not import?)"
    blank = {"outcome": "failed", "duration": 0.0, "message": "", "reason": missing}
    return [done.get(t) or {"nodeid": t, **blank} for t in tests]


# ---------------------------------------------------------------- notebook cells


def execute_notebook(
    path: Path,
    env: dict | None = None,
    timeout: float = 300.0,
    until: int | None = None,
    stop_on_error: bool = False,
    after_cell: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Run a notebook's code cells in a fresh kernel, up to cell `until`; one record per code cell.

    A record holds index, id, ok, error (the exception line) and reason (one line; a NameError
    after another exercise's stub stopped a cell is that stub's doing and says so). Every cell
    runs, also after an error (a stub still in an earlier exercise must not hide a later one),
    unless stop_on_error (as Run All in the lab). env is added to this process's environment for
    the kernel; after_cell(record) is called once each cell has run. Outputs are not compared.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True, resources=resources
    )
    records: list[dict] = []
    stopped = ""  # the first exercise whose stub stopped a cell: the names later cells miss come from it
    # the kernel's own stderr (a warning about its TCP transport) is no news to a student or a teacher
    with client.setup_kernel(env={**os.environ, **(env or {})}, stderr=subprocess.DEVNULL):
        for index, cell in enumerate(nb.cells[: None if until is None else until + 1]):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            record: dict[str, Any] = {"index": index, "id": cell.get("id"), "ok": True, "error": "", "reason": ""}
            records.append(record)
            started = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError as error:
                record.update(ok=False, error=f"the kernel died: {error}", reason=f"the kernel died: {error}")
                break
            finally:
                if after_cell is not None:
                    after_cell(record)
            output = next((o for o in cell.outputs if o.output_type == "error"), None)
            if output is None:
                continue
            if output.ename == "KeyboardInterrupt" and time.monotonic() - started >= timeout:
                record["error"] = f"timed out after {timeout:g} s"  # nbclient interrupted it
            else:
                record["error"] = f"{output.ename}: {output.evalue}"
            record.update(ok=False, reason=reason(record["error"]))
            if output.ename == "NameError" and stopped:
                record["reason"] = not_attempted(f"exercise {stopped}: a name its cell sets is not defined")
            stopped = stopped or stub_exercise(record["reason"])
            if stop_on_error:
                break
    return records


def cell_reason(record: dict | None) -> str:
    """One line for a cell: "" when it ran, else why not (a cell without a record never ran)."""
    if record is None:
        return NOT_RUN
    return "" if record["ok"] else record["reason"]
