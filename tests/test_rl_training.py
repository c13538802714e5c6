"""The training stage end to end on CPU with the tiny local model: SFT -> GRPO -> checkpoint evaluation.

One module-scoped chain keeps the budget small: the SFT'd model is the GRPO starting point (a random tiny
model never writes an <answer>, so every GRPO group would have zero reward variance and no gradient), and
the GRPO run is what rl.evaluate sweeps.
"""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from countdown.io import InputError, read_rows, write_rows  # noqa: E402
from countdown.prompts import render_prompt  # noqa: E402
from countdown.records import RESULTS_COLUMNS, RESULTS_JUDGE_COLUMNS  # noqa: E402

pytestmark = pytest.mark.slow


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


@pytest.fixture(scope="module")
def priming_file(tmp_path_factory):
    """Short answer-only traces: enough for a 0.1M-parameter model to learn the answer format in seconds."""
    from countdown.generate import generate_problems

    rows = [{"prompt": render_prompt(p.numbers, p.target), "completion": f" </think> <answer> {p.solution} </answer>",
             "condition": "answer_only"}
            for p in generate_problems(48, seed=3, preset="tiny", split="train")]
    path = tmp_path_factory.mktemp("priming") / "priming.jsonl"
    write_rows(rows, path)
    return path


@pytest.fixture(scope="module")
def sft_run(tiny_model_dir, priming_file, tmp_path_factory):
    from rl.sft import main

    out = tmp_path_factory.mktemp("sft") / "model"
    assert main(["--preset", "tiny", "--model", str(tiny_model_dir), "--data", str(priming_file), "--out", str(out),
                 "--epochs", "8", "--lr", "3e-3"]) == 0
    return out


@pytest.fixture(scope="module")
def grpo_run(sft_run, tmp_path_factory):
    from rl.train import main

    out = tmp_path_factory.mktemp("grpo") / "run"
    assert main(["--preset", "tiny", "--model", str(sft_run), "--out", str(out), "--steps", "4", "--save-steps", "2",
                 "--max-completion-length", "24", "--seed", "0"]) == 0
    return out


def test_sft_lowers_loss_and_saves_a_loadable_model(sft_run, tiny_model_dir):
    from rl.models import load_model_and_tokenizer

    summary = json.loads((sft_run / "sft_summary.json").read_text())
    assert summary["mode"] == "completion_only" and summary["rows"] == 48
    assert summary["loss_after"] < 0.7 * summary["loss_before"]
    assert not list(sft_run.glob("checkpoint-*"))  # resume checkpoints are cleaned up after the final save
    model, tok = load_model_and_tokenizer(sft_run)
    assert tok.padding_side == "left" and tok.pad_token is not None
    before, after = _weights(tiny_model_dir), _weights(sft_run)
    assert any(not (before[k] == after[k]).all() for k in before)


def test_sft_rerun_is_skipped(sft_run, priming_file, capsys):
    from rl.sft import main

    stamp = (sft_run / "model.safetensors").stat().st_mtime_ns
    assert main(["--preset", "tiny", "--model", "unused/model", "--data", str(priming_file),
                 "--out", str(sft_run)]) == 0
    assert "already trained" in capsys.readouterr().out
    assert (sft_run / "model.safetensors").stat().st_mtime_ns == stamp


def test_sft_text_mode_trains_on_plain_text(tiny_model_dir, tmp_path):
    from rl.sft import main

    data = tmp_path / "corpus.jsonl"
    write_rows([{"text": f"Check: {a} + {b} = {a + b}. That matches, so go back and try {a} * {b}."}
                for a in range(1, 9) for b in range(1, 3)], data)
    out = tmp_path / "cpt"
    assert main(["--preset", "tiny", "--text", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(out),
                 "--epochs", "2", "--lr", "3e-3"]) == 0
    summary = json.loads((out / "sft_summary.json").read_text())
    assert summary["mode"] == "text" and summary["loss_after"] < summary["loss_before"]


