"""Run the course's tests and notebooks against some copy of the package, safely.

Built on the course runner (teacher.course_runner, the one behind `make check`): each test
runs in a child pytest (loaded with teacher.pytest_plugin) with a time limit per test
(pytest-timeout) and a watchdog; a test that hangs or kills its process costs that test, and
the rest are run again. Notebooks run in a fresh kernel, outputs not compared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from teacher import course_runner
from teacher.edition import TEACHER_ONLY, Course

TOOLS = Path(__file__).resolve().parents[1]


def test_files(course: Course) -> list[str]:
    return [
        f
        for f in course.files
        if f.startswith("tests/")
        and f.rsplit("/", 1)[-1].startswith("test_")
        and f.endswith(".py")
        and not f.startswith(TEACHER_ONLY)
    ]


WORKERS = int(os.environ.get("TEACHER_WORKERS", min(2, os.cpu_count() or 1)))

Run = tuple  # (node id, exercise or None): one test, run with that exercise under test


def run_tests(
    course: Course,
    code_dir: Path,
    files: list[str],
    runs: list[Run] | None = None,
    timeout: float = 120.0,
    workers: int | None = None,
) -> dict[Run, dict]:
    """Run the course's tests (files, or only the given runs) with code_dir's package.

    runs: (node id, exercise) pairs; a test is run once per exercise named with it, with that
    exercise under test (see teacher.pytest_plugin). Returns (node id, exercise) -> {"outcome",
    "duration", "hits", "message", "reason"}; a whole run of files gives (node id, None) keys. A
    test that hangs past the time limit or takes its process down is "failed" with the reason;
    the others still run. The work is shared out over `workers` pytest processes side by side:
    whole files, or with runs, each exercise's runs of one file kept together.
    """
    if runs is not None:
        runs = sorted({(nodeid, exercise) for nodeid, exercise in runs}, key=lambda r: (r[0], r[1] or ""))
        units: dict = {}
        for run in runs:
            units.setdefault((run[0].split("::", 1)[0], run[1] or ""), []).append(run)
        weight = {unit: len(part) for unit, part in units.items()}
    else:
        units = {(f, ""): f for f in files}
        weight = {unit: (course.root / unit[0]).stat().st_size for unit in units}
    if not units:
        return {}
    shards: list[list] = [[] for _ in range(max(1, min(workers or WORKERS, len(units))))]
    for unit in sorted(units, key=lambda u: (-weight[u], u)):  # heaviest first, into the lightest shard
        min(shards, key=lambda shard: sum(weight[u] for u in shard)).append(unit)
    jobs: list[tuple[list, list | None]]
    if runs is not None:
        jobs = [(sorted({u[0] for u in shard}), [r for u in shard for r in units[u]]) for shard in shards]
    else:
        jobs = [(sorted(u[0] for u in shard), None) for shard in shards]
    results: dict = {}
    with ThreadPoolExecutor(len(jobs)) as pool:
        for part in pool.map(lambda job: _run_shard(course, code_dir, job[0], job[1], timeout), jobs):
            results.update(part)
    return results


def _run_shard(course: Course, code_dir: Path, files: list[str], runs: list[Run] | None, timeout: float) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="teacher-run-") as folder:
        work = Path(folder)
        remaining, todo, reason = set(runs or ()), runs, ""
        attempt = 0
        while True:  # each round either finishes or drops the tests that crashed, so it ends
            done, started, collected, reason = _run_once(course, code_dir, files, todo, timeout, work, attempt)
            if todo is None:  # the first run collected the tests itself
                if collected is None:
                    raise RuntimeError(f"could not collect the course's tests: {reason}")
                remaining = {(nodeid, None) for nodeid in collected}
            crashed = [run for run in started if run not in done]
            results.update({run: r for run, r in done.items() if run in remaining})
            for run in crashed:
                results[run] = {
                    "outcome": "failed",
                    "duration": 0.0,
                    "hits": [],
                    "message": f"the test did not finish: {reason}",
                    "reason": "the test did not finish: " + (reason.splitlines() or ["it crashed"])[0],
                }
            remaining -= set(done) | set(crashed)
            if not crashed or not remaining:  # what is left was not collected; nor will it be next time
                break
            todo = sorted(remaining, key=lambda r: (r[0], r[1] or ""))
            attempt += 1
        for run in sorted(remaining, key=lambda r: (r[0], r[1] or "")):
            results[run] = {
                "outcome": "failed",
                "duration": 0.0,
                "hits": [],
                "message": f"the test could not be collected: {reason}",
                "reason": "the test could not be collected (does the copy import?)",
            }
    return results


def _env(code_dir: Path, work: Path, name: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(code_dir).resolve()), str(TOOLS)])
    env.update(
        {
            "TEACHER_RESULTS": str(work / f"{name}.jsonl"),
            "CI": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg",
            "PYTHONHASHSEED": "0",
            "TEACHER_TIMEOUT": "0",
        }
    )
    for key in ("TEACHER_SELECT", "TEACHER_COLLECT", "TEACHER_STUB", "TEACHER_PROBE_LOG", "TEACHER_EXERCISE"):
        env.pop(key, None)
    return env


def _pytest(course: Course, files: list[str], timeout: float) -> list[str]:
    # pytest-timeout's limit is a backstop to the plugin's alarm
    return course_runner.child_pytest(
        course.root,
        "teacher.pytest_plugin",
        timeout + 30,
        [
            "--tb=short",
            "-o",
            "console_output_style=classic",
            "--continue-on-collection-errors",
            # the browser test drives JupyterLab in Chromium: minutes, and it checks what a student
            # sees, no exercise's behaviour (its kernels are not this process)
            "-m",
            "not browser",
            *[str(course.root / f) for f in files],
        ],
    )


def _run_once(course, code_dir, files, runs, timeout, work, attempt):
    name = f"run{attempt}"
    env = _env(code_dir, work, name)
    env["TEACHER_COLLECT"] = str(work / f"{name}-collected.json")
    env["TEACHER_TIMEOUT"] = f"{timeout:g}"
    if runs is not None:
        (work / f"{name}-select.json").write_text(json.dumps(runs))
        env["TEACHER_SELECT"] = str(work / f"{name}-select.json")
        files = sorted({nodeid.split("::", 1)[0] for nodeid, _ in runs})
    results_file = Path(env["TEACHER_RESULTS"])
    log = open(work / f"{name}.log", "w+")
    process = subprocess.Popen(
        _pytest(course, files, timeout), cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    reason, last_size, last_change = "", -1, time.monotonic()
    while process.poll() is None:
        time.sleep(0.2)
        size = results_file.stat().st_size if results_file.exists() else 0
        if size != last_size:
            last_size, last_change = size, time.monotonic()
        elif time.monotonic() - last_change > timeout + 60:  # neither the alarm nor pytest-timeout stopped it
            reason = f"timed out after {timeout:g} s (the grader stopped its process)"
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    started_records, done_records = course_runner.read_records(results_file)
    started = [(record["nodeid"], record.get("exercise")) for record in started_records]
    done = {(record.pop("nodeid"), record.pop("exercise", None)): record for record in done_records}
    log.seek(0)
    tail = log.read()[-2000:]
    log.close()
    if not reason and process.returncode not in (0, 1, 5):
        reason = f"pytest exited with status {process.returncode}"
    collected_file = Path(env["TEACHER_COLLECT"])
    collected = json.loads(collected_file.read_text()) if collected_file.exists() else None
    return done, started, collected, (reason + "\n" + tail).strip()


def execute_notebook(
    path: Path,
    code_dir: Path,
    timeout: float = 300.0,
    stop_on_error: bool = False,
    stubs: Sequence[str] = (),
    probe: bool = False,
    exercise: str = "",
    until: int | None = None,
) -> list[dict]:
    """Run a notebook in a fresh kernel with code_dir's package first on the path.

    Returns the course runner's record per code cell (index, id, ok, error: the exception line,
    reason: one line) and hits: with probe (code_dir is a probe edition), the exercises the cell
    reached. stubs are the exercises whose stub the probe raises; exercise is the one under test (a
    graded copy runs the student's code for it, the solutions for the others; the probe edition
    raises its stub). With stop_on_error, stops at the first failing cell, as Run All does in the
    lab; with until, after that cell.
    """
    log = Path(tempfile.mkstemp(prefix="teacher-probe-", suffix=".log")[1])
    settings = {
        "PYTHONPATH": str(Path(code_dir).resolve()),
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TEACHER_STUB": ",".join(stubs),
        "TEACHER_PROBE_LOG": str(log) if probe else "",
        "TEACHER_EXERCISE": exercise,
    }
    seen = 0

    def hits(record):  # what the probe logged while this cell ran
        nonlocal seen
        with open(log) as f:
            f.seek(seen)
            record["hits"] = sorted(set(f.read().split()))
            seen = f.tell()

    try:
        return course_runner.execute_notebook(
            path, settings, timeout, until=until, stop_on_error=stop_on_error, after_cell=hits
        )
    finally:
        log.unlink()
