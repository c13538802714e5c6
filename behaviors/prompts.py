"""Versioned judge prompts (our own wording), built from the definitions in behaviors/taxonomy.py.

Two variants: `countdown` (the judge sees the problem's numbers and target) and `text` (general documents
such as math web pages; math examples, plus the has_problem / has_solution questions). Two protocols:

- paper (the default, the paper's design): one request per question. The judge reads the definition, one or
  two examples and, for Countdown, a worked example with its instances marked; it may reason first (listing
  the instances it finds) and ends its reply with <count>N</count>; the last tag counts. The shared part
  (instructions, problem, trace) comes first and the question last, so a server with prefix caching (vLLM
  --enable-prefix-caching, OpenAI's automatic caching) reuses the trace's prefix across the questions.
- combined (the cheap option): one request with every question and no room to reason; reply
  <verification>N</verification> ... one tag per name. Written tersely so the instructions cost little next
  to the trace (see benchmarks/bench_judge.py).

Any change to a prompt's text must bump PROMPT_VERSIONS: the version goes into every label and every
cache key, so old cached replies are never mixed with a new prompt.
"""
from __future__ import annotations

from typing import Sequence

from countdown.records import BEHAVIORS

from .taxonomy import TAXONOMY, TEXT_QUESTIONS

PROMPT_VERSIONS = {"countdown": "countdown-v3", "text": "text-v3"}   # bump on any wording change
VARIANTS = tuple(PROMPT_VERSIONS)
PROTOCOLS = ("paper", "combined")


def questions(variant: str) -> tuple[str, ...]:
    """The names asked about in a variant, in order."""
    return BEHAVIORS + (tuple(TEXT_QUESTIONS) if variant == "text" else ())


def prompt_version(variant: str, protocol: str) -> str:
    """What a label records as its prompt version: `<variant>-vN/<protocol>`, e.g. countdown-v3/paper."""
    if variant not in PROMPT_VERSIONS:
        raise ValueError(f"unknown prompt variant {variant!r} (choose from {', '.join(VARIANTS)})")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown judge protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")
    return f"{PROMPT_VERSIONS[variant]}/{protocol}"


def _context(variant: str, text: str, numbers: Sequence[int] | None, target: int | None) -> str:
    if variant == "countdown":
        nums = ", ".join(str(n) for n in numbers or ())
        return f"Reasoning for: make {target} from [{nums}] with + - * /, each once.\n<trace>\n{text}\n</trace>\n"
    return f"<document>\n{text}\n</document>\n"


def per_behavior_messages(name: str, variant: str, text: str, numbers: Sequence[int] | None = None,
                          target: int | None = None) -> list[dict[str, str]]:
    """The paper protocol's question about one behavior (or a text question). Everything before the
    question is identical across questions; the judge may reason before its final <count>N</count>."""
    where = "trace" if variant == "countdown" else "document"
    if name in TEXT_QUESTIONS:
        question = (f"Question: {TEXT_QUESTIONS[name]}\nThink it over in a sentence or two, then end your reply "
                    f"with <count>1</count> for yes or <count>0</count> for no.")
    else:
        behavior = TAXONOMY[name]
        examples = behavior.countdown_examples if variant == "countdown" else behavior.math_examples
        shown = "\n".join(f'- "{e}"' for e in examples)
        worked = (f"Worked example (instances marked [1], [2], ...; the count follows ->): {behavior.worked_example}\n"
                  if variant == "countdown" and behavior.worked_example else "")
        question = (f"Question: how many distinct times does the {where} show {behavior.title}?\n"
                    f"Definition: {behavior.definition}\nExamples of {behavior.title}:\n{shown}\n{worked}"
                    f"Go through the {where} from start to end and list each instance you find, quoting a few words "
                    f"of it; count each separate instance once. Then end your reply with the total as "
                    f"<count>N</count> (<count>0</count> if there is none).")
    return [{"role": "user", "content": _context(variant, text, numbers, target) + "\n" + question}]


_SHORT = {   # one phrase per question in the combined prompt, kept terse: it is paid for on every trace
    "verification": "checking a result, even just 'too high'",
    "backtracking": "switching to a fresh attempt",
    "subgoal_setting": "naming an intermediate value to reach",
    "backward_chaining": "working back from the target",
    "has_problem": "1 if it poses a problem, else 0",
    "has_solution": "1 if it gives a solution, else 0",
}
_SHORT_TEXT = {
    "verification": "checking a result",
    "backtracking": "abandoning an approach for another",
    "subgoal_setting": "naming an intermediate goal",
    "backward_chaining": "working back from the goal",
}


def combined_messages(variant: str, text: str, numbers: Sequence[int] | None = None,
                      target: int | None = None) -> list[dict[str, str]]:
    """All questions in one request; instructions kept short."""
    names = questions(variant)
    short = {**_SHORT, **_SHORT_TEXT} if variant == "text" else _SHORT
    lines = ", ".join(f"{n} ({short[n]})" for n in names)
    return [{"role": "user", "content": _context(variant, text, numbers, target)
             + f"Count instances of {lines}. Reply only <name>N</name> for each."}]
