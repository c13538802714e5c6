"""countdown.solver against an independent brute force on random small cases."""
from __future__ import annotations

import random
from fractions import Fraction
from itertools import permutations

import numpy as np
import pytest

from countdown import solver
from countdown.reward import evaluate, grade


def brute_values(numbers: list[int], ops: str = "+-*/") -> set[Fraction]:
    """Every value of every expression using all numbers once (with `ops`): combine any ordered pair, recurse."""
    values: set[Fraction] = set()

    def go(items: list[Fraction]) -> None:
        if len(items) == 1:
            values.add(items[0])
            return
        for i, j in permutations(range(len(items)), 2):
            a, b = items[i], items[j]
            rest = [items[m] for m in range(len(items)) if m not in (i, j)]
            results = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b != 0 else None}
            for r in (results[op] for op in ops if results[op] is not None):
                go(rest + [r])

    go([Fraction(n) for n in numbers])
    return values


def random_cases(n: int, seed: int, lo: int = 0, hi: int = 12):
    rng = random.Random(seed)
    return [[rng.randint(lo, hi) for _ in range(rng.randint(1, 4))] for _ in range(n)]


@pytest.mark.parametrize("seed", range(3))
def test_reachable_matches_brute_force(seed):
    for numbers in random_cases(40, seed):
        table = solver.reachable(numbers)
        assert set(table) == brute_values(numbers), numbers
        for value, expr in table.items():
            got, used = evaluate(expr)
            assert got == value and sorted(used) == sorted(numbers), (numbers, expr)


@pytest.mark.parametrize("ops", ["+-*", "+-", "*/", "-"])
def test_reachable_with_fewer_operators_matches_brute_force(ops):
    for numbers in random_cases(30, len(ops), lo=1, hi=9):
        table = solver.reachable(numbers, ops)
        assert set(table) == brute_values(numbers, ops), (numbers, ops)
        for value, expr in table.items():   # the expressions use only those operators, and reach the value
            assert set(expr) & set("+-*/") <= set(ops) and evaluate(expr)[0] == value, (numbers, expr)
    assert solver.solve([8, 4, 2], 1) is not None and solver.solve([8, 4, 2], 1, "+-*") is None   # 8 / (4 * 2)
    with pytest.raises(ValueError):
        solver.reachable([1, 2], "+x")


def test_solve_agrees_with_brute_force_and_grades_correct():
    rng = random.Random(7)
    for numbers in random_cases(120, 11, lo=1, hi=30):
        values = brute_values(numbers)
        for target in {rng.randint(-10, 60) for _ in range(5)}:
            expr = solver.solve(numbers, target)
            assert (expr is not None) == (target in values), (numbers, target)
            if expr is not None:
                assert grade(f"<answer>{expr}</answer>", numbers, target).correct, (numbers, target, expr)
                assert "--" not in expr and not expr.lstrip("(").startswith("-")   # no unary minus


def test_solve_all_distinct_correct_and_complete_enough():
    exprs = solver.solve_all([1, 2, 3, 4], 24)
    assert len(exprs) == len(set(exprs)) > 5
    assert "1 * 2 * 3 * 4" in exprs or "(1 + 2 + 3) * 4" in exprs
    for expr in exprs:
        assert grade(f"<answer>{expr}</answer>", [1, 2, 3, 4], 24).correct, expr
    assert solver.solve_all([1, 1, 1], 100) == []
    assert solver.solve_all([5], 5) == ["5"]
    assert len(solver.solve_all([1, 2, 3, 4], 24, limit=2)) == 2


def test_solve_all_finds_every_value_class_of_brute_force():
    # every target the brute force reaches has at least one expression, and all of them are correct
    for numbers in random_cases(25, 3, lo=0, hi=6):
        for target in {v for v in brute_values(numbers) if v.denominator == 1 and abs(v) <= 20}:
            exprs = solver.solve_all(numbers, target)
            assert exprs, (numbers, target)
            for expr in exprs:
                assert grade(f"<answer>{expr}</answer>", numbers, int(target)).correct, (numbers, target, expr)


def test_zero_and_fraction_targets():
    assert solver.solve([0, 5], 0) is not None
    assert solver.solve([3, 4], Fraction(3, 4)) == "3 / 4"
    assert solver.solve([2, 2], 5) is None
    with pytest.raises(ValueError):
        solver.solve([], 3)
    with pytest.raises(ValueError):
        solver.solve([-3, 4], 1)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_batch_table_is_exact_and_complete(k):
    rng = np.random.default_rng(k)
    numbers = rng.integers(0, 15, size=(12, k))
    p, q = solver.batch_table(numbers)
    templates = solver.batch_templates(k)
    assert p.shape == q.shape == (12, len(templates))
    for r, row in enumerate(numbers.tolist()):
        values = set()
        for j in range(0, len(templates), 7 if k == 4 else 1):   # spot-check the 3,240 4-number forms
            expr = templates[j].format(*row)
            try:
                value, _ = evaluate(expr)
            except ValueError:
                assert q[r, j] == 0, expr
                continue
            assert value == Fraction(int(p[r, j]), int(q[r, j])), expr
        values = {Fraction(int(a), int(b)) for a, b in zip(p[r], q[r]) if b}
        assert values == set(solver.reachable(row)), row


@pytest.mark.parametrize("lo,hi,rows", [(0, 25, 150), (1, 25, 150), (1, 100, 40)])   # int32 and int64 paths
def test_batch_solve_agrees_with_solve(lo, hi, rows):
    rng = np.random.default_rng(lo + hi)
    for k in (2, 3, 4):
        numbers = rng.integers(lo, hi, size=(rows, k))
        targets = rng.integers(-3, 2 * hi, size=rows)
        forms = solver.batch_solve(numbers, targets)
        templates = solver.batch_templates(k)
        for row, target, form in zip(numbers.tolist(), targets.tolist(), forms.tolist()):
            assert (form >= 0) == (solver.solve(row, target) is not None), (row, target)
            if form >= 0:
                expr = templates[form].format(*row)
                assert grade(f"<answer>{expr}</answer>", row, target).correct, (row, target, expr)


def test_batch_fits_guards_overflow():
    assert solver.batch_fits(4, 100) and solver.batch_fits(3, 10**6)
    assert not solver.batch_fits(4, 10**5) and not solver.batch_fits(5, 10)
