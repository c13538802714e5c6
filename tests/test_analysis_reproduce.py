"""The whole spine at smoke scale: python -m analysis.reproduce --preset smoke (offline, CPU, ~1-2 min)."""
from __future__ import annotations

import json
import os

import pytest

from analysis import reproduce
from analysis.outcome import outcome_text
from analysis.reproduce import ReproduceConfig
from analysis.results import load_results
from countdown.io import InputError, read_rows
from countdown.records import RESULTS_COLUMNS


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = tmp_path_factory.mktemp("reproduce") / "smoke"
    assert reproduce.main(["--preset", "smoke", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_smoke_spine_produces_tables_figures_and_report(smoke_run):
    out = smoke_run
    conditions = ReproduceConfig.from_preset("smoke", out=str(out)).conditions
    # every stage left its artifact and its done-marker
    for split in ("test", "train", "pretrain"):
        assert read_rows(out / "problems" / f"{split}.jsonl")
    manifest = json.loads((out / "priming" / "manifest.json").read_text())
    assert set(conditions) <= set(manifest["conditions"])
    assert (out / "base" / "model" / "config.json").is_file()
    for c in conditions:
        assert (out / "sft" / c / "sft_summary.json").is_file()
        assert (out / "rl" / c / "train_summary.json").is_file()
        rows = read_rows(out / "results" / f"{c}.csv")
        assert set(RESULTS_COLUMNS) <= set(rows[0])
        assert [r["step"] for r in rows] == [0, 1, 2] and {r["condition"] for r in rows} == {c}
    frame = load_results(reproduce.result_paths(out, ReproduceConfig.from_preset("smoke", out=str(out))))
    assert set(frame["condition"]) == set(conditions)
    for name in ("accuracy", "behaviors", "response_length", "priming_composition", "final_accuracy"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 0
        assert (out / "figures" / f"{name}.pdf").is_file()
    report = (out / "report.md").read_text()
    assert "## Measured outcome" in report and "## Stage timings" in report
    assert "![accuracy](figures/accuracy.png)" in report
    assert all(f"| {c} |" in report for c in conditions)
    stages = {t["stage"] for t in reproduce.stage_timings(out)}
    assert {"problems", "priming", "base", "figures", "report"} <= stages
    assert {f"rl/{c}" for c in conditions} <= stages


@pytest.mark.slow
def test_smoke_results_are_the_traces_and_labels_it_kept(smoke_run):
    """Each results row is recomputed from the evaluated traces and their labels, not read back from itself."""
    from countdown.records import BEHAVIORS, RESULTS_BEHAVIOR_COLUMNS
    from countdown.reward import score
    from rl.evaluate import step_files

    out = smoke_run
    for c in ReproduceConfig.from_preset("smoke", out=str(out)).conditions:
        for row in read_rows(out / "results" / f"{c}.csv"):
            traces_path, labels_path = step_files(reproduce.eval_dir(out, c), row["step"])
            traces, labels = read_rows(traces_path), read_rows(labels_path)
            rewards = [score(t["completion"], t["numbers"], t["target"]) for t in traces]
            assert [t["reward"] for t in traces] == rewards               # stored rewards are the reward's
            assert row["accuracy"] == pytest.approx(sum(r == 1.0 for r in rewards) / len(rewards))
            lengths = [len(t["completion"]) for t in traces]
            assert row["response_length"] == pytest.approx(sum(lengths) / len(lengths))
            for behavior in BEHAVIORS:
                avg, total = RESULTS_BEHAVIOR_COLUMNS[behavior]
                counts = [lab[behavior] for lab in labels]
                assert row[total] == sum(counts) and row[avg] == pytest.approx(sum(counts) / len(counts))


@pytest.mark.slow
def test_rerun_skips_finished_stages(smoke_run, capsys):
    before = (smoke_run / "report.md").stat().st_mtime_ns
    assert reproduce.main(["--preset", "smoke", "--out", str(smoke_run)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("skipped") >= 11 and "finished in" not in printed
    assert (smoke_run / "report.md").stat().st_mtime_ns == before


@pytest.mark.slow
def test_other_settings_in_same_folder_is_an_input_error(smoke_run):
    with pytest.raises(InputError, match="other settings.*seed"):
        reproduce.main(["--preset", "smoke", "--out", str(smoke_run), "--seed", "1"])


def test_stage_options_read_numbers_in_exponent_form(tmp_path):
    """`--train lr=5e-4` is the number 0.0005 (YAML alone reads it as text), so it equals the preset's
    `lr: 5.0e-4` and the settings check does not see a change that is not there."""
    config = ReproduceConfig.parse(["--preset", "smoke", "--out", str(tmp_path), "--train", "lr=5e-4",
                                    "beta=1E-2", "steps=3", "rollout_backend=transformers"])
    recorded = config.settings()["train"]   # what settings.json keeps and compares on a re-run
    assert recorded["lr"] == 0.0005 and recorded["beta"] == 0.01 and recorded["steps"] == 3
    assert recorded["rollout_backend"] == "transformers" and config.stage_values("train")["lr"] == 0.0005
    # the same in a config file, and the literal forms YAML already read stay as they were
    (tmp_path / "mine.yaml").write_text("train: {lr: 5e-4, beta: 1.0e-3, steps: 3, problem_preset: 1e3x}\n")
    from_file = ReproduceConfig.parse(["--preset", "smoke", "--out", str(tmp_path), "--config",
                                       str(tmp_path / "mine.yaml")]).settings()["train"]
    assert from_file["lr"] == 0.0005 and from_file["beta"] == 0.001 and from_file["problem_preset"] == "1e3x"


def test_outcome_text_is_honest_about_noise():
    import pandas as pd

    rows = []
    for c, accs in {"negative_control": (0.0, 0.05), "all_strategies": (0.0, 0.06),
                    "incorrect_only": (0.0, 0.04)}.items():
        for step, acc in zip((0, 10), accs):
            rows.append({"condition": c, "step": step, "accuracy": acc, "response_length": 50.0,
                         **{col: 0.0 for col in RESULTS_COLUMNS[2:10]}})
    text = outcome_text(pd.DataFrame(rows), ReproduceConfig.from_preset("tiny", out="x"), 600)
    assert "within sampling noise" in text and "does not reproduce the paper's effect" in text
    assert "10.0 minutes" in text


def test_outcome_text_says_which_half_of_the_effect_it_reproduced():
    """Primed far above the control but incorrect-only far below: the claim names the half that held."""
    import pandas as pd

    rows = [{"condition": c, "step": step, "accuracy": acc, "response_length": 50.0,
             **{col: 0.0 for col in RESULTS_COLUMNS[2:10]}}
            for c, accs in {"negative_control": (0.10, 0.14), "all_strategies": (0.33, 0.58),
                            "incorrect_only": (0.03, 0.08)}.items() for step, acc in zip((0, 40), accs)]
    text = outcome_text(pd.DataFrame(rows), ReproduceConfig.from_preset("organism", out="x"), parameters=1_016_960)
    assert "reproduces half of the paper's effect" in text and "incorrect-only priming ended clearly below" in text
    assert "1.0M-parameter model trained from scratch, 40 GRPO steps, 256 held-out samples" in text


def test_outcome_text_when_nothing_is_solved():
    import pandas as pd

    rows = [{"condition": c, "step": s, "accuracy": 0.0, "response_length": 50.0,
             **{col: (1.0 if c == "all_strategies" else 0.0) for col in RESULTS_COLUMNS[2:10]}}
            for c in ("negative_control", "all_strategies") for s in (0, 4)]
    text = outcome_text(pd.DataFrame(rows), ReproduceConfig.from_preset("tiny", out="x"), parameters=3_000_000)
    assert "both solved none of the 64 held-out samples" in text
    assert "cannot speak to the paper's accuracy claims" in text and "put the behaviors" in text
    assert "4.00 per `all_strategies` response vs 0.00" in text and "3.0M-parameter" in text


def test_priming_stage_builds_the_asked_correctness_mix(tmp_path):
    """--correct-share reaches priming.build: half the smoke sets' answers are right, and the controls'
    answers are all_strategies' (the stage builds what the CLI would)."""
    from countdown.reward import score

    config = ReproduceConfig.from_preset("smoke", out=str(tmp_path), correct_share="0.5",
                                         conditions=["all_strategies", "negative_control"])
    reproduce.stage_problems(tmp_path, config)
    reproduce.stage_priming(tmp_path, config)
    for condition in config.conditions:
        rows = read_rows(tmp_path / "priming" / f"{condition}.jsonl")
        assert sum(score(r["completion"], r["numbers"], r["target"]) == 1.0 for r in rows) == len(rows) // 2
    with pytest.raises(InputError, match="correct-share"):
        ReproduceConfig.from_preset("smoke", out=str(tmp_path), correct_share="2")


def test_priming_stage_reorders_numbers_when_asked(tmp_path):
    """--priming-orders reaches priming.build: the sets reuse problems in other number orders, never twice the
    same order, and none of them is a held-out problem."""
    config = ReproduceConfig.from_preset("smoke", out=str(tmp_path), priming_orders=3, conditions=["all_strategies"])
    reproduce.stage_problems(tmp_path, config)
    reproduce.stage_priming(tmp_path, config)
    rows = read_rows(tmp_path / "priming" / "all_strategies.jsonl")
    keys = [(tuple(sorted(r["numbers"])), r["target"]) for r in rows]
    assert len({(tuple(r["numbers"]), r["target"]) for r in rows}) == len(rows) > len(set(keys))
    held_out = {(tuple(sorted(r["numbers"])), r["target"]) for r in read_rows(reproduce.problems_path(tmp_path, "test"))}
    assert not held_out & set(keys)


def _frame(accuracy: dict[str, tuple[float, float]], behaviors: dict[str, tuple[float, float]]):
    """Results rows at steps 0 and 40: accuracy and (verification = backtracking) counts per condition."""
    import pandas as pd

    rows = []
    for c, accs in accuracy.items():
        for step, acc, count in zip((0, 40), accs, behaviors[c]):
            rows.append({"condition": c, "step": step, "accuracy": acc, "response_length": 50.0,
                         **{col: 0.0 for col in RESULTS_COLUMNS[2:10]},
                         "avg_verifications": count, "avg_backtracking": count})
    return pd.DataFrame(rows)


def test_targets_are_stated_met_when_the_numbers_reach_them():
    from analysis.outcome import outcome_text

    frame = _frame({"negative_control": (0.10, 0.15), "all_strategies": (0.10, 0.45), "incorrect_only": (0.05, 0.40)},
                   {"negative_control": (0.0, 0.0), "all_strategies": (6.0, 4.0), "incorrect_only": (7.0, 5.0)})
    config = ReproduceConfig.from_preset("organism", out="x")
    text = outcome_text(frame, config)
    targets = text.split("targets (docs/analysis.md), each as measured:")[1]
    assert "NOT met" not in targets and targets.count("— met") == 6
    assert "+0.350 ± 0.036" in targets           # sqrt(.1*.9/256 + .45*.55/256) = 0.0363
    assert "the ready base model `rl/checkpoints/organism-base`" in text
    assert "primed with 3 synthesizer sets (search style, incorrect_only ending by slip)" in text


def test_targets_say_which_are_not_met():
    from analysis.outcome import organism_targets
    from analysis.results import summarize

    frame = _frame({"negative_control": (0.07, 0.08), "all_strategies": (0.08, 0.14), "incorrect_only": (0.05, 0.02)},
                   {"negative_control": (0.0, 0.3), "all_strategies": (7.4, 4.7), "incorrect_only": (6.8, 2.1)})
    targets = organism_targets(frame, {s.condition: s for s in summarize(frame)}, 256)
    # gain 0.06 < 0.15; control +0.01 <= 0.03 is met; gap 0.06 < 0.10; incorrect 0.12 below; incorrect_only's
    # backtracking 2.1 < half of 6.8; the control's 0.6 behaviors per response are not near zero
    assert [t.met for t in targets] == [False, True, False, False, False, False]
    assert targets[4].measured.startswith("`all_strategies` verification 7.40 → 4.70, backtracking 7.40 → 4.70;")


def test_base_model_must_be_a_model_folder_and_the_preset_path_is_the_repositorys(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="--base-model .*empty: not a model folder"):
        ReproduceConfig.from_preset("organism", out=str(tmp_path / "run"), base_model=str(tmp_path / "empty"))
    assert not (tmp_path / "run").exists()
    monkeypatch.chdir(tmp_path)            # the preset's relative path still finds the committed checkpoint
    config = ReproduceConfig.from_preset("organism", out="run")
    assert (config.base_source() / "model.safetensors").is_file()
    assert ReproduceConfig.from_preset("organism", out="run", pretrain=True).base_source() is None


@pytest.mark.parametrize("values, message", [
    ({"conditions": ["cpt_other"]}, "unknown condition 'cpt_other'"),                # not given in --cpt
    ({"cpt": {"all_strategies": {"searches": 1}}}, "is a priming condition"),
    ({"cpt": {"cpt_rich": 3}}, "as a mapping"),
    ({"cpt": {"cpt_rich": {"searches": 2}}}, "must be shares"),                      # priming.corpus's own check
    ({"cpt": {"cpt_rich": {"pages": 2}}}, "unknown option"),
])
def test_continued_pretraining_conditions_are_checked_before_any_work(tmp_path, values, message):
    with pytest.raises(InputError, match=message):
        ReproduceConfig.from_preset("organism-pair", out=str(tmp_path / "run"), **values)
    assert not (tmp_path / "run").exists()


def test_conditions_start_grpo_from_the_base_its_sft_or_its_continued_pretraining(tmp_path):
    config = ReproduceConfig.from_preset("gpu", out=str(tmp_path))
    assert config.priming_conditions() == ["negative_control", "all_strategies", "incorrect_only", "empty_cot"]
    starts = {c: reproduce.start_model(tmp_path, config, c).relative_to(tmp_path).as_posix() for c in config.conditions}
    assert starts["no_priming"] == "base/model" and starts["cpt_rich"] == "cpt/cpt_rich"
    assert starts["incorrect_only"] == "sft/incorrect_only"
    assert config.cpt_corpus("cpt_minimal").out == str(tmp_path / "cpt" / "cpt_minimal.parquet")


def test_the_pairs_targets_are_the_primings_stated_for_continued_pretraining():
    """organism-pair: cpt_rich against cpt_minimal, with no incorrect_only target; a rich twin that does not
    pull away is said so."""
    from analysis.outcome import outcome_text

    config = ReproduceConfig.from_preset("organism-pair", out="x")
    frame = _frame({"no_priming": (0.06, 0.10), "cpt_minimal": (0.06, 0.10), "cpt_rich": (0.36, 0.69)},
                   {"no_priming": (0.0, 0.0), "cpt_minimal": (0.0, 0.0), "cpt_rich": (8.7, 12.4)})
    text = outcome_text(frame, config)
    targets = text.split("each as measured:")[1].strip().splitlines()
    assert len(targets) == 5 and all(t.endswith("— met.") for t in targets) and "incorrect_only" not in text
    assert targets[0].startswith("- `cpt_rich` gains ≥ 0.15") and "+0.330 ±" in targets[0]
    assert "ended clearly above its behavior-minimal twin" in text

    frame = _frame({"cpt_minimal": (0.06, 0.35), "cpt_rich": (0.36, 0.40)},
                   {"cpt_minimal": (0.0, 0.0), "cpt_rich": (8.7, 2.0)})
    text = outcome_text(frame, config)
    assert text.count("NOT met") == 4 and "did not end clearly above its behavior-minimal twin" in text
