"""countdown.reward on a table of correct, wrong, malformed and hostile answers, plus property tests."""
from __future__ import annotations

import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from countdown.reward import RewardConfig, compute_score, evaluate, extract_answer, grade, score

NUMS, TARGET = [3, 8, 2], 22   # 3 * 8 - 2 = 22

TABLE = [
    # (completion, expected status, expected score)
    ("</think> <answer> 3 * 8 - 2 </answer>", "correct", 1.0),
    ("<answer>(3*8)-2</answer>", "correct", 1.0),
    ("<answer>\n 8 * 3 - 2 \n</answer>", "correct", 1.0),
    ("<answer>((3 * 8) - (2))</answer>", "correct", 1.0),
    ("<answer> 2 * 8 + 3 </answer>", "wrong_value", 0.1),
    ("<answer> 3 * 8 </answer>", "wrong_numbers", 0.1),               # 2 unused
    ("<answer> 3 * 8 - 2 + 0 </answer>", "wrong_numbers", 0.1),       # an extra number
    ("<answer> 3 * 8 - 2 - 2 + 2 </answer>", "wrong_numbers", 0.1),   # a number used twice
    ("<answer> 38 - 2 * 8 </answer>", "wrong_numbers", 0.1),          # concatenated digits
    ("<answer> 3 * 8 - 2 = 22 </answer>", "unparsable", 0.1),         # '=' is not an operator
    ("<answer> 22 </answer>", "wrong_numbers", 0.1),
    ("<answer></answer>", "unparsable", 0.1),
    ("<answer> 3 ** 2 + 8 + 2 </answer>", "unparsable", 0.1),         # eval would say 19 + ...
    ("<answer> 3 // 2 </answer>", "unparsable", 0.1),
    ("<answer> -2 + 3 * 8 </answer>", "unparsable", 0.1),            # unary minus
    ("<answer> 3.0 * 8 - 2 </answer>", "unparsable", 0.1),           # float literal
    ("<answer> ３ * ８ - ２ </answer>", "unparsable", 0.1),             # fullwidth digits
    ("<answer> ٣ * ٨ - ٢ </answer>", "unparsable", 0.1),              # Arabic-Indic digits
    ("<answer> 3 × 8 − 2 </answer>", "unparsable", 0.1),              # unicode operators
    ("<answer> 3 * 8 - 2 / (8 - 8) </answer>", "unparsable", 0.1),   # division by zero
    ("<answer> 3 * 8 (- 2) </answer>", "unparsable", 0.1),
    ("<answer> (3 * 8 - 2 </answer>", "unparsable", 0.1),
    ("<answer> 3 * 8 - 2) </answer>", "unparsable", 0.1),
    ("<answer> 3 8 2 </answer>", "unparsable", 0.1),
    ("<answer> __import__('os') </answer>", "unparsable", 0.1),
    ("<answer>" + "(" * 5000 + "3 * 8 - 2" + ")" * 5000 + "</answer>", "unparsable", 0.1),
    ("<answer>" + "(" * 20 + "3 * 8 - 2" + ")" * 20 + "</answer>", "correct", 1.0),   # moderate nesting is fine
    ("<answer>" + "9**" * 50 + "9</answer>", "unparsable", 0.1),
    ("<answer>" + "+".join(["1"] * 100_000) + "</answer>", "unparsable", 0.1),
    ("3 * 8 - 2", "no_answer", 0.0),
    ("<answer> 3 * 8 - 2", "no_answer", 0.0),
    ("3 * 8 - 2 </answer>", "no_answer", 0.0),
    ("", "no_answer", 0.0),
    # several answers: the last one counts
    ("<answer> 1 + 1 </answer> no wait <answer> 3 * 8 - 2 </answer>", "correct", 1.0),
    ("<answer> 3 * 8 - 2 </answer> hmm <answer> 3 + 8 + 2 </answer>", "wrong_value", 0.1),
    ("x" * 1_000_000 + "<answer>3*8-2</answer>", "correct", 1.0),
]


@pytest.mark.parametrize("completion,status,expected", TABLE, ids=range(len(TABLE)))
def test_table(completion, status, expected):
    result = grade(completion, NUMS, TARGET)
    assert result.status == status
    assert score(completion, NUMS, TARGET) == expected
    assert score(completion, NUMS, TARGET) == expected
    assert result.correct == (status == "correct")


