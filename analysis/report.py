"""A markdown report from results tables: accuracy summary per condition, behaviors, figures, paper numbers.

`python -m analysis.figures` writes it next to the figures; `python -m analysis.reproduce` adds a
measured-outcome paragraph at the top. Figures are embedded by relative path, so the folder can be moved.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from analysis import paper_numbers
from analysis.results import (Series, is_share_table, load_results, series, series_rows, shared_conditions,
                              summarize, table_argument)
from countdown.cli import CommandConfig, option, positional, run_cli
from countdown.io import atomic_path
from countdown.records import BEHAVIORS, RESULTS_BEHAVIOR_COLUMNS

FIGURE_CAPTIONS = {
    "accuracy": "Held-out accuracy per condition vs RL step.",
    "behaviors": "Mean count of each behavior per response vs RL step (rule judge unless stated otherwise).",
    "response_length": "Mean response length in characters vs RL step.",
    "priming_composition": "Behaviors in the priming sets (and their share of correct answers).",
    "final_accuracy": "Accuracy at the first and last checkpoint per condition; correct vs incorrect-only "
                      "priming side by side.",
    "continued_pretraining": "Behavior-rich vs behavior-minimal continued pretraining.",
    "corpus_behaviors": "Behavior frequency in the curated corpus and its behavior-rich and behavior-minimal sets "
                        "(share of documents showing each behavior, from priming.curate manifests).",
    "base_behaviors": "Behaviors of the unprimed base models before RL (first checkpoint, step 0), side by side.",
}


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _model_column(frame: pd.DataFrame) -> bool:
    """Tables name each row's model when several models share a condition name."""
    return bool(shared_conditions(frame))


