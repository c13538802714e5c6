"""How well two judges agree on the same traces: `python -m behaviors.agreement A.jsonl B.jsonl`.

Per behavior, over the traces both judges labelled (joined on trace_id, null counts left out): presence
accuracy (both say >= 1 or both say 0), Cohen's kappa on presence, and the Pearson correlation of counts.
Kappa and correlation are undefined (None) when a judge gives the same answer for every trace.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from countdown.cli import CommandConfig, option, positional, run_cli
from countdown.data import is_integer
from countdown.io import InputError, read_numbered, write_rows
from countdown.records import BEHAVIORS


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    n = len(x)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def agreement(rows_a: Sequence[dict[str, Any]], rows_b: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per behavior: n, presence_accuracy, kappa, count_pearson, mean_a, mean_b."""
    by_id = {r["trace_id"]: r for r in rows_b if r.get("trace_id") is not None}
    pairs = [(r, by_id[r["trace_id"]]) for r in rows_a if r.get("trace_id") in by_id]
    out = []
    for behavior in BEHAVIORS:
        both = [(int(a[behavior]), int(b[behavior])) for a, b in pairs
                if a.get(behavior) is not None and b.get(behavior) is not None]
        xs, ys = [p[0] for p in both], [p[1] for p in both]
        present_a, present_b = [x >= 1 for x in xs], [y >= 1 for y in ys]
        n = len(both)
        out.append({
            "behavior": behavior, "n": n,
            "presence_accuracy": sum(p == q for p, q in zip(present_a, present_b)) / n if n else None,
            "kappa": cohen_kappa(present_a, present_b),
            "count_pearson": pearson(xs, ys),
            "mean_a": sum(xs) / n if n else None, "mean_b": sum(ys) / n if n else None,
        })
    return out


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


@dataclass(kw_only=True)
class AgreementConfig(CommandConfig):
    """Agreement between two judges' labels of the same traces (joined on trace_id): per behavior presence
    accuracy, Cohen's kappa on presence and Pearson correlation of counts."""

    epilog = "example:\n  python -m behaviors.agreement labels_llm.jsonl labels_rules.jsonl --out agreement.csv"

    a: str = positional("labels from judge A (output of behaviors.classify)")
    b: str = positional("labels from judge B")
    out: str | None = option(None, "also write the table (.csv/.jsonl/.json/.parquet)", output="file")
    seed: int = option(0, "unused (deterministic); accepted for CLI uniformity")


def read_labels(path: str) -> list[dict[str, Any]]:
    """A classify output's rows, checked: a trace_id once per file and each count a whole number >= 0 or
    null (a failed judgment). Anything else is an InputError naming the file line."""
    rows, seen = [], {}
    for line, row in read_numbered(path):
        where = f"{path}:{line}"
        if row.get("trace_id") is None or not any(b in row for b in BEHAVIORS):
            raise InputError(f"{where}: needs trace_id and behavior counts (a classify output)")
        trace_id = str(row["trace_id"])
        if trace_id in seen:
            raise InputError(f"{where}: trace_id {trace_id!r} already labelled on line {seen[trace_id]}")
        seen[trace_id] = line
        for behavior in BEHAVIORS:
            value = row.get(behavior)
            if value is not None and not (is_integer(value) and value >= 0):
                raise InputError(f"{where}: {behavior} must be a whole number >= 0 or null, got {str(value)[:40]!r}")
        rows.append({**row, "trace_id": trace_id})
    return rows


def main(argv: list[str] | None = None) -> int:
    config = AgreementConfig.parse(argv)
    rows_a, rows_b = read_labels(config.a), read_labels(config.b)
    table = agreement(rows_a, rows_b)
    if not any(t["n"] for t in table):
        raise InputError(f"{config.a} and {config.b} share no labelled trace_id")
    print(f"{'behavior':<18} {'n':>5} {'presence_acc':>12} {'kappa':>7} {'pearson':>8} {'mean_a':>7} {'mean_b':>7}")
    for t in table:
        print(f"{t['behavior']:<18} {t['n']:>5} {_fmt(t['presence_accuracy']):>12} {_fmt(t['kappa']):>7} "
              f"{_fmt(t['count_pearson']):>8} {_fmt(t['mean_a']):>7} {_fmt(t['mean_b']):>7}")
    if config.out:
        write_rows(table, config.out)
    return 0


if __name__ == "__main__":
    run_cli(main)
