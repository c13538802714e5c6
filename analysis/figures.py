"""The paper's figure types, drawn from results tables (and priming manifests) with matplotlib.

Every plotting function takes a loaded results frame (analysis.results.load_results) and returns a
matplotlib Figure, so tests and notebooks can inspect axes, lines and legends; `make_figures` draws them
all and saves PNG + PDF per figure. A line is a series, one (model, condition) pair: its color is the
condition's (one mapping per run, `condition_colors`, so a condition keeps its color in every figure and no
two conditions share one) and its line style the model's (`model_styles`), so two models' runs of the same
condition stay apart.

    python -m analysis.figures runs/demo/results/*.csv --out runs/demo/figures
    python -m analysis.figures qwen.csv llama.csv share_correct.csv --paper-reference --out figs
"""
from __future__ import annotations

import colorsys
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from analysis import paper_numbers  # noqa: E402
from analysis.results import (SHARE_TABLE_SUFFIXES, Series, condition_order, is_share_table,  # noqa: E402
                              load_results, series, series_labels, series_rows, table_argument)
from countdown.cli import CommandConfig, option, positional, run_cli  # noqa: E402
from countdown.io import InputError, atomic_path, read_rows  # noqa: E402
from countdown.records import BEHAVIORS, RESULTS_BEHAVIOR_COLUMNS  # noqa: E402

BEHAVIOR_TITLES = {
    "verification": "Verification",
    "backtracking": "Backtracking",
    "subgoal_setting": "Subgoal setting",
    "backward_chaining": "Backward chaining",
}
STEP_LABEL = "RL step"
ACCURACY_LABEL = "accuracy (share correct)"
PAPER_GID = "paper-reference"  # gid of reference artists, so they can be told apart from measured lines
LEGEND_INSIDE = 6              # more entries than this go in a legend beside the axes, in columns
LEGEND_ROWS = 16               # entries per legend column

