"""Grade a student's copy with the course's own tests, exercise by exercise, each on its own.

Which tests check which exercise is found, never kept by hand: an exercise's tests are the
tests of its own behaviour, those that fail when only that exercise is stubbed and every
other exercise holds the course's solution.

* unit tests: the course's tests run once against the *probe edition* (each region
  announces itself when it runs): a test that passes on the solutions and reaches a region
  may check that exercise. Each such (test, exercise) pair then runs again with only that
  region stubbed; the test is the exercise's own when it fails.
* notebook exercises: the same, with cells: the cells of the exercise's section (its cell
  and the code cells after it, up to the next exercise cell) and the cells that reach its
  code are run with only its stub in place; those that fail are its own.

Grading (``grade``, ``grade_all``): each copy is graded by a supervisor process of its own
(teacher.supervise) on graded copies that hold no solution, its tests run in a sandbox
(teacher.sandbox), and its marks decided from the values the tests recorded, compared with those of
the course's solution (``reference``, made once, kept out of the sandbox's sight). The reports are
written here, after every process of every copy has ended.
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import html
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

import teacher.runner as runner
from teacher import course_runner, isolate, supervise
from teacher.edition import MAP_VERSION, PACKAGE, STUDENT_TESTS, Course, exercise_key, write_edition
from teacher.runner import execute_notebook, run_tests, test_files
from teacher.supervise import Row

# ---------------------------------------------------------------- which test checks which exercise


def _needs_optional(exercise: str, runs: list[str]) -> bool:
    """A core exercise's test must not run an optional one: the student may skip those."""
    return not course_runner.optional(exercise) and any(course_runner.optional(e) for e in runs)


def notebook_tests(course: Course, probe: Path, timeout: float) -> dict[str, dict]:
    """The cells of each notebook exercise's own behaviour, and the first of them (its catch).

    Each notebook with exercise cells runs once in the probe edition with the solutions, to learn
    which exercises each cell reaches and which cells pass. Then, for each exercise, once with
    only its stub in place, up to its last candidate cell (the cells of its section: its cell
    and the code cells after it up to the next exercise cell, and the cells reaching its code):
    the candidates that passed with the solutions and fail now are its own cells.
    """
    paths = sorted(course.notebooks)
    with ThreadPoolExecutor(runner.WORKERS) as pool:
        solved_runs = list(
            pool.map(
                lambda path: {r["index"]: r for r in execute_notebook(probe / path, probe, timeout, probe=True)}, paths
            )
        )
    candidates: dict[str, tuple[str, list[int]]] = {}
    cell_ids: dict[str, list] = {}
    reached = {path: {i: r["hits"] for i, r in solved.items()} for path, solved in zip(paths, solved_runs)}
    for path, solved in zip(paths, solved_runs):
        cells = course.notebooks[path]
        nb = nbformat.read(course.root / path, as_version=nbformat.NO_CONVERT)
        cell_ids[path] = [cell.get("id") for cell in nb.cells]
        starts = sorted(cells)
        for k, start in enumerate(starts):
            stop = starts[k + 1] if k + 1 < len(starts) else len(nb.cells)
            for region in cells[start]:
                reach = {i for i, r in solved.items() if region.id in r["hits"]}
                section = {i for i in range(start, stop) if i in solved}
                candidates[region.id] = (path, sorted(i for i in reach | section if solved[i]["ok"]))

    def stubbed(exercise):
        path, cells = candidates[exercise]
        cells = [i for i in cells if not _needs_optional(exercise, reached[path][i])]
        if not cells:
            return exercise, []
        records = execute_notebook(probe / path, probe, timeout, exercise=exercise, until=max(cells))
        failed = {r["index"] for r in records if not r["ok"]}
        return exercise, [i for i in cells if i in failed]

    found = {}
    with ThreadPoolExecutor(runner.WORKERS) as pool:
        for exercise, own in pool.map(stubbed, sorted(candidates, key=exercise_key)):
            path = candidates[exercise][0]
            found[exercise] = {
                "cells": [
                    {"test": f"{path}::cell {i}", "notebook": path, "index": i, "id": cell_ids[path][i]} for i in own
                ],
                "reaches": {f"{path}::cell {i}": reached[path][i] for i in own},
                "caught_by": f"{path}::cell {own[0]}" if own else None,
                "reached": len(candidates[exercise][1]),
            }
    return found


