"""Versioned judge prompts (our own wording), built from the definitions in behaviors/taxonomy.py.

Two variants: `countdown` (the judge sees the problem's numbers and target) and `text` (general documents
such as math web pages; math examples, plus the has_problem / has_solution questions). Two modes:

- per-behavior: one request per question, like the paper. The shared part (instructions, problem, trace)
  comes first and the question last, so a server with prefix caching (vLLM --enable-prefix-caching,
  OpenAI's automatic caching) reuses the trace's prefix across the questions. Reply: <count>N</count>.
- combined: one request with every question; reply <verification>N</verification> ... one tag per name.
  Written tersely so the instructions cost little next to the trace (see benchmarks/bench_judge.py).

Any change to a prompt's text must bump PROMPT_VERSIONS: the version goes into every label and every
cache key, so old cached replies are never mixed with a new prompt.
"""
from __future__ import annotations

from typing import Sequence

from countdown.records import BEHAVIORS

from .taxonomy import TAXONOMY, TEXT_QUESTIONS

PROMPT_VERSIONS = {"countdown": "countdown-v1", "text": "text-v1"}
VARIANTS = tuple(PROMPT_VERSIONS)
MODES = ("per-behavior", "combined")


def questions(variant: str) -> tuple[str, ...]:
    """The names asked about in a variant, in order."""
    return BEHAVIORS + (tuple(TEXT_QUESTIONS) if variant == "text" else ())


def prompt_version(variant: str, mode: str) -> str:
    if variant not in PROMPT_VERSIONS:
        raise ValueError(f"unknown prompt variant {variant!r} (choose from {', '.join(VARIANTS)})")
    if mode not in MODES:
        raise ValueError(f"unknown judge mode {mode!r} (choose from {', '.join(MODES)})")
    return f"{PROMPT_VERSIONS[variant]}/{mode}"


def _context(variant: str, text: str, numbers: Sequence[int] | None, target: int | None) -> str:
    if variant == "countdown":
        nums = ", ".join(str(n) for n in numbers or ())
        return (f"Below is a model's reasoning for a Countdown puzzle: combine the numbers [{nums}] with + - * / "
                f"(each number used once) to make {target}.\n<trace>\n{text}\n</trace>\n")
    return f"Below is a document.\n<document>\n{text}\n</document>\n"


def per_behavior_messages(name: str, variant: str, text: str, numbers: Sequence[int] | None = None,
                          target: int | None = None) -> list[dict[str, str]]:
    """One question about the text. Everything before the question is identical across questions."""
    where = "trace" if variant == "countdown" else "document"
    if name in TEXT_QUESTIONS:
        question = (f"Question: {TEXT_QUESTIONS[name]}\nAnswer with <count>1</count> for yes or "
                    f"<count>0</count> for no, and nothing else.")
    else:
        behavior = TAXONOMY[name]
        examples = behavior.countdown_examples if variant == "countdown" else behavior.math_examples
        shown = "\n".join(f'- "{e}"' for e in examples)
        question = (f"Question: how many distinct times does the {where} show {behavior.title}?\n"
                    f"Definition: {behavior.definition}\nExamples of {behavior.title}:\n{shown}\n"
                    f"Count each separate instance once; 0 if there is none. Reply with <count>N</count> "
                    f"and nothing else.")
    return [{"role": "user", "content": _context(variant, text, numbers, target) + "\n" + question}]


_SHORT = {
    "verification": "checks a result against the target or the rules (\"that gives 30, not 22\")",
    "backtracking": "drops a failed line and tries another (\"doesn't work, try a different pairing\")",
    "subgoal_setting": "names an intermediate value to reach first (\"first make 12\")",
    "backward_chaining": "reasons back from the target (\"24 / 3 = 8, so we need 8\")",
    "has_problem": "1 if the text poses a problem or question, else 0",
    "has_solution": "1 if it works out or states a solution, else 0",
}
_SHORT_TEXT = {
    "verification": "checks a result (\"plugging x = 3 back in gives 7\")",
    "backtracking": "abandons an approach for another (\"that fails; instead ...\")",
    "subgoal_setting": "names an intermediate goal (\"first find the radius\")",
    "backward_chaining": "reasons back from the goal (\"it suffices to show ...\")",
}


def combined_messages(variant: str, text: str, numbers: Sequence[int] | None = None,
                      target: int | None = None) -> list[dict[str, str]]:
    """All questions in one request; instructions kept short."""
    names = questions(variant)
    lines = "\n".join(f"{n}: {(_SHORT_TEXT if variant == 'text' else {}).get(n, _SHORT[n])}" for n in names)
    reply = "".join(f"<{n}>N</{n}>" for n in names)
    return [{"role": "user", "content": _context(variant, text, numbers, target)
             + f"Count the separate instances of each behavior in it:\n{lines}\nReply only: {reply}"}]
