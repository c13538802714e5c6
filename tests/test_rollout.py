"""countdown.rollout with the transformers backend (fast, no vLLM): traces, seeds, stops, sweep, CLI errors."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from rl.backends import HFBackend
from countdown.io import InputError, read_rows, write_rows
from countdown.reward import score
from rl.models import list_checkpoints
from rl.rollout import Sampling, problem_seed, sample, sweep

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def hf(tiny_model_dir):
    with HFBackend(str(tiny_model_dir), batch_size=8, threads=1) as backend:
        yield backend


def test_traces_are_scored_and_carry_every_field(hf, tiny_problems):
    sampling = Sampling(n=2, temperature=1.0, top_p=0.9, max_tokens=12, seed=3)
    traces = sample(tiny_problems, hf, sampling=sampling, step=7, condition="tiny")
    assert len(traces) == 2 * len(tiny_problems)
    for i, t in enumerate(traces):
        problem = tiny_problems[i // 2]
        assert (t.id, t.numbers, t.target, t.sample_idx) == (problem.id, problem.numbers, problem.target, i % 2)
        assert t.prompt.endswith("<think>") and str(problem.target) in t.prompt
        assert t.reward == score(t.completion, t.numbers, t.target) and t.correct == (t.reward == 1.0)
        assert 1 <= t.completion_tokens <= 12 and t.prompt_tokens > 50
        assert (t.temperature, t.top_p, t.max_tokens, t.seed, t.step, t.condition) == (1.0, 0.9, 12, 3, 7, "tiny")
        assert t.model == hf.name and t.trace_id == f"{hf.name}@7/{t.id}#{t.sample_idx}"
    assert len({t.trace_id for t in traces}) == len(traces)


def test_same_seed_same_samples_other_seed_differs(hf, tiny_problems):
    def run(seed):
        return [t.completion for t in sample(tiny_problems, hf, sampling=Sampling(n=2, max_tokens=10, seed=seed))]

    first = run(0)
    assert run(0) == first
    assert run(1) != first
    assert problem_seed(0, "a") == problem_seed(0, "a") != problem_seed(0, "b")


def test_greedy_samples_are_identical(hf, tiny_problems):
    traces = sample(tiny_problems[:2], hf, sampling=Sampling(n=3, temperature=0.0, max_tokens=8))
    for k in range(2):
        assert len({t.completion for t in traces[3 * k:3 * k + 3]}) == 1


def test_stop_string_ends_the_completion_and_is_kept(hf, tiny_problems):
    # A random model writes the letter "e" often; every completion must end at its first "e", or not have one.
    traces = sample(tiny_problems, hf, sampling=Sampling(n=2, max_tokens=40, seed=1, stop=["e"]))
    stopped = [t for t in traces if "e" in t.completion]
    assert stopped, "expected at least one completion to hit the stop string"
    for t in stopped:
        assert t.completion.index("e") == len(t.completion) - 1


def test_chat_template_prompt(hf, tiny_problems):
    (trace,) = sample(tiny_problems[:1], hf, sampling=Sampling(max_tokens=4), template="chat")
    assert trace.prompt.startswith("<|im_start|>system\n")
    assert trace.prompt.endswith("<|im_start|>assistant\nLet me solve this step by step.\n<think>")


def _checkpoint(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_list_checkpoints_orders_by_step_and_finds_verl_layout(tmp_path, tiny_model_dir):
    _checkpoint(tiny_model_dir, tmp_path / "checkpoint-20")
    _checkpoint(tiny_model_dir, tmp_path / "global_step_3" / "actor" / "huggingface")
    (tmp_path / "checkpoint-9").mkdir()            # no weights yet (still being written): not listed
    (tmp_path / "notes-100").mkdir()
    assert list_checkpoints(tmp_path) == [(3, tmp_path / "global_step_3" / "actor" / "huggingface"),
                                          (20, tmp_path / "checkpoint-20")]
    with pytest.raises(InputError, match="no such run directory"):
        list_checkpoints(tmp_path / "missing")


def test_sweep_writes_one_file_per_step_and_resumes(tmp_path, tiny_model_dir, tiny_problems):
    run = tmp_path / "run"
    for step in (2, 10):
        _checkpoint(tiny_model_dir, run / f"checkpoint-{step}")
    out = tmp_path / "traces"
    sampling = Sampling(n=1, max_tokens=6)
    paths, stats = sweep(tiny_problems[:2], run, out, backend="hf", sampling=sampling, condition="c", threads=1)
    assert [p.name for p in paths] == ["step_2.jsonl", "step_10.jsonl"] and stats.steps == [2, 10]
    rows = read_rows(paths[1])
    assert [r["step"] for r in rows] == [10, 10] and {r["condition"] for r in rows} == {"c"}
    assert rows[0]["trace_id"].startswith(f"{run}@10/")
    paths[0].unlink()  # only the missing step is sampled again
    before = paths[1].stat().st_mtime_ns
    _, again = sweep(tiny_problems[:2], run, out, backend="hf", sampling=sampling, condition="c", threads=1)
    assert again.steps == [2] and paths[1].stat().st_mtime_ns == before
    # a re-run with other sampling settings must not add its steps to this folder
    with pytest.raises(InputError, match="made with other settings .*sampling"):
        sweep(tiny_problems[:2], run, out, backend="hf", sampling=Sampling(n=1, max_tokens=7), condition="c")


def _cli(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "rl.rollout", *map(str, args)], capture_output=True,
                          text=True, env=ENV, timeout=timeout)


def test_cli_hf_writes_parquet(tmp_path, tiny_model_dir, tiny_problems):
    problems = write_rows([p.to_dict() for p in tiny_problems], tmp_path / "p.jsonl")
    out = tmp_path / "t.parquet"
    res = _cli(problems, "--model", tiny_model_dir, "--backend", "hf", "--n", 2, "--max-tokens", 8,
               "--threads", 1, "--out", out)
    assert res.returncode == 0, res.stderr
    assert "prompts/s" in res.stderr and "tokens/s" in res.stderr
    rows = read_rows(out)
    assert len(rows) == 2 * len(tiny_problems) and rows[0]["numbers"] == tiny_problems[0].numbers


def test_cli_sweep_writes_steps_and_combined_file(tmp_path, tiny_model_dir, tiny_problems):
    problems = write_rows([p.to_dict() for p in tiny_problems[:2]], tmp_path / "p.jsonl")
    run = tmp_path / "run"
    for step in (1, 4):
        _checkpoint(tiny_model_dir, run / f"global_step_{step}")
    args = (problems, "--run-dir", run, "--out-dir", tmp_path / "steps", "--backend", "hf", "--threads", 1,
            "--max-tokens", 4, "--condition", "swept", "--out", tmp_path / "all.jsonl")
    res = _cli(*args)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "steps").glob("step_*")) == ["step_1.jsonl", "step_4.jsonl"]
    rows = read_rows(tmp_path / "all.jsonl")
    assert [r["step"] for r in rows] == [1, 1, 4, 4] and {r["condition"] for r in rows} == {"swept"}
    (tmp_path / "all.jsonl").unlink()
    again = _cli(*args)  # every step exists: nothing is sampled again
    assert again.returncode == 0 and again.stderr.count("skipped") == 2, again.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_bad_input_is_one_error_line_and_no_output(tmp_path, tiny_model_dir, tiny_problems):
    good = write_rows([p.to_dict() for p in tiny_problems], tmp_path / "p.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(tiny_problems[0].to_dict()) + "\n{not json\n")
    nonum = tmp_path / "nonum.jsonl"
    nonum.write_text(json.dumps({"id": "x", "target": 3}) + "\n")
    out = tmp_path / "out.jsonl"
    cases = [
        ((good, "--model", tmp_path / "no-model", "--backend", "hf"), "no-model"),
        ((bad, "--model", tiny_model_dir, "--backend", "hf"), "bad.jsonl:2"),
        ((nonum, "--model", tiny_model_dir, "--backend", "hf"), "nonum.jsonl"),
        ((good, "--backend", "openai", "--base-url", f"http://127.0.0.1:{_free_port()}/v1", "--model", "m"),
         "unreachable"),
        ((good, "--model", tiny_model_dir, "--backend", "hf", "--n", 0), "n must be"),
    ]
    for args, needle in cases:
        res = _cli(*args, "--out", out)
        assert res.returncode == 2, (args, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert lines[-1].startswith("error:") and needle in lines[-1], res.stderr
        assert not out.exists()
    res = _cli(good, "--model", tiny_model_dir, "--backend", "nope", "--out", out)
    assert res.returncode == 2 and "invalid choice: 'nope'" in res.stderr and not out.exists()