def test_entry(course: Course, exercise: str, results: dict) -> dict:
    """The map's entry of a student's own test (kind "test"), from the course's tests as run on the probe
    edition: its test (the test function holding the region, which must pass on the solutions) and the
    layer exercises it runs (``layers``: those whose wrong versions the student's test must catch)."""
    region = course.region(exercise)
    tree = ast.parse((course.root / region.where).read_text(encoding="utf-8"))
    names = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.lineno <= region.line <= (node.end_lineno or node.lineno)
    ]
    mine = [
        f"{region.where}::{name}"
        for name in names
        if results.get((f"{region.where}::{name}", None), {}).get("outcome") == "passed"
    ]
    hits = {e for n in mine for e in results[(n, None)]["hits"]} - {exercise}
    return {
        "tests": mine,
        "cells": [],
        "caught_by": mine[0] if mine else None,
        "reached": len(mine),
        "layers": sorted(hits, key=exercise_key),
    }


def exercise_map(course: Course, timeout: float = 300.0) -> dict:
    """Find the tests of every exercise's own behaviour (see the module docstring)."""
    library = [r.id for path in course.sources for r in course.sources[path] if course.kind(r.id) == "library"]
    reach: dict[str, list[str]] = {exercise: [] for exercise in library}
    own: dict[str, list[str]] = {exercise: [] for exercise in library}
    caught: dict[str, str | None] = dict.fromkeys(library)
    seconds: dict[str, float] = dict.fromkeys(library, 0.0)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="teacher-probe-") as folder:
        probe = Path(folder)
        write_edition(course, probe, "probe")
        if library:  # run the course's tests once to see which exercises each one reaches
            results = run_tests(course, probe, test_files(course), timeout=timeout)
        for (nodeid, _), result in sorted(results.items()):
            # a test the student writes checks no library exercise: it is graded by the wrong layers it catches
            if result["outcome"] == "passed" and nodeid.split("::", 1)[0] not in STUDENT_TESTS:
                for exercise in result["hits"]:
                    reach.setdefault(exercise, []).append(nodeid)
        runs = [(nodeid, exercise) for exercise in library for nodeid in reach[exercise]]
        stubbed = run_tests(course, probe, [], runs=runs, timeout=timeout) if runs else {}
        for (nodeid, exercise), result in sorted(stubbed.items()):
            # a test that also runs an optional exercise is not one of a core exercise's tests
            if result["outcome"] == "failed" and not _needs_optional(exercise, results[(nodeid, None)]["hits"]):
                own[exercise].append(nodeid)
                seconds[exercise] += results[(nodeid, None)]["duration"]
        # most specific first: a test reaching one exercise is about it more surely than a network test
        # reaching twenty (the first test is the catch, and the first failed one gives the reason)
        for exercise, tests in own.items():
            tests.sort(key=lambda t: (len(results[(t, None)]["hits"]), t))
            naming = [t for t in tests if f"exercise {exercise}:" in stubbed[(t, exercise)].get("message", "")]
            caught[exercise] = (naming or tests)[0] if naming or tests else None
        notebooks = notebook_tests(course, probe, timeout)
    exercises = {}
    for exercise in course.ids:
        region = course.region(exercise)
        entry: dict[str, Any] = {
            "task": region.task,
            "where": f"{region.where}:{region.line}",
            "kind": course.kind(exercise),
            "optional": course_runner.optional(exercise),
        }
        if entry["kind"] == "derivation":
            entry.update(tests=[], cells=[], caught_by=None, reached=0)
        elif entry["kind"] == "test":
            entry.update(test_entry(course, exercise, results))
        elif exercise in notebooks:
            cells = notebooks[exercise]["cells"]
            entry.update(
                tests=[c["test"] for c in cells],
                cells=cells,
                caught_by=notebooks[exercise]["caught_by"],
                reached=notebooks[exercise]["reached"],
            )
        else:
            entry.update(
                tests=own.get(exercise, []),
                cells=[],
                caught_by=caught.get(exercise),
                reached=len(reach.get(exercise, [])),
                seconds=round(seconds.get(exercise, 0.0), 2),
            )
        exercises[exercise] = entry
    broken = sorted(n for (n, _), r in results.items() if r["outcome"] == "failed")
    # which exercises each of these tests runs: the self-check names the others a student changed
    reaches = {t: results[(t, None)]["hits"] for x in exercises.values() for t in x["tests"] if (t, None) in results}
    for found in notebooks.values():
        reaches.update(found["reaches"])
    return {
        "version": MAP_VERSION,
        "fingerprint": course.fingerprint(),
        "exercises": exercises,
        "reaches": reaches,
        "failing_on_solutions": {n: results[(n, None)]["message"][-1500:] for n in broken},
    }


