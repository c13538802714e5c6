"""priming.build / synth / verify: every condition builds, passes its own verification, and is what it says.

One session-scoped build of every condition (N=30, the tiny tokenizer for length_matched) is shared by the
tests; each test then checks one property of the written files with independent code (the synthesizer's phrasing
pools read by hand-written patterns, the reward, the tokenizer), not with the rule judge the builder verified the
sets with or its own bookkeeping.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from countdown.cli import run_cli
from countdown.io import read_rows, write_rows
from countdown.prompts import render_prompt
from countdown.records import Problem
from countdown.reward import extract_answer, score
from priming import build, synth, verify
from priming.conditions import BT, BWD, CONDITIONS, SUB, VER, condition_for_behaviors
from priming.search import Node, find_solution, reachable

N = 30


def run(main, argv, capsys):
    """Run a CLI main like `python -m`, returning (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def eval_file(tmp_path_factory) -> Path:
    """An 'evaluation split' that deliberately overlaps the priming stream: its first 40 problems."""
    from countdown.generate import iter_problems

    stream = iter_problems(seed=0, preset="priming", split=build.PROBLEM_SPLIT)
    problems = [next(stream) for _ in range(40)]
    path = tmp_path_factory.mktemp("eval") / "eval.jsonl"
    write_rows([p.to_dict() for p in problems], path)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model_dir, eval_file) -> Path:
    out = tmp_path_factory.mktemp("priming")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(build.main, ["--all", "--num", str(N), "--seed", "0", "--tokenizer", str(tiny_model_dir),
                             "--exclude", str(eval_file), "--out", str(out), "--quiet"])
    assert exit_info.value.code == 0
    return out


def rows_of(out: Path, condition: str) -> list[dict]:
    return read_rows(out / f"{condition}.parquet")


def test_every_condition_is_written_and_verified(built):
    manifest = json.loads((built / "manifest.json").read_text())
    assert set(manifest["conditions"]) == set(CONDITIONS)
    for name, entry in manifest["conditions"].items():
        assert entry["verification"]["ok"], name
        assert entry["counts"]["rows"] == N
        assert entry["settings"]["seed"] == 0 and entry["settings"]["source"] == "synth"
        jsonl = read_rows(built / f"{name}.jsonl")
        assert [r["completion"] for r in jsonl] == [r["completion"] for r in rows_of(built, name)]


# Which of the synthesizer's phrasing pools carries which behavior: written by hand from the behaviors'
# definitions, not taken from the rule judge that priming.verify runs on every build.
SHOWN_BY = {
    VER: ("MISS", "BACKWARD_FAIL_VER", "CONFIRM"),
    BT: ("BACKTRACK",),
    SUB: ("SUBGOAL_SET", "SUBGOAL_DONE", "SUBGOAL_FAIL"),
    BWD: ("BACKWARD_OPEN", "BACKWARD_STEP", "BACKWARD_SPLIT", "BACKWARD_LEAVES"),
}


