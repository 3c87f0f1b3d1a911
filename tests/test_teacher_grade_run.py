"""How the grader runs a class and writes its reports (tools/teacher/grade.py, from "grading" down).

Fast and in-process: small fake courses and rows built by hand, the solution's run, the editions and
the supervisor faked through the names grade.py looks up when it runs (a supervisor is a real,
harmless, short-lived child: grade_copy kills its process group). tests/test_teacher.py grades whole
copies end to end; these pin the values, so that mutation testing of grade.py runs in minutes.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import grade, isolate, supervise  # noqa: E402
from teacher.supervise import Row  # noqa: E402

WHY_HAND = "graded by hand from the rubric"


class FakeCourse:
    """What grade.py asks of a course here: its root, fingerprint, regions and kinds."""

    def __init__(self, root: Path, regions: dict | None = None, kinds: dict | None = None, fingerprint: str = "f1"):
        self.root = root
        self.regions = regions or {}
        self.kinds = kinds or {}
        self.print = fingerprint

    def fingerprint(self) -> str:
        return self.print

    def region(self, exercise: str) -> SimpleNamespace:
        return self.regions[exercise]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rows() -> list[Row]:
    return [
        Row("1.1", "Linear.forward", "scratchlib/layers/linear.py", 3, 3, "", "library", False, 1.0),
        Row("1.2", "Linear.backward", "scratchlib/layers/linear.py", 1, 2, "test_b failed", "library", False, 0.0),
        Row("2.1", "Plot", "notebooks/02.ipynb cell 3", 1, 4, "3 of 4 cells fail", "notebook", True, 0.25),
        Row("2.2", "Derive dx", "notebooks/02.ipynb cell 5", 0, 0, WHY_HAND, "derivation", False, None),
        Row("3.1", "Derive dW", "notebooks/03.ipynb cell 2", 0, 0, WHY_HAND, "derivation", True, None),
    ]


# ---------------------------------------------------------------- reports


def test_scores_are_means_over_the_autograded_rows_core_and_optional_apart():
    assert grade.scores(rows()) == {"core": 0.5, "optional": 0.25}
    only_core = [r for r in rows() if not r.optional]
    assert grade.scores(only_core) == {"core": 0.5, "optional": None}
    manual = [r for r in rows() if r.manual]
    assert grade.scores(manual) == {"core": None, "optional": None}
    assert grade._mean([]) is None
    assert grade._mean(rows()[:3]) == pytest.approx(1.25 / 3)
    # a row without a score counts nowhere, whatever its kind
    odd = Row("4.1", "t", "w", 0, 1, "", "library", False, None)
    assert grade._mean([odd, rows()[0]]) == 1.0


def test_the_table_lines_up_every_row_its_reason_and_the_three_summary_lines():
    assert grade.table(rows()).splitlines() == [
        "exercise  passed  total  score  task / why not full marks",
        "1.1            3      3   1.00  Linear.forward",
        "1.2            1      2   0.00  Linear.backward",
        "                                 -> test_b failed",
        "2.1            1      4   0.25  Plot (optional)",
        "                                 -> 3 of 4 cells fail",
        "2.2            0      0   hand  Derive dx",
        "                                 -> graded by hand from the rubric",
        "3.1            0      0   hand  Derive dW (optional)",
        "                                 -> graded by hand from the rubric",
        "core                      0.50  mean over 2 autograded core exercises",
        "optional                  0.25  mean over 1 optional exercises",
        "by hand                         2 derivations to grade by hand: 2.2, 3.1",
    ]


def test_the_table_without_optional_or_hand_rows_shows_a_dash_and_no_hand_line():
    text = grade.table(rows()[:2])
    assert text.splitlines()[-2:] == [
        "core                      0.50  mean over 2 autograded core exercises",
        "optional                     -  mean over 0 optional exercises",
    ]
    assert "by hand" not in text
    assert grade.table(rows()[:3]).splitlines()[-1] == "optional                  0.25  mean over 1 optional exercises"
    assert grade.table([]).splitlines()[1] == "core                         -  mean over 0 autograded core exercises"


def test_the_csv_has_one_line_per_student_and_exercise_scores_to_four_decimals():
    other = [
        Row("1.1", "Linear.forward", "scratchlib/layers/linear.py", 0, 3, 'say "x", then y', "library", False, 0.0)
    ]
    assert grade.to_csv({"ada": rows(), "bob": other}).splitlines() == [
        "student,exercise,passed,total,score,reason,where,task,part,graded",
        "ada,1.1,3,3,1.0000,,scratchlib/layers/linear.py,Linear.forward,core,auto",
        "ada,1.2,1,2,0.0000,test_b failed,scratchlib/layers/linear.py,Linear.backward,core,auto",
        "ada,2.1,1,4,0.2500,3 of 4 cells fail,notebooks/02.ipynb cell 3,Plot,optional,auto",
        "ada,2.2,0,0,,graded by hand from the rubric,notebooks/02.ipynb cell 5,Derive dx,core,by hand",
        "ada,3.1,0,0,,graded by hand from the rubric,notebooks/03.ipynb cell 2,Derive dW,optional,by hand",
        'bob,1.1,0,3,0.0000,"say ""x"", then y",scratchlib/layers/linear.py,Linear.forward,core,auto',
    ]
    assert grade.to_csv({}) == "student,exercise,passed,total,score,reason,where,task,part,graded\n"


def test_the_wide_csv_has_one_line_per_student_exercises_in_course_order():
    ten = Row("10.1", "Late", "notebooks/10.ipynb cell 1", 1, 1, "", "notebook", False, 0.123456)
    graded = {"ada": [*rows(), ten], "bob": [rows()[3]], "cy": [rows()[2]]}
    assert grade.to_wide_csv(graded) == (
        "student,1.1,1.2,2.1,2.2,3.1,10.1,core,optional\n"
        "ada,1.0000,0.0000,0.2500,by hand,by hand,0.1235,0.3745,0.2500\n"
        "bob,,,,by hand,,,,\n"
        "cy,,,0.2500,,,,,0.2500\n"
    )


def test_the_html_report_escapes_what_the_student_wrote_and_gives_percentages():
    hostile = [
        Row("1.1", "A <b>task</b>", "w", 1, 2, "<script>alert('x')</script> & more", "library", False, 0.5),
        Row("1.2", "B", "w", 2, 2, "", "library", False, 1.0),
        Row("2.1", "C", "w", 1, 4, "", "notebook", True, 0.25),
        Row("2.2", "D", "w", 0, 0, WHY_HAND, "derivation", False, None),
    ]
    assert grade.to_html('<img src=x onerror="1">', hostile) == (
        "<!doctype html><meta charset=utf-8><title>scratchlib: &lt;img src=x onerror=&quot;1&quot;&gt;</title>"
        "<h1>&lt;img src=x onerror=&quot;1&quot;&gt;: core 75%, optional 25%</h1><table border=1 cellpadding=4>"
        "<tr><th>exercise</th><th>task</th><th>part</th><th>tests passed</th><th>score</th>"
        "<th>why not full marks</th></tr>"
        "<tr><td>1.1</td><td>A &lt;b&gt;task&lt;/b&gt;</td><td>core</td><td>1/2</td><td>0.50</td>"
        "<td>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more</td></tr>"
        "<tr><td>1.2</td><td>B</td><td>core</td><td>2/2</td><td>1.00</td><td></td></tr>"
        "<tr><td>2.1</td><td>C</td><td>optional</td><td>1/4</td><td>0.25</td><td></td></tr>"
        "<tr><td>2.2</td><td>D</td><td>core</td><td>0/0</td><td>by hand</td>"
        "<td>graded by hand from the rubric</td></tr>"
        "</table>\n"
    )
    assert "<h1>ada: core -</h1>" in grade.to_html("ada", [hostile[3]])
    assert "<h1>ada: core 100%</h1>" in grade.to_html("ada", [hostile[1]])


def test_the_rubric_gives_each_derivation_its_worked_answer_and_what_each_student_wrote(monkeypatch, tmp_path):
    regions = {
        "3.1": SimpleNamespace(task="Derive dW", where="notebooks/03.ipynb cell 2", body=["  dW = x^T g\n", "done \n"]),
        "10.2": SimpleNamespace(task="Derive late", where="notebooks/10.ipynb cell 4", body=["late = 1"]),
    }
    course = FakeCourse(tmp_path, regions)
    written = {("ada", "3.1"): "  my dW  \n", ("ada", "10.2"): " \n", ("bob", "3.1"): "", ("bob", "10.2"): "x"}
    asked = []

    def derivation_text(c, folder, exercise):
        asked.append((c, folder.name, exercise))
        return written[folder.name, exercise]

    monkeypatch.setattr(isolate, "derivation_text", derivation_text)
    late = Row("10.2", "Derive late", "w", 0, 0, WHY_HAND, "derivation", False, None)
    graded = {"ada": [late, *rows()[:3]], "bob": [rows()[4], rows()[0]]}
    students = {"ada": tmp_path / "ada", "bob": tmp_path / "bob"}
    assert grade.rubric(course, graded, students) == (
        "# Derivations to grade by hand (teacher only: this file holds the rubrics)\n\n"
        "## 3.1: Derive dW\n\nRubric (notebooks/03.ipynb cell 2):\n\ndW = x^T g\ndone\n\n"
        "### ada\n\nmy dW\n\n"
        "### bob\n\n(nothing written)\n\n"
        "## 10.2: Derive late\n\nRubric (notebooks/10.ipynb cell 4):\n\nlate = 1\n\n"
        "### ada\n\n(nothing written)\n\n"
        "### bob\n\nx\n"
    )
    assert asked == [(course, "ada", "3.1"), (course, "bob", "3.1"), (course, "ada", "10.2"), (course, "bob", "10.2")]
    assert grade.rubric(course, {"ada": rows()[:3]}, students) == (
        "# Derivations to grade by hand (teacher only: this file holds the rubrics)\n"
    )


def test_an_exercise_file_is_its_where_without_the_cell(tmp_path):
    course = FakeCourse(
        tmp_path,
        {
            "1.1": SimpleNamespace(where="scratchlib/layers/base.py"),
            "2.1": SimpleNamespace(where="notebooks/03 x.ipynb cell 4 cell 5"),
        },
    )
    assert grade._file_of(course, "1.1") == "scratchlib/layers/base.py"
    assert grade._file_of(course, "2.1") == "notebooks/03 x.ipynb"


def test_failed_rows_give_every_exercise_no_marks_and_derivations_to_grade_by_hand(monkeypatch, tmp_path):
    kinds = {"2.1": "library", "3.1": "derivation", "9.2": "notebook", "10.1": "hand"}
    course = FakeCourse(tmp_path, kinds=kinds)
    monkeypatch.setattr(supervise, "kind_of", lambda c, e: c.kinds[e])
    data = {
        "exercises": {
            "10.1": {"task": "T10", "where": "w10", "tests": []},
            "9.2": {"task": "T92", "where": "w92", "tests": ["a", "b", "c"], "optional": True},
            "3.1": {"task": "T31", "where": "w31", "tests": ["y", "z"], "optional": False},
            "2.1": {"task": "T21", "where": "w21", "tests": ["x"]},
        }
    }
    got = grade._failed_rows(course, data, "why")
    assert got == [
        Row("2.1", "T21", "w21", 0, 1, "why", "library", False, 0.0),
        Row("3.1", "T31", "w31", 0, 0, WHY_HAND, "derivation", False, None),
        Row("9.2", "T92", "w92", 0, 3, "why", "notebook", True, 0.0),
        Row("10.1", "T10", "w10", 0, 1, "why", "hand", False, 0.0),
    ]
    assert [type(r.optional) for r in got] == [bool] * 4


# ---------------------------------------------------------------- the solution's run, cached


@pytest.fixture
def solution_run(monkeypatch, tmp_path):
    """reference_file with the edition and the solution's run faked: what each call was given."""
    calls: dict[str, list] = {"edition": [], "reference": []}
    sandbox, module = tmp_path / "sandbox.py", tmp_path / "supervise.py"
    sandbox.write_text("sandbox 1")
    module.write_text("supervise 1")
    monkeypatch.setattr(supervise, "SANDBOX", sandbox)
    monkeypatch.setattr(supervise, "__file__", str(module))

    def write_edition(course, out, edition="student"):
        calls["edition"].append((course, out, edition, out.parent.is_dir()))
        out.mkdir()
        return []

    def reference(*args):
        calls["reference"].append(args)
        return {"problems": [f"problem {len(calls['reference'])}", "again"], "values": {"t": [1, 2]}}

    monkeypatch.setattr(grade, "write_edition", write_edition)
    monkeypatch.setattr(supervise, "reference", reference)
    return SimpleNamespace(calls=calls, sandbox=sandbox, module=module)


