"""Priming traces written by an LLM through any OpenAI-compatible endpoint (behaviors.client.ChatClient).

As in the paper, each condition has its own system prompt saying which behaviors to use and which to avoid
(our own wording below); the user turn is the ordinary Countdown task. Replies are normalised into the
completion form that follows the prompt's "<think>", scored with countdown.reward, and kept only when the
answer is correct (or, for incorrect_only, present but wrong). A problem whose reply is rejected is asked
again (a new attempt index, so a new cache key) up to --attempts times, then replaced by the next problem.

Every reply is cached under (prompt version, model, condition, problem, attempt, seed): re-running the same
command sends no request for finished work, and an interrupted build resumes where it stopped.
"""
from __future__ import annotations

import argparse
import re
from typing import Any, Iterator

from countdown.io import InputError
from countdown.prompts import task_text
from countdown.records import BEHAVIORS, Problem
from countdown.reward import grade
from priming.conditions import Condition

PROMPT_VERSION = "priming-llm-v1"

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
           "and / for division). Then close the reasoning with </think> and give only the final equation, using "
           "each given number exactly once, as <answer> EQUATION </answer>. Do not repeat the question.")


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
    if condition.reward < 1.0:
        lines.append("Do not search exhaustively: after three or four attempts, commit to the best equation you "
                     "have, even if it misses the target.")
    lines.append(_FORMAT)
    return "\n".join(lines)


def messages_for(problem: Problem, condition: Condition) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt(condition)},
            {"role": "user", "content": task_text(problem.numbers, problem.target)}]


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def to_completion(reply: str) -> str | None:
    """The reply in completion form ('\\n<thought>\\n</think>\\n<answer> X </answer>'), or None if it has
    no answer or no reasoning."""
    answers = _ANSWER.findall(reply)
    if not answers:
        return None
    thought = reply[:reply.rfind("<answer>")]
    thought = thought.replace("</think>", "").replace("<think>", "").strip()
    thought = re.sub(r"(?i)^let me solve this step by step\.?\s*", "", thought)
    if not thought:
        return None
    return f"\n{thought}\n</think>\n<answer> {answers[-1].strip()} </answer>"


def accepts(completion: str, problem: Problem, condition: Condition) -> bool:
    status = grade(completion, problem.numbers, problem.target).status
    if condition.reward < 1.0:
        return status in ("wrong_value", "wrong_numbers")  # an answer that parses but misses
    return status == "correct"


def behaviors_match(completion: str, problem: Problem, condition: Condition) -> bool:
    from behaviors.rules import count_behaviors

    counts = count_behaviors(completion, problem.numbers, problem.target)
    return (all(counts[b] > 0 for b in condition.requires)
            and not any(counts[b] > 0 for b in condition.excludes))


def make_client(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from behaviors.client import ChatClient

    cache = args.cache or str(Path(args.out) / ".llm_cache" / "replies.sqlite")
    return ChatClient(model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                      concurrency=args.concurrency, rpm=args.rpm or None, cache=cache, seed=args.seed,
                      temperature=args.temperature, max_tokens=args.max_tokens)


def llm_rows(condition: Condition, num: int, seed: int, problems: Iterator[Problem], args: argparse.Namespace,
             tokenizer: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`num` accepted rows (fewer if --max-requests runs out) and the generation counts."""
    from behaviors.cache import cache_key
    from priming.build import make_row

    client = make_client(args)
    attempts = getattr(args, "attempts", 3)
    budget = args.max_requests or 4 * num + 10
    counts = {"requests": 0, "cache_hits": 0, "kept": 0, "no_answer": 0, "wrong_reward": 0,
              "wrong_behaviors": 0, "failed": 0, "problems_skipped": 0}
    kept: list[dict[str, Any]] = []
    pending: list[tuple[Problem, int]] = []   # (problem, attempt) to ask this round
    asked = 0
    while len(kept) < num and asked < budget:
        while len(pending) < num - len(kept):
            pending.append((next(problems), 0))
        pending = pending[:max(0, min(num - len(kept), budget - asked))]
        jobs = [(cache_key(PROMPT_VERSION, args.model, condition.name, f"{p.key}", f"t{args.temperature:g}",
                           f"seed{seed}", f"attempt{a}"), messages_for(p, condition)) for p, a in pending]
        hits_before = client.stats.cache_hits
        replies = client.run(jobs, progress=not getattr(args, "quiet", False), desc=f"{condition.name} (llm)")
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
                elif not accepts(completion, problem, condition):
                    reason = "wrong_reward"
                elif getattr(args, "filter_behaviors", False) and not behaviors_match(completion, problem, condition):
                    reason = "wrong_behaviors"
            if reason is None and len(kept) < num:
                kept.append(make_row(problem, completion, condition, "llm", args.template, tokenizer,
                                     model=args.model, attempt=attempt))
                continue
            if reason:
                counts[reason] += 1
                if attempt + 1 < attempts:
                    retry.append((problem, attempt + 1))
                else:
                    counts["problems_skipped"] += 1
        pending = retry
    counts["requests"] = asked - counts["cache_hits"]
    counts["http_requests"] = client.stats.requests   # retries included
    counts["kept"] = len(kept)
    if not kept:
        raise InputError(f"{condition.name}: the model produced no acceptable trace in {asked} requests "
                         f"({counts})")
    return kept, counts