def load_map(course: Course, cache: Path | None, timeout: float = 300.0) -> dict:
    """The exercise map, from cache when it was made from the same sources and tests."""
    if cache is not None and cache.exists():
        data = json.loads(cache.read_text())
        if data.get("version") == MAP_VERSION and data.get("fingerprint") == course.fingerprint():
            return data
    data = exercise_map(course, timeout=timeout)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(partial, cache)  # whole or not at all, also with two runs side by side
    return data


def problems(data: dict) -> list[str]:
    """What makes a course unfit to hand out: exercises no test catches, library exercises no test
    checks alone (their check could only wait), tests failing on the solutions."""

    def missing(x):
        if " cell " in x["where"]:
            return "no cell that runs after it fails when only its stub is in place (check its result in a later cell)"
        reached = x.get("reached", 0)
        return (
            f"{reached} test(s) run its code, but none fails when only its stub is in place; add a unit "
            f"test of its behaviour"
            if reached
            else "add a unit test that runs it (a test that fails on the solutions does not count)"
        )

    out = [
        f"exercise {e} ({x['where']}) is not caught by any test: {missing(x)}"
        for e, x in data["exercises"].items()
        if not x["caught_by"] and x.get("kind") != "derivation"
    ]
    reaches = data.get("reaches", {})
    out += [
        f"exercise {e} ({x['where']}) has no test of its own: each of its tests also runs another exercise "
        f"({', '.join(sorted({o for t in x['tests'] for o in reaches.get(t, []) if o != e}, key=exercise_key))}), "
        f"so with only {e} done its check can only wait; add a test of its values that runs it alone "
        f"(python -m teacher reach FILE shows what each test runs)"
        for e, x in data["exercises"].items()
        if x["kind"] == "library" and x["tests"] and not any(reaches.get(t) == [e] for t in x["tests"])
    ]
    from teacher import wrong

    out += [
        f"exercise {e} ({x['where']}): the student's test runs no layer exercise that has wrong versions in "
        f"teacher.wrong ({', '.join(x.get('layers', [])) or 'none'}): there is nothing for it to catch"
        for e, x in data["exercises"].items()
        if x["kind"] == "test" and x["caught_by"] and not any(wrong.WRONG.get(o) for o in x.get("layers", []))
    ]
    out += [f"{n} fails on the solutions:\n{m}" for n, m in data["failing_on_solutions"].items()]
    return out


# ---------------------------------------------------------------- grading

TOOLS = Path(__file__).resolve().parents[1]
SANDBOX_UID = 62000  # as root, copy slot n runs its student's code as uid (and gid) 62000 + n
TIMEOUT = 60.0  # seconds per test or notebook cell
COPY_TIMEOUT = 540.0  # seconds for a whole copy: inside Gradescope's default 10 minutes


