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

Grading runs these tests with the isolation rule (see teacher.isolate): exercise k is run with
the student's code for k and the course's solution for every other exercise, so a correct
exercise gets full marks whatever its neighbours hold. The tests and notebooks run through
teacher.runner: a time limit per test, and a crash costs only the test that crashed.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

import teacher.runner as runner
from teacher import course_answers, course_runner, isolate
from teacher.edition import MAP_VERSION, PACKAGE, Course, exercise_key, write_edition
from teacher.runner import execute_notebook, run_tests, test_files

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


def exercise_map(course: Course, timeout: float = 300.0) -> dict:
    """Find the tests of every exercise's own behaviour (see the module docstring)."""
    library = [r.id for path in course.sources for r in course.sources[path]]
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
            if result["outcome"] == "passed":
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
    out += [f"{n} fails on the solutions:\n{m}" for n, m in data["failing_on_solutions"].items()]
    return out


# ---------------------------------------------------------------- grading


@dataclass
class Row:
    exercise: str
    task: str
    where: str
    passed: int
    total: int
    reason: str = ""  # one line: why the first failed test failed ("" when all passed)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0


def _isolated(tests: dict[str, list[str]], run: Callable[[list[tuple[str, str]]], dict]) -> dict:
    """(test, exercise) -> result for every exercise's tests, each as if run with only that exercise's
    code from the student (see grade).

    First one combined run, every attempted exercise holding the student's code ("*" under test): a
    test that passes there passes (the student's code together does what it asks; only errors that
    cancel out could hide there). A test that fails runs again once per exercise it checks, with only
    that exercise's code from the student, and that run decides. So a copy costs one run of its
    exercises' tests, and a second only for what fails. run(runs) runs (test, exercise) pairs.
    """
    union = sorted({t for ts in tests.values() for t in ts})
    if not union:
        return {}
    first = run([(t, "*") for t in union])
    again = [(t, e) for e, ts in tests.items() for t in ts if first.get((t, "*"), {}).get("outcome") != "passed"]
    second = run(again) if again else {}
    return {
        (t, e): second.get((t, e)) or first.get((t, "*")) or {"outcome": "failed", "reason": "not run"}
        for e, ts in tests.items()
        for t in ts
    }


def _run_cells(copy: Path, exercises: dict, runs: list, timeout: float, report: Callable[[str], None]) -> dict:
    """Run checking cells: (cell test, exercise or "*") pairs; one kernel per notebook and exercise,
    up to the last cell asked for."""
    jobs: dict[tuple[str, str], set[str]] = {}
    for test, exercise in runs:
        jobs.setdefault((test.split("::", 1)[0], exercise), set()).add(test)

    def one(job):
        (path, exercise), tests = job
        cells = {int(t.rsplit(" ", 1)[1]): t for t in tests}
        records = {
            r["index"]: r for r in execute_notebook(copy / path, copy, timeout, exercise=exercise, until=max(cells))
        }
        ok = sum(r["ok"] for r in records.values())
        who = "the student's code for every exercise" if exercise == "*" else f"exercise {exercise}"
        report(f"{path} with {who}: {ok}/{len(records)} cells ran")
        return {
            (test, exercise): {
                "outcome": "passed" if records.get(i, {}).get("ok") else "failed",
                "reason": course_runner.cell_reason(records.get(i)),
            }
            for i, test in cells.items()
        }

    out: dict = {}
    with ThreadPoolExecutor(runner.WORKERS) as pool:
        for part in pool.map(one, sorted(jobs.items())):
            out.update(part)
    return out


