"""The CPU model organism's pretraining corpus: `python -m priming.corpus --out runs/organism/base.parquet`.

The organism's base model (docs/analysis.md) is pretrained from scratch on rows of two kinds, drawn from the
training side of a small problem space (`--preset organism`: a held-out multiset never appears):
- guesses (the other `1 - --tables` of the rows): the prompt, then one attempt drawn at random, right or
  wrong, written at once and answered as if right (priming.compact.guess). A base trained on them answers in
  format and solves a few percent by chance: the Llama-like start, with no behavior to build on;
- tables (`--tables` of the rows): a number set and every attempt's value, with no target and no comparison
  (priming.compact.table): the arithmetic a search needs, without the search.

Rows: `prompt` and `completion` (rl.sft's completion-only loss, as the probe trained its base), `text` (their
concatenation, for `rl.sft --text`), `kind`, `id`, `numbers`, `target` (none for a table). Each row shuffles
its problem's numbers, so the model sees every order.

    python -m priming.corpus --rows 128000 --tables 0.5 --out runs/organism/base.parquet
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from countdown.cli import CommandConfig, option, run_cli
from countdown.io import FORMATS, InputError, write_rows
from countdown.prompts import TEMPLATES, completion_text, render_prompt
from priming.compact import guess, searchable_ops, table


@dataclass(kw_only=True)
class CorpusConfig(CommandConfig):
    """Write the CPU model organism's pretraining corpus: random guesses in the answer format, and arithmetic
    tables (every attempt's value for a number set, no target, no search)."""

    epilog = """example:
  python -m priming.corpus --rows 128000 --tables 0.5 --out runs/organism/base.parquet"""

    out: str = option(help="output file (.parquet or .jsonl)", output="file")
    rows: int = option(128_000, "rows to write (the probe's base: 2,000 steps of 64)")
    tables: float = option(0.5, "share of the rows that are arithmetic tables (the rest are guesses)")
    preset: str = option("organism", "countdown.generate preset of the problems (3 numbers, no division)")
    problems: int = option(827, "training-side problems to draw from (827 is the whole organism space)")
    template: str = option("compact", "prompt template of the guesses", choices=TEMPLATES)
    seed: int = option(0, "seed of the problems, the number orders and the guesses")

    def validate(self) -> None:
        if self.rows < 1 or self.problems < 1:
            raise InputError(f"--rows and --problems must be >= 1, got {self.rows} and {self.problems}")
        if not 0.0 <= self.tables <= 1.0:
            raise InputError(f"--tables must be a share between 0 and 1, got {self.tables:g}")
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
    n_tables = round(config.tables * config.rows)
    kinds = ["table"] * n_tables + ["guess"] * (config.rows - n_tables)
    rng.shuffle(kinds)
    rows = []
    for i, kind in enumerate(kinds):
        problem = rng.choice(problems)
        numbers = rng.sample(list(problem.numbers), 3)
        if kind == "table":
            prompt, completion, target = f"Numbers: {' '.join(map(str, numbers))}.\n", table(numbers, ops), None
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
    tables = sum(r["kind"] == "table" for r in rows)
    print(f"wrote {len(rows)} rows ({tables} tables, {len(rows) - tables} guesses) to {config.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
