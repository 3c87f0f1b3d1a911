"""Grade a student's copy with the course's own tests, exercise by exercise.

Which tests check which exercise is found, never kept by hand:

* unit tests: the course's tests run once against the *probe edition* (each region
  announces itself when it runs); a test that passes on the solutions and reaches a
  region checks that exercise. Then, for each exercise, one such test is run again with
  only that region stubbed, and must fail naming the exercise ("the stub is caught").
* notebook exercises: the cells that reach the exercise's code, and the cells after it
  that fail when the notebook's exercises are stubbed (see notebook_tests).

The tests and notebooks run through teacher.runner: a time limit per test, and a crash
costs only the test that crashed.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from teacher.edition import MAP_VERSION, PACKAGE, Course, exercise_key, write_edition
from teacher.runner import WORKERS, execute_notebook, run_tests, test_files



# ---------------------------------------------------------------- which test checks which exercise

def notebook_tests(course: Course, probe: Path, timeout: float) -> dict[str, dict]:
    """The cells that check each notebook exercise, and the one that catches its stub.

    Each notebook with exercise cells runs twice in the probe edition. With the solutions,
    to learn which exercises each cell reaches: a cell that reaches an exercise (calls the
    function the exercise completes, or is its cell) checks it. With the notebook's
    exercises stubbed, to find the cells that use what an exercise computed: the cells of its section (its cell and the code cells after
    it, up to the next exercise cell) that fail then check it too. Then one run per exercise
    with only its stub shows which cell catches it.
    """
    def run(job):
        path, stubs = job
        return {r["index"]: r for r in execute_notebook(probe / path, probe, timeout, probe=not stubs, stubs=stubs)}

    paths = sorted(course.notebooks)
    ids = {path: [r.id for i in sorted(course.notebooks[path]) for r in course.notebooks[path][i]] for path in paths}
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = list(pool.map(run, [(path, stubs) for path in paths for stubs in ([], ids[path])]))
    found = {}
    for n, path in enumerate(paths):
        cells = course.notebooks[path]
        nb = nbformat.read(course.root / path, as_version=nbformat.NO_CONVERT)
        solved, stubbed = runs[2 * n], runs[2 * n + 1]
        starts = sorted(cells)
        for k, start in enumerate(starts):
            stop = starts[k + 1] if k + 1 < len(starts) else len(nb.cells)
            for region in cells[start]:
                reach = [i for i, r in solved.items() if r["ok"] and region.id in r["hits"]]
                uses = [i for i in range(start, stop) if i in stubbed and not stubbed[i]["ok"]
                        and solved.get(i, {}).get("ok")]
                chosen = sorted(set(reach) | set(uses))
                found[region.id] = {
                    "cells": [{"test": f"{path}::cell {i}", "notebook": path, "index": i,
                               "id": nb.cells[i].get("id")} for i in chosen],
                    "caught_by": None}
    # the catch, proved: the notebook run with only that exercise stubbed stops at a cell
    # that fails naming it (runs stop at the first error, so this costs a prefix of the notebook)

    def first_failure(job):
        path, exercise = job
        records = execute_notebook(probe / path, probe, timeout, stop_on_error=True, stubs=[exercise])
        last = records[-1] if records else None
        if last is not None and not last["ok"] and f"exercise {exercise}:" in last["error"]:
            return exercise, f"{path}::cell {last['index']}"
        return exercise, None

    jobs = [(path, r.id) for path, cells in sorted(course.notebooks.items()) for i in sorted(cells) for r in cells[i]]
    with ThreadPoolExecutor(WORKERS) as pool:
        for exercise, catch in pool.map(first_failure, jobs):
            found[exercise]["caught_by"] = catch
    return found


def exercise_map(course: Course, timeout: float = 300.0, verify: bool = True) -> dict:
    """Find the tests of every exercise (see the module docstring) and check each stub is caught."""
    library = [r.id for path in course.sources for r in course.sources[path]]
    tests: dict[str, list[str]] = {exercise: [] for exercise in library}
    caught: dict[str, str | None] = {exercise: None for exercise in library}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="teacher-probe-") as probe:
        probe = Path(probe)
        write_edition(course, probe, "probe")
        if library:  # run the course's tests once to see which exercises each one reaches
            results = run_tests(course, probe, test_files(course), timeout=timeout)
        for nodeid, result in sorted(results.items()):
            if result["outcome"] == "passed":
                for exercise in result["hits"]:
                    tests.setdefault(exercise, []).append(nodeid)
        if verify and library:
            caught = _verify(course, probe, tests, results, timeout)
        notebooks = notebook_tests(course, probe, timeout)
    exercises = {}
    for exercise in course.ids:
        region = course.region(exercise)
        entry = {"task": region.task, "where": f"{region.where}:{region.line}", "kind": course.kind(exercise)}
        if entry["kind"] == "derivation":
            entry.update(tests=[], cells=[], caught_by=None)
        elif exercise in notebooks:
            cells = notebooks[exercise]["cells"]
            entry.update(tests=[c["test"] for c in cells], cells=cells, caught_by=notebooks[exercise]["caught_by"])
        else:
            entry.update(tests=tests.get(exercise, []), cells=[], caught_by=caught.get(exercise))
        exercises[exercise] = entry
    broken = sorted(n for n, r in results.items() if r["outcome"] == "failed")
    return {"version": MAP_VERSION, "fingerprint": course.fingerprint(), "exercises": exercises,
            "failing_on_solutions": {n: results[n]["message"][-1500:] for n in broken}}


def _verify(course, probe, tests, results, timeout) -> dict[str, str | None]:
    """For each exercise, run one of its tests with only its stub in place; it must fail naming it."""
    caught = {exercise: None for exercise in tests}
    tried = {exercise: set() for exercise in tests}
    for _ in range(6):
        load: dict[str, int] = {}
        rounds: list[dict[str, str]] = []
        for exercise in sorted(tests, key=lambda e: len(tests[e])):
            if caught[exercise]:
                continue
            candidates = [t for t in tests[exercise] if t not in tried[exercise]]
            if not candidates:
                continue
            test = min(candidates, key=lambda t: (load.get(t, 0), results[t]["duration"], t))
            tried[exercise].add(test)
            slot = load.get(test, 0)
            load[test] = slot + 1
            while len(rounds) <= slot:
                rounds.append({})
            rounds[slot][test] = exercise
        if not rounds:
            break
        for plan in rounds:
            outcome = run_tests(course, probe, [], select=sorted(plan), plan=plan, timeout=timeout)
            for test, exercise in plan.items():
                result = outcome.get(test, {})
                if result.get("outcome") == "failed" and f"exercise {exercise}:" in result.get("message", ""):
                    caught[exercise] = test
    return caught


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
    """What makes a course unfit to hand out: exercises no test catches, tests failing on solutions."""
    out = [f"exercise {e} ({x['where']}) is not caught by any test: "
           + ("no cell runs its code (call the function it completes in a later cell)" if " cell " in x["where"]
              else "add a unit test that runs it (a test that fails on the solutions does not count)")
           for e, x in data["exercises"].items() if not x["caught_by"] and x.get("kind") != "derivation"]
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
    reason: str = ""    # one line: why the first failed test failed ("" when all passed)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0


def grade(course: Course, data: dict, student: Path, timeout: float = 120.0, notebooks: str = "exercises",
          report=print) -> list[Row]:
    """Score a student's copy: one row per exercise (tests passed, tests total).

    Library exercises are scored by the course's unit tests, notebook exercises by their
    cells. notebooks: which notebooks to execute: "exercises" (those with exercise cells),
    "all" (the others are reported, not scored) or "none".
    """
    student = Path(student).resolve()
    if not (student / PACKAGE).is_dir():
        raise FileNotFoundError(f"grade: {student} has no {PACKAGE}/ folder (is it a copy of the student edition?)")
    unit = sorted({t for x in data["exercises"].values() if not x["cells"] for t in x["tests"]})
    results = run_tests(course, student, [], select=unit, timeout=timeout) if unit else {}
    passed = {t for t, r in results.items() if r["outcome"] == "passed"}
    why = {t: r.get("reason") or "failed" for t, r in results.items() if r["outcome"] != "passed"}
    scored = {c["notebook"] for x in data["exercises"].values() for c in x["cells"]}
    chosen = {"none": set(), "exercises": scored,
              "all": scored | {f for f in course.files if f.startswith("notebooks/") and f.endswith(".ipynb")}}
    if notebooks not in chosen:
        raise ValueError(f"grade: notebooks must be one of {sorted(chosen)}, got {notebooks!r}")
    if chosen[notebooks]:
        for path in sorted(chosen[notebooks]):
            target = student / path
            records = execute_notebook(target, student, timeout) if target.exists() else []
            by_id = {r["id"]: r for r in records if r["id"]}
            by_index = {r["index"]: r for r in records}
            for x in data["exercises"].values():
                for c in x["cells"]:
                    if c["notebook"] == path:
                        r = by_id.get(c["id"]) if c["id"] else by_index.get(c["index"])
                        if r is not None and r["ok"]:
                            passed.add(c["test"])
                        else:
                            why[c["test"]] = cell_reason(r)
            ok = sum(r["ok"] for r in records)
            first = next((r for r in records if not r["ok"]), None)
            report(f"{path}: {ok}/{len(records)} cells ran"
                   + (f"; first error in cell {first['index']}: {first['error'][:200]}" if first else ""))
    rows = []
    for e, x in sorted(data["exercises"].items(), key=lambda kv: exercise_key(kv[0])):
        failed = [t for t in x["tests"] if t not in passed]
        reason = f"{failed[0]}: {other_stub(why.get(failed[0], 'not run'), e)}" if failed else ""
        if x.get("kind") == "derivation":
            reason = "a derivation: graded by hand, not by the autograder"
        rows.append(Row(e, x["task"], x["where"], len(x["tests"]) - len(failed), len(x["tests"]), reason))
    return rows


def other_stub(reason: str, exercise: str) -> str:
    """A test stopped by another exercise's stub says which (this exercise is not to blame for it)."""
    found = re.search(r"exercise (\d+\.\d+)", reason) if reason.startswith("not attempted") else None
    if found and found.group(1) != exercise:
        return f"needs exercise {found.group(1)} first: its stub is still there"
    return reason