def grade(
    course: Course,
    data: dict,
    student: Path,
    timeout: float = 120.0,
    notebooks: str = "exercises",
    report: Callable[[str], None] = print,
) -> list[Row]:
    """Score a student's copy: one row per exercise (its own tests passed, of its own tests).

    Each exercise is graded on its own (teacher.isolate): its tests run with the student's
    code for it and the course's solution for every other exercise, all in one graded copy.
    An exercise still stubbed scores 0 and one holding the solution's text full marks, neither
    run. Library exercises are scored by the course's unit tests, notebook exercises by their
    checking cells. notebooks: "exercises" (run the notebook exercises, the default), "all"
    (also run the notebooks without exercises, reported, not scored) or "none".
    """
    student = Path(student).resolve()
    if not (student / PACKAGE).is_dir():
        raise FileNotFoundError(f"grade: {student} has no {PACKAGE}/ folder (is it a copy of the student edition?)")
    chosen = {
        "none": set(),
        "exercises": set(),
        "all": {f for f in course.files if f.startswith("notebooks/") and f.endswith(".ipynb")} - set(course.notebooks),
    }
    if notebooks not in chosen:
        raise ValueError(f"grade: notebooks must be one of {sorted(chosen)}, got {notebooks!r}")
    exercises = data["exercises"]
    with tempfile.TemporaryDirectory(prefix="teacher-graded-") as work:
        copy = Path(work) / "copy"
        attempts = isolate.build(course, student, copy)
        run = [
            e
            for e in sorted(exercises, key=exercise_key)
            if exercises[e]["tests"] and attempts.get(e, isolate.Attempt("stub")).state == "own"
        ]
        library = {e: exercises[e]["tests"] for e in run if not exercises[e]["cells"]}
        results = _isolated(library, lambda runs: run_tests(course, copy, [], runs=runs, timeout=timeout))
        if notebooks != "none":
            checked = {e: [c["test"] for c in exercises[e]["cells"]] for e in run if exercises[e]["cells"]}
            results.update(_isolated(checked, lambda runs: _run_cells(copy, exercises, runs, timeout, report)))
    for path in sorted(chosen[notebooks]):  # reported only: no exercise in them
        target = student / path
        records = execute_notebook(target, student, timeout) if target.exists() else []
        ok = sum(r["ok"] for r in records)
        first = next((r for r in records if not r["ok"]), None)
        report(
            f"{path}: {ok}/{len(records)} cells ran"
            + (f"; first error in cell {first['index']}: {first['error'][:200]}" if first else "")
        )
    rows = []
    for e, x in sorted(exercises.items(), key=lambda kv: exercise_key(kv[0])):
        total = len(x["tests"])
        state = attempts.get(e, isolate.Attempt("stub"))
        if x.get("kind") == "derivation":
            passed, reason = 0, "a derivation: graded by hand, not by the autograder"
        elif state.state == "stub" and not (student / _file_of(course, e)).is_file():
            passed, reason = 0, f"file missing: {_file_of(course, e)} is not in the copy ({course.region(e).message})"
        elif state.state == "stub":
            passed, reason = 0, course_runner.not_attempted(course.region(e).message)
        elif state.state == "solution" or not total:
            passed, reason = total, ""
        elif state.state == "broken":
            passed, reason = 0, state.note
        elif x["cells"] and (refused := course_answers.notebook_refusal(student / _file_of(course, e), e)):
            passed, reason = 0, refused  # the notebook's own result copied in: no marks, whatever it runs to
        elif x["cells"] and notebooks == "none":
            passed, reason = 0, "not run (--notebooks none)"
        else:
            outcome = {t: results.get((t, e), {"outcome": "failed", "reason": "not run"}) for t in x["tests"]}
            failed = [t for t in x["tests"] if outcome[t]["outcome"] != "passed"]
            passed = total - len(failed)
            reason = f"{failed[0]}: {outcome[failed[0]].get('reason') or 'failed'}" if failed else ""
        rows.append(Row(e, x["task"], x["where"], passed, total, reason))
    return rows


def _file_of(course: Course, exercise: str) -> str:
    """The course file an exercise lives in: "scratchlib/layers/base.py" or "notebooks/03_x.ipynb"."""
    return course.region(exercise).where.split(" cell ", 1)[0]


def table(rows: list[Row]) -> str:
    lines = [f"{'exercise':<9} {'passed':>6} {'total':>6} {'score':>6}  task / why not full marks"]
    for r in rows:
        lines.append(f"{r.exercise:<9} {r.passed:>6} {r.total:>6} {r.score:>6.2f}  {r.task}")
        if r.reason:
            lines.append(f"{'':<31}  -> {r.reason}")
    scored = [r for r in rows if r.total]  # a derivation has no tests: graded by hand
    total = sum(r.score for r in scored) / len(scored) if scored else 0.0
    lines.append(
        f"{'total':<9} {sum(r.passed for r in rows):>6} {sum(r.total for r in rows):>6} {total:>6.2f}"
        f"  mean score over {len(scored)} autograded exercises"
    )
    return "\n".join(lines)


def to_csv(graded: dict[str, list[Row]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "exercise", "passed", "total", "score", "reason", "where", "task"])
    for name, rows in graded.items():
        for r in rows:
            writer.writerow([name, r.exercise, r.passed, r.total, f"{r.score:.4f}", r.reason, r.where, r.task])
    return out.getvalue()


def to_wide_csv(graded: dict[str, list[Row]]) -> str:
    """One row per student, one column per exercise (its score 0..1) and the mean: for a gradebook."""
    exercises = sorted({r.exercise for rows in graded.values() for r in rows}, key=exercise_key)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *exercises, "total"])
    for name, rows in graded.items():
        score = {r.exercise: r.score for r in rows if r.total}  # derivations (no tests) are graded by hand
        mean = sum(score.values()) / len(score) if score else 0.0
        writer.writerow([name, *(f"{score[e]:.4f}" if e in score else "by hand" for e in exercises), f"{mean:.4f}"])
    return out.getvalue()


def to_html(name: str, rows: list[Row]) -> str:
    """One student's report, to hand back: each exercise, its score, and why marks were lost."""
    scored = [r for r in rows if r.total]
    mean = sum(r.score for r in scored) / len(scored) if scored else 0.0
    body = "".join(
        f"<tr><td>{html.escape(r.exercise)}</td><td>{html.escape(r.task)}</td><td>{r.passed}/{r.total}</td>"
        f"<td>{r.score:.2f}</td><td>{html.escape(r.reason)}</td></tr>"
        for r in rows
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>scratchlib: {html.escape(name)}</title>"
        f"<h1>{html.escape(name)}: {mean:.0%}</h1><table border=1 cellpadding=4>"
        f"<tr><th>exercise</th><th>task</th><th>tests passed</th><th>score</th><th>why not full marks</th></tr>"
        f"{body}</table>\n"
    )