DATA = {"exercises": {"1.1": {"tests": ["a"]}, "1.2": {"tests": ["b"]}}, "reaches": {"a": ["1.1"]}}


def test_the_solutions_run_is_made_once_kept_private_and_its_problems_are_warned(solution_run, tmp_path, capsys):
    course = FakeCourse(tmp_path / "course")
    (tmp_path / "course").mkdir()
    path = grade.reference_file(course, DATA)
    folder = tmp_path / "course" / "build" / "grader"
    assert path.parent == folder
    assert path.name.startswith("reference-") and path.suffix == ".json"
    assert len(path.name) == len("reference-") + 16 + len(".json")
    int(path.name[len("reference-") : -len(".json")], 16)
    assert json.loads(path.read_text()) == {"problems": ["problem 1", "again"], "values": {"t": [1, 2]}}
    assert mode(folder) == 0o700 and mode(path) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == [path.name]  # nothing partial left
    assert capsys.readouterr().err == "warning: problem 1\nwarning: again\n"

    [(c, solved, edition, existed)] = solution_run.calls["edition"]
    assert (c, solved.name, edition, existed) == (course, "solved", "solved", True)
    assert solved.parent.name.startswith("teacher-reference-")
    assert not solved.parent.exists()  # the temporary folder is gone
    [args] = solution_run.calls["reference"]
    assert args == (course, DATA, solved, solved.parent / "work", sys.executable, 60.0, 2, 2, True)

    # the same course, map, tools and options: the cached file, with no new run and no warning
    os.chmod(folder, 0o755)
    same = {"reaches": {"a": ["1.1"]}, "exercises": {"1.2": {"tests": ["b"]}, "1.1": {"tests": ["a"]}}}
    assert grade.reference_file(course, same, timeout=5.0, lanes=7) == path
    assert len(solution_run.calls["reference"]) == 1
    assert capsys.readouterr().err == ""
    assert mode(folder) == 0o700

    grade.reference_file(course, DATA, 3.0, 4, 5, False)
    assert solution_run.calls["reference"][-1][5:] == (3.0, 4, 5, False)


