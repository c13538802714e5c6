"""Per-checkpoint, per-condition aggregation of behavior labels into the paper's results table.

One row per group (by default condition x step) with the columns of countdown.records.RESULTS_COLUMNS:
avg_* is the mean count over the traces whose label for that behavior is not null (a judge failure is left
out, never read as 0), total_* the sum over those traces, accuracy the share of traces with reward 1.0
(or `correct` when there is no reward), response_length the mean completion length in characters. Every row
also records `judged` (traces with a label: the judged sample, when one was drawn) and `judge_failed` (behavior
judgments among them, one per trace and behavior, that the judge could not give), countdown.records'
RESULTS_JUDGE_COLUMNS.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from countdown.records import BEHAVIORS, RESULTS_BEHAVIOR_COLUMNS, RESULTS_COLUMNS, BehaviorLabel


def _label_dict(label: BehaviorLabel | dict[str, Any]) -> dict[str, Any]:
    return label.to_dict() if isinstance(label, BehaviorLabel) else dict(label)


def _pair(trace_rows: Sequence[dict], labels: Sequence[BehaviorLabel | dict]) -> list[tuple[dict, dict]]:
    """Match labels to traces: by position when the lists line up, else by trace_id."""
    labels = [_label_dict(lab) for lab in labels]
    ids = [row.get("trace_id") for row in trace_rows]
    if len(labels) == len(trace_rows) and all(i is None or i == lab["trace_id"] for i, lab in zip(ids, labels)):
        return list(zip(trace_rows, labels))
    by_id = {lab["trace_id"]: lab for lab in labels}
    return [(row, by_id.get(row.get("trace_id"), {})) for row in trace_rows]


def _success(row: dict) -> float | None:
    reward = row.get("reward")
    if reward is not None:
        return float(float(reward) == 1.0)
    correct = row.get("correct")
    return None if correct is None else float(bool(correct))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _sort_key(key: tuple) -> tuple:
    # None first, numbers before strings, so steps sort numerically within each condition
    return tuple((v is not None, isinstance(v, str), v if v is not None else 0) for v in key)


def results_table(trace_rows: Iterable[dict[str, Any]], labels: Iterable[BehaviorLabel | dict[str, Any]],
                  group_by: Sequence[str] = ("condition", "step"), text_field: str = "completion",
                  with_counts: bool = False) -> list[dict[str, Any]]:
    """Rows in RESULTS_COLUMNS order (plus any group_by column the schema lacks, first), then
    RESULTS_JUDGE_COLUMNS, sorted by group.

    with_counts adds `num_traces` and, per behavior, `failed_<behavior>` (labels that are null).
    """
    trace_rows, labels = list(trace_rows), list(labels)
    groups: dict[tuple, list[tuple[dict, dict]]] = {}
    for row, label in _pair(trace_rows, labels):
        groups.setdefault(tuple(row.get(col) for col in group_by), []).append((row, label))
    out = []
    for key in sorted(groups, key=_sort_key):
        members = groups[key]
        result: dict[str, Any] = {col: val for col, val in zip(group_by, key) if col not in RESULTS_COLUMNS}
        grouped = dict(zip(group_by, key))
        for col in RESULTS_COLUMNS:
            result[col] = grouped.get(col)
        for behavior in BEHAVIORS:
            avg_col, total_col = RESULTS_BEHAVIOR_COLUMNS[behavior]
            counts = [lab[behavior] for _, lab in members if lab.get(behavior) is not None]
            result[avg_col] = _mean(counts)
            result[total_col] = sum(counts) if counts else None
        successes = [s for row, _ in members if (s := _success(row)) is not None]
        result["accuracy"] = _mean(successes)
        result["response_length"] = _mean([len(row.get(text_field) or "") for row, _ in members])
        labelled = [lab for _, lab in members if lab]
        result["judged"] = len(labelled)
        result["judge_failed"] = sum(lab.get(b) is None for lab in labelled for b in BEHAVIORS)
        if with_counts:
            result["num_traces"] = len(members)
            for behavior in BEHAVIORS:
                result[f"failed_{behavior}"] = sum(1 for _, lab in members if lab.get(behavior) is None)
        out.append(result)
    return out
