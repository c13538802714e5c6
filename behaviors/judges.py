"""The judge interface: every behavior judge is an object with `label(items)`, found by name in a registry.

    judge = make_judge("rules")                       # or JudgeOptions(judge="llm", ...).make_judge()
    labels = label_traces(trace_rows, judge)          # one BehaviorLabel per row

A judge turns `Item`s (a text, and for Countdown traces the problem's numbers and target) into `Judged`
results: a BehaviorLabel (a count per behavior, None where the judge failed) plus extra answers (the
general-text variant's has_problem / has_solution). Two judges are registered: `rules` (offline, fast,
behaviors.rules) and `llm` (any OpenAI-compatible model, behaviors.llm_judge). `register_judge` adds more.

`JudgeOptions` is the one set of judge options, shared by every command that judges (classify, curate,
evaluate, reproduce, agreement): the judge's name, how many traces per group it sees (by default 200 per
checkpoint for the LLM judge, as in the paper, and every trace for the rule judge), and the LLM judge's
protocol and settings.
"""
from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Protocol, Sequence

from countdown.cli import Options, option
from countdown.data import is_integer
from countdown.io import InputError
from countdown.records import BEHAVIORS, BehaviorLabel

from .interface import Item, Judge, Judged
from .prompts import PROTOCOLS

DEFAULT_CACHE = Path(os.environ.get("COGBEHAVE_CACHE", Path.home() / ".cache" / "cogbehave")) / "judge.sqlite"
VARIANTS = ("auto", "countdown", "text")


# ---------------------------------------------------------------------------------------------- registry

JUDGES: dict[str, Callable[..., Judge]] = {}
DEFAULT_SAMPLE: dict[str, int] = {}   # judge name -> traces judged per group unless --judge-sample says (0 = all)


def register_judge(name: str, default_sample: int = 0) -> Callable:
    """Decorator: `factory(options, seed, default_cache) -> Judge` becomes available as `--judge NAME`;
    `default_sample` is how many traces per group it judges when --judge-sample is not given (0 = all)."""
    def add(factory: Callable[..., Judge]) -> Callable:
        JUDGES[name] = factory
        DEFAULT_SAMPLE[name] = default_sample
        return factory
    return add


