"""How well a judge agrees with another judge or with the hand-labelled gold set: `python -m behaviors.agreement`.

    python -m behaviors.agreement A.jsonl B.jsonl           # two judges' labels of the same traces
    python -m behaviors.agreement A.jsonl --gold            # a judge's labels of the gold traces vs the gold labels
    python -m behaviors.agreement --gold --judge llm ...    # label the gold set with any judge, then score it

Per behavior, over the traces both sides labelled (joined on trace_id, or the gold set's id; null counts left
out): presence accuracy (both say >= 1 or both say 0), Cohen's kappa on presence, and the Pearson correlation
of counts. Kappa and correlation are undefined (None) when a side gives the same answer for every trace.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from countdown.cli import CommandConfig, option, positional, run_cli
from countdown.data import is_integer
from countdown.io import InputError, read_numbered, write_rows
from countdown.records import BEHAVIORS

from .gold import GOLD_PATH, SPLITS, load_gold
from .judges import JudgeOptions, label_rows, sample_rows


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


def score_against_gold(labels_rows: Sequence[dict[str, Any]], gold_rows: Sequence[dict[str, Any]]
                       ) -> dict[str, dict[str, Any]]:
    """Per behavior: n, presence_accuracy, kappa, pearson (None when undefined), mean_judge, mean_gold.

    `labels_rows` are a judge's rows keyed by `id` (or `trace_id`, as behaviors.classify writes them); only
    gold rows with a label count. Kappa and Pearson are None when either side is constant."""
    def keyed(rows, key_order):
        return [{**r, "trace_id": next((r[k] for k in key_order if r.get(k) is not None), None)} for r in rows]

    table = agreement(keyed(labels_rows, ("id", "trace_id")), keyed(gold_rows, ("id",)))
    return {t["behavior"]: {"n": t["n"], "presence_accuracy": t["presence_accuracy"], "kappa": t["kappa"],
                            "pearson": t["count_pearson"], "mean_judge": t["mean_a"], "mean_gold": t["mean_b"]}
            for t in table}


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


@dataclass(kw_only=True)
class AgreementConfig(JudgeOptions, CommandConfig):
    """Agreement between two judges' labels of the same traces, or between a judge and the hand-labelled gold
    set (behaviors/gold/): per behavior presence accuracy, Cohen's kappa on presence and Pearson correlation of
    counts. With --gold and no label file, the judge named by --judge labels the gold traces first."""

    epilog = """examples:
  python -m behaviors.agreement labels_llm.jsonl labels_rules.jsonl --out agreement.csv
  python -m behaviors.agreement --gold                                  # the rule judge vs the gold set
  python -m behaviors.agreement --gold --judge llm --judge-base-url http://localhost:8000/v1 \\
      --judge-model Qwen/Qwen2.5-7B-Instruct --out gold_llm.csv         # any OpenAI-compatible judge
  python -m behaviors.agreement labeled_gold.jsonl --gold --split holdout   # labels made earlier"""

    a: str | None = positional("labels from judge A (output of behaviors.classify); with --gold, optional",
                               default=None)
    b: str | None = positional("labels from judge B (not with --gold)", default=None)
    gold: bool = option(False, "compare with the gold set's hand labels instead of judge B")
    gold_file: str | None = option(None, "another gold set (JSONL rows: id, numbers, target, completion, style, "
                                   "split, the four counts; default: behaviors/gold/countdown_gold.jsonl)")
    split: str = option("all", "gold rows to use", choices=SPLITS + ("all",))
    labels_out: str | None = option(None, "with --gold and no label file: also write the judge's labels of the "
                                    "gold traces", output="file")
    out: str | None = option(None, "also write the table (.csv/.jsonl/.json/.parquet)", output="file")
    seed: int = option(0, "seed of --judge-sample (the gold set has 152 traces: any default sample takes all)")

    def validate(self) -> None:
        if self.gold and self.b:
            raise InputError("--gold compares one label file (or a fresh judge) with the gold set: give at most A")
        if not self.gold and not (self.a and self.b):
            raise InputError("give two label files A B, or --gold (with or without a label file)")
        super().validate()


def _gold_rows(config: AgreementConfig) -> list[dict[str, Any]]:
    path = config.gold_file or GOLD_PATH
    rows = load_gold(None if config.split == "all" else config.split, path)   # a bad row: InputError, its line
    if not rows:
        raise InputError(f"{path}: no gold rows in split {config.split!r}")
    return [{**r, "trace_id": r["id"]} for r in rows]


def _judge_gold(config: AgreementConfig, gold: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The judge's labels of the gold traces (a seeded sample if --judge-sample is smaller than the set)."""
    rows = sample_rows(gold, config.sample_size(), seed=config.seed)
    judge = config.make_judge(config.seed)
    judged = label_rows(rows, judge, variant="countdown", progress=sys.stderr.isatty(),
                        source=str(config.gold_file or GOLD_PATH))
    config.check_labels([j.label for j in judged])   # a judge that mostly failed scores nothing
    labels = [j.label.to_dict() for j in judged]
    failed = sum(v is None for lab in labels for v in (lab[b] for b in BEHAVIORS))
    first = labels[0]
    print(f"judge {first['judge']} (protocol {first['protocol']}, prompt {first['prompt_version']}) labelled "
          f"{len(labels)} gold traces; failed judgments {failed}")
    if config.labels_out:
        write_rows(labels, config.labels_out)
    return labels


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
    if config.gold:
        rows_b = _gold_rows(config)
        rows_a = read_labels(config.a) if config.a else _judge_gold(config, rows_b)
        names = (config.a or f"judge {rows_a[0]['judge']}", f"gold set ({config.split}, {len(rows_b)} rows)")
    else:
        rows_a, rows_b = read_labels(config.a), read_labels(config.b)
        names = (config.a, config.b)
    table = agreement(rows_a, rows_b)
    if not any(t["n"] for t in table):
        raise InputError(f"{names[0]} and {names[1]} share no labelled trace_id")
    print(f"A = {names[0]}, B = {names[1]}")
    print(f"{'behavior':<18} {'n':>5} {'presence_acc':>12} {'kappa':>7} {'pearson':>8} {'mean_a':>7} {'mean_b':>7}")
    for t in table:
        print(f"{t['behavior']:<18} {t['n']:>5} {_fmt(t['presence_accuracy']):>12} {_fmt(t['kappa']):>7} "
              f"{_fmt(t['count_pearson']):>8} {_fmt(t['mean_a']):>7} {_fmt(t['mean_b']):>7}")
    if config.out:
        write_rows(table, config.out)
    return 0


if __name__ == "__main__":
    run_cli(main)
