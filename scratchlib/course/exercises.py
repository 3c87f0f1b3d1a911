"""The self-check: run exactly the tests of one exercise and say what passed, what failed, and why.

From a terminal, in the course folder::

    make check EX=4.3            # the same as: python -m scratchlib.course.exercises 4.3

From a notebook cell::

    import scratchlib
    scratchlib.exercises.check("4.3")

Which tests check which exercise is read from tests/exercises.json, the exercise map that
ships with the course (the teacher's tools write it; it holds test names and cells, no
solutions). A library exercise is checked by its unit tests, a notebook exercise by
running its notebook (as saved on disk) up to its checking cells; a derivation is graded
by hand. When something fails, the exercise's hint from its callout in the notebook is
printed at the end.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scratchlib.course import runner

ROOT = Path(__file__).resolve().parents[2]
MAP = Path("tests") / "exercises.json"


@dataclass
class Outcome:
    """One test or checking cell: its name, whether it passed, and a one-line reason."""

    test: str
    passed: bool
    reason: str = ""


def load_map(root: Path = ROOT) -> dict:
    path = Path(root) / MAP
    if not path.exists():
        raise FileNotFoundError(f"exercises: no exercise map at {path} (is this the course folder?)")
    return json.loads(path.read_text())["exercises"]


def _key(exercise: str) -> tuple[int, int]:
    major, minor = exercise.split(".")
    return int(major), int(minor)


def run_unit_tests(tests: list[str], root: Path = ROOT, timeout: float = 120.0) -> list[Outcome]:
    """Run the named pytest node ids in a child pytest; one Outcome per test, in the given order."""
    return [
        Outcome(r["nodeid"], r["outcome"] == "passed", r["reason"])
        for r in runner.run_tests(tests, Path(root), timeout)
    ]


def run_notebook_cells(cells: list[dict], root: Path = ROOT, timeout: float = 300.0) -> list[Outcome]:
    """Run the notebook of these cells in a fresh kernel up to the last of them; one Outcome per cell."""
    import nbformat

    path = Path(root) / cells[0]["notebook"]
    by_id = {cell.get("id"): i for i, cell in enumerate(nbformat.read(path, as_version=4).cells)}
    wanted = [by_id.get(c["id"], c["index"]) for c in cells]
    # the course's own package first, whichever scratchlib is installed
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(root).resolve()), os.environ.get("PYTHONPATH")]))}
    records = {r["index"]: r for r in runner.execute_notebook(path, env, timeout, until=max(wanted))}
    return [
        Outcome(
            f"{c['notebook']} cell {index}",
            records.get(index, {}).get("ok", False),
            runner.cell_reason(records.get(index)),
        )
        for c, index in zip(cells, wanted)
    ]


def other_stub(reason: str, exercise: str) -> str:
    """A test that stopped at another exercise's stub says so: this one is not to blame."""
    other = runner.stub_exercise(reason)
    if other and other != exercise:
        return f"needs exercise {other} first: its stub is still there"
    return reason


def hint(exercise: str, task: str = "", root: Path = ROOT) -> str:
    """The hint of the exercise's callout (its <details><summary>Hint</summary> block), else its task."""
    import nbformat

    callout = re.compile(rf"\*\*Exercise {re.escape(exercise)}\*\*")
    block = re.compile(r"<details>\s*<summary>\s*Hint\s*</summary>(.*?)</details>", re.S)
    for path in sorted((Path(root) / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for i, cell in enumerate(cells):
            if cell.cell_type == "markdown" and callout.search(cell.source):
                rest = cell.source[callout.search(cell.source).end() :]
                after = cells[i + 1].source if i + 1 < len(cells) and cells[i + 1].cell_type == "markdown" else ""
                found = block.search(rest) or block.search(after)
                if found:
                    return found.group(1).strip()
    return task


def check(exercise: str, root: Path | str = ROOT, timeout: float = 120.0, out: Callable[[str], None] = print) -> bool:
    """Run exercise's tests; print each with pass/fail/wait and why, then the hint if one failed.

    A test stopped by another exercise's stub (a unit test that also runs it, a cell reading a name
    its cell sets) waits for that exercise: it is not counted as this exercise's failure, and it
    is not a pass either. Returns True only when every test passed.
    """
    exercise = str(exercise)
    root = Path(root)
    exercises = load_map(root)
    if exercise not in exercises:
        known = ", ".join(sorted(exercises, key=_key))
        raise ValueError(f"check: no exercise {exercise!r} in this course (known: {known})")
    entry = exercises[exercise]
    out(f"exercise {exercise}: {entry['task']}  ({entry['where']})")
    if entry.get("kind") == "derivation":
        out("a derivation: written in its notebook and graded by hand; nothing to run.")
        return True
    if not entry["tests"]:
        out("no test checks this exercise in this course's map")
        return False
    if entry.get("cells"):
        results = run_notebook_cells(entry["cells"], root, timeout=max(timeout, 300.0))
    else:
        results = run_unit_tests(entry["tests"], root, timeout)
    for r in results:
        r.reason = other_stub(r.reason, exercise)
    # a test stopped by another exercise's stub waits for it: this exercise is not to blame (the
    # grader runs it with the course's solution for the other one)
    waiting = [r for r in results if not r.passed and r.reason.startswith("needs exercise ")]
    for line in _report_lines(results, waiting):
        out(line)
    passed = sum(r.passed for r in results)
    out(
        f"{passed} of {len(results)} passed"
        + (
            f"; {len(waiting)} wait{'s' if len(waiting) == 1 else ''} for "
            f"another exercise (it runs again once that one is done)"
            if waiting
            else ""
        )
    )
    failed = len(results) - passed - len(waiting)
    if failed:
        out(f"\nHint for exercise {exercise}:\n{hint(exercise, entry['task'], root)}")
    elif waiting:
        others = sorted({r.reason.split()[2] for r in waiting}, key=_key)
        out(
            f"\nNothing failed so far, but exercise {exercise} is not fully checked yet: do exercise"
            f"{'s' if len(others) > 1 else ''} {', '.join(others)} first, then check again."
        )
    return passed == len(results)


SHOWN = 3  # tests shown per reason; the rest of a long list is counted, not printed


def _report_lines(results: list[Outcome], waiting: list[Outcome]) -> list[str]:
    """One line per test (and its reason), in groups of the same outcome and reason: a stub that
    many tests reach makes them all fail the same way, and a screenful of that says nothing new."""
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for r in results:
        status = "PASS" if r.passed else "WAIT" if r in waiting else "FAIL"
        groups.setdefault((status, r.reason), []).append(r)
    lines = []
    for (status, reason), group in groups.items():
        for r in group[:SHOWN]:
            lines.append(f"  {status}  {r.test}" + (f"\n        {reason}" if reason else ""))
        if len(group) > SHOWN:
            more = len(group) - SHOWN
            lines.append(
                f"  {status}  ... and {more} more test{'s' if more > 1 else ''}" + (" the same way" if reason else "")
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: make check EX=4.3   (or: python -m scratchlib.course.exercises 4.3)", file=sys.stderr)
        return 2
    try:
        return 0 if check(args[0]) else 1
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
