import pytest
import torch

from scratchlib.course.check import compare, gradcheck
from scratchlib.course.runner import ExerciseNotDone


def test_compare_passes_and_prints_a_stable_table():
    table = compare([0.5, [[1.0, -2.0]]], [0.5 + 1e-13, torch.tensor([[1.0, -2.0]])], labels=["loss", "dW"])
    assert table.ok
    assert repr(table) == (
        "quantity  hand     computed  max |error|  pass\n"
        "--------  -------  --------  -----------  ----\n"
        "loss      0.5      0.5       < 1e-12      yes\n"
        "dW        [1, -2]  [1, -2]   < 1e-12      yes\n"
        "2/2 match (atol=1e-06, rtol=1e-05)"
    )
    html = table._repr_html_()
    assert "<table>" in html and html.count("<tr") == 3


def test_compare_raises_on_a_mismatch_and_names_the_row():
    with pytest.raises(AssertionError, match=r"mismatch in b:") as info:
        compare([1.0, 2.0], [1.0, 2.1], labels=["a", "b"])
    assert "2.1" in str(info.value) and "NO" in str(info.value)


def test_compare_tolerances_are_honoured():
    compare(1.0, 1.009, atol=0.01)
    with pytest.raises(AssertionError):
        compare(1.0, 1.011, atol=0.01, rtol=0)
    compare(1000.0, 1000.5, atol=0, rtol=1e-3)


def test_compare_catches_shape_and_nan_differences():
    with pytest.raises(AssertionError, match=r"shape \(2,\) vs \(1, 2\)"):
        compare([1.0, 2.0], [[1.0, 2.0]])
    with pytest.raises(AssertionError):
        compare([1.0, 2.0], [1.0, float("nan")])


def test_compare_large_tensor_shows_shape():
    table = compare(torch.ones(3, 4), torch.ones(3, 4))
    assert "tensor of shape (3, 4)" in repr(table)


def test_compare_needs_one_value_per_label():
    with pytest.raises(ValueError, match="one expected and one actual value per label"):
        compare([1.0], [1.0, 2.0], labels=["a"])


def test_gradcheck_accepts_the_right_gradient_and_rejects_a_wrong_one():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    w = torch.randn(2, 3, generator=g, dtype=torch.float64)
    grad_out = torch.randn(4, 2, generator=g, dtype=torch.float64)
    dx, dw = grad_out @ w, grad_out.T @ x
    table = gradcheck(lambda a, b: a @ b.T, [x, w], [dx, dw], grad_output=grad_out, labels=["dx", "dW"])
    assert table.ok
    with pytest.raises(AssertionError, match="mismatch in dW"):
        gradcheck(lambda a, b: a @ b.T, [x, w], [dx, dw.T.T * 1.0000001], grad_output=grad_out, labels=["dx", "dW"])
    with pytest.raises(AssertionError, match="mismatch in dx"):
        gradcheck(lambda a, b: a @ b.T, [x, w], [grad_out @ w.abs(), dw], grad_output=grad_out, labels=["dx", "dW"])


def test_gradcheck_scalar_output_and_bad_grad_output():
    x = torch.tensor([1.0, -2.0, 3.0])
    gradcheck(lambda a: (a**2).sum(), [x], [2 * x])
    with pytest.raises(ValueError, match="pass grad_output"):
        gradcheck(lambda a: a * 2, [x], [x])
    with pytest.raises(ValueError, match="grad_output has shape"):
        gradcheck(lambda a: a * 2, [x], [x], grad_output=torch.ones(2))


def test_compare_titles_the_expected_column_by_its_source():
    table = compare([1.0], [1.0], source="torch")
    assert repr(table).splitlines()[0].split() == ["quantity", "torch", "computed", "max", "|error|", "pass"]
    assert "<th>torch</th>" in table._repr_html_()
    with pytest.raises(TypeError, match="compare: source must be a non-empty string"):
        compare(1.0, 1.0, source="")


def test_compare_an_exercise_left_at_ellipsis_says_it_is_not_done():
    with pytest.raises(ExerciseNotDone, match=r"^exercise 3\.6 is not done yet: replace \.\.\. with your numbers$"):
        compare(..., torch.ones(2), exercise="3.6")
    with pytest.raises(ExerciseNotDone, match=r"exercise 1\.7 is not done yet"):
        compare([[1.0, 2.0], ...], [torch.ones(2), 3.0], labels=["a", "b"], exercise="1.7")
    with pytest.raises(ValueError, match=r"compare: the expected values hold \.\.\."):
        compare(..., 1.0)


