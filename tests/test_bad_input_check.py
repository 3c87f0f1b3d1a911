"""Bad input to check.compare, and the values it must get right: infinities, NaN, complex
numbers, the engine's Tensor (issue 30, item 2).

compare has no state of its own: a row's state is the values it was handed.
"""

import math

import numpy as np
import pytest
import torch

from bad_input import Bad, check, rows
from scratchlib.autograd import Tensor
from scratchlib.course.check import compare

INF, NAN = math.inf, math.nan


def values(expected, actual):
    return lambda: (expected, actual)


def compared(pair):
    return compare(*pair)


@rows(
    Bad("expected inf, got 5", values(INF, 5.0), compared, AssertionError, ["value: hand inf, computed 5, off by inf"]),
    Bad("expected -inf, got 1e9", values(-INF, 1e9), compared, AssertionError, ["hand -inf, computed 1e+09"]),
    Bad("expected inf, got -inf", values([1.0, INF], [1.0, -INF]), compared, AssertionError, ["value[1]: hand inf"]),
    Bad("expected 5, got inf", values(5.0, INF), compared, AssertionError, ["hand 5, computed inf, off by inf"]),
    Bad("expected 1e308, got inf", values(1e308, INF), compared, AssertionError, ["computed inf"]),
    Bad("expected inf, got nan", values(INF, NAN), compared, AssertionError, ["hand inf, computed nan"]),
    Bad("expected nan, got 1", values(NAN, 1.0), compared, AssertionError, ["hand nan, computed 1"]),
    Bad(
        "a complex number",
        values(1 + 5j, 1.0),
        compared,
        TypeError,
        ["compare: complex numbers are not compared", "1+5j", "real and imaginary parts"],
    ),
    Bad(
        "a complex tensor",
        values(torch.tensor([1.0, 2.0]), torch.tensor([1 + 1j, 2 + 0j])),
        compared,
        TypeError,
        ["complex numbers are not compared"],
        lambda pair: list(pair),
    ),
    Bad(
        "a big complex NumPy array",
        values(np.ones(10, dtype=complex) * 1j, np.zeros(10)),
        compared,
        TypeError,
        ["complex numbers are not compared", "shape (10,)"],
    ),
    Bad("a string", values("0.5", 0.5), compared, TypeError, ["compare: values must be numbers", "'0.5'"]),
    Bad("a ragged list", values([[1.0, 2.0], [3.0]], [1.0]), compared, TypeError, ["values must be numbers"]),
    Bad("None", values(1.0, None), compared, TypeError, ["values must be numbers", "None"]),
    Bad(
        "an engine Tensor that differs",
        values([1.0, 2.0], Tensor(torch.tensor([1.0, 2.5]))),
        compared,
        AssertionError,
        ["value[1]: hand 2, computed 2.5"],
    ),
)
def test_bad_or_wrong_values_are_refused_and_nothing_is_changed(row):
    check(row)


@pytest.mark.parametrize(
    "expected, actual",
    [
        (INF, INF),
        (-INF, -INF),
        ([1.0, INF, -INF], torch.tensor([1.0, INF, -INF])),
        ([NAN, INF], [NAN, INF]),
        (1 + 0j, 1.0),  # a complex number without an imaginary part is the real number
        (torch.tensor([2.0, 3.0], dtype=torch.complex64), [2.0, 3.0]),
        (np.float32(0.5), np.array(0.5)),
    ],
)
def test_equal_infinities_and_nans_match(expected, actual):
    # issue 30, item 2: a correct inf failed "off by nan" (inf - inf), and an expected inf passed
    # against any number (rtol * |inf| is inf)
    table = compare(expected, actual)
    assert table.ok and "< 1e-12" in repr(table)


def test_engine_tensors_are_compared_by_their_data():
    # issue 30, item 2: the engine's Tensor (notebook 06) was refused with a raw TypeError
    w = Tensor(torch.tensor([[1.0, -2.0]], dtype=torch.float64), requires_grad=True)
    (w * w).sum().backward()
    assert compare([[2.0, -4.0]], w.grad).ok
    assert compare(Tensor(torch.tensor(3.0)), 3.0).ok
    assert compare([1.0, 2.0], [Tensor(torch.tensor(1.0)), 2.0], labels=["a", "b"]).ok


def test_any_object_with_a_torch_tensor_as_data_is_read_through_it():
    # check.py sits on the bottom floor and imports no engine: it knows a Tensor by its .data
    class Holder:
        data = torch.tensor([0.25, 0.5])

    assert compare([0.25, 0.5], Holder()).ok


def test_a_hand_value_is_read_in_float64():
    # 0.1 read as float32 would be off by 1.5e-9 from the float64 0.1 computed
    assert compare(0.1, torch.tensor(0.1, dtype=torch.float64), atol=0, rtol=0).ok
