"""Priming traces written by an LLM through any OpenAI-compatible endpoint (rl.client.ChatClient).

As in the paper, each condition has its own system prompt saying which behaviors to use and which to avoid
(our own wording below); the user turn is the ordinary Countdown task. Replies are normalised into the
completion form that follows the prompt's "<think>" and scored with countdown.reward. As in the paper, traces
are not filtered for correctness: every reply with reasoning and a readable answer is kept, right or wrong
(each row's `planned` column records which it is, and the counts the share), unless --only-correct keeps
only correct ones; incorrect_only always keeps only answers that are present but wrong. A problem whose reply
is rejected is asked again (a new attempt index, so a new cache key) up to --attempts times, then replaced
by the next problem.

Every reply is cached under (prompt version, model, condition, problem, attempt, seed): re-running the same
command sends no request for finished work, and an interrupted build resumes where it stopped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from countdown.cli import Options, option
from countdown.io import InputError
from countdown.prompts import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, completion_text, task_text
from countdown.records import BEHAVIORS, Problem
from countdown.reward import grade
from priming.conditions import Condition

PROMPT_VERSION = "priming-llm-v2"

_WHAT = {
    "verification": "Verification: whenever you reach a result, say explicitly whether it matches the target "
                    "(for example 'that gives 30, which is not 22').",
    "backtracking": "Backtracking: when an attempt is not working, say so and go back to try a different "
                    "combination (for example 'this doesn't work, let me go back and try multiplying first').",
    "subgoal_setting": "Subgoal setting: name an intermediate number to reach on the way (for example 'first I "
                       "want to get 12, since 12 * 2 = 24').",
    "backward_chaining": "Backward chaining: start from the target and undo operations to find what the other "
                         "numbers must produce (for example 'working backwards, 24 / 2 = 12, so I need 12 from "
                         "the rest').",
}
_AVOID = {
    "verification": "Do not check or compare results against the target; just compute.",
    "backtracking": "Do not abandon attempts or restart; follow one line of work to the end.",
    "subgoal_setting": "Do not name intermediate numbers as goals to reach.",
    "backward_chaining": "Do not reason backwards from the target; always compute forwards from the given numbers.",
}
_FORMAT = ("Write your reasoning as plain sentences with the arithmetic written out (use * for multiplication "
           f"and / for division). Then close the reasoning with {THINK_CLOSE} and give only the final equation, using "
           f"each given number exactly once, as {ANSWER_OPEN} EQUATION {ANSWER_CLOSE}. Do not repeat the question.")


def system_prompt(condition: Condition) -> str:
    """The condition's instructions to the writer model (which behaviors to show, which to avoid)."""
    lines = ["You write worked solutions to Countdown puzzles that will be used to teach a smaller model a "
             "particular style of reasoning. Reason the way a careful person thinks aloud."]
    if condition.requires:
        lines.append("Your reasoning must clearly show these behaviors, each at least once:")
        lines += [f"- {_WHAT[b]}" for b in BEHAVIORS if b in condition.requires]
    else:
        lines.append("Solve the puzzle directly in a few forward steps.")
    avoid = [b for b in BEHAVIORS if b in condition.excludes]
    if avoid:
        lines.append("Avoid these behaviors completely:")
        lines += [f"- {_AVOID[b]}" for b in avoid]
    if condition.reward < 1.0:   # a confident wrong answer: the trace must not say that it misses
        lines.append("Do not search exhaustively: after three or four attempts, commit to the best equation you "
                     "have, even if it misses the target, and state it as your answer as confidently as a correct "
                     "one, without remarking that it misses.")
    lines.append(_FORMAT)
    return "\n".join(lines)


def messages_for(problem: Problem, condition: Condition) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt(condition)},
            {"role": "user", "content": task_text(problem.numbers, problem.target)}]


_ANSWER = re.compile(re.escape(ANSWER_OPEN) + r"(.*?)" + re.escape(ANSWER_CLOSE), re.S)


def to_completion(reply: str) -> str | None:
    """The reply in completion form (countdown.prompts.completion_text), or None if it has
    no answer or no reasoning."""
    answers = _ANSWER.findall(reply)
    if not answers:
        return None
    thought = reply[:reply.rfind(ANSWER_OPEN)]
    thought = thought.replace(THINK_CLOSE, "").replace(THINK_OPEN, "").strip()
    thought = re.sub(r"(?i)^let me solve this step by step\.?\s*", "", thought)
    if not thought:
        return None
    return completion_text(thought, answers[-1].strip())


def outcome(completion: str, problem: Problem) -> str | None:
    """correct, wrong (an answer that parses but misses), or None (no gradable answer)."""
    status = grade(completion, problem.numbers, problem.target).status
    return "correct" if status == "correct" else "wrong" if status in ("wrong_value", "wrong_numbers") else None


def accepts(completion: str, problem: Problem, condition: Condition, only_correct: bool = False) -> bool:
    """Any gradable answer (unfiltered, as in the paper); only wrong ones for incorrect_only; only correct ones
    with only_correct."""
    result = outcome(completion, problem)
    if condition.reward < 1.0:
        return result == "wrong"
    return result == "correct" if only_correct else result is not None


