"""The supervisor of one student's copy: graded copies in, one row per exercise out.

``python -m teacher.supervise JOB RESULT`` (started by teacher.grade, one process per copy, in a
session of its own) reads what the copy holds for each exercise (teacher.isolate), writes the
graded copies (the public student edition with only the student's code for the exercises under
test: no solution anywhere in them), runs their tests in the sandbox (teacher.sandbox: its own
processes, as an unprivileged user where the grader runs as root, with resource limits), and
judges what the sandbox recorded against the course's solution run (teacher.verdict), here, where
the student's code cannot reach. Before it writes its result, every process of the sandbox has
ended: its session killed, every descendant of this process killed (it is their subreaper: a
process that detaches itself still comes back to it), and as root every process of the sandbox
user. The temporary graded copies go whatever happens.

Limits: ``timeout`` seconds per test or notebook cell (after a library exercise's first timeout
its remaining tests fail without running; a notebook stops at its first cell that times out),
``copy_timeout`` seconds for the whole copy (what has not finished by then fails, "not run"), and
the sandbox's resource limits.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import secrets
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from teacher import course_answers, course_runner, isolate, sandbox, verdict
from teacher.edition import Course, exercise_key, scan
from teacher.markers import assigned_names

SANDBOX = Path(__file__).with_name("sandbox.py")
GRACE = 10.0  # at most this many seconds past a test's limit before the supervisor kills what the alarm did not
# stop (the limit itself where it is shorter)
EXERCISE = 2.0  # an exercise's tests together: at most this many times the limit of one test
NOTEBOOK = 4.0  # a notebook up to its last checking cell: at most this many times the limit of one cell
STARTUP = 90.0  # seconds for a child to reach its first test (pytest's collection, a kernel's start)
RESTARTS = 3  # sandbox servers started again after one was killed from inside, per copy


@dataclass
class Row:
    exercise: str
    task: str
    where: str
    passed: int
    total: int
    reason: str = ""  # one line, built by the grader: why not full marks ("" when full marks)
    kind: str = "library"  # library, notebook (code in a notebook), hand (a value by hand), derivation, test
    optional: bool = False
    score: float | None = 0.0  # None: graded by hand

    @property
    def manual(self) -> bool:
        return self.kind == "derivation"


def score(kind: str, passed: int, total: int) -> float:
    """A library exercise is a function, and a hand value a number: right (every test of its own
    passes, the number matches) or not, 1 or 0. A notebook's code exercise scores the share of its
    checking cells that pass (they also run the student's other exercises of that notebook)."""
    if not total:
        return 0.0
    if kind == "notebook":
        return passed / total
    return 1.0 if passed == total else 0.0


def own_tests(data: dict, exercise: str) -> list[str]:
    """A library exercise's graded tests: its tests that run it alone (the map's reaches is [exercise])."""
    reaches = data.get("reaches", {})
    return [t for t in data["exercises"][exercise]["tests"] if reaches.get(t) == [exercise]]


def is_hand(course: Course, exercise: str) -> bool:
    region = course.region(exercise)
    return " cell " in region.where and assigned_names(region.body) is not None


def kind_of(course: Course, exercise: str) -> str:
    kind = course.kind(exercise)
    return "hand" if kind == "notebook" and is_hand(course, exercise) else kind


def test_versions(course: Course, layers: list[str]) -> list[tuple[str, str, dict[str, list[str]]]]:
    """The versions of a layer a student's own test runs against, as (kind, what, code): "correct" (the
    course's solution), "another" (a correct one written otherwise, teacher.wrong.ALTERNATIVE) and
    "wrong" (teacher.wrong.WRONG: one exercise wrong, the others as the solution). ``code`` holds the
    lines of every exercise in ``layers`` (the layer exercises the course's test of it runs)."""
    from teacher import wrong

    def lines(text: str) -> list[str]:
        return [line + "\n" for line in textwrap.dedent(text).splitlines()]

    solution = {e: lines("".join(course.region(e).body)) for e in layers}
    out = [("correct", "the course's solution", solution)]
    for kind, table in (("another", wrong.ALTERNATIVE), ("wrong", wrong.WRONG)):
        out += [(kind, f"{e}: {what}", {**solution, e: lines(code)}) for e in layers for what, code in table.get(e, [])]
    return out


def test_refused(copy: isolate.Copy, exercise: str, tests: list[str]) -> str:
    """Why a student's own test scores 0 before it runs, else "": an expected value of its checks that is
    not written by hand (course_answers.test_refusal, which the self-check asks too), read with ``ast``
    from the student's file as graded (the edition with the student's code for the test)."""
    stretch = copy.stretches.get(exercise)
    if stretch is None:
        return ""
    text = isolate.splice(copy.edition[stretch.key], [stretch, *copy.imports.get(stretch.key, [])])
    for test in tests:
        refused = course_answers.test_refusal(text, test.partition("::")[2] or None, exercise)
        if refused:
            return refused
    return ""


def test_verdict(versions: list[tuple[str, str, dict]], ran: list[bool | None]) -> tuple[int, int, str]:
    """A student's own test: (wrong layers caught, wrong layers, why not full marks) from whether it
    passed on each version (None: it never ran). It must pass on every correct version, else it
    catches nothing; a wrong version it passes on is let through, and the reason names it."""
    wrong = [(what, ok) for (kind, what, _), ok in zip(versions, ran) if kind == "wrong"]
    for (kind, what, _), ok in zip(versions, ran):
        if kind == "wrong" or ok:
            continue
        if ok is None:
            return 0, len(wrong), "not run: the copy's time ran out"
        if kind == "correct":
            return 0, len(wrong), "your test fails on the course's correct layer: a test must pass on a correct layer"
        return (
            0,
            len(wrong),
            (
                f"your test fails on a correct layer written another way ({what}): check what the layer computes, "
                "not how its code is written"
            ),
        )
    caught = sum(ok is False for _, ok in wrong)
    through = [what for what, ok in wrong if ok is not False]
    why = f"caught {caught} of {len(wrong)} wrong layers; let through: {'; '.join(through)}" if through else ""
    return caught, len(wrong), why


# ---------------------------------------------------------------- processes


def subreaper() -> None:
    """Orphans of this process's descendants come back to it (Linux), not to init: a process the
    student's code detaches (a double fork, setsid) is still found and killed."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def _parents() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
                out[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return out


def descendants(pid: int) -> list[int]:
    parents = _parents()
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def processes_of(uid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    out.append(int(entry))
            except OSError:
                continue
    return out


def outer_pid(inner: int, ancestor: int) -> int:
    """The pid, as this process sees it, of the process that is pid inner in the sandbox's own pid
    namespace (0 when it is gone)."""
    for pid in descendants(ancestor):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        if int(line.split()[-1]) == inner:
                            return pid
                        break
        except (OSError, ValueError):
            continue
    return 0


_NAMESPACES: dict[bool, list[str]] = {}


def namespaces(as_root: bool) -> list[str]:
    """The command that starts the sandbox in namespaces of its own, where the system allows it (Linux's
    unshare; as a normal user, a user namespace too), else []: a pid namespace (the sandbox sees no
    process of the grader, and its server is its init, which a signal from inside does not kill) and a
    network namespace (no network)."""
    if as_root not in _NAMESPACES:
        found = shutil.which("unshare") if sys.platform.startswith("linux") else None
        flags = ["--pid", "--fork", "--mount-proc", "--net", "--kill-child"]
        command = [found, *([] if as_root else ["--user", "--map-root-user"]), *flags] if found else []
        # what the server does there, tried once: start, and cover a folder with an empty file system
        mount = (
            "import ctypes, sys\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "raise SystemExit(libc.mount(b'tmpfs', sys.argv[1].encode(), b'tmpfs', 0, None) != 0)\n"
        )
        import tempfile

        try:
            with tempfile.TemporaryDirectory(prefix="teacher-probe-") as folder:
                probe = [*command, sys.executable, "-c", mount, folder]
                ok = bool(command) and subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        _NAMESPACES[as_root] = [str(part) for part in command] if ok else []
    return _NAMESPACES[as_root]


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill(pids: list[int]) -> None:
    for pid in pids:
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def clear(uid: int | None = None, keep: int | None = None) -> None:
    """Kill every descendant of this process (and as root every process of the sandbox user), but
    keep (and its children's own processes are not spared); until none is left."""
    for _ in range(100):
        pids = set(descendants(os.getpid()))
        if uid is not None:
            pids |= set(processes_of(uid))
        pids.discard(os.getpid())
        if keep is not None:
            pids.discard(keep)
        kill(sorted(pids))
        reap()
        if not pids:
            return
        time.sleep(0.02)


def kill_run(pid: int) -> None:
    """A child of the sandbox server and all it started."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    kill(descendants(pid) + [pid])


class Server:
    """The sandbox's server process (teacher.sandbox serve): forks a child per command. Started in
    namespaces of its own where the system allows (namespaces()); as root, it becomes the sandbox user
    before it runs anything of the student's."""

    def __init__(
        self,
        work: Path,
        python: str,
        env: dict[str, str],
        user: dict | None,
        prefix: list[str],
        preload: list[str],
        hidden: tuple[list[str], list[str]] = ([], []),
    ):
        self.work, self.python, self.env, self.user, self.prefix = work, python, env, user, prefix
        self.preload, self.hidden = preload, hidden
        self.process: subprocess.Popen | None = None
        self.buffer = b""

    def pid(self, inner: int) -> int:
        """A child's pid as the supervisor sees it (the server tells its own namespace's)."""
        if not self.prefix or self.process is None:
            return inner
        return outer_pid(inner, self.process.pid)

    def start(self) -> None:
        options: dict[str, Any] = {}
        command = [self.python, str(self.work / "teacher_sandbox.py"), "serve", "--preload", ",".join(self.preload)]
        if self.prefix and self.hidden[0]:  # in its own mount namespace: the course and the copies out of sight
            command += ["--hide", os.pathsep.join(self.hidden[0]), "--keep", os.pathsep.join(self.hidden[1])]
        if self.user is not None and self.prefix:  # unshare runs as root; the server drops to the user
            command += ["--user", f"{self.user['uid']}:{self.user['gid']}"]
        elif self.user is not None:
            options.update(user=self.user["uid"], group=self.user["gid"], extra_groups=[])
        log = open(self.work / "out" / "server.log", "ab")
        self.process = subprocess.Popen(
            [*self.prefix, *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=self.work / "home",
            env=self.env,
            start_new_session=True,
            **options,
        )
        log.close()
        ready = time.monotonic() + 180
        while time.monotonic() < ready:
            for message in self.messages(0.2):
                if "ready" in message:
                    return
            if self.process.poll() is not None:
                break
        raise RuntimeError("the sandbox did not start (see its server.log)")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, command: dict) -> bool:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(command) + "\n").encode())
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def messages(self, wait: float) -> list[dict]:
        if self.process is None or self.process.stdout is None:
            return []
        out = []
        fd = self.process.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], wait)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                out.append(message)
        return out

    def stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()  # type: ignore[union-attr]
                except OSError:
                    pass


