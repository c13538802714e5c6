"""countdown.reward's number rules where a plausible bug would hide: repeated given numbers (a multiset, not a
set) and values that are close to the target but not integers (exact rationals, never truncated)."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from countdown.reward import grade, score


@pytest.mark.parametrize("numbers, target, answer, status", [
    ([2, 2, 3], 12, "2 * 2 * 3", "correct"),
    ([2, 2, 3], 18, "2 * 3 * 3", "wrong_numbers"),     # same length, same set {2, 3}: still the wrong multiset
    ([2, 2, 3], 7, "2 + 2 + 3", "correct"),
    ([2, 2, 3], 5, "2 + 3", "wrong_numbers"),          # one 2 unused
    ([2, 2, 3], 9, "2 + 2 + 2 + 3", "wrong_numbers"),  # 2 used three times
    ([5, 5, 5, 5], 20, "5 + 5 + 5 + 5", "correct"),
    ([5, 5, 5, 5], 15, "5 + 5 + 5", "wrong_numbers"),
    ([7, 7, 1], 49, "7 * 7 * 1", "correct"),
    ([7, 7, 1], 7, "7 * 1", "wrong_numbers"),
])
def test_repeated_numbers_are_a_multiset(numbers, target, answer, status):
    assert grade(f"<answer> {answer} </answer>", numbers, target).status == status
    assert score(f"<answer> {answer} </answer>", numbers, target) == (1.0 if status == "correct" else 0.1)


@pytest.mark.parametrize("numbers, target, answer", [
    ([45, 2, 1], 22, "45 / 2 * 1"),       # 22.5: int() would call it 22
    ([45, 2, 1], 23, "45 / 2 * 1"),       # round() would call it 23 (or 22)
    ([7, 3, 1], 2, "7 / 3 * 1"),          # 2.33...
    ([1, 3, 3], 1, "(1 + 3) / 3"),                # 1.33...
])
def test_a_fraction_next_to_the_target_is_wrong(numbers, target, answer):
    result = grade(f"<answer> {answer} </answer>", numbers, target)
    assert result.value is not None and result.value.denominator != 1
    assert result.status == "wrong_value" and score(f"<answer> {answer} </answer>", numbers, target) == 0.1


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 99), st.integers(2, 9), st.integers(1, 20))
def test_a_non_integer_value_never_scores_one(a, b, c):
    """a / b * c with b not dividing a*c is a non-integer; it must not score 1.0 for any nearby target."""
    value = Fraction(a, b) * c
    if value.denominator == 1:
        return
    completion = f"<answer> {a} / {b} * {c} </answer>"
    for target in {int(value) - 1, int(value), int(value) + 1, round(value)}:
        assert score(completion, [a, b, c], target) == 0.1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=2, max_size=4))
def test_a_repeated_number_used_once_too_few_or_too_many_times(numbers):
    """Sum of the given numbers is correct; dropping one copy or adding one copy of a number is not."""
    total = sum(numbers)
    answer = " + ".join(map(str, numbers))
    assert score(f"<answer> {answer} </answer>", numbers, total) == 1.0
    first = numbers[0]
    assert score(f"<answer> {answer} + {first} </answer>", numbers, total + first) == 0.1
    rest = numbers[1:]
    assert score(f"<answer> {' + '.join(map(str, rest))} </answer>", numbers, total - first) == 0.1
