"""A small explicit Countdown search over pairwise combinations, kept readable for trace writing.

The synthesizer needs more than one answer: it needs the dead ends a searcher would hit on the way, and the
shape of the solution (which intermediate values it passes through). So this search works on expression
trees and reports complete paths, failed or not. Intermediate values stay positive integers so every step
reads naturally ("35 - 3 = 32"); problems solvable only through fractions are left to other sources.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Sequence

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True)
class Node:
    """A value with the expression that made it; a leaf is one of the given numbers."""

    value: int
    op: str | None = None
    left: "Node | None" = None
    right: "Node | None" = None

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def leaves(self) -> list[int]:
        if self.is_leaf:
            return [self.value]
        return self.left.leaves() + self.right.leaves()

    def expr(self) -> str:
        """The expression with only the parentheses precedence needs."""
        if self.is_leaf:
            return str(self.value)
        prec = _PREC[self.op]
        left = self.left.expr()
        if not self.left.is_leaf and _PREC[self.left.op] < prec:
            left = f"({left})"
        right = self.right.expr()
        # a right operand needs brackets at lower precedence, or at equal precedence under - and /
        if not self.right.is_leaf and (_PREC[self.right.op] < prec
                                       or (_PREC[self.right.op] == prec and self.op in "-/")):
            right = f"({right})"
        return f"{left} {self.op} {right}"

    def step_text(self) -> str:
        """This node's own step, e.g. '35 - 3 = 32'."""
        return f"{self.left.value} {self.op} {self.right.value} = {self.value}"

    def steps(self) -> list["Node"]:
        """The inner nodes in an order a person would compute them (children first)."""
        if self.is_leaf:
            return []
        return self.left.steps() + self.right.steps() + [self]


def combine(a: Node, b: Node) -> list[Node]:
    """Every positive-integer result of one operation on a and b, larger operand written first."""
    hi, lo = (a, b) if a.value >= b.value else (b, a)
    out = [Node(hi.value + lo.value, "+", hi, lo), Node(hi.value * lo.value, "*", hi, lo)]
    if hi.value > lo.value:
        out.append(Node(hi.value - lo.value, "-", hi, lo))
    if lo.value > 1 and hi.value % lo.value == 0:
        out.append(Node(hi.value // lo.value, "/", hi, lo))
    return out


def _moves(nodes: Sequence[Node], rng: random.Random | None) -> list[tuple[list[Node], Node]]:
    """All (remaining nodes, new node) pairs one combination away, in random order when rng is given."""
    moves = []
    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            rest = [n for k, n in enumerate(nodes) if k not in (i, j)]
            for made in combine(nodes[i], nodes[j]):
                moves.append((rest, made))
    if rng is not None:
        rng.shuffle(moves)
    return moves


def find_solution(numbers: Sequence[int], target: int, rng: random.Random | None = None) -> Node | None:
    """Depth-first search for one tree using every number that equals target (random branch order).

    Solutions that pass through the target before the last step ("23 * 1 = 23") or whose last step has the
    target as an operand ("28 - 14 = 14") are avoided when another exists: such a step reads as a check
    or as working back from the target."""
    def dfs(nodes: list[Node], strict: bool) -> Node | None:
        if len(nodes) == 1:
            return nodes[0] if nodes[0].value == target else None
        for rest, made in _moves(nodes, rng):
            if strict and made.value == target and (rest or target in (made.left.value, made.right.value)):
                continue
            found = dfs(rest + [made], strict)
            if found is not None:
                return found
        return None

    start = [Node(n) for n in numbers]
    return dfs(start, True) or dfs(start, False)


def random_path(numbers: Sequence[int], rng: random.Random, depth: int | None = None) -> list[Node]:
    """A random forward walk: the nodes made, one per combination, stopping after `depth` steps."""
    nodes = [Node(n) for n in numbers]
    made_list: list[Node] = []
    steps = len(numbers) - 1 if depth is None else min(depth, len(numbers) - 1)
    for _ in range(steps):
        rest, made = rng.choice(_moves(nodes, None))
        nodes = rest + [made]
        made_list.append(made)
    return made_list


def failed_paths(numbers: Sequence[int], target: int, rng: random.Random, count: int,
                 avoid_first: set[str] = frozenset(), tries: int = 60) -> list[list[Node]]:
    """Up to `count` complete forward paths that never touch the target, with distinct first steps."""
    found: list[list[Node]] = []
    firsts = set(avoid_first)
    for _ in range(tries):
        path = random_path(numbers, rng)
        first = path[0].step_text()
        if all(node.value != target for node in path) and first not in firsts:
            firsts.add(first)
            found.append(path)
            if len(found) == count:
                break
    return found


def near_miss(numbers: Sequence[int], target: int, rng: random.Random, tries: int = 200) -> Node | None:
    """A complete tree whose value is as close to the target as random walks find, but not equal."""
    best: Node | None = None
    for _ in range(tries):
        final = random_path(numbers, rng)[-1]
        if final.value != target and (best is None or abs(final.value - target) < abs(best.value - target)):
            best = final
    return best


@lru_cache(maxsize=4096)
def reachable(numbers: tuple[int, ...]) -> frozenset[int]:
    """Every positive integer the numbers make together (all of them used, integer steps only)."""
    if len(numbers) == 1:
        return frozenset(numbers)
    values: set[int] = set()
    nodes = [Node(n) for n in numbers]

    def dfs(nodes: list[Node]) -> None:
        if len(nodes) == 1:
            values.add(nodes[0].value)
            return
        for rest, made in _moves(nodes, None):
            dfs(rest + [made])

    dfs(nodes)
    return frozenset(values)


def without(numbers: Sequence[int], used: Sequence[int]) -> list[int]:
    """numbers minus the multiset `used`."""
    rest = list(numbers)
    for n in used:
        rest.remove(n)
    return rest


def iter_last_steps(target: int, numbers: Sequence[int]) -> Iterator[tuple[int, str, int, str]]:
    """Ways the last step could bring one given number n onto a value X to give the target:
    yields (n, op, X, form) with form 'X op n' or 'n op X', X a positive integer."""
    for n in sorted(set(numbers), reverse=True):
        yield n, "+", target - n, "X op n"
        yield n, "-", target + n, "X op n"
        yield n, "-", n - target, "n op X"
        yield n, "*", target // n if n > 1 and target % n == 0 else 0, "X op n"
        yield n, "/", target * n, "X op n"
        yield n, "/", n // target if target > 0 and n % target == 0 else 0, "n op X"
