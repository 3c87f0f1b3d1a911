import pytest
from hypothesis import given
from hypothesis import strategies as st
from scratchlib.ops import double, halve, relu_backward

from expect import expect


def test_double():
    expect(double(21), 42)


@pytest.mark.parametrize("x", [-3, 0.5])
def test_double_any_number(x):
    expect(double(x), x + x)


def test_relu_backward():
    # the gradient is made with exercise 3.1's double: this test needs 3.1 too (it is not one of 3.2's
    # own tests, those that run 3.2 alone and assert their values with expect, which the grader reads)
    assert relu_backward([-1.0, 2.0, 0.0, 3.0], [5.0, double(3.0), 7.0, -8.0]) == [0.0, 6.0, 0.0, -8.0]


def test_relu_backward_checks_lengths_first():
    # raises before the exercise's code: this test checks no exercise
    with pytest.raises(ValueError, match="relu_backward"):
        relu_backward([1.0], [1.0, 2.0])


def test_halve():
    assert halve(3) == 1.5


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=4))
def test_relu_backward_passes_the_gradient_of_positive_inputs(x):
    # a hypothesis test: an endless loop in it must still be stopped at the time limit
    expect(relu_backward(x, [1.0] * len(x)), [1.0 if v > 0 else 0.0 for v in x])
