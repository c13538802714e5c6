"""veRL export: parquet readable by `datasets`, a reward file that veRL can import by path, a launch script."""
from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess

import pytest

from countdown import reward
from countdown.io import write_rows
from countdown.prompts import render_prompt
from rl.verl_export import LAUNCH_FILE, PAPER_PPO, REWARD_FILE, main


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("verl")
    assert main(["--out", str(out), "--train", "40", "--test", "10", "--seed", "1", "--model", "Qwen/Qwen2.5-3B"]) == 0
    return out


def _import_by_path(path):
    # what veRL's custom_reward_function loader does: import a file by location, no package, no sys.modules entry
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parquet_loads_with_datasets_in_verl_schema(export_dir):
    import datasets

    data = datasets.load_dataset("parquet", data_files={"train": str(export_dir / "train.parquet"),
                                                        "test": str(export_dir / "test.parquet")})
    assert data["train"].num_rows == 40 and data["test"].num_rows == 10
    row = data["train"][0]
    assert set(row) >= {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    truth = row["reward_model"]["ground_truth"]
    assert row["prompt"][0]["role"] == "user"
    assert row["prompt"][0]["content"] == render_prompt(truth["numbers"], truth["target"])
    train_keys = {(tuple(sorted(r["reward_model"]["ground_truth"]["numbers"])), r["reward_model"]["ground_truth"]["target"])
                  for r in data["train"]}
    test_keys = {(tuple(sorted(r["reward_model"]["ground_truth"]["numbers"])), r["reward_model"]["ground_truth"]["target"])
                 for r in data["test"]}
    assert not train_keys & test_keys


def test_reward_file_has_verls_signature_and_scores_like_the_toolkit(export_dir):
    module = _import_by_path(export_dir / REWARD_FILE)
    params = list(inspect.signature(module.compute_score).parameters)
    assert params == ["data_source", "solution_str", "ground_truth", "extra_info"]
    truth = {"target": 24, "numbers": [2, 3, 4]}
    prompt = render_prompt(truth["numbers"], truth["target"])
    cases = {
        " 2 * 3 = 6, 6 * 4 = 24 </think> <answer> 2 * 3 * 4 </answer>": 1.0,
        " </think> <answer> (2 + 3) * 4 </answer>": 0.1,          # wrong value
        " </think> <answer> 6 * 4 </answer>": 0.1,                # wrong numbers
        " </think> <answer> 2 ** 3 * 3 </answer>": 0.1,           # not a Countdown expression
        " I give up </think>": 0.0,
    }
    for completion, expected in cases.items():
        for text in (completion, prompt + completion):  # veRL may pass response only or prompt + response
            got = module.compute_score("countdown", text, truth, {"split": "test", "index": 0})
            assert got == expected == reward.compute_score("countdown", text, truth)


def test_reward_file_is_the_current_reward_source(export_dir):
    import hashlib
    from pathlib import Path

    text = (export_dir / REWARD_FILE).read_text()
    source = Path(reward.__file__).read_text()
    assert hashlib.sha256(source.encode()).hexdigest() in text.splitlines()[1]
    info = json.loads((export_dir / "export_info.json").read_text())
    assert info["reward_sha256"] == hashlib.sha256(source.encode()).hexdigest()


def test_launch_script_carries_the_paper_settings(export_dir):
    script = (export_dir / LAUNCH_FILE).read_text()
    subprocess.run(["bash", "-n", str(export_dir / LAUNCH_FILE)], check=True)
    for setting in ("actor_rollout_ref.actor.optim.lr=1e-06", "critic.optim.lr=1e-05", "algorithm.kl_ctrl.kl_coef=0.001",
                    "data.train_batch_size=256", "actor_rollout_ref.actor.ppo_mini_batch_size=128",
                    "actor_rollout_ref.rollout.n=4", "data.max_prompt_length=256", "data.max_response_length=1024",
                    "trainer.total_epochs=15", "trainer.total_training_steps=250", "trainer.save_freq=10",
                    "trainer.test_freq=10", "actor_rollout_ref.actor.entropy_coeff=0.001",
                    'reward.custom_reward_function.path="$REWARD_Q"', "reward.custom_reward_function.name=compute_score",
                    "DEFAULT_MODEL=Qwen/Qwen2.5-3B", 'MODEL="${MODEL:-$DEFAULT_MODEL}"'):
        assert setting in script, setting
    assert PAPER_PPO["n"] == 4


def test_export_from_files_rejects_overlapping_splits(tiny_problems, tmp_path):
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    write_rows([p.to_dict() for p in tiny_problems], train)
    write_rows([p.to_dict() for p in tiny_problems[:1]], test)
    from countdown.cli import run_cli

    with pytest.raises(SystemExit) as exc:
        run_cli(main, ["--out", str(tmp_path / "out"), "--problems", str(train), "--test-problems", str(test)])
    assert exc.value.code == 2
    assert not (tmp_path / "out").exists()


def test_paper_presets_draw_fresh_prompts():
    from rl.train import TrainConfig
    from rl.verl_export import DEFAULT_TEST, DEFAULT_TRAIN, ExportConfig

    config = ExportConfig(out="x")
    assert (config.train, config.test) == (DEFAULT_TRAIN, DEFAULT_TEST) == (327_680, 1024)
    # 250 steps of 256 prompts never need a prompt twice
    assert PAPER_PPO["total_training_steps"] * PAPER_PPO["train_batch_size"] <= config.train
    for train in (TrainConfig(model="m", out="o"), TrainConfig.from_preset("paper", model="m", out="o")):
        assert (train.steps, train.prompts_per_step) == (250, 256)
        assert train.problem_count() >= 64_000 == train.steps * train.prompts_per_step


def _evaluate(script, tmp_path, **env):
    """Run the launch script with a `python3` that only records its arguments; returns (rc, args, stderr)."""
    import os

    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "python3").write_text('#!/usr/bin/env bash\nprintf "%s\\0" "$@" > "$ARGV_OUT"\n')
    (fake / "python3").chmod(0o755)
    argv = tmp_path / "argv"
    argv.unlink(missing_ok=True)
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env, "PATH": f"{fake}:{os.environ['PATH']}", "ARGV_OUT": str(argv)})
    args = argv.read_bytes().decode().split("\0")[:-1] if argv.exists() else []
    return proc.returncode, args, proc.stderr


