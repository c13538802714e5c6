"""Learnability filter for RL problems (after the LearnAlign idea).

A problem the starting model always solves (p = 1) or never solves (p = 0) gives a GRPO group no reward
variance, hence no gradient. p(1 - p) is the variance of the 0/1 success signal, so problems with the
highest p(1 - p) are the ones the policy can learn from now. We estimate p with k samples per problem
from the starting model and keep the top share; ties (typically many p = 0 problems for a base model)
are broken by the mean reward, which credits well-formed but wrong answers (0.1), then by input order.

CLI: python -m rl.learnability PROBLEMS --model PATH --k 8 --keep 0.5 --out learnable.jsonl
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from countdown.cli import CommandConfig, option, positional, run_cli
from countdown.io import InputError, check_resume, read_rows, write_json, write_rows
from countdown.records import Problem
from rl.rollout import BackendOptions


def learnability(p: float) -> float:
    return p * (1.0 - p)


def success_rates(problems: Sequence[Problem], model: Any, k: int, max_tokens: int = 1024,
                  template: str = "base", seed: int = 0, backend: str = "auto", temperature: float = 1.0,
                  **backend_opts: Any) -> list[dict[str, Any]]:
    """One row per problem: id, numbers, target, k, successes, p, mean_reward, learnability."""
    from rl.rollout import Sampling, sample

    traces = sample(problems, model, backend=backend, template=template,
                    sampling=Sampling(n=k, temperature=temperature, max_tokens=max_tokens, seed=seed),
                    **backend_opts)
    by_id: dict[str, list] = defaultdict(list)
    for t in traces:
        by_id[t.id].append(t)
    rows = []
    for p in problems:
        got = by_id.get(p.id, [])
        wins = sum(t.correct for t in got)
        rate = wins / len(got) if got else 0.0
        rows.append({"id": p.id, "numbers": list(p.numbers), "target": p.target, "k": len(got), "successes": wins,
                     "p": rate, "mean_reward": sum(t.reward for t in got) / len(got) if got else 0.0,
                     "learnability": learnability(rate)})
    return rows


def keep_count(total: int, keep: float) -> int:
    """`keep` <= 1 is a share of `total`, > 1 a count; at least one problem survives."""
    if keep <= 0:
        raise InputError(f"keep must be positive (got {keep})")
    count = round(total * keep) if keep <= 1 else int(keep)
    return max(1, min(total, count))


def select_learnable(problems: Sequence[Problem], rates: Sequence[dict[str, Any]], keep: float) -> list[Problem]:
    """The `keep` most learnable problems, in their original order."""
    info = {r["id"]: r for r in rates}
    order = sorted(range(len(problems)), key=lambda i: (-info[problems[i].id]["learnability"],
                                                        -info[problems[i].id]["mean_reward"], i))
    chosen = sorted(order[:keep_count(len(problems), keep)])
    return [problems[i] for i in chosen]


def filter_problems(problems: Sequence[Problem], model: Any, k: int = 8, keep: float = 0.5,
                    max_tokens: int = 1024, template: str = "base", seed: int = 0, backend: str = "auto",
                    out: str | os.PathLike | None = None, **backend_opts: Any) -> list[Problem]:
    """Estimate success rates and keep the most learnable. Rates already in `out` are reused only when its
    settings record (<out>.settings.json) says they were sampled the same way."""
    known: dict[str, dict] = {}
    settings = {"model": str(model), "k": k, "max_tokens": max_tokens, "template": template, "seed": seed,
                "backend": backend, "temperature": backend_opts.get("temperature", 1.0)}
    record = Path(f"{out}.settings.json") if out is not None else None
    if record is not None and Path(out).is_file() and read_rows(out):
        if not check_resume(record, settings, out, f"use a new output, or delete {out} to sample again"):
            raise InputError(f"{out}: holds rates but no settings record ({record.name}); delete it to sample again")
        known = {r["id"]: r for r in read_rows(out) if r.get("k") == k}
    todo = [p for p in problems if p.id not in known]
    if todo:
        for row in success_rates(todo, model, k, max_tokens, template, seed, backend, **backend_opts):
            known[row["id"]] = row
        if record is not None:
            write_json(settings, record)   # before the rates: rates are never on disk without their record
            write_rows([known[p.id] for p in problems if p.id in known], out)
    return select_learnable(problems, [known[p.id] for p in problems], keep)


@dataclass(kw_only=True)
class LearnabilityConfig(BackendOptions, CommandConfig):
    """Keep the Countdown problems the starting model can learn from: estimate each problem's success rate p
    from K samples and keep those with the highest p(1-p)."""

    epilog = """examples:
  python -m rl.learnability train.jsonl --model Qwen/Qwen2.5-3B --k 8 --keep 0.5 --out learnable.jsonl
  python -m rl.train --model Qwen/Qwen2.5-3B --out runs/q --learnability-filter 8   (same, inline)
The per-problem rates go to OUT's folder as <out>.rates.jsonl; re-running reuses them."""

    problems: str = positional("problems file (.jsonl/.parquet/...)")
    model: str = option(help="starting model folder or hub id")
    out: str = option(help="filtered problems file", output="file")
    k: int = option(8, "samples per problem")
    keep: float = option(0.5, "share (<=1) or count (>1) of problems to keep")
    max_tokens: int = option(1024, "new-token limit per sample")
    temperature: float = option(1.0, "sampling temperature")
    seed: int = option(0, "run seed")

    def validate(self) -> None:
        if self.k < 2:   # one sample gives p in {0, 1}: p(1-p) is 0 for every problem, nothing to rank
            raise InputError(f"--k must be >= 2 (got {self.k})")
        if self.max_tokens < 1 or not self.temperature > 0:
            raise InputError(f"--max-tokens must be >= 1 and --temperature > 0 (got {self.max_tokens}, "
                             f"{self.temperature})")
        keep_count(1, self.keep)
        super().validate()

    def rates_path(self) -> Path:
        out = Path(self.out)
        return out.with_name(out.stem + ".rates.jsonl")

    def outputs(self) -> dict[str, tuple[Path, str]]:
        return {**super().outputs(), "the rates file": (self.rates_path(), "file")}


def main(argv: list[str] | None = None) -> int:
    from countdown.data import require_problems

    config = LearnabilityConfig.parse(argv)
    problems = require_problems(config.problems)
    out, rates_path = Path(config.out), config.rates_path()
    kept = filter_problems(problems, config.model, k=config.k, keep=config.keep, max_tokens=config.max_tokens,
                           template=config.template, seed=config.seed, backend=config.backend, out=rates_path,
                           temperature=config.temperature, base_url=config.base_url, **config.backend_opts())
    write_rows([p.to_dict() for p in kept], out)
    print(f"kept {len(kept)} of {len(problems)} problems -> {out} (rates in {rates_path})")
    return 0


if __name__ == "__main__":
    run_cli(main)
