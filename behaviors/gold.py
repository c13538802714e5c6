"""The hand-labelled Countdown gold set (behaviors/gold/countdown_gold.jsonl) and scoring a judge against it.

Each gold row has `id`, `numbers`, `target`, `completion`, `style`, `split` (dev / holdout), the four behavior
counts labelled by hand from the definitions in behaviors/taxonomy.py, and an optional `note`. How the traces
were written and labelled is in behaviors/gold/README.md.

    from behaviors.gold import load_gold, rule_labels
    from behaviors.agreement import score_against_gold
    gold = load_gold()
    table = score_against_gold(rule_labels(gold), gold)      # per behavior: n, presence accuracy, kappa, pearson

Scoring lives in behaviors.agreement (`score_against_gold`, and `python -m behaviors.agreement --gold` for any
judge): presence accuracy (both >= 1 or both 0), Cohen's kappa on presence and the Pearson correlation of
counts, over the gold rows the judge labelled (joined on id; a null count is left out).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterable, Sequence

from countdown.data import is_integer
from countdown.io import InputError, read_numbered
from countdown.records import BEHAVIORS

GOLD_PATH = Path(__file__).resolve().parent / "gold" / "countdown_gold.jsonl"
SPLITS = ("dev", "holdout")
SPLIT_SEED = 0
FIELDS = ("id", "numbers", "target", "completion", "style") + BEHAVIORS


def load_gold(split: str | None = None, path: str | Path | None = None) -> list[dict[str, Any]]:
    """The gold rows (all, or one split), read from the package's JSONL unless `path` is given. A bad file or
    row (a missing field, numbers or target that are not integers, a count that is not a whole number >= 0,
    an id seen twice) is an InputError naming the file line."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    path = Path(path or GOLD_PATH)
    rows, seen = [], {}
    for line, row in read_numbered(path):
        where = f"{path}:{line}"
        missing = [k for k in FIELDS if k not in row]
        if missing:
            raise InputError(f"{where}: not a gold row, missing {', '.join(missing)}")
        numbers, target = row["numbers"], row["target"]
        if not (isinstance(numbers, list) and numbers and all(map(is_integer, numbers)) and is_integer(target)):
            raise InputError(f"{where}: 'numbers' must be a non-empty list of integers and 'target' an integer")
        bad = [b for b in BEHAVIORS if not (is_integer(row[b]) and row[b] >= 0)]
        if bad:
            raise InputError(f"{where}: {', '.join(bad)} must be whole numbers >= 0 (hand-labelled counts)")
        key = str(row["id"])
        if key in seen:
            raise InputError(f"{where}: id {key[:40]!r} already on line {seen[key]}")
        seen[key] = line
        rows.append(row)
    return [r for r in rows if split is None or r.get("split") == split]


def assign_splits(rows: Sequence[dict[str, Any]], seed: int = SPLIT_SEED) -> dict[str, str]:
    """id -> dev/holdout: a seeded 50/50 split stratified by style. Within each style the ids are shuffled
    with a style-specific seed and the first half goes to dev; a style with an odd count gives its extra row
    to dev and holdout in turn (styles in sorted order), so the two halves differ by at most one row."""
    by_style: dict[str, list[str]] = {}
    for row in rows:
        by_style.setdefault(row["style"], []).append(row["id"])
    out: dict[str, str] = {}
    odd = 0
    for style in sorted(by_style):
        ids = sorted(by_style[style])
        random.Random(f"{seed}|{style}").shuffle(ids)
        half = len(ids) // 2
        if len(ids) % 2:
            half += 1 - odd % 2   # extra row: dev, holdout, dev, ...
            odd += 1
        out.update({i: ("dev" if k < half else "holdout") for k, i in enumerate(ids)})
    return out


def rule_labels(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rule judge's counts for gold rows (or any rows with id, completion, numbers, target)."""
    from .rules import count_behaviors

    return [{"id": r["id"], **count_behaviors(r["completion"], list(r["numbers"]), int(r["target"]))} for r in rows]
