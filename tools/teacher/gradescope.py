"""Gradescope: the autograder zip, and the grading it runs there (results.json).

Gradescope unpacks the zip into /autograder/source, runs setup.sh once to build its image,
then for each submission puts the student's files in /autograder/submission, runs
run_autograder, and reads /autograder/results/results.json. The root is AUTOGRADER_ROOT
(default /autograder), so the same script runs in a temporary folder laid out the same way.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from teacher import RUNNER
from teacher.edition import PACKAGE, Course

TOOLS = Path(__file__).resolve().parent

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder's image.
set -euo pipefail
cd "${AUTOGRADER_ROOT:-/autograder}/source"
${PYTHON:-python3} -m pip install --quiet -e '.[dev]'
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it writes results/results.json.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
PYTHONPATH=tools ${PYTHON:-python3} -m teacher --timeout "${TIMEOUT:-60}" \\
    gradescope-run "$ROOT/submission" "$ROOT/results/results.json"
"""


def build_zip(course: Course, out: Path) -> Path:
    """The autograder zip: setup.sh, run_autograder, the course (solutions in it), the teacher tools and
    the course runner they build on."""
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


def results(rows: list) -> dict:
    """Gradescope's results.json: one test per exercise (score = fraction of its tests passed)."""
    tests: list[dict[str, Any]] = []
    for r in rows:
        entry: dict[str, Any] = {
            "name": f"exercise {r.exercise}: {r.task}",
            "max_score": 0.0 if r.manual else 1.0,
            "score": 0.0 if r.manual else round(r.score or 0.0, 4),
            "output": r.reason or f"all {r.total} tests passed",
            "visibility": "visible",
        }
        tests.append(entry)
    return {"score": round(sum(t["score"] for t in tests), 4), "tests": tests}


def write_results(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
