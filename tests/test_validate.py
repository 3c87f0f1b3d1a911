"""The one rule for numbers and labels (scratchlib.course.validate), which every module uses."""

import math
import re

import numpy as np
import pytest
import torch

from scratchlib.course import validate


@pytest.mark.parametrize("value", [0.1, 3, np.float32(0.25), np.float64(2.0), np.int64(7), torch.tensor(0.5)])
def test_numbers_of_every_kind_are_numbers(value):
    assert validate.positive("f", "lr", value) == pytest.approx(float(value))


@pytest.mark.parametrize(
    "value, error, message",
    [
        ("0.1", TypeError, "f: lr must be a number, got str '0.1'"),
        (True, TypeError, "f: lr must be a number, got bool True"),
        (np.bool_(True), TypeError, "f: lr must be a number, got bool"),
        (None, TypeError, "f: lr must be a number, got NoneType None"),
        (torch.ones(2), TypeError, r"f: lr must be a number, got a tensor of shape \(2,\)"),
        (0, ValueError, "f: lr must be a positive finite number, got 0"),
        (-1.5, ValueError, "f: lr must be a positive finite number, got -1.5"),
        (math.nan, ValueError, "f: lr must be a positive finite number, got nan"),
        (math.inf, ValueError, "f: lr must be a positive finite number, got inf"),
    ],
)
def test_everything_else_is_named(value, error, message):
    with pytest.raises(error, match=message):
        validate.positive("f", "lr", value)


def test_ranges_counts_and_non_negative_numbers():
    assert validate.number("Dropout", "p", 0.0, low=0, high=1, high_open=True) == 0.0
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\), got 1.0"):
        validate.number("Dropout", "p", 1.0, low=0, high=1, high_open=True)
    assert validate.non_negative("f", "momentum", 0) == 0.0
    assert validate.count("f", "epochs", np.int32(4)) == 4 and type(validate.count("f", "n", 4)) is int
    with pytest.raises(TypeError, match=re.escape("f: epochs must be an integer, got float 4.0")):
        validate.count("f", "epochs", 4.0)
    with pytest.raises(ValueError, match="f: epochs must be a positive integer, got 0"):
        validate.count("f", "epochs", 0)


@pytest.mark.parametrize(
    "bounds, value, message",
    [
        (dict(low=0, high=1), 2, "in [0, 1]"),
        (dict(low=0, high=1, low_open=True, high_open=True), 1, "in (0, 1)"),
        (dict(low=-1, high=1, low_open=True), -1, "in (-1, 1]"),
        (dict(low=0), -1, "a finite number >= 0"),
        (dict(low=0, low_open=True), 0, "a positive finite number"),
        (dict(low=2), 1, "a finite number >= 2"),
        (dict(low=2, low_open=True), 2, "a finite number > 2"),
        (dict(high=3), 4, "a finite number <= 3"),
        (dict(high=3, high_open=True), 3, "a finite number < 3"),
        (dict(), math.inf, "a finite number"),
    ],
)
def test_a_number_out_of_range_is_told_the_range_in_full(bounds, value, message):
    """The whole message, bound by bound: an open bound reads as < or (, a closed one as <= or [."""
    with pytest.raises(ValueError) as error:
        validate.number("f", "x", value, **bounds)
    assert str(error.value) == f"f: x must be {message}, got {value!r}"


def test_labels_and_finite_rows():
    validate.labels("f", torch.tensor([0, 2, 1]), classes=3)
    with pytest.raises(ValueError, match=r"f: class labels must lie in \[0, 3\), got values from 0 to 3"):
        validate.labels("f", torch.tensor([0, 3]), classes=3)
    with pytest.raises(ValueError, match=re.escape("f: class labels must be integers, got dtype torch.float32")):
        validate.labels("f", torch.tensor([0.0, 1.0]), classes=3)
    x = torch.zeros(8, 2)
    validate.finite_rows("f", "x", x)
    x[[1, 6], 0] = torch.tensor([math.inf, math.nan])
    with pytest.raises(ValueError, match=r"f: x holds NaN or inf in 2 rows \(1, 6\)"):
        validate.finite_rows("f", "x", x)


def test_safe_step_refuses_before_anything_moves():
    W, G = torch.ones(2, 3), torch.full((2, 3), 0.5)
    validate.safe_step("f", [W], [G], 0.1)  # a plain step passes
    with pytest.raises(validate.NonFiniteStep, match="f: the update would make W non-finite: its gradient holds"):
        validate.safe_step("f", [W], [G.index_fill(0, torch.tensor([1]), math.nan)], 0.1, name_of=lambda i: "W")
    with pytest.raises(validate.NonFiniteStep, match=r"overflows; nothing was moved"):
        validate.safe_step("f", [W], [torch.full((2, 3), 1e30)], 1e10)
    assert torch.equal(W, torch.ones(2, 3))