def accuracy_table(frame: pd.DataFrame, paper_reference: bool = True) -> str:
    """Markdown table: start / end / max accuracy per condition (with the paper's numbers if they exist);
    one row per (model, condition), with a model column when several models share a condition."""
    with_model = _model_column(frame)
    head = ["condition"] + (["model"] if with_model else []) + ["checkpoints", "start (step)", "end (step)",
                                                                "max (step)", "end − start"]
    if paper_reference:
        head += ["paper start", "paper end"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summarize(frame):
        cells = [s.condition] + ([s.model] if with_model else []) + [
            str(s.n_steps), f"{_fmt(s.start_accuracy)} ({s.first_step})", f"{_fmt(s.end_accuracy)} ({s.last_step})",
            f"{_fmt(s.max_accuracy)} ({s.max_step})", f"{s.end_accuracy - s.start_accuracy:+.3f}"]
        if paper_reference:
            ref = paper_numbers.paper_result(s.condition, s.model)
            cells += [_fmt(ref.start, 2), _fmt(ref.end, 2)] if ref else ["–", "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def behavior_table(frame: pd.DataFrame) -> str:
    """Markdown table: mean behavior counts per response and response length at the first and last step."""
    with_model = _model_column(frame)
    head = ["condition"] + (["model"] if with_model else []) + ["step"] + \
        [b.replace("_", " ") for b in BEHAVIORS] + ["length (chars)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in series(frame):
        part = series_rows(frame, key)
        rows = [part.iloc[0]] if len(part) == 1 else [part.iloc[0], part.iloc[-1]]
        for row in rows:
            cells = [key[1]] + ([key[0]] if with_model else []) + [str(int(row["step"]))]
            cells += [_fmt(row[RESULTS_BEHAVIOR_COLUMNS[b][0]], 2) for b in BEHAVIORS]
            cells.append(_fmt(row["response_length"], 0))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_table(matches: Sequence[Series] | None = None) -> str:
    """The paper's headline rows (all, or those matching the (model, condition) series)."""
    rows = paper_numbers.HEADLINE
    if matches is not None:
        keys = {r.key for r in (paper_numbers.paper_result(c, m) for m, c in matches) if r is not None}
        rows = tuple(r for r in rows if r.key in keys)
    lines = ["| paper row | start | end (max) |", "|---|---|---|"]
    for r in rows:
        end = _fmt(r.end, 2) + (f" ({_fmt(r.max, 2)})" if r.max is not None else "")
        lines.append(f"| {r.description} | {_fmt(r.start, 2)} | {end} |")
    return "\n".join(lines)


JUDGE_FAILED_LIMIT = 0.01   # a checkpoint whose judge failed more than this share of its judgments is flagged


def judge_failure_notes(frame: pd.DataFrame) -> list[str]:
    """A warning per checkpoint whose judge failed more than 1% of its behavior judgments (one per judged
    trace and behavior), from the optional `judged` / `judge_failed` columns; tables without them give none."""
    if not {"judged", "judge_failed"} <= set(frame.columns):
        return []
    notes = []
    for row in frame.itertuples():
        judged, failed = pd.to_numeric(row.judged, errors="coerce"), pd.to_numeric(row.judge_failed, errors="coerce")
        if not judged > 0 or pd.isna(failed):
            continue
        share = failed / (judged * len(BEHAVIORS))
        if share > JUDGE_FAILED_LIMIT:
            notes.append(f"**judge failures**: {row.condition} step {row.step}: {int(failed)} of "
                         f"{int(judged) * len(BEHAVIORS)} behavior judgments failed ({share:.1%}, more than "
                         f"{JUDGE_FAILED_LIMIT:.0%}); its behavior counts rest on the judgments that succeeded.")
    return notes


def render_report(frame: pd.DataFrame, figures: Sequence = (), report_dir: Path | None = None,
                  title: str = "Results report", outcome: str | None = None, paper_reference: bool = True,
                  sources: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The report as markdown text. `figures` are analysis.figures.FigureResult objects."""
    parts = [f"# {title}", ""]
    if outcome:
        parts += ["## Measured outcome", "", outcome.strip(), ""]
    parts += ["## Accuracy per condition", "", accuracy_table(frame, paper_reference), ""]
    parts += ["Start = first evaluated checkpoint, end = last, max = best checkpoint "
              "(accuracy = share of held-out responses with reward 1.0).", ""]
    parts += ["## Behaviors per response (first and last checkpoint)", "", behavior_table(frame), ""]
    drawn = [f for f in figures if f.paths]
    if drawn or any(f.skipped for f in figures):
        parts += ["## Figures", ""]
    for f in drawn:
        png = next((p for p in f.paths if p.suffix == ".png"), f.paths[0])
        rel = os.path.relpath(png, report_dir) if report_dir else str(png)
        pdf = next((p for p in f.paths if p.suffix == ".pdf"), None)
        link = f" ([PDF]({os.path.relpath(pdf, report_dir) if report_dir else pdf}))" if pdf else ""
        parts += [f"### {f.name.replace('_', ' ').capitalize()}", "",
                  f"![{f.name}]({rel})", "", FIGURE_CAPTIONS.get(f.name, "") + link, ""]
    for f in figures:
        if not f.paths and f.skipped:
            parts.append(f"- *{f.name}* not drawn: {f.skipped}.")
    if any(not f.paths and f.skipped for f in figures):
        parts.append("")
    if paper_reference:
        matched = [(m, c) for m, c in series(frame) if paper_numbers.paper_result(c, m)]
        parts += ["## The paper's numbers for comparison", "",
                  f"{paper_numbers.PAPER}, held-out Countdown accuracy at RL step 0 and step "
                  f"{paper_numbers.PAPER_FINAL_STEP} (3B models, 250 PPO steps on GPUs):", "",
                  paper_table(matched if matched else None), ""]
    notes = [*judge_failure_notes(frame), *notes]
    if notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    if sources:
        parts += ["Results tables: " + ", ".join(f"`{s}`" for s in sources), ""]
    if "original_condition" in frame:
        renamed = dict.fromkeys((o, c) for o, c in zip(frame["original_condition"], frame["condition"]) if o != c)
        if renamed:
            parts += ["Condition names read as the toolkit's: " + ", ".join(f"`{o}` → `{c}`" for o, c in renamed),
                      ""]
    return "\n".join(parts)


def write_report(frame: pd.DataFrame, figures: Sequence, path: str | os.PathLike, **kwargs) -> Path:
    """Render the report and write it atomically to `path` (figure links relative to its folder)."""
    path = Path(path)
    text = render_report(frame, figures, report_dir=path.parent, **kwargs)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


@dataclass(kw_only=True)
class ReportConfig(CommandConfig):
    """Write a markdown report (accuracy table, behaviors, paper comparison) from results tables, without
    figures; `python -m analysis.figures` writes one with figures."""

    epilog = "example:\n  python -m analysis.report runs/demo/results/results.csv --out report.md"

    results: list[str] = positional("results tables (FILE or FILE:MODEL; .csv, .parquet, .jsonl, .json)")
    out: str = option(help="the markdown file to write", output="file")
    conditions: list[str] | None = option(None, "only these conditions, in this order")
    title: str = option("Results report", "report title")
    seed: int = option(0, "unused (the report is deterministic)")


def main(argv: list[str] | None = None) -> int:
    config = ReportConfig.parse(argv)
    tables = [p for p in config.results if not is_share_table(table_argument(p)[0])]
    for skipped in (p for p in config.results if p not in tables):
        print(f"{skipped}: a share-correct table; the report has no use for it (analysis.figures draws it)")
    frame = load_results(tables, config.conditions)
    print(write_report(frame, [], config.out, title=config.title, sources=tables))
    return 0


if __name__ == "__main__":
    run_cli(main)