def _template_regex(template: str) -> re.Pattern:
    """A phrasing template ('{v} is not {t}.') as a pattern for the sentences written from it."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile(r"[^.\n]+?".join(re.escape(p) for p in parts))


def _pool(name: str) -> list[str]:
    pool = getattr(synth, name)
    return list(pool.values()) if isinstance(pool, dict) else [pool] if isinstance(pool, str) else list(pool)


PATTERNS = {b: [_template_regex(t) for name in names for t in _pool(name)] for b, names in SHOWN_BY.items()}


def written_behaviors(completion: str) -> set[str]:
    thought = completion.split("</think>")[0]
    return {b for b, patterns in PATTERNS.items() if any(p.search(thought) for p in patterns)}


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_behaviors_are_exactly_the_requested_ones(built, name):
    """Every trace holds a sentence of each required behavior's phrasings and none of an excluded one's (the
    synthesizer's own wording, checked without the rule judge that the builder verified the set with)."""
    condition = CONDITIONS[name]
    for row in rows_of(built, name):
        assert written_behaviors(row["completion"]) == set(condition.requires), (name, row["completion"])


def test_written_behaviors_reads_each_behavior_apart():
    # hand-written sentences in the synthesizer's shapes: each is read as its own behavior and no other
    assert written_behaviors("Check: 19 is not equal to 22. Let me go back and try a different combination.") == {
        VER, BT}
    assert written_behaviors("Subgoal: make 11 first, since 11 is a factor of 22.") == {SUB}
    assert written_behaviors("Working backwards from 22:\n22 = 11 * 2, which uses 11 and 2 directly.") == {BWD}
    assert written_behaviors("We have the numbers 7, 4 and 2 and the target 22. First, 7 * 4 = 28.") == set()


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_answers_score_the_condition_reward(built, name):
    """incorrect_only: every answer parses and is wrong (0.1); every other condition, empty_cot included
    (an empty thought followed by the correct equation), is correct (1.0)."""
    expected = 0.1 if name == "incorrect_only" else 1.0
    for row in rows_of(built, name):
        assert score(row["completion"], row["numbers"], row["target"]) == expected
        assert row["reward"] == expected


def test_rows_are_sft_ready(built):
    for name in CONDITIONS:
        for row in rows_of(built, name):
            assert row["prompt"] == render_prompt(row["numbers"], row["target"], "base")
            assert row["prompt"].endswith("<think>")
            completion = row["completion"]
            assert completion.count("</think>") == 1 and "<think>" not in completion
            assert completion.rstrip().endswith("</answer>")
            assert completion.split("</think>")[1].strip().startswith("<answer>")
    empty = rows_of(built, "empty_cot")[0]["completion"]
    assert empty.split("</think>")[0].strip() == ""
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(built / "all_strategies.parquet"), split="train")
    assert {"prompt", "completion"} <= set(ds.column_names) and len(ds) == N


