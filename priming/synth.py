"""Programmatic priming traces: natural-language Countdown searches that show exactly the chosen behaviors.

A trace is assembled from a real search over the problem (priming.search): failed forward paths and failed
backward decompositions become the dead ends that a backtracking trace abandons, the solution tree gives the
subgoal (an intermediate value related to the target) and the backward chain (inverse operations from the
target down to the given numbers). Each behavior has several phrasings, chosen by a per-problem seeded RNG,
so a set built twice with the same seed is identical and a model cannot just memorise one sentence.

Behaviors left out of a condition are kept out on purpose: without verification a failed attempt is
abandoned before its result is compared with anything; without backtracking the trace is one straight line.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from countdown.prompts import THINK_CLOSE, completion_text
from countdown.records import Problem
from priming.conditions import BT, BWD, SUB, VER, Condition
from priming.search import (Node, failed_paths, find_solution, iter_last_steps, near_miss, random_path,
                            reachable, without)

# ---------------------------------------------------------------- phrasing pools (our own wording)
INTRO = [
    "We have the numbers {nums} and the target {t}.",
    "The numbers are {nums}, and the equation should come out to {t}.",
    "Numbers available: {nums}. Target: {t}.",
    "I have {nums} to work with and want {t}.",
]
FORWARD_START = [
    "Let me try starting with {step}.",
    "Suppose I begin with {step}.",
    "One option: {step}.",
    "How about {step} first?",
]
FORWARD_NEXT = ["Then {step}.", "Next, {step}.", "After that, {step}.", "And {step}."]
FORWARD_BEGIN = ["First, {step}.", "Start with {step}.", "{step}."]
# verification of a failed result against the target (only when verification is wanted)
MISS = [
    "Checking this against the target: {v} is not {t}.",
    "That gives {v}, but the target is {t}, so this does not match.",
    "Let me verify: {v} vs {t}. They are not equal.",
    "Check: {v} is not equal to {t}.",
]
# abandoning a path without comparing it with anything (conditions without verification)
STUCK = [
    "I'm not sure where to go from here.",
    "Hmm, I don't see a clean way to continue from this point.",
    "This path is getting complicated.",
    "I don't like where this is heading.",
]
BACKTRACK = [
    "Let me go back and try a different combination.",
    "Let me backtrack and start over with another pair.",
    "I'll abandon this path and go back to the original numbers.",
    "Scrap that; let me go back to the start and try something else.",
    "Let me backtrack and try a different approach.",
]
BACKWARD_OPEN = [
    "Let me work backwards from the target {t}.",
    "Working backwards from {t}:",
    "Let me reason backward, starting from the target {t}.",
]
# inverse-operation sentences: {v} = result, {x} = the part still to be made, {n} = the known number
BACKWARD_STEP = {
    ("+", "X op n"): "{v} = {x} + {n}, so working backward the numbers {rest} must give {v} - {n} = {x}.",
    ("-", "X op n"): "{v} = {x} - {n}, so working backward the numbers {rest} must give {v} + {n} = {x}.",
    ("-", "n op X"): "{v} = {n} - {x}, so working backward the numbers {rest} must give {n} - {v} = {x}.",
    ("*", "X op n"): "{v} = {x} * {n}, so working backward the numbers {rest} must give {v} / {n} = {x}.",
    ("/", "X op n"): "{v} = {x} / {n}, so working backward the numbers {rest} must give {v} * {n} = {x}.",
    ("/", "n op X"): "{v} = {n} / {x}, so working backward the numbers {rest} must give {n} / {v} = {x}.",
}
BACKWARD_SPLIT = ("{v} = {a} {op} {b}, so working backward I need {a} from {ra} and {b} from {rb}.")
BACKWARD_LEAVES = "{v} = {a} {op} {b}, which uses {a} and {b} directly."
BACKWARD_FAIL_VER = [
    "Checking: {rest} cannot make {x} with any combination, so this last step is not possible.",
    "But I check the options and {rest} never give {x}, so that fails.",
]
BACKWARD_FAIL = [
    "I can't see a way to get {x} out of {rest}.",
    "I don't find a way to get {x} out of {rest}.",
]
FORWARD_AFTER_BACKWARD = ["Now computing forward:", "Putting it together forward:", "So, going forward:"]
RELATION = {
    "factor": "{g} is a factor of {t}",
    "multiple": "{g} is a multiple of {t}",
    "near": "{g} and {t} differ by only {d}",
    "step": "{g} is a convenient stepping stone toward {t}",
}
SUBGOAL_SET = [
    "Let me set a subgoal: first reach {g}, because {rel}.",
    "Subgoal: make {g} first, since {rel}.",
    "An intermediate goal would be {g}, because {rel}. Let me aim for that first.",
    "I'll break this into parts: my first subgoal is {g}, as {rel}.",
]
SUBGOAL_DONE = ["That reaches the subgoal {g}.", "Subgoal {g} reached.", "Good, that gives the intermediate goal {g}."]
SUBGOAL_FAIL = ["I don't see how to reach the subgoal {g} from here.", "This doesn't get me to the subgoal {g}."]
CONFIRM = [
    "Let me verify: {v} equals the target {t}, and each of {nums} is used exactly once.",
    "Checking the result: {v} = {t}, which matches the target. All numbers were used once.",
    "Verification: the value is {v}, the same as the target {t}, using each number exactly once.",
]
CLOSING = ["So the equation is {expr}.", "The expression is {expr}.", "That gives the equation {expr}."]


def _nums(numbers: Sequence[int]) -> str:
    numbers = [str(n) for n in numbers]
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]


@dataclass
class SynthTrace:
    completion: str
    answer: str
    thought: str
    final: Node | None = None   # the answer's expression tree (controls derived from this trace reuse it)
    wrong: bool = False         # the answer misses the target (the trace itself never says so)


class _Writer:
    """Writes one trace; `wanted` is the set of behaviors the trace must show (all others it must not)."""

    def __init__(self, problem: Problem, wanted: frozenset[str], rng: random.Random):
        self.numbers, self.target = list(problem.numbers), problem.target
        self.wanted, self.rng = wanted, rng
        self.lines: list[str] = []

    def say(self, pool: Sequence[str] | str, **kw: Any) -> None:
        text = pool if isinstance(pool, str) else self.rng.choice(pool)
        self.lines.append(text.format(t=self.target, **kw))

    def finish(self, final: Node, wrong: bool) -> SynthTrace:
        expr = final.expr()
        self.say(CLOSING, expr=expr)
        thought = _join(self.lines)
        return SynthTrace(completion_text(thought, expr), expr, thought, final, wrong)

    # ------------------------------------------------------------ dead ends
    def forward_attempt(self, path: list[Node]) -> None:
        if VER not in self.wanted:  # abandon before any result could be compared with the target
            path = path[:max(1, len(path) - 1)]
        self.say(FORWARD_START, step=path[0].step_text())
        for node in path[1:]:
            self.say(FORWARD_NEXT, step=node.step_text())
        if VER in self.wanted:
            self.say(MISS, v=path[-1].value)
        else:
            self.say(STUCK)
        self.say(BACKTRACK)

    def backward_attempt(self) -> bool:
        """A last step whose remaining numbers cannot make the needed value; False if none exists."""
        options = []
        for n, op, x, form in iter_last_steps(self.target, self.numbers):
            rest = without(self.numbers, [n])
            if 0 < x != self.target and x not in reachable(tuple(sorted(rest))):
                options.append((n, op, x, form, rest))
        if not options:
            return False
        n, op, x, form, rest = self.rng.choice(options)
        self.say(BACKWARD_OPEN)
        self.say(BACKWARD_STEP[(op, form)], v=self.target, x=x, n=n, rest=_nums(rest))
        self.say(BACKWARD_FAIL_VER if VER in self.wanted else BACKWARD_FAIL, x=x, rest=_nums(rest))
        self.say(BACKTRACK)
        return True

    def subgoal_attempt(self, solution_values: set[int]) -> bool:
        goals = [(g, "factor") for g in range(2, self.target) if self.target % g == 0]
        goals += [(self.target * 2, "multiple")] + [(self.target + d, "near") for d in (-2, -1, 1, 2)]
        goals = [(g, r) for g, r in goals if g > 1 and g not in solution_values]
        if not goals:
            return False
        g, rel = self.rng.choice(goals)
        path = random_path(self.numbers, self.rng, depth=len(self.numbers) - 2)
        if any(node.value in (g, self.target) for node in path):
            return False
        self.say(SUBGOAL_SET, g=g, rel=RELATION[rel].format(g=g, t=self.target, d=abs(g - self.target)))
        self.say(FORWARD_START, step=path[0].step_text())
        for node in path[1:]:
            self.say(FORWARD_NEXT, step=node.step_text())
        self.say(SUBGOAL_FAIL, g=g)
        self.say(BACKTRACK)
        return True

    # ------------------------------------------------------------ the final line of work
    def backward_chain(self, root: Node) -> None:
        self.say(BACKWARD_OPEN)

        def explain(node: Node) -> None:
            left, right = node.left, node.right
            if left.is_leaf and right.is_leaf:
                self.say(BACKWARD_LEAVES, v=node.value, a=left.value, op=node.op, b=right.value)
            elif left.is_leaf or right.is_leaf:
                known, part = (left, right) if left.is_leaf else (right, left)
                form = "n op X" if left.is_leaf else "X op n"
                if (node.op, form) not in BACKWARD_STEP:  # n + X / n * X read as X + n / X * n
                    form = "X op n"
                self.say(BACKWARD_STEP[(node.op, form)], v=node.value, x=part.value, n=known.value,
                         rest=_nums(part.leaves()))
                explain(part)
            else:
                self.say(BACKWARD_SPLIT, v=node.value, a=left.value, op=node.op, b=right.value,
                         ra=_nums(left.leaves()), rb=_nums(right.leaves()))
                explain(left)
                explain(right)

        explain(root)

    def subgoal_of(self, root: Node) -> tuple[Node, str] | None:
        """The intermediate value worth naming: the larger part of the last step, with its relation."""
        parts = [p for p in (root.left, root.right) if not p.is_leaf]
        if not parts:
            return None
        part = max(parts, key=lambda p: len(p.leaves()))
        if part.value == self.target:
            return None
        if root.op == "*":
            rel = "factor"
        elif root.op == "/" and part is root.left:
            rel = "multiple"
        elif abs(part.value - self.target) <= max(5, self.target // 2):
            rel = "near"
        else:
            rel = "step"
        return part, rel

    def forward_solution(self, root: Node, subgoal: Node | None, slip: bool = False) -> None:
        """The answer's steps in order; with `slip` the last step's result is miswritten as the target, the
        arithmetic error a model makes when it believes it has found the answer."""
        steps = root.steps()
        for i, node in enumerate(steps):
            step = node.step_text()
            if slip and node is root:
                step = f"{node.left.value} {node.op} {node.right.value} = {self.target}"
            self.say(FORWARD_BEGIN if i == 0 else FORWARD_NEXT, step=step)
            if subgoal is not None and node is subgoal:
                self.say(SUBGOAL_DONE, g=node.value)


def write_trace(problem: Problem, wanted: frozenset[str], rng: random.Random,
                wrong: bool = False) -> SynthTrace | None:
    """The trace for a problem showing exactly `wanted`; None when this problem cannot give one
    (no integer-step solution, or no dead end of the needed kind). A `wrong` trace ends on a near miss whose
    last step is miswritten as the target and, with verification, confirmed as confidently as a right answer:
    nothing in it admits the answer is wrong, so it teaches the behaviors and not a different way to close."""
    w = _Writer(problem, wanted, rng)
    solution = find_solution(w.numbers, w.target, rng)
    if solution is None:
        return None
    final = near_miss(w.numbers, w.target, rng) if wrong else solution
    if final is None:
        return None
    w.say(INTRO, nums=_nums(w.numbers))

    if BT in wanted:
        kinds = ["forward"] * rng.choice([1, 1, 2, 2, 3])
        if BWD in wanted and (wrong or rng.random() < 0.5):
            kinds[0] = "backward"   # a wrong-answer trace can only show backward chaining as a dead end
        if SUB in wanted and rng.random() < 0.4:
            kinds.append("subgoal")
        rng.shuffle(kinds)
        paths = failed_paths(w.numbers, w.target, rng, kinds.count("forward") + 1,
                             avoid_first={solution.steps()[0].step_text()})
        solution_values = {n.value for n in solution.steps()}
        done = 0
        for kind in kinds:
            if kind == "backward":
                ok = w.backward_attempt()
                if not ok and wrong:
                    return None
            elif kind == "subgoal":
                ok = w.subgoal_attempt(solution_values)
            else:
                ok = bool(paths)
                if ok:
                    w.forward_attempt(paths.pop(0))
            done += ok
        if not done:
            return None

    subgoal = None
    if SUB in wanted:
        found = w.subgoal_of(final)
        if found is None:
            return None
        subgoal, rel = found
    if BWD in wanted and not wrong:
        w.backward_chain(final)
        w.say(FORWARD_AFTER_BACKWARD)
    if subgoal is not None:
        w.say(SUBGOAL_SET, g=subgoal.value, rel=RELATION[rel].format(g=subgoal.value, t=w.target, d=abs(subgoal.value - w.target)))
    w.forward_solution(final, subgoal, slip=wrong)
    if VER in wanted:
        w.say(CONFIRM, v=w.target, nums=_nums(w.numbers))
    return w.finish(final, wrong)


def plain_trace(problem: Problem, source: SynthTrace, rng: random.Random) -> SynthTrace:
    """The same answer as `source`, reached in one straight forward line with no behavior: the negative
    control derived from an all_strategies trace (a wrong answer keeps its slipped last step)."""
    w = _Writer(problem, frozenset(), rng)
    w.say(INTRO, nums=_nums(w.numbers))
    w.forward_solution(source.final, None, slip=source.wrong)
    return w.finish(source.final, source.wrong)


def _join(lines: list[str]) -> str:
    """Sentences into short paragraphs: a new paragraph after every backtrack, like a person thinking."""
    out, para = [], []
    for line in lines:
        para.append(line)
        if line in BACKTRACK:
            out.append(" ".join(para))
            para = []
    if para:
        out.append(" ".join(para))
    return "\n".join(out)


def problem_rng(problem: Problem, seed: int, condition: str) -> random.Random:
    """Independent of build order: the same problem, seed and condition always give the same trace."""
    return random.Random(f"{seed}|{condition}|{sorted(problem.numbers)}|{problem.target}")


def synthesize(problem: Problem, condition: Condition, seed: int = 0, wrong: bool = False) -> SynthTrace | None:
    """One search trace for a condition (None if the problem cannot give one); incorrect_only is always
    wrong, any other condition when `wrong` (the build's correctness mix). Controls whose thought is not a
    search are derived from their source condition's trace (`derive`)."""
    rng = problem_rng(problem, seed, condition.name)
    return write_trace(problem, condition.requires, rng, wrong=wrong or condition.reward < 1.0)


def derive(problem: Problem, condition: Condition, source: SynthTrace, seed: int = 0,
           tokenizer: Any = None) -> SynthTrace:
    """A control from its source trace, same answer: an empty thought (empty_cot), a plain forward line
    (negative_control), or dots of the source's token length (length_matched; ValueError if none fits)."""
    if condition.thought == "empty":
        return SynthTrace(completion_text("", source.answer), source.answer, "", source.final, source.wrong)
    if condition.thought == "plain":
        return plain_trace(problem, source, problem_rng(problem, seed, condition.name))
    if condition.thought == "filler":
        from priming.filler import length_matched

        completion = length_matched(source.completion, source.answer, tokenizer)
        return SynthTrace(completion, source.answer, completion.split(THINK_CLOSE)[0], source.final, source.wrong)
    raise ValueError(f"{condition.name}: a {condition.thought!r} thought is not derived")
