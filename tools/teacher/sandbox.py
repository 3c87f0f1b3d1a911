"""The grader's sandbox: the processes where a student's code runs. Nothing here decides a mark.

The supervisor (teacher.supervise) copies this file, alone, next to the graded copies and starts
``python teacher_sandbox.py serve`` with a clean environment, as an unprivileged user where the
grader runs as root. It imports only the standard library at the top, so it needs nothing of the
course (which the sandbox cannot read) and no part of the teacher's tools.

``serve`` imports torch, pytest and the rest once, then reads one JSON command per line on stdin and
forks a child for each: a pytest run of some tests, or a notebook run. The child starts a session
of its own, sets its resource limits (memory, processes, file size, CPU time), changes to the graded
copy and runs; what it did goes as JSON lines into the command's record file:

    {"event": "start", "test": id}           a test starts (then its expect() values, tests/expect.py)
    {"event": "end", "test": id, "outcome": "passed" | "failed" | "skipped" | "timeout", "error": type}
    {"event": "cell", "index": i}           a notebook cell starts (then its compare() values)
    {"event": "cell_end", "index": i, "ok": bool, "error": type, "timeout": bool}

The server answers {"id": n, "pid": p} when it forked and {"id": n, "exit": status} when the child
ended. The supervisor reads the records, kills what overstays, and judges the values against the
course's own, outside: a child can write anything into its records, but a test scores only when
its values are those of the course's solution.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
from typing import Any

# the error types a record may name (a type outside this list is recorded as "an error"): the reason
# a student reads is built from these words and the test's name, never from the student's text
ERRORS = frozenset(
    "AssertionError AttributeError ExerciseNotDone FloatingPointError ImportError IndexError KeyError "
    "KeyboardInterrupt LookupError MemoryError ModuleNotFoundError NameError NotImplementedError OSError "
    "OverflowError RecursionError RuntimeError StopIteration SyntaxError SystemExit TypeError "
    "UnboundLocalError ValueError ZeroDivisionError TestTimedOut CellTimedOut Failed".split()
)
PRELOAD = (
    "numpy",
    "torch",
    "matplotlib",
    "matplotlib.pyplot",
    "pytest",
    "_pytest.config",
    "_pytest.python",
    "hypothesis",
    "_hypothesis_pytestplugin",
    "nbformat",
    "IPython.core.interactiveshell",
)


def error_name(error: BaseException | type | None) -> str:
    kind = error if isinstance(error, type) else type(error)
    name = getattr(kind, "__name__", "")
    return name if name in ERRORS else "an error"


class Records:
    """The record file of one command (appended line by line, flushed at once)."""

    def __init__(self, path: str):
        self.path = path

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------- pytest


class TestTimedOut(BaseException):
    """Raised by the alarm when a test runs past its time: a BaseException, so that neither the test
    nor hypothesis takes it for an ordinary failing example and goes on."""

    __test__ = False


def plugin(records: Records, timeout: float) -> object:
    """The pytest plugin of a child: start and end records, a time limit per test, and after the first
    test that runs out of time, no more tests (the supervisor marks them not run)."""
    import pytest

    class Plugin:
        current: dict | None = None

        def pytest_configure(self, config: Any) -> None:
            try:
                from hypothesis import Phase, settings
            except ImportError:
                return
            # the same examples in every run (the course's solution and the student's), none shrunk
            settings.register_profile(
                "teacher",
                database=None,
                derandomize=True,
                deadline=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            )
            settings.load_profile("teacher")

        def pytest_collectreport(self, report: Any) -> None:
            if report.failed:
                records.write({"event": "collect", "where": str(report.nodeid)[:300]})

        def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
            self.current = {"event": "end", "test": nodeid, "outcome": "passed", "error": ""}
            records.write({"event": "start", "test": nodeid})

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item: Any) -> Any:
            def alarm(signum: int, frame: Any) -> None:
                raise TestTimedOut(f"timed out after {timeout:g} s")

            previous = signal.signal(signal.SIGALRM, alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                yield
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)

        def pytest_exception_interact(self, node: Any, call: Any, report: Any) -> None:
            record = self.current
            if record is None or call.excinfo is None or record["error"]:
                return
            error = call.excinfo.value
            record["error"] = error_name(error)
            if isinstance(error, TestTimedOut):
                record["outcome"] = "timeout"
                node.session.shouldstop = "a test timed out"

        def pytest_runtest_logreport(self, report: Any) -> None:
            record = self.current
            if record is None or record["test"] != report.nodeid:
                return
            if report.failed and record["outcome"] == "passed":
                record["outcome"] = "failed"
            elif report.skipped and record["outcome"] == "passed":
                record["outcome"] = "skipped"

        def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
            if self.current is not None:
                records.write(self.current)
            self.current = None

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(self, session: Any, exitstatus: Any) -> None:
            # every record is written: pytest's summary and teardown (a third of a second) are of no use
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os._exit(int(exitstatus))

    return Plugin()


def run_pytest(command: dict, records: Records) -> int:
    import importlib.util

    import pytest

    # only the plugins a graded test needs: loading every plugin pip installed costs most of a second
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    hypothesis = ["-p", "_hypothesis_pytestplugin"] if importlib.util.find_spec("_hypothesis_pytestplugin") else []
    args = [
        *hypothesis,
        "-q",
        "--no-header",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        command["root"],
        "-o",
        "console_output_style=classic",
        "--tb=line",
        *command["tests"],
    ]
    return int(pytest.main(args, plugins=[plugin(records, float(command["timeout"]))]))


# ---------------------------------------------------------------- notebooks

HOOK = r"""
def _teacher_hook(path, tests):
    # the grader's record of check.compare and check.gradcheck: the values each call checks
    import json, sys
    sys.path.insert(0, tests)
    try:
        import expect as values
        from scratchlib.course import check
    except ImportError:
        return
    finally:
        sys.path.remove(tests)
    compare, gradcheck = check.compare, check.gradcheck

    def write(record):
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def encode(value, labels):
        return values.encode(list(value) if labels is not None else value)

    def hooked_compare(expected, actual, labels=None, atol=1e-6, rtol=1e-5, source="hand", exercise=None):
        record = {"event": "value", "atol": float(atol), "rtol": float(rtol), "value": encode(actual, labels)}
        if exercise is None:  # both sides are the notebook's own results (a hand value is constant)
            record["expected"] = encode(expected, labels)
        write(record)
        if exercise is not None:  # a prediction: graded from the answer as written, not here
            return None
        return compare(expected, actual, labels=labels, atol=atol, rtol=rtol, source=source)

    def hooked_gradcheck(fn, inputs, grads, grad_output=None, labels=None, atol=1e-10, rtol=1e-10, source="hand"):
        write({"event": "value", "atol": float(atol), "rtol": float(rtol), "value": values.encode(list(grads))})
        return gradcheck(fn, inputs, grads, grad_output=grad_output, labels=labels, atol=atol, rtol=rtol, source=source)

    check.compare, check.gradcheck = hooked_compare, hooked_gradcheck