def test_the_solutions_run_is_made_again_when_anything_it_depends_on_changes(solution_run, tmp_path):
    course = FakeCourse(tmp_path / "course")
    paths = [grade.reference_file(course, DATA)]
    paths.append(grade.reference_file(course, DATA, repeat=3))
    paths.append(grade.reference_file(course, DATA, notebooks=False))
    course.print = "f2"
    paths.append(grade.reference_file(course, DATA))
    paths.append(grade.reference_file(course, {**DATA, "exercises": {"1.1": {"tests": ["a"]}}}))
    paths.append(grade.reference_file(course, {**DATA, "reaches": {"a": ["1.2"]}}))
    solution_run.sandbox.write_text("sandbox 2")
    paths.append(grade.reference_file(course, DATA))
    solution_run.module.write_text("supervise 2")
    paths.append(grade.reference_file(course, DATA))
    assert len({p.name for p in paths}) == len(paths) == len(solution_run.calls["reference"])
    # a map without "reaches" is one with none
    without = grade.reference_file(course, {"exercises": DATA["exercises"]})
    assert grade.reference_file(course, {"exercises": DATA["exercises"], "reaches": {}}) == without


def test_three_solution_runs_are_kept_the_new_one_and_the_two_newest_before_it(solution_run, tmp_path):
    folder = tmp_path / "course" / "build" / "grader"
    folder.mkdir(parents=True)
    ages = {"a": 100, "b": 500, "c": 300, "d": 200, "e": 400}
    for name, age in ages.items():
        (folder / f"reference-{name}.json").write_text(name)
        os.utime(folder / f"reference-{name}.json", (age, age))
    (folder / "notes.txt").write_text("kept")
    path = grade.reference_file(FakeCourse(tmp_path / "course"), DATA)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["notes.txt", "reference-b.json", "reference-e.json", path.name]
    )


