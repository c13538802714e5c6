"""priming.llm_gen through the loopback OpenAI-wire server: unfiltered by default, --only-correct, caching and
resuming.

The fake server plays a writer model: it reads the numbers and target from the user turn and answers with
a trace from our synthesizer, except that it is scripted to be wrong or malformed on some first attempts,
so the builder's outcome accounting, its --only-correct filter and its re-asking are exercised for real.
"""
from __future__ import annotations

import json
import re

import pytest

from countdown.cli import run_cli
from countdown.io import read_rows
from countdown.records import Problem
from countdown.reward import score
from fake_openai import FakeOpenAI
from priming import build
from priming.conditions import CONDITIONS
from priming.llm_gen import system_prompt, to_completion
from priming.synth import synthesize

_TASK = re.compile(r"numbers \[([\d, ]+)\], write an equation that equals (\d+)")


def writer(request):
    """A scripted writer: correct traces, but a wrong answer or no answer on some first attempts."""
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    nums, target = _TASK.search(user).groups()
    problem = Problem("x", [int(n) for n in nums.split(",")], int(target))
    wrong = "commit to the best equation" in system   # the incorrect_only prompt
    trace = synthesize(problem, CONDITIONS["incorrect_only" if wrong else "all_strategies"], seed=0)
    if trace is None:
        return "I could not work this one out."              # no <answer>: rejected, asked again
    seen = sum(1 for r in writer.server.requests if r["messages"][1]["content"] == user)
    if seen == 1 and problem.target % 3 == 0 and not wrong:
        return f"{trace.thought}\n</think>\n<answer> {' + '.join(nums.split(','))} </answer>"  # wrong sum
    return f"<think>{trace.thought}</think>\n<answer>{trace.answer}</answer>"


@pytest.fixture()
def server():
    with FakeOpenAI(reply=writer, model="writer") as fake:
        writer.server = fake
        yield fake


def run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(build.main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def llm_args(server, out, *extra):
    return ["--source", "llm", "--base-url", server.base_url, "--model", "writer", "--out", out,
            "--quiet", "--seed", "0", *extra]


def test_llm_traces_are_unfiltered_cached_and_resumed(server, tmp_path, capsys):
    out = tmp_path / "llm"
    # an interrupted run: the request budget ends before 12 traces are kept
    code, _, err = run(llm_args(server, out, "--condition", "all_strategies", "--num", 12, "--max-requests", 6),
                       capsys)
    assert code == 0 and "only" in err
    first = server.count
    assert first == 6 and len(read_rows(out / "all_strategies.jsonl")) < 12
    # the re-run reuses the 6 cached replies and asks only for the rest
    code, _, err = run(llm_args(server, out, "--condition", "all_strategies", "--num", 12), capsys)
    assert code == 0
    rows = read_rows(out / "all_strategies.parquet")
    assert len(rows) == 12
    manifest = json.loads((out / "manifest.json").read_text())["conditions"]["all_strategies"]
    assert manifest["counts"]["cache_hits"] == 6 and manifest["counts"]["requests"] == server.count - first
    # as in the paper, the scripted wrong sums are kept (unfiltered), and each row says how it ended
    rewards = [score(r["completion"], r["numbers"], r["target"]) for r in rows]
    assert manifest["counts"]["wrong_reward"] == 0 and 0.1 in rewards and 1.0 in rewards
    assert [r["planned"] for r in rows] == ["correct" if x == 1.0 else "wrong" for x in rewards]
    assert manifest["counts"]["correct"] == rewards.count(1.0) < 12
    assert all(r["completion"].startswith("\n") and r["completion"].count("</think>") == 1 for r in rows)
    assert manifest["verification"]["ok"] and manifest["settings"]["model"] == "writer"
    # a finished build is not asked for again
    before = server.count
    code, _, err = run(llm_args(server, out, "--condition", "all_strategies", "--num", 12), capsys)
    assert code == 0 and "skipped" in err and server.count == before
    # the system prompt names the wanted behaviors
    assert "Backtracking" in server.requests[0]["messages"][0]["content"]


def test_only_correct_filters_wrong_answers(server, tmp_path, capsys):
    out = tmp_path / "correct"
    code, _, _ = run(llm_args(server, out, "--condition", "all_strategies", "--num", 12, "--only-correct"), capsys)
    assert code == 0
    rows = read_rows(out / "all_strategies.jsonl")
    manifest = json.loads((out / "manifest.json").read_text())["conditions"]["all_strategies"]
    assert len(rows) == 12 and manifest["counts"]["wrong_reward"] >= 1      # the wrong sums were rejected ...
    assert all(score(r["completion"], r["numbers"], r["target"]) == 1.0 for r in rows)   # ... never kept
    assert manifest["counts"]["correct"] == 12 and manifest["settings"]["only_correct"] is True


def test_llm_incorrect_only_keeps_wrong_answers_and_survives_failures(server, tmp_path, capsys):
    server.fail_next("500", times=1)   # retried by the client with backoff
    out = tmp_path / "wrong"
    code, _, _ = run(llm_args(server, out, "--behavior", "backtracking", "--num", 1), capsys)
    assert code == 1   # all-strategies replies to an only_backtracking prompt fail verification loudly
    assert not (out / "only_backtracking.jsonl").exists()
    code, _, _ = run(llm_args(server, out, "--condition", "incorrect_only", "--num", 6), capsys)
    assert code == 0
    rows = read_rows(out / "incorrect_only.jsonl")
    assert len(rows) == 6 and all(score(r["completion"], r["numbers"], r["target"]) == 0.1 for r in rows)
    # the writer is told to state its wrong answer confidently, never to remark that it misses
    prompt = system_prompt(CONDITIONS["incorrect_only"])
    assert "as confidently as a correct one" in prompt and "without remarking that it misses" in prompt


def test_prompts_and_reply_normalisation():
    only = system_prompt(CONDITIONS["only_backtracking"])
    assert "Backtracking" in only and "Do not check" in only and "backwards" in only
    assert "Avoid" not in system_prompt(CONDITIONS["all_strategies"])
    assert to_completion("<think>3 + 5 = 8.</think> <answer>3 + 5</answer>") == "\n3 + 5 = 8.\n</think>\n<answer> 3 + 5 </answer>"
    assert to_completion("Let me solve this step by step. 3 + 5 = 8. <answer>3+5</answer>").startswith("\n3 + 5 = 8.")
    assert to_completion("no answer here") is None
    assert to_completion("<answer>3 + 5</answer>") is None   # no reasoning: not a priming trace


def test_llm_source_refuses_controls(server, tmp_path, capsys):
    code, _, err = run(llm_args(server, tmp_path / "c", "--condition", "empty_cot", "--num", 2), capsys)
    assert code == 2 and "synth only" in err and server.count == 0
