"""A student who has done exactly one notebook exercise: its check shows no FAIL.

The library exercises are played the same way in tests/test_teacher.py
(test_each_library_exercise_done_alone_passes_its_own_tests_and_fails_none). Here each notebook
exercise k runs its notebook in the probe edition with "!k" under test: k's region runs the
course's solution and every other region, in the notebooks and in the library, raises its stub.
Every checking cell of k must then pass or wait for another exercise, as the self-check reads it.
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from scratchlib.course import exercises  # noqa: E402
from scratchlib.course import runner as course_runner  # noqa: E402
from teacher import runner as teacher_runner  # noqa: E402
from teacher.edition import EXERCISE_MAP, scan, write_edition  # noqa: E402


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "probe"
    write_edition(scan(ROOT), out, "probe")
    return out


def test_each_notebook_exercise_done_alone_fails_no_checking_cell(probe):
    data = json.loads((ROOT / EXERCISE_MAP).read_text())["exercises"]
    alone = {e: x["cells"] for e, x in data.items() if x["kind"] == "notebook" and x["cells"]}

    def run(exercise):
        cells = alone[exercise]
        records = teacher_runner.execute_notebook(
            probe / cells[0]["notebook"],
            probe,
            timeout=300,
            exercise=f"!{exercise}",
            until=max(c["index"] for c in cells),
        )
        by_index = {r["index"]: r for r in records}
        failing = []
        for cell in cells:
            why = course_runner.cell_reason(by_index.get(cell["index"]))
            if why and not exercises.other_stub(why, exercise).startswith("needs exercise "):
                failing.append(f"{exercise} {cell['test']}: {why}")
        return failing

    with ThreadPoolExecutor(teacher_runner.WORKERS) as pool:
        failing = [line for found in pool.map(run, sorted(alone, key=exercises._key)) for line in found]
    assert failing == []