# ---------------------------------------------------------------- the sandbox's user and isolation


def test_a_free_sandbox_uid_skips_by_64_while_one_has_processes(monkeypatch):
    asked = []

    def processes_of(uid):
        asked.append(uid)
        return [1, 2] if uid in (62003, 62067) else []

    monkeypatch.setattr(supervise, "processes_of", processes_of)
    assert grade._free_uid(3) == {"uid": 62131, "gid": 62131}
    assert asked == [62003, 62067, 62131]
    assert grade._free_uid(0) == {"uid": 62000, "gid": 62000}


def test_others_can_use_says_the_first_place_that_stops_another_user():
    base = Path(os.path.realpath(tempfile.mkdtemp(dir="/tmp")))  # pytest's tmp_path is 0700
    try:
        os.chmod(base, 0o755)
        (base / "open").mkdir(mode=0o755)
        (base / "open" / "file").write_text("x")
        os.chmod(base / "open" / "file", 0o644)
        assert grade._others_can_use(base / "open" / "file") == ""
        assert grade._others_can_use(base / "open") == ""
        assert grade._others_can_use(base / "open" / ".." / "open" / "file") == ""

        os.chmod(base / "open" / "file", 0o771)
        assert grade._others_can_use(base / "open" / "file") == f"{base}/open/file is not readable by other users"
        os.chmod(base / "open" / "file", 0o604)
        assert grade._others_can_use(base / "open" / "file") == ""

        os.chmod(base / "open", 0o776)
        assert grade._others_can_use(base / "open" / "file") == f"{base}/open is not searchable by other users"
        assert grade._others_can_use(base / "open") == f"{base}/open is not searchable by other users"

        os.chmod(base / "open", 0o755)
        assert grade._others_can_use(base / "open" / "gone") == f"{base}/open/gone (No such file or directory)"
        (base / "link").symlink_to(base / "open" / "file")
        os.chmod(base / "open", 0o750)
        assert grade._others_can_use(base / "link") == f"{base}/open is not searchable by other users"
    finally:
        shutil.rmtree(base)


def test_the_sandbox_user_exists_only_as_root_and_where_python_is_in_reach(monkeypatch):
    asked = []

    def unreachable(python):
        asked.append(python)
        return "/root is not searchable by other users" if python == "/root/python" else ""

    monkeypatch.setattr(grade, "_unreachable", unreachable)
    monkeypatch.setattr(supervise, "processes_of", lambda uid: [])
    monkeypatch.setattr(grade.os, "geteuid", lambda: 1000)
    assert grade.sandbox_user(1, "/root/python") == (None, "")
    assert asked == []
    monkeypatch.setattr(grade.os, "geteuid", lambda: 0)
    assert grade.sandbox_user(1, "/root/python") == (None, "/root is not searchable by other users")
    assert grade.sandbox_user(2, "/usr/bin/python3") == ({"uid": 62002, "gid": 62002}, "")
    assert grade.sandbox_user(0) == ({"uid": 62000, "gid": 62000}, "")
    assert asked == ["/root/python", "/usr/bin/python3", sys.executable]


def test_unreachable_checks_the_interpreter_and_every_folder_it_imports_from(monkeypatch, tmp_path):
    runs, checked = [], []

    def run(argv, **kwargs):
        runs.append((argv, kwargs))
        return SimpleNamespace(stdout="/usr/lib/python3\n/site\n")

    def others_can_use(path):
        checked.append(path)
        return "stopped" if path == Path("/site") else ""

    monkeypatch.setattr(grade.subprocess, "run", run)
    monkeypatch.setattr(grade, "_others_can_use", others_can_use)
    assert grade._unreachable.__wrapped__("/py") == "stopped"
    assert checked == [Path("/py"), Path("/usr/lib/python3"), Path("/site")]
    assert runs[0][0][:2] == ["/py", "-c"] and runs[0][1] == {"capture_output": True, "text": True, "env": {}}
    monkeypatch.setattr(grade, "_others_can_use", lambda path: "")
    assert grade._unreachable.__wrapped__("/py") == ""


@pytest.mark.parametrize(
    ("user", "namespaces", "said"),
    [
        (
            {"uid": 1},
            ["unshare"],
            "a user of its own and namespaces of its own (no process of the grader in sight, no network)",
        ),
        (None, ["unshare"], "namespaces of its own (no process of the grader in sight, no network)"),
        ({"uid": 1}, [], "a user of its own"),
        (None, [], "the grader's own user (no namespaces on this system): see the README"),
    ],
)
def test_isolation_says_how_the_students_code_is_kept_apart(monkeypatch, user, namespaces, said):
    asked = []
    monkeypatch.setattr(grade, "sandbox_user", lambda slot: asked.append(slot) or (user, ""))
    monkeypatch.setattr(supervise, "namespaces", lambda as_root: asked.append(as_root) or namespaces)
    monkeypatch.setattr(grade.os, "geteuid", lambda: 0)
    assert grade.isolation() == said
    monkeypatch.setattr(grade.os, "geteuid", lambda: 1000)
    grade.isolation()
    assert asked == [0, True, 0, False]