_teacher_hook(RECORDS, TESTS)
del _teacher_hook
"""


class CellTimedOut(BaseException):
    """Raised by the alarm when a notebook cell runs past its time (a BaseException, as TestTimedOut)."""


def run_notebook(command: dict, records: Records) -> int:
    """Run a notebook's code cells up to command["until"] in this child, each cell at most
    command["timeout"] s; stop after a cell that times out.

    The cells run in an IPython shell of this process, not in a kernel: a kernel is a second Python
    that imports torch and matplotlib again (about 350 MB of its own), while this child shares the
    server's pages, which keeps a whole copy under Gradescope's 768 MB. The shell gives the cells
    what a kernel would: magics, ``display``, ``get_ipython()``. A cell that ends the process leaves
    a start without an end in the records: the supervisor reads it as a cell that did not finish.
    """
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    nb = nbformat.read(command["notebook"], as_version=4)
    timeout = float(command["timeout"])
    for entry in reversed(command.get("env", {}).get("PYTHONPATH", "").split(os.pathsep)):
        if entry:  # what a kernel started with this PYTHONPATH would have on its path
            sys.path.insert(0, entry)
    shell = InteractiveShell.instance()  # its history goes to the sandbox's own home (IPYTHONDIR)
    shell.run_cell(HOOK.replace("RECORDS", repr(records.path)).replace("TESTS", repr(command["tests_dir"])))

    def alarm(signum: int, frame: Any) -> None:
        raise CellTimedOut(f"timed out after {timeout:g} s")

    signal.signal(signal.SIGALRM, alarm)
    until = int(command["until"])
    for index, cell in enumerate(nb.cells[: until + 1]):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        records.write({"event": "cell", "index": index})
        end = {"event": "cell_end", "index": index, "ok": True, "error": "", "timeout": False}
        error: BaseException | None = None
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = shell.run_cell(cell.source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except CellTimedOut as late:  # the alarm rang outside the cell's own code (in the shell)
            error = late
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if error is not None:
            end.update(ok=False, error=error_name(error), timeout=isinstance(error, CellTimedOut))
        records.write(end)
        _close_figures()
        if end["timeout"]:
            break
    return 0


def _close_figures() -> None:
    """Close a cell's figures, as an inline backend does once it has shown them: no figure is shown
    here, and a notebook's figures would otherwise pile up in memory."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # noqa: BLE001 (a student's backend or patched pyplot: not the grader's concern)
            pass


