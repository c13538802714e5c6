"""Length-matched filler: replace a trace's thought by dots so the completion has the same token count.

The length_matched control asks whether a primed model gains from the behaviors or merely from writing
longer outputs; so the filler must match the original completion token for token under the model's own
tokenizer, not by characters. Dots merge differently in every BPE vocabulary, hence a small search.
"""
from __future__ import annotations

from typing import Any

from countdown.prompts import completion_text

_PADS = ("", ".", " .", "..", "\n", "\n.", "...", " ..", "\n\n")


def token_count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def dots(k: int, pad: str = "") -> str:
    return " ".join(["."] * k) + pad


def length_matched(completion: str, answer: str, tokenizer: Any) -> str:
    """A completion with the same answer whose thought is dots and whose token count equals
    `completion`'s. Raises ValueError if no dot string matches exactly (never seen in practice)."""
    goal = token_count(tokenizer, completion)

    def count(k: int, pad: str = "") -> int:
        return token_count(tokenizer, completion_text(dots(k, pad), answer))

    lo, hi = 1, max(goal, 2)
    while hi < 1_000_000 and count(hi) < goal:  # tokenizers that pack several dots into one token
        hi *= 2
    while lo < hi:  # smallest k whose count reaches the goal
        mid = (lo + hi) // 2
        if count(mid) < goal:
            lo = mid + 1
        else:
            hi = mid
    for k in (lo, lo - 1, lo - 2, lo + 1):
        if k < 1:
            continue
        for pad in _PADS:
            if count(k, pad) == goal:
                return completion_text(dots(k, pad), answer)
    raise ValueError(f"no dot filler of exactly {goal} tokens")
