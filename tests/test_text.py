"""text: the one tensor-to-text formatter behind check, replay, the stepper and the drawings."""

import pytest
import torch

from scratchlib.course.text import number_text, tensor_text


def test_numbers_round_to_significant_digits_and_never_print_minus_zero():
    assert number_text(0.123456) == "0.1235" and number_text(0.123456, 3) == "0.123"
    assert number_text(-0.00001, 2) == "-1e-05" and number_text(-1e-9, 3) != "-0"
    # whole labels stay whole
    assert number_text(-0.0) == "0" and number_text(7) == "7" and number_text(123456) == "123456"


def test_the_three_layouts_of_a_small_tensor():
    t = torch.tensor([[1.0, -2.5], [0.125, -0.0]])
    assert tensor_text(t, layout="flat") == "[1, -2.5, 0.125, 0]"
    assert tensor_text(t, layout="nested") == "[[1, -2.5], [0.125, 0]]"
    assert tensor_text(t, layout="rows", indent="  ") == "  [    1  -2.5]\n  [0.125     0]"
    assert tensor_text(torch.tensor(3.25)) == "3.25" and tensor_text(torch.zeros(0, 3)) == "[]"
    assert tensor_text(torch.tensor([2, 0, 1]), layout="nested") == "[2, 0, 1]"  # integer labels


def test_a_big_tensor_is_summed_up_by_its_shape_and_range():
    t = torch.arange(12.0).reshape(3, 4) - 5.5
    assert tensor_text(t) == "-5.5 .. 5.5"
    assert tensor_text(t, big="tensor of shape {shape}") == "tensor of shape (3, 4)"
    assert tensor_text(t, limit=12, layout="flat").startswith("[-5.5, -4.5,")
    with pytest.raises(ValueError, match="layout must be one of"):
        tensor_text(t, layout="grid")
