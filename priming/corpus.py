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

A corpus is sized in rows (`--rows`) or in tokens (`--tokens`: completion tokens, the ones rl.sft's loss is
on, counted as the organism's words tokenizer splits text, `count_tokens`): two corpora of different kinds
with the same `--tokens` have the same token budget over the same problems, differing only in what the rows
are (the continued-pretraining pair of docs/analysis.md: searches against guesses).

    python -m priming.corpus --rows 128000 --tables 0.5 --out runs/organism/base.parquet
    python -m priming.corpus --rows 128000 --tables 0.5 --searches 0.5 --out runs/organism/rich.parquet
    python -m priming.corpus --tokens 3000000 --tables 0 --searches 1 --out runs/organism/cpt_rich.parquet
"""
from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

from countdown.cli import CommandConfig, option, run_cli
from countdown.io import FORMATS, InputError, write_rows
from countdown.prompts import TEMPLATES, completion_text, render_prompt
from countdown.records import Problem
from priming.compact import guess, search_trace, searchable_ops, table
from priming.conditions import PAPER_CORRECT_SHARE

# A token of the organism's words tokenizer (rl.tiny --tokenizer words): a tag, a word or number, or one
# punctuation mark ("Target: 14." is four).
TOKEN = re.compile(r"<[^<>\s]+>|\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Tokens in `text` as the organism's words tokenizer splits it."""
    return len(TOKEN.findall(text))


@dataclass(kw_only=True)
class CorpusConfig(CommandConfig):
    """Write the CPU model organism's pretraining corpus: random guesses in the answer format, arithmetic
    tables (every attempt's value for a number set, no target, no search) and, for a behavior-rich base,
    generate-and-test searches."""

    epilog = """examples:
  python -m priming.corpus --rows 128000 --tables 0.5 --out runs/organism/base.parquet
  python -m priming.corpus --rows 128000 --tables 0.5 --searches 0.5 --out runs/organism/rich.parquet
  python -m priming.corpus --tokens 3000000 --tables 0 --searches 1 --out runs/organism/cpt_rich.parquet
  python -m priming.corpus --tokens 3000000 --tables 0 --searches 0 --out runs/organism/cpt_minimal.parquet"""

    out: str = option(help="output file (.parquet or .jsonl)", output="file")
    rows: int = option(128_000, "rows to write (the probe's base: 2,000 steps of 64)")
    tokens: int | None = option(None, "in place of --rows: write rows until their completions (where rl.sft's "
                                "loss is) hold N tokens, as the organism's words tokenizer counts them, so "
                                "corpora of different kinds can have the same token budget", metavar="N")
    tables: float = option(0.5, "share of the rows that are arithmetic tables")
    searches: float = option(0.0, "share of the rows that are generate-and-test searches, the behavior-rich kind "
                                  "(the rest are guesses)")
    preset: str = option("organism", "countdown.generate preset of the problems (3 numbers, no division)")
    problems: int = option(827, "training-side problems to draw from (827 is the whole organism space)")
    template: str = option("compact", "prompt template of the guesses", choices=TEMPLATES)
    seed: int = option(0, "seed of the problems, the number orders and the guesses")

    def validate(self) -> None:
        if self.rows < 1 or self.problems < 1 or (self.tokens is not None and self.tokens < 1):
            raise InputError(f"--rows, --tokens and --problems must be >= 1, got {self.rows}, {self.tokens} and "
                             f"{self.problems}")
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
    guesses = 1.0 - config.tables - config.searches
    if config.tokens is None:   # exactly the shares of --rows, in a shuffled order
        n_tables, n_searches = round(config.tables * config.rows), round(config.searches * config.rows)
        kinds = ["table"] * n_tables + ["search"] * n_searches + ["guess"] * (config.rows - n_tables - n_searches)
        rng.shuffle(kinds)
        stream: Iterable[str] = kinds
    else:                       # each row's kind drawn by the shares, until the token budget is spent
        stream = (rng.choices(("table", "search", "guess"), (config.tables, config.searches, guesses))[0]
                  for _ in itertools.count())
    rows, tokens = [], 0
    for i, kind in enumerate(stream):
        rows.append(corpus_row(kind, i, problems, rng, ops, config.template))
        tokens += count_tokens(rows[-1]["completion"])
        if config.tokens is not None and tokens >= config.tokens:
            break
    return rows


def corpus_row(kind: str, i: int, problems: list[Problem], rng: random.Random, ops: str,
               template: str) -> dict[str, Any]:
    """Row `i` of a corpus, of its kind (table, search or guess), drawn with `rng`."""
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
        prompt = render_prompt(numbers, problem.target, template)
        completion, target = trace.completion, problem.target
    else:
        thought, answer = guess(replace(problem, numbers=numbers), rng, ops)
        prompt = render_prompt(numbers, problem.target, template)
        completion, target = completion_text(thought, answer), problem.target
    return {"prompt": prompt, "completion": completion, "text": prompt + completion, "kind": kind,
            "id": f"{kind}-{i:06d}", "numbers": numbers, "target": target}


def main(argv: list[str] | None = None) -> int:
    config = CorpusConfig.parse(argv)
    rows = corpus_rows(config)
    write_rows(rows, config.out)
    counts = ", ".join(f"{sum(r['kind'] == kind for r in rows)} {name}"
                       for kind, name in (("guess", "guesses"), ("table", "tables"), ("search", "searches")))
    tokens = sum(count_tokens(r["completion"]) for r in rows)
    print(f"wrote {len(rows)} rows ({counts}; {tokens:,} completion tokens) to {config.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