def behaviors_match(completion: str, problem: Problem, condition: Condition) -> bool:
    from behaviors.rules import count_behaviors

    counts = count_behaviors(completion, problem.numbers, problem.target)
    return (all(counts[b] > 0 for b in condition.requires)
            and not any(counts[b] > 0 for b in condition.excludes))


@dataclass(kw_only=True)
class LLMSourceOptions(Options):
    """The writer model for `priming.build --source llm`: endpoint, sampling, request budget, cache."""

    base_url: str | None = option(None, "OpenAI-compatible endpoint, e.g. http://localhost:8000/v1",
                                  group="LLM source (--source llm)")
    model: str | None = option(None, "model name at the endpoint", group="LLM source (--source llm)")
    api_key_env: str = option("OPENAI_API_KEY", "environment variable holding the key",
                              group="LLM source (--source llm)")
    temperature: float = option(1.0, "sampling temperature of the writer", group="LLM source (--source llm)")
    max_tokens: int = option(2048, "token limit per reply", group="LLM source (--source llm)")
    concurrency: int = option(8, "parallel requests", group="LLM source (--source llm)")
    rpm: float | None = option(None, "requests per minute limit", group="LLM source (--source llm)")
    max_requests: int | None = option(None, "stop after this many requests per condition (default 4 x --num + 10)",
                                      group="LLM source (--source llm)")
    attempts: int = option(3, "asks per problem before moving on", group="LLM source (--source llm)")
    cache: str | None = option(None, "SQLite cache file for LLM replies (default OUT/.llm_cache/replies.sqlite)",
                               group="LLM source (--source llm)")
    filter_behaviors: bool = option(False, "keep only LLM traces whose rule-judge behaviors match the condition "
                                    "exactly", group="LLM source (--source llm)")
    only_correct: bool = option(False, "keep only LLM traces with a correct answer (default: every trace with a "
                                "gradable answer, unfiltered as in the paper; incorrect_only keeps wrong ones)",
                                group="LLM source (--source llm)")

    def validate(self) -> None:
        if self.attempts < 1 or (self.max_requests is not None and self.max_requests < 1):
            raise InputError("--attempts and --max-requests must be >= 1")
        super().validate()


def make_client(options: LLMSourceOptions, cache: str | Path, seed: int) -> Any:
    from rl.client import ChatClient

    return ChatClient(model=options.model, base_url=options.base_url, api_key_env=options.api_key_env,
                      concurrency=options.concurrency, rpm=options.rpm, cache=str(options.cache or cache),
                      seed=seed, temperature=options.temperature, max_tokens=options.max_tokens)


def llm_traces(condition: Condition, num: int, seed: int, problems: Iterator[Problem], options: LLMSourceOptions,
               default_cache: str | Path, progress: bool = True
               ) -> tuple[list[tuple[Problem, str, dict[str, Any]]], dict[str, Any]]:
    """`num` accepted (problem, completion, extra fields) (fewer if the request budget runs out) and the
    generation counts."""
    from rl.cache import cache_key

    client = make_client(options, default_cache, seed)
    budget = options.max_requests or 4 * num + 10
    counts = {"requests": 0, "cache_hits": 0, "kept": 0, "correct": 0, "no_answer": 0, "wrong_reward": 0,
              "wrong_behaviors": 0, "failed": 0, "problems_skipped": 0}
    kept: list[tuple[Problem, str, dict[str, Any]]] = []
    pending: list[tuple[Problem, int]] = []   # (problem, attempt) to ask this round
    asked = 0
    while len(kept) < num and asked < budget:
        while len(pending) < num - len(kept):
            pending.append((next(problems), 0))
        pending = pending[:max(0, min(num - len(kept), budget - asked))]
        jobs = [(cache_key(PROMPT_VERSION, options.model, condition.name, f"{p.key}", f"t{options.temperature:g}",
                           f"seed{seed}", f"attempt{a}"), messages_for(p, condition)) for p, a in pending]
        hits_before = client.stats.cache_hits
        replies = client.run(jobs, progress=progress, desc=f"{condition.name} (llm)")
        counts["cache_hits"] += client.stats.cache_hits - hits_before
        asked += len(jobs)
        retry: list[tuple[Problem, int]] = []
        for (problem, attempt), reply in zip(pending, replies):
            reason = None
            if not isinstance(reply, str):
                reason = "failed"
            else:
                completion = to_completion(reply)
                if completion is None:
                    reason = "no_answer"
                elif not accepts(completion, problem, condition, options.only_correct):
                    reason = "wrong_reward"
                elif options.filter_behaviors and not behaviors_match(completion, problem, condition):
                    reason = "wrong_behaviors"
            if reason is None and len(kept) < num:
                kept.append((problem, completion, {"model": options.model, "attempt": attempt,
                                                   "planned": outcome(completion, problem)}))
                continue
            if reason:
                counts[reason] += 1
                if attempt + 1 < options.attempts:
                    retry.append((problem, attempt + 1))
                else:
                    counts["problems_skipped"] += 1
        pending = retry
    counts["requests"] = asked - counts["cache_hits"]
    counts["http_requests"] = client.stats.requests   # retries included
    counts["kept"] = len(kept)
    counts["correct"] = sum(extra["planned"] == "correct" for _, _, extra in kept)
    if not kept:
        raise InputError(f"{condition.name}: the model produced no acceptable trace in {asked} requests "
                         f"({counts})")
    return kept, counts
