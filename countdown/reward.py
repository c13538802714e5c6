"""Answer extraction and the safe Countdown reward.

The reward follows the paper's semantics: 1.0 for a correct equation that uses every given number exactly
once, 0.1 for an <answer> that is present but wrong (bad value, misused numbers, or not a plain + - * /
expression), 0.0 when there is no answer at all.

Unlike the reference implementation this never calls `eval`: the answer goes through a small non-recursive
operator-precedence parser over integers, + - * / and parentheses with exact rational arithmetic. Inputs are
capped in length and nesting depth before any work is done, so every call is bounded, whatever the completion
holds (exponent towers, thousands of parentheses, unicode digits, floats, division by zero). It never
raises: a completion that is not text, or a problem whose numbers or target are not integers, scores
`config.none` (the reward runs inside trainers, where an exception would kill the run).
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping, Sequence

MAX_ANSWER_CHARS = 256   # a real 3-4 number answer is < 60 chars; longer is never worth parsing
MAX_DEPTH = 24           # parenthesis nesting allowed in an answer

_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
_ALLOWED = re.compile(r"[0-9+\-*/() \t\n]*")
_TOKEN = re.compile(r"\s*(?:([0-9]+)|(.))")
# Where a chat or base prompt hands over to the response: ChatML (Qwen), Llama-3, the base template.
_ASSISTANT_MARKERS = ("<|im_start|>assistant", "<|start_header_id|>assistant<|end_header_id|>", "Assistant:")


@dataclass(frozen=True)
class RewardConfig:
    correct: float = 1.0
    format: float = 0.1   # answer present but wrong
    none: float = 0.0     # no answer


DEFAULT = RewardConfig()


@dataclass(frozen=True)
class Grade:
    """Why a completion scored what it did."""

    status: str               # correct | wrong_value | wrong_numbers | unparsable | no_answer
    answer: str | None = None
    value: Fraction | None = None

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def extract_answer(completion: str) -> str | None:
    """The text inside the last <answer>...</answer> of the completion, stripped, or None."""
    end = completion.rfind(_ANSWER_CLOSE)
    if end < 0:
        return None
    start = completion.rfind(_ANSWER_OPEN, 0, end)
    if start < 0:
        return None
    return completion[start + len(_ANSWER_OPEN):end].strip()


class _ParseError(Exception):
    pass


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def _apply(values: list, op: str) -> None:
    """Pop two values, push `a op b`. Values are ints while exact, Fractions after an inexact division."""
    b = values.pop()
    a = values.pop()
    if op == "+":
        values.append(a + b)
    elif op == "-":
        values.append(a - b)
    elif op == "*":
        values.append(a * b)
    elif b == 0:
        raise _ParseError("division by zero")
    elif type(a) is int and type(b) is int and a % b == 0:
        values.append(a // b)
    else:
        values.append(Fraction(a) / b)


def _parse(text: str) -> tuple[int | Fraction, list[int]]:
    """Evaluate expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ; factor := INT | '(' expr ')'.

    One left-to-right pass (operator precedence with explicit stacks), so there is no recursion to exhaust
    and the work is linear in the (already length-capped) input. Plain ints are used while the value is
    exact: a Fraction costs microseconds per operation, an int tens of nanoseconds.
    """
    values: list = []
    ops: list[str] = []
    literals: list[int] = []
    depth = 0
    want_operand = True
    for number, token in _TOKEN.findall(text):
        if want_operand:
            if number:
                value = int(number)
                literals.append(value)
                values.append(value)
                want_operand = False
            elif token == "(":
                depth += 1
                if depth > MAX_DEPTH:
                    raise _ParseError("nesting too deep")
                ops.append(token)
            else:   # unary minus, '**', '//', ')' after an operator, ...
                raise _ParseError(f"unexpected {token!r}")
        elif token == ")":
            while ops and ops[-1] != "(":
                _apply(values, ops.pop())
            if not ops:
                raise _ParseError("unbalanced )")
            ops.pop()
            depth -= 1
        elif token in _PRECEDENCE:
            level = _PRECEDENCE[token]
            while ops and ops[-1] != "(" and _PRECEDENCE[ops[-1]] >= level:
                _apply(values, ops.pop())
            ops.append(token)
            want_operand = True
        else:       # a number right after a number or ')' (whitespace-separated digits), or junk
            raise _ParseError(f"unexpected {number or token!r}")
    if want_operand:
        raise _ParseError("unexpected end")
    while ops:
        op = ops.pop()
        if op == "(":
            raise _ParseError("missing )")
        _apply(values, op)
    return values[0], literals


def evaluate(expression: str) -> tuple[Fraction, list[int]]:
    """Exact value of a + - * / expression and the integer literals it uses. Raises ValueError."""
    if len(expression) > MAX_ANSWER_CHARS:
        raise ValueError("expression too long")
    if not _ALLOWED.fullmatch(expression):
        raise ValueError("characters other than digits, + - * / and parentheses")
    try:
        value, literals = _parse(expression)
    except _ParseError as exc:
        raise ValueError(str(exc)) from None
    return Fraction(value), literals


def grade(completion: str, numbers: Sequence[int], target: int) -> Grade:
    """Classify a completion's final answer against the problem."""
    answer = extract_answer(completion)
    if answer is None:
        return Grade("no_answer")
    try:
        value, used = evaluate(answer)
    except ValueError:
        return Grade("unparsable", answer)
    if sorted(used) != sorted(numbers):
        return Grade("wrong_numbers", answer, value)
    if value != target:
        return Grade("wrong_value", answer, value)
    return Grade("correct", answer, value)


def _problem(numbers: Any, target: Any) -> tuple[list[int], int] | None:
    """(numbers, target) as plain ints, or None when they are not integers (None, floats, text, ...)."""
    try:
        return [operator.index(n) for n in numbers], operator.index(target)
    except TypeError:
        return None


def score(completion: str, numbers: Sequence[int], target: int, config: RewardConfig = DEFAULT) -> float:
    """The reward of a completion: config.correct, config.format (answer present but wrong) or config.none.

    Never raises: a completion that is not a str, or numbers / target that are not integers, score
    config.none.
    """
    problem = _problem(numbers, target)
    if not isinstance(completion, str) or problem is None:
        return config.none
    status = grade(completion, *problem).status
    if status == "correct":
        return config.correct
    if status == "no_answer":
        return config.none
    return config.format


def compute_score(data_source: str, solution_str: str, ground_truth: dict[str, Any],
                  extra_info: dict[str, Any] | None = None) -> float:
    """veRL's custom reward signature. `ground_truth` is {"target": int, "numbers": [int, ...]}.

    veRL 0.9 passes the decoded response; older trainers (TinyZero) pass prompt + response, and the
    prompt's own format example must not be graded. So only the text after the earliest assistant marker
    (ChatML, Llama-3 or the base template's `Assistant:`) counts when one is present. Never raises: a
    ground truth without usable `numbers` / `target` scores 0.
    """
    if not isinstance(solution_str, str) or not isinstance(ground_truth, Mapping):
        return DEFAULT.none
    cuts = [(at, marker) for marker in _ASSISTANT_MARKERS if (at := solution_str.find(marker)) >= 0]
    if cuts:
        at, marker = min(cuts)
        solution_str = solution_str[at + len(marker):]
    return score(solution_str, ground_truth.get("numbers"), ground_truth.get("target"))
