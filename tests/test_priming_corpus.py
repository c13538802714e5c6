"""priming.corpus: the organism's pretraining rows are guesses, tables and (behavior-rich) searches, true
arithmetic, no held-out numbers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from countdown.generate import distribution
from countdown.io import read_rows
from countdown.reward import score
from priming import corpus
from tests.test_priming import run
from tests.test_priming_search import attempts_of, value

ROOT = Path(__file__).resolve().parents[1]
TRUE_STEP = re.compile(r"^(\d+) ([-+*]) (\d+) = (\d+|out)$")


def test_guesses_and_tables_are_true_and_never_held_out(tmp_path, capsys):
    out = tmp_path / "base.parquet"
    code, stdout, _ = run(corpus.main, ["--rows", 2000, "--tables", 0.25, "--out", out, "--seed", 3], capsys)
    assert code == 0 and "500 tables" in stdout
    rows = read_rows(out)
    space = distribution("organism")
    assert len(rows) == 2000 and sum(r["kind"] == "table" for r in rows) == 500
    assert not any(space.held_out(tuple(sorted(r["numbers"]))) for r in rows)
    guesses = [r for r in rows if r["kind"] == "guess"]
    for r in guesses:   # one attempt written at once (no comparison), answered as if right
        [(_, _, verdict)] = attempts_of(r)
        assert verdict is None and r["text"] == r["prompt"] + r["completion"]
    right = sum(score(r["completion"], list(map(int, r["numbers"])), int(r["target"])) == 1.0
                for r in guesses) / len(guesses)
    assert 0.02 < right < 0.12, right    # chance: a few percent of random attempts hit the target
    for r in rows[:200]:
        if r["kind"] == "table":   # 9 first steps and 27 ways to finish them, every one true, no target
            steps = [TRUE_STEP.match(s.strip()) for s in r["completion"].split(" .") if s.strip()]
            assert len(steps) == 36 and all(m and m.group(4) == value(int(m[1]), m[2], int(m[3])) for m in steps), r
            assert r["prompt"].startswith("Numbers: ") and "Target" not in r["prompt"]
    orders = {tuple(r["numbers"]) for r in rows}
    assert len(orders) > len({tuple(sorted(n)) for n in orders})   # numbers are shuffled per row


def test_searches_are_the_behavior_rich_kind(tmp_path, capsys):
    """--searches puts generate-and-test searches where guesses would be: each step true, each verdict right,
    the paper's share of them reaching the target and the rest giving up after backing off."""
    out = tmp_path / "rich.jsonl"
    code, stdout, _ = run(corpus.main, ["--rows", 600, "--tables", 0.5, "--searches", 0.5, "--out", out], capsys)
    assert code == 0 and "0 guesses, 300 tables, 300 searches" in stdout
    searches = [r for r in read_rows(out) if r["kind"] == "search"]
    space = distribution("organism")
    for r in searches:
        tried = attempts_of(r)   # checks every step's arithmetic and every verdict against the target
        assert len(tried) >= 2 and all(v == "not" for _, _, v in tried[:-1]), r["completion"]
        assert r["prompt"] == f"Numbers: {' '.join(map(str, r['numbers']))}. Target: {r['target']}.\n<think>"
        assert (tried[-1][2] == "is") == (score(r["completion"], r["numbers"], r["target"]) == 1.0)
        assert not space.held_out(tuple(sorted(r["numbers"])))
    right = sum(attempts_of(r)[-1][2] == "is" for r in searches) / len(searches)
    assert 0.35 < right < 0.52, right   # the paper's 0.43 of unfiltered traces end right


def test_a_token_budget_gives_two_kinds_the_same_tokens_over_the_same_problems(tmp_path, capsys):
    """--tokens: the searches-only and the guesses-only corpus each stop once their completions hold the budget,
    counted as the organism's words tokenizer splits them, so they differ in rows but not in tokens."""
    from transformers import AutoTokenizer

    budget = 20_000
    made = {}
    for name, searches in (("rich", 1), ("minimal", 0)):
        out = tmp_path / f"{name}.parquet"
        code, _, err = run(corpus.main, ["--tokens", budget, "--tables", 0, "--searches", searches, "--out", out],
                           capsys)
        assert code == 0, err
        made[name] = read_rows(out)
    assert {r["kind"] for r in made["rich"]} == {"search"} and {r["kind"] for r in made["minimal"]} == {"guess"}
    for rows in made.values():
        held = [corpus.count_tokens(r["completion"]) for r in rows]
        assert budget <= sum(held) < budget + held[-1]   # the last row is the one that spends the budget
    assert len(made["minimal"]) > 3 * len(made["rich"])  # a guess is about a fifth of a search
    space = distribution("organism")
    assert not any(space.held_out(tuple(sorted(r["numbers"]))) for rows in made.values() for r in rows)
    tokenizer = AutoTokenizer.from_pretrained(ROOT / "rl" / "checkpoints" / "organism-base")
    for r in made["rich"][:20] + made["minimal"][:20]:
        assert corpus.count_tokens(r["text"]) == len(tokenizer(r["text"])["input_ids"]), r["text"]


@pytest.mark.parametrize("argv", [["--tables", 1.5], ["--tables", 0.6, "--searches", 0.5], ["--searches", -0.1], ["--rows", 0], ["--tokens", 0], ["--preset", "tinyzero"], ["--template", "chat"],
                                  ["--out", "corpus.txt"]])
def test_bad_options_exit_2(tmp_path, capsys, argv):
    argv = [tmp_path / a if a == "corpus.txt" else a for a in argv]
    code, _, err = run(corpus.main, argv + ([] if "--out" in argv else ["--out", tmp_path / "x.parquet"]), capsys)
    assert code == 2 and err.startswith("error: ") and list(tmp_path.iterdir()) == []
