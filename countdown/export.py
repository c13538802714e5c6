"""Dataset export: Problem JSONL, veRL RL parquet, and TRL prompt rows. Every file is written atomically.

veRL's RL schema (one row per problem): `data_source`, `prompt` as a chat message list, `ability`,
`reward_model` {"style": "rule", "ground_truth": {"target", "numbers"}} (what countdown.reward.compute_score
receives), and `extra_info` {split, index, id}. The `base` template puts its whole rendered prompt in one
user message, as TinyZero's Countdown data does (its trainer feeds that text to base models as is); `chat`
puts the task's system and user messages there, for veRL to render with the model's chat template, or, given
a tokenizer, the chat prompt already rendered with it as one user message (rl.verl_export's launch script
then hands that text to the policy unchanged).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from countdown.io import atomic_path, write_rows
from countdown.prompts import chat_messages, render_prompt
from countdown.records import Problem


def write_jsonl(problems: Iterable[Problem], path: str | os.PathLike) -> Path:
    """One Problem record per line."""
    return write_rows((p.to_dict() for p in problems), path, fmt="jsonl")


def _messages(problem: Problem, template: str, tokenizer: Any = None) -> list[dict[str, str]]:
    if template == "chat" and tokenizer is None:
        return chat_messages(problem.numbers, problem.target)
    return [{"role": "user", "content": render_prompt(problem.numbers, problem.target, template, tokenizer)}]


def verl_rows(problems: Sequence[Problem], template: str = "base", data_source: str = "countdown",
              tokenizer: Any = None) -> list[dict[str, Any]]:
    """Rows in veRL's RL parquet schema."""
    rows = []
    for index, p in enumerate(problems):
        rows.append({
            "data_source": data_source,
            "prompt": _messages(p, template, tokenizer),
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": {"target": int(p.target),
                                                                "numbers": [int(n) for n in p.numbers]}},
            "extra_info": {"split": p.split, "index": index, "id": p.id},
        })
    return rows


def write_verl_parquet(problems: Sequence[Problem], path: str | os.PathLike, template: str = "base",
                       data_source: str = "countdown", tokenizer: Any = None) -> Path:
    """veRL RL parquet (data.train_files / data.val_files), written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = verl_rows(problems, template, data_source, tokenizer)
    schema = pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.struct(
            [("target", pa.int64()), ("numbers", pa.list_(pa.int64()))]))])),
        ("extra_info", pa.struct([("split", pa.string()), ("index", pa.int64()), ("id", pa.string())])),
    ])
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    return path


def trl_prompt_rows(problems: Sequence[Problem], template: str = "base", tokenizer: Any = None
                    ) -> list[dict[str, Any]]:
    """Rows for a TRL prompt dataset (GRPOTrainer): `prompt` plus the columns its reward function gets as kwargs.

    `base` gives the prompt as text (a completion-style dataset); `chat` gives the message list (a
    conversational dataset; TRL applies the tokenizer's chat template itself).
    """
    rows = []
    for p in problems:
        if template == "chat" and tokenizer is None:
            prompt: Any = chat_messages(p.numbers, p.target)
        else:
            prompt = render_prompt(p.numbers, p.target, template, tokenizer)
        rows.append({"prompt": prompt, "numbers": [int(n) for n in p.numbers], "target": int(p.target),
                     "id": p.id, "split": p.split})
    return rows


def write_trl_jsonl(problems: Sequence[Problem], path: str | os.PathLike, template: str = "base",
                    tokenizer: Any = None) -> Path:
    """trl_prompt_rows as JSONL (load with datasets.load_dataset("json", data_files=...))."""
    return write_rows(trl_prompt_rows(problems, template, tokenizer), path, fmt="jsonl")
