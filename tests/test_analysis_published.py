"""Published results read as they are: the paper authors' per-model tables (their condition names, no model
column), their share-correct table, the base-model figure, colors and legibility with many conditions.

The tables are written here in the same shape (the authors' files are never committed)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from analysis import figures, paper_numbers, report, results  # noqa: E402
from countdown.cli import run_cli  # noqa: E402
from countdown.io import InputError, write_rows  # noqa: E402
from countdown.records import RESULTS_COLUMNS  # noqa: E402

# the ten names both of the authors' files use, and the ones only their Llama file has
SHARED = ["base_ppo", "all_strategies", "only_backtracking", "backtracking_verification", "backtracking_backward",
          "backtracking_subgoal", "empty_cot", "dots", "no_positive_all_strategies", "human_cot"]
LLAMA_ONLY = ["base_70b", "owmathqa_method", "owmathqa_none"]
STEPS = (0, 10, 20)


def authors_table(conditions, offset):
    """Rows in the results schema as the authors publish them: their names, no model column."""
    rows = []
    for ci, condition in enumerate(conditions):
        for si, step in enumerate(STEPS):
            row = {"condition": condition, "step": step}
            for k, col in enumerate(RESULTS_COLUMNS[2:10]):
                row[col] = round(offset + ci + k + si / 10, 3)
            row["accuracy"] = round(min(1.0, offset / 10 + 0.02 * ci + 0.1 * si), 3)
            row["response_length"] = 300.0 + 10 * si + ci + 100 * offset
            rows.append(row)
    return rows


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def published(tmp_path):
    write_rows(authors_table(SHARED, 1), tmp_path / "qwen.csv")
    write_rows(authors_table(SHARED + LLAMA_ONLY, 2), tmp_path / "llama.csv")
    write_rows([{"condition": "all_strategies", "average_score": 0.43}, {"condition": "only_backtracking",
                "average_score": 0.42}, {"condition": "no_positive_all_strategies", "average_score": 0.0},
                {"condition": "empty_cot", "average_score": 0.19}], tmp_path / "share_correct.csv")
    return tmp_path


def legend_texts(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def measured(ax):
    return {line.get_label(): line for line in ax.get_lines() if line.get_gid() != figures.PAPER_GID}


# --- reading ----------------------------------------------------------------------------------------------

def test_two_model_files_with_shared_names_stay_apart(published):
    frame = results.load_results([published / "qwen.csv", published / "llama.csv"])
    assert len(frame) == (len(SHARED) * 2 + len(LLAMA_ONLY)) * len(STEPS)   # nothing replaced
    assert list(dict.fromkeys(frame["model"])) == ["qwen", "llama"]       # the file stems, in order given
    assert len(results.series(frame)) == 2 * len(SHARED) + len(LLAMA_ONLY)
    # the authors' names read as the toolkit's, the original kept
    assert {"no_priming", "incorrect_only", "length_matched", "no_priming_70b", "cpt_rich", "cpt_minimal",
            "human_cot"} <= set(frame["condition"])
    assert not {"base_ppo", "dots", "no_positive_all_strategies", "base_70b"} & set(frame["condition"])
    assert set(frame.loc[frame["condition"] == "no_priming", "original_condition"]) == {"base_ppo"}
    qwen = results.series_rows(frame, ("qwen", "no_priming"))
    llama = results.series_rows(frame, ("llama", "no_priming"))
    assert qwen["accuracy"].tolist() == [0.1, 0.2, 0.3] and llama["accuracy"].tolist() == [0.2, 0.3, 0.4]


def test_model_names_from_a_column_or_file_colon_name(published, tmp_path):
    renamed = results.load_results([f"{published / 'qwen.csv'}:Qwen-2.5-3B",
                                    f"{published / 'llama.csv'}:Llama-3.2-3B"])
    assert list(dict.fromkeys(renamed["model"])) == ["Qwen-2.5-3B", "Llama-3.2-3B"]
    both = [dict(r, model="q") for r in authors_table(SHARED[:2], 1)] + \
        [dict(r, model="l") for r in authors_table(SHARED[:2], 2)]
    write_rows(both, tmp_path / "both.csv")
    frame = results.load_results([tmp_path / "both.csv"])
    assert results.series(frame) == [("q", "all_strategies"), ("q", "no_priming"), ("l", "all_strategies"),
                                     ("l", "no_priming")]
    with pytest.raises(InputError, match="empty model name"):
        results.load_results([f"{tmp_path / 'both.csv'}:"])


def test_conditions_filter_takes_the_authors_names(published):
    frame = results.load_results([published / "qwen.csv", published / "llama.csv"],
                                 conditions=["dots", "base_ppo"])
    assert results.series(frame) == [("qwen", "length_matched"), ("qwen", "no_priming"),
                                     ("llama", "length_matched"), ("llama", "no_priming")]


@pytest.mark.parametrize("column,value,needle", [
    ("avg_backtracking", "inf", "finite"), ("total_verifications", "-inf", "finite"),
    ("avg_subgoals", -0.5, "cannot be negative"), ("response_length", -3, "cannot be negative"),
    ("accuracy", "inf", "finite"),
])
def test_infinite_and_negative_counts_are_refused(tmp_path, column, value, needle):
    rows = authors_table(["x"], 1)
    rows[1][column] = value
    write_rows(rows, tmp_path / "bad.csv")
    with pytest.raises(InputError) as err:
        results.load_results([tmp_path / "bad.csv"])
    assert "bad.csv:3" in str(err.value) and needle in str(err.value) and column in str(err.value)


# --- figures ------------------------------------------------------------------------------------------------

def test_accuracy_figure_keeps_models_apart_with_their_own_paper_lines(published):
    frame = results.load_results([published / "qwen.csv", published / "llama.csv"])
    fig = figures.plot_accuracy(frame, paper_reference=True)
    (ax,) = fig.axes
    lines = measured(ax)
    assert len(lines) == 2 * len(SHARED) + len(LLAMA_ONLY)
    qwen, llama = lines["qwen: no_priming"], lines["llama: no_priming"]
    assert list(qwen.get_ydata()) == [0.1, 0.2, 0.3] and list(llama.get_ydata()) == [0.2, 0.3, 0.4]
    assert qwen.get_color() == llama.get_color() and qwen.get_linestyle() != llama.get_linestyle()
    assert "no_priming_70b" in lines and "cpt_rich" in lines   # Llama-only names need no model prefix
    paper = [t for t in legend_texts(fig) if "paper" in t]
    qwen_row, llama_row = paper_numbers.BY_KEY["qwen_no_priming"], paper_numbers.BY_KEY["llama_no_priming"]
    assert f"qwen: no_priming (paper end {qwen_row.end:.2f})" in paper
    assert f"llama: no_priming (paper end {llama_row.end:.2f})" in paper
    assert f"llama: all_strategies (paper end {paper_numbers.BY_KEY['all_strategies'].end:.2f})" in paper
    assert f"llama: incorrect_only (paper end {paper_numbers.BY_KEY['no_positive'].end:.2f})" in paper
    # the paper's primed rows are Llama's: none of them is drawn beside Qwen's curves
    assert not [t for t in paper if t.startswith("qwen:") and "no_priming" not in t]
    assert f"cpt_rich (paper end {paper_numbers.BY_KEY['cpt_rich'].end:.2f})" in paper


def test_base_model_figure_compares_the_unprimed_models_at_step_0(published):
    frame = results.load_results([published / "qwen.csv", published / "llama.csv"])
    built = figures.build_figures(frame)
    fig, reason = built["base_behaviors"]
    assert reason is None
    (ax,) = fig.axes
    assert [c.get_label() for c in ax.containers] == ["qwen: no_priming (step 0)", "llama: no_priming (step 0)",
                                                      "no_priming_70b (step 0)"]
    step0 = results.series_rows(frame, ("llama", "no_priming_70b")).iloc[0]
    assert [p.get_height() for p in ax.containers[2]] == [step0[c] for c in
                                                          ("avg_verifications", "avg_backtracking",
                                                           "avg_subgoals", "avg_backwards")]
    unprimed = frame[~frame["condition"].isin(paper_numbers.BASE_CONDITIONS)]
    assert figures.build_figures(unprimed)["base_behaviors"][0] is None
    only = figures.plot_base_behaviors(frame, ["no_priming"])
    assert len(only.axes[0].containers) == 2


def test_share_correct_table_feeds_the_priming_composition_figure(published):
    sets = figures.read_priming_manifest(published / "share_correct.csv")
    assert [s.condition for s in sets] == ["all_strategies", "only_backtracking", "incorrect_only", "empty_cot"]
    fig = figures.plot_priming_composition(sets)
    (ax,) = fig.axes   # no behavior numbers in a share table: only the share panel
    assert [p.get_height() for p in ax.patches] == [0.43, 0.42, 0.0, 0.19]
    assert [t.get_text() for t in ax.get_xticklabels()] == [s.condition for s in sets]
    # beside a manifest with behaviors, both panels; the table's share wins for a condition both give
    manifest = figures.PrimingSet("all_strategies", {b: 1.0 for b in figures.BEHAVIORS}, "mean count per trace",
                                  share_correct=1.0)
    bars, share = figures.plot_priming_composition([manifest, *sets]).axes
    assert len(bars.containers) == 1 and share.patches[0].get_height() == 0.43


@pytest.mark.parametrize("value", [1.5, "high", -0.1])
def test_share_correct_table_bad_values(tmp_path, value):
    write_rows([{"condition": "all_strategies", "average_score": value}], tmp_path / "s.csv")
    with pytest.raises(InputError, match="s.csv:2"):
        figures.read_share_table(tmp_path / "s.csv")


def test_every_condition_keeps_one_distinct_color():
    assert len(set(figures.PINNED_COLORS.values())) == len(figures.PINNED_COLORS)
    for n in (25, 29, 60):
        names = [f"cond_{i:02d}" for i in range(n)] + list(figures.PINNED_COLORS)
        colors = figures.condition_colors(names)
        assert len(set(colors.values())) == len(names)       # no repeats, no fallback to black
        assert "#000000" not in colors.values()
        assert all(colors[name] == figures.PINNED_COLORS[name] for name in figures.PINNED_COLORS)
    assert figures.condition_colors(names) == figures.condition_colors(list(reversed(names)))


def _inches(fig, bbox):
    return bbox.width / fig.dpi, bbox.height / fig.dpi


@pytest.mark.parametrize("plot", ["accuracy", "behaviors", "response_length", "final_accuracy",
                                  "continued_pretraining"])
def test_figures_stay_legible_with_25_conditions(tmp_path, plot):
    names = [f"condition_with_a_long_name_{i:02d}" for i in range(25)]
    write_rows(authors_table(names, 1), tmp_path / "m.csv")
    frame = results.load_results([tmp_path / "m.csv"])
    fig = {"accuracy": figures.plot_accuracy, "behaviors": figures.plot_behaviors,
           "response_length": figures.plot_response_length, "final_accuracy": figures.plot_final_accuracy,
           "continued_pretraining": lambda f: figures.plot_continued_pretraining(f, names)}[plot](frame)
    assert len(fig.legends) <= 1   # a long legend is drawn once
    fig.canvas.draw()
    canvas = fig.bbox
    for legend in [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends):
        box = legend.get_window_extent()
        assert box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1 and box.y0 >= canvas.y0 - 1   # not clipped
    if plot != "final_accuracy":
        assert len([t for t in legend_texts(fig) if t.startswith("condition_with")]) == 25
    for ax in fig.axes:
        width, height = _inches(fig, ax.get_window_extent())
        assert width >= (3.0 if plot == "behaviors" else 4.5) and height >= 2.0, (width, height)  # not collapsed
    if plot == "final_accuracy":
        (bars, *_) = fig.axes
        assert _inches(fig, bars.get_window_extent())[0] / 25 >= 0.3   # room for each pair of bars


# --- the command line and the report ---------------------------------------------------------------------

def test_figures_cli_reads_the_authors_files_as_they_are(published):
    out = published / "figs"
    with pytest.raises(SystemExit) as exit_:
        run_cli(figures.main, [str(published / "qwen.csv"), str(published / "llama.csv"),
                               str(published / "share_correct.csv"), "--paper-reference", "--out", str(out)])
    assert exit_.value.code == 0
    for name in figures.FIGURES:
        assert (out / f"{name}.png").stat().st_size > 1000, name
    text = (out / "report.md").read_text()
    # one row per model for a shared name, each with its own model's paper numbers (or none)
    assert "| condition | model | checkpoints |" in text
    qwen_row, llama_row = paper_numbers.BY_KEY["qwen_no_priming"], paper_numbers.BY_KEY["llama_no_priming"]
    assert f"| no_priming | qwen | 3 | 0.100 (0) | 0.300 (20) | 0.300 (20) | +0.200 | {qwen_row.start:.2f} | " \
           f"{qwen_row.end:.2f} |" in text
    assert f"| no_priming | llama | 3 | 0.200 (0) | 0.400 (20) | 0.400 (20) | +0.200 | {llama_row.start:.2f} | " \
           f"{llama_row.end:.2f} |" in text
    assert "| all_strategies | qwen | 3 | 0.120 (0) | 0.320 (20) | 0.320 (20) | +0.200 | – | – |" in text
    assert "`base_ppo` → `no_priming`" in text and "`owmathqa_none` → `cpt_minimal`" in text
    assert "Qwen-2.5-3B, no priming" in text and "Llama-3.2-3B, no priming" in text


def test_report_cli_keeps_models_apart(published, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        run_cli(report.main, [str(published / "qwen.csv"), str(published / "llama.csv"),
                              str(published / "share_correct.csv"), "--out", str(tmp_path / "r.md")])
    assert exit_.value.code == 0
    text = (tmp_path / "r.md").read_text()
    # one accuracy row and two behavior rows (first and last step) per model
    assert text.count("| human_cot | qwen |") == 3 and text.count("| human_cot | llama |") == 3
    assert "| human_cot | qwen | 3 | 0.280 (0) |" in text and "| human_cot | llama | 3 | 0.380 (0) |" in text


@pytest.mark.parametrize("bad", ["inf", "negative"])
def test_figures_cli_bad_counts_exit_2_and_write_nothing(tmp_path, bad):
    import subprocess
    import sys
    from pathlib import Path

    rows = authors_table(["x"], 1)
    rows[0]["avg_verifications"] = "inf" if bad == "inf" else -1
    write_rows(rows, tmp_path / "r.csv")
    proc = subprocess.run([sys.executable, "-m", "analysis.figures", str(tmp_path / "r.csv"), "--out",
                           str(tmp_path / "figs")], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and "r.csv:2" in line and "avg_verifications" in line
    assert not (tmp_path / "figs").exists()
