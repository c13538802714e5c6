"""countdown.reward's expression grammar and what a Grade reports: operator precedence and left-to-right
evaluation, the nesting and length limits at their exact edges, the reason a rejected answer gives, and the
answer/value a Grade carries for each status. A mis-associated '-' or an off-by-one limit changes rewards."""
from __future__ import annotations

from fractions import Fraction

import pytest

from countdown.reward import MAX_ANSWER_CHARS, MAX_DEPTH, compute_score, evaluate, extract_answer, grade


@pytest.mark.parametrize("expression, value", [
    ("8 - 3 - 2", 3),          # left to right, not 8 - (3 - 2)
    ("24 / 4 / 2", 3),         # not 24 / (4 / 2)
    ("8 / 2 * 4", 16),         # not 8 / (2 * 4)
    ("9 - 4 + 2", 7),          # not 9 - (4 + 2)
    ("2 + 3 * 4", 14),         # * binds tighter
    ("2 * 3 + 4", 10),
    ("10 - 2 * 3", 4),
    ("20 - 12 / 4", 17),
    ("2 * (3 + 4)", 14),
    ("(10 - 2) * 3", 24),
    ("100 - 10 - 20 - 30", 40),
    ("7 / 2 * 2", 7),          # exact through a non-integer intermediate
    ("7 / 2 + 1 / 2", 4),
    ("1 / 3 + 1 / 3", Fraction(2, 3)),
])
def test_precedence_and_left_association(expression, value):
    got, literals = evaluate(expression)
    assert got == value
    assert literals == [int(t) for t in expression.replace("(", " ").replace(")", " ").split() if t.isdigit()]


def test_nesting_limit_counts_open_parentheses_at_once():
    assert evaluate("(" * MAX_DEPTH + "5" + ")" * MAX_DEPTH)[0] == 5
    with pytest.raises(ValueError, match="^nesting too deep$"):
        evaluate("(" * (MAX_DEPTH + 1) + "5" + ")" * (MAX_DEPTH + 1))
    # closing one group and opening two more goes one level past the limit
    with pytest.raises(ValueError, match="^nesting too deep$"):
        evaluate("(" * (MAX_DEPTH - 1) + "(1) + ((1))" + ")" * (MAX_DEPTH - 1))
    # groups one after another never add up, however many there are
    side_by_side = " + ".join(f"({i})" for i in range(MAX_DEPTH + 6))
    assert evaluate(side_by_side)[0] == sum(range(MAX_DEPTH + 6))
    nested_twice = " + ".join(["((1))"] * (MAX_DEPTH + 1))
    assert evaluate(nested_twice)[0] == MAX_DEPTH + 1


def test_length_limit_at_its_edge():
    at_limit = "1" + " " * (MAX_ANSWER_CHARS - 4) + "+ 2"
    assert len(at_limit) == MAX_ANSWER_CHARS and evaluate(at_limit)[0] == 3
    with pytest.raises(ValueError, match="^expression too long$"):
        evaluate(" " + at_limit)


@pytest.mark.parametrize("expression, reason", [
    ("3 / (2 - 2)", "division by zero"),
    ("3 + 2)", "unbalanced )"),
    ("(3 + 2", "missing )"),
    ("3 +", "unexpected end"),
    ("", "unexpected end"),
    ("3 8", "unexpected '8'"),
    ("(3) 8", "unexpected '8'"),
    ("3 ** 2", "unexpected '*'"),
    ("-3 + 2", "unexpected '-'"),
    ("3 + )", "unexpected ')'"),
    ("3.5 + 1", "characters other than digits, + - * / and parentheses"),
    ("3 = 3", "characters other than digits, + - * / and parentheses"),
])
def test_a_rejected_expression_says_why(expression, reason):
    with pytest.raises(ValueError) as info:
        evaluate(expression)
    assert str(info.value) == reason


def test_a_grade_carries_the_answer_and_its_value():
    numbers, target = [3, 8, 2], 22
    g = grade("<answer> 3 * 8 - 2 </answer>", numbers, target)
    assert (g.status, g.answer, g.value) == ("correct", "3 * 8 - 2", 22)
    g = grade("<answer>3 + 8 + 2</answer>", numbers, target)
    assert (g.status, g.answer, g.value) == ("wrong_value", "3 + 8 + 2", 13)
    g = grade("<answer>3 * 8</answer>", numbers, target)
    assert (g.status, g.answer, g.value) == ("wrong_numbers", "3 * 8", 24)
    g = grade("<answer>3 ** 8 - 2</answer>", numbers, target)
    assert (g.status, g.answer, g.value) == ("unparsable", "3 ** 8 - 2", None)
    g = grade("no answer here", numbers, target)
    assert (g.status, g.answer, g.value) == ("no_answer", None, None)
    assert not g.correct


def test_extract_answer_pairs_the_last_close_with_the_open_before_it():
    # an unclosed tag after the last complete answer does not hide that answer
    assert extract_answer("<answer> 3 * 8 - 2 </answer> and then <answer> oops") == "3 * 8 - 2"
    assert extract_answer("</answer> <answer> x </answer>") == "x"
    assert extract_answer("</answer> stray close only") is None
    assert extract_answer("<answer>\n\t 7 \n</answer>") == "7"


def test_compute_score_cuts_at_the_first_assistant_marker():
    truth = {"target": 22, "numbers": [3, 8, 2]}
    # the response itself may mention the marker text; the answer before that mention still counts
    response = "<answer> 3 * 8 - 2 </answer> (Assistant: done)"
    assert compute_score("countdown", "User: example <answer> 1 + 2 </answer>\nAssistant: " + response, truth) == 1.0
    # a completion that starts with a marker is graded after it, and a second, different marker later on
    # belongs to the response
    chatml = "<|im_start|>assistant\n<answer> 3 * 8 - 2 </answer> Assistant: thanks"
    assert compute_score("countdown", chatml, truth) == 1.0
