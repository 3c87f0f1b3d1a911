"""The student's own tests (tests/test_my_layers.py, MSOE lab 7), graded by the wrong layers they catch.

The grader runs a student's test against the course's correct layer, against correct layers written
another way (teacher.wrong.ALTERNATIVE) and against each wrong version of the layer's exercises
(teacher.wrong.WRONG): a test must pass on every correct one, and scores the share of wrong ones it
fails on. Here, on exercise 4.32 (the test of Linear): the course's own test catches every wrong
layer, a forward-only test scores its share and the report names what it let through, a test that
always fails and a test that reads the layer's code both score 0, and a test whose expected values
are computed (not written by hand) scores 0 without running. The course's own tests of the other
layers (4.33-4.38) catch every wrong layer too.

The map here is made for the test exercises only (the course's whole map takes minutes).
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from scratchlib.course import answers  # noqa: E402
from teacher import grade as teacher_grade  # noqa: E402
from teacher import supervise, wrong  # noqa: E402
from teacher.edition import MAP_VERSION, STUDENT_TESTS, TEACHER_ONLY, scan, write_edition  # noqa: E402
from teacher.runner import run_tests  # noqa: E402

TESTS = ["4.32", "4.33", "4.34", "4.35", "4.36", "4.37", "4.38"]  # Linear, ReLU, MSELoss, Scale, Sum, L2, softmax CE
FORWARD = "    layer.forward()\n    expect(layer.output, [[5.0, -0.5, 0.5], [-5.0, 2.5, 2.5], [0.0, 1.0, 1.5]])\n"
# reads the layer's code and passes only where it is the course's solution, written as the course wrote it
HOSTILE = (
    "    import inspect\n"
    "    from scratchlib.layers import linear\n"
    "    assert 'self.output = self.x.output @ self.W.output.T + self.b.output' in inspect.getsource(linear)\n"
)
# the expected output computed with the course's own arithmetic: it agrees with any layer that computes the same
COMPUTED = "    layer.forward()\n    expect(layer.output, x.output @ W.output.T + b.output)\n"


@pytest.fixture(scope="module")
def course():
    return scan(ROOT)


@pytest.fixture(scope="module")
def data(course):
    """The map's entries of the student's tests, made as exercise_map makes them (probe edition)."""
    with tempfile.TemporaryDirectory(prefix="teacher-probe-") as folder:
        probe = Path(folder) / "probe"
        write_edition(course, probe, "probe")
        results = run_tests(course, probe, list(STUDENT_TESTS), timeout=120)
    exercises = {}
    for e in TESTS:
        region = course.region(e)
        entry = {"task": region.task, "where": f"{region.where}:{region.line}", "kind": course.kind(e)}
        exercises[e] = {**entry, "optional": False, **teacher_grade.test_entry(course, e, results)}
    return {
        "version": MAP_VERSION,
        "fingerprint": course.fingerprint(),
        "exercises": exercises,
        "reaches": {t: results[(t, None)]["hits"] for x in exercises.values() for t in x["tests"]},
        "failing_on_solutions": {},
    }


def test_the_map_records_each_test_its_kind_and_the_layer_exercises_it_tests(data):
    x = data["exercises"]
    assert {e: x[e]["kind"] for e in TESTS} == dict.fromkeys(TESTS, "test")
    assert x["4.32"]["tests"] == ["tests/test_my_layers.py::test_linear_by_hand"]
    assert x["4.32"]["layers"] == ["4.1", "4.2", "4.3", "4.30"]  # accumulate_grad, forward, backward, step
    assert x["4.33"]["layers"] == ["4.1", "4.4", "4.5"]
    assert x["4.34"]["layers"] == ["4.1", "4.16", "4.17"]
    assert x["4.35"]["layers"] == ["4.1", "4.10", "4.11"]
    assert x["4.36"]["layers"] == ["4.1", "4.12", "4.13"]
    assert x["4.37"]["layers"] == ["4.1", "4.14", "4.15", "4.30"]
    assert x["4.38"]["layers"] == ["4.1", "4.18", "4.19"]
    assert x["4.38"]["tests"] == ["tests/test_my_layers.py::test_softmax_cross_entropy_by_hand"]
    assert teacher_grade.problems(data) == []
    for e in TESTS:  # every layer exercise a test runs has wrong versions to catch
        assert all(wrong.WRONG.get(layer) for layer in x[e]["layers"]), e


def test_the_versions_are_the_solution_the_other_correct_ones_and_each_wrong_one(course, data):
    versions = supervise.test_versions(course, data["exercises"]["4.32"]["layers"])
    kinds = [kind for kind, _, _ in versions]
    assert kinds[0] == "correct"
    assert kinds.count("another") == sum(len(wrong.ALTERNATIVE.get(e, [])) for e in ["4.1", "4.2", "4.3", "4.30"])
    assert kinds.count("wrong") == 2 + 3 + 4 + 2  # 4.1, 4.2, 4.3, 4.30
    solution = versions[0][2]
    assert solution["4.2"] == ["self.output = self.x.output @ self.W.output.T + self.b.output  # (B, out)\n"]
    for _, what, code in versions[1:]:  # one exercise differs from the solution, the others are it
        assert sum(code[e] != solution[e] for e in solution) == 1, what


def test_a_verdict_counts_the_wrong_layers_caught_and_names_those_let_through():
    versions = [("correct", "the solution", {}), ("another", "4.2: matmul", {})]
    versions += [("wrong", "4.2: W not transposed", {}), ("wrong", "4.3: dJ/db averaged", {})]
    assert supervise.test_verdict(versions, [True, True, False, False]) == (2, 2, "")
    caught, total, why = supervise.test_verdict(versions, [True, True, False, True])
    assert (caught, total) == (1, 2)
    assert why == "caught 1 of 2 wrong layers; let through: 4.3: dJ/db averaged"
    assert supervise.test_verdict(versions, [False, True, False, False])[0] == 0  # fails on the correct layer
    caught, _, why = supervise.test_verdict(versions, [True, False, False, False])
    assert caught == 0 and "written another way (4.2: matmul)" in why


def _copy(edition: Path, out: Path, body: str, exercise: str = "4.32", more: dict[str, str] | None = None) -> Path:
    """A student's copy: the student edition with body in place of the exercise's stub (and each of more's
    bodies in place of its exercise's)."""
    shutil.copytree(edition, out)
    path = out / "tests" / "test_my_layers.py"
    lines = path.read_text().splitlines(keepends=True)
    for e, text in {exercise: body, **(more or {})}.items():
        at = next(i for i, line in enumerate(lines) if f'ExerciseNotDone("exercise {e}:' in line)
        lines[at : at + 1] = [text]
    path.write_text("".join(lines))
    return out


@pytest.mark.timeout(900)
def test_the_grader_scores_a_student_test_by_the_wrong_layers_it_catches(course, data, tmp_path):
    edition = tmp_path / "edition"
    write_edition(course, edition, "student")
    solution = "".join(course.region("4.32").body)
    copies = {
        "own": solution + "    assert layer.output is not None\n",  # the course's test, but not its text
        "forward": FORWARD,
        "fails": "    assert False\n",
        "hostile": HOSTILE,
        "computed": COMPUTED,
        "stub": None,
    }
    folders = [
        _copy(edition, tmp_path / "class" / name, body) if body else shutil.copytree(edition, tmp_path / "class" / name)
        for name, body in copies.items()
    ]
    only = {**data, "exercises": {"4.32": data["exercises"]["4.32"]}}
    graded = teacher_grade.grade_all(course, only, folders, notebooks="none", report=lambda line: None)
    rows = {name: graded[name][0] for name in copies}
    assert rows["own"].score == 1.0 and (rows["own"].passed, rows["own"].total) == (11, 11), rows["own"].reason
    # forward only: the three wrong forwards (4.2), none of the backward, accumulate_grad or step
    assert (rows["forward"].passed, rows["forward"].total) == (3, 11)
    assert rows["forward"].score == pytest.approx(3 / 11)
    assert rows["forward"].reason.startswith("caught 3 of 11 wrong layers; let through: 4.1: = for +")
    assert "4.3: dJ/db summed over the wrong axis" in rows["forward"].reason
    assert "4.2:" not in rows["forward"].reason
    assert rows["fails"].score == 0 and "fails on the course's correct layer" in rows["fails"].reason
    assert rows["hostile"].score == 0 and "written another way (4.2: matmul and t())" in rows["hostile"].reason
    assert rows["stub"].score == 0 and rows["stub"].reason.startswith("not attempted")
    # refused before it runs, as the self-check refuses it: its expected value is the layer's own arithmetic
    assert (rows["computed"].score, rows["computed"].passed, rows["computed"].total) == (0, 0, 11)
    assert rows["computed"].reason == (
        "exercise 4.32: the expected value in expect(layer.output, ...) must be numbers you wrote (numbers, "
        "lists of them, + - * / ** on them, math.log/exp/sqrt of numbers): write the numbers you worked out; "
        "`x.output @ W.output.T` is computed by code, not worked out by hand"
    )
    assert all(row.kind == "test" for row in rows.values())
    csv = teacher_grade.to_csv({"forward": [rows["forward"]]})
    assert "let through: 4.1: = for +" in csv
    assert "let through: 4.1: = for +" in teacher_grade.to_html("forward", [rows["forward"]])


OWN = ["4.33", "4.34", "4.35", "4.36", "4.37", "4.38"]  # ReLU, MSELoss, Scale, Sum, Regularization, softmax CE


@pytest.mark.timeout(900)
def test_the_courses_own_tests_of_the_other_layers_catch_every_wrong_layer(course, data, tmp_path):
    """The teacher's solution of each student test passes on the correct layer and on each written another
    way (ALTERNATIVE), and fails on every wrong version of the layer's exercises (WRONG): full marks."""
    edition = tmp_path / "edition"
    write_edition(course, edition, "student")
    bodies = {e: "".join(course.region(e).body) + "    assert layer.output is not None\n" for e in OWN}
    first = OWN[0]
    copy = _copy(edition, tmp_path / "class" / "own", bodies[first], first, {e: bodies[e] for e in OWN[1:]})
    only = {**data, "exercises": {e: data["exercises"][e] for e in OWN}}
    graded = teacher_grade.grade_all(course, only, [copy], notebooks="none", report=lambda line: None)
    rows = {row.exercise: row for row in graded["own"]}
    assert {e: rows[e].kind for e in OWN} == dict.fromkeys(OWN, "test")
    # graded, not taken as the course's own text: each ran on its versions
    assert {e: (rows[e].score, rows[e].passed, rows[e].reason) for e in OWN} == {
        e: (1.0, rows[e].total, "") for e in OWN
    }
    # the wrong versions of 4.1 (accumulate_grad: 2) and of the layer's forward and backward (and step)
    assert {e: rows[e].total for e in OWN} == {"4.33": 7, "4.34": 7, "4.35": 8, "4.36": 7, "4.37": 12, "4.38": 10}
    for e in OWN:
        layers = data["exercises"][e]["layers"]
        assert rows[e].total == sum(len(wrong.WRONG[layer]) for layer in layers), e
        assert any(wrong.ALTERNATIVE.get(layer) for layer in layers if layer != "4.1"), e


@pytest.mark.parametrize(
    "check",
    [
        "expect(layer.output, [[-6.0, 1.5, -0.75], [3.0, -1.5, -4.5]])",
        "expect(layer.output, 0.25 * (4 + 1 + 0.25), atol=1e-6)",
        "expect(layer.output, math.log(4), atol=1e-6)",
        "expect(x.grad, [[-1.5 * 1, -1.5 * -2]])",
        "expect(b.grad, None)",
        "expect(layer.grad, expected=2.5)",
        "expect.expect(layer.grad, 2.5)",
    ],
)
def test_expected_values_written_by_hand_are_accepted(check):
    source = f"def test_mine():\n    layer.forward()\n    {check}\n"
    assert answers.test_refusal(source, "test_mine", "4.35") is None


@pytest.mark.parametrize(
    ("check", "shown"),
    [
        ("expect(layer.output, x.output @ W.output.T + b.output)", "x.output @ W.output.T"),
        ("expect(layer.output, X * -1.5)", "X"),
        ("expect(x.grad, torch.tensor([[1.0, 2.0]]))", "torch.tensor([[1.0, 2.0]])"),
        ("expect(x.grad, [[1.0, dx]])", "dx"),
        ("expect(layer.output, Scale(x, -1.5).output)", "Scale(x, -1.5).output"),
        ("expect(actual=layer.grad, expected=G + G2)", "G"),
        ("expect(layer.output, -log_p.mean())", "log_p.mean()"),
    ],
)
def test_an_expected_value_computed_by_code_is_refused_naming_it(check, shown):
    source = f"import torch\n\n\ndef test_mine():\n    layer.forward()\n    {check}\n"
    refused = answers.test_refusal(source, "test_mine", "4.35")
    assert refused is not None and refused.startswith("exercise 4.35: the expected value in expect(")
    assert f"`{shown}` is computed by code, not worked out by hand" in refused


@pytest.mark.parametrize("check", ["check = expect\n    check(x.grad, dx)", "expect(*pair)", "expect(x, **wanted)"])
def test_a_check_whose_expected_value_cannot_be_read_is_refused(check):
    refused = answers.test_refusal(f"def test_mine():\n    {check}\n", "test_mine", "4.36")
    assert refused is not None and refused.startswith("exercise 4.36: call expect(actual, expected) by its name")


def test_only_the_named_test_function_is_read_and_a_file_that_does_not_parse_is_left_to_the_run():
    source = "def helper():\n    expect(a, b)\n\n\ndef test_mine():\n    expect(a, [1.0])\n"
    assert answers.test_refusal(source, "test_mine") is None
    assert answers.test_refusal(source, "helper") is not None
    assert answers.test_refusal(source) is not None  # no function named: the whole source
    assert answers.test_refusal("def test_mine(:\n", "test_mine") is None
    # the course's own tests are all written by hand
    mine = (ROOT / "tests" / "test_my_layers.py").read_text()
    assert [
        answers.test_refusal(mine, name) for name in ("test_linear_by_hand", "test_softmax_cross_entropy_by_hand")
    ] == [
        None,
        None,
    ]


def test_the_wrong_layers_never_ship_in_the_student_edition(course, tmp_path):
    assert "tools/teacher/" in TEACHER_ONLY
    files = write_edition(course, tmp_path / "student", "student")
    assert not [f for f in files if f.startswith("tools/teacher/")]
    assert not (tmp_path / "student" / "tools" / "teacher").exists()
    shipped = "\n".join((tmp_path / "student" / f).read_text(errors="replace") for f in files)
    for table in ("WRONG", "ALTERNATIVE"):  # nor a copy of the wrong (or other correct) versions elsewhere
        assert f"{table}: dict[str" not in shipped
    assert "import wrong" not in shipped and "teacher.wrong" not in shipped
    assert "tests/test_my_layers.py" in files
    mine = (tmp_path / "student" / "tests" / "test_my_layers.py").read_text()
    assert 'raise ExerciseNotDone("exercise 4.32: ' in mine and "[[5.0, -0.5, 0.5]" not in mine


def test_the_self_check_runs_the_test_on_the_students_own_layer(course, data, tmp_path):
    """make check EX=4.32: waits (no FAIL) while the layer's exercises are stubs, passes once they are done,
    and says how the teacher grades the test."""
    from scratchlib.course import exercises as self_check

    student = _copy_edition(course, tmp_path / "student", "student", data)
    solution = "".join(course.region("4.32").body)
    _copy(student, tmp_path / "mine", solution)
    lines: list[str] = []
    assert not self_check.run_check("4.32", tmp_path / "mine", out=lines.append)
    report = "\n".join(lines)
    assert "WAIT" in report and "FAIL" not in report, report
    assert "exercise 4.2 is not done yet" in report and "not a failure of your test" in report
    assert "against plausible wrong layers" in report
    solved = _copy_edition(course, tmp_path / "solved", "solved", data)
    lines.clear()
    assert self_check.run_check("4.32", solved, out=lines.append), "\n".join(lines)
    report = "\n".join(lines)
    assert "PASS  tests/test_my_layers.py::test_linear_by_hand" in report
    assert "Your test passes on your own layer (exercises 4.1, 4.2, 4.3, 4.30)" in report
    assert "share of wrong layers it catches" in report
    # an expected value computed by code: refused before anything runs, naming what was written
    _copy(student, tmp_path / "computed", COMPUTED)
    lines.clear()
    assert not self_check.run_check("4.32", tmp_path / "computed", out=lines.append)
    report = "\n".join(lines)
    assert "FAIL  exercise 4.32: the expected value in expect(layer.output, ...) must be numbers you wrote" in report
    assert "`x.output @ W.output.T` is computed by code, not worked out by hand" in report
    assert "0 of 1 passed: a test's expected values are the numbers you worked out by hand" in report
    assert "PASS" not in report and "WAIT" not in report


def _copy_edition(course, out: Path, mode: str, data: dict) -> Path:
    """An edition with the map of the student's tests as its exercise map."""
    write_edition(course, out, mode)
    (out / "tests" / "exercises.json").write_text(json.dumps(data))
    return out