def test_the_edition_is_made_readable_by_every_user(tmp_path):
    (tmp_path / "e" / "sub").mkdir(parents=True)
    (tmp_path / "e" / "a.py").write_text("a")
    (tmp_path / "e" / "sub" / "b.py").write_text("b")
    for path, bits in [("e/sub/b.py", 0o600), ("e/a.py", 0o777), ("e/sub", 0o700), ("e", 0o700)]:
        os.chmod(tmp_path / path, bits)
    grade._readable(tmp_path / "e")
    assert {p: mode(tmp_path / p) for p in ["e", "e/sub", "e/a.py", "e/sub/b.py"]} == {
        "e": 0o755,
        "e/sub": 0o755,
        "e/a.py": 0o644,
        "e/sub/b.py": 0o644,
    }


# ---------------------------------------------------------------- the class and its copies


@pytest.fixture
def fake_class(monkeypatch, tmp_path):
    """Class with the solution's run and the edition faked; as root with a sandbox user by default."""
    calls: dict[str, list] = {"reference": [], "edition": [], "others": []}

    def reference_file(*args):
        calls["reference"].append(args)
        return tmp_path / "ref.json"

    def write_edition(course, out, edition="student"):
        calls["edition"].append((course, out, edition))
        (out / "scratchlib").mkdir(parents=True, exist_ok=True)
        os.chmod(out / "scratchlib", 0o700)
        (out / "scratchlib" / "a.py").write_text("a")
        os.chmod(out / "scratchlib" / "a.py", 0o600)
        return []

    def others_can_use(path):
        calls["others"].append(path)
        return calls.get("stop", "") if path == tmp else f"asked about {path}"

    monkeypatch.setattr(grade, "reference_file", reference_file)
    monkeypatch.setattr(grade, "write_edition", write_edition)
    monkeypatch.setattr(grade, "_others_can_use", others_can_use)
    monkeypatch.setattr(grade, "sandbox_user", lambda slot: ({"uid": 62000 + slot, "gid": 62000 + slot}, ""))
    monkeypatch.setattr(grade.os, "geteuid", lambda: 0)
    tmp = tmp_path / "grading"
    tmp.mkdir(mode=0o700)
    return SimpleNamespace(calls=calls, tmp=tmp, course=FakeCourse(tmp_path / "course"))


def test_the_class_holds_the_solutions_run_the_readable_edition_and_the_private_map(fake_class, capsys):
    shared = grade.Class(fake_class.course, DATA, fake_class.tmp, 5.0, 3)
    tmp = fake_class.tmp
    assert fake_class.calls["reference"] == [(fake_class.course, DATA, 5.0, 3, 2, True)]
    assert shared.reference == tmp.parent / "ref.json"
    assert (shared.course, shared.data, shared.tmp) == (fake_class.course, DATA, tmp)
    assert shared.edition == tmp / "edition"
    assert fake_class.calls["edition"] == [(fake_class.course, tmp / "edition", "student")]
    assert mode(tmp / "edition" / "scratchlib") == 0o755 and mode(tmp / "edition" / "scratchlib" / "a.py") == 0o644
    assert mode(tmp) == 0o711
    assert shared.map == tmp / "map.json"
    assert json.loads(shared.map.read_text()) == DATA and mode(shared.map) == 0o600
    assert shared.drop is True
    assert fake_class.calls["others"] == [tmp]
    assert capsys.readouterr().err == ""

    grade.Class(fake_class.course, DATA, fake_class.tmp, 5.0, 3, 4, False)
    assert fake_class.calls["reference"][-1] == (fake_class.course, DATA, 5.0, 3, 4, False)


def test_the_class_runs_the_students_code_as_root_where_the_copies_are_out_of_the_users_reach(
    fake_class, monkeypatch, capsys
):
    fake_class.calls["stop"] = "/tmp/x is not searchable by other users"
    shared = grade.Class(fake_class.course, DATA, fake_class.tmp, 5.0, 3)
    assert shared.drop is False
    assert capsys.readouterr().err == (
        "warning: the students' code cannot run as a user of its own: /tmp/x is not searchable by other users "
        f"(TMPDIR={fake_class.tmp.parent}); it runs as root, without capabilities where namespaces allow\n"
    )
    # no sandbox user, or not root: no user of its own, and nothing to warn of here
    fake_class.calls["stop"] = ""
    monkeypatch.setattr(grade, "sandbox_user", lambda slot: (None, "why"))
    assert grade.Class(fake_class.course, DATA, fake_class.tmp, 5.0, 3).drop is False
    fake_class.calls["stop"] = "/tmp/x is not searchable by other users"
    monkeypatch.setattr(grade, "sandbox_user", lambda slot: ({"uid": 1, "gid": 1}, ""))
    monkeypatch.setattr(grade.os, "geteuid", lambda: 1000)
    assert grade.Class(fake_class.course, DATA, fake_class.tmp, 5.0, 3).drop is False
    assert capsys.readouterr().err == ""
    fake_class.calls["stop"] = ""
    assert grade.Class(fake_class.course, DATA, fake_class.tmp, 5.0, 3).drop is False


