"""Prompt templates, selectable by name, and the completion format every trace follows.

- `base`: the TinyZero-style User/Assistant preamble for base models, ending inside `<think>` so the model
  continues its reasoning directly.
- `chat`: the same request rendered through the tokenizer's own chat template (instruct models), with the
  assistant turn opened by the same "Let me solve this step by step." + `<think>` prefix.
- `compact`: only the numbers and the target, then `<think>` (`Numbers: 3 5 7. Target: 22.`), for models
  trained here from scratch (the CPU model organism): they follow no instruction, and every prompt token costs
  compute in each training step.

A completion continues the prompt inside `<think>`: the thought, `</think>`, then the final equation in
`<answer> </answer>`. `completion_text` is the one place that format is written (priming traces, the base
model's direct answers, LLM replies turned into traces); countdown.reward reads the same tags (it keeps its
own copy of them: the veRL export ships it as a standalone file).
"""
from __future__ import annotations

from typing import Any, Sequence

TEMPLATES = ("base", "chat", "compact")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
ASSISTANT_PREFIX = "Let me solve this step by step.\n<think>"

_SYSTEM = ("A conversation between User and Assistant. The User poses a problem; the Assistant first thinks "
           "it through, then gives the answer.")


def task_text(numbers: Sequence[int], target: int) -> str:
    """The instruction shared by every template (our own wording of the TinyZero task statement)."""
    nums = ", ".join(str(n) for n in numbers)
    return (f"Using the numbers [{nums}], write an equation that equals {target}. You may use + - * / and "
            "parentheses, and each number must be used exactly once. Think it through inside <think> </think> "
            "tags, then give only the final equation inside <answer> </answer> tags, for example "
            "<answer> (1 + 2) / 3 </answer>.")


def chat_messages(numbers: Sequence[int], target: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": task_text(numbers, target)}]


def base_prompt(numbers: Sequence[int], target: int) -> str:
    return f"{_SYSTEM}\nUser: {task_text(numbers, target)}\nAssistant: {ASSISTANT_PREFIX}"


def compact_prompt(numbers: Sequence[int], target: int) -> str:
    return f"Numbers: {' '.join(str(n) for n in numbers)}. Target: {target}.\n{THINK_OPEN}"


def render_prompt(numbers: Sequence[int], target: int, template: str = "base", tokenizer: Any = None) -> str:
    """The prompt text for a problem under the named template."""
    if template == "base":
        return base_prompt(numbers, target)
    if template == "compact":
        return compact_prompt(numbers, target)
    if template == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("the 'chat' template needs a tokenizer with a chat template (use 'base' otherwise)")
        text = tokenizer.apply_chat_template(chat_messages(numbers, target), tokenize=False,
                                             add_generation_prompt=True)
        return text + ASSISTANT_PREFIX
    raise ValueError(f"unknown prompt template {template!r} (choose from {', '.join(TEMPLATES)})")


def completion_text(thought: str, answer: str) -> str:
    """What follows the prompt's opening <think>: the thought (may be empty), </think>, the answer."""
    body = f"\n{thought}\n" if thought else "\n"
    return f"{body}{THINK_CLOSE}\n{ANSWER_OPEN} {answer} {ANSWER_CLOSE}"
