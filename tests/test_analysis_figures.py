"""analysis.results / figures / report on generated results tables (matplotlib Agg, no display)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from analysis import figures, paper_numbers, report, results  # noqa: E402
from countdown.io import InputError, write_rows  # noqa: E402
from countdown.records import RESULTS_COLUMNS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def table(conditions, steps=(0, 10, 20, 30), seed=0):
    rows = []
    for ci, condition in enumerate(conditions):
        for si, step in enumerate(steps):
            row = {"condition": condition, "step": step}
            for k, col in enumerate(RESULTS_COLUMNS[2:10]):
                row[col] = (ci + k + si + seed) % 5 / 2
            row["accuracy"] = round(min(1.0, 0.05 * ci + 0.1 * si), 3)
            row["response_length"] = 100.0 + 10 * si + ci
            rows.append(row)
    return rows


def measured_lines(ax):
    return [line for line in ax.get_lines() if line.get_gid() != figures.PAPER_GID]


def legend_texts(fig):
    """Entries of every legend of the figure (inside an axes, or beside the axes when long)."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return [t.get_text() for legend in legends for t in legend.get_texts()]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def frame(tmp_path):
    write_rows(table(["all_strategies", "incorrect_only", "negative_control"]), tmp_path / "a.csv")
    write_rows(table(["cpt_rich", "cpt_minimal"], steps=(0, 5)), tmp_path / "b.parquet")
    return results.load_results([tmp_path / "a.csv", tmp_path / "b.parquet"])


# --- loading ---------------------------------------------------------------------------------------------

def test_load_concatenates_formats_sorts_and_keeps_later_duplicates(tmp_path):
    rows = table(["zeta", "alpha"], steps=(20, 0, 10))
    write_rows(rows + [dict(rows[1], accuracy=0.5)], tmp_path / "a.jsonl")   # zeta @ 0 re-evaluated, appended
    newer = [dict(rows[0], accuracy=0.99)]  # zeta @ 20 evaluated again, into another file of the same model
    write_rows(newer, tmp_path / "b.csv")
    frame = results.load_results([tmp_path / "a.jsonl", f"{tmp_path / 'b.csv'}:a"])
    assert list(frame.columns[:len(RESULTS_COLUMNS)]) == list(RESULTS_COLUMNS)
    assert list(zip(frame["condition"], frame["step"])) == [
        ("alpha", 0), ("alpha", 10), ("alpha", 20), ("zeta", 0), ("zeta", 10), ("zeta", 20)]
    assert set(frame["model"]) == {"a"}
    assert frame.loc[(frame["condition"] == "zeta") & (frame["step"] == 20), "accuracy"].item() == 0.99
    assert frame.loc[(frame["condition"] == "zeta") & (frame["step"] == 0), "accuracy"].item() == 0.5

    # without a shared model name the second file is a model of its own: nothing is replaced
    apart = results.load_results([tmp_path / "a.jsonl", tmp_path / "b.csv"])
    assert len(apart) == 7 and results.series(apart)[-1] == ("b", "zeta")

    only = results.load_results([tmp_path / "a.jsonl"], conditions=["zeta", "alpha"])
    assert results.condition_order(only) == ["zeta", "alpha"]


def test_missing_columns_name_the_file_and_columns(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("accuracy", "avg_backwards")} for r in table(["x"])]
    write_rows(rows, tmp_path / "bad.csv")
    with pytest.raises(InputError) as err:
        results.load_results([tmp_path / "bad.csv"])
    msg = str(err.value)
    assert "bad.csv" in msg and "avg_backwards" in msg and "accuracy" in msg


@pytest.mark.parametrize("column,value,needle", [
    ("accuracy", "high", "must be a number"),
    ("accuracy", 1.5, "[0, 1]"),
    ("step", 2.5, "non-negative integer"),
    ("condition", "", "'condition' is empty"),
])
def test_bad_cells_name_file_and_line(tmp_path, column, value, needle):
    rows = table(["x"])
    rows[2][column] = value
    write_rows(rows, tmp_path / "bad.jsonl")
    with pytest.raises(InputError) as err:
        results.load_results([tmp_path / "bad.jsonl"])
    assert "bad.jsonl:3" in str(err.value) and needle in str(err.value)


def test_empty_behavior_cells_are_allowed_and_summary(tmp_path):
    rows = table(["x"], steps=(0, 10, 20))
    rows[1]["avg_backtracking"] = None
    rows[1]["accuracy"], rows[2]["accuracy"] = 0.9, 0.4
    write_rows(rows, tmp_path / "t.csv")
    frame = results.load_results([tmp_path / "t.csv"])
    (s,) = results.summarize(frame)
    assert (s.start_accuracy, s.end_accuracy, s.max_accuracy, s.max_step) == (0.0, 0.4, 0.9, 10)


# --- figures ---------------------------------------------------------------------------------------------

