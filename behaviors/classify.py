"""Label traces (or any texts) with behavior counts: `label_traces` and `python -m behaviors.classify`.

Input rows are Trace dicts from the rollout engine or any rows with a text column. Rows with `numbers` and
`target` are judged as Countdown traces, others as general text (override with variant=).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from typing import Any, Sequence

from countdown.io import InputError, format_of, read_rows, run_cli, write_rows
from countdown.records import BEHAVIORS, BehaviorLabel

from .aggregate import results_table
from .llm_judge import Item, Judged, LLMJudge
from .prompts import MODES
from .rules import RULES_VERSION, count_behaviors, count_text_behaviors

JUDGES = ("rules", "llm")
DEFAULT_CACHE = Path(os.environ.get("COGBEHAVE_CACHE", Path.home() / ".cache" / "cogbehave")) / "judge.sqlite"


def trace_id_of(row: dict[str, Any], index: int) -> str:
    """The row's trace_id; else the Trace-style id built from its fields; else its id; else its position."""
    if row.get("trace_id") is not None:
        return str(row["trace_id"])
    if row.get("model") is not None and row.get("id") is not None:
        step = "base" if row.get("step") is None else row["step"]
        return f"{row['model']}@{step}/{row['id']}#{row.get('sample_idx', 0)}"
    if row.get("id") is not None:
        return str(row["id"])
    return f"row{index}"