def test_compare_names_each_wrong_entry_and_by_how_much():
    with pytest.raises(AssertionError) as info:
        compare(
            [[[0.25, 0.0, -0.5], [-0.125, 0.0, 0.25]]],
            [torch.tensor([[0.25, 0.5, -0.5], [-0.125, 0.0, 0.0]])],
            labels=["dJ/dW2"],
        )
    message = str(info.value)
    assert message.startswith("mismatch in dJ/dW2:\n")
    assert "  dJ/dW2[0, 1]: hand 0, computed 0.5, off by 0.5\n" in message
    assert "  dJ/dW2[1, 2]: hand 0.25, computed 0, off by 0.25\n" in message
    assert message.count("off by") == 2
    with pytest.raises(AssertionError, match=r"  J: target 2, computed 2\.5, off by 0\.5\n"):
        compare([2.0], [2.5], labels=["J"], source="target")
    with pytest.raises(AssertionError, match=r"v: hand has shape \(2,\), computed has shape \(3,\)"):
        compare([[1.0, 2.0]], [[1.0, 2.0, 3.0]], labels=["v"])


# exercise mode: the right values (those of 01's case network) never appear in a mismatch
RIGHT_DW2 = [[0.8187, -0.0231, 0.0], [-0.8187, 0.0231, 0.0]]


def _exercise_message(hand, computed, label="dJ/dW2"):
    with pytest.raises(AssertionError) as info:
        compare([hand], [torch.tensor(computed)], labels=[label], exercise="3.6")
    message = str(info.value)
    assert message.startswith(f"exercise 3.6: mismatch in {label}:\n")
    assert "computed" not in message and "0.8187" not in message and "0.0231" not in message
    return message


def test_an_exercise_with_a_sign_error_is_told_so_without_the_right_values():
    hand = [[0.8187, 0.0231, 0.0], [-0.8187, 0.0231, 0.0]]  # [0, 1] has the wrong sign
    message = _exercise_message(hand, RIGHT_DW2)
    assert "  dJ/dW2[0, 1]: sign flipped\n" in message
    assert "dJ/dW2: 5 of 6 entries are right" in message
    assert message.count("dJ/dW2[") == 1  # only the one wrong entry is named


def test_an_exercise_off_by_a_factor_is_told_the_factor():
    message = _exercise_message([[1.6374, -0.0462, 0.0], [-0.8187, 0.0231, 0.0]], RIGHT_DW2)
    assert "  dJ/dW2[0, 0]: off by a factor of 2 (yours is 2 times too large)\n" in message
    assert "  dJ/dW2[0, 1]: off by a factor of 2 (yours is 2 times too large)\n" in message
    # a mean over B = 4 samples forgotten, or applied twice
    message = _exercise_message([[0.8187 / 4, -0.0231, 0.0], [-0.8187, 0.0231, 0.0]], RIGHT_DW2)
    assert "dJ/dW2[0, 0]: off by a factor of 1/4 (yours is 4 times too small)" in message
    # anything else is just wrong
    message = _exercise_message([[0.5, -0.0231, 0.0], [-0.8187, 0.0231, 0.0]], RIGHT_DW2)
    assert "  dJ/dW2[0, 0]: wrong\n" in message


def test_an_exercise_with_the_wrong_shape_or_transposed_is_told_so():
    message = _exercise_message([[0.8187, -0.0231], [-0.8187, 0.0231]], RIGHT_DW2)
    assert "dJ/dW2: wrong shape: yours is (2, 2), the right one is (2, 3)" in message
    transposed = [[0.8187, -0.8187], [-0.0231, 0.0231], [0.0, 0.0]]
    message = _exercise_message(transposed, RIGHT_DW2)
    assert "dJ/dW2: transposed: your (3, 2) answer is the transpose of the right one" in message


