"""Load results tables (one row per condition x step, the schema in docs/architecture.md) for figures and reports.

Any number of CSV / parquet / JSONL / JSON files are validated against RESULTS_COLUMNS, concatenated and
sorted by (condition, step). Bad input raises countdown.io.InputError naming the file (and row), so the
CLIs exit 2 before writing anything.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from countdown.io import InputError, read_numbered
from countdown.records import RESULTS_BEHAVIOR_COLUMNS, RESULTS_COLUMNS

# Columns that must hold numbers; behavior and length cells may be empty (the judge failed or the
# evaluation skipped them), accuracy and step may not.
NUMERIC_COLUMNS = tuple(c for c in RESULTS_COLUMNS if c != "condition")
REQUIRED_NUMBERS = ("step", "accuracy")
AVG_BEHAVIOR_COLUMNS = tuple(avg for avg, _ in RESULTS_BEHAVIOR_COLUMNS.values())


def _row_place(path: Path, index: int) -> str:
    # CSV has a header line, so data row i sits on line i + 2; JSONL rows sit on line i + 1 (no blank lines
    # in files we write). Parquet has no lines: name the row.
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return f"{path}:{index + 2}"
    if suffix == ".jsonl":
        return f"{path}:{index + 1}"
    return f"{path}: row {index + 1}"


def _number(value, column: str, place: str, required: bool) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        if required:
            raise InputError(f"{place}: column {column!r} is empty")
        return math.nan
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{place}: column {column!r} must be a number, got {value!r}") from None


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """One results table file as a DataFrame with RESULTS_COLUMNS first (extra columns kept after them)."""
    path = Path(path)
    numbered = read_numbered(path)   # JSONL: the file's own line of each row, blank lines counted
    rows = [row for _, row in numbered]
    if not rows:
        raise InputError(f"{path}: the results table has no rows")
    present = set().union(*(r.keys() for r in rows))
    missing = [c for c in RESULTS_COLUMNS if c not in present]
    if missing:
        raise InputError(f"{path}: missing results column(s): {', '.join(missing)} "
                         f"(expected {', '.join(RESULTS_COLUMNS)})")
    clean = []
    for i, row in enumerate(rows):
        place = f"{path}:{numbered[i][0]}" if path.suffix.lower() == ".jsonl" else _row_place(path, i)
        out = dict(row)
        condition = row.get("condition")
        if condition is None or str(condition).strip() == "":
            raise InputError(f"{place}: column 'condition' is empty")
        out["condition"] = str(condition)
        for col in NUMERIC_COLUMNS:
            out[col] = _number(row.get(col), col, place, required=col in REQUIRED_NUMBERS)
        if not 0.0 <= out["accuracy"] <= 1.0:
            raise InputError(f"{place}: accuracy must lie in [0, 1], got {out['accuracy']}")
        if out["step"] != int(out["step"]) or out["step"] < 0:
            raise InputError(f"{place}: step must be a non-negative integer, got {row.get('step')!r}")
        out["step"] = int(out["step"])
        out["source"] = str(path)
        clean.append(out)
    frame = pd.DataFrame(clean)
    extra = [c for c in frame.columns if c not in RESULTS_COLUMNS]
    return frame[list(RESULTS_COLUMNS) + extra]


def load_results(paths: Iterable[str | os.PathLike], conditions: Sequence[str] | None = None) -> pd.DataFrame:
    """Validate, concatenate and sort results tables.

    A (condition, step) pair seen twice keeps the later row (files later on the command line win, and an
    evaluation that appended a re-run replaces its earlier row). `conditions` keeps only those, in that order
    (InputError if one is absent from every table).
    """
    paths = list(paths)
    if not paths:
        raise InputError("no results tables given")
    frames = [read_results(p) for p in paths]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.drop_duplicates(subset=["condition", "step"], keep="last")
    if conditions:
        known = set(frame["condition"])
        absent = [c for c in conditions if c not in known]
        if absent:
            raise InputError(f"condition(s) not in the results tables: {', '.join(absent)} "
                             f"(present: {', '.join(sorted(known))})")
        frame = frame[frame["condition"].isin(conditions)]
        order = {c: i for i, c in enumerate(conditions)}
        frame = frame.assign(_order=frame["condition"].map(order))
        frame = frame.sort_values(["_order", "step"]).drop(columns="_order")
    else:
        frame = frame.sort_values(["condition", "step"], kind="stable")
    return frame.reset_index(drop=True)


def condition_order(frame: pd.DataFrame) -> list[str]:
    """Conditions in the frame's row order (load_results sorts them, or keeps the --conditions order)."""
    return list(dict.fromkeys(frame["condition"]))


@dataclass
class ConditionSummary:
    condition: str
    first_step: int
    last_step: int
    start_accuracy: float
    end_accuracy: float
    max_accuracy: float
    max_step: int
    n_steps: int


def summarize(frame: pd.DataFrame) -> list[ConditionSummary]:
    """Start (first step), end (last step) and max accuracy per condition, in condition order."""
    out = []
    for condition in condition_order(frame):
        part = frame[frame["condition"] == condition].sort_values("step")
        best = part.loc[part["accuracy"].idxmax()]
        out.append(ConditionSummary(
            condition=condition,
            first_step=int(part["step"].iloc[0]), last_step=int(part["step"].iloc[-1]),
            start_accuracy=float(part["accuracy"].iloc[0]), end_accuracy=float(part["accuracy"].iloc[-1]),
            max_accuracy=float(best["accuracy"]), max_step=int(best["step"]), n_steps=len(part)))
    return out
