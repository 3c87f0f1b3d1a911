"""Course tools: the one runner behind the self-check (`make check`) and the grader.

It runs pytest tests in a child pytest and a notebook's code cells in a fresh kernel, and says
for each test or cell whether it passed and, in one line, why not. A stub still in place is
recognised here and nowhere else: it raises ExerciseNotDone (defined here, imported by every
file of the student edition that holds a stub), and its reason reads "not attempted: the stub
is still there".

The self-check (scratchlib.course.exercises) uses it as it is. The teacher's tools (tools/teacher,
not in the student edition) build on it: exercise by exercise isolation, time limits per test,
workers side by side. They load this file by its path, so it imports nothing of scratchlib.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pytest runs this plugin; importing scratchlib does not need it
    import pytest

STUB = "not attempted: the stub is still there"
STUB_ERROR = "ExerciseNotDone"  # what a stub raises (and check.compare given `...`)
NOT_RUN = "not run: an earlier cell stopped the notebook, or the cell is missing"
PLUGIN = "scratchlib.course.runner"  # this module: pytest loads it with -p, the stubs import from it
RECORD = "SCRATCHLIB_RECORD"  # the file the plugin writes to, named in the child's environment

# the line that each file of the student edition holding a stub that raises gets, after its imports
STUB_IMPORT = f"from {PLUGIN} import {STUB_ERROR}  # what an exercise's stub raises"

# "ExerciseNotDone: exercise 3.1: double: return twice x", or from check.compare
# "ExerciseNotDone: exercise 3.6 is not done yet: replace ... with your numbers"
_STUB_LINE = re.compile(rf"\b{STUB_ERROR}: (exercise (\d+\.\d+)\b.*)")


# Exercises k.50 and up are the optional parts of notebook k (its sections marked "Optional"). No
# test of a core exercise may run one: an optional exercise is never what a core one waits for.
OPTIONAL_FROM = 50


def optional(exercise: str) -> bool:
    """Whether an exercise ("6.52") belongs to its notebook's optional parts."""
    return int(exercise.split(".")[1]) >= OPTIONAL_FROM


class ExerciseNotDone(Exception):
    """What an exercise's stub raises: ``ExerciseNotDone("exercise 4.3: Linear.backward: ...")``.

    The course's own exception, straight from Exception: a test's ``pytest.raises(RuntimeError)``
    or ``ValueError``, and the library's handlers that explain torch's errors, never take a stub
    for an error of the code, so it surfaces as itself wherever it is raised. Each one raised is
    noted in ``raised`` (its message): a test that fails after a stub was swallowed on its way (by
    a widget library's callback, say) still reads as waiting for that exercise.
    """

    raised: ClassVar[list[str]] = []  # the messages of the stubs raised since a test started

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        if len(ExerciseNotDone.raised) < 100:  # the first is the one to name; a loop need not fill memory
            ExerciseNotDone.raised.append(message)


def raised_stubs() -> list[str]:
    """The stubs raised in this process since the list was last cleared (by the course's own copy
    of this module: the one the stubs import, which the teacher's tools load under another name)."""
    raised = getattr(getattr(sys.modules.get(PLUGIN), STUB_ERROR, None), "raised", None)
    return raised if isinstance(raised, list) else ExerciseNotDone.raised


def holds_stub(text: str, exercise: str) -> bool:
    """Whether text (a source file, or a notebook's cell sources) still holds the stub of exercise:
    ``raise ExerciseNotDone("exercise 4.3: ...")`` or ``name = ...  # exercise 3.6: ...``."""
    number = re.escape(exercise)
    stub = rf'{STUB_ERROR}\("exercise {number}:|= \.\.\.(?:, \.\.\.)*  # exercise {number}:'
    return re.search(stub, text) is not None


LONGEST = 400  # characters of a reason: one line in a terminal report, a table cell, a CSV field
# an AssertionError whose first line tells nothing: pytest's "assert False" after `assert allclose(...)`
_SAYS_NOTHING = re.compile(r"^(AssertionError|assert (False|None|0|not True))?$")


def not_attempted(what: str) -> str:
    """The reason of a stub still in place; what names its exercise ("exercise 3.1: its task")."""
    return f"{STUB} ({what})"