SUPERVISOR = r"""
import json, sys, time
job, result, rows, status, sleep = sys.argv[1:6]
print("supervisor says hello")
sys.stdout.flush()
if rows == "long":
    sys.stdout.buffer.write(b"y" * 3000 + b"\xff" + b"z" * 1998 + b"\n")
    sys.stdout.flush()
time.sleep(float(sleep))
if rows != "-":
    with open(result, "w") as out:
        out.write(rows)
sys.exit(int(status))
"""


@pytest.fixture
def supervisor(monkeypatch, tmp_path):
    """grade_copy with its supervisor a real, harmless, short-lived child that writes what `answer`
    says (result.json's text or "-" for none, its exit status, seconds it sleeps first)."""
    state = SimpleNamespace(
        answer=("-", 0, 0), popen=[], kills=[], users=[], jobs=[], children=[], descendants=[], removed=[]
    )
    real_popen, real_kill, real_descendants, real_rmtree = (
        subprocess.Popen,
        supervise.kill,
        supervise.descendants,
        grade.shutil.rmtree,
    )

    def popen(argv, **kwargs):
        job = Path(argv[3])
        state.popen.append((argv, kwargs))
        state.jobs.append((json.loads(job.read_text()), mode(job.parent), job.parent))
        rows, status, sleep = state.answer
        child = real_popen(
            [sys.executable, "-c", SUPERVISOR, argv[3], argv[4], rows, str(status), str(sleep)], **kwargs
        )
        state.children.append(child)
        return child

    def kill(pids):
        state.kills.append(list(pids))
        real_kill([p for p in pids if p in [c.pid for c in state.children]])

    def descendants(pid):
        state.descendants.append(pid)
        return real_descendants(pid)

    def rmtree(path, **kwargs):
        state.removed.append((Path(path), kwargs))
        real_rmtree(path, **kwargs)

    def processes_of(uid):
        state.users.append(uid)
        return [-424242]

    monkeypatch.setattr(grade.subprocess, "Popen", popen)
    monkeypatch.setattr(supervise, "kill", kill)
    monkeypatch.setattr(supervise, "processes_of", processes_of)
    monkeypatch.setattr(supervise, "descendants", descendants)
    monkeypatch.setattr(grade.shutil, "rmtree", rmtree)
    monkeypatch.setattr(supervise, "namespaces", lambda as_root: ["unshare", f"root={as_root}"])
    monkeypatch.setattr(supervise, "kind_of", lambda course, e: course.kinds[e])
    monkeypatch.setattr(grade, "sandbox_user", lambda slot: ({"uid": 62000 + slot, "gid": 62000 + slot}, ""))
    monkeypatch.setattr(grade.os, "geteuid", lambda: 0)
    tmp = tmp_path / "grading"
    tmp.mkdir()
    data = {
        "exercises": {
            "2.2": {"task": "Derive", "where": "nb cell 1", "tests": []},
            "1.1": {"task": "Forward", "where": "lib.py", "tests": ["a", "b"]},
        }
    }
    state.shared = SimpleNamespace(
        course=FakeCourse(tmp_path / "course", kinds={"1.1": "library", "2.2": "derivation"}),
        data=data,
        tmp=tmp,
        map=tmp / "map.json",
        reference=tmp_path / "ref.json",
        edition=tmp / "edition",
        drop=True,
    )
    (tmp_path / "class").mkdir()
    state.student = tmp_path / "class" / "ada"
    state.student.mkdir()
    return state


def test_a_copy_is_graded_by_its_own_supervisor_from_the_job_it_is_given(supervisor, monkeypatch, tmp_path):
    want = [rows()[0], rows()[3]]
    supervisor.answer = (json.dumps({"rows": [asdict(r) for r in want]}), 0, 0)
    monkeypatch.setenv("TEACHER_TEST_MARK", "kept")
    monkeypatch.chdir(tmp_path / "class")
    got, seconds = grade.grade_copy(supervisor.shared, Path("ada"), 3, 7.0, 30.0, 4, "none", 512)
    assert got == want
    assert 0 <= seconds < 20
    [(argv, kwargs)] = supervisor.popen
    [(job, folder_mode, folder)] = supervisor.jobs
    tmp, student = supervisor.shared.tmp, supervisor.student
    assert folder.parent == tmp and folder.name.startswith("copy3-") and folder_mode == 0o711
    assert not folder.exists()  # the copy's temporary folder is removed
    assert list(tmp.iterdir()) == []
    assert argv == [sys.executable, "-m", "teacher.supervise", str(folder / "job.json"), str(folder / "result.json")]
    log = kwargs.pop("stdout")
    env = kwargs.pop("env")
    assert log.name == str(folder / "supervisor.log") and log.closed
    assert env == {**os.environ, "PYTHONPATH": str(grade.TOOLS), "PYTHONDONTWRITEBYTECODE": "1"}
    assert kwargs == {
        "cwd": folder,
        "stderr": subprocess.STDOUT,
        "stdin": subprocess.DEVNULL,
        "start_new_session": True,
    }
    assert job == {
        "course": str(tmp_path / "course"),
        "map": str(tmp / "map.json"),
        "reference": str(tmp_path / "ref.json"),
        "edition": str(tmp / "edition"),
        "student": str(student),
        "work": str(folder / "work"),
        "timeout": 7.0,
        "copy_timeout": 30.0,
        "lanes": 4,
        "notebooks": "none",
        "python": sys.executable,
        "memory_mb": 512,
        "user": {"uid": 62003, "gid": 62003},
        "namespaces": ["unshare", "root=True"],
        "hide": [str(tmp_path / "course"), str(student), str(tmp_path / "class"), str(tmp)],
    }
    # every process of the copy is killed: the supervisor's, and the sandbox user's
    pid = supervisor.children[0].pid
    assert supervisor.kills[0][-1] == pid and supervisor.kills[1:] == [[-424242]]
    assert supervisor.users == [62003]
    assert supervisor.descendants == [pid]
    assert supervisor.removed == [(folder, {"ignore_errors": True})]