@dataclass
class Run:
    """One command: a library exercise's tests, or a notebook up to a cell."""

    name: str  # the exercise ("4.3") or the notebook's path
    command: dict
    pid: int = 0
    started: float = 0.0
    last: float = 0.0  # when the last test or cell started or ended (as the records show)
    offset: int = 0
    done: bool = False
    exit: int | None = None
    stopped: str = ""  # why the supervisor killed it: "timeout" (one test), "total" (all its tests) or "copy"
    limit: float = 0.0  # seconds for the whole run (0: none but the copy's)
    ended: float = 0.0


def _tail(run: Run) -> None:
    """Note the time of each new start or end in a run's records (what its deadline counts from)."""
    try:
        with open(run.command["records"], "rb") as f:
            f.seek(run.offset)
            chunk = f.read(1_000_000)
    except OSError:
        return
    complete = chunk.rfind(b"\n") + 1
    run.offset += complete
    for line in chunk[:complete].splitlines():
        if b'"event": "start"' in line or b'"event": "end"' in line or b'"event": "cell' in line:
            run.last = time.monotonic()


def run_all(
    work: Path,
    runs: list[Run],
    python: str,
    env: dict[str, str],
    user: dict | None,
    lanes: int,
    timeout: float,
    deadline: float,
    log: list[str],
    prefix: list[str] = (),  # type: ignore[assignment]
    preload: list[str] = (),  # type: ignore[assignment]
    hidden: tuple[list[str], list[str]] = ([], []),
) -> None:
    """Run every command in the sandbox, lanes at a time; kill what overstays; end with nothing left."""
    queue = list(runs)
    running: dict[int, Run] = {}  # command id -> run
    server: Server | None = None
    restarts = 0
    try:
        while queue or running:
            if server is None or not server.alive():
                for run in running.values():  # its children went with it (or are killed now)
                    if run.pid:
                        kill_run(run.pid)
                    run.done = True
                running.clear()
                if server is not None:
                    server.stop()
                    clear(user["uid"] if user else None)
                    restarts += 1
                    log.append(f"the sandbox's server was stopped from inside (start {restarts} of {RESTARTS})")
                    if restarts > RESTARTS:
                        break
                if not queue:
                    break
                server = Server(work, python, env, user, prefix, preload, hidden)
                server.start()
            now = time.monotonic()
            if now > deadline:
                for run in running.values():
                    run.stopped = "copy"
                    kill_run(run.pid)
                    run.done = True
                running.clear()
                break
            while queue and len(running) < lanes:
                run = queue.pop(0)
                run.started = run.last = time.monotonic()
                if not server.send(run.command):
                    queue.insert(0, run)
                    break
                running[run.command["id"]] = run
            for message in server.messages(0.05):
                started = running.get(message.get("id"))  # type: ignore[arg-type]
                if started is None:
                    continue
                if "pid" in message:
                    started.pid = server.pid(int(message["pid"]))
                if "exit" in message:
                    started.ended = time.monotonic()
                    started.exit = int(message["exit"])
                    started.done = True
                    _tail(started)
                    running.pop(started.command["id"], None)
                    kill_run(started.pid)  # what it left behind in its session
            for run in list(running.values()):
                _tail(run)
                now = time.monotonic()
                allowed = (STARTUP if run.last == run.started else 0.0) + timeout + min(GRACE, max(1.0, timeout))
                if now - run.last > allowed or (run.limit and now - run.started > run.limit + STARTUP):
                    run.stopped = "timeout" if now - run.last > allowed else "total"
                    if run.pid:
                        kill_run(run.pid)
                    run.done = True
                    running.pop(run.command["id"], None)
            reap()
    finally:
        if server is not None:
            server.stop()
        clear(user["uid"] if user else None)
    for run in queue:
        run.stopped = run.stopped or "copy"