def test_length_matched_has_equal_token_lengths(built, tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    original = {r["id"]: r for r in rows_of(built, "all_strategies")}
    matched = rows_of(built, "length_matched")
    both = [r for r in matched if r["id"] in original]
    assert len(both) == N   # derived from all_strategies' traces: the same problems
    for row in both:
        src = original[row["id"]]
        n_src = len(tok(src["completion"], add_special_tokens=False)["input_ids"])
        n_dots = len(tok(row["completion"], add_special_tokens=False)["input_ids"])
        assert n_src == n_dots == row["completion_tokens"] == row["original_tokens"]
        thought = row["completion"].split("</think>")[0]
        assert set(thought) <= {".", " ", "\n"} and thought.count(".") > 10
        assert extract_answer(row["completion"]) == extract_answer(src["completion"])


def test_problems_are_disjoint_from_the_evaluation_split(built, eval_file):
    eval_keys = {Problem.from_dict(r).key for r in read_rows(eval_file)}
    for name in CONDITIONS:
        keys = {(tuple(sorted(r["numbers"])), r["target"]) for r in rows_of(built, name)}
        assert not keys & eval_keys
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["conditions"]["all_strategies"]["counts"]["excluded_problems"] == 40


def test_traces_vary_in_wording_and_are_seeded(tmp_path, capsys):
    args = ["--condition", "backtracking_verification", "--num", "20", "--quiet"]
    assert run(build.main, args + ["--out", tmp_path / "a"], capsys)[0] == 0
    assert run(build.main, args + ["--out", tmp_path / "b"], capsys)[0] == 0
    assert run(build.main, args + ["--seed", "1", "--out", tmp_path / "c"], capsys)[0] == 0
    a, b, c = (rows_of(tmp_path / d, "backtracking_verification") for d in "abc")
    assert a == b
    assert [r["completion"] for r in a] != [r["completion"] for r in c]
    openings = {r["completion"].split(".")[0] for r in a}
    assert len(openings) >= 3   # several phrasings, not one memorisable sentence


def test_rerun_resumes_and_force_rebuilds(tmp_path, capsys):
    args = ["--condition", "negative_control", "--num", "5", "--out", tmp_path, "--quiet"]
    assert run(build.main, args, capsys)[0] == 0
    target = tmp_path / "negative_control.parquet"
    stamp = target.stat().st_mtime_ns
    code, _, err = run(build.main, args, capsys)
    assert code == 0 and "skipped" in err and target.stat().st_mtime_ns == stamp
    code, _, err = run(build.main, args[:-3] + ["--num", "6", "--out", tmp_path, "--quiet"], capsys)
    assert code == 0 and len(rows_of(tmp_path, "negative_control")) == 6


def test_list_and_help(capsys):
    code, out, _ = run(build.main, ["--list"], capsys)
    assert code == 0 and all(name in out for name in CONDITIONS)
    code, out, _ = run(build.main, ["--help"], capsys)
    assert code == 0 and "--behavior" in out and "examples" in out


@pytest.mark.parametrize("argv", [
    ["--condition", "no_such_condition"],
    ["--behavior", "telepathy"],
    ["--condition", "all_strategies", "--num", "0"],
    ["--condition", "length_matched"],                         # needs --tokenizer
    ["--condition", "all_strategies", "--exclude", "missing.jsonl"],
    ["--condition", "all_strategies", "--preset", "nope"],
    ["--condition", "all_strategies", "--source", "llm"],       # needs --base-url/--model
    ["--condition", "all_strategies", "--tokenizer", "no/such/dir"],
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv):
    out = tmp_path / "out"
    code, stdout, err = run(build.main, argv + ["--out", out], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()


def test_behavior_short_forms():
    assert condition_for_behaviors("backtracking").name == "only_backtracking"
    assert condition_for_behaviors("verification").name == "backtracking_verification"
    assert condition_for_behaviors("backtracking,backward").name == "backtracking_backward"
    assert condition_for_behaviors("subgoal").name == "backtracking_subgoal"
    assert condition_for_behaviors("all").name == "all_strategies"
    assert condition_for_behaviors("none").name == "negative_control"


def test_verification_fails_loudly(built, tmp_path, capsys):
    # all-strategies traces claimed as only_backtracking: three excluded behaviors are everywhere
    data = tmp_path / "mislabelled.jsonl"
    write_rows(rows_of(built, "all_strategies"), data)
    code, out, _ = run(verify.main, [data, "--condition", "only_backtracking"], capsys)
    assert code == 1 and "FAILED" in out and "verification is excluded" in out
    # correct traces claimed as incorrect_only: the reward check catches them
    report = verify.verify_rows(rows_of(built, "all_strategies"), CONDITIONS["incorrect_only"])
    assert not report.ok and any("do not score 0.1" in p for p in report.problems)
    with pytest.raises(verify.VerificationError, match="incorrect_only"):
        verify.check(report)
    code, out, _ = run(verify.main, [built / "only_backtracking.parquet"], capsys)
    assert code == 0 and "| backtracking | required | 100.0%" in out


def test_search_pieces():
    tree = find_solution([3, 5, 2], 16)
    assert isinstance(tree, Node) and tree.value == 16 and sorted(tree.leaves()) == [2, 3, 5]
    assert score(f"<answer>{tree.expr()}</answer>", [3, 5, 2], 16) == 1.0
    assert find_solution([1, 1, 1], 50) is None
    assert 16 in reachable((2, 3, 5)) and 1000 not in reachable((2, 3, 5))
    # minimal parentheses that keep the value: 7 - (3 - 1) must keep its brackets, (7 - 3) - 1 need not
    inner = Node(2, "-", Node(3), Node(1))
    assert Node(5, "-", Node(7), inner).expr() == "7 - (3 - 1)"
    assert Node(3, "-", Node(4, "-", Node(7), Node(3)), Node(1)).expr() == "7 - 3 - 1"


# ---------------------------------------------------------------- the paper's correctness mix (--correct-share)
# A wrong answer admitted in so many words: the phrases a trace that "gives up" would use.
ADMITS = re.compile(r"closest|off by|could not find|does not (match|equal)|not equal to the target|wrong", re.I)


def test_correct_share_is_measured_by_the_reward(tmp_path, capsys):
    """The issue's must-show: 40% correct asked, the reward measures 0.35-0.45, and no wrong trace admits it."""
    out = tmp_path / "mix"
    code, _, _ = run(build.main, ["--condition", "all_strategies", "--correct-share", "0.4", "--num", "500",
                                  "--out", out, "--quiet"], capsys)
    assert code == 0
    rows = rows_of(out, "all_strategies")
    rewards = [score(r["completion"], r["numbers"], r["target"]) for r in rows]
    share = sum(x == 1.0 for x in rewards) / len(rows)
    assert len(rows) == 500 and 0.35 <= share <= 0.45
    assert set(rewards) == {1.0, 0.1}   # every wrong answer is still a well-formed equation
    assert [r["planned"] for r in rows] == ["correct" if x == 1.0 else "wrong" for x in rewards]
    manifest = json.loads((out / "manifest.json").read_text())["conditions"]["all_strategies"]
    assert manifest["counts"]["share_correct"] == round(share, 4)
    assert manifest["settings"]["correct_share"] == "0.4"
    for row, x in zip(rows, rewards):
        closing = row["completion"].split("</think>")[0].strip().split("\n")[-1]
        if x < 1.0:   # the last paragraph confirms the answer as a right one would
            assert not ADMITS.search(closing) and written_behaviors(closing) >= {VER}, row["completion"]


def test_incorrect_only_never_admits_the_answer_is_wrong(built):
    for row in rows_of(built, "incorrect_only"):
        closing = row["completion"].split("</think>")[0].strip().split("\n")[-1]
        assert not ADMITS.search(closing), row["completion"]
        assert row["planned"] == "wrong" and row["reward"] == 0.1


def test_paper_shares_and_controls_derived_from_all_strategies(tmp_path, capsys):
    """--correct-share paper: each condition has the share the paper measured; the controls carry
    all_strategies' problems and answers (and so its share) with their own thought."""
    out = tmp_path / "paper"
    code, _, _ = run(build.main, ["--condition", "all_strategies", "--condition", "backtracking_subgoal",
                                  "--condition", "negative_control", "--condition", "empty_cot",
                                  "--correct-share", "paper", "--num", "100", "--out", out, "--quiet"], capsys)
    assert code == 0
    measured = {}
    for name in ("all_strategies", "backtracking_subgoal", "negative_control", "empty_cot"):
        rows = rows_of(out, name)
        measured[name] = sum(score(r["completion"], r["numbers"], r["target"]) == 1.0 for r in rows) / len(rows)
    assert measured == {"all_strategies": 0.43, "backtracking_subgoal": 0.28, "negative_control": 0.43,
                        "empty_cot": 0.43}
    source = rows_of(out, "all_strategies")
    for name in ("negative_control", "empty_cot"):
        derived = rows_of(out, name)
        assert [r["id"] for r in derived] == [r["id"] for r in source]
        assert [extract_answer(r["completion"]) for r in derived] == [extract_answer(r["completion"]) for r in source]
        assert all(not written_behaviors(r["completion"]) for r in derived)
    entries = json.loads((out / "manifest.json").read_text())["conditions"]
    assert entries["negative_control"]["derived_from"] == "all_strategies"
    assert entries["all_strategies"]["derived_from"] is None


def test_validation_split_is_written_on_further_problems(tmp_path, capsys):
    out = tmp_path / "val"
    code, _, _ = run(build.main, ["--condition", "backtracking_verification", "--num", "30", "--validation", "10",
                                  "--correct-share", "0.5", "--out", out, "--quiet"], capsys)
    assert code == 0
    train = rows_of(out, "backtracking_verification")
    validation = read_rows(build.set_path(out, "backtracking_verification", "parquet", "validation"))
    assert len(train) == 30 and len(validation) == 10
    key = lambda r: (tuple(sorted(r["numbers"])), r["target"])  # noqa: E731
    assert not {key(r) for r in train} & {key(r) for r in validation}
    assert sum(r["reward"] == 1.0 for r in validation) == 5
    counts = json.loads((out / "manifest.json").read_text())["conditions"]["backtracking_verification"]["counts"]
    assert counts["validation_rows"] == 10 and counts["share_correct_validation"] == 0.5


@pytest.mark.parametrize("argv", [
    ["--condition", "all_strategies", "--correct-share", "1.5"],
    ["--condition", "all_strategies", "--correct-share", "most"],
    ["--condition", "all_strategies", "--correct-share", "nan"],
    ["--condition", "all_strategies", "--validation", "-1"],
    ["--condition", "all_strategies", "--source", "llm", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
     "--correct-share", "paper"],
])
def test_bad_correctness_options_exit_2(tmp_path, capsys, argv):
    out = tmp_path / "out"
    code, _, err = run(build.main, argv + ["--out", out], capsys)
    assert code == 2 and err.startswith("error: ") and not out.exists()
