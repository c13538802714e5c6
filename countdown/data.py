"""Loading problems from files: our Problem JSONL/parquet, or TinyZero's Countdown-Tasks-3to4 files.

TinyZero rows have `nums` and `target` (no id); our rows have `numbers`, `target`, `id`, `split`, ... A veRL
parquet written by countdown.export is read too (numbers and target from reward_model.ground_truth). Every bad
row is reported as file:line (line = 1-based row number for parquet/JSON).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from countdown.io import InputError, brief, read_numbered
from countdown.records import Problem, RecordError


def load_problems(path: str | os.PathLike, split: str | None = None) -> list[Problem]:
    """All problems in `path`; `split` keeps only rows of that split (and names the split of rows without one)."""
    path = Path(path)
    problems = []
    for lineno, row in read_numbered(path):
        problem = _problem(row, lineno, path, split)
        if split is None or problem.split == split:
            problems.append(problem)
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"{path}: problem id {dup!r} appears more than once")
    return problems


def require_problems(path: str | os.PathLike, split: str | None = None) -> list[Problem]:
    """load_problems for a CLI input that must not be empty: an empty file or split is an InputError."""
    problems = load_problems(path, split=split)
    if not problems:
        raise InputError(f"{path}: no problems" + (f" in split {split!r}" if split else ""))
    return problems


# Every number must fit the 64-bit integers of parquet, numpy and the trainers' tensors.
INT64_MAX = 2 ** 63 - 1


def is_integer(value: Any) -> bool:
    """An exact integer within 64 bits. Parquet/CSV may hand back 3.0 for 3; anything not exactly integral
    (22.9, NaN, "3", True) is not an integer, never rounded."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return False
    return abs(value) <= INT64_MAX


def _problem(row: dict[str, Any], lineno: int, path: Path, split: str | None) -> Problem:
    where = f"{path}:{lineno}"
    data = dict(row)
    if "numbers" not in data and "nums" in data:            # TinyZero
        data["numbers"] = data.pop("nums")
    truth = (data.get("reward_model") or {}).get("ground_truth") if isinstance(data.get("reward_model"), dict) else None
    if "numbers" not in data and isinstance(truth, dict):   # our veRL parquet
        data["numbers"], data["target"] = truth.get("numbers"), truth.get("target")
        extra = data.get("extra_info") or {}
        data.setdefault("id", extra.get("id"))
        data.setdefault("split", extra.get("split"))
    numbers, target = data.get("numbers"), data.get("target")
    if not isinstance(numbers, (list, tuple)) or not numbers:
        raise InputError(f"{where}: 'numbers' (or 'nums') must be a non-empty list of integers, "
                         f"got {brief(repr(numbers), 60)}")
    for value in list(numbers) + [target]:
        if not is_integer(value):
            raise InputError(f"{where}: numbers and target must be integers within 64 bits, "
                             f"got {brief(repr(value), 60)}")
    if data.get("id") is None:
        data["id"] = f"{path.stem}-{lineno:06d}"
    if data.get("split") is None:
        data["split"] = split or "train"
    try:
        return Problem.from_dict(data)
    except RecordError as exc:
        raise InputError(f"{where}: {exc}") from None

