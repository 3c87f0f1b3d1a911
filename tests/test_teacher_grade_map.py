"""Which test checks which exercise (the first half of tools/teacher/grade.py), in-process.

Fast: a small fake course (only what grade.py asks of one) and fakes of the runs (the course's
tests, the notebooks' cells) that answer with hand-written results, so that each rule of the map
is pinned value by value: which tests reach an exercise, which are its own, their order and the
catch, the optional exercises' rule, the notebooks' cells, the cache, and what ``problems`` says.
tests/test_teacher.py makes maps of real courses end to end, minutes each.
"""

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import grade  # noqa: E402
from teacher.edition import MAP_VERSION, exercise_key  # noqa: E402

STUDENT = "tests/test_my_layers.py"
A, B = "tests/test_a.py", "tests/test_b.py"
N, M = "notebooks/n.ipynb", "notebooks/m.ipynb"

# the student's test file: the region of exercise 3.1 is in test_mine, lines 6 to 8
MY_LAYERS = """\
import math


def test_other():
    assert math.pi > 3  # π > 3: the file is UTF-8

def test_mine():
    x = 1
    assert x == 1


class TestMine:
    def test_it(self):
        pass
"""


class FakeCourse:
    """What grade.py asks of a course: root, sources, notebooks, ids, kind(), region(), fingerprint()."""

    def __init__(self, root, regions, sources=None, notebooks=None, fingerprint="f1"):
        self.root = root
        self._regions = {r.id: r for r in regions}
        self.sources = {path: [self._regions[e] for e in ids] for path, ids in (sources or {}).items()}
        self.notebooks = {
            path: {cell: [self._regions[e] for e in ids] for cell, ids in cells.items()}
            for path, cells in (notebooks or {}).items()
        }
        self._fingerprint = fingerprint

    @property
    def ids(self):
        return sorted(self._regions, key=exercise_key)

    def region(self, exercise):
        return self._regions[exercise]

    def kind(self, exercise):
        return self._regions[exercise].kind

    def fingerprint(self):
        return self._fingerprint


def region(exercise, kind, where, line=1):
    return SimpleNamespace(id=exercise, kind=kind, where=where, line=line, task=f"task {exercise}")