def reason(text: str) -> str:
    """One line saying why a test or cell failed: the first line of its error, a stub said as such.

    A first line that ends in a colon ("mismatch in dW2, dW1:") announces what follows: the next
    line comes with it.
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    first = lines[0] if lines else "failed"
    found = _STUB_LINE.search(first)
    if found:
        return not_attempted(found.group(1))
    if first.endswith(":") and len(lines) > 1:
        first = f"{first} {lines[1]}"
    elif first.startswith("assert ") and (diff := next((x for x in lines if x.startswith("At index ")), None)):
        first = f"{diff}  ({first})"  # pytest's "At index 0 diff: [-1.0, 0.0] != [1.0, 0.0]" says where
    return first[:LONGEST]


def failure_detail(excinfo: pytest.ExceptionInfo[BaseException], root: Path) -> str:
    """What a bare error message leaves out, from the failing test's traceback: the first entries
    torch's assert_close (or the tests' own, with its tol) found apart, with both values; for an
    AssertionError that says nothing, the failing line of the test. "" when there is nothing to add."""
    for entry in excinfo.traceback:
        code = entry.frame.code
        if code.name == "assert_close" and "torch" in str(code.path):
            return _differing_entries(entry.frame.f_locals)
        if code.name == "assert_close" and {"actual", "expected", "tol"} <= set(entry.frame.f_locals):
            names = entry.frame.f_locals  # the tests' own assert_close(actual, expected, tol)
            return _differing_entries({**names, "rtol": 0.0, "atol": names["tol"]})
    message = str(excinfo.value).strip().splitlines()
    if isinstance(excinfo.value, AssertionError) and _SAYS_NOTHING.match(message[0] if message else ""):
        entry = excinfo.traceback[-1]
        try:
            where = os.path.relpath(entry.path, root)
        except ValueError:  # another drive (Windows)
            where = str(entry.path)
        return f"at {where}:{entry.lineno + 1}: {' '.join(str(entry.statement).split())}"
    return ""


def _differing_entries(names: dict, shown: int = 3) -> str:
    """ "2 of 6 entries differ: at [0, 1] got 0.5, expected 1; ..." from assert_close's arguments."""
    import torch  # assert_close failed: torch is loaded

    try:
        got = torch.as_tensor(names.get("actual")).detach().cpu()
        want = torch.as_tensor(names.get("expected")).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        return ""
    if got.shape != want.shape or got.is_complex() or want.is_complex():
        return ""  # torch's own message names the shapes (or the dtype) that differ
    rtol, atol = names.get("rtol"), names.get("atol")
    if rtol is None or atol is None:
        from torch.testing._comparison import default_tolerances

        rtol, atol = default_tolerances(got, want)
    got, want = got.double(), want.double()
    far = ~torch.isclose(got, want, rtol=rtol, atol=atol, equal_nan=bool(names.get("equal_nan")))
    where = [tuple(index) for index in far.nonzero().tolist()]
    if not where:
        return ""
    parts = [
        ("at [" + ", ".join(map(str, index)) + "] " if index else "")
        + f"got {got[index].item():.6g}, expected {want[index].item():.6g}"
        for index in where[:shown]
    ]
    return (
        f"{len(where)} of {got.numel()} entries differ: " + "; ".join(parts) + ("; ..." if len(where) > shown else "")
    )


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
        self.failure: pytest.TestReport | None = None  # the current test's first failing report
        self.detail = ""  # what its traceback adds to the reason (failure_detail)

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
        self.failure, self.detail = None, ""
        raised_stubs().clear()
        self.write({"event": "start", **self.current})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.current
        if record is None or record["nodeid"] != report.nodeid:
            return
        record["duration"] += report.duration
        if report.failed:
            record["outcome"] = "failed"
            record["message"] += report.longreprtext[-3000:] + "\n"
            self.failure = self.failure or report
        elif report.skipped and record["outcome"] == "passed":
            record["outcome"], record["reason"] = "skipped", "skipped"

    def pytest_exception_interact(
        self, node: pytest.Item | pytest.Collector, call: pytest.CallInfo[Any], report: pytest.TestReport
    ) -> None:
        """Called after the failing report, with the exception itself: what its traceback adds."""
        if report is self.failure and call.excinfo is not None:
            try:
                self.detail = failure_detail(call.excinfo, Path(node.config.rootpath))
            except Exception:  # noqa: BLE001 (the reason is still the error's first line)
                self.detail = ""

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        record, self.current = self.current, None
        if record is None:
            return
        if self.failure is not None:
            line, stubs = self.reason(self.failure), raised_stubs()
            if stubs and not line.startswith(STUB):  # a stub was swallowed on the way: it is to blame
                line = not_attempted(stubs[0])
            elif self.detail and not line.startswith(STUB):
                line = f"{line} {self.detail}"[:LONGEST]
            record["reason"] = line
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


# The self-check's child pytest does no more than its report needs (docs/performance.md has the
# figures): only the plugins it uses (finding and importing every plugin that pip installed took
# about 0.7 s), and one line per failure instead of the long traceback with each frame's source
# and arguments (seconds when a stub fails a hundred tests). The reasons are the same: they come
# from the error itself (reprcrash) and its traceback object, not from the printed traceback.
# SELF_CHECK tells the course's tests/conftest.py not to shrink a failing hypothesis example: a
# stub fails every example, and shrinking took half a minute of exercise 6.2's first check.
SELF_CHECK = "SCRATCHLIB_SELF_CHECK"
LEAN_PLUGINS = ("pytest_timeout", "_hypothesis_pytestplugin")  # --timeout; hypothesis's own hooks
LEAN_ARGS = ("--tb=line",)