def _items(rows: Sequence[dict[str, Any]], text_field: str, variant: str, source: str) -> list[Item]:
    """Validated judge items; bad rows raise InputError naming the row."""
    items = []
    for i, row in enumerate(rows):
        where = f"{source}: row {i + 1}"
        text = row.get(text_field)
        if not isinstance(text, str):
            have = ", ".join(sorted(row)[:12])
            raise InputError(f"{where}: no text in field {text_field!r} (fields: {have}; use --text-field)")
        has_problem = row.get("numbers") is not None and row.get("target") is not None
        kind = variant if variant != "auto" else ("countdown" if has_problem else "text")
        numbers = target = None
        if kind == "countdown":
            try:
                numbers, target = [int(n) for n in row["numbers"]], int(row["target"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{where}: the countdown variant needs integer 'numbers' and 'target'") from None
        items.append(Item(trace_id_of(row, i), text, kind, numbers, target))
    return items


def _rule_label(item: Item) -> Judged:
    if item.variant == "countdown":
        counts, extras = count_behaviors(item.text, item.numbers, item.target), {}
    else:
        counts = count_text_behaviors(item.text)
        extras = {k: counts.pop(k) for k in ("has_problem", "has_solution")}
    label = BehaviorLabel(item.trace_id, *(counts[b] for b in BEHAVIORS), judge="rules",
                          prompt_version=f"{RULES_VERSION}/{item.variant}")
    return Judged(label, extras)


def judge_rows(rows: Sequence[dict[str, Any]], judge: str = "rules", *, text_field: str = "completion",
               variant: str = "auto", mode: str = "per-behavior", llm: LLMJudge | None = None,
               progress: bool = False, source: str = "input", **llm_opts: Any) -> list[Judged]:
    """Labels plus extra answers (has_problem/has_solution for general text), one per row, in order."""
    if judge not in JUDGES:
        raise InputError(f"unknown judge {judge!r} (choose from {', '.join(JUDGES)})")
    if variant not in ("auto", "countdown", "text"):
        raise InputError(f"unknown variant {variant!r} (choose from auto, countdown, text)")
    items = _items(rows, text_field, variant, source)
    if judge == "rules":
        return [_rule_label(item) for item in items]
    if llm is None:
        llm_opts.setdefault("cache", DEFAULT_CACHE)   # a paid run should always be resumable
        llm = LLMJudge(mode=mode, **llm_opts)
    return llm.label(items, progress=progress)


def label_traces(rows: Sequence[dict[str, Any]], judge: str = "rules", **opts: Any) -> list[BehaviorLabel]:
    """One BehaviorLabel per row. opts: text_field, variant, mode, llm (an LLMJudge), progress, and for
    judge="llm" any ChatClient option (model, base_url, api_key_env, concurrency, rpm, cache, ...)."""
    return [j.label for j in judge_rows(rows, judge, **opts)]


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


def _sample(rows: list[dict], n: int | None, group_by: Sequence[str], seed: int) -> list[dict]:
    """Up to n rows per group (the paper judges 200 responses per checkpoint), original order kept."""
    if not n:
        return rows
    rng = random.Random(seed)
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(tuple(row.get(c) for c in group_by), []).append(i)
    keep = sorted(i for idx in groups.values() for i in (rng.sample(idx, n) if len(idx) > n else idx))
    return [rows[i] for i in keep]


def _joined(rows: Sequence[dict], judged: Sequence[Judged], fmt: str) -> list[dict]:
    out = []
    for row, j in zip(rows, judged):
        label = j.label.to_dict()
        if fmt in ("parquet", "csv"):   # a dict column with varying keys does not fit a table cell
            label["errors"] = json.dumps(label["errors"])
        out.append({**row, **label, **j.extras})
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m behaviors.classify",
        description="Count the four reasoning behaviors (verification, backtracking, subgoal setting, backward "
                    "chaining) in traces or documents with the offline rule judge or an LLM judge, write the "
                    "labels joined to the input rows, print a summary, optionally aggregate per group.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  python -m behaviors.classify traces.jsonl --judge rules --out labeled.jsonl
  python -m behaviors.classify traces.parquet --judge llm --mode combined --out labeled.jsonl \\
      --group-by condition,step --sample 200 --results results.csv
  # a local vLLM server as the judge (no key needed):
  python -m behaviors.classify traces.jsonl --judge llm --base-url http://localhost:8000/v1 \\
      --model Qwen/Qwen2.5-7B-Instruct --out labeled.jsonl
  python -m behaviors.classify pages.jsonl --text-field text --judge rules --out pages_labeled.jsonl

LLM requests are cached (--cache): re-running makes no requests, an interrupted run resumes.""")
    p.add_argument("input", help="traces or documents (.jsonl/.json/.parquet/.csv)")
    p.add_argument("--out", required=True, help="labeled rows (input fields + label fields)")
    p.add_argument("--judge", choices=JUDGES, default="rules", help="rules (offline, default) or llm")
    p.add_argument("--mode", choices=MODES, default="per-behavior",
                   help="llm: one request per behavior (paper) or one combined request")
    p.add_argument("--text-field", default="completion", help="column holding the text (default completion)")
    p.add_argument("--variant", choices=("auto", "countdown", "text"), default="auto",
                   help="prompt/rule variant; auto = countdown when a row has numbers and target")
    p.add_argument("--group-by", default=None, help="comma-separated columns, e.g. condition,step")
    p.add_argument("--results", default=None, help="aggregated table path (default: <out>_results.csv)")
    p.add_argument("--sample", type=int, default=None, help="judge at most N random rows per group")
    p.add_argument("--seed", type=int, default=0, help="seed for --sample and retry jitter")
    g = p.add_argument_group("llm judge")
    g.add_argument("--model", default="gpt-4o-mini")
    g.add_argument("--base-url", default="https://api.openai.com/v1")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    g.add_argument("--concurrency", type=int, default=8)
    g.add_argument("--rpm", type=float, default=None, help="requests-per-minute limit")
    g.add_argument("--max-retries", type=int, default=5)
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    g.add_argument("--cache", default=str(DEFAULT_CACHE), help="reply cache (SQLite) [%(default)s]")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fmt = format_of(args.out)
    group_by = [c.strip() for c in args.group_by.split(",") if c.strip()] if args.group_by else []
    results_path = None
    if group_by:
        out = Path(args.out)
        results_path = Path(args.results) if args.results else out.with_name(out.stem + "_results.csv")
        format_of(results_path)
    if args.sample is not None and args.sample < 1:
        raise InputError(f"--sample must be at least 1 (got {args.sample})")
    rows = read_rows(args.input)
    if not rows:
        raise InputError(f"{args.input}: no rows")
    missing = [c for c in group_by if all(c not in r for r in rows)]
    if missing:
        raise InputError(f"{args.input}: --group-by column(s) not in the input: {', '.join(missing)}")
    rows = _sample(rows, args.sample, group_by, args.seed)
    llm = None
    if args.judge == "llm":
        llm = LLMJudge(mode=args.mode, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                       concurrency=args.concurrency, rpm=args.rpm, max_retries=args.max_retries,
                       timeout=args.timeout, cache=args.cache, seed=args.seed)
        llm.client._api_key()   # fail before any work when the key is missing
    judged = judge_rows(rows, args.judge, text_field=args.text_field, variant=args.variant, llm=llm,
                        progress=sys.stderr.isatty(), source=args.input)
    write_rows(_joined(rows, judged, fmt), args.out)
    labels = [j.label for j in judged]
    if results_path is not None:
        write_rows(results_table(rows, labels, group_by=group_by, text_field=args.text_field), results_path)
    print(format_summary(labels))
    if llm is not None:
        s = llm.client.stats
        print(f"requests sent {s.requests} (retries {s.retries}), cache hits {s.cache_hits}, "
              f"failed calls {s.failures}")
    print(f"wrote {args.out}" + (f" and {results_path}" if results_path else ""))
    return 0


if __name__ == "__main__":
    run_cli(main)