def write_notebook(path: Path, kinds: str, prefix: str) -> None:
    """A notebook of code ("c") and markdown ("m") cells, with ids prefix0, prefix1, ..."""
    cells = [
        (nbformat.v4.new_code_cell if k == "c" else nbformat.v4.new_markdown_cell)(f"# {i}", id=f"{prefix}{i}")
        for i, k in enumerate(kinds)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def passed(hits, duration=0.0, message=""):
    return {"outcome": "passed", "hits": hits, "duration": duration, "message": message}


def failed(message="assert 1 == 2", hits=(), duration=0.0):
    return {"outcome": "failed", "hits": list(hits), "duration": duration, "message": message}


BROKEN_MESSAGE = "HEAD" + "x" * 1496 + "TAIL"

# the course's tests as run once on the probe edition (with the solutions), keys out of order
PROBE = {
    (f"{A}::test_z_unit", None): passed(["1.2"], 0.126),
    (f"{A}::test_net", None): passed(["1.2", "1.10", "5.1"], 1.0),
    (f"{A}::test_named", None): passed(["1.10", "1.2"], 0.5),
    (f"{A}::test_broken", None): failed(BROKEN_MESSAGE, ["1.2"]),
    (f"{STUDENT}::TestMine::test_it", None): passed(["1.2"]),
    (f"{STUDENT}::test_mine", None): passed(["3.1", "1.10", "1.2", "4.1"], 0.2),
    (f"{B}::test_opt", None): passed(["2.1", "2.50"], 2.0),
    (f"{B}::test_b", None): passed(["2.1"], 0.25),
    (f"{B}::test_b50", None): passed(["2.50"], 0.333),
}

# each (test, exercise) run with only that exercise stubbed
STUBBED = {
    (f"{B}::test_b", "2.1"): passed(["2.1"]),
    (f"{B}::test_opt", "2.1"): failed("ExerciseNotDone: exercise 2.1: b"),  # but it runs 2.50 too
    (f"{B}::test_b50", "2.50"): failed("assert 0 == 1"),
    (f"{B}::test_opt", "2.50"): failed("ExerciseNotDone: exercise 2.50: opt"),
    (f"{A}::test_named", "1.2"): failed("ExerciseNotDone: exercise 1.2: double"),
    (f"{A}::test_net", "1.2"): failed("ExerciseNotDone: exercise 1.10: triple"),
    (f"{A}::test_z_unit", "1.2"): failed("assert 3 == 4"),
    (f"{A}::test_named", "1.10"): {"outcome": "failed", "hits": [], "duration": 0.0},  # no message at all
    (f"{A}::test_net", "1.10"): failed("ExerciseNotDone: exercise 1.2: double"),
}

# each notebook's code cells as run on the probe edition: index -> (ok, hits)
SOLVED = {
    N: {0: (True, []), 1: (True, ["5.1"]), 2: (True, ["5.1"]), 4: (True, ["5.3"]), 5: (False, ["5.3"]),
        6: (True, ["5.1", "1.2"])},
    M: {0: (True, ["6.1"]), 1: (True, ["6.50"]), 2: (True, ["6.1", "6.50"]), 3: (True, ["6.1"]),
        4: (False, ["6.2"]), 5: (True, ["6.2", "6.50"])},
}  # fmt: skip

# the cells that fail with only the exercise's stub in place, and up to which cell it must run
STUB_FAILS = {"5.1": ({0, 2, 6}, 6), "5.3": ({5, 6}, 6), "6.1": ({2, 3}, 3), "6.50": ({2, 5}, 5)}


def the_course(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / STUDENT).write_text(MY_LAYERS, encoding="utf-8")
    write_notebook(tmp_path / N, "cccmccc", "n")
    write_notebook(tmp_path / M, "cccccc", "m")
    regions = [
        region("1.2", "library", "scratchlib/a.py", 5),
        region("1.10", "library", "scratchlib/a.py", 12),
        region("2.1", "library", "scratchlib/b.py", 3),
        region("2.50", "library", "scratchlib/b.py", 9),
        region("3.1", "test", STUDENT, 8),
        region("5.1", "notebook", f"{N} cell 1", 2),
        region("5.2", "derivation", f"{N} cell 3", 1),
        region("5.3", "notebook", f"{N} cell 4", 1),
        region("6.1", "notebook", f"{M} cell 0", 1),
        region("6.2", "notebook", f"{M} cell 4", 1),
        region("6.50", "notebook", f"{M} cell 1", 1),
    ]
    return FakeCourse(
        tmp_path,
        regions,
        sources={"scratchlib/b.py": ["2.1", "2.50"], STUDENT: ["3.1"], "scratchlib/a.py": ["1.2", "1.10"]},
        notebooks={N: {4: ["5.3"], 1: ["5.1"]}, M: {4: ["6.2"], 0: ["6.1"], 1: ["6.50"]}},
    )


class Runs:
    """Fakes of write_edition, test_files, run_tests and execute_notebook that keep their calls."""

    def __init__(self, monkeypatch, probe=PROBE, stubbed=STUBBED, files=("tests/test_a.py", "tests/test_b.py")):
        self.editions, self.tests, self.notebooks = [], [], []
        self.probe, self.stubbed, self.files = probe, stubbed, list(files)
        monkeypatch.setattr(grade, "write_edition", self.write_edition)
        monkeypatch.setattr(grade, "test_files", self.test_files)
        monkeypatch.setattr(grade, "run_tests", self.run_tests)
        monkeypatch.setattr(grade, "execute_notebook", self.execute_notebook)

    def write_edition(self, course, out, kind):
        assert out.is_dir()
        self.editions.append((course, out, kind))

    def test_files(self, course):
        assert isinstance(course, FakeCourse)
        return self.files

    def run_tests(self, course, code_dir, files, runs=None, timeout=120.0, workers=None):
        self.tests.append((course, code_dir, files, runs, timeout))
        if runs is None:
            return dict(self.probe)
        return {run: self.stubbed[run] for run in runs}

    def execute_notebook(
        self, path, code_dir, timeout=300.0, stop_on_error=False, stubs=(), probe=False, exercise="", until=None
    ):
        self.notebooks.append((path, code_dir, timeout, probe, exercise, until))
        notebook = path.relative_to(code_dir).as_posix()
        if probe:
            return [{"index": i, "ok": ok, "hits": hits} for i, (ok, hits) in SOLVED[notebook].items()]
        fails, last = STUB_FAILS[exercise]
        assert until == last
        return [{"index": i, "ok": i not in fails, "hits": []} for i in SOLVED[notebook] if i <= until]


def library(exercise, where, tests, caught_by, reached, seconds, optional=False):
    """A library exercise's expected map entry."""
    return {
        "task": f"task {exercise}",
        "where": where,
        "kind": "library",
        "optional": optional,
        "tests": tests,
        "cells": [],
        "caught_by": caught_by,
        "reached": reached,
        "seconds": seconds,
    }


def derivation(exercise, where):
    """A derivation's expected map entry: no test, graded by hand."""
    return {
        "task": f"task {exercise}",
        "where": where,
        "kind": "derivation",
        "optional": False,
        "tests": [],
        "cells": [],
        "caught_by": None,
        "reached": 0,
    }


def test_needs_optional_only_for_a_core_exercise_that_runs_an_optional_one():
    assert grade._needs_optional("2.1", ["2.1", "2.50"]) is True
    assert grade._needs_optional("2.1", ["2.1", "2.49"]) is False
    assert grade._needs_optional("2.50", ["2.1", "2.50", "3.51"]) is False
    assert grade._needs_optional("2.1", []) is False


def test_the_map_of_a_course_names_each_exercises_own_tests_cells_and_catch(tmp_path, monkeypatch):
    """Each exercise's own tests (most specific first), its catch (a test naming "exercise X:" first),
    its reach and seconds; the student's test file reaches nothing; a core exercise's test that also
    runs an optional one is not its test; notebook exercises get the cells that fail with their stub."""
    course = the_course(tmp_path)
    runs = Runs(monkeypatch)
    data = grade.exercise_map(course, timeout=7.5)

    [(_, probe, kind)] = runs.editions
    assert runs.editions[0][0] is course and kind == "probe" and probe.name.startswith("teacher-probe-")
    assert not probe.exists()  # the probe edition is gone with its temporary folder
    assert runs.tests == [
        (course, probe, ["tests/test_a.py", "tests/test_b.py"], None, 7.5),
        (
            course,
            probe,
            [],
            [
                (f"{B}::test_b", "2.1"),
                (f"{B}::test_opt", "2.1"),
                (f"{B}::test_b50", "2.50"),
                (f"{B}::test_opt", "2.50"),
                (f"{A}::test_named", "1.2"),
                (f"{A}::test_net", "1.2"),
                (f"{A}::test_z_unit", "1.2"),
                (f"{A}::test_named", "1.10"),
                (f"{A}::test_net", "1.10"),
            ],
            7.5,
        ),
    ]
    assert sorted(runs.notebooks, key=str) == sorted(
        [
            (probe / M, probe, 7.5, True, "", None),
            (probe / N, probe, 7.5, True, "", None),
            (probe / N, probe, 7.5, False, "5.1", 6),
            (probe / N, probe, 7.5, False, "5.3", 6),
            (probe / M, probe, 7.5, False, "6.1", 3),
            (probe / M, probe, 7.5, False, "6.50", 5),  # 6.2: its only cell also runs 6.50, so no run
        ],
        key=str,
    )

    def notebook(exercise, where, path, cells, reached, optional=False):
        return {
            "task": f"task {exercise}",
            "where": where,
            "kind": "notebook",
            "optional": optional,
            "tests": [f"{path}::cell {i}" for i in cells],
            "cells": [
                {"test": f"{path}::cell {i}", "notebook": path, "index": i, "id": f"{path[10]}{i}"} for i in cells
            ],
            "caught_by": f"{path}::cell {cells[0]}" if cells else None,
            "reached": reached,
        }

    unit, net, named = f"{A}::test_z_unit", f"{A}::test_net", f"{A}::test_named"
    mine = f"{STUDENT}::test_mine"
    assert list(data["exercises"]) == ["1.2", "1.10", "2.1", "2.50", "3.1", "5.1", "5.2", "5.3", "6.1", "6.2", "6.50"]
    assert data == {
        "version": MAP_VERSION,
        "fingerprint": "f1",
        "exercises": {
            "1.2": library("1.2", "scratchlib/a.py:5", [unit, named, net], named, 3, 1.63),
            "1.10": library("1.10", "scratchlib/a.py:12", [named, net], named, 2, 1.5),
            "2.1": library("2.1", "scratchlib/b.py:3", [], None, 2, 0.0),
            "2.50": library(
                "2.50",
                "scratchlib/b.py:9",
                [f"{B}::test_b50", f"{B}::test_opt"],
                f"{B}::test_opt",
                2,
                2.33,
                optional=True,
            ),
            "3.1": {
                "task": "task 3.1",
                "where": f"{STUDENT}:8",
                "kind": "test",
                "optional": False,
                "tests": [mine],
                "cells": [],
                "caught_by": mine,
                "reached": 1,
                "layers": ["1.2", "1.10", "4.1"],
            },
            "5.1": notebook("5.1", f"{N} cell 1:2", N, [2, 6], 3),
            "5.2": derivation("5.2", f"{N} cell 3:1"),
            "5.3": notebook("5.3", f"{N} cell 4:1", N, [6], 2),
            "6.1": notebook("6.1", f"{M} cell 0:1", M, [3], 3),
            "6.2": notebook("6.2", f"{M} cell 4:1", M, [], 1),
            "6.50": notebook("6.50", f"{M} cell 1:1", M, [2, 5], 4, optional=True),
        },
        "reaches": {
            unit: ["1.2"],
            net: ["1.2", "1.10", "5.1"],
            named: ["1.10", "1.2"],
            f"{B}::test_b50": ["2.50"],
            f"{B}::test_opt": ["2.1", "2.50"],
            mine: ["3.1", "1.10", "1.2", "4.1"],
            f"{N}::cell 2": ["5.1"],
            f"{N}::cell 6": ["5.1", "1.2"],
            f"{M}::cell 3": ["6.1"],
            f"{M}::cell 2": ["6.1", "6.50"],
            f"{M}::cell 5": ["6.2", "6.50"],
        },
        "failing_on_solutions": {f"{A}::test_broken": "x" * 1496 + "TAIL"},
    }


def test_without_library_exercises_no_test_runs_and_without_reaching_tests_no_stubbed_run(tmp_path, monkeypatch):
    """No library exercise: the course's tests are not run. A library exercise no passing test reaches:
    nothing runs stubbed, and a test failing on the solutions is reported whole (up to 1500 characters)."""
    alone = FakeCourse(tmp_path, [region("5.2", "derivation", f"{N} cell 3", 4)])
    runs = Runs(monkeypatch)
    data = grade.exercise_map(alone)
    assert runs.tests == [] and runs.notebooks == [] and len(runs.editions) == 1
    assert data == {
        "version": MAP_VERSION,
        "fingerprint": "f1",
        "exercises": {"5.2": derivation("5.2", f"{N} cell 3:4")},
        "reaches": {},
        "failing_on_solutions": {},
    }

    lone = FakeCourse(tmp_path, [region("1.1", "library", "scratchlib/a.py", 3)], sources={"scratchlib/a.py": ["1.1"]})
    runs = Runs(monkeypatch, probe={(f"{A}::test_x", None): failed("short", ["1.1"], 0.5)}, files=[A])
    data = grade.exercise_map(lone)
    [(_, probe, _)] = runs.editions
    assert runs.tests == [(lone, probe, [A], None, 300.0)]  # the default timeout, and no stubbed run
    assert data["exercises"]["1.1"] == library("1.1", "scratchlib/a.py:3", [], None, 0, 0.0)
    assert data["failing_on_solutions"] == {f"{A}::test_x": "short"} and data["reaches"] == {}


def test_a_students_test_is_the_function_holding_its_region_when_it_passes_on_the_solutions(tmp_path, ascii_locale):
    """test_entry: the top-level test function whose lines hold the region's first line (from its def
    line to its last line), only when it passed; its layers are the other exercises it runs, in order."""
    (tmp_path / "tests").mkdir()
    (tmp_path / STUDENT).write_text(MY_LAYERS, encoding="utf-8")
    mine = f"{STUDENT}::test_mine"
    results = {
        (mine, None): passed(["3.1", "1.10", "2.1", "1.2", "1.10"]),
        (f"{STUDENT}::test_other", None): passed(["9.9"]),
    }

    def entry(line, results=results):
        course = FakeCourse(tmp_path, [region("3.1", "test", STUDENT, line)])
        return grade.test_entry(course, "3.1", results)

    found = {"tests": [mine], "cells": [], "caught_by": mine, "reached": 1, "layers": ["1.2", "1.10", "2.1"]}
    nothing = {"tests": [], "cells": [], "caught_by": None, "reached": 0, "layers": []}
    assert entry(7) == entry(8) == entry(9) == found  # def test_mine() is line 7, its last line 9
    assert entry(6) == entry(10) == entry(14) == nothing  # a blank line, and a method of a class
    assert entry(4) == {
        **found,
        "tests": [f"{STUDENT}::test_other"],
        "caught_by": f"{STUDENT}::test_other",
        "layers": ["9.9"],
    }
    assert entry(8, {(mine, None): failed(hits=["1.2"])}) == nothing  # it fails on the solutions
    assert entry(8, {}) == nothing  # it did not run


def test_load_map_reads_a_cache_of_the_same_version_and_fingerprint_else_makes_and_writes_it(tmp_path, monkeypatch):
    course = FakeCourse(tmp_path, [], fingerprint="abc")
    made = []

    def exercise_map(course_, timeout=300.0):
        assert course_ is course
        made.append(timeout)
        return {"version": MAP_VERSION, "fingerprint": "abc", "exercises": {"1.1": {"b": 1, "a": [2]}}}

    replaced = []

    def replace(src, dst):
        replaced.append((Path(src), Path(dst), json.loads(Path(src).read_text())))
        real_replace(src, dst)

    real_replace = os.replace
    monkeypatch.setattr(grade, "exercise_map", exercise_map)
    monkeypatch.setattr(os, "replace", replace)
    fresh = exercise_map(course)
    made.clear()

    assert grade.load_map(course, None) == fresh and made == [300.0] and replaced == []  # no cache: made
    cache = tmp_path / "build" / "deep" / "exercises.json"
    assert grade.load_map(course, cache, timeout=4.0) == fresh and made == [300.0, 4.0]
    assert cache.read_text() == json.dumps(fresh, indent=1, sort_keys=True) + "\n"
    partial = cache.with_name(f"exercises.json.{os.getpid()}")
    assert replaced == [(partial, cache, fresh)] and os.listdir(cache.parent) == ["exercises.json"]

    cache.write_text(json.dumps({"version": MAP_VERSION, "fingerprint": "abc", "kept": True}))
    assert grade.load_map(course, cache) == {"version": MAP_VERSION, "fingerprint": "abc", "kept": True}
    assert made == [300.0, 4.0]  # read from the cache, not made again

    for stale in ({"version": MAP_VERSION - 1, "fingerprint": "abc"}, {"version": MAP_VERSION, "fingerprint": "x"}):
        cache.write_text(json.dumps(stale))
        assert grade.load_map(course, cache) == fresh
        assert json.loads(cache.read_text()) == fresh
    assert made == [300.0, 4.0, 300.0, 300.0] and len(replaced) == 3


@pytest.fixture
def unfit():
    """A map with each kind of problem, and exercises that have none."""
    mixed = ["tests/test_a.py::test_mixed", "tests/test_a.py::test_wide"]
    return {
        "exercises": {
            "1.1": {"where": "scratchlib/a.py:3", "kind": "library", "tests": [], "caught_by": None, "reached": 2},
            "1.2": {"where": "scratchlib/a.py:9", "kind": "library", "tests": [], "caught_by": None, "reached": 0},
            "1.3": {"where": "scratchlib/a.py:12", "kind": "library", "tests": [], "caught_by": None},
            "1.10": {"where": "scratchlib/a.py:20", "kind": "library", "tests": mixed, "caught_by": mixed[0]},
            "1.11": {"where": "scratchlib/a.py:30", "kind": "library", "tests": [mixed[1], "t/own"], "caught_by": "x"},
            "2.1": {"where": f"{N} cell 4:2", "kind": "notebook", "tests": [], "caught_by": None, "reached": 3},
            "2.2": {"where": f"{N} cell 5:1", "kind": "derivation", "tests": [], "caught_by": None},
            "2.3": {"where": f"{N} cell 6:1", "kind": "notebook", "tests": [f"{N}::cell 7"], "caught_by": "c"},
            "3.1": {
                "where": f"{STUDENT}:5",
                "kind": "test",
                "tests": ["m"],
                "caught_by": "m",
                "layers": ["1.2", "1.10"],
            },
            "3.2": {"where": f"{STUDENT}:9", "kind": "test", "tests": ["n"], "caught_by": "n"},
            "3.3": {
                "where": f"{STUDENT}:14",
                "kind": "test",
                "tests": ["o"],
                "caught_by": "o",
                "layers": ["1.2", "4.1"],
            },
            "3.4": {"where": f"{STUDENT}:20", "kind": "test", "tests": [], "caught_by": None, "layers": []},
        },
        "reaches": {
            mixed[0]: ["1.10", "2.1", "1.2"],
            mixed[1]: ["1.10", "1.11", "1.2", "1.11"],
            "t/own": ["1.11"],
            f"{N}::cell 7": ["2.3", "1.1"],
        },
        "failing_on_solutions": {"tests/test_a.py::test_bad": "AssertionError: 1 != 2", "tests/test_b.py::test_c": ""},
    }


def test_problems_name_each_unfit_exercise_and_each_test_failing_on_the_solutions(unfit):
    """Exercises no test catches (with what to do, as reached: library, cell), library exercises with no test
    of their own (naming the other exercises, in exercise order), students' tests running no layer with
    wrong versions, tests failing on the solutions; derivations, notebooks and tests reaching one are fine."""
    tests = "python -m teacher reach FILE shows what each test runs"
    assert grade.problems(unfit) == [
        "exercise 1.1 (scratchlib/a.py:3) is not caught by any test: 2 test(s) run its code, but none fails when "
        "only its stub is in place; add a unit test of its behaviour",
        "exercise 1.2 (scratchlib/a.py:9) is not caught by any test: add a unit test that runs it (a test that "
        "fails on the solutions does not count)",
        "exercise 1.3 (scratchlib/a.py:12) is not caught by any test: add a unit test that runs it (a test that "
        "fails on the solutions does not count)",
        f"exercise 2.1 ({N} cell 4:2) is not caught by any test: no cell that runs after it fails when only its "
        "stub is in place (check its result in a later cell)",
        f"exercise 3.4 ({STUDENT}:20) is not caught by any test: add a unit test that runs it (a test that fails "
        "on the solutions does not count)",
        "exercise 1.10 (scratchlib/a.py:20) has no test of its own: each of its tests also runs another exercise "
        "(1.2, 1.11, 2.1), so with only 1.10 done its check can only wait; add a test of its values that runs it "
        f"alone ({tests})",
        f"exercise 3.1 ({STUDENT}:5): the student's test runs no layer exercise that has wrong versions in "
        "teacher.wrong (1.2, 1.10): there is nothing for it to catch",
        f"exercise 3.2 ({STUDENT}:9): the student's test runs no layer exercise that has wrong versions in "
        "teacher.wrong (none): there is nothing for it to catch",
        "tests/test_a.py::test_bad fails on the solutions:\nAssertionError: 1 != 2",
        "tests/test_b.py::test_c fails on the solutions:\n",
    ]


def test_without_reaches_every_library_exercise_with_tests_has_none_of_its_own(unfit):
    del unfit["reaches"]
    own = [p for p in grade.problems(unfit) if "has no test of its own" in p]
    assert [p.split(" (")[0] for p in own] == ["exercise 1.10", "exercise 1.11"]
    assert "each of its tests also runs another exercise (), so with only 1.11 done" in own[1]