def _private(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def reference_file(
    course: Course, data: dict, timeout: float = TIMEOUT, lanes: int = 2, repeat: int = 2, notebooks: bool = True
) -> Path:
    """The course's solution run (teacher.supervise.reference), cached in ROOT/build/grader/ (a folder
    only the teacher can read) while the course, its map and the sandbox are the same. repeat: runs
    compared to find the values that change from run to run; notebooks: also the notebooks' cells."""
    key = hashlib.sha256(f"{repeat} {notebooks}".encode())
    key.update(course.fingerprint().encode())
    key.update(json.dumps([data["exercises"], data.get("reaches", {})], sort_keys=True).encode())
    for tool in (supervise.SANDBOX, Path(supervise.__file__)):
        key.update(tool.read_bytes())
    folder = _private(course.root / "build" / "grader")
    path = folder / f"reference-{key.hexdigest()[:16]}.json"
    if path.exists():
        return path
    with tempfile.TemporaryDirectory(prefix="teacher-reference-") as tmp:
        solved = Path(tmp) / "solved"
        write_edition(course, solved, "solved")
        work = Path(tmp) / "work"
        found = supervise.reference(course, data, solved, work, sys.executable, timeout, lanes, repeat, notebooks)
    # three are kept, the new one and the two latest before it (the teacher's, the tests', another lane's)
    for old in sorted(folder.glob("reference-*.json"), key=lambda p: p.stat().st_mtime)[:-2]:
        old.unlink()
    for problem in found["problems"]:  # once, when the course changed
        print(f"warning: {problem}", file=sys.stderr)
    partial = path.with_name(path.name + f".{os.getpid()}")
    partial.write_text(json.dumps(found))
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return path


def _free_uid(slot: int) -> dict[str, int]:
    uid = SANDBOX_UID + slot
    while supervise.processes_of(uid):  # another run's sandbox: take the next
        uid += 64
    return {"uid": uid, "gid": uid}


def _others_can_use(path: Path) -> str:
    """'' when a user who is neither owner nor group can reach path (every folder on the way
    searchable, a file readable, a folder searchable), else the first place that stops it."""
    path = Path(os.path.realpath(path))
    for part in [*reversed(path.parents), path]:
        try:
            mode = part.stat().st_mode
        except OSError as error:
            return f"{part} ({error.strerror})"
        if part != path and not mode & stat.S_IXOTH:
            return f"{part} is not searchable by other users"
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
        return f"{path} is not searchable by other users"
    if not stat.S_ISDIR(mode) and not mode & stat.S_IROTH:
        return f"{path} is not readable by other users"
    return ""


def sandbox_user(slot: int, python: str | None = None) -> tuple[dict[str, int] | None, str]:
    """As root: the unprivileged user copy slot n's code runs as, or None and why it cannot be (the
    interpreter or its packages are out of that user's reach, e.g. a Python under /root)."""
    if os.geteuid() != 0:
        return None, ""
    why = _unreachable(python or sys.executable)
    return (None, why) if why else (_free_uid(slot), "")


@functools.lru_cache(maxsize=8)
def _unreachable(python: str) -> str:
    """'' when every user can run python and read its packages, else what stops them: every folder
    the interpreter imports from counts, those a .pth file adds too (a virtual environment whose
    packages live in another one, under a folder only its owner can enter, imports nothing there)."""
    code = "import os, sys; print(*(p for p in sys.path if p and os.path.exists(p)), sep='\\n')"
    paths = subprocess.run([python, "-c", code], capture_output=True, text=True, env={}).stdout.splitlines()
    for needed in (Path(python), *map(Path, paths)):
        why = _others_can_use(needed)
        if why:
            return why
    return ""


def isolation() -> str:
    """How the students' code is kept from the grader here, in words (the README explains each)."""
    user, _ = sandbox_user(0)
    parts = ["a user of its own"] if user is not None else []
    if supervise.namespaces(os.geteuid() == 0):
        parts.append("namespaces of its own (no process of the grader in sight, no network)")
    return " and ".join(parts) or "the grader's own user (no namespaces on this system): see the README"


def _readable(path: Path) -> None:
    """The edition, for the sandbox user: folders 0755, files 0644 (it is public)."""
    for folder, _, files in os.walk(path):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


class Class:
    """What grading needs once for all copies: the map, the student edition, the solution's run."""

    def __init__(
        self, course: Course, data: dict, tmp: Path, timeout: float, lanes: int, repeat: int = 2, notebooks: bool = True
    ):
        self.course, self.data, self.tmp = course, data, tmp
        self.reference = reference_file(course, data, timeout, lanes, repeat, notebooks)
        self.edition = tmp / "edition"
        write_edition(course, self.edition, "student")
        _readable(self.edition)
        os.chmod(tmp, 0o711)
        self.map = tmp / "map.json"
        self.map.write_text(json.dumps(data))
        os.chmod(self.map, 0o600)
        # as root, the students' code runs as a user of its own where that user can reach Python and
        # the graded copies (this temporary folder: TMPDIR must be searchable by every user)
        self.drop = os.geteuid() == 0 and sandbox_user(0)[0] is not None and not _others_can_use(tmp)
        if os.geteuid() == 0 and sandbox_user(0)[0] is not None and not self.drop:
            print(
                f"warning: the students' code cannot run as a user of its own: {_others_can_use(tmp)} "
                f"(TMPDIR={tmp.parent}); it runs as root, without capabilities where namespaces allow",
                file=sys.stderr,
            )


def _failed_rows(course: Course, data: dict, why: str) -> list[Row]:
    rows = []
    for e, x in sorted(data["exercises"].items(), key=lambda kv: exercise_key(kv[0])):
        kind = supervise.kind_of(course, e)
        rows.append(
            Row(
                e,
                x["task"],
                x["where"],
                0,
                0 if kind == "derivation" else max(1, len(x["tests"])),
                "graded by hand from the rubric" if kind == "derivation" else why,
                kind,
                bool(x.get("optional")),
                None if kind == "derivation" else 0.0,
            )
        )
    return rows


def grade_copy(
    shared: Class,
    student: Path,
    slot: int = 0,
    timeout: float = TIMEOUT,
    copy_timeout: float = COPY_TIMEOUT,
    lanes: int = 2,
    notebooks: str = "exercises",
    memory_mb: int = 6144,
) -> tuple[list[Row], float]:
    """One copy, by a supervisor process of its own (teacher.supervise); its rows and seconds. A
    supervisor that does not finish in time, or is killed, costs only this copy: every row says so."""
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix=f"copy{slot}-", dir=shared.tmp))
    os.chmod(folder, 0o711)
    user = sandbox_user(slot)[0] if shared.drop else None
    job = {
        "course": str(shared.course.root),
        "map": str(shared.map),
        "reference": str(shared.reference),
        "edition": str(shared.edition),
        "student": str(Path(student).resolve()),
        "work": str(folder / "work"),
        "timeout": timeout,
        "copy_timeout": copy_timeout,
        "lanes": lanes,
        "notebooks": notebooks,
        "python": sys.executable,
        "memory_mb": memory_mb,
        "user": user,
        "namespaces": supervise.namespaces(os.geteuid() == 0),
        # out of the sandbox's sight: the course (its solutions, the reference run), the student's folder
        # and the one holding the class's copies, the grader's temporary folder (other copies' work)
        "hide": [
            str(shared.course.root),
            str(Path(student).resolve()),
            str(Path(student).resolve().parent),
            str(shared.tmp),
        ],
    }
    (folder / "job.json").write_text(json.dumps(job))
    result = folder / "result.json"
    env = {**os.environ, "PYTHONPATH": str(TOOLS), "PYTHONDONTWRITEBYTECODE": "1"}
    with open(folder / "supervisor.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "teacher.supervise", str(folder / "job.json"), str(result)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            process.wait(timeout=copy_timeout + 60)
            why = f"the grader's process for this copy ended without a result (status {process.returncode})"
        except subprocess.TimeoutExpired:
            why = f"not graded: the copy's grading did not finish in {copy_timeout + 60:g} s"
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            supervise.kill(supervise.descendants(process.pid) + [process.pid])
            process.wait()
            if user is not None:
                supervise.kill(supervise.processes_of(user["uid"]))
    try:
        rows = [Row(**r) for r in json.loads(result.read_text())["rows"]]
    except (OSError, ValueError, TypeError, KeyError):
        tail = (folder / "supervisor.log").read_text(errors="replace")[-2000:]
        print(f"warning: {Path(student).name}: {why}\n{tail}", file=sys.stderr)
        rows = _failed_rows(shared.course, shared.data, why)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows, time.monotonic() - started


def grade_all(
    course: Course,
    data: dict,
    students: list[Path],
    timeout: float = TIMEOUT,
    copy_timeout: float = COPY_TIMEOUT,
    jobs: int = 1,
    lanes: int | None = None,
    notebooks: str = "exercises",
    report: Callable[[str], None] = print,
    memory_mb: int = 6144,
    repeat: int = 2,
) -> dict[str, list[Row]]:
    """Grade every copy, jobs copies side by side (each in its own supervisor process, its code in its
    own sandbox), lanes test processes per copy. Returns when every process of every copy has ended."""
    if notebooks not in ("exercises", "none"):
        raise ValueError(f"grade: notebooks must be 'exercises' or 'none', got {notebooks!r}")
    for student in students:
        if not (Path(student) / PACKAGE).is_dir():
            raise FileNotFoundError(f"grade: {student} has no {PACKAGE}/ folder (is it a copy of the student edition?)")
    jobs = max(1, jobs)
    lanes = lanes or max(1, min(2, (os.cpu_count() or 1) // jobs))
    supervise.subreaper()
    user, why = sandbox_user(0)
    if os.geteuid() == 0 and user is None:
        print(
            f"warning: grading as root, but the students' code cannot run as an unprivileged user here: {why}; "
            "it runs as root (install Python and the course's packages where every user can read them, "
            "as make gradescope's setup.sh does)",
            file=sys.stderr,
        )
    out: dict[str, list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="teacher-grade-") as tmp:
        shared = Class(course, data, Path(tmp), timeout, max(lanes, 2), repeat, notebooks != "none")

        def one(item):
            slot, student = item
            rows, seconds = grade_copy(shared, student, slot % jobs, timeout, copy_timeout, lanes, notebooks, memory_mb)
            report(f"graded {Path(student).name} in {seconds:.1f} s")
            return Path(student).name, rows

        try:
            with ThreadPoolExecutor(jobs) as pool:
                for name, rows in pool.map(one, list(enumerate(students))):
                    out[name] = rows
        finally:
            supervise.clear()  # nothing of any copy outlives the run
    return out


def grade(
    course: Course,
    data: dict,
    student: Path,
    timeout: float = TIMEOUT,
    notebooks: str = "exercises",
    report: Callable[[str], None] = print,
    copy_timeout: float = COPY_TIMEOUT,
    lanes: int | None = None,
) -> list[Row]:
    """Score one student's copy: one row per exercise (see grade_all)."""
    student = Path(student).resolve()
    return grade_all(course, data, [student], timeout, copy_timeout, 1, lanes, notebooks, report)[student.name]


def _file_of(course: Course, exercise: str) -> str:
    """The course file an exercise lives in: "scratchlib/layers/base.py" or "notebooks/03_x.ipynb"."""
    return course.region(exercise).where.split(" cell ", 1)[0]


def _mean(rows: list[Row]) -> float | None:
    scored = [r.score for r in rows if r.score is not None]
    return sum(scored) / len(scored) if scored else None


def scores(rows: list[Row]) -> dict[str, float | None]:
    """The core score (mean over the autograded core exercises) and the optional score, apart."""
    return {
        "core": _mean([r for r in rows if not r.optional and not r.manual]),
        "optional": _mean([r for r in rows if r.optional and not r.manual]),
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(rows: list[Row]) -> str:
    lines = [f"{'exercise':<9} {'passed':>6} {'total':>6} {'score':>6}  task / why not full marks"]
    for r in rows:
        shown = "hand" if r.manual else f"{r.score:.2f}"
        part = " (optional)" if r.optional else ""
        lines.append(f"{r.exercise:<9} {r.passed:>6} {r.total:>6} {shown:>6}  {r.task}{part}")
        if r.reason:
            lines.append(f"{'':<31}  -> {r.reason}")
    both = scores(rows)
    core = [r for r in rows if not r.optional and not r.manual]
    extra = [r for r in rows if r.optional and not r.manual]
    manual = [r for r in rows if r.manual]
    lines.append(
        f"{'core':<9} {'':>6} {'':>6} {_percent(both['core']):>6}  mean over {len(core)} autograded core exercises"
    )
    lines.append(
        f"{'optional':<9} {'':>6} {'':>6} {_percent(both['optional']):>6}  mean over {len(extra)} optional exercises"
    )
    if manual:
        lines.append(
            f"{'by hand':<9} {'':>6} {'':>6} {'':>6}  {len(manual)} derivations to grade by hand: "
            + ", ".join(r.exercise for r in manual)
        )
    return "\n".join(lines)


def to_csv(graded: dict[str, list[Row]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "exercise", "passed", "total", "score", "reason", "where", "task", "part", "graded"])
    for name, rows in graded.items():
        for r in rows:
            writer.writerow(
                [
                    name,
                    r.exercise,
                    r.passed,
                    r.total,
                    "" if r.score is None else f"{r.score:.4f}",
                    r.reason,
                    r.where,
                    r.task,
                    "optional" if r.optional else "core",
                    "by hand" if r.manual else "auto",
                ]
            )
    return out.getvalue()


def to_wide_csv(graded: dict[str, list[Row]]) -> str:
    """One row per student, one column per exercise (its score 0..1; "by hand" for a derivation; empty
    where the student has no row for it), the core score and the optional score: for a gradebook."""
    exercises = sorted({r.exercise for rows in graded.values() for r in rows}, key=exercise_key)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *exercises, "core", "optional"])
    for name, rows in graded.items():
        score = {r.exercise: r.score for r in rows}
        both = scores(rows)
        writer.writerow(
            [
                name,
                *(
                    f"{score[e]:.4f}" if score.get(e) is not None else "by hand" if e in score else ""
                    for e in exercises
                ),
                "" if both["core"] is None else f"{both['core']:.4f}",
                "" if both["optional"] is None else f"{both['optional']:.4f}",
            ]
        )
    return out.getvalue()


def to_html(name: str, rows: list[Row]) -> str:
    """One student's report, to hand back: each exercise, its score, and why marks were lost."""
    both = scores(rows)
    body = "".join(
        f"<tr><td>{html.escape(r.exercise)}</td><td>{html.escape(r.task)}</td>"
        f"<td>{'optional' if r.optional else 'core'}</td><td>{r.passed}/{r.total}</td>"
        f"<td>{'by hand' if r.manual else f'{r.score:.2f}'}</td><td>{html.escape(r.reason)}</td></tr>"
        for r in rows
    )
    optional = "" if both["optional"] is None else f", optional {both['optional']:.0%}"
    core = "-" if both["core"] is None else f"{both['core']:.0%}"
    return (
        f"<!doctype html><meta charset=utf-8><title>scratchlib: {html.escape(name)}</title>"
        f"<h1>{html.escape(name)}: core {core}{optional}</h1><table border=1 cellpadding=4>"
        f"<tr><th>exercise</th><th>task</th><th>part</th><th>tests passed</th><th>score</th>"
        f"<th>why not full marks</th></tr>{body}</table>\n"
    )


def rubric(course: Course, graded: dict[str, list[Row]], students: dict[str, Path]) -> str:
    """For the teacher only (it holds solutions): each derivation's rubric (the course's worked
    derivation) and what each student wrote for it."""
    parts = ["# Derivations to grade by hand (teacher only: this file holds the rubrics)\n"]
    manual = sorted({r.exercise for rows in graded.values() for r in rows if r.manual}, key=exercise_key)
    for e in manual:
        region = course.region(e)
        parts.append(f"## {e}: {region.task}\n\nRubric ({region.where}):\n\n{''.join(region.body).strip()}\n")
        for name, folder in students.items():
            text = isolate.derivation_text(course, folder, e).strip()
            parts.append(f"### {name}\n\n{text or '(nothing written)'}\n")
    return "\n".join(parts)