def test_a_right_exercise_answer_shows_the_full_table():
    table = compare([RIGHT_DW2], [torch.tensor(RIGHT_DW2)], labels=["dJ/dW2"], exercise="3.6")
    text = repr(table)
    assert "0.8187" in text and "computed" in text and text.endswith("1/1 match (atol=1e-06, rtol=1e-05)")
    assert repr(compare([RIGHT_DW2], [torch.tensor(RIGHT_DW2)], labels=["dJ/dW2"])) == text


def test_compare_spells_out_the_first_wrong_entries_and_counts_the_rest():
    with pytest.raises(AssertionError) as info:
        compare(torch.zeros(20), torch.ones(20))
    assert str(info.value).count("off by 1") == 8 and "value: and 12 more wrong entries" in str(info.value)


def test_compare_nan_only_where_nan_is_expected():
    compare([float("nan"), 1.0], [float("nan"), 1.0])
    with pytest.raises(AssertionError, match=r"value\[1\]: hand 1, computed nan"):
        compare([0.0, 1.0], [0.0, float("nan")])


def test_compare_refuses_bad_tolerances():
    with pytest.raises(ValueError, match="compare: atol"):
        compare(1.0, 1.0, atol=-1.0)
    with pytest.raises(TypeError, match="compare: rtol"):
        compare(1.0, 1.0, rtol="0.1")


def test_numgrad_matches_autograd_in_float64_on_random_shapes():
    from scratchlib.course.check import numgrad

    g = torch.Generator().manual_seed(3)
    for rows, cols in [(1, 1), (2, 3), (4, 2)]:
        x = torch.randn(rows, cols, generator=g, dtype=torch.float64)
        w = torch.randn(3, cols, generator=g, dtype=torch.float64)

        def f(x, w):
            return (torch.tanh(x @ w.T) ** 2).sum() + (w**3).sum()

        dx, dw = numgrad(f, x, w)
        xr, wr = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        ref = torch.autograd.grad(f(xr, wr), [xr, wr])
        assert dx.shape == x.shape and dw.shape == w.shape and dx.dtype == torch.float64
        assert (dx - ref[0]).abs().max() < 1e-8 and (dw - ref[1]).abs().max() < 1e-8
        assert torch.equal(x, xr.detach())  # the inputs are left as they were


def test_numgrad_on_hand_numbers_and_bad_input():
    from scratchlib.course.check import numgrad

    # f(a, b) = a^2 b + 3b: df/da = 2ab = -12, df/db = a^2 + 3 = 12 at (3, -2)
    da, db = numgrad(lambda a, b: a**2 * b + 3 * b, torch.tensor(3.0), torch.tensor(-2.0))
    assert abs(da.item() + 12) < 1e-8 and abs(db.item() - 12) < 1e-8
    single = numgrad(lambda v: (v**2).sum(), [1.0, -0.5])  # lists are taken too; one tensor in, one out
    assert torch.allclose(single, torch.tensor([2.0, -1.0], dtype=torch.float64), atol=1e-8, rtol=0)
    with pytest.raises(ValueError, match=r"numgrad: f must return one number, got shape \(2,\)"):
        numgrad(lambda v: v * 2, [1.0, 2.0])
    with pytest.raises(ValueError, match="numgrad: eps"):
        numgrad(lambda v: v.sum(), [1.0], eps=0.0)
    with pytest.raises(ValueError, match=r"^numgrad: give at least one tensor to differentiate with respect to$"):
        numgrad(lambda: torch.tensor(1.0))


def test_the_table_shows_errors_in_coarse_buckets_and_small_values_in_five_digits():
    table = compare(
        [0.0, 0.0, 0.0, 0.0, 1.0, torch.zeros(7)],
        [1e-12, 1e-9, 1e-6, 0.5, 1.234567, torch.full((7,), 0.5)],
        labels=list("abcdef"),
        atol=1,
    )
    rows = [line.split("  ") for line in repr(table).splitlines()[2:8]]
    rows = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert rows == [
        ["a", "0", "1e-12", "< 1e-9", "yes"],  # each bucket's edge falls in the next one
        ["b", "0", "1e-09", "< 1e-6", "yes"],
        ["c", "0", "1e-06", "1.0e-06", "yes"],
        ["d", "0", "0.5", "5.0e-01", "yes"],
        ["e", "1", "1.2346", "2.3e-01", "yes"],
        ["f", "tensor of shape (7,)", "tensor of shape (7,)", "5.0e-01", "yes"],
    ]
    assert "[0, 0, 0, 0, 0, 0]" in repr(compare([0.0] * 6, [0.0] * 6))  # six numbers are still shown