def lean_pytest(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The self-check's pytest arguments (args after its own) and what to add to its environment."""
    import importlib.util

    plugins = [arg for name in LEAN_PLUGINS if importlib.util.find_spec(name) for arg in ("-p", name)]
    return [*plugins, *LEAN_ARGS, *args], {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", SELF_CHECK: "1"}


def _pytest_child(args: list[str], root: str, env: dict[str, str]) -> None:
    """In a child of the warm server: pytest on the course's files as they are on disk now."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the kernel's log is no place for a test's output
        os.dup2(devnull, fd)
    for name in [n for n in sys.modules if n.split(".")[0] in ("scratchlib", "tests", "conftest")]:
        del sys.modules[name]  # imported to start this child; the tests import them afresh
    os.chdir(root)
    sys.path.insert(0, root)
    os.environ.update(env)
    import pytest

    sys.exit(pytest.main(args))


# Modules the warm server imports once; each child forked from it has them at no cost.
WARM = ("torch", "pytest", "hypothesis", "numpy")


def in_kernel() -> bool:
    """Whether this process is a notebook's kernel (IPython's shell runs, with a kernel behind it)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def warm_pytest(args: list[str], root: Path, env: dict[str, str]) -> None:
    """pytest with these arguments, in a child forked from a warm server (the self-check in a kernel).

    A fresh Python spends a second or more importing torch and pytest again for each check
    (docs/performance.md). In a notebook's kernel, the first check starts multiprocessing's fork
    server with torch, pytest and hypothesis imported; every check then forks a child of it, which
    imports the course's files as they are on disk now. The server is a plain Python, not the
    kernel: a test's widgets or progress bars behave as in `make check`, and nothing of the
    kernel's state reaches the tests. Interrupting the kernel stops the child.
    """
    import importlib.util
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([name for name in WARM if importlib.util.find_spec(name)])
    child = context.Process(target=_pytest_child, args=(args, str(root), env), daemon=True)
    child.start()
    try:
        child.join()
    except BaseException:  # KeyboardInterrupt from the kernel's stop button: the child goes too
        child.kill()
        child.join()
        raise


def run_tests(tests: list[str], root: Path, timeout: float = 120.0, lean: bool = False) -> list[dict]:
    """Run these pytest node ids in one child pytest at root; one record per test, in this order.

    lean (the self-check): only the plugins the run needs, and short tracebacks (the records'
    "message" is then one line per failure; "reason" is the same)."""
    with tempfile.TemporaryDirectory(prefix="scratchlib-check-") as work:
        path = Path(work) / "records.jsonl"
        args, env = lean_pytest(tests) if lean else (tests, {})
        command = child_pytest(root, PLUGIN, timeout, args)
        if lean and in_kernel() and sys.platform != "win32":
            warm_pytest(command[3:], root, {**env, RECORD: str(path)})
        else:
            subprocess.run(
                command, cwd=root, capture_output=True, text=True, env={**os.environ, **env, RECORD: str(path)}
            )
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
    # what a cell stopped by a stub would have set or changed, and the exercise that stopped it: a
    # later cell reading it fails for want of that exercise (and what it sets is as incomplete)
    unfinished: dict[str, str] = {}
    imported = {name for c in nb.cells if c.cell_type == "code" for name in cell_names(c.source)[3]}
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
            assigned, changed, reads, _ = cell_names(cell.source)
            missing = sorted((reads & set(unfinished)) - assigned)  # a name it assigns itself is its own
            if output.ename == "NameError" and stopped:
                record["reason"] = not_attempted(f"exercise {stopped}: a name its cell sets is not defined")
            elif missing and not stub_exercise(record["reason"]):
                record["reason"] = not_attempted(
                    f"exercise {unfinished[missing[0]]}: its stub stopped the cell that computes {missing[0]}"
                )
            exercise = stub_exercise(record["reason"])
            stopped = stopped or exercise
            if exercise:
                unfinished.update(dict.fromkeys((assigned | changed) - imported, exercise))
            if stop_on_error:
                break
    return records


# CPython 3.11's ast.parse is not safe in threads (python/cpython#106905: "AST constructor recursion
# depth mismatch"), and the teacher's tools read notebooks from a pool of threads: one parse at a time.
_PARSING = threading.Lock()


def cell_names(source: str) -> tuple[set[str], set[str], set[str], set[str]]:
    """The names a notebook cell assigns at its top level, those it changes (calling a method of
    them: ``net.forward()``), those it reads, and those it imports; empty for a cell that is not
    Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)  # %magic and !shell lines as Python
    except Exception:  # noqa: BLE001 (IPython missing or unable: read it as plain Python)
        pass
    try:
        with _PARSING:
            tree = ast.parse(source)
    except SyntaxError:
        return set(), set(), set(), set()
    sets: set[str] = set()
    changed: set[str] = set()
    imported: set[str] = set()
    reads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    todo: list[ast.AST] = list(tree.body)
    while todo:  # the top level: what a function or class body binds is its own
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            sets.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            sets.add(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if isinstance(node.func.value, ast.Name):  # net.forward(): net may be half changed
                changed.add(node.func.value.id)
        todo.extend(ast.iter_child_nodes(node))
    return sets | imported, changed, reads, imported


def cell_reason(record: dict | None) -> str:
    """One line for a cell: "" when it ran, else why not (a cell without a record never ran)."""
    if record is None:
        return NOT_RUN
    return "" if record["ok"] else record["reason"]
