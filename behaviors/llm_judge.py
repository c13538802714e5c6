"""The LLM judge: asks an OpenAI-compatible model about each text and turns the replies into labels.

Defaults follow the paper (gpt-4o-mini at OpenAI, four separate questions). Every request goes through
ChatClient with a persistent cache keyed by (judge model, prompt version, question, sha256 of the prompt),
so a re-run makes no requests and a killed run resumes where it stopped. A request that fails for good or a
reply that cannot be read leaves that count null with the reason in BehaviorLabel.errors.
"""
from __future__ import annotations

import asyncio
from typing import Any, Sequence

from countdown.records import BEHAVIORS, BehaviorLabel
from rl.cache import cache_key, text_hash
from rl.client import ChatClient, ChatError

from .interface import Item, Judged
from .parse import parse_combined, parse_count
from .prompts import combined_messages, per_behavior_messages, prompt_version, questions


class LLMJudge:
    """A Judge (behaviors.interface) that asks an OpenAI-compatible model; registered as `llm`."""

    def __init__(self, client: ChatClient | None = None, mode: str = "per-behavior", **client_opts: Any):
        prompt_version("countdown", mode)   # validates the mode
        self.client = client or ChatClient(**client_opts)
        self.mode = mode

    @property
    def name(self) -> str:
        return f"llm:{self.client.model}"

    def _jobs(self, item: Item) -> list[tuple[tuple[str, ...], str, list[dict[str, str]]]]:
        """(question names answered, cache key, messages) for each request an item needs."""
        version = prompt_version(item.variant, self.mode)
        names = questions(item.variant)
        if self.mode == "combined":
            messages = combined_messages(item.variant, item.text, item.numbers, item.target)
            jobs = [(names, "combined", messages)]
        else:
            jobs = [((n,), n, per_behavior_messages(n, item.variant, item.text, item.numbers, item.target))
                    for n in names]
        return [(answered, cache_key(self.client.model, version, question, text_hash(_flat(messages))), messages)
                for answered, question, messages in jobs]

    async def alabel(self, items: Sequence[Item], progress: bool = False) -> list[Judged]:
        plans = [self._jobs(item) for item in items]
        # a reply without readable counts is not cached: the next run asks again instead of reusing it
        flat = [(key, messages, lambda text, names=answered: self._readable(text, names))
                for plan in plans for answered, key, messages in plan]
        replies = iter(await self.client.complete_many(flat, progress=progress, desc="judge requests"))
        return [self._assemble(item, [(answered, next(replies)) for answered, _, _ in plan])
                for item, plan in zip(items, plans)]

    def label(self, items: Sequence[Item], progress: bool = False) -> list[Judged]:
        return asyncio.run(self.alabel(items, progress=progress))

    def _readable(self, reply: str, names: tuple[str, ...]) -> bool:
        parsed = {names[0]: parse_count(reply)} if len(names) == 1 and self.mode == "per-behavior" else \
            parse_combined(reply, names)
        return all(value is not None for value, _ in parsed.values())

    def _assemble(self, item: Item, answers: list[tuple[tuple[str, ...], str | ChatError]]) -> Judged:
        counts: dict[str, int | None] = {}
        errors: dict[str, str] = {}
        for names, reply in answers:
            if isinstance(reply, ChatError):
                parsed = {n: (None, f"request failed: {reply}") for n in names}
            elif len(names) == 1 and self.mode == "per-behavior":
                parsed = {names[0]: parse_count(reply)}
            else:
                parsed = parse_combined(reply, names)
            for name, (value, reason) in parsed.items():
                counts[name] = value
                if reason:
                    errors[name] = reason
        label = BehaviorLabel(item.trace_id, *(counts.get(b) for b in BEHAVIORS), judge=self.name,
                              prompt_version=prompt_version(item.variant, self.mode), errors=errors)
        extras = {k: v for k, v in counts.items() if k not in BEHAVIORS}
        return Judged(label, extras)


def _flat(messages: Sequence[dict[str, str]]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)
