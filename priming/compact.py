"""Compact generate-and-test searches: the priming traces of the CPU model organism (docs/analysis.md).

A search combines the numbers in one fixed order and compares every result with the target, stopping at the
first that reaches it. It writes each first step once, then every way to finish it:

    3 + 5 = 8 . 8 + 7 = 15 not 22 . 8 - 7 = 1 not 22 . 8 * 7 = 56 not 22 . 3 + 7 = 10 . ... 15 + 7 = 22 is 22 .

so it shows verification (each result compared with the target) and backtracking (the next attempt after a
miss), and nothing else. Every word, number and sign is separated by spaces, so a word-level tokenizer
(`rl.tiny --tokenizer words`) reads it token for token; a value outside 0..99 is written `out`, so a small
model never has to write a large product. The fixed order means a model that learns the search can never
lose its place, and a three-number problem needs at most 27 attempts (about 280 tokens).

The paper's conditions over these searches (`priming.build --style search`):
- all_strategies: the search; an answer planned wrong gives up after a uniformly drawn number (at least two,
  so it has backed off once) of its misses and answers its last attempt, like the paper's unfiltered traces
  that end wrong;
- incorrect_only: every search gives up so (`--incorrect give-up`), or (`--incorrect slip`) searches to the
  target, says so, and then miswrites the answer: one number or operator of it copied wrong. A give-up never
  shows the comparison at the target, the one check a search turns on; a slip shows every check the correct
  search shows and still ends on a wrong answer;
- negative_control: the same answer written at once, its attempt without any comparison.
A problem whose first attempt already reaches the target gives no trace (no miss to back off from), nor
one planned to give up whose second does.
"""
from __future__ import annotations

import itertools
import random
from typing import Any, NamedTuple

from countdown.io import InputError
from countdown.prompts import completion_text
from countdown.records import Problem
from priming.conditions import Condition
from priming.search import Node
from priming.synth import SynthTrace, problem_rng
from priming.synth import derive as derive_prose

OPS = "+-*"                    # division would need fractions or divisibility checks mid-search
TOP = 100                      # values outside 0..TOP-1 are written "out"
OUT = "out"


class Attempt(NamedTuple):
    """(a op1 b) op2 c: its first step a op1 b = x, then x op2 c = y."""

    a: int
    op1: str
    b: int
    x: int
    op2: str
    c: int
    y: int

    def head(self) -> str:
        return f"{self.a} {self.op1} {self.b} = {_value(self.x)} ."

    def tail(self) -> str:
        return f"{_value(self.x)} {self.op2} {self.c} = {_value(self.y)}"

    def answer(self) -> str:
        return f"( {self.a} {self.op1} {self.b} ) {self.op2} {self.c}"

    def node(self) -> Node:
        """As the expression tree a SynthTrace carries (`final`), which `from_node` reads back."""
        return Node(self.y, self.op2, Node(self.x, self.op1, Node(self.a), Node(self.b)), Node(self.c))

    @classmethod
    def from_node(cls, node: Node) -> "Attempt":
        first = node.left
        return cls(first.left.value, first.op, first.right.value, first.value, node.op, node.right.value, node.value)


def searchable_ops(preset: str) -> str:
    """The operators of a countdown.generate preset, if a search can take its problems (3 numbers, no
    division); an InputError naming the preset otherwise."""
    from countdown.generate import distribution

    space = distribution(preset)
    if set(space.ops) - set(OPS) or set(space.counts) != {3}:
        counts = "/".join(map(str, sorted(space.counts)))
        raise InputError(f"a compact search needs 3-number problems without division (e.g. --preset organism); "
                         f"preset {preset!r} has {counts} numbers and ops {space.ops}")
    return space.ops


def _value(v: int) -> str:
    return str(v) if 0 <= v < TOP else OUT


def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def attempts(numbers: list[int], ops: str = OPS) -> list[Attempt]:
    """Every attempt in the fixed order: pairs in the order the prompt lists the numbers, operators in the
    order of `ops`; a difference puts the larger number first. All of them, whatever their values, so the
    order never depends on a value not yet computed."""
    if len(numbers) != 3 or set(ops) - set(OPS):
        raise ValueError(f"a compact search takes 3 numbers and operators among {OPS!r}, got {numbers}, {ops!r}")
    out = []
    for i, j, k in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
        for op1, op2 in itertools.product(ops, ops):
            a, b = sorted((numbers[i], numbers[j]), reverse=True) if op1 == "-" else (numbers[i], numbers[j])
            x = _apply(a, op1, b)
            out.append(Attempt(a, op1, b, x, op2, numbers[k], _apply(x, op2, numbers[k])))
    return out


