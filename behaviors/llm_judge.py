"""The LLM judge: asks an OpenAI-compatible model about each text and turns the replies into labels.

Defaults follow the paper (gpt-4o-mini at OpenAI, the `paper` protocol: four separate questions, each
answered with reasoning and a final <count>N</count>, whose last tag counts). Every request goes through
ChatClient with a persistent cache keyed by (judge model, prompt version, sampling parameters, question,
sha256 of the prompt), so a re-run makes no requests and a killed run resumes where it stopped. A request
that fails for good or a reply that cannot be read leaves that count null with the reason in
BehaviorLabel.errors.
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

    def __init__(self, client: ChatClient | None = None, protocol: str = "paper", **client_opts: Any):
        prompt_version("countdown", protocol)   # validates the protocol
        self.client = client or ChatClient(**client_opts)
        self.protocol = protocol
        # a reply depends on the sampling parameters too: a new temperature must not reuse cached replies
        self._params = ",".join(f"{k}={v}" for k, v in sorted(self.client.default_params.items()))

    @property
    def name(self) -> str:
        return f"llm:{self.client.model}"

    def _jobs(self, item: Item) -> list[tuple[tuple[str, ...], str, list[dict[str, str]]]]:
        """(question names answered, cache key, messages) for each request an item needs."""
        version = prompt_version(item.variant, self.protocol)
        names = questions(item.variant)
        if self.protocol == "combined":
            messages = combined_messages(item.variant, item.text, item.numbers, item.target)
            jobs = [(names, "combined", messages)]
        else:
            jobs = [((n,), n, per_behavior_messages(n, item.variant, item.text, item.numbers, item.target))
                    for n in names]
        model = self.client.model
        return [(answered, cache_key(model, version, self._params, question, text_hash(_flat(messages))), messages)
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

    def _parse(self, reply: str, names: tuple[str, ...]) -> dict[str, tuple[int | None, str | None]]:
        """name -> (count or None, reason it could not be read) for one reply."""
        if self.protocol == "paper":
            return {names[0]: parse_count(reply)}   # reasoning first; the last <count> tag counts
        return parse_combined(reply, names)

    def _readable(self, reply: str, names: tuple[str, ...]) -> bool:
        return all(value is not None for value, _ in self._parse(reply, names).values())

    def _assemble(self, item: Item, answers: list[tuple[tuple[str, ...], str | ChatError]]) -> Judged:
        counts: dict[str, int | None] = {}
        errors: dict[str, str] = {}
        for names, reply in answers:
            if isinstance(reply, ChatError):
                parsed = {n: (None, f"request failed: {reply}") for n in names}
            else:
                parsed = self._parse(reply, names)
            for name, (value, reason) in parsed.items():
                counts[name] = value
                if reason:
                    errors[name] = reason
        label = BehaviorLabel(item.trace_id, *(counts.get(b) for b in BEHAVIORS), judge=self.name,
                              prompt_version=prompt_version(item.variant, self.protocol), errors=errors,
                              protocol=self.protocol)
        extras = {k: v for k, v in counts.items() if k not in BEHAVIORS}
        return Judged(label, extras)


def _flat(messages: Sequence[dict[str, str]]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)