def cell_reason(record: dict | None) -> str:
    """One line for a checking cell that did not pass."""
    if record is None:
        return "not run: an earlier cell stopped the notebook, or the cell is missing"
    error = (record["error"].splitlines() or ["failed"])[0]
    if "NotImplementedError: exercise " in error or "is not done yet" in error:
        return "not attempted: the stub is still there (" + error.split(": ", 1)[-1] + ")"
    return error[:300]


def table(rows: list[Row]) -> str:
    lines = [f"{'exercise':<9} {'passed':>6} {'total':>6} {'score':>6}  task / why not full marks"]
    for r in rows:
        lines.append(f"{r.exercise:<9} {r.passed:>6} {r.total:>6} {r.score:>6.2f}  {r.task}")
        if r.reason:
            lines.append(f"{'':<31}  -> {r.reason}")
    scored = [r for r in rows if r.total]  # a derivation has no tests: graded by hand
    total = sum(r.score for r in scored) / len(scored) if scored else 0.0
    lines.append(f"{'total':<9} {sum(r.passed for r in rows):>6} {sum(r.total for r in rows):>6} {total:>6.2f}"
                 f"  mean score over {len(scored)} autograded exercises")
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
        f"<td>{r.score:.2f}</td><td>{html.escape(r.reason)}</td></tr>" for r in rows)
    return (f"<!doctype html><meta charset=utf-8><title>scratchlib: {html.escape(name)}</title>"
            f"<h1>{html.escape(name)}: {mean:.0%}</h1><table border=1 cellpadding=4>"
            f"<tr><th>exercise</th><th>task</th><th>tests passed</th><th>score</th><th>why not full marks</th></tr>"
            f"{body}</table>\n")