def test_colors_are_stable_and_distinct():
    a = figures.condition_colors(["b_cond", "all_strategies", "a_cond", "incorrect_only"])
    b = figures.condition_colors(["incorrect_only", "a_cond", "all_strategies", "b_cond"])
    assert a == b
    assert len(set(a.values())) == 4
    assert a["all_strategies"] == figures.PINNED_COLORS["all_strategies"]
    many = figures.condition_colors([f"c{i}" for i in range(25)])
    assert len(set(many.values())) == 25


def test_accuracy_figure_lines_labels_and_paper_reference(frame):
    fig = figures.plot_accuracy(frame)
    (ax,) = fig.axes
    conditions = results.condition_order(frame)
    assert ax.get_xlabel() == "RL step" and "accuracy" in ax.get_ylabel() and ax.get_title()
    assert [l.get_label() for l in measured_lines(ax)] == conditions
    assert [t.get_text() for t in ax.get_legend().get_texts()] == conditions
    line = measured_lines(ax)[conditions.index("incorrect_only")]
    assert list(line.get_xdata()) == [0, 10, 20, 30]

    ref = figures.plot_accuracy(frame, paper_reference=True)
    (rax,) = ref.axes
    assert len(measured_lines(rax)) == len(conditions)
    ref_labels = [t for t in legend_texts(ref) if "paper" in t]
    assert f"all_strategies (paper end {paper_numbers.BY_KEY['all_strategies'].end:.2f})" in ref_labels
    assert f"incorrect_only (paper end {paper_numbers.BY_KEY['no_positive'].end:.2f})" in ref_labels
    dashed = [l for l in rax.get_lines() if l.get_gid() == figures.PAPER_GID and l.get_linestyle() == "--"
              and len(l.get_ydata()) == 2]
    assert any(l.get_ydata()[0] == paper_numbers.BY_KEY["cpt_rich"].end for l in dashed)


def test_behavior_figure_has_four_panels_with_one_line_per_condition(frame):
    fig = figures.plot_behaviors(frame)
    assert [ax.get_title() for ax in fig.axes] == ["Verification", "Backtracking", "Subgoal setting",
                                                   "Backward chaining"]
    n = len(results.condition_order(frame))
    assert all(len(ax.get_lines()) == n for ax in fig.axes)
    assert all(ax.get_ylabel() == "mean count per response" for ax in fig.axes)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == results.condition_order(frame)
    # the same condition has the same color here as in the accuracy figure
    colors = figures.condition_colors(results.condition_order(frame))
    for line in fig.axes[2].get_lines():
        assert matplotlib.colors.to_hex(line.get_color()) == colors[line.get_label()]


def test_response_length_and_final_accuracy(frame):
    fig = figures.plot_response_length(frame)
    assert "characters" in fig.axes[0].get_ylabel()
    assert len(fig.axes[0].get_lines()) == 5

    fig = figures.plot_final_accuracy(frame, exclude=["cpt_rich", "cpt_minimal"])
    bars, curves = fig.axes
    ticks = [t.get_text() for t in bars.get_xticklabels()]
    assert ticks[:2] == ["all_strategies", "incorrect_only"] and ticks == [
        "all_strategies", "incorrect_only", "negative_control"]
    assert len(bars.patches) == 2 * 3
    final_heights = [p.get_height() for p in bars.containers[1]]
    assert final_heights == [0.3, 0.35, 0.4]
    assert [l.get_label() for l in curves.get_lines()] == ["all_strategies", "incorrect_only"]

    alone = figures.plot_final_accuracy(frame[frame["condition"] == "negative_control"])
    assert len(alone.axes) == 1


def test_continued_pretraining_figure(frame):
    fig = figures.plot_continued_pretraining(frame, ["cpt_rich", "cpt_minimal"], paper_reference=True)
    acc, behav = fig.axes
    assert [l.get_label() for l in measured_lines(acc)] == ["cpt_rich", "cpt_minimal"]
    assert [l.get_label() for l in behav.get_lines()] == ["cpt_rich", "cpt_minimal"]
    assert "sum of 4" in behav.get_ylabel()


# --- priming manifests -----------------------------------------------------------------------------------

