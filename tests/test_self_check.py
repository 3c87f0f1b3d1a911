"""The self-check's words: exercise ids as the callouts write them, reasons a student can act on,
hints in plain text. (Its runs against a student edition are in tests/test_teacher.py.)"""

import json
import os
import re
from pathlib import Path

import pytest

from scratchlib.course import exercises, runner

ROOT = Path(__file__).resolve().parents[1]
COURSE = json.loads((ROOT / "tests" / "exercises.json").read_text())["exercises"]


# ---------------------------------------------------------------- exercise ids


def test_an_id_is_read_as_text_so_4_10_is_not_4_1():
    assert {"4.1", "4.10"} <= set(COURSE)
    assert exercises.exercise_id("4.10", COURSE) == "4.10"
    assert exercises.exercise_id(" 4.1 ", COURSE) == "4.1"
    assert exercises.exercise_id("04.03", COURSE) == "4.3"
    with pytest.raises(TypeError, match=r'in quotes, as its callout does: check\("4\.10"\).*the number 4\.1 cannot'):
        exercises.exercise_id(4.10, COURSE)


def test_an_unknown_id_is_a_clear_error_naming_nearby_ids():
    with pytest.raises(
        ValueError, match=r"no exercise 4\.99 in this course; notebook 04's nearest are .*4\.52 \(it has \d+\)"
    ):
        exercises.exercise_id("4.99", COURSE)
    with pytest.raises(ValueError, match=r"no exercise 99\.9 in this course; its exercises are 1\.1 to 1\.\d+, 2\.1"):
        exercises.exercise_id("99.9", COURSE)
    with pytest.raises(ValueError, match=r"'99\.9;echo hi' is not an exercise id"):
        exercises.exercise_id("99.9;echo hi", COURSE)


def test_the_command_line_says_what_is_wrong_with_an_id_and_exits_2(capsys):
    assert exercises.main(["4.99"]) == 2
    assert "error: check: no exercise 4.99" in capsys.readouterr().err
    assert exercises.main([]) == 2 and "usage: make check EX=4.3" in capsys.readouterr().err


# ---------------------------------------------------------------- reasons


def test_a_reason_keeps_the_line_its_first_line_announces():
    text = "AssertionError: mismatch in dW2, dW1:\n  dW2: hand has shape (1, 2), computed has shape (2, 1)\n  dW1: x"
    assert runner.reason(text) == (
        "AssertionError: mismatch in dW2, dW1: dW2: hand has shape (1, 2), computed has shape (2, 1)"
    )
    assert runner.reason("ValueError: bad\nmore") == "ValueError: bad"
    assert runner.reason("x.ExerciseNotDone: exercise 4.4: ReLU.forward") == (
        "not attempted: the stub is still there (exercise 4.4: ReLU.forward)"
    )


REASONS = """
import pytest
import torch

from scratchlib.course.runner import ExerciseNotDone


def test_close():
    torch.testing.assert_close(torch.tensor([[1.0, 0.5], [2.0, 3.0]]), torch.tensor([[1.0, 1.0], [2.0, -3.0]]))


def test_bare_assert():
    a = torch.ones(2)
    assert torch.allclose(a, 2 * a)


def test_said():
    assert 63 == 42


def test_swallowed_stub():
    try:
        raise ExerciseNotDone("exercise 5.1: train_step")
    except Exception:  # as ipywidgets' dispatcher does
        result = None
    assert result.epochs == 60


def test_stub_inside_pytest_raises():
    with pytest.raises(RuntimeError, match="shape"):
        raise ExerciseNotDone("exercise 6.13: Sum.backward")


def test_lists():
    assert [[-1.0, 0.0, -2.5], [2.0, 16.0, -9.0]] == [[1.0, 0.0, 2.5], [2.0, 16.0, -9.0]]


def assert_close(actual, expected, tol=1e-10):  # as tests/layer_testing.py's
    err = (actual - expected).abs().max().item()
    assert err <= tol, f"max |error| {err:.3g} > {tol:g}"


def test_own_assert_close():
    assert_close(torch.tensor([[-0.375, 0.5], [0.25, 1.0]]), torch.tensor([[-0.1875, 0.5], [0.25, 0.5]]))
"""