@dataclass(kw_only=True)
class JudgeOptions(Options):
    """Which judge labels the behaviors, how many traces per group it sees, and the LLM judge's settings."""

    judge: str = option("rules", "behavior judge: rules (offline) or llm (any OpenAI-compatible model)",
                        group="behavior judge")
    judge_sample: int | None = option(None, "judge at most N seeded-random traces per group (checkpoint); 0 = "
                                      "all. Default: 200 for llm (as in the paper), all for rules. Accuracy and "
                                      "length always use every trace", aliases=("--sample",), group="behavior judge")
    judge_protocol: str = option("paper", "llm: paper (one request per behavior; the judge reasons, then ends with "
                                 "<count>N</count>) or combined (one terse request for all four, the cheap option)",
                                 choices=PROTOCOLS, aliases=("--judge-mode",), group="behavior judge")
    judge_temperature: float = option(0.0, "llm: sampling temperature of the judge", group="behavior judge")
    judge_max_tokens: int = option(1024, "llm: token limit per judge reply (room for the reasoning); 0 = the "
                                   "server's own limit", group="behavior judge")
    judge_model: str = option("gpt-4o-mini", "llm: judge model name at the endpoint", group="behavior judge")
    judge_base_url: str = option("https://api.openai.com/v1", "llm: OpenAI-compatible endpoint",
                                 group="behavior judge")
    judge_api_key_env: str = option("OPENAI_API_KEY", "llm: environment variable holding the API key",
                                    group="behavior judge")
    judge_concurrency: int = option(8, "llm: parallel requests", group="behavior judge")
    judge_rpm: float | None = option(None, "llm: requests-per-minute limit", group="behavior judge")
    judge_max_retries: int = option(5, "llm: retries per request (429/5xx/timeouts)", group="behavior judge")
    judge_timeout: float = option(60.0, "llm: seconds per request", group="behavior judge")
    judge_cache: str | None = option(None, f"llm: reply cache (SQLite; default {DEFAULT_CACHE}, for curate "
                                     "OUT/.judge_cache/judge.sqlite); a re-run sends no request twice",
                                     group="behavior judge")
    judge_max_failed: float = option(0.1, "largest share of failed judgments (null counts) a run accepts; more "
                                     "fails the command (exit 2) before it writes labels or results (answered "
                                     "requests stay cached, so a re-run asks only for the failures)",
                                     group="behavior judge")

    def validate(self) -> None:
        if self.judge not in JUDGES:
            raise InputError(f"unknown judge {self.judge!r} (choose from {', '.join(JUDGES)})")
        if self.judge_sample is not None and self.judge_sample < 0:
            raise InputError(f"--judge-sample must be >= 0 (got {self.judge_sample})")
        if not (self.judge_temperature >= 0 and math.isfinite(self.judge_temperature)) or self.judge_max_tokens < 0:
            raise InputError(f"--judge-temperature (finite) and --judge-max-tokens must be >= 0 "
                             f"(got {self.judge_temperature}, {self.judge_max_tokens})")
        if self.judge_concurrency < 1:
            raise InputError(f"--judge-concurrency must be >= 1 (got {self.judge_concurrency})")
        if not (self.judge_timeout > 0 and math.isfinite(self.judge_timeout)):
            raise InputError(f"--judge-timeout must be a positive number of seconds (got {self.judge_timeout})")
        if self.judge_max_retries < 0:
            raise InputError(f"--judge-max-retries must be >= 0 (got {self.judge_max_retries})")
        if self.judge_rpm is not None and not self.judge_rpm > 0:
            raise InputError(f"--judge-rpm must be > 0 (got {self.judge_rpm})")
        if not 0 <= self.judge_max_failed <= 1:
            raise InputError(f"--judge-max-failed must be a share in [0, 1] (got {self.judge_max_failed})")
        super().validate()

    def sample_size(self) -> int:
        """Traces judged per group: --judge-sample, else the judge's default (200 for llm); 0 = all."""
        return self.judge_sample if self.judge_sample is not None else DEFAULT_SAMPLE[self.judge]

    def check_labels(self, labels: Sequence[BehaviorLabel]) -> None:
        """check_failures over every count of every label (a count is None where its judgment failed)."""
        failed = [(lab, b) for lab in labels for b in BEHAVIORS if getattr(lab, b) is None]
        reason = next((lab.errors[b] for lab, b in failed if lab.errors.get(b)), None)
        self.check_failures(len(failed), len(labels) * len(BEHAVIORS), reason)

    def check_failures(self, failed: int, total: int, reason: str | None = None) -> None:
        """InputError when more than --judge-max-failed of `total` judgments failed: a judge that is down,
        refuses the key or answers garbage must not pass for a run of null counts."""
        if total and failed / total > self.judge_max_failed:
            where = self.judge_base_url if self.judge == "llm" else f"judge {self.judge}"
            example = f"; e.g. {reason}" if reason else ""
            raise InputError(f"{where}: {failed} of {total} judgments failed ({failed / total:.0%} > "
                             f"--judge-max-failed {self.judge_max_failed:g}){example}; stopped before writing "
                             "results (answered requests are cached: a re-run retries only the failures)")

    def make_judge(self, seed: int = 0, default_cache: str | Path = DEFAULT_CACHE) -> Judge:
        """The judge these options name; an LLM judge caches in --judge-cache, else in `default_cache`."""
        return JUDGES[self.judge](self, seed, default_cache)


def make_judge(name: str = "rules", seed: int = 0, **options: Any) -> Judge:
    """A judge by name; `options` are JudgeOptions fields (e.g. judge_model, judge_base_url)."""
    return JudgeOptions(judge=name, **options).make_judge(seed)


# ---------------------------------------------------------------------------------------------- the two judges

class RuleJudge:
    """The offline rule judge (behaviors.rules): deterministic, thousands of traces per second."""

    name = "rules"

    def label(self, items: Sequence[Item], progress: bool = False) -> list[Judged]:
        from .rules import RULES_VERSION, count_behaviors, count_text_behaviors

        out = []
        for item in items:
            if item.variant == "countdown":
                counts, extras = count_behaviors(item.text, item.numbers, item.target), {}
            else:
                counts = count_text_behaviors(item.text)
                extras = {k: counts.pop(k) for k in ("has_problem", "has_solution")}
            label = BehaviorLabel(item.trace_id, *(counts[b] for b in BEHAVIORS), judge=self.name,
                                  prompt_version=f"{RULES_VERSION}/{item.variant}", protocol="rules")
            out.append(Judged(label, extras))
        return out