def test_a_copy_whose_user_is_not_dropped_runs_with_the_defaults(supervisor):
    supervisor.answer = (json.dumps({"rows": []}), 0, 0)
    supervisor.shared.drop = False
    assert grade.grade_copy(supervisor.shared, supervisor.student, copy_timeout=30.0)[0] == []
    [(job, _, folder)] = supervisor.jobs
    assert folder.name.startswith("copy0-")
    assert (job["user"], job["timeout"], job["lanes"], job["notebooks"], job["memory_mb"]) == (
        None,
        60.0,
        2,
        "exercises",
        6144,
    )
    assert supervisor.users == [] and len(supervisor.kills) == 1


@pytest.mark.parametrize("answer", ["-", "not json", '{"rows": [{"exercise": "1.1"}]}', '{"lines": []}'])
def test_a_supervisor_that_ends_without_a_result_costs_every_row_of_its_copy(supervisor, capsys, answer):
    supervisor.answer = (answer, 3, 0)
    got, _ = grade.grade_copy(supervisor.shared, supervisor.student, copy_timeout=30.0)
    why = "the grader's process for this copy ended without a result (status 3)"
    assert got == [
        Row("1.1", "Forward", "lib.py", 0, 2, why, "library", False, 0.0),
        Row("2.2", "Derive", "nb cell 1", 0, 0, WHY_HAND, "derivation", False, None),
    ]
    assert capsys.readouterr().err == f"warning: ada: {why}\nsupervisor says hello\n\n"
    assert list(supervisor.shared.tmp.iterdir()) == []


def test_the_warning_shows_the_last_2000_characters_of_the_supervisors_log(supervisor, capsys):
    supervisor.answer = ("long", 1, 0)
    grade.grade_copy(supervisor.shared, supervisor.student, copy_timeout=30.0)
    why = "the grader's process for this copy ended without a result (status 1)"
    assert capsys.readouterr().err == f"warning: ada: {why}\n" + "\ufffd" + "z" * 1998 + "\n\n"


def test_a_supervisor_past_its_time_is_killed_and_its_copy_not_graded(supervisor, capsys):
    supervisor.answer = (json.dumps({"rows": []}), 0, 5)
    got, seconds = grade.grade_copy(supervisor.shared, supervisor.student, copy_timeout=-59.5)
    why = "not graded: the copy's grading did not finish in 0.5 s"
    assert [r.reason for r in got] == [why, WHY_HAND]
    assert seconds < 20
    assert supervisor.children[0].returncode == -9
    assert capsys.readouterr().err.startswith(f"warning: ada: {why}\nsupervisor says hello\n")


# ---------------------------------------------------------------- the class, copy by copy


@pytest.fixture
def fake_grading(monkeypatch, tmp_path):
    """grade_all with Class and grade_copy faked: what each was given."""
    calls: dict[str, list] = {"class": [], "copy": [], "subreaper": [], "clear": []}

    class FakeClass:
        def __init__(self, *args):
            calls["class"].append(args)
            calls.setdefault("shared", []).append(self)
            assert args[2].is_dir() and args[2].name.startswith("teacher-grade-")

    active = []

    def grade_copy(shared, student, *args):
        calls["copy"].append((shared, student, *args))
        active.append(student)
        calls.setdefault("together", []).append(len(active))
        time.sleep(0.1)
        active.remove(student)
        return [Row("1.1", "t", "w", 1, 1, "", "library", False, 1.0 if "ada" in str(student) else 0.0)], 1.25

    monkeypatch.setattr(grade, "Class", FakeClass)
    monkeypatch.setattr(grade, "grade_copy", grade_copy)
    monkeypatch.setattr(supervise, "subreaper", lambda: calls["subreaper"].append(1))
    monkeypatch.setattr(supervise, "clear", lambda: calls["clear"].append(1))
    monkeypatch.setattr(
        grade, "sandbox_user", lambda slot: calls.setdefault("slots", []).append(slot) or ({"uid": 1, "gid": 1}, "")
    )
    monkeypatch.setattr(grade.os, "cpu_count", lambda: 8)
    students = []
    for name in ["ada", "bob", "cy"]:
        (tmp_path / name / "scratchlib").mkdir(parents=True)
        students.append(tmp_path / name)
    return SimpleNamespace(calls=calls, students=students, course=FakeCourse(tmp_path / "course"))


def test_grade_all_refuses_bad_arguments_before_any_work(fake_grading, tmp_path):
    with pytest.raises(ValueError, match=r"^grade: notebooks must be 'exercises' or 'none', got 'all'$"):
        grade.grade_all(fake_grading.course, DATA, fake_grading.students, notebooks="all")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file" / "scratchlib").parent.mkdir()
    (tmp_path / "file" / "scratchlib").write_text("not a folder")
    for bad in [tmp_path / "empty", tmp_path / "file"]:
        message = f"grade: {bad} has no scratchlib/ folder (is it a copy of the student edition?)"
        with pytest.raises(FileNotFoundError) as raised:
            grade.grade_all(fake_grading.course, DATA, [*fake_grading.students, bad], notebooks="none")
        assert str(raised.value) == message
    assert fake_grading.calls == {"class": [], "copy": [], "subreaper": [], "clear": []}