def test_safe_step_decides_exactly_at_the_edge_of_the_floats():
    """The usual path reads only the gradients; a large step is tried entry by entry."""
    biggest = torch.finfo(torch.float32).max
    W = torch.tensor([[biggest, -1.0], [0.5, 2.0]])
    validate.safe_step("f", [W], [torch.ones(2, 2)], 0.1)  # a finite weight at FLT_MAX stays finite
    validate.safe_step("f", [W.clone().fill_(0)], [torch.full((2, 2), 1e31)], 10.0)  # huge, but fits
    with pytest.raises(validate.NonFiniteStep, match=r"parameter 0 non-finite: the step \(step size 1 times"):
        validate.safe_step("f", [W], [torch.tensor([[-1e33, 0.0], [0.0, 0.0]])], 1.0)  # pushes FLT_MAX over
    with pytest.raises(validate.NonFiniteStep, match="it already holds NaN or inf"):
        validate.safe_step("f", [torch.tensor([math.inf])], [torch.tensor([1e31])], 1.0)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_labels_of_any_integer_dtype_come_back_as_int64(dtype):
    labels = validate.labels("f", torch.tensor([0, 2, 1], dtype=dtype), classes=3)
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 2, 1]
    same = torch.tensor([1, 0])
    assert validate.labels("f", same, classes=2) is same  # int64 labels are not copied


def test_whole_float_labels_where_a_chart_allows_them():
    assert validate.labels("f", torch.tensor([1.0, 0.0]), None, whole_floats=True).tolist() == [1, 0]
    for bad, shown in ((0.7, "0.7"), (math.nan, "nan"), (math.inf, "inf")):
        with pytest.raises(ValueError, match=f"f: class labels must be whole numbers, got {shown}"):
            validate.labels("f", torch.tensor([1.0, bad]), None, whole_floats=True)
    with pytest.raises(ValueError, match=r"f: class labels must be >= 0, got values from -1 to 0"):
        validate.labels("f", torch.tensor([0, -1]), None)


@pytest.mark.parametrize(
    "check, value, error, message",
    [
        (validate.seed, "a", TypeError, "f: seed must be an integer, got str 'a'"),
        (validate.seed, True, TypeError, "f: seed must be an integer, got bool True"),
        (validate.seed, 1.5, TypeError, "f: seed must be an integer, got float 1.5"),
        (validate.seed, -1, ValueError, r"f: seed must be an integer in \[0, 2\*\*64\), got -1"),
        (validate.seed, 2**70, ValueError, r"f: seed must be an integer in \[0, 2\*\*64\), got 1180591620717411303424"),
        (validate.generator, "g", TypeError, r"f: generator must be a torch.Generator \(e.g. torch.Generator"),
        (validate.generator, 0, TypeError, "f: generator must be a torch.Generator .* got int 0"),
        (validate.float_dtype, torch.int64, TypeError, "f: dtype must be a floating-point dtype .* got torch.int64"),
        (validate.float_dtype, "float32", TypeError, "f: dtype must be a floating-point dtype .* got 'float32'"),
    ],
)
def test_seeds_generators_and_dtypes(check, value, error, message):
    with pytest.raises(error, match=message):
        check("f", value)


def test_good_seeds_generators_and_dtypes_pass_through():
    assert validate.seed("f", np.int64(3)) == 3 and validate.seed("f", 2**64 - 1) == 2**64 - 1
    g = torch.Generator()
    assert validate.generator("f", g) is g and validate.generator("f", None) is None
    assert validate.float_dtype("f", torch.float64) is torch.float64 and validate.float_dtype("f", None) is None


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: validate.labels("f", [0, 1], 3), TypeError, "f: class labels must be a tensor of integers, got list"),
        (
            lambda: validate.labels("f", torch.tensor([True]), 2),
            ValueError,
            "f: class labels must be integers, got dtype torch.bool",
        ),
        (
            lambda: validate.labels("f", torch.tensor([1 + 0j]), 2),
            ValueError,
            "f: class labels must be integers, got dtype torch.complex64",
        ),
        (lambda: validate.count("f", "n", 1, minimum=2), ValueError, "f: n must be an integer >= 2, got 1"),
        (
            lambda: validate.seed("f", 2**64),
            ValueError,
            "f: seed must be an integer in [0, 2**64), got 18446744073709551616",
        ),
        (
            lambda: validate.finite_rows("f", "x", torch.zeros(20, 2).index_fill_(0, torch.arange(0, 20, 2), math.nan)),
            ValueError,
            "f: x holds NaN or inf in 10 rows (0, 2, 4, 6, 8 and 5 more); clean or drop them before training",
        ),
        (
            lambda: validate.safe_step("f", [torch.tensor([math.inf])], [torch.tensor([1.0])], 1e300),
            validate.NonFiniteStep,
            "f: the update would make parameter 0 non-finite: it already holds NaN or inf; nothing was moved",
        ),
    ],
)
def test_each_refusal_is_named_in_full(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_what_has_no_values_to_check_passes():
    """Meta tensors (shapes without values) and integer rows have nothing non-finite in them."""
    meta_labels = torch.zeros(3, dtype=torch.int64, device="meta")
    assert validate.labels("f", meta_labels, 2) is meta_labels
    validate.finite_rows("f", "x", torch.zeros(2, 2, device="meta"))
    validate.finite_rows("f", "x", torch.tensor([[1, 2]]))
    assert validate.seed("f", 2**64 - 1) == 2**64 - 1


def test_a_bool_tensor_is_not_a_number_and_five_bad_rows_are_all_listed():
    with pytest.raises(TypeError) as info:
        validate.positive("f", "lr", torch.tensor(True))
    assert str(info.value) == "f: lr must be a number, got a tensor of shape () and dtype torch.bool"
    with pytest.raises(ValueError) as info:
        validate.finite_rows("f", "x", torch.full((5, 1), math.nan))
    assert str(info.value) == "f: x holds NaN or inf in 5 rows (0, 1, 2, 3, 4); clean or drop them before training"
