"""The reward is wired to the right problem everywhere it is used: completions that hold the correct solution
score 1.0 (accuracy 1.0) and wrong ones 0.1, through rl.rollout, rl.evaluate and the GRPO reward function.

The completions come from a loopback server speaking the OpenAI wire protocol (tests/fake_openai.py), scripted
to answer each prompt's own problem; scoring against any other target or numbers would break these numbers."""
from __future__ import annotations

import re
import shutil

import pytest
from fake_openai import FakeOpenAI

from countdown.records import Problem
from countdown.solver import solve

_PROBLEM = re.compile(r"Using the numbers \[([\d, ]+)\], write an equation that equals (\d+)")


def _problem_in(request) -> tuple[list[int], int]:
    numbers, target = _PROBLEM.search(request["prompt"]).groups()
    return [int(n) for n in numbers.split(",")], int(target)


def right_answer(request) -> str:
    numbers, target = _problem_in(request)
    return f" Trying things.\n</think>\n<answer> {solve(numbers, target)} </answer>"


def wrong_answer(request) -> str:
    """A parsable answer that is wrong for every problem (it uses numbers that were not given): 0.1."""
    numbers, target = _problem_in(request)
    return f" Close enough.\n</think>\n<answer> {solve(numbers, target)} + 1 - 1 </answer>"


@pytest.fixture
def problems(tiny_problems) -> list[Problem]:
    # distinct targets and numbers, so a trace scored against another problem would fail
    assert len({p.target for p in tiny_problems}) > 1
    return list(tiny_problems)


@pytest.mark.parametrize("reply, reward", [(right_answer, 1.0), (wrong_answer, 0.1)])
def test_rollout_scores_against_each_traces_own_problem(problems, reply, reward):
    from rl.backends import Sampling
    from rl.rollout import sample

    with FakeOpenAI(reply=reply, model="served") as server:
        traces = sample(problems, "served", backend="openai", base_url=server.base_url,
                        sampling=Sampling(n=2, max_tokens=64))
    assert len(traces) == 2 * len(problems)
    assert [t.reward for t in traces] == [reward] * len(traces)
    assert all(t.correct == (reward == 1.0) for t in traces)
    assert [t.id for t in traces[::2]] == [p.id for p in problems]


@pytest.mark.parametrize("reply, accuracy, reward", [(right_answer, 1.0, 1.0), (wrong_answer, 0.0, 0.1)])
def test_evaluate_results_row_reflects_the_scored_traces(tmp_path, tiny_model_dir, problems, reply, accuracy,
                                                          reward):
    from countdown.export import write_jsonl
    from countdown.io import read_rows
    from rl.evaluate import EvaluateConfig, evaluate_run, step_files

    checkpoint = tmp_path / "run" / "checkpoint-3"
    shutil.copytree(tiny_model_dir, checkpoint)
    write_jsonl(problems, tmp_path / "test.jsonl")
    with FakeOpenAI(reply=reply, model=str(checkpoint)) as server:
        [row] = evaluate_run(EvaluateConfig(run_dir=str(tmp_path / "run"), condition="wired",
                                            problems=str(tmp_path / "test.jsonl"), backend="openai",
                                            base_url=server.base_url, results=str(tmp_path / "results.csv"),
                                            n=2, max_tokens=64))
    assert row["step"] == 3 and row["accuracy"] == accuracy
    traces = read_rows(step_files(tmp_path / "run" / "eval" / "wired", 3)[0])
    assert [t["reward"] for t in traces] == [reward] * 2 * len(problems)
    assert read_rows(tmp_path / "results.csv")[0]["accuracy"] == accuracy


def test_grpo_reward_reads_the_problem_from_its_dataset_row(tiny_model_dir, problems):
    """The rows rl.train hands to GRPOTrainer carry numbers and target; the reward must use those of its own row."""
    from rl.models import load_tokenizer
    from rl.train import countdown_reward, prompt_rows

    rows, dropped = prompt_rows(problems, load_tokenizer(tiny_model_dir), "base", max_prompt_length=512)
    assert dropped == 0
    columns = {key: [r[key] for r in rows] for key in ("numbers", "target")}
    right = [right_answer({"prompt": r["prompt"]}) for r in rows]
    wrong = [wrong_answer({"prompt": r["prompt"]}) for r in rows]
    logged = {}
    assert countdown_reward(right, log_metric=logged.__setitem__, **columns) == [1.0] * len(rows)
    assert logged == {"countdown/accuracy": 1.0, "countdown/answer_rate": 1.0}
    assert countdown_reward(wrong, **columns) == [0.1] * len(rows)
    # the same completions scored against the next row's problem are not correct: the pairing matters
    shifted = {key: values[1:] + values[:1] for key, values in columns.items()}
    assert countdown_reward(right, **shifted) != [1.0] * len(rows)