# ---------------------------------------------------------------- the copy


def dependencies(root: Path) -> list[str]:
    """The [project] dependencies of a course's pyproject.toml, as pip takes them (read without tomllib,
    which Python 3.10 lacks)."""
    import re

    try:
        text = re.sub(r"#[^\n]*", "", (Path(root) / "pyproject.toml").read_text())  # comments
    except OSError:
        return []
    found = re.search(r"^\[project\].*?^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
    return ["".join(d.split()) for d in re.findall(r'"([^"]+)"', found.group(1))] if found else []


def preloads(course: Course) -> list[str]:
    """What the sandbox imports once before it forks: the test tools, and those of the course's
    dependencies it knows."""
    import re

    wanted = {re.split(r"[<>=!~\[;]", d, maxsplit=1)[0].lower() for d in dependencies(course.root)}
    always = {"pytest", "_pytest", "hypothesis", "_hypothesis_pytestplugin", "nbformat", "IPython"}
    return [m for m in sandbox.PRELOAD if m.split(".")[0] in always or m.split(".")[0] in wanted]


SYSTEM = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/dev", "/proc", "/sys", "/run", "/var")


def hideable(paths: list[str]) -> list[str]:
    """The folders to cover in the sandbox's mount namespace: the course, the students' copies, the
    grader's temporary folder; never the root, a folder of the system, or one at the top (/tmp, /home)."""
    out = []
    for path in paths:
        real = os.path.realpath(path)
        system = any(s == real or s.startswith(real.rstrip("/") + "/") or real.startswith(s + "/") for s in SYSTEM)
        if len(Path(real).parts) > 2 and not system and os.path.isdir(real):
            out.append(real)
    # a folder inside another is covered with it
    return sorted({p for p in out if not any(p.startswith(q.rstrip("/") + "/") for q in out if q != p)})


def kept(work: Path, edition: Path, python: str) -> list[str]:
    """What the sandbox needs of what is covered: its own folder, the public edition, Python and its packages."""
    import site
    import sysconfig

    places = {str(work), str(edition), sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(python))}
    places |= {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    places |= set(site.getsitepackages())
    return sorted(os.path.realpath(p) for p in places if p and os.path.exists(p))


def sandbox_env(work: Path, python: str) -> dict[str, str]:
    """The sandbox's environment: made here, nothing of the teacher's inherited."""
    home = work / "home"
    return {
        "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(home / "mpl"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "CI": "true",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def prepare(work: Path, user: dict | None) -> None:
    """The sandbox's folders: the graded copies readable (not writable) by the sandbox user, its home
    and the records writable; the work folder itself not listable by it."""
    for name in ("graded", "out", "home", "home/tmp", "home/mpl", "home/ipython", "home/runtime"):
        (work / name).mkdir(parents=True, exist_ok=True)
    shutil.copy(SANDBOX, work / "teacher_sandbox.py")
    os.chmod(work / "teacher_sandbox.py", 0o644)
    os.chmod(work, 0o711)
    os.chmod(work / "graded", 0o755)
    if user is not None:
        for name in ("out", "home", "home/tmp", "home/mpl", "home/ipython", "home/runtime"):
            os.chown(work / name, user["uid"], user["gid"])
            os.chmod(work / name, 0o700)


def limits(job: dict, user: dict | None) -> dict:
    return {
        "memory": int(job.get("memory_mb", 6144)) * 2**20,
        "processes": 256 if user is not None else None,  # counted per user: only for the sandbox's own
        "file_size": 256 * 2**20,
        "cpu": int(job.get("copy_timeout", 540)) + 60,
        "files": 1024,
        "core": 0,
    }


def notebook_command(i: int, code: Path, path: str, until: int, out: Path, timeout: float, box: dict) -> dict:
    """What the sandbox runs for a notebook of the copy ``code`` (its cells up to ``until``), records in ``out``."""
    return {
        "id": i,
        "kind": "notebook",
        "notebook": str(code / path),
        "cwd": str((code / path).parent),
        "tests_dir": str(code / "tests"),
        "until": until,
        "timeout": timeout,
        "records": str(out / f"nb{i}.jsonl"),
        "log": str(out / f"nb{i}.log"),
        "limits": box,
        "env": {"PYTHONPATH": str(code)},
    }


def pytest_command(
    i: int, name: str, root: Path, code: Path, tests: list[str], out: Path, timeout: float, box: dict
) -> dict:
    """What the sandbox runs for ``tests`` (node ids under ``root``) with ``code``'s package, records in ``out``."""
    return {
        "id": i,
        "kind": "pytest",
        "root": str(root),
        "cwd": str(code),
        "tests": [f"{root}/{t}" for t in tests],
        "timeout": timeout,
        "records": str(out / f"{name}.jsonl"),
        "log": str(out / f"{name}.log"),
        "limits": box,
        "env": {"PYTHONPATH": str(code)},
    }


def last_cells(cells: list[dict]) -> dict[str, int]:
    """Each notebook of these checking cells, and the last cell it must run to."""
    last: dict[str, int] = {}
    for c in cells:
        last[c["notebook"]] = max(last.get(c["notebook"], -1), c["index"])
    return last


def supervise(job: dict) -> dict:
    """Grade one copy (see the module docstring); returns {"rows": [...], "log": [...], "seconds": t}."""
    started = time.monotonic()
    subreaper()
    course = scan(Path(job["course"]))
    data = json.loads(Path(job["map"]).read_text())
    reference = json.loads(Path(job["reference"]).read_text())
    values = verdict.values_module(course.root)
    edition, student, work = Path(job["edition"]), Path(job["student"]), Path(job["work"])
    timeout, copy_timeout = float(job["timeout"]), float(job["copy_timeout"])
    user = job.get("user")
    log: list[str] = []
    exercises = data["exercises"]
    copy = isolate.read(course, student)
    kinds = {e: kind_of(course, e) for e in exercises}
    attempt = {e: copy.attempts.get(e, isolate.Attempt("stub")) for e in exercises}
    gradable = {t for t, r in reference["tests"].items() if r.get("ok")}
    tests = {e: [t for t in own_tests(data, e) if t in gradable] for e in exercises if kinds[e] == "library"}
    written = {e: exercises[e].get("layers", []) for e in exercises if kinds[e] == "test"}  # the student's tests
    versions = {e: test_versions(course, layers) for e, layers in written.items()}
    refused = {e: test_refused(copy, e, exercises[e]["tests"]) for e in written if attempt[e].state == "own"}
    tokens: dict[str, tuple[str, int]] = {}  # a run of a student's test -> (its exercise, the version)
    skip_notebooks = job.get("notebooks", "exercises") == "none"
    cells = {
        e: [c for c in exercises[e]["cells"] if skip_notebooks or reference["cells"].get(c["test"], {}).get("ok")]
        for e in exercises
        if kinds[e] == "notebook"
    }
    runs: list[Run] = []
    try:
        prepare(work, user)
        env = sandbox_env(work, job["python"])
        box = limits(job, user)
        # the notebooks first: they take longest
        attempted = {e for e in exercises if attempt[e].state in ("own", "solution") and kinds[e] != "hand"}
        wanted = last_cells(
            [c for e, found in cells.items() if attempt[e].state == "own" and not skip_notebooks for c in found]
        )
        if wanted:
            whole = work / "graded" / "all"
            isolate.write_graded(copy, edition, whole, attempted, notebooks=True)
            for path, until in sorted(wanted.items()):
                command = notebook_command(len(runs), whole, path, until, work / "out", timeout, box)
                runs.append(Run(path, command, limit=NOTEBOOK * timeout))
        for e in sorted(tests, key=exercise_key):
            if attempt[e].state != "own" or not tests[e]:
                continue
            graded = work / "graded" / e
            isolate.write_graded(copy, edition, graded, {e})
            command = pytest_command(len(runs), e, edition, graded, tests[e], work / "out", timeout, box)
            runs.append(Run(e, command, limit=EXERCISE * timeout))
        # a student's own test, against each version of its layer: one run each, in folders named at
        # random and in no telling order, so that nothing but what the layer computes tells them apart
        pending = [
            (e, n)
            for e in written
            if attempt[e].state == "own" and exercises[e]["tests"] and not refused[e]
            for n in range(len(versions[e]))
        ]
        for e, n in random.sample(pending, len(pending)):
            token = "t" + secrets.token_hex(8)
            graded = work / "graded" / token
            isolate.write_variant(course, copy, edition, graded, e, versions[e][n][2])
            command = pytest_command(
                len(runs), token, graded, graded, exercises[e]["tests"], work / "out", timeout, box
            )
            runs.append(Run(token, command, limit=EXERCISE * timeout))
            tokens[token] = (e, n)
        if runs:
            deadline = started + copy_timeout - 5.0
            lanes = int(job.get("lanes", 2))
            prefix = list(job.get("namespaces", []))
            hidden = (hideable(job.get("hide", [])), kept(work, edition, job["python"]))
            run_all(
                work, runs, job["python"], env, user, lanes, timeout, deadline, log, prefix, preloads(course), hidden
            )
        outcome = {run.name: (run, verdict.read_records(Path(run.command["records"]))) for run in runs}
        log += [f"{run.name}: {run.ended - run.started:.1f} s" for run in runs if run.ended]
    finally:
        clear(user["uid"] if user else None)
        shutil.rmtree(work, ignore_errors=True)
    ran: dict[str, list[bool | None]] = {e: [None] * len(v) for e, v in versions.items()}
    for token, (e, n) in tokens.items():
        found, _ = verdict.by_test(outcome.get(token, (None, []))[1])
        runs_of = [found.get(t) for t in exercises[e]["tests"]]
        if all(r is not None for r in runs_of):  # each test started: it passed, or it caught something
            ran[e][n] = all((r.get("end") or {}).get("outcome") == "passed" for r in runs_of if r is not None)
    rows = []
    for e in sorted(exercises, key=exercise_key):
        if kinds[e] == "test":
            rows.append(_test_row(course, data, e, attempt[e], versions[e], ran[e], refused.get(e, "")))
            continue
        rows.append(
            _row(
                course,
                data,
                e,
                kinds[e],
                attempt[e],
                tests.get(e),
                cells.get(e),
                outcome,
                reference,
                values,
                copy,
                timeout,
            )
        )
    return {"rows": [asdict(r) for r in rows], "log": log, "seconds": round(time.monotonic() - started, 2)}


def reference(
    course: Course,
    data: dict,
    solved: Path,
    work: Path,
    python: str,
    timeout: float,
    lanes: int,
    repeat: int = 2,
    notebooks: bool = True,
) -> dict:
    """The values the course's solution records in every graded test and checking cell (the solved
    edition, run as the grader runs a copy, repeat times: a value that changes from run to run is
    not compared). Runs the course's own code only; made before any copy is graded, kept out of the
    sandbox's sight."""
    values = verdict.values_module(course.root)
    exercises = data["exercises"]
    kinds = {e: kind_of(course, e) for e in exercises}
    tests = {e: own_tests(data, e) for e in exercises if kinds[e] == "library"}
    wanted = last_cells([c for e in exercises if kinds[e] == "notebook" and notebooks for c in exercises[e]["cells"]])
    rounds = []
    for attempt in range(repeat):
        folder = work / f"round{attempt}"
        prepare(folder, None)
        runs = [
            Run(path, notebook_command(i, solved, path, until, folder / "out", timeout, {}))
            for i, (path, until) in enumerate(sorted(wanted.items()))
        ]
        for e in sorted(tests, key=exercise_key):
            if tests[e]:
                runs.append(Run(e, pytest_command(len(runs), e, solved, solved, tests[e], folder / "out", timeout, {})))
        log: list[str] = []
        deadline = time.monotonic() + 3600
        run_all(
            folder, runs, python, sandbox_env(folder, python), None, lanes, timeout, deadline, log, [], preloads(course)
        )
        found: dict[str, dict] = {}
        for run in runs:
            records = verdict.read_records(Path(run.command["records"]))
            if run.command["kind"] == "pytest":
                found.update({f"t:{t}": r for t, r in verdict.by_test(records)[0].items()})
            else:
                found.update({f"c:{run.name}::cell {i}": r for i, r in verdict.by_cell(records).items()})
        rounds.append(found)
        shutil.rmtree(folder, ignore_errors=True)
    out: dict[str, Any] = {"tests": {}, "cells": {}, "problems": []}
    names = [f"t:{t}" for e in tests for t in tests[e]]
    names += [
        f"c:{c['test']}" for e in exercises if kinds[e] == "notebook" and notebooks for c in exercises[e]["cells"]
    ]
    for name in dict.fromkeys(names):
        first = rounds[0].get(name)
        end = (first or {}).get("end") or {}
        ok = first is not None and (end.get("outcome") == "passed" if name.startswith("t:") else bool(end.get("ok")))
        entry: dict[str, Any] = {"ok": ok, "values": (first or {}).get("values", []), "unstable": []}
        for other in rounds[1:]:
            again = (other.get(name) or {}).get("values", [])
            if len(again) != len(entry["values"]):
                entry["ok"] = False
                continue
            for i, (a, b) in enumerate(zip(entry["values"], again)):
                sides = [s for s in ("value", "expected") if s in a]
                if any(values.differ(b.get(s), a[s], a.get("atol", 0.0), a.get("rtol", 0.0)) for s in sides):
                    entry["unstable"].append(i)
        label = name[2:]
        if not ok:
            out["problems"].append(f"{label} does not pass on the course's solution in the grader: it is not graded")
        elif not entry["values"] and name.startswith("t:"):
            out["problems"].append(f"{label} checks no value with expect(): only its outcome decides it")
        if entry["unstable"]:
            changing = sorted(set(entry["unstable"]))
            out["problems"].append(f"{label}: checks {changing} change from run to run: not compared")
        out["tests" if name.startswith("t:") else "cells"][label] = entry
    return out


def _file_of(course: Course, exercise: str) -> str:
    return course.region(exercise).where.split(" cell ", 1)[0]


def _not_run(run: Run | None, timeout: float, what: str) -> str:
    if run is None:
        return f"not run: {what}"
    if run.stopped == "copy":
        return "not run: the copy's time ran out"
    if run.stopped == "timeout":
        return f"timed out after {timeout:g} s (stopped by the grader)"
    if run.stopped == "total":
        return f"not finished: {run.name} took longer than {run.limit:g} s in all"
    return "did not run"


def _row(
    course: Course,
    data: dict,
    e: str,
    kind: str,
    attempt: isolate.Attempt,
    tests: list[str] | None,
    cells: list[dict] | None,
    outcome: dict[str, tuple[Run, list[dict]]],
    reference: dict,
    values: Any,
    copy: isolate.Copy,
    timeout: float,
) -> Row:
    """The row of one exercise, from what the copy holds and what its runs recorded."""
    x = data["exercises"][e]
    region = course.region(e)
    base = dict(exercise=e, task=x["task"], where=x["where"], kind=kind, optional=bool(x.get("optional")))
    check = f"; run `make check EX={e}` to see it"
    if kind == "derivation":
        return Row(**base, passed=0, total=0, reason="graded by hand from the rubric", score=None)
    if kind == "hand":
        total = 1
    elif kind == "library":
        total = len(tests or [])
    else:
        total = len(cells or [])
    if attempt.state == "missing":
        path = _file_of(course, e)
        return Row(**base, passed=0, total=total, reason=f"file missing: {path} is not in the copy ({region.message})")
    if attempt.state == "stub":
        return Row(**base, passed=0, total=total, reason=course_runner.not_attempted(region.message))
    if attempt.state == "broken":
        return Row(**base, passed=0, total=total, reason=attempt.note)
    if not total:
        return Row(**base, passed=0, total=0, reason="no test of its own to grade it (tell your teacher)")
    if attempt.state == "solution":
        return Row(**base, passed=total, total=total, score=1.0)
    if kind == "notebook" and cells and cells[0]["notebook"] not in outcome:
        return Row(**base, passed=0, total=total, reason="not run (--notebooks none)")
    if kind == "hand":
        names = assigned_names(region.body) or []
        path = _file_of(course, e)
        sources = [cell.source for cell in _cells(course.root / path)]
        atol, rtol = verdict.tolerances(sources, e)
        ok, why = verdict.hand(copy.stretches[e].lines, list(region.body), names, atol, rtol, e)
        return Row(**base, passed=int(ok), total=1, reason=why + (check if why else ""), score=float(ok))
    if kind == "library":
        assert tests is not None
        run, records = outcome.get(e, (None, []))
        found, collect_error = verdict.by_test(records)
        passed, first, timed_out = 0, "", False
        for t in tests:
            ran = found.get(t)
            if timed_out:
                ok, why = False, f"not run: an earlier test of exercise {e} timed out"
            elif ran is None:
                ok, why = False, _not_run(run, timeout, "its exercise was not run")
                if collect_error:
                    why = "could not be collected: the test file does not import with your code"
            else:
                ok, why = verdict.judge(values, reference["tests"][t], ran, t)
                unfinished = ran.get("end") is None
                if (ran.get("end") or {}).get("outcome") == "timeout" or (unfinished and run and run.stopped):
                    timed_out = run is None or run.stopped in ("", "timeout")
                    why = f"timed out after {timeout:g} s" if timed_out else _not_run(run, timeout, "")
            passed += ok
            if not ok and not first:
                first = f"{t}: {why}{check}"
        return Row(**base, passed=passed, total=len(tests), reason=first, score=score(kind, passed, len(tests)))
    # a code exercise in a notebook: its checking cells, in the run of the student's whole notebook
    assert cells is not None
    path = cells[0]["notebook"]
    run, records = outcome.get(path, (None, []))
    cell_runs = verdict.by_cell(records)
    passed, first = 0, ""
    for c in cells:
        ran = cell_runs.get(c["index"])
        if ran is None:
            ok, why = False, "not run: an earlier cell stopped the notebook"
            if run is not None and run.stopped:
                why = _not_run(run, timeout, "")
        else:
            ok, why = verdict.judge(values, reference["cells"][c["test"]], ran, c["test"])
            if not ok and ran.get("end") is None and run is not None and run.stopped:
                why = _not_run(run, timeout, "")
        passed += ok
        if not ok and not first:
            first = f"{c['test']}: {why}{check}"
    return Row(**base, passed=passed, total=len(cells), reason=first, score=score(kind, passed, len(cells)))


def _test_row(
    course: Course,
    data: dict,
    e: str,
    attempt: isolate.Attempt,
    versions: list,
    ran: list[bool | None],
    refused: str = "",
) -> Row:
    """The row of a student's own test: the share of the wrong layers it catches (see test_verdict), or 0
    with the reason where it was refused (an expected value computed, not written: see test_refused)."""
    x = data["exercises"][e]
    region = course.region(e)
    total = sum(kind == "wrong" for kind, _, _ in versions)
    base = dict(
        exercise=e, task=x["task"], where=x["where"], kind="test", optional=bool(x.get("optional")), total=total
    )
    if attempt.state == "missing":
        return Row(
            **base, passed=0, reason=f"file missing: {_file_of(course, e)} is not in the copy ({region.message})"
        )
    if attempt.state == "stub":
        return Row(**base, passed=0, reason=course_runner.not_attempted(region.message))
    if attempt.state == "broken":
        return Row(**base, passed=0, reason=attempt.note)
    if refused:
        return Row(**base, passed=0, reason=refused)
    if not total:
        return Row(**base, passed=0, reason="no wrong layer to grade it against (tell your teacher)")
    if attempt.state == "solution":  # the course's own test, which catches every wrong layer
        return Row(**base, passed=total, score=1.0)
    caught, total, why = test_verdict(versions, ran)
    return Row(**base, passed=caught, reason=why, score=caught / total)


def _cells(path: Path) -> list:
    import nbformat

    try:
        return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    except Exception:  # noqa: BLE001
        return []


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    result = supervise(job)
    target = Path(argv[1])
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(result))
    os.replace(partial, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