def _displayed(monkeypatch):
    """What compare displays in a kernel (IPython's get_ipython answers there)."""
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    return shown


def test_the_html_table_has_one_coloured_row_per_quantity(monkeypatch):
    shown = _displayed(monkeypatch)
    with pytest.raises(AssertionError):
        compare([1.0, 2.0], [1.0, 3.0], labels=["a", "b<"])
    cell = "<td style='text-align:left'>{}</td>"
    assert shown[0]._repr_html_() == (
        "<table><caption style='caption-side:bottom'>1/2 match (atol=1e-06, rtol=1e-05)</caption>"
        "<thead><tr><th>quantity</th><th>hand</th><th>computed</th><th>max |error|</th><th>pass</th></tr></thead>"
        "<tbody><tr style='background:rgba(76,175,80,0.2);color:var(--jp-content-font-color1)'>"
        + "".join(cell.format(c) for c in ["a", "1", "1", "&lt; 1e-12", "yes"])
        + "</tr><tr style='background:rgba(244,67,54,0.25);color:var(--jp-content-font-color1)'>"
        + "".join(cell.format(c) for c in ["b&lt;", "2", "3", "1.0e+00", "NO"])
        + "</tr></tbody></table>"
    )


def test_a_failing_table_is_displayed_in_a_notebook_before_the_error(monkeypatch):
    import IPython

    shown = _displayed(monkeypatch)
    with pytest.raises(AssertionError) as info:
        compare(1.0, 2.0)
    assert len(shown) == 1 and repr(shown[0]) in str(info.value) and not shown[0].ok
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # a plain Python run: nothing displayed
    with pytest.raises(AssertionError):
        compare(1.0, 2.0)
    assert len(shown) == 1


@pytest.mark.parametrize(
    "hand, right, how",
    [
        (-1.0, 1.0, "sign flipped"),
        (2.0, 1.0, "off by a factor of 2 (yours is 2 times too large)"),
        (1.0, 0.5, "off by a factor of 2 (yours is 2 times too large)"),
        (-2.0, 1.0, "off by a factor of 2 (yours is 2 times too large, and its sign is flipped)"),
        (-0.25, 1.0, "off by a factor of 1/4 (yours is 4 times too small, and its sign is flipped)"),
        (100.008, 2.0, "off by a factor of 50 (yours is 50 times too large)"),  # within 1e-4 of 50
        (3.0, 0.0, "wrong"),
        (0.0, 3.0, "wrong"),
        (float("inf"), 1.0, "wrong"),
        (1.0, float("-inf"), "wrong"),
        (float("nan"), 1.0, "wrong"),
    ],
)
def test_an_exercise_entry_is_told_how_it_is_wrong(hand, right, how):
    with pytest.raises(AssertionError) as info:
        compare([hand, 5.0], [right, 5.0], exercise="3.6")
    assert str(info.value) == (
        f"exercise 3.6: mismatch in value:\n  value[0]: {how}\n  value: 1 of 2 entries are right\n"
        "(the right values are shown once every entry matches)"
    )


def test_an_exercise_answer_is_judged_with_the_tolerances():
    """Right within atol + rtol |hand| (the edge included), NaN where NaN is; a transposed answer too."""
    with pytest.raises(AssertionError) as info:
        compare(
            [1000.005, 0.0, float("nan"), float("nan"), 3.0], [1000.0, 1e-6, float("nan"), 1.0, 1.0], exercise="3.6"
        )
    assert str(info.value).splitlines()[1:4] == [
        "  value[3]: wrong",
        "  value[4]: off by a factor of 3 (yours is 3 times too large)",
        "  value: 3 of 5 entries are right",
    ]
    for hand, right, tolerances in [
        ([[1.0, 5e-7]], [[1.0], [0.0]], {}),  # within atol = 1e-6
        ([[1000.5, 0.0]], [[1000.0], [0.0]], dict(atol=0.0, rtol=1e-3)),  # within rtol |hand|
    ]:
        with pytest.raises(AssertionError) as info:
            compare(hand, right, exercise="3.6", **tolerances)
        assert "value: transposed: your (1, 2) answer is the transpose of the right one" in str(info.value)
    with pytest.raises(AssertionError) as info:
        compare(float("nan"), 1.0, exercise="3.6")
    assert "  value: wrong\n" in str(info.value)  # a scalar is named without an index


