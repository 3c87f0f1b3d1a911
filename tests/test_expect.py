"""tests/expect.py, the assertion every test of the course uses (and the grader reads values with)."""

import pytest

from expect import expect


def test_sets_match_by_their_members_in_any_order():
    expect({3, 1, 2}, {1, 2, 3})
    expect([102, {100}], [102, {100}])
    # a set was once encoded by its type alone, so any two sets matched
    for actual, expected in [({101, 67}, {100}), ({1}, {1, 2}), (set(), {0})]:
        with pytest.raises(AssertionError, match="the value differs"):
            expect(actual, expected)
    with pytest.raises(AssertionError):
        expect({1}, [1])  # a set is not a list