def test_grade_all_grades_every_copy_and_reports_each(fake_grading, capsys):
    said = []
    course, students = fake_grading.course, fake_grading.students
    out = grade.grade_all(course, DATA, students, 5.0, 50.0, 2, None, "none", said.append, 256, 3)
    assert list(out) == ["ada", "bob", "cy"]
    assert [r.score for r in out["ada"]] == [1.0] and [r.score for r in out["bob"]] == [0.0]
    assert sorted(said) == ["graded ada in 1.2 s", "graded bob in 1.2 s", "graded cy in 1.2 s"]
    [args] = fake_grading.calls["class"]
    assert args[:2] == (course, DATA) and args[3:] == (5.0, 2, 3, False)
    [shared] = fake_grading.calls["shared"]
    assert sorted(c[1:] for c in fake_grading.calls["copy"]) == [
        (students[0], 0, 5.0, 50.0, 2, "none", 256),
        (students[1], 1, 5.0, 50.0, 2, "none", 256),
        (students[2], 0, 5.0, 50.0, 2, "none", 256),
    ]
    assert all(c[0] is shared for c in fake_grading.calls["copy"])
    assert not args[2].exists()  # the class's temporary folder is gone
    assert fake_grading.calls["subreaper"] == [1] and fake_grading.calls["clear"] == [1]
    assert fake_grading.calls["slots"] == [0]
    assert max(fake_grading.calls["together"]) == 2
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("cpus", "jobs", "lanes", "copy_lanes", "class_lanes"),
    [
        (8, 1, None, 2, 2),
        (8, 3, None, 2, 2),
        (3, 2, None, 1, 2),
        (None, 1, None, 1, 2),
        (1, 0, 5, 5, 5),
        (8, 1, 1, 1, 2),
    ],
)
def test_grade_all_gives_each_copy_two_lanes_where_the_cpus_allow(
    fake_grading, monkeypatch, cpus, jobs, lanes, copy_lanes, class_lanes
):
    monkeypatch.setattr(grade.os, "cpu_count", lambda: cpus)
    grade.grade_all(fake_grading.course, DATA, fake_grading.students[:1], jobs=jobs, lanes=lanes, report=lambda s: None)
    [copy] = fake_grading.calls["copy"]
    assert copy[2:] == (0, 60.0, 540.0, copy_lanes, "exercises", 6144)
    assert fake_grading.calls["class"][0][3:] == (60.0, class_lanes, 2, True)


def test_grade_all_clears_every_process_even_when_a_copy_fails(fake_grading, monkeypatch):
    def broken(*args):
        raise RuntimeError("broken")

    monkeypatch.setattr(grade, "grade_copy", broken)
    with pytest.raises(RuntimeError):
        grade.grade_all(fake_grading.course, DATA, fake_grading.students, report=lambda s: None)
    assert fake_grading.calls["clear"] == [1]


def test_grade_all_as_root_warns_when_the_code_cannot_run_as_a_user_of_its_own(fake_grading, monkeypatch, capsys):
    monkeypatch.setattr(grade, "sandbox_user", lambda slot: (None, "/root is not searchable by other users"))
    monkeypatch.setattr(grade.os, "geteuid", lambda: 0)
    grade.grade_all(fake_grading.course, DATA, [], report=lambda s: None)
    assert capsys.readouterr().err == (
        "warning: grading as root, but the students' code cannot run as an unprivileged user here: "
        "/root is not searchable by other users; it runs as root (install Python and the course's packages "
        "where every user can read them, as make gradescope's setup.sh does)\n"
    )
    monkeypatch.setattr(grade.os, "geteuid", lambda: 1000)
    grade.grade_all(fake_grading.course, DATA, [], report=lambda s: None)
    assert capsys.readouterr().err == ""


def test_grade_all_grades_one_copy_at_a_time_and_prints_by_default(fake_grading, capsys):
    grade.grade_all(fake_grading.course, DATA, fake_grading.students)
    assert capsys.readouterr().out == "graded ada in 1.2 s\ngraded bob in 1.2 s\ngraded cy in 1.2 s\n"
    assert [c[2] for c in fake_grading.calls["copy"]] == [0, 0, 0]
    assert fake_grading.calls["together"] == [1, 1, 1]


def test_grade_grades_one_copy_by_its_resolved_folder(monkeypatch, tmp_path):
    calls = []

    def grade_all(*args):
        calls.append(args)
        return {"ada": ["rows"]}

    monkeypatch.setattr(grade, "grade_all", grade_all)
    monkeypatch.chdir(tmp_path)
    course, report = FakeCourse(tmp_path), print
    assert grade.grade(course, DATA, Path("x/../ada"), 5.0, "none", report, 50.0, 3) == ["rows"]
    assert calls == [(course, DATA, [tmp_path / "ada"], 5.0, 50.0, 1, 3, "none", report)]
    grade.grade(course, DATA, "ada")
    assert calls[-1] == (course, DATA, [tmp_path / "ada"], 60.0, 540.0, 1, None, "exercises", print)