def test_an_exercise_names_at_most_eight_wrong_entries():
    with pytest.raises(AssertionError) as info:
        compare([3.0] * 8, [1.0] * 8, exercise="3.6")
    assert str(info.value).count("off by a factor of 3") == 8 and "more wrong entries" not in str(info.value)
    with pytest.raises(AssertionError) as info:
        compare([3.0] * 11, [1.0] * 11, exercise="3.6")
    assert "  value: and 3 more wrong entries\n" in str(info.value)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: compare(1.0, 1.0, exercise=3.6), TypeError, "compare: exercise must be an id such as '3.6', got 3.6"),
        (
            lambda: compare(..., 1.0),
            ValueError,
            "compare: the expected values hold ... (Ellipsis): fill in the numbers",
        ),
        (
            lambda: compare([1 + 5j] * 4, [1.0] * 4),
            TypeError,
            "compare: complex numbers are not compared (got [1+5j, 1+5j, 1+5j, 1+5j]); "
            "compare the real and imaginary parts as two rows",
        ),
        (
            lambda: compare([1 + 5j] * 5, [1.0] * 5),
            TypeError,
            "compare: complex numbers are not compared (got dtype torch.complex128, shape (5,)); "
            "compare the real and imaginary parts as two rows",
        ),
        (
            lambda: gradcheck(lambda a: a.sum(), [torch.ones(2)], []),
            ValueError,
            "gradcheck needs one gradient per input: got 1 inputs, 0 gradients",
        ),
    ],
)
def test_misuse_of_compare_and_gradcheck_is_named_in_full(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_a_mismatch_names_every_wrong_row_with_five_digits():
    with pytest.raises(AssertionError) as info:
        compare([1.234567, 2.0], [2.0, 4.0], labels=["a", "b"])
    assert str(info.value).splitlines()[:3] == [
        "mismatch in a, b:",
        "  a: hand 1.2346, computed 2, off by 0.76543",
        "  b: hand 2, computed 4, off by 2",
    ]
    with pytest.raises(AssertionError) as info:
        compare(torch.zeros(8), torch.ones(8))
    assert str(info.value).count("off by 1") == 8 and "more wrong entries" not in str(info.value)


def test_empty_values_match_and_a_row_that_cannot_match_has_an_infinite_error(monkeypatch):
    table = compare(torch.zeros(0), torch.zeros(0))
    assert table.ok and (table.rows[0].label, table.rows[0].error, tuple(table.rows[0].actual.shape)) == (
        "value",
        0.0,
        (0,),
    )
    assert repr(table).splitlines()[2].split() == ["value", "[]", "[]", "<", "1e-12", "yes"]
    shown = _displayed(monkeypatch)
    for expected, actual in [([1.0, 2.0], [1.0, 2.0, 3.0]), (1.0, float("nan")), (1.0, float("inf"))]:
        with pytest.raises(AssertionError):
            compare(expected, actual)
    assert [table.rows[0].error for table in shown] == [float("inf")] * 3


def test_gradcheck_titles_autograds_column_and_takes_an_unused_input_as_zero():
    table = gradcheck(
        lambda a, b: (2 * a).sum(), [torch.ones(2), torch.ones(3)], [torch.full((2,), 2.0), torch.zeros(3)]
    )
    assert table.ok and table.columns[1] == "hand"
    assert gradcheck(lambda a: a.sum(), [torch.ones(2)], [torch.ones(2)], source="torch").columns[1] == "torch"


def test_the_tolerance_edge_passes_and_a_wrong_computed_value_shows_five_digits():
    assert compare(0.0, 1e-6).ok  # |e - a| = atol exactly: within
    with pytest.raises(AssertionError, match=r"value: hand 2, computed 1.2346, off by 0.76543"):
        compare(2.0, 1.234567)
    with pytest.raises(AssertionError, match=r"^exercise 1.1: mismatch in a, b:\n"):
        compare([3.0, 3.0], [1.0, 1.0], labels=["a", "b"], exercise="1.1")