def test_launch_script_runs_nothing_from_names(tmp_path):
    out = tmp_path / "export"
    hostile = "e $(touch PWNED) `touch PWNED` ; touch PWNED"
    assert main(["--out", str(out), "--train", "4", "--test", "2", "--experiment", hostile,
                 "--model", "m $(touch PWNED)", "--ckpt-dir", "ck'$(touch PWNED)"]) == 0
    rc, args, _ = _evaluate(out / LAUNCH_FILE, tmp_path, MODEL="", EXPERIMENT="")
    assert rc == 0 and not list(tmp_path.rglob("PWNED"))
    # each value arrives as one Hydra quoted string, unchanged
    assert "trainer.experiment_name='e $(touch PWNED) `touch PWNED` ; touch PWNED'" in args
    assert "actor_rollout_ref.model.path='m $(touch PWNED)'" in args
    assert f"trainer.default_local_dir='ck\\'$(touch PWNED)/{hostile}'" in args
    # the same from the environment, including Hydra interpolation syntax
    rc, args, _ = _evaluate(out / LAUNCH_FILE, tmp_path, MODEL="$(touch PWNED)", EXPERIMENT="x${oc.env:HOME}")
    assert rc == 0 and not list(tmp_path.rglob("PWNED"))
    assert "actor_rollout_ref.model.path='$(touch PWNED)'" in args
    assert "trainer.experiment_name='x\\${oc.env:HOME}'" in args


@pytest.mark.parametrize("env,needle", [({"N_GPUS": "2; touch PWNED"}, "N_GPUS"), ({"MICRO_BATCH": "0"}, "MICRO_BATCH"),
                                        ({"MODEL": "a\\b"}, "backslash")])
def test_launch_script_refuses_bad_environment_values(tmp_path, env, needle):
    out = tmp_path / "export"
    assert main(["--out", str(out), "--train", "4", "--test", "2"]) == 0
    rc, args, err = _evaluate(out / LAUNCH_FILE, tmp_path, **env)
    assert rc == 2 and not args and needle in err and not list(tmp_path.rglob("PWNED"))


@pytest.mark.parametrize("flag,value", [("--experiment", "a\\b"), ("--model", "x\ny"), ("--ckpt-dir", "")])
def test_export_refuses_unusable_names(tmp_path, flag, value):
    from countdown.cli import run_cli

    with pytest.raises(SystemExit) as exc:
        run_cli(main, ["--out", str(tmp_path / "out"), "--train", "4", "--test", "2", flag, value])
    assert exc.value.code == 2 and not (tmp_path / "out").exists()


def test_export_refuses_a_template_that_would_change_the_prompt_tokens(tiny_model_dir, tmp_path, capsys):
    # a tokenizer whose bos differs from eos but which never adds it (as SmolLM's): the launch script's
    # template would put a BOS in front that the toolkit's own prompt does not have
    import shutil

    from transformers import AutoTokenizer

    from countdown.cli import run_cli

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    tok = AutoTokenizer.from_pretrained(model)
    tok.bos_token = "<|im_start|>"
    tok.save_pretrained(model)
    assert AutoTokenizer.from_pretrained(model)("x")["input_ids"][0] != tok.bos_token_id
    with pytest.raises(SystemExit) as exc:
        run_cli(main, ["--out", str(tmp_path / "out"), "--train", "4", "--test", "2", "--model", str(model)])
    assert exc.value.code == 2 and not (tmp_path / "out").exists()
    assert "special-token handling differs" in capsys.readouterr().err
    # the unchanged tiny tokenizer passes the same check
    assert main(["--out", str(tmp_path / "ok"), "--train", "4", "--test", "2", "--model", str(tiny_model_dir)]) == 0
    assert json.loads((tmp_path / "ok" / "export_info.json").read_text())["template_checked_with_tokenizer"]