def test_manifest_reader_shapes(tmp_path):
    (tmp_path / "all_strategies").mkdir()
    (tmp_path / "all_strategies" / "manifest.json").write_text(json.dumps({
        "counts": {"traces": 50, "correct": 20},
        "behaviors": {"verification": {"mean": 1.5, "share": 0.6}, "backtracking": {"total": 100},
                      "subgoal_setting": 0.25, "avg_backwards": 0.5}}))
    (s,) = figures.read_priming_manifest(tmp_path / "all_strategies")
    assert s.condition == "all_strategies" and s.n_traces == 50 and s.share_correct == 0.4
    assert s.behaviors == {"verification": 1.5, "backtracking": 2.0, "subgoal_setting": 0.25,
                           "backward_chaining": 0.5}
    assert s.metric == "mean count per trace"

    multi = tmp_path / "m.json"
    multi.write_text(json.dumps({"conditions": {
        "a": {"behavior_table": [{"behavior": b, "share": 0.1} for b in figures.BEHAVIORS]},
        "b": {"behavior_frequency": {b: {"share": 0.2} for b in figures.BEHAVIORS}, "n_traces": 3}}}))
    sets = figures.read_priming_manifest(multi)
    assert [x.condition for x in sets] == ["a", "b"] and {x.metric for x in sets} == {"share of traces"}

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"condition": "x", "counts": {}}))
    with pytest.raises(InputError, match="bad.json.*no behavior table"):
        figures.read_priming_manifest(bad)


def test_priming_composition_grouped_bars():
    sets = [figures.PrimingSet(c, {b: i + 0.5 for b in figures.BEHAVIORS}, "mean count per trace", 10, sc)
            for i, (c, sc) in enumerate([("negative_control", 0.9), ("all_strategies", 0.4),
                                         ("incorrect_only", 0.0)])]
    fig = figures.plot_priming_composition(sets)
    bars, correct = fig.axes
    assert len(bars.containers) == 3 and all(len(c) == 4 for c in bars.containers)
    assert [t.get_text() for t in bars.get_xticklabels()] == ["Verification", "Backtracking",
                                                              "Subgoal setting", "Backward chaining"]
    assert [t.get_text() for t in bars.get_legend().get_texts()] == [
        "negative_control (n=10)", "all_strategies (n=10)", "incorrect_only (n=10)"]
    assert [p.get_height() for p in correct.patches] == [0.9, 0.4, 0.0]


# --- CLI and report --------------------------------------------------------------------------------------

def test_cli_writes_png_pdf_and_report(tmp_path):
    write_rows(table(["all_strategies", "incorrect_only", "cpt_rich", "cpt_minimal", "no_priming"]),
               tmp_path / "r.csv")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"condition": "all_strategies", "behaviors": {b: 1.0 for b in figures.BEHAVIORS}}))
    out = tmp_path / "figs"
    with pytest.raises(SystemExit) as exit_:
        from countdown.cli import run_cli
        run_cli(figures.main, [str(tmp_path / "r.csv"), "--out", str(out), "--paper-reference",
                               "--manifests", str(tmp_path / "manifest.json")])
    assert exit_.value.code == 0
    for name in figures.FIGURES:
        assert (out / f"{name}.png").stat().st_size > 1000
        assert (out / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    text = (out / "report.md").read_text()
    assert "![accuracy](accuracy.png)" in text and "![behaviors](behaviors.png)" in text
    assert "| all_strategies | 4 | 0.000 (0) | 0.300 (30) | 0.300 (30) | +0.300 | 0.35 | 0.74 |" in text
    assert "Llama primed all_strategies" in text


def test_report_without_optional_figures_says_why(frame):
    res = [figures.FigureResult("priming_composition", None, [], "no priming manifests given")]
    text = report.render_report(frame, res, outcome="Nothing improved.")
    assert "## Measured outcome" in text and "Nothing improved." in text
    assert "*priming_composition* not drawn: no priming manifests given." in text


@pytest.mark.parametrize("make_bad", ["missing_column", "no_file", "unknown_condition"])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, make_bad):
    path = tmp_path / "r.csv"
    rows = table(["a"])
    extra = []
    if make_bad == "missing_column":
        rows = [{k: v for k, v in r.items() if k != "response_length"} for r in rows]
    if make_bad == "unknown_condition":
        extra = ["--conditions", "a", "nope"]
    if make_bad != "no_file":
        write_rows(rows, path)
    out = tmp_path / "figs"
    proc = subprocess.run([sys.executable, "-m", "analysis.figures", str(path), "--out", str(out), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert {"missing_column": "response_length", "no_file": "no such file",
            "unknown_condition": "nope"}[make_bad] in lines[0]
    assert not out.exists()


def test_reads_the_manifest_priming_build_writes(tmp_path):
    from priming import build

    assert build.main(["--condition", "all_strategies", "--condition", "incorrect_only", "--num", "40",
                       "--preset", "tiny", "--out", str(tmp_path), "--quiet"]) == 0
    sets = {s.condition: s for s in figures.read_priming_manifest(tmp_path / "manifest.json")}
    assert set(sets) == {"all_strategies", "incorrect_only"}
    for s in sets.values():
        assert s.n_traces == 40 and s.metric == "mean count per trace"
        assert all(s.behaviors[b] > 0 for b in figures.BEHAVIORS)  # both conditions require all four
    assert sets["all_strategies"].share_correct == 1.0 and sets["incorrect_only"].share_correct == 0.0
    fig = figures.plot_priming_composition(list(sets.values()))
    assert len(fig.axes[0].containers) == 2
