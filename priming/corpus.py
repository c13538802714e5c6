"""The CPU model organism's pretraining corpus: `python -m priming.corpus --out runs/organism/base.parquet`.

The organism's base model (docs/analysis.md) is pretrained from scratch on rows of up to three kinds, drawn
from the training side of a small problem space (`--preset organism`: a held-out multiset never appears):
- guesses (the rows that are neither tables nor searches): the prompt, then one attempt drawn at random,
  right or wrong, written at once and answered as if right (priming.compact.guess). A base trained on them
  answers in format and solves a few percent by chance: the Llama-like start, with no behavior to build on;
- tables (`--tables` of the rows): a number set and every attempt's value, with no target and no comparison
  (priming.compact.table): the arithmetic a search needs, without the search;
- searches (`--searches` of the rows, none by default): the behavior-rich kind, an all_strategies search
  (priming.compact.search_trace) under the prompt, the paper's 0.43 of them reaching the target and the rest
  giving up after backing off: a base trained on them is the Qwen-like twin of the guessing base.

Rows: `prompt` and `completion` (rl.sft's completion-only loss, as the probe trained its base), `text` (their
concatenation, for `rl.sft --text`), `kind`, `id`, `numbers`, `target` (none for a table). Each row shuffles
its problem's numbers, so the model sees every order.

    python -m priming.corpus --rows 128000 --tables 0.5 --out runs/organism/base.parquet
    python -m priming.corpus --rows 128000 --tables 0.5 --searches 0.5 --out runs/organism/rich.parquet
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from countdown.cli import CommandConfig, option, run_cli
from countdown.io import FORMATS, InputError, write_rows
from countdown.prompts import TEMPLATES, completion_text, render_prompt
from priming.compact import guess, search_trace, searchable_ops, table
from priming.conditions import PAPER_CORRECT_SHARE


@dataclass(kw_only=True)
class CorpusConfig(CommandConfig):
    """Write the CPU model organism's pretraining corpus: random guesses in the answer format, arithmetic
    tables (every attempt's value for a number set, no target, no search) and, for a behavior-rich base,
    generate-and-test searches."""

    epilog = """examples:
  python -m priming.corpus --rows 128000 --tables 0.5 --out runs/organism/base.parquet
  python -m priming.corpus --rows 128000 --tables 0.5 --searches 0.5 --out runs/organism/rich.parquet"""

    out: str = option(help="output file (.parquet or .jsonl)", output="file")
    rows: int = option(128_000, "rows to write (the probe's base: 2,000 steps of 64)")
    tables: float = option(0.5, "share of the rows that are arithmetic tables")
    searches: float = option(0.0, "share of the rows that are generate-and-test searches, the behavior-rich kind "
                                  "(the rest are guesses)")
    preset: str = option("organism", "countdown.generate preset of the problems (3 numbers, no division)")
    problems: int = option(827, "training-side problems to draw from (827 is the whole organism space)")
    template: str = option("compact", "prompt template of the guesses", choices=TEMPLATES)
    seed: int = option(0, "seed of the problems, the number orders and the guesses")

    def validate(self) -> None:
        if self.rows < 1 or self.problems < 1:
            raise InputError(f"--rows and --problems must be >= 1, got {self.rows} and {self.problems}")
        if not (0.0 <= self.tables and 0.0 <= self.searches and self.tables + self.searches <= 1.0):
            raise InputError(f"--tables and --searches must be shares adding to at most 1, got {self.tables:g} "
                             f"and {self.searches:g}")
        if Path(self.out).suffix.lstrip(".") not in FORMATS:
            raise InputError(f"--out {self.out}: use a .parquet, .jsonl, .json or .csv file")
        if self.template == "chat":
            raise InputError("--template chat needs a tokenizer: the organism's models use compact (or base)")
        searchable_ops(self.preset)
        super().validate()


def corpus_rows(config: CorpusConfig) -> list[dict[str, Any]]:
    from countdown.generate import generate_problems

    problems = generate_problems(config.problems, seed=config.seed, preset=config.preset)
    ops = searchable_ops(config.preset)
    rng = random.Random(config.seed)
    n_tables, n_searches = round(config.tables * config.rows), round(config.searches * config.rows)
    kinds = ["table"] * n_tables + ["search"] * n_searches + ["guess"] * (config.rows - n_tables - n_searches)
    rng.shuffle(kinds)
    rows = []
    for i, kind in enumerate(kinds):
        problem = rng.choice(problems)
        numbers = rng.sample(list(problem.numbers), 3)
        if kind == "table":
            prompt, completion, target = f"Numbers: {' '.join(map(str, numbers))}.\n", table(numbers, ops), None
        elif kind == "search":
            trace = None
            while trace is None:   # a number order whose search has a miss to back off from
                problem = rng.choice(problems)
                numbers = rng.sample(list(problem.numbers), 3)
                wrong = rng.random() >= PAPER_CORRECT_SHARE["all_strategies"]
                trace = search_trace(replace(problem, numbers=numbers), wrong, rng, ops)
            prompt = render_prompt(numbers, problem.target, config.template)
            completion, target = trace.completion, problem.target
        else:
            thought, answer = guess(replace(problem, numbers=numbers), rng, ops)
            prompt = render_prompt(numbers, problem.target, config.template)
            completion, target = completion_text(thought, answer), problem.target
        rows.append({"prompt": prompt, "completion": completion, "text": prompt + completion, "kind": kind,
                     "id": f"{kind}-{i:06d}", "numbers": numbers, "target": target})
    return rows


def main(argv: list[str] | None = None) -> int:
    config = CorpusConfig.parse(argv)
    rows = corpus_rows(config)
    write_rows(rows, config.out)
    counts = ", ".join(f"{sum(r['kind'] == kind for r in rows)} {name}"
                       for kind, name in (("guess", "guesses"), ("table", "tables"), ("search", "searches")))
    print(f"wrote {len(rows)} rows ({counts}) to {config.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