def test_fractional_intermediates_are_exact():
    assert grade("<answer>(1 + 1/3) * 6 </answer>", [1, 1, 3, 6], 8).correct
    assert grade("<answer>8 / (3 - 8 / 3)</answer>", [8, 3, 8, 3], 24).correct
    value, used = evaluate("7 / 3")
    assert value == Fraction(7, 3) and used == [7, 3]


def test_config_and_extract_answer():
    config = RewardConfig(correct=2.0, format=-1.0, none=-2.0)
    assert score("<answer>3*8-2</answer>", NUMS, TARGET, config) == 2.0
    assert score("<answer>3*8</answer>", NUMS, TARGET, config) == -1.0
    assert score("nothing", NUMS, TARGET, config) == -2.0
    assert extract_answer("a <answer> x </answer> b <answer> y </answer>") == "y"
    assert extract_answer("<answer> x") is None


def test_compute_score_ignores_the_prompt_example():
    truth = {"target": 22, "numbers": [3, 8, 2]}
    # the prompt's own format example must not be graded when veRL passes prompt + response
    prompt = "User: ... for example <answer> (1 + 2) / 3 </answer>.\nAssistant: Let me solve this step by step.\n<think>"
    assert compute_score("countdown", prompt + " ok </think> <answer> 3*8-2 </answer>", truth) == 1.0
    assert compute_score("countdown", prompt + " no idea", truth) == 0.0
    assert compute_score("countdown", "<|im_start|>assistant\n<answer>3*8-2</answer>", truth) == 1.0
    assert compute_score("countdown", "<answer>3*8-2</answer>", truth, extra_info={"split": "test"}) == 1.0
    assert compute_score("countdown", "<answer>3*8-2</answer>", {"target": 22, "numbers": (2, 3, 8)}) == 1.0


# ---- properties -------------------------------------------------------------------------------------------

def _check_bounded(completion: str, numbers: list[int], target: int) -> None:
    start = time.perf_counter()
    value = score(completion, numbers, target)
    elapsed = time.perf_counter() - start
    assert value in (0.0, 0.1, 1.0)
    # generous: the bound is about never stalling (the benchmark measures the real < 1 ms)
    assert elapsed < 0.25, (elapsed, completion[:80])


numbers_st = st.lists(st.integers(0, 100), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), numbers_st, st.integers(-1000, 1000))
def test_never_raises_on_any_text(text, numbers, target):
    _check_bounded(text, numbers, target)
    _check_bounded(f"<answer>{text}</answer>", numbers, target)


expr_alphabet = st.sampled_from(list("0123456789+-*/() ") + ["**", "//", "(((", ")))", "1.5", "٣", "="])


@settings(max_examples=300, deadline=None)
@given(st.lists(expr_alphabet, max_size=120), numbers_st, st.integers(-100, 100))
def test_never_raises_on_expression_like_answers(parts, numbers, target):
    _check_bounded("<answer>" + "".join(parts) + "</answer>", numbers, target)


@st.composite
def expressions(draw, depth=3):
    """(text, exact value or None when it divides by zero, literals) of a random well-formed expression."""
    if depth == 0 or draw(st.booleans()):
        n = draw(st.integers(0, 50))
        return str(n), Fraction(n), [n]
    left = draw(expressions(depth=depth - 1))
    right = draw(expressions(depth=depth - 1))
    op = draw(st.sampled_from("+-*/"))
    text = f"({left[0]} {op} {right[0]})"
    if left[1] is None or right[1] is None or (op == "/" and right[1] == 0):
        return text, None, left[2] + right[2]
    value = {"+": left[1] + right[1], "-": left[1] - right[1], "*": left[1] * right[1]}.get(op)
    if op == "/":
        value = left[1] / right[1]
    return text, value, left[2] + right[2]


@settings(max_examples=300, deadline=None)
@given(expressions())
def test_well_formed_expressions_evaluate_exactly(case):
    text, value, literals = case
    if value is None:
        with pytest.raises(ValueError):
            evaluate(text)
        return
    got, used = evaluate(text)
    assert got == value and sorted(used) == sorted(literals)
    if value.denominator == 1:
        assert score(f"<answer>{text}</answer>", literals, int(value)) == 1.0
