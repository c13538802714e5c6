"""countdown.solver's pieces, each against what it promises: the fewest parentheses, every split once, targets of
0 with a 0 among the numbers, the batched tables' layout and overflow guard, sorted and limited solution lists."""
from __future__ import annotations

from fractions import Fraction

import pytest

from countdown import solver
from countdown.reward import evaluate, grade

ATOM, MUL, ADD = 3, 2, 1


@pytest.mark.parametrize("op, left, lprec, right, rprec, text, prec", [
    ("+", "a - b", ADD, "c - d", ADD, "a - b + c - d", ADD),      # + never needs brackets
    ("-", "a - b", ADD, "c", ATOM, "a - b - c", ADD),             # a left operand keeps its order
    ("-", "a", ATOM, "b - c", ADD, "a - (b - c)", ADD),
    ("-", "a", ATOM, "b + c", ADD, "a - (b + c)", ADD),
    ("-", "a", ATOM, "b * c", MUL, "a - b * c", ADD),
    ("*", "a + b", ADD, "c * d", MUL, "(a + b) * c * d", MUL),
    ("*", "a * b", MUL, "c - d", ADD, "a * b * (c - d)", MUL),
    ("/", "a * b", MUL, "c * d", MUL, "a * b / (c * d)", MUL),
    ("/", "a / b", MUL, "c", ATOM, "a / b / c", MUL),
    ("/", "a", ATOM, "b / c", MUL, "a / (b / c)", MUL),
    ("/", "a + b", ADD, "c", ATOM, "(a + b) / c", MUL),
    ("/", "a", ATOM, "b", ATOM, "a / b", MUL),
])
def test_render_uses_the_fewest_parentheses(op, left, lprec, right, rprec, text, prec):
    assert solver.render(op, left, lprec, right, rprec) == (text, prec)


@pytest.mark.parametrize("key, count", [((1, 2), 1), ((1, 2, 3), 3), ((1, 1, 2), 2), ((1, 1, 1, 1), 2),
                                        ((1, 2, 3, 4), 7), ((2, 2, 3, 3), 4)])
def test_splits_are_every_unordered_split_once(key, count):
    found = solver.splits(key)
    assert len(found) == len(set(found)) == count
    for left, right in found:
        assert left and right and left <= right
        assert list(left) == sorted(left) and list(right) == sorted(right)
        assert sorted(left + right) == list(key)


def test_a_zero_target_with_a_zero_among_the_numbers():
    assert solver.solve_all([0, 7], 0) == ["0 * 7", "0 / 7"]          # never 7 / 0
    exprs = solver.solve_all([0, 5, 3], 0)
    assert "0 * 3 * 5" in exprs and "0 / (3 + 5)" in exprs
    for expr in exprs:
        assert grade(f"<answer>{expr}</answer>", [0, 5, 3], 0).correct, expr
    assert solver.solve([0, 0], 0) is not None and solver.solve([0, 0], 1) is None


def test_solve_all_is_sorted_short_first_and_limited():
    exprs = solver.solve_all([1, 2, 3, 4], 10)
    assert exprs == sorted(exprs, key=lambda e: (len(e), e)) and len(exprs) > 3
    assert solver.solve_all([1, 2, 3, 4], 10, limit=3) == exprs[:3]
    assert solver.solve_all([1, 2, 3, 4], 10, limit=0) == []
    assert solver.solve_all([1, 2, 3], 6)[:4] == ["1 * 2 * 3", "1 * 3 * 2", "1 + 2 + 3", "1 + 3 + 2"]


def test_fraction_targets_and_values():
    assert solver.solve_all([3, 4], Fraction(3, 4)) == ["3 / 4"]
    value, used = evaluate(solver.solve([2, 4], Fraction(2)))
    assert value == 2 and sorted(used) == [2, 4]
    table = solver.reachable([1, 3])
    assert table[Fraction(1, 3)] == "1 / 3" and evaluate(table[Fraction(3)])[0] == 3
    assert solver.reachable([5]) == {Fraction(5): "5"}


def test_batch_templates_layout():
    assert solver.batch_templates(2) == ("{0} + {1}", "{0} - {1}", "{1} - {0}", "{0} * {1}", "{0} / {1}",
                                         "{1} / {0}")
    assert [len(solver.batch_templates(k)) for k in (2, 3, 4)] == [6, 108, 3240]


def test_batch_fits_at_its_edges():
    # 4 numbers: 2**3 * m**4 < 2**62 holds up to m = 27554
    assert solver.batch_fits(4, 27554) and not solver.batch_fits(4, 27555)
    assert solver.batch_fits(2, 0) and solver.batch_fits(2, 2**30) and not solver.batch_fits(2, 2**31)
    assert not solver.batch_fits(1, 5) and not solver.batch_fits(5, 1)


def test_batch_solve_marks_unreachable_rows_and_keeps_row_order():
    numbers = [[2, 2], [3, 4], [1, 1], [6, 3]]
    targets = [4, 7, 5, 2]
    forms = solver.batch_solve(numbers, targets).tolist()
    assert forms[2] == -1 and all(f >= 0 for i, f in enumerate(forms) if i != 2)
    templates = solver.batch_templates(2)
    for row, target, form in zip(numbers, targets, forms):
        if form >= 0:
            assert evaluate(templates[form].format(*row))[0] == target
    assert all(f >= 0 for f in solver.batch_solve([[0, 0, 5], [0, 2, 5]], [0, 10]).tolist())
    assert solver.batch_solve([[1, 2]], [99]).tolist() == [-1]


def test_inputs_it_cannot_use_say_why():
    with pytest.raises(ValueError, match=r"^numbers is empty$"):
        solver.solve_all([], 3)
    with pytest.raises(ValueError, match=r"^numbers must be non-negative \(a negative literal would need unary minus\)$"):
        solver.reachable([2, -1])
    assert solver.solve_all([5], 3) == [] and solver.solve([5], 3) is None


def test_zero_target_lists_every_kind_of_expression():
    exprs = solver.solve_all([0, 2, 2], 0)
    # zero times or over anything, zero plus a zero the others make, and the others cancelling around the zero
    for expr in ("0 * 2 * 2", "0 / (2 + 2)", "0 + 2 - 2", "0 - (2 - 2)", "2 - 2 - 0", "2 - (0 + 2)"):
        assert expr in exprs, expr
    assert all(grade(f"<answer>{e}</answer>", [0, 2, 2], 0).correct for e in exprs)


def test_batch_solve_when_every_row_is_solved_before_the_last_split():
    forms = solver.batch_solve([[1, 2, 3], [2, 3, 4], [1, 1, 1]], [6, 24, 3]).tolist()
    templates = solver.batch_templates(3)
    for row, target, form in zip([[1, 2, 3], [2, 3, 4], [1, 1, 1]], [6, 24, 3], forms):
        assert evaluate(templates[form].format(*row))[0] == target


def test_batch_fits_exact_boundaries():
    assert not solver.batch_fits(3, 2**20) and solver.batch_fits(3, 2**20 - 1)   # 4 * 2**60 == 2**62 is too big
    assert not solver.batch_fits(2, 2**31 - 1)