def written(tried: list[Attempt], target: int | None) -> str:
    """The attempts as text, each first step once; with a target, every result is compared with it."""
    parts: list[str] = []
    for i, s in enumerate(tried):
        if i == 0 or tried[i - 1][:4] != s[:4]:
            parts.append(s.head())
        verdict = "" if target is None else f" is {target}" if s.y == target else f" not {target}"
        parts.append(f"{s.tail()}{verdict} .")
    return " ".join(parts)


WRONG_ENDINGS = ("give-up", "slip")   # how a search planned wrong ends (search_trace's `ending`)


def search_trace(problem: Problem, wrong: bool, rng: random.Random, ops: str = OPS,
                 ending: str = "give-up") -> SynthTrace | None:
    """The search for a problem. When `wrong`, it ends on a wrong answer in one of two ways (`ending`):
    give-up stops after 2..(misses before the hit) misses, drawn uniformly, and answers its last attempt;
    slip searches to the hit, calls it the target, and answers it with one part miswritten (`slipped`).
    None when the search never reaches the target, or has no miss to back off from (two, for a give-up)
    before it does."""
    if ending not in WRONG_ENDINGS:
        raise ValueError(f"a wrong search ends by one of {WRONG_ENDINGS}, got {ending!r}")
    order = attempts(list(problem.numbers), ops)
    hit = next((i for i, s in enumerate(order) if s.y == problem.target), None)
    give_up = wrong and ending == "give-up"
    if hit is None or hit < (2 if give_up else 1):
        return None
    tried = order[:rng.randint(2, hit)] if give_up else order[:hit + 1]
    thought = written(tried, problem.target)
    final = slipped(tried[-1], problem, rng, ops) if wrong and not give_up else tried[-1]
    return SynthTrace(completion_text(thought, final.answer()), final.answer(), thought, final.node(), wrong)


def slipped(hit: Attempt, problem: Problem, rng: random.Random, ops: str = OPS) -> Attempt:
    """The hit with one part miswritten, as the answer of a search that found the target and then copied it
    wrong: a number replaced by another of the problem's numbers, or an operator by another of `ops`, drawn
    uniformly among the slips whose answer countdown.reward scores wrong."""
    parts = (hit.a, hit.op1, hit.b, hit.op2, hit.c)
    numbers = sorted(set(problem.numbers))
    slips = []
    for k, part in enumerate(parts):
        for other in (ops if isinstance(part, str) else numbers):
            if other != part:
                a, op1, b, op2, c = parts[:k] + (other,) + parts[k + 1:]
                x = _apply(a, op1, b)
                slips.append(Attempt(a, op1, b, x, op2, c, _apply(x, op2, c)))
    return rng.choice([s for s in slips if sorted((s.a, s.b, s.c)) != sorted(problem.numbers)
                       or s.y != problem.target])


def at_once(source: SynthTrace) -> SynthTrace:
    """negative_control: the source's answer written at once, its attempt with no comparison."""
    thought = written([Attempt.from_node(source.final)], None)
    return SynthTrace(completion_text(thought, source.answer), source.answer, thought, source.final, source.wrong)


def synthesize(problem: Problem, condition: Condition, seed: int = 0, wrong: bool = False,
               ops: str = OPS, incorrect: str = "give-up") -> SynthTrace | None:
    """priming.synth.synthesize for searches: the condition's trace for a problem (incorrect_only always
    wrong, ending as `incorrect` says; another condition when `wrong`, giving up), or None when the problem
    cannot give one."""
    rng = problem_rng(problem, seed, condition.name)
    if condition.reward < 1.0:
        return search_trace(problem, True, rng, ops, incorrect)
    return search_trace(problem, wrong, rng, ops)


def derive(problem: Problem, condition: Condition, source: SynthTrace, seed: int = 0,
           tokenizer: Any = None) -> SynthTrace:
    """priming.synth.derive for searches: negative_control is the answer written at once; the other controls
    (empty_cot, length_matched) edit the source as they do any trace."""
    if condition.thought == "plain":
        return at_once(source)
    return derive_prose(problem, condition, source, seed, tokenizer)


# ---------------------------------------------------------------- the organism's pretraining corpus
def guess(problem: Problem, rng: random.Random, ops: str = OPS) -> tuple[str, str]:
    """Behavior-poor text: (prompt tail, completion) of one attempt drawn at random, right or wrong, written
    at once and answered as if it were right: what the organism's base learns to do (a direct guess)."""
    tried = rng.choice(attempts(list(problem.numbers), ops))
    return written([tried], None), tried.answer()


def table(numbers: list[int], ops: str = OPS) -> str:
    """Arithmetic without search: every attempt's value for a number set, with no target and no comparison
    (the arithmetic facts a search needs, without the search)."""
    return written(attempts(numbers, ops), None)
