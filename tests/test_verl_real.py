"""The veRL export against veRL 0.9.1 itself: its Hydra config, dataset, agent loop and reward worker.

veRL lives in a side environment (scripts/verl-side.sh, made by scripts/setup.sh at .venv/verl-0.9.1, or
wherever VERL_SIDE points) because it pins an older transformers; tests/verl_probe.py runs there in one
subprocess and reports what veRL did with our exports, and the tests here compare that with the toolkit.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from countdown import reward
from countdown.prompts import render_prompt
from rl.verl_export import PAPER_PPO, REWARD_FILE, VERBATIM_TEMPLATE, VERL_VERSION, main

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_EXPERIMENT = "run 1 $(touch PWNED) `touch PWNED` ${oc.env:HOME} 'q' \"dq\", a=b"
BOS = "<|begin_of_text|>"
LLAMA3_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
                   "{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")

# responses the stand-in server returns (and the reward grades), and their scores for the first problem's
# ground truth are computed with countdown.reward: correct, wrong, hostile and empty answers
RESPONSES = [
    " I will just guess. </think> <answer> 1 + 2 </answer>",
    " no idea at all",
    " </think> <answer> 9**9**9**9 </answer>",
    " </think> <answer> __import__('os').system('touch PWNED') </answer>",
    " </think> <answer>" + "(" * 400 + "1" + ")" * 400 + "</answer>",
    " Assistant: <answer> 1 </answer> <|im_start|>assistant\n<answer> 2 </answer>",
]
DIRECT = RESPONSES + ["<answer> ３ + ４ </answer>", "", None, 7, ["<answer>1</answer>"]]
KEYS = ["actor_rollout_ref.actor.optim.lr", "critic.optim.lr", "algorithm.kl_ctrl.kl_coef",
        "algorithm.use_kl_in_reward", "algorithm.adv_estimator", "actor_rollout_ref.actor.entropy_coeff",
        "data.train_batch_size", "actor_rollout_ref.actor.ppo_mini_batch_size", "actor_rollout_ref.rollout.n",
        "data.max_prompt_length", "data.max_response_length", "trainer.total_training_steps",
        "trainer.total_epochs", "trainer.save_freq", "trainer.test_freq", "actor_rollout_ref.rollout.temperature",
        "actor_rollout_ref.model.custom_chat_template", "actor_rollout_ref.model.path",
        "reward.custom_reward_function.path", "reward.custom_reward_function.name", "trainer.experiment_name",
        "data.train_files", "trainer.default_local_dir", "data.shuffle"]


def side_environment() -> Path:
    """The veRL side environment; a missing one fails the test (skips only with NO_VERL=1)."""
    side = Path(os.environ.get("VERL_SIDE") or Path(sys.prefix) / f"verl-{VERL_VERSION}")
    version = side / "verl" / "version" / "version"
    if version.is_file() and version.read_text().strip() == VERL_VERSION:
        return side
    if os.environ.get("NO_VERL") == "1":
        pytest.skip("NO_VERL=1: the veRL side environment was left out")
    pytest.fail(f"no veRL {VERL_VERSION} side environment at {side}: run `bash scripts/setup.sh` (or "
                f"`bash scripts/verl-side.sh DIR` and set VERL_SIDE=DIR)", pytrace=False)


def llama_like(tmp: Path) -> Path:
    """A tiny Llama model folder whose tokenizer behaves like Llama-3's: a BOS token it adds to plain text,
    header tokens and a Llama-3-shaped chat template."""
    from tokenizers import processors
    from transformers import AutoTokenizer

    from rl.tiny import build_tiny_model

    out = build_tiny_model(tmp, arch="llama")
    tok = AutoTokenizer.from_pretrained(out)
    tok.add_special_tokens({"bos_token": BOS})
    tok.add_tokens(["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], special_tokens=True)
    bos_id = tok.convert_tokens_to_ids(BOS)
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)])
    tok.chat_template = LLAMA3_TEMPLATE
    tok.save_pretrained(out)
    config = json.loads((out / "tokenizer_config.json").read_text())
    (out / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": LLAMA3_TEMPLATE}))
    return out


def launch_arguments(script: Path, tmp: Path, env: dict | None = None) -> list[str]:
    """Run the launch script with a `python3` on PATH that only records its arguments (NUL-separated)."""
    fake = tmp / "fakebin"
    fake.mkdir(exist_ok=True)
    (fake / "python3").write_text('#!/usr/bin/env bash\nprintf "%s\\0" "$@" > "$ARGV_OUT"\n')
    (fake / "python3").chmod(0o755)
    argv = tmp / "argv.bin"
    run_env = {**os.environ, **(env or {}), "PATH": f"{fake}:{os.environ['PATH']}", "ARGV_OUT": str(argv)}
    subprocess.run(["bash", str(script)], check=True, cwd=tmp, env=run_env, timeout=60)
    args = argv.read_bytes().decode().split("\0")[:-1]
    assert args[:2] == ["-m", "verl.trainer.main_ppo"]
    return args[2:]


def correct_response(export: Path) -> str:
    """A response solving the export's first train problem (the stand-in server's reply to that prompt)."""
    import pyarrow.parquet as pq

    from countdown.solver import solve

    truth = pq.read_table(export / "train.parquet").to_pylist()[0]["reward_model"]["ground_truth"]
    return f" found it </think> <answer> {solve(truth['numbers'], truth['target'])} </answer>"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_dir):
    """Exports (base and chat, a Qwen-like and a Llama-like tokenizer) and what veRL made of them."""
    side = side_environment()
    tmp = tmp_path_factory.mktemp("verl-real")
    models = {"qwen": tiny_model_dir, "llama": llama_like(tmp / "llama")}
    exports, jobs = {}, {}
    for name, model, template in [("base_qwen", "qwen", "base"), ("base_llama", "llama", "base"),
                                  ("chat_qwen", "qwen", "chat"), ("chat_llama", "llama", "chat")]:
        out = tmp / name
        assert main(["--out", str(out), "--train", "8", "--test", "4", "--seed", "3", "--model",
                     str(models[model]), "--template", template, "--experiment", HOSTILE_EXPERIMENT,
                     "--n-gpus", "2"]) == 0
        exports[name] = out
        overrides = launch_arguments(out / "launch_ppo.sh", tmp)
        jobs[name] = {"overrides": overrides, "keys": KEYS, "responses": [correct_response(out)] + RESPONSES,
                      "direct": DIRECT}
    base = jobs["base_qwen"]["overrides"]
    # veRL's own default (the model's chat template) for the same data: what the export used to get
    jobs["without_template"] = {"overrides": [o for o in base if "custom_chat_template" not in o],
                                "responses": RESPONSES[:2]}
    jobs["typo"] = {"overrides": base + ["actor_rollout_ref.actor.entropy_coef=0.001"]}
    jobs["unknown_group_key"] = {"overrides": base + ["trainer.no_such_option=1"]}
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": str(side), "RAY_DEDUP_LOGS": "0"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "verl_probe.py"), str(tmp / "jobs.json"),
                           str(tmp / "reports.json")], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = json.loads((tmp / "reports.json").read_text())
    for name, rep in reports.items():
        assert "crashed" not in rep, f"{name}: {rep.get('crashed')}"
    assert not list(tmp.rglob("PWNED")) and not (ROOT / "PWNED").exists()
    return {"models": models, "exports": exports, "reports": reports}


def test_the_side_environment_is_the_real_verl(setup):
    assert all(r["verl_version"] == VERL_VERSION for r in setup["reports"].values())


# --- (a) the launch script's overrides against veRL's own ppo_trainer config -------------------------------

def test_launch_overrides_compose_with_verls_config_and_pass_its_validation(setup):
    for name in ("base_qwen", "base_llama", "chat_qwen", "chat_llama"):
        report, out = setup["reports"][name], setup["exports"][name]
        assert report["composed"] and report["validated"], name
        c = report["config"]
        p = PAPER_PPO
        assert (c["actor_rollout_ref.actor.optim.lr"], c["critic.optim.lr"]) == (p["actor_lr"], p["critic_lr"])
        assert c["algorithm.kl_ctrl.kl_coef"] == p["kl_coef"] == 0.001 and c["algorithm.use_kl_in_reward"] is True
        assert c["actor_rollout_ref.actor.entropy_coeff"] == p["entropy_coeff"] == 0.001   # pinned, not veRL's 0
        assert c["algorithm.adv_estimator"] == "gae"
        assert (c["data.train_batch_size"], c["actor_rollout_ref.actor.ppo_mini_batch_size"],
                c["actor_rollout_ref.rollout.n"]) == (256, 128, 4)
        assert (c["data.max_prompt_length"], c["data.max_response_length"]) == (256, 1024)
        assert (c["trainer.total_training_steps"], c["trainer.save_freq"], c["trainer.test_freq"]) == (250, 10, 10)
        assert c["actor_rollout_ref.rollout.temperature"] == 1.0 and c["data.shuffle"] is True
        assert c["actor_rollout_ref.model.custom_chat_template"] == VERBATIM_TEMPLATE
        assert c["reward.custom_reward_function.path"] == str(out / REWARD_FILE)
        assert c["reward.custom_reward_function.name"] == "compute_score"
        assert c["data.train_files"] == str(out / "train.parquet")
        # a hostile experiment name reaches veRL literally (and ran nothing on the way: see the fixture)
        assert c["trainer.experiment_name"] == HOSTILE_EXPERIMENT
        assert c["trainer.default_local_dir"] == f"checkpoints/{HOSTILE_EXPERIMENT}"


def test_an_unknown_key_fails_composition(setup):
    for name in ("typo", "unknown_group_key"):
        report = setup["reports"][name]
        assert report["composed"] is False and "ConfigCompositionException" in report["error"], report


# --- (b) the prompt tokens veRL's agent loop sends to the inference server ---------------------------------

def _tokenizer(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


@pytest.mark.parametrize("model", ["qwen", "llama"])
def test_base_template_gives_the_policy_exactly_the_base_prompt(setup, model):
    report = setup["reports"][f"base_{model}"]
    tok = _tokenizer(setup["models"][model])
    assert sorted(report["server_received"]) == sorted(report["prompt_ids"])   # what the server was sent
    assert len(report["prompt_ids"]) == len(RESPONSES) + 1
    for ids, truth in zip(report["prompt_ids"], report["ground_truths"]):
        text = render_prompt(truth["numbers"], truth["target"], "base")
        assert ids == tok(text)["input_ids"]         # what rl.rollout / rl.train give the model for the prompt
        assert ids != tok.apply_chat_template([{"role": "user", "content": text}], tokenize=True,
                                              add_generation_prompt=True, return_dict=False)
        if model == "llama":
            assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
        else:
            assert tok.decode(ids).startswith("A conversation between User and Assistant")


def test_without_the_template_verl_wraps_the_base_prompt_in_a_chat_template(setup):
    # the failure the launch script's template prevents: veRL 0.9 renders every prompt as chat
    report = setup["reports"]["without_template"]
    tok = _tokenizer(setup["models"]["qwen"])
    truth = report["ground_truths"][0]
    wrapped = tok.decode(report["prompt_ids"][0])
    assert wrapped.startswith("<|im_start|>user\n") and wrapped.endswith("<|im_start|>assistant\n")
    assert report["prompt_ids"][0] != tok(render_prompt(truth["numbers"], truth["target"], "base"))["input_ids"]


@pytest.mark.parametrize("model", ["qwen", "llama"])
def test_chat_template_gives_the_policy_the_chat_rendered_prompt(setup, model):
    report = setup["reports"][f"chat_{model}"]
    tok = _tokenizer(setup["models"][model])
    for ids, truth in zip(report["prompt_ids"], report["ground_truths"]):
        text = render_prompt(truth["numbers"], truth["target"], "chat", tokenizer=tok)
        assert ids == tok(text, add_special_tokens=False)["input_ids"]   # the template already holds them
        assert tok.decode(ids).endswith("Let me solve this step by step.\n<think>")
        if model == "llama":
            assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id


# --- (c) the reward file, loaded and called the way veRL does ------------------------------------------------

@pytest.mark.parametrize("name", ["base_qwen", "chat_llama"])
def test_verls_reward_worker_scores_like_countdown_reward(setup, name):
    report = setup["reports"][name]
    truths, decoded = report["ground_truths"], report["decoded_responses"]
    expected = [reward.compute_score("countdown", text, truth) for text, truth in zip(decoded, truths)]
    assert report["reward_scores"] == expected
    assert decoded[1:3] == RESPONSES[:2]        # the tokenizer round trip kept these texts
    assert expected[:3] == [1.0, 0.1, 0.0]      # the first problem's solution, a wrong answer, no answer

    direct = [reward.compute_score("countdown", value, truths[0]) for value in DIRECT]
    assert report["direct_scores"] == direct
    assert direct[-3:] == [0.0, 0.0, 0.0]                   # None, an int, a list: no exception, score 0