@pytest.mark.parametrize("lean", [False, True], ids=["grader", "self-check"])
def test_reasons_show_what_differs_the_failing_line_and_any_stub_on_the_way(tmp_path, monkeypatch, lean):
    """The same reasons from the grader's full run and the self-check's lean one (--tb=line, no autoload)."""
    (tmp_path / "test_reasons.py").write_text(REASONS)
    # the child pytest imports this course's scratchlib, whichever is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    names = [
        "test_close",
        "test_bare_assert",
        "test_said",
        "test_swallowed_stub",
        "test_stub_inside_pytest_raises",
        "test_lists",
        "test_own_assert_close",
    ]
    records = runner.run_tests([f"test_reasons.py::{name}" for name in names], tmp_path, 60, lean=lean)
    found = {r["nodeid"].split("::")[1]: r["reason"] for r in records}
    assert found == {
        "test_close": "AssertionError: Tensor-likes are not close! 2 of 4 entries differ: "
        "at [0, 1] got 0.5, expected 1; at [1, 1] got 3, expected -3",
        "test_bare_assert": "assert False at test_reasons.py:14: assert torch.allclose(a, 2 * a)",
        "test_said": "assert 63 == 42",
        "test_swallowed_stub": "not attempted: the stub is still there (exercise 5.1: train_step)",
        "test_stub_inside_pytest_raises": "not attempted: the stub is still there (exercise 6.13: Sum.backward)",
        # pytest's own line on where two lists differ, then the comparison
        "test_lists": "At index 0 diff: [-1.0, 0.0, -2.5] != [1.0, 0.0, 2.5]  "
        "(assert [[-1.0, 0.0, ..., 16.0, -9.0]] == [[1.0, 0.0, 2..., 16.0, -9.0]])",
        "test_own_assert_close": "AssertionError: max |error| 0.5 > 1e-10 2 of 4 entries differ: "
        "at [0, 0] got -0.375, expected -0.1875; at [1, 1] got 1, expected 0.5",
    }


def test_the_self_check_runs_only_its_tests_with_only_the_plugins_it_needs(monkeypatch):
    """Speed: the child pytest is given the exercise's node ids and nothing else to collect, plugin
    autoloading off (the timeout and hypothesis plugins named), one line per failure."""
    seen = {}

    def run(command, **kwargs):
        seen.update(command=command, env=kwargs["env"])

    monkeypatch.setattr(runner.subprocess, "run", run)
    tests = COURSE["4.11"]["tests"]
    outcomes = exercises.run_unit_tests(tests, ROOT)
    assert [o.test for o in outcomes] == tests  # none ran here: each "did not run"
    command = seen["command"]
    assert command[-len(tests) :] == tests
    assert not [arg for arg in command[: -len(tests)] if arg.startswith("tests") or arg.endswith(".py")]
    assert seen["env"]["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    assert seen["env"][runner.SELF_CHECK] == "1"  # tests/conftest.py: no shrinking of a stub's failure
    assert {"pytest_timeout", "--tb=line", "no:nbval", runner.PLUGIN} <= set(command)


# ---------------------------------------------------------------- hints


@pytest.mark.parametrize(
    "markdown, text",
    [
        (r"$\frac{\partial J}{\partial W} = G^\top X$", "dJ/dW = G^T X"),
        (r"$\frac{g}{B}(P - \mathrm{onehot}(t))$, with $P$", "(g/B)(P - onehot(t)), with P"),
        (r"$\tanh'(z) = 1 - \tanh^2(z)$, element-wise.", "tanh'(z) = 1 - tanh^2(z), element-wise."),
        (r"$2\lambda W_{ij}$ and $(1 - 2\eta\lambda)\,W'$", "2 lambda W_ij and (1 - 2 eta lambda) W'"),
        (r"$\nabla_{\hat Y}\mathcal{L} = \frac3{16}$", "grad_Y_hat L = 3/16"),
        (r"$\lceil n / B \rceil$ steps, **not** `n // B`", "ceil(n / B) steps, not `n // B`"),
        (r"$\begin{pmatrix}1 & 2\\ 3 & 4\end{pmatrix}$", "[1, 2; 3, 4]"),
        ("`$x$` stays code", "`$x$` stays code"),
    ],
)
def test_a_hint_prints_as_plain_text(markdown, text):
    assert exercises.plain_text(markdown) == text


def test_hints_read_as_json_are_those_nbformat_reads():
    import nbformat

    notebooks = [nbformat.read(path, as_version=4).cells for path in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    for exercise in COURSE:
        callout = re.compile(rf"\*\*Exercise {re.escape(exercise)}\*\*")
        cells = next((c for c in notebooks if any(callout.search(cell.source) for cell in c)), [])
        sources = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
        found = exercises.hint(exercise, "(the task)", ROOT)
        assert found == "(the task)" or found in sources, exercise


def test_no_hint_of_the_course_prints_latex():
    for exercise, entry in COURSE.items():
        text = exercises.plain_text(exercises.hint(exercise, entry["task"], ROOT))
        outside_code = re.sub(r"`[^`]*`", "", text)
        assert "$" not in outside_code and not re.search(r"\\[A-Za-z]", outside_code), (exercise, text)
