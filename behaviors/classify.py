"""Label traces (or any texts) with behavior counts: `python -m behaviors.classify`.

Input rows are Trace dicts from the rollout engine or any rows with a text column. Rows with `numbers` and
`target` are judged as Countdown traces, others as general text (override with --variant). The judge is
chosen by name (behaviors.judges); labels are joined to the input rows, a summary is printed, and with
--group-by the paper's results table is written per group.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from countdown.cli import CommandConfig, option, positional, run_cli
from countdown.io import InputError, format_of, read_numbered, write_rows
from countdown.records import BEHAVIORS, BehaviorLabel

from .aggregate import results_table
from .judges import VARIANTS, JudgeOptions, Judged, items_from_rows, label_rows, sample_rows


def summarize(labels: Sequence[BehaviorLabel]) -> list[dict[str, Any]]:
    """Per behavior: mean count per trace (judged traces), share of traces with >= 1, number of failures."""
    out = []
    for behavior in BEHAVIORS:
        values = [getattr(lab, behavior) for lab in labels]
        judged = [v for v in values if v is not None]
        out.append({"behavior": behavior, "mean": sum(judged) / len(judged) if judged else None,
                    "share_ge1": sum(v >= 1 for v in judged) / len(judged) if judged else None,
                    "failures": len(values) - len(judged)})
    return out


def format_summary(labels: Sequence[BehaviorLabel]) -> str:
    lines = [f"{'behavior':<18} {'mean/trace':>10} {'share>=1':>9} {'failures':>8}"]
    for row in summarize(labels):
        mean = "-" if row["mean"] is None else f"{row['mean']:.3f}"
        share = "-" if row["share_ge1"] is None else f"{row['share_ge1']:.3f}"
        lines.append(f"{row['behavior']:<18} {mean:>10} {share:>9} {row['failures']:>8}")
    lines.append(f"{len(labels)} traces")
    return "\n".join(lines)


def _joined(rows: Sequence[dict], judged: Sequence[Judged], fmt: str) -> list[dict]:
    out = []
    for row, j in zip(rows, judged):
        label = j.label.to_dict()
        if fmt in ("parquet", "csv"):   # a dict column with varying keys does not fit a table cell
            label["errors"] = json.dumps(label["errors"])
        out.append({**row, **label, **j.extras})
    return out


@dataclass(kw_only=True)
class ClassifyConfig(JudgeOptions, CommandConfig):
    """Count the four reasoning behaviors (verification, backtracking, subgoal setting, backward chaining) in
    traces or documents with the offline rule judge or an LLM judge, write the labels joined to the input rows,
    print a summary, optionally aggregate per group."""

    epilog = """examples:
  python -m behaviors.classify traces.jsonl --judge rules --out labeled.jsonl
  python -m behaviors.classify traces.parquet --judge llm --out labeled.jsonl \\
      --group-by condition,step --results results.csv     # paper protocol, 200 traces per group
  python -m behaviors.classify traces.jsonl --judge llm --judge-protocol combined --judge-sample 0 \\
      --out labeled.jsonl                                    # one cheap request per trace, every trace
  # a local vLLM server as the judge (no key needed):
  python -m behaviors.classify traces.jsonl --judge llm --judge-base-url http://localhost:8000/v1 \\
      --judge-model Qwen/Qwen2.5-7B-Instruct --out labeled.jsonl
  python -m behaviors.classify pages.jsonl --text-field text --judge rules --out pages_labeled.jsonl

LLM requests are cached (--judge-cache): re-running makes no requests, an interrupted run resumes."""

    input: str = positional("traces or documents (.jsonl/.json/.parquet/.csv)")
    out: str = option(help="labeled rows (input fields + label fields)", output="file")
    text_field: str = option("completion", "column holding the text")
    variant: str = option("auto", "prompt/rule variant; auto = countdown when a row has numbers and target",
                          choices=VARIANTS)
    group_by: str | None = option(None, "comma-separated columns, e.g. condition,step")
    results: str | None = option(None, "aggregated table path (default: <out>_results.csv)", output="file")
    seed: int = option(0, "seed for --judge-sample and retry jitter")

    def group_columns(self) -> list[str]:
        return [c.strip() for c in self.group_by.split(",") if c.strip()] if self.group_by else []

    def results_path(self) -> Path | None:
        if not self.group_columns():
            return None
        out = Path(self.out)
        return Path(self.results) if self.results else out.with_name(out.stem + "_results.csv")

    def validate(self) -> None:
        format_of(self.out)
        if self.results_path() is not None:
            format_of(self.results_path())
        super().validate()

    def outputs(self) -> dict[str, tuple[Path, str]]:
        found = super().outputs()
        found.pop("--results", None)   # written only with --group-by, at results_path()
        if self.results_path() is not None:
            found["--results"] = (self.results_path(), "file")
        return found


def main(argv: list[str] | None = None) -> int:
    config = ClassifyConfig.parse(argv)
    group_by = config.group_columns()
    numbered = read_numbered(config.input)
    if not numbered:
        raise InputError(f"{config.input}: no rows")
    rows = [row for _, row in numbered]
    missing = [c for c in group_by if all(c not in r for r in rows)]
    if missing:
        raise InputError(f"{config.input}: --group-by column(s) not in the input: {', '.join(missing)}")
    # every row is checked (and a bad one named by its line) before sampling and before any request
    items_from_rows(rows, config.text_field, config.variant, config.input, lines=[n for n, _ in numbered])
    total, sample = len(rows), config.sample_size()
    rows = sample_rows(rows, sample, group_by, config.seed)
    judge = config.make_judge(config.seed)
    judged = label_rows(rows, judge, text_field=config.text_field, variant=config.variant,
                        progress=sys.stderr.isatty(), source=config.input)
    config.check_labels([j.label for j in judged])
    write_rows(_joined(rows, judged, format_of(config.out)), config.out)
    labels = [j.label for j in judged]
    results_path = config.results_path()
    if results_path is not None:
        write_rows(results_table(rows, labels, group_by=group_by, text_field=config.text_field), results_path)
    print(format_summary(labels))
    if len(rows) < total:
        print(f"judged a seeded sample of {len(rows)} of {total} traces (at most {sample} per "
              f"{'group' if group_by else 'file'}, --seed {config.seed}; --judge-sample 0 judges all)")
    client = getattr(judge, "client", None)
    if client is not None:
        s = client.stats
        print(f"requests sent {s.requests} (retries {s.retries}), cache hits {s.cache_hits}, "
              f"failed calls {s.failures}")
    print(f"wrote {config.out}" + (f" and {results_path}" if results_path else ""))
    return 0


if __name__ == "__main__":
    run_cli(main)