def test_sft_on_question_answer_text_trains_on_the_completion_only(tiny_model_dir, tmp_path):
    """A --text corpus rewritten into question -> thinking -> answer (priming.curate --reformat-qa): the loss is
    on the completion, as in the paper; the paper's AdamW settings reach the trainer."""
    from rl.sft import SFTConfig, load_sft_rows, main, trainer_args

    data = tmp_path / "qa.jsonl"
    write_rows([{"text": f"Question: {a} + {b}?\n<think> {a} + {b} = {a + b}. </think> <answer> {a + b} </answer>",
                 "prompt": f"Question: {a} + {b}?\n<think>",
                 "completion": f" {a} + {b} = {a + b}. </think> <answer> {a + b} </answer>"}
                for a in range(1, 9) for b in range(1, 3)], data)
    assert set(load_sft_rows(data, text_mode=True)[0]) == {"prompt", "completion"}
    plain = tmp_path / "plain.jsonl"
    write_rows([{"text": "Plain words.", "prompt": "", "completion": ""}], plain)   # not every row is QA
    assert set(load_sft_rows(plain, text_mode=True)[0]) == {"text"}
    config = SFTConfig(model=str(tiny_model_dir), data=str(data), out=str(tmp_path / "o"), text=True)
    args = trainer_args(config, "cpu", completion_only=True)
    assert args.completion_only_loss and (args.adam_beta1, args.adam_beta2, args.weight_decay) == (0.9, 0.95, 0.01)
    assert not trainer_args(config, "cpu", completion_only=False).completion_only_loss
    assert args.train_sampling_strategy == "random"   # --group-by-length batches similar lengths instead
    grouped = SFTConfig(model=str(tiny_model_dir), data=str(data), out=str(tmp_path / "g"), group_by_length=True)
    assert trainer_args(grouped, "cpu").train_sampling_strategy == "group_by_length"
    out = tmp_path / "cpt-qa"
    assert main(["--preset", "tiny", "--text", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(out),
                 "--epochs", "2", "--lr", "3e-3"]) == 0
    summary = json.loads((out / "sft_summary.json").read_text())
    assert summary["mode"] == "completion_only" and summary["loss_after"] < summary["loss_before"]
    assert summary["adam_betas"] == [0.9, 0.95] and summary["weight_decay"] == 0.01


def test_grpo_changes_the_policy_and_writes_checkpoints(grpo_run, sft_run):
    from rl.models import list_checkpoints

    steps = [s for s, _ in list_checkpoints(grpo_run)]
    assert steps == [2, 4]
    for _, path in list_checkpoints(grpo_run):
        assert (path / "tokenizer.json").is_file() and (path / "config.json").is_file()
    start, end = _weights(sft_run), _weights(grpo_run / "checkpoint-4")
    assert any(not (start[k] == end[k]).all() for k in start), "GRPO left every weight unchanged"

    metrics = [json.loads(line) for line in (grpo_run / "metrics.jsonl").read_text().splitlines()]
    logged = [m for m in metrics if "reward" in m]
    assert [m["step"] for m in logged] == [1, 2, 3, 4]
    assert any(m["reward_std"] > 0 for m in logged)
    assert all(0.0 <= m["countdown/accuracy"] <= 1.0 for m in logged)
    info = json.loads((grpo_run / "run_info.json").read_text())
    assert info["rollout_backend"] == "transformers" and info["device"] == "cpu"


def test_grpo_rerun_of_a_finished_run_does_nothing(grpo_run, sft_run, capsys):
    from rl.train import main

    assert main(["--preset", "tiny", "--model", str(sft_run), "--out", str(grpo_run), "--steps", "4"]) == 0
    assert "finished run" in capsys.readouterr().out


def test_evaluate_writes_one_row_per_checkpoint_and_resumes(grpo_run, sft_run, tiny_problems, tmp_path):
    from rl.evaluate import main

    problems = tmp_path / "test.jsonl"
    write_rows([p.to_dict() for p in tiny_problems], problems)
    results = tmp_path / "results.csv"
    argv = [str(grpo_run), "--condition", "tiny", "--problems", str(problems), "--base-model", str(sft_run),
            "--backend", "hf", "--max-tokens", "24", "--num-samples", "2", "--results", str(results)]
    assert main(argv) == 0
    rows = read_rows(results)
    assert [r["step"] for r in rows] == [0, 2, 4]
    for row in rows:
        assert list(row) == list(RESULTS_COLUMNS + RESULTS_JUDGE_COLUMNS) and row["condition"] == "tiny"
        assert (row["judged"], row["judge_failed"]) == (2 * len(tiny_problems), 0)   # the rule judge sees all
        assert 0.0 <= row["accuracy"] <= 1.0 and row["response_length"] > 0
        assert row["avg_verifications"] is not None and row["total_backtracking"] is not None
    eval_dir = grpo_run / "eval" / "tiny"
    traces = read_rows(eval_dir / "step_000004.traces.jsonl")
    assert len(traces) == 2 * len(tiny_problems) and {t["step"] for t in traces} == {4}
    assert len(read_rows(eval_dir / "step_000004.labels.jsonl")) == len(traces)

    # Resume: nothing new when every step is in the table ...
    assert main(argv) == 0
    assert read_rows(results) == rows
    # ... and a step missing from the table is rebuilt from its saved traces, without sampling again.
    write_rows([r for r in rows if r["step"] != 2], results)
    stamp = (eval_dir / "step_000002.traces.jsonl").stat().st_mtime_ns
    assert main(argv) == 0
    again = read_rows(results)
    assert sorted(r["step"] for r in again) == [0, 2, 4]
    assert [r for r in again if r["step"] == 2] == [r for r in rows if r["step"] == 2]
    assert (eval_dir / "step_000002.traces.jsonl").stat().st_mtime_ns == stamp