# Conditions that should look alike across every run get pinned colors, one distinct color per name (the
# paper authors' names are mapped to these on loading); anything else takes the next unused color in a fixed
# order, assigned over the sorted set of names in this run.
PINNED_COLORS = {
    "all_strategies": "#1f77b4", "incorrect_only": "#ff7f0e", "only_backtracking": "#2ca02c",
    "backtracking_verification": "#d62728", "backtracking_backward": "#9467bd",
    "backtracking_subgoal": "#8c564b", "empty_cot": "#e377c2", "negative_control": "#7f7f7f",
    "length_matched": "#bcbd22", "human_cot": "#17becf", "no_priming": "#393b79", "no_priming_70b": "#637939",
    "cpt_rich": "#98df8a", "cpt_minimal": "#ff9896",
}
_PALETTE = [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab20").colors] + \
    [matplotlib.colors.to_hex(c) for c in plt.get_cmap("Dark2").colors]
# line style per model, in the order the models came; "--" stays free for the paper's reference lines
_MODEL_STYLES = [("-", "o"), ("-.", "s"), (":", "^"), ((0, (5, 1, 1, 1, 1, 1)), "D"), ((0, (1, 1)), "v")]

FIGURES = ("accuracy", "behaviors", "response_length", "priming_composition", "final_accuracy",
           "continued_pretraining", "base_behaviors")


def _generated_color(i: int) -> str:
    """The i-th extra color beyond the palette: golden-angle hues at alternating lightness and saturation."""
    hue = (0.11 + i * 0.618033988749895) % 1.0
    light, sat = (0.35, 0.45, 0.6)[i % 3], (0.9, 0.6)[(i // 3) % 2]
    return matplotlib.colors.to_hex(colorsys.hls_to_rgb(hue, light, sat))


def condition_colors(conditions: Sequence[str]) -> dict[str, str]:
    """A stable condition -> color mapping: pinned names first, others in sorted order, no color reused
    (beyond the 28-color palette, generated colors), however many conditions there are."""
    colors: dict[str, str] = {}
    for name in conditions:
        if name in PINNED_COLORS and PINNED_COLORS[name] not in colors.values():
            colors[name] = PINNED_COLORS[name]
    spare = [c for c in _PALETTE if c not in colors.values() and c not in PINNED_COLORS.values()]
    spare += [c for c in _PALETTE if c not in colors.values() and c not in spare]
    extra = 0
    for name in sorted(set(conditions) - colors.keys()):
        if spare:
            colors[name] = spare.pop(0)
            continue
        while (color := _generated_color(extra)) in colors.values():
            extra += 1
        colors[name] = color
    return colors


def model_styles(models: Sequence[str]) -> dict[str, tuple[Any, str]]:
    """model -> (line style, marker), in the order given; cycles after five models (colors still differ)."""
    return {m: _MODEL_STYLES[i % len(_MODEL_STYLES)] for i, m in enumerate(dict.fromkeys(models))}


def _colors_for(frame: pd.DataFrame, colors: dict[str, str] | None) -> dict[str, str]:
    return colors if colors is not None else condition_colors(condition_order(frame))


def _plot_lines(ax, frame: pd.DataFrame, column: str, colors: dict[str, str],
                keys: Sequence[Series] | None = None) -> None:
    labels = series_labels(frame)
    styles = model_styles([m for m, _ in series(frame)])
    for key in keys if keys is not None else series(frame):
        part = series_rows(frame, key)
        if part.empty:
            continue
        style, marker = styles[key[0]]
        # markers keep few-checkpoint toy runs readable (a single point is otherwise invisible)
        ax.plot(part["step"].tolist(), part[column].tolist(), label=labels[key], color=colors[key[1]],
                linestyle=style, linewidth=1.8, marker=marker if len(part) <= 30 else None, markersize=3.5)


def _legend(fig: Figure, ax, handles=None, labels=None) -> None:
    """A short legend inside the axes; a long one beside them, in columns, with the figure widened by the
    legend's width so the axes keep their size (constrained layout makes room for an `outside` legend)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if len(handles) <= LEGEND_INSIDE and ax is not None:
        ax.legend(handles, labels, fontsize=8, frameon=False)
        return
    columns = math.ceil(len(handles) / LEGEND_ROWS)
    widest = max(len(str(label)) for label in labels)
    fig.set_figwidth(fig.get_figwidth() + columns * (0.6 + 0.07 * widest))
    fig.legend(handles, labels, loc="outside right upper", ncols=columns, fontsize=8, frameon=False)


def _finish(ax, title: str, ylabel: str, legend: bool = True) -> None:
    ax.set_title(title)
    ax.set_xlabel(STEP_LABEL)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if legend:
        _legend(ax.figure, ax)


def _paper_reference(ax, frame: pd.DataFrame, keys: Sequence[Series], colors: dict[str, str]) -> None:
    """Dashed line at the paper's step-250 accuracy and a hollow marker at its step-0 accuracy, per series
    whose condition has a paper row on that series' model."""
    x0 = int(frame["step"].min()) if len(frame) else 0
    labels = series_labels(frame)
    for key in keys:
        ref = paper_numbers.paper_result(key[1], key[0])
        if ref is None:
            continue
        color = colors[key[1]]
        (line,) = ax.plot([], [], color=color, linestyle="--", linewidth=1.0,
                          label=f"{labels[key]} (paper end {ref.end:.2f})")
        hline = ax.axhline(ref.end, color=color, linestyle="--", linewidth=1.0, alpha=0.8)
        (start,) = ax.plot([x0], [ref.start], marker="D", markerfacecolor="none", linestyle="none", color=color)
        for artist in (line, hline, start):
            artist.set_gid(PAPER_GID)


def plot_accuracy(frame: pd.DataFrame, colors: dict[str, str] | None = None, paper_reference: bool = False,
                  title: str = "Held-out accuracy vs RL step") -> Figure:
    """Accuracy vs step, one line per series on one axes (the paper's Figures 1 and 3)."""
    colors = _colors_for(frame, colors)
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    _plot_lines(ax, frame, "accuracy", colors)
    if paper_reference:
        _paper_reference(ax, frame, series(frame), colors)
    ax.set_ylim(-0.02, 1.02)
    _finish(ax, title, ACCURACY_LABEL)
    return fig


def plot_behaviors(frame: pd.DataFrame, colors: dict[str, str] | None = None,
                   title: str = "Behaviors per response vs RL step") -> Figure:
    """Mean count of each behavior per response vs step: four panels, one line per series (Figs 2, 4)."""
    colors = _colors_for(frame, colors)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
    for i, (ax, behavior) in enumerate(zip(axes.flat, BEHAVIORS)):
        avg_column, _ = RESULTS_BEHAVIOR_COLUMNS[behavior]
        _plot_lines(ax, frame, avg_column, colors)
        ax.set_ylim(bottom=0)
        _finish(ax, BEHAVIOR_TITLES[behavior], "mean count per response", legend=i == 0)
    fig.suptitle(title)
    return fig


def plot_response_length(frame: pd.DataFrame, colors: dict[str, str] | None = None,
                         title: str = "Response length vs RL step") -> Figure:
    colors = _colors_for(frame, colors)
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    _plot_lines(ax, frame, "response_length", colors)
    ax.set_ylim(bottom=0)
    _finish(ax, title, "mean response length (characters)")
    return fig


def plot_final_accuracy(frame: pd.DataFrame, colors: dict[str, str] | None = None,
                        correct: str = "all_strategies", incorrect: str = "incorrect_only",
                        exclude: Sequence[str] = (), paper_reference: bool = False) -> Figure:
    """Start and final accuracy per series (bars), and correct vs incorrect-only priming curves (Fig 5).

    The correct/incorrect pair is placed first and side by side (per model); the right panel appears when at
    least one of the two is in the frame.
    """
    colors = _colors_for(frame, colors)
    labels = series_labels(frame)
    keys = [k for k in series(frame) if k[1] not in exclude]
    models = list(dict.fromkeys(m for m, _ in keys))
    pair = [(m, name) for m in models for name in (correct, incorrect) if (m, name) in keys]
    keys = pair + [k for k in keys if k not in pair]
    ncols = 2 if pair else 1
    width_in = max(6.0, 0.45 * len(keys) + 1.5)  # bars and their labels keep their width with many series
    fig, axes = plt.subplots(1, ncols, figsize=(width_in + 4 * (ncols - 1), 4.5), layout="constrained",
                             squeeze=False, gridspec_kw={"width_ratios": [width_in, 4][:ncols]})
    ax = axes[0, 0]
    width = 0.38
    xs = range(len(keys))
    starts = [series_rows(frame, k)["accuracy"].iloc[0] for k in keys]
    ends = [series_rows(frame, k)["accuracy"].iloc[-1] for k in keys]
    bar_colors = [colors[k[1]] for k in keys]
    ax.bar([x - width / 2 for x in xs], starts, width, label="first checkpoint", color=bar_colors, alpha=0.35,
           edgecolor=bar_colors)
    ax.bar([x + width / 2 for x in xs], ends, width, label="final checkpoint", color=bar_colors)
    if paper_reference:
        labelled = False
        for x, key in zip(xs, keys):
            ref = paper_numbers.paper_result(key[1], key[0])
            if ref is not None:
                (mark,) = ax.plot([x + width / 2], [ref.end], marker="_", markersize=18, color="black",
                                  linestyle="none", label=None if labelled else "paper end (step 250)")
                mark.set_gid(PAPER_GID)
                labelled = True
    ax.set_xticks(list(xs), [labels[k] for k in keys], rotation=30 if len(keys) <= 12 else 60, ha="right",
                  fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_title("Accuracy before and after RL per condition")
    ax.set_ylabel(ACCURACY_LABEL)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    if pair:
        right = axes[0, 1]
        _plot_lines(right, frame, "accuracy", colors, keys=pair)
        right.set_ylim(-0.02, 1.02)
        _finish(right, "Correct vs incorrect-only priming", ACCURACY_LABEL)
    return fig


def plot_continued_pretraining(frame: pd.DataFrame, conditions: Sequence[str],
                               colors: dict[str, str] | None = None, paper_reference: bool = False) -> Figure:
    """Behavior-rich vs behavior-minimal continued pretraining: accuracy and total behaviors vs step (Fig 6)."""
    colors = _colors_for(frame, colors)
    keys = sorted(series(frame, conditions), key=lambda k: list(conditions).index(k[1]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    _plot_lines(left, frame, "accuracy", colors, keys=keys)
    if paper_reference:
        _paper_reference(left, frame, keys, colors)
    left.set_ylim(-0.02, 1.02)
    _finish(left, "Accuracy after continued pretraining", ACCURACY_LABEL)
    avg_columns = [RESULTS_BEHAVIOR_COLUMNS[b][0] for b in BEHAVIORS]
    totals = frame.assign(all_behaviors=frame[avg_columns].sum(axis=1, min_count=1))
    _plot_lines(right, totals, "all_behaviors", colors, keys=keys)
    right.set_ylim(bottom=0)
    # the same series as on the left: a long legend is drawn once, beside the figure
    _finish(right, "All four behaviors per response", "mean count per response (sum of 4)",
            legend=len(keys) <= LEGEND_INSIDE)
    return fig


def default_base_conditions(conditions: Sequence[str]) -> list[str]:
    """The unprimed base models among the conditions (paper_numbers.BASE_CONDITIONS)."""
    return [c for c in conditions if c in paper_numbers.BASE_CONDITIONS]


def plot_base_behaviors(frame: pd.DataFrame, conditions: Sequence[str],
                        colors: dict[str, str] | None = None) -> Figure:
    """The base models' behaviors before RL, side by side: mean count per response of each behavior at each
    series' first step (step 0), one bar per (model, base condition) (the paper compares Llama-3B, Llama-70B
    and Qwen-3B this way)."""
    colors = _colors_for(frame, colors)
    labels = series_labels(frame)
    keys = series(frame, conditions)
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    width = 0.8 / max(len(keys), 1)
    hatches = {m: h for m, h in zip(dict.fromkeys(m for m, _ in series(frame)), ["", "//", "..", "xx", "\\\\"] * 9)}
    for i, key in enumerate(keys):
        first = series_rows(frame, key).iloc[0]
        xs = [j - 0.4 + width * (i + 0.5) for j in range(len(BEHAVIORS))]
        values = [first[RESULTS_BEHAVIOR_COLUMNS[b][0]] for b in BEHAVIORS]
        ax.bar(xs, values, width, label=f"{labels[key]} (step {int(first['step'])})", color=colors[key[1]],
               hatch=hatches[key[0]], edgecolor="white")
    ax.set_xticks(range(len(BEHAVIORS)), [BEHAVIOR_TITLES[b] for b in BEHAVIORS])
    ax.set_ylim(bottom=0)
    ax.set_ylabel("mean count per response")
    ax.set_title("Behaviors of the base models before RL")
    ax.grid(True, axis="y", alpha=0.3)
    _legend(fig, ax)
    return fig


# --- priming manifests ----------------------------------------------------------------------------------

@dataclass
class PrimingSet:
    """One priming condition's composition, normalized from a priming manifest."""

    condition: str
    behaviors: dict[str, float]       # behavior -> value in `metric` units
    metric: str                       # "mean count per trace" or "share of traces"
    n_traces: int | None = None
    share_correct: float | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# Keys tried, in order, when reading a manifest (priming.build writes manifest.json; older or hand-made
# files may use the other spellings).
_BEHAVIOR_TABLE_KEYS = ("behaviors", "behavior_table", "behavior_summary", "behavior_stats",
                        "behavior_frequency", "behavior_counts", "behavior_means")
_MEAN_KEYS = ("mean", "avg", "average", "mean_count", "mean_per_trace", "per_trace")
_SHARE_KEYS = ("share", "frequency", "fraction", "rate", "share_with", "share_traces", "present")
_TOTAL_KEYS = ("total", "sum", "count")
_N_KEYS = ("n_traces", "num_traces", "traces", "n", "rows", "total", "size", "num_examples", "n_examples")


def _first(d: dict, keys: Sequence[str]):
    for k in keys:
        if k in d and d[k] is not None:
            return k, d[k]
    return None, None


def _behavior_name(key: str) -> str | None:
    if key in BEHAVIORS:
        return key
    for behavior, cols in RESULTS_BEHAVIOR_COLUMNS.items():
        if key in cols:
            return behavior
    return None


def _parse_set(data: dict, source: str, default_name: str) -> PrimingSet:
    name = data.get("condition") or data.get("name") or default_name
    counts = data.get("counts") if isinstance(data.get("counts"), dict) else {}
    _, n = _first(data, _N_KEYS)
    if n is None or isinstance(n, (dict, list)):
        _, n = _first(counts, _N_KEYS)
    n = int(n) if isinstance(n, (int, float)) else None
    share_correct = data.get("share_correct", counts.get("share_correct"))
    n_correct = data.get("n_correct", counts.get("correct"))
    if share_correct is None and isinstance(n_correct, (int, float)) and n:
        share_correct = n_correct / n
    _, table = _first(data, _BEHAVIOR_TABLE_KEYS)
    verification = data.get("verification") if isinstance(data.get("verification"), dict) else {}
    if table is None:  # priming.build nests the rule judge's table under "verification"
        _, table = _first(verification, _BEHAVIOR_TABLE_KEYS)
    if n is None and isinstance(verification.get("n"), int):
        n = verification["n"]
    if share_correct is None and isinstance(verification.get("reward_ok"), (int, float)) \
            and isinstance(data.get("expected_reward"), (int, float)):
        # every answer of a verified set scores expected_reward: 1.0 means correct, anything else wrong
        if data["expected_reward"] == 1.0:
            share_correct = verification["reward_ok"]
        elif verification["reward_ok"] == 1.0:
            share_correct = 0.0
    if table is None:
        raise InputError(f"{source}: priming manifest for {name!r} has no behavior table "
                         f"(expected one of the keys {', '.join(_BEHAVIOR_TABLE_KEYS)})")
    if isinstance(table, list):  # [{"behavior": ..., "mean": ...}, ...]
        table = {row.get("behavior"): row for row in table if isinstance(row, dict)}
    if not isinstance(table, dict):
        raise InputError(f"{source}: the behavior table for {name!r} must be an object or a list of rows")
    means: dict[str, float] = {}
    shares: dict[str, float] = {}
    for key, value in table.items():
        behavior = _behavior_name(str(key))
        if behavior is None:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            means[behavior] = float(value)
        elif isinstance(value, dict):
            k, v = _first(value, _MEAN_KEYS)
            if v is not None:
                means[behavior] = float(v)
                continue
            k, v = _first(value, _SHARE_KEYS)
            if v is not None:
                shares[behavior] = float(v)
                continue
            k, v = _first(value, _TOTAL_KEYS)
            if v is not None and n:
                means[behavior] = float(v) / n
    if len(means) == len(BEHAVIORS):
        values, metric = means, "mean count per trace"
    elif len(shares) == len(BEHAVIORS):
        values, metric = shares, "share of traces"
    elif means or shares:
        values, metric = (means, "mean count per trace") if len(means) >= len(shares) else \
            (shares, "share of traces")
        values = {b: values.get(b, float("nan")) for b in BEHAVIORS}
    else:
        raise InputError(f"{source}: priming manifest for {name!r} has no numbers for the behaviors "
                         f"{', '.join(BEHAVIORS)}")
    return PrimingSet(condition=str(name), behaviors=values, metric=metric, n_traces=n,
                      share_correct=None if share_correct is None else float(share_correct), source=source)


def read_priming_manifest(path: str | os.PathLike) -> list[PrimingSet]:
    """Priming-set compositions from a manifest.json written by `python -m priming.build`.

    priming.build writes {"conditions": {NAME: {"counts": {"rows": N, ...}, "expected_reward": 1.0,
    "verification": {"n": N, "reward_ok": 1.0, "behaviors": [{"behavior": B, "mean": m, "present": p},
    ...]}}}}: mean counts per trace come from the verification table, the share of correct answers from
    expected_reward and reward_ok.

    Other accepted shapes (tolerant, because hand-made files should work too):
    - one set: {"condition": NAME, "counts": {"traces"|"n_traces": N, "correct": K, ...},
      "behaviors": {BEHAVIOR: number | {"mean": m, "share": s, "total": t}}} ("behavior_table" and similar
      spellings also work; BEHAVIOR may be a behavior name or its results column, e.g. avg_verifications);
    - several sets: {"conditions": {NAME: one-set, ...}} or {"sets": [one-set, ...]} or a list of sets.
    The condition name defaults to the manifest's folder name. Means are preferred over shares.
    A table file (.csv, .parquet, .jsonl) is read as a share-correct table instead (read_share_table).
    """
    path = Path(path)
    if path.suffix.lower() in SHARE_TABLE_SUFFIXES:
        return read_share_table(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: no such priming manifest")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    default = path.parent.name
    if isinstance(data, dict) and isinstance(data.get("conditions"), dict):
        return [_parse_set({"condition": k, **v}, str(path), k) for k, v in data["conditions"].items()
                if isinstance(v, dict)]
    if isinstance(data, dict) and isinstance(data.get("sets"), list):
        data = data["sets"]
    if isinstance(data, list):
        return [_parse_set(d, str(path), default) for d in data if isinstance(d, dict)]
    if isinstance(data, dict):
        return [_parse_set(data, str(path), default)]
    raise InputError(f"{path}: expected a JSON object (a priming manifest)")


def read_share_table(path: str | os.PathLike) -> list[PrimingSet]:
    """Rows `condition,average_score` (share of correct answers per priming set, in [0, 1]) as PrimingSets
    without behaviors; condition names are mapped to the toolkit's as in results tables."""
    path = Path(path)
    rows = read_rows(path)
    if not rows or any("condition" not in r or "average_score" not in r for r in rows):
        raise InputError(f"{path}: a share-correct table needs the columns condition, average_score")
    sets = []
    for i, row in enumerate(rows):
        place = f"{path}:{i + 2}" if path.suffix.lower() == ".csv" else f"{path}: row {i + 1}"
        name = str(row["condition"]).strip() if row["condition"] is not None else ""
        try:
            share = float(row["average_score"])
        except (TypeError, ValueError):
            raise InputError(f"{place}: average_score must be a number, got {row['average_score']!r}") from None
        if not name or not 0.0 <= share <= 1.0:  # NaN fails the range test too
            raise InputError(f"{place}: needs a condition and an average_score in [0, 1] "
                             f"(got {row['condition']!r}, {row['average_score']!r})")
        sets.append(PrimingSet(condition=paper_numbers.toolkit_condition(name), behaviors={}, metric="",
                               share_correct=share, source=str(path)))
    return sets


def plot_priming_composition(sets: Sequence[PrimingSet], colors: dict[str, str] | None = None) -> Figure:
    """Behavior frequency per priming condition as grouped bars (one group per behavior), plus the share of
    correct answers per set when the manifests or a share-correct table give it (the last given wins)."""
    names = list(dict.fromkeys(s.condition for s in sets))
    colors = colors if colors is not None else condition_colors(names)
    colors = {**condition_colors(names), **colors}
    composed = [s for s in sets if s.behaviors]
    shares = {s.condition: s.share_correct for s in sets if s.share_correct is not None}
    panels = [name for name, present in (("behaviors", composed), ("correct", shares)) if present]
    fig, axes = plt.subplots(1, len(panels), figsize=(7 + 3.5 * (len(panels) - 1), 4.5), layout="constrained",
                             squeeze=False, gridspec_kw={"width_ratios": [2, 1][:len(panels)]})
    if composed:
        _composition_bars(axes[0, 0], composed, colors)
    if shares:
        right = axes[0, -1]
        right.bar(range(len(shares)), list(shares.values()), color=[colors[c] for c in shares])
        right.set_xticks(range(len(shares)), list(shares), rotation=30, ha="right", fontsize=8)
        right.set_ylim(0, 1.02)
        right.set_ylabel("share of traces with a correct answer")
        right.set_title("Correct answers in the priming sets")
        right.grid(True, axis="y", alpha=0.3)
    return fig


def _composition_bars(ax, sets: Sequence[PrimingSet], colors: dict[str, str]) -> None:
    width = 0.8 / max(len(sets), 1)
    for i, s in enumerate(sets):
        xs = [j - 0.4 + width * (i + 0.5) for j in range(len(BEHAVIORS))]
        label = s.condition if s.n_traces is None else f"{s.condition} (n={s.n_traces})"
        ax.bar(xs, [s.behaviors.get(b, float("nan")) for b in BEHAVIORS], width, label=label,
               color=colors[s.condition])
    ax.set_xticks(range(len(BEHAVIORS)), [BEHAVIOR_TITLES[b] for b in BEHAVIORS])
    metrics = sorted({s.metric for s in sets})
    ax.set_ylabel(" / ".join(metrics))
    ax.set_title("Behaviors in the priming sets")
    ax.grid(True, axis="y", alpha=0.3)
    _legend(ax.figure, ax)


# --- all figures ----------------------------------------------------------------------------------------

@dataclass
class FigureResult:
    name: str
    figure: Figure | None
    paths: list[Path]
    skipped: str | None = None   # why the figure was not drawn (missing conditions / manifests)


def default_cpt_conditions(conditions: Sequence[str]) -> list[str]:
    return [c for c in conditions if c.lower().startswith("cpt") or "_cpt" in c.lower()]


def build_figures(frame: pd.DataFrame, manifests: Sequence[PrimingSet] = (), paper_reference: bool = False,
                  correct: str = "all_strategies", incorrect: str = "incorrect_only",
                  cpt_conditions: Sequence[str] | None = None, base_conditions: Sequence[str] | None = None
                  ) -> dict[str, tuple[Figure | None, str | None]]:
    """Every figure that the inputs allow: name -> (Figure, None) or (None, reason it was skipped).
    Condition names may be ours or the paper authors' (paper_numbers.toolkit_condition)."""
    ours = paper_numbers.toolkit_condition
    conditions = condition_order(frame)
    colors = condition_colors(list(dict.fromkeys([*conditions, *(s.condition for s in manifests)])))
    cpt = [ours(c) for c in cpt_conditions] if cpt_conditions is not None else default_cpt_conditions(conditions)
    cpt = [c for c in cpt if c in conditions]
    base = [ours(c) for c in base_conditions] if base_conditions is not None else \
        default_base_conditions(conditions)
    base = [c for c in base if c in conditions]
    correct, incorrect = ours(correct), ours(incorrect)
    non_cpt = frame[~frame["condition"].isin(cpt)] if cpt and len(cpt) < len(conditions) else frame
    out: dict[str, tuple[Figure | None, str | None]] = {
        "accuracy": (plot_accuracy(frame, colors, paper_reference), None),
        "behaviors": (plot_behaviors(frame, colors), None),
        "response_length": (plot_response_length(frame, colors), None),
    }
    out["priming_composition"] = (plot_priming_composition(manifests, colors), None) if manifests else \
        (None, "no priming manifests given (--manifests)")
    out["final_accuracy"] = (plot_final_accuracy(non_cpt, colors, correct, incorrect,
                                                 paper_reference=paper_reference), None)
    out["continued_pretraining"] = (
        (plot_continued_pretraining(frame, cpt, colors, paper_reference), None) if cpt else
        (None, "no continued-pretraining conditions (names starting with cpt, or --cpt-conditions)"))
    out["base_behaviors"] = (plot_base_behaviors(frame, base, colors), None) if base else \
        (None, "no base-model conditions (no_priming, the authors' base_ppo / base_70b, or --base-conditions)")
    return out


def save_figure(fig: Figure, out_dir: Path, name: str, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    paths = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150)
        paths.append(path)
    return paths


def make_figures(frame: pd.DataFrame, out_dir: str | os.PathLike, manifests: Sequence[PrimingSet] = (),
                 paper_reference: bool = False, correct: str = "all_strategies",
                 incorrect: str = "incorrect_only", cpt_conditions: Sequence[str] | None = None,
                 close: bool = True, base_conditions: Sequence[str] | None = None) -> list[FigureResult]:
    """Draw and save every figure (PNG + PDF) into out_dir; close them unless `close` is False."""
    out_dir = Path(out_dir)
    results = []
    for name, (fig, reason) in build_figures(frame, manifests, paper_reference, correct, incorrect,
                                             cpt_conditions, base_conditions).items():
        paths = save_figure(fig, out_dir, name) if fig is not None else []
        results.append(FigureResult(name, fig, paths, reason))
        if fig is not None and close:
            plt.close(fig)
    return results


def load_manifests(paths: Sequence[str | os.PathLike]) -> list[PrimingSet]:
    sets: list[PrimingSet] = []
    for p in paths:
        sets.extend(read_priming_manifest(p))
    return sets


@dataclass(kw_only=True)
class FiguresConfig(CommandConfig):
    """Draw the paper's figures (PNG + PDF) and a markdown report from one or more results tables."""

    epilog = """examples:
  python -m analysis.figures runs/demo/results/results.csv --out runs/demo/figures
  python -m analysis.figures a.csv b.parquet --conditions all_strategies incorrect_only --paper-reference \\
      --manifests runs/demo/priming/*/manifest.json --out figs
  python -m analysis.figures qwen.csv llama.csv:Llama-3.2-3B share_correct.csv --paper-reference --out figs

Writes NAME.png and NAME.pdf for accuracy, behaviors, response_length, final_accuracy, and (when the inputs
allow) priming_composition, continued_pretraining and base_behaviors, plus report.md embedding them. Each
results table is one model (its `model` column, else the file's stem, or FILE:NAME) and needs the columns of
the results schema: condition, step, avg_verifications, avg_backtracking, avg_subgoals, avg_backwards,
total_verifications, total_backtracking, total_subgoals, total_backwards, accuracy, response_length. A table
with the columns condition, average_score is a share-correct table for the priming composition figure. The
paper authors' condition names (base_ppo, no_positive_all_strategies, dots, owmathqa_*, base_70b) are read
as the toolkit's (docs/analysis.md)."""

    results: list[str] = positional("results tables (FILE or FILE:MODEL; .csv, .parquet, .jsonl, .json) and "
                                    "share-correct tables (condition, average_score)")
    out: str = option(help="output folder for the figures and report.md", output="dir")
    conditions: list[str] | None = option(None, "only these conditions, in this order")
    manifests: list[str] = option(default_factory=lambda: [], help="priming manifest.json files (or their "
                                  "folders) for the composition figure")
    paper_reference: bool = option(False, "draw the paper's start/end accuracies as reference markers / dashed "
                                   "lines")
    correct: str = option("all_strategies", "condition primed with correct traces")
    incorrect: str = option("incorrect_only", "condition primed with incorrect-only traces")
    cpt_conditions: list[str] | None = option(None, "continued-pretraining conditions (default: names starting "
                                              "with 'cpt')")
    corpus_manifests: list[str] = option(default_factory=lambda: [], help="priming.curate manifest.json files (or "
                                         "their folders) for the corpus behavior-frequency figure")
    base_conditions: list[str] | None = option(None, "unprimed base-model conditions for the step-0 behavior "
                                               "figure (default: no_priming, no_priming_70b, qwen, llama, ...)")
    title: str = option("Results report", "report title")
    seed: int = option(0, "unused (figures are deterministic); kept for the toolkit's CLI convention")


def main(argv: list[str] | None = None) -> int:
    from analysis.report import write_report

    config = FiguresConfig.parse(argv)
    # read and validate everything before writing anything, so bad input leaves no partial output
    shares = [p for p in config.results if is_share_table(table_argument(p)[0])]
    tables = [p for p in config.results if p not in shares]
    if not tables:
        raise InputError("no results tables given (only share-correct tables: " + ", ".join(shares) + ")")
    frame = load_results(tables, config.conditions)
    manifests = load_manifests(config.manifests) + load_manifests(shares)  # the share tables' numbers win
    corpus = plot_corpus_behaviors(config.corpus_manifests) if config.corpus_manifests else None
    out = Path(config.out)
    results = make_figures(frame, out, manifests, config.paper_reference, config.correct, config.incorrect,
                           config.cpt_conditions, base_conditions=config.base_conditions)
    if corpus is not None:
        results.append(FigureResult("corpus_behaviors", corpus, save_figure(corpus, out, "corpus_behaviors")))
        plt.close(corpus)
    report = write_report(frame, results, out / "report.md", title=config.title,
                          paper_reference=True, sources=[str(p) for p in config.results])
    for r in results:
        print(f"{r.name}: " + (", ".join(str(p) for p in r.paths) if r.paths else f"skipped ({r.skipped})"))
    print(f"report: {report}")
    return 0


def plot_corpus_behaviors(manifests: Sequence[str | os.PathLike]) -> Figure:
    """The paper's figure of behavior frequency in pretraining corpora, from priming.curate manifests: per
    behavior, the share of documents showing it (left) and its count per 1,000 units (right), for each curated
    corpus and its behavior-rich and behavior-minimal sets. A manifest is named by its folder."""
    groups: list[tuple[str, dict[str, Any]]] = []
    unit = "units"
    for raw in manifests:
        path = Path(raw) / "manifest.json" if Path(raw).is_dir() else Path(raw)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            parts = [("corpus", data["corpus_frequency"])] + [(name, info["frequency"])
                                                              for name, info in data["sets"].items()]
            for _, freq in parts:
                for b in BEHAVIORS:
                    float(freq[b]["share"]), float(freq[b]["per_1k"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}: not a priming.curate manifest ({type(exc).__name__}: {exc})") from None
        unit = data.get("unit", unit)
        groups += [(f"{path.parent.name}: {name} (n={freq.get('documents', '?')})", freq) for name, freq in parts]
    if not groups:
        raise InputError("no curate manifests given")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    palette = plt.get_cmap("tab10").colors
    width = 0.8 / len(groups)
    for ax, key, ylabel in ((axes[0], "share", "share of documents showing the behavior"),
                            (axes[1], "per_1k", f"instances per 1,000 {unit}")):
        for i, (label, freq) in enumerate(groups):
            xs = [j - 0.4 + width * (i + 0.5) for j in range(len(BEHAVIORS))]
            ax.bar(xs, [float(freq[b][key]) for b in BEHAVIORS], width, label=label, color=palette[i % 10])
        ax.set_xticks(range(len(BEHAVIORS)), [BEHAVIOR_TITLES[b] for b in BEHAVIORS])
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylim(0, 1.02)
    axes[0].set_title("Behavior frequency in the curated corpora")
    axes[1].set_title("Behavior density")
    axes[1].legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


if __name__ == "__main__":
    run_cli(main)
