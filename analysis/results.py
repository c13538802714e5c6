"""Load results tables (one row per condition x step, the schema in docs/architecture.md) for figures and reports.

Any number of CSV / parquet / JSONL / JSON files are validated against RESULTS_COLUMNS and concatenated. Each
table is a model: its `model` column, else the file's stem, or NAME when given as `FILE:NAME` (so the
paper authors' per-model tables, which share condition names, stay apart). Their condition names are mapped
to the toolkit's (analysis.paper_numbers.toolkit_condition; the original is kept in `original_condition`).
Rows are sorted by model (in the order the files came), condition, step. Bad input raises
countdown.io.InputError naming the file (and row), so the CLIs exit 2 before writing anything.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from analysis.paper_numbers import toolkit_condition
from countdown.io import InputError, read_numbered, read_rows
from countdown.records import RESULTS_BEHAVIOR_COLUMNS, RESULTS_COLUMNS

# Columns that must hold numbers; behavior and length cells may be empty (the judge failed or the
# evaluation skipped them), accuracy and step may not.
NUMERIC_COLUMNS = tuple(c for c in RESULTS_COLUMNS if c != "condition")
REQUIRED_NUMBERS = ("step", "accuracy")
COUNT_COLUMNS = tuple(c for c in NUMERIC_COLUMNS if c not in REQUIRED_NUMBERS)  # behaviors and length: >= 0
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
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{place}: column {column!r} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(f"{place}: column {column!r} must be a finite number, got {value!r}")
    if column in COUNT_COLUMNS and number < 0:
        raise InputError(f"{place}: column {column!r} is a count and cannot be negative, got {value!r}")
    return number


def table_argument(arg: str | os.PathLike) -> tuple[Path, str | None]:
    """`FILE` or `FILE:NAME` (NAME names the table's model) -> (path, NAME or None)."""
    text = str(arg)
    head, colon, name = text.rpartition(":")
    if Path(text).exists() or not colon or not head or not Path(head).exists():
        return Path(text), None
    if not name.strip():
        raise InputError(f"{text}: empty model name after ':' (FILE:NAME)")
    return Path(head), name.strip()


SHARE_TABLE_SUFFIXES = (".csv", ".parquet", ".jsonl")


def is_share_table(path: str | os.PathLike) -> bool:
    """A table with `condition` and `average_score` but no results columns: the paper authors' per-set table
    of the share of correct answers in each priming set (analysis.figures.read_share_table reads it)."""
    path = Path(path)
    if path.suffix.lower() not in SHARE_TABLE_SUFFIXES or not path.is_file():
        return False
    rows = read_rows(path)
    return bool(rows) and "average_score" in rows[0] and "accuracy" not in rows[0]


def read_results(path: str | os.PathLike, model: str | None = None) -> pd.DataFrame:
    """One results table file as a DataFrame with RESULTS_COLUMNS first (extra columns kept after them).

    `model` names the table's model; without it the `model` column is used, else the file's stem.
    """
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
        out["original_condition"] = str(condition)
        out["condition"] = toolkit_condition(str(condition))
        own = row.get("model")
        if model is None and own is not None and str(own).strip() in ("", "nan"):
            raise InputError(f"{place}: column 'model' is empty")
        out["model"] = model if model is not None else str(own).strip() if own is not None else path.stem
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
    """Validate, concatenate and sort results tables (each `FILE` or `FILE:MODEL`).

    A (model, condition, step) seen twice keeps the later row (an evaluation that appended a re-run replaces
    its earlier row; two files given the same model name merge, the later one winning). `conditions` keeps
    only those (our names or the paper authors'), in that order (InputError if one is absent from every table).
    """
    paths = list(paths)
    if not paths:
        raise InputError("no results tables given")
    frame = pd.concat([read_results(*table_argument(p)) for p in paths], ignore_index=True)
    frame = frame.drop_duplicates(subset=["model", "condition", "step"], keep="last")
    models = {m: i for i, m in enumerate(dict.fromkeys(frame["model"]))}
    if conditions:
        wanted = list(dict.fromkeys(toolkit_condition(c) for c in conditions))
        known = set(frame["condition"])
        absent = [c for c in conditions if toolkit_condition(c) not in known]
        if absent:
            raise InputError(f"condition(s) not in the results tables: {', '.join(absent)} "
                             f"(present: {', '.join(sorted(known))})")
        frame = frame[frame["condition"].isin(wanted)]
        order = {c: i for i, c in enumerate(wanted)}
    else:
        order = {c: i for i, c in enumerate(sorted(set(frame["condition"])))}
    frame = frame.assign(_model=frame["model"].map(models), _condition=frame["condition"].map(order))
    frame = frame.sort_values(["_model", "_condition", "step"], kind="stable").drop(columns=["_model", "_condition"])
    return frame.reset_index(drop=True)


def condition_order(frame: pd.DataFrame) -> list[str]:
    """Conditions in the frame's row order (load_results sorts them, or keeps the --conditions order)."""
    return list(dict.fromkeys(frame["condition"]))


Series = tuple[str, str]   # (model, condition): one line in every figure, one row in the report's tables


def series(frame: pd.DataFrame, conditions: Sequence[str] | None = None) -> list[Series]:
    """(model, condition) pairs in the frame's row order, optionally only those conditions."""
    models = frame["model"] if "model" in frame else [""] * len(frame)
    pairs = dict.fromkeys(zip(models, frame["condition"]))
    return [p for p in pairs if conditions is None or p[1] in conditions]


def series_rows(frame: pd.DataFrame, key: Series) -> pd.DataFrame:
    """One series' rows, by step."""
    model, condition = key
    part = frame[frame["condition"] == condition]
    if "model" in part:
        part = part[part["model"] == model]
    return part.sort_values("step")


def shared_conditions(frame: pd.DataFrame) -> set[str]:
    """Conditions that appear under more than one model (their labels need the model's name)."""
    counts: dict[str, int] = {}
    for _, condition in series(frame):
        counts[condition] = counts.get(condition, 0) + 1
    return {c for c, n in counts.items() if n > 1}


def series_labels(frame: pd.DataFrame) -> dict[Series, str]:
    """A label per series: the condition, or `model: condition` where several models share the condition."""
    shared = shared_conditions(frame)
    return {(m, c): f"{m}: {c}" if c in shared else c for m, c in series(frame)}


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
    model: str = ""


def summarize(frame: pd.DataFrame) -> list[ConditionSummary]:
    """Start (first step), end (last step) and max accuracy per series (model, condition), in row order."""
    out = []
    for key in series(frame):
        part = series_rows(frame, key)
        best = part.loc[part["accuracy"].idxmax()]
        out.append(ConditionSummary(
            condition=key[1], model=key[0],
            first_step=int(part["step"].iloc[0]), last_step=int(part["step"].iloc[-1]),
            start_accuracy=float(part["accuracy"].iloc[0]), end_accuracy=float(part["accuracy"].iloc[-1]),
            max_accuracy=float(best["accuracy"]), max_step=int(best["step"]), n_steps=len(part)))
    return out