def test_learnability_filter_keeps_mixed_success_problems(sft_run, tiny_problems, tmp_path, monkeypatch):
    import rl.learnability
    from rl.learnability import filter_problems, select_learnable

    rates = [{"id": p.id, "learnability": lv, "mean_reward": mr}
             for p, lv, mr in zip(tiny_problems, [0.0, 0.25, 0.0, 0.1875], [0.0, 0.5, 0.1, 0.7])]
    kept = select_learnable(tiny_problems, rates, keep=0.5)
    assert [p.id for p in kept] == [tiny_problems[1].id, tiny_problems[3].id]
    # all ties at p = 0: mean reward (well-formed wrong answers) decides
    ties = [dict(r, learnability=0.0) for r in rates]
    assert [p.id for p in select_learnable(tiny_problems, ties, keep=0.25)] == [tiny_problems[3].id]

    out = tmp_path / "rates.jsonl"
    kept = filter_problems(tiny_problems, str(sft_run), k=2, keep=0.5, max_tokens=16, backend="hf", out=out)
    assert len(kept) == 2
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [p.id for p in tiny_problems] and all(r["k"] == 2 for r in rows)
    # a second call with the same settings reuses the stored rates (it would fail if it sampled again) ...
    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled again although the rates are stored")

    monkeypatch.setattr(rl.learnability, "success_rates", no_sampling)
    again = filter_problems(tiny_problems, str(sft_run), k=2, keep=0.5, max_tokens=16, backend="hf", out=out)
    assert [p.id for p in again] == [p.id for p in kept]
    # ... and rates sampled from another model are never passed off as this one's (the settings record)
    with pytest.raises(InputError, match=r"other settings \(model\)"):
        filter_problems(tiny_problems, "/nonexistent/model", k=2, keep=0.5, max_tokens=16, backend="hf", out=out)


def test_evaluate_with_llm_judge_on_a_sample(grpo_run, tiny_problems, tmp_path, monkeypatch):
    """--judge llm against the loopback fake server: behaviors from the judged sample, accuracy from all traces."""
    from fake_openai import FakeOpenAI

    from rl.evaluate import main

    problems = tmp_path / "test.jsonl"
    write_rows([p.to_dict() for p in tiny_problems], problems)
    eval_dir = tmp_path / "eval"   # samples of its own: the test does not depend on another test's files
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test")
    results = tmp_path / "results.parquet"
    with FakeOpenAI(reply=lambda request: "<count>2</count>") as server:
        assert main([str(grpo_run), "--condition", "tiny-llm", "--problems", str(problems), "--backend", "hf",
                     "--max-tokens", "16", "--num-samples", "2",
                     "--results", str(results), "--eval-dir", str(eval_dir), "--judge", "llm", "--judge-sample", "3",
                     "--judge-model", "fake", "--judge-base-url", server.base_url, "--judge-api-key-env",
                     "FAKE_JUDGE_KEY", "--judge-cache", str(tmp_path / "cache.sqlite")]) == 0
        # at most two checkpoints x three judged traces x four behavior questions (identical requests are cached)
        assert 0 < server.count <= 2 * 3 * 4
    rows = read_rows(results)
    assert [(r["condition"], r["step"]) for r in rows] == [("tiny-llm", 2), ("tiny-llm", 4)]
    for row in rows:
        assert row["avg_verifications"] == 2.0 and row["total_backtracking"] == 6
        assert (row["judged"], row["judge_failed"]) == (3, 0)
        traces = read_rows(eval_dir / f"step_{row['step']:06d}.traces.jsonl")
        assert row["accuracy"] == sum(t["reward"] == 1.0 for t in traces) / len(traces)