# ---------------------------------------------------------------- the server


def limit(limits: dict) -> None:
    """Resource limits of a child (and of whatever it starts): address space, processes, file size,
    CPU seconds, open files, no core files."""
    import resource

    names = {
        "memory": resource.RLIMIT_AS,
        "processes": resource.RLIMIT_NPROC,
        "file_size": resource.RLIMIT_FSIZE,
        "cpu": resource.RLIMIT_CPU,
        "files": resource.RLIMIT_NOFILE,
        "core": resource.RLIMIT_CORE,
    }
    for name, value in limits.items():
        if name in names and value is not None:
            soft, hard = resource.getrlimit(names[name])
            value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
            resource.setrlimit(names[name], (value, value if name != "cpu" else value + 5))


def child(command: dict) -> None:
    """In the forked child: a session of its own, the limits, then the run; never returns."""
    code = 70
    try:
        os.setsid()
        records = Records(command["records"])
        log = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        limit(command.get("limits", {}))
        os.chdir(command["cwd"])
        os.environ.update(command.get("env", {}))
        os.environ["SCRATCHLIB_VALUES"] = command["records"]
        sys.path.insert(0, command["cwd"])
        code = (run_pytest if command["kind"] == "pytest" else run_notebook)(command, records)
    except BaseException as error:  # noqa: BLE001 (the exit status says it; the records say the rest)
        try:
            sys.stderr.write(f"sandbox child: {error_name(error)}\n")
        except Exception:  # noqa: BLE001
            pass
        code = 71
    finally:
        os._exit(code)


def warm(torch: Any) -> None:
    """One thread, and torch's first-use costs paid once here rather than in every child (autograd,
    the common kernels: a third of a second a child)."""
    torch.set_num_threads(1)
    try:
        x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
        w = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
        y = torch.nn.functional.cross_entropy(x @ w.T, torch.tensor([0, 1, 1])) + (x.tanh() * x.sigmoid()).sum()
        y = y + torch.relu(x).logsumexp(1).sum() + (x.float() ** 2).mean()
        torch.autograd.grad(y, [x, w])
        torch.testing.assert_close(x, x)
    except Exception:  # noqa: BLE001 (only a warm-up)
        pass


MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    encoded = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    if libc.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def hide(paths: list[str], keep: list[str]) -> None:
    """In the sandbox's own mount namespace: every folder of paths (the course and its solutions, the
    students' copies, the grader's temporary folder) covered by an empty file system, but the paths of
    keep under them (this copy's own folder, the public edition, Python) bound back where they were
    (from a descriptor opened before they were covered)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the grader's mounts
    hidden = [p.rstrip("/") for p in paths if os.path.isdir(p)]
    saved = []
    for path in keep:
        if os.path.exists(path) and any(path == h or path.startswith(h + "/") for h in hidden):
            saved.append((path, os.path.isdir(path), os.open(path, os.O_PATH)))
    for path in hidden:
        _mount("tmpfs", path, "tmpfs", 0, "mode=755")
    for path, folder, fd in saved:
        if folder:
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def drop_capabilities() -> None:
    """Root without its powers: no capability left (the bounding set emptied, no new privileges), so
    the student's code, root in name, cannot undo the mounts above, nor reach what file modes guard."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(64):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP (past the last capability: an error, ignored)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Sets(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Sets * 2)()) != 0:  # _LINUX_CAPABILITY_VERSION_3
        errno = ctypes.get_errno()
        raise OSError(errno, f"capset: {os.strerror(errno)}")


def drop_to(user: str) -> None:
    """Become the unprivileged sandbox user ("uid:gid"), for good, before any student's code."""
    uid, gid = (int(n) for n in user.split(":"))
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("sandbox: could not drop privileges")


def serve(user: str = "", preload: tuple[str, ...] = PRELOAD, hidden: str = "", kept: str = "") -> None:
    import importlib

    if os.getpid() == 1:  # the init of namespaces of its own (see the supervisor)
        if hidden:  # refuses to serve rather than run the student's code in sight of the course
            hide(hidden.split(os.pathsep), kept.split(os.pathsep))
    if user:
        drop_to(user)
    elif os.getpid() == 1 or os.geteuid() == 0:
        drop_capabilities()
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in preload:  # once, before any student's code: each child starts warm
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    if "torch" in sys.modules:
        warm(sys.modules["torch"])
    try:  # hypothesis draws "interesting" numbers from the literals of the local modules it sees loaded:
        # the graded code's (the student's, or the course's solution in the reference run). The
        # examples of a test must not depend on the code under test: none are taken.
        from hypothesis.internal.conjecture import providers

        nothing_local = providers._local_constants  # only site-packages are loaded yet: empty
        providers._get_local_constants = lambda: nothing_local
    except (ImportError, AttributeError):
        pass
    out = sys.stdout
    children: dict[int, int] = {}  # pid -> command id
    buffer = b""
    stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    while True:
        ready, _, _ = select.select([stdin], [], [], 0.05)
        if ready:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                command = json.loads(line)
                out.flush()
                pid = os.fork()
                if pid == 0:
                    child(command)
                children[pid] = command["id"]
                out.write(json.dumps({"id": command["id"], "pid": pid}) + "\n")
                out.flush()
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if pid == 0:
                break
            if pid in children:
                out.write(json.dumps({"id": children.pop(pid), "exit": status}) + "\n")
                out.flush()


if __name__ == "__main__":
    options = dict(zip(sys.argv[2::2], sys.argv[3::2]))
    if sys.argv[1:2] != ["serve"] or len(sys.argv) % 2 or set(options) - {"--user", "--preload", "--hide", "--keep"}:
        sys.exit(
            "usage: python teacher_sandbox.py serve [--user UID:GID] [--preload M,...] [--hide P:...] [--keep P:...]"
        )
    chosen = tuple(filter(None, options["--preload"].split(","))) if "--preload" in options else PRELOAD
    serve(options.get("--user", ""), chosen, options.get("--hide", ""), options.get("--keep", ""))
