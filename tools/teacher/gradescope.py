"""Gradescope: the autograder zip, and the grading it runs there (results.json).

Gradescope unpacks the zip into /autograder/source, runs setup.sh once to build its image,
then for each submission puts the student's files in /autograder/submission, runs
run_autograder (as root), and reads /autograder/results/results.json. The root is AUTOGRADER_ROOT
(default /autograder), so the same scripts run in a temporary folder laid out the same way.

setup.sh installs the course's packages (not the course: its solutions stay in source/) into a
virtual environment every user can read, torch's CPU build (tools/torch_index.py), and makes the
course's solution run once (the values each graded test checks). run_autograder makes the course,
the submission and the results unreadable to every user but root, then grades: the student's code
runs as an unprivileged user (teacher.supervise), and results.json is written by the grader after
every process of the student's code has ended, or, if the grader did not finish, by run_autograder
itself saying so: never a file the student's code wrote.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from teacher import RUNNER
from teacher.edition import PACKAGE, Course

TOOLS = Path(__file__).resolve().parent

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder's image. The course's packages go into a
# virtual environment that every user can read (the students' code runs as an unprivileged user);
# the course itself is not installed: its solutions stay in source/, which run_autograder locks away.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$ROOT/venv}"
cd "$ROOT/source"
"$PYTHON" -m venv "$VENV"
# torch's CPU build (about 190 MB instead of several GB of CUDA libraries): tools/torch_index.py decides
torch_index=$("$PYTHON" tools/torch_index.py)
# shellcheck disable=SC2046 (one argument per requirement)
"$VENV/bin/python" -m pip install --quiet $torch_index $(PYTHONPATH=tools "$VENV/bin/python" -m teacher requirements)
chmod -R a+rX "$VENV"
# the values the course's solution checks in each graded test, made once, here, for every submission
PYTHONPATH=tools "$VENV/bin/python" -m teacher reference
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission, as root. The course (its solutions), the submission and
# the results are made unreadable to every other user before any of the student's code runs; the
# grader writes results/results.json once every process of the student's code has ended.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${PYTHON:-$ROOT/venv/bin/python}"
mkdir -p "$ROOT/results"
rm -f "$ROOT/results/results.json"
chmod -R go-rwx "$ROOT/source" "$ROOT/submission" "$ROOT/results" 2>/dev/null || true
cd "$ROOT/source"
PYTHONPATH=tools "$PYTHON" -m teacher --timeout "${TIMEOUT:-60}" --copy-timeout "${COPY_TIMEOUT:-540}" \\
    gradescope-run "$ROOT/submission" "$ROOT/results/results.json"
status=$?
if [ "$status" -ne 0 ]; then
    # the grader did not finish: say so, whatever may be in results/ meanwhile
    message="The autograder did not finish (status $status); your teacher has been told."
    printf '{"score": 0.0, "output": "%s", "stdout_visibility": "hidden", "tests": []}\\n' "$message" \\
        > "$ROOT/results/results.json"
fi
"""


def build_zip(course: Course, out: Path) -> Path:
    """The autograder zip: setup.sh, run_autograder, the course (solutions in it), the teacher tools, the
    course runner they build on and tools/torch_index.py."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        files = {path: (course.root / path).read_bytes() for path in course.files}  # unzipped into source/
        for tool in sorted(TOOLS.glob("*.py")):
            files[f"tools/teacher/{tool.name}"] = tool.read_bytes()
        files[RUNNER.relative_to(TOOLS.parents[1]).as_posix()] = RUNNER.read_bytes()  # the tools load it there
        expect = TOOLS.parents[1] / "tests" / "expect.py"
        files.setdefault("tests/expect.py", expect.read_bytes())  # the grader reads the values with it
        index = TOOLS.parent / "torch_index.py"
        if index.exists():
            files.setdefault("tools/torch_index.py", index.read_bytes())
        for name in sorted(files):
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), files[name])
    return out


def find_copy(submission: Path) -> Path:
    """The folder of the submission holding scratchlib/ (the upload itself, or one folder down)."""
    if (submission / PACKAGE).is_dir():
        return submission
    found = sorted(p.parent for p in submission.glob(f"*/{PACKAGE}") if p.is_dir())
    if not found:
        raise FileNotFoundError(f"the submission has no {PACKAGE}/ folder: upload your copy of the course")
    return found[0]


def results(rows: list, seconds: float = 0.0) -> dict:
    """Gradescope's results.json: one test per exercise. The score is the core exercises' (one point
    each, its share of its tests); optional exercises are shown with their score and not counted; a
    derivation is listed with its point, to be graded by hand."""
    tests: list[dict[str, Any]] = []
    core = [r for r in rows if not r.manual and not r.optional]
    extra = [r for r in rows if not r.manual and r.optional]
    manual = [r for r in rows if r.manual]
    for r in rows:
        entry: dict[str, Any] = {"visibility": "visible"}
        if r.manual:
            entry.update(
                name=f"exercise {r.exercise} (a derivation, graded by hand): {r.task}",
                max_score=1.0,
                score=0.0,
                output="Graded by hand by your teacher from the rubric (1 point): this 0 is a placeholder, not a mark.",
                tags=["graded by hand"],
            )
        else:
            part = " (optional, not counted in the score)" if r.optional else ""
            entry.update(
                name=f"exercise {r.exercise}{part}: {r.task}",
                max_score=1.0,
                score=round(r.score or 0.0, 4),
                output=r.reason or f"all {r.total} tests of its own passed",
                tags=["optional"] if r.optional else ["core"],
            )
            if r.reason and "make check" not in r.reason:
                entry["output"] += f" (check it with `make check EX={r.exercise}`)"
        tests.append(entry)
    points = sum(r.score or 0.0 for r in core)
    optional = sum(r.score or 0.0 for r in extra)
    summary = (
        f"Core: {points:g} of {len(core)} exercises. Optional: {optional:g} of {len(extra)} (not counted in the "
        f"score). Graded by hand by your teacher: {len(manual)} derivation(s)."
    )
    return {
        "score": round(points, 4),
        "execution_time": int(round(seconds)),
        "output": summary,
        "stdout_visibility": "hidden",
        "extra_data": {"core": round(points, 4), "optional": round(optional, 4), "by_hand": len(manual)},
        "tests": tests,
    }


def write_results(path: Path, data: dict) -> None:
    """Write results.json whole: a temporary file beside it, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(partial, path)