@register_judge("rules")
def _rules(options: JudgeOptions, seed: int, default_cache: str | Path) -> Judge:
    return RuleJudge()


@register_judge("llm", default_sample=200)   # the paper judged 200 sampled responses per checkpoint
def _llm(options: JudgeOptions, seed: int, default_cache: str | Path) -> Judge:
    from .llm_judge import LLMJudge

    judge = LLMJudge(protocol=options.judge_protocol, model=options.judge_model, base_url=options.judge_base_url,
                     api_key_env=options.judge_api_key_env, concurrency=options.judge_concurrency,
                     rpm=options.judge_rpm, max_retries=options.judge_max_retries, timeout=options.judge_timeout,
                     cache=options.judge_cache or default_cache, seed=seed, temperature=options.judge_temperature,
                     max_tokens=options.judge_max_tokens or None)
    judge.client._api_key()   # a missing key fails here, before any work
    return judge


# ---------------------------------------------------------------------------------------------- rows -> labels

def trace_id_of(row: dict[str, Any], index: int) -> str:
    """The row's trace_id; else the Trace-style id built from its fields; else its id; else its position."""
    if row.get("trace_id") is not None:
        return str(row["trace_id"])
    if row.get("model") is not None and row.get("id") is not None:
        step = "base" if row.get("step") is None else row["step"]
        return f"{row['model']}@{step}/{row['id']}#{row.get('sample_idx', 0)}"
    if row.get("id") is not None:
        return str(row["id"])
    return f"row{index}"


def items_from_rows(rows: Sequence[dict[str, Any]], text_field: str = "completion", variant: str = "auto",
                    source: str = "input", lines: Sequence[int] | None = None) -> list[Item]:
    """Judge items for table rows; rows with numbers and target are Countdown traces unless `variant` says
    otherwise. A bad row raises InputError naming it (`source:line` with the rows' file `lines`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
    items = []
    for i, row in enumerate(rows):
        where = f"{source}:{lines[i]}" if lines is not None else f"{source}: row {i + 1}"
        text = row.get(text_field)
        if not isinstance(text, str):
            have = ", ".join(sorted(row)[:12])
            raise InputError(f"{where}: no text in field {text_field!r} (fields: {have}; use --text-field)")
        has_problem = row.get("numbers") is not None and row.get("target") is not None
        kind = variant if variant != "auto" else ("countdown" if has_problem else "text")
        numbers = target = None
        if kind == "countdown":
            numbers, target = row.get("numbers"), row.get("target")
            if not (isinstance(numbers, (list, tuple)) and numbers and all(map(is_integer, numbers))
                    and is_integer(target)):   # 22.9 is not 22, and [] is no problem
                raise InputError(f"{where}: the countdown variant needs a non-empty list of integer 'numbers' "
                                 f"and an integer 'target' (got {str(numbers)[:40]}, {str(target)[:20]})")
            numbers, target = [int(n) for n in numbers], int(target)
        items.append(Item(trace_id_of(row, i), text, kind, numbers, target))
    return items


def label_rows(rows: Sequence[dict[str, Any]], judge: Judge | str = "rules", *, text_field: str = "completion",
               variant: str = "auto", progress: bool = False, source: str = "input") -> list[Judged]:
    """Judged results for table rows (traces, or documents with variant="text"), one per row, in order."""
    judge = make_judge(judge) if isinstance(judge, str) else judge
    return judge.label(items_from_rows(rows, text_field, variant, source), progress=progress)


def label_traces(rows: Sequence[dict[str, Any]], judge: Judge | str = "rules", **opts: Any) -> list[BehaviorLabel]:
    """One BehaviorLabel per row; opts as for label_rows (text_field, variant, progress, source)."""
    return [j.label for j in label_rows(rows, judge, **opts)]


def sample_rows(rows: Sequence[dict[str, Any]], n: int, group_by: Sequence[str] = (), seed: Hashable = 0
                ) -> list[dict[str, Any]]:
    """Up to n seeded-random rows per group (the paper judges 200 responses per checkpoint), original order
    kept; n = 0 keeps every row."""
    if not n:
        return list(rows)
    rng = random.Random(seed)
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(tuple(row.get(c) for c in group_by), []).append(i)
    keep = sorted(i for idx in groups.values() for i in (rng.sample(idx, n) if len(idx) > n else idx))
    return [rows[i] for i in keep]
