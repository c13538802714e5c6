"""priming.build --style search: the CPU model organism's generate-and-test searches (priming.compact).

The sets are read back with this file's own parser of the trace text and checked by arithmetic: every step
it writes is true, every comparison with the target says what the arithmetic says, the answer is the last
attempt, and the controls carry all_strategies' problems and answers. The rule judge, which the builder
verified the sets with, is not used here.
"""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from countdown.io import read_rows, write_rows
from countdown.reward import extract_answer, score
from priming import build, compact, verify
from tests.test_priming import run

N = 120
HEAD = re.compile(r"^(\d+) ([-+*]) (\d+) = (\d+|out)$")
TAIL = re.compile(r"^(\d+|out) ([-+*]) (\d+) = (\d+|out)(?: (not|is) (\d+))?$")


def value(a: int, op: str, b: int) -> str:
    v = a + b if op == "+" else a - b if op == "-" else a * b
    return str(v) if 0 <= v < 100 else "out"


def attempts_of(row: dict) -> list[tuple[str, str, str | None]]:
    """(first step, last step, verdict) for each attempt the thought writes, each step checked true."""
    thought = row["completion"].split("</think>")[0].replace("\n", " ").strip()
    sentences = [s.strip() for s in thought.split(" .") if s.strip()]
    out, head = [], None
    for i, sentence in enumerate(sentences):
        first = HEAD.match(sentence)
        if first and i < len(sentences) - 1:   # a tail has a verdict, but at once the last one does not
            assert first.group(4) == value(int(first.group(1)), first.group(2), int(first.group(3))), sentence
            head = sentence
            continue
        last = TAIL.match(sentence)
        assert last and head, (sentence, row["completion"])
        x, op, c, y, verdict, target = last.groups()
        assert x == head.split(" = ")[1] and y == (value(int(x), op, int(c)) if x != "out" else "out"), sentence
        if verdict:   # the comparison says what the arithmetic says, against this problem's target
            assert int(target) == row["target"] and (verdict == "is") == (y == str(row["target"])), sentence
        out.append((head, sentence, verdict))
    return out


@pytest.fixture(scope="module")
def searches(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("search")
    with pytest.raises(SystemExit) as exit_info:
        from countdown.cli import run_cli

        run_cli(build.main, ["--condition", "all_strategies", "--condition", "negative_control", "--condition",
                             "incorrect_only", "--style", "search", "--preset", "organism", "--template", "compact",
                             "--correct-share", "paper", "--num", str(N), "--out", str(out), "--quiet"])
    assert exit_info.value.code == 0
    return out


def rows(out: Path, condition: str) -> list[dict]:
    return read_rows(out / f"{condition}.parquet")


def test_all_strategies_searches_are_true_and_end_on_their_last_attempt(searches):
    found = rows(searches, "all_strategies")
    assert len(found) == N and sum(r["reward"] == 1.0 for r in found) == round(0.43 * N)   # the paper's share
    for row in found:
        tried = attempts_of(row)
        assert len(tried) >= 2 and all(v == "not" for _, _, v in tried[:-1]), row["completion"]
        first, last, verdict = tried[-1]
        a, op1, b = first.split(" = ")[0].split()
        c = last.split(" = ")[0].split()[2]
        assert extract_answer(row["completion"]) == f"( {a} {op1} {b} ) {last.split()[1]} {c}"
        # it stops at the first hit (is), or gave up on a miss (not) and answers that attempt anyway
        assert (verdict == "is") == (row["reward"] == 1.0) == (row["planned"] == "correct")
        assert row["prompt"] == f"Numbers: {' '.join(map(str, row['numbers']))}. Target: {row['target']}.\n<think>"


def test_incorrect_only_gives_up_after_backing_off(searches):
    for row in rows(searches, "incorrect_only"):
        tried = attempts_of(row)
        assert row["reward"] == 0.1 and len(tried) >= 2 and {v for _, _, v in tried} == {"not"}


def test_incorrect_only_slip_finds_the_target_then_miswrites_one_part_of_the_answer(tmp_path, capsys):
    """--incorrect slip: the whole search to the hit, called the target, then an answer that differs from the
    hit in exactly one number or operator and scores wrong; a number slip uses another of the problem's numbers."""
    code, _, err = run(build.main, ["--condition", "incorrect_only", "--style", "search", "--preset", "organism",
                                    "--template", "compact", "--incorrect", "slip", "--num", str(N), "--out",
                                    tmp_path, "--quiet"], capsys)
    assert code == 0, err
    found = rows(tmp_path, "incorrect_only")
    slips = {"number": 0, "operator": 0}
    for row in found:
        tried = attempts_of(row)
        assert [v for _, _, v in tried] == ["not"] * (len(tried) - 1) + ["is"], row["completion"]
        head, tail, _ = tried[-1]
        a, op1, b = head.split(" = ")[0].split()
        op2, c = tail.split()[1:3]
        hit = [a, op1, b, op2, c]
        written = extract_answer(row["completion"]).replace("(", "").replace(")", "").split()
        changed = [k for k in range(5) if written[k] != hit[k]]
        assert len(changed) == 1 and row["reward"] == 0.1 == score(row["completion"], row["numbers"], row["target"])
        k = changed[0]
        if k in (1, 3):
            slips["operator"] += 1
            assert written[k] in "+-*"
        else:
            slips["number"] += 1
            assert int(written[k]) in row["numbers"]
    assert min(slips.values()) > N / 5    # both kinds of slip occur
    entry = json.loads((tmp_path / "manifest.json").read_text())["conditions"]["incorrect_only"]
    assert entry["settings"]["incorrect"] == "slip" and entry["counts"]["share_correct"] == 0.0


def test_negative_control_is_the_same_answer_written_at_once(searches):
    source = {r["id"]: r for r in rows(searches, "all_strategies")}
    for row in rows(searches, "negative_control"):
        twin = source[row["id"]]
        assert extract_answer(row["completion"]) == extract_answer(twin["completion"])
        assert row["reward"] == twin["reward"] == score(row["completion"], row["numbers"], row["target"])
        [(head, tail, verdict)] = attempts_of(row)   # one attempt, compared with nothing
        assert verdict is None and (head, tail + f" {'is' if row['reward'] == 1 else 'not'} {row['target']}") \
            == attempts_of(twin)[-1][:2]


def test_manifest_and_verification_hold_a_search_to_what_it_can_show(searches, tmp_path, capsys):
    entry = json.loads((searches / "manifest.json").read_text())["conditions"]["all_strategies"]
    assert entry["requires"] == ["backtracking", "verification"] and entry["settings"]["style"] == "search"
    assert entry["excludes"] == ["backward_chaining", "subgoal_setting"]
    code, out, _ = run(verify.main, [searches / "all_strategies.parquet"], capsys)   # style read from the rows
    assert code == 0 and "| verification | required | 100.0%" in out
    code, out, _ = run(verify.main, [searches / "all_strategies.parquet", "--style", "prose"], capsys)
    assert code == 1 and "subgoal_setting is required" in out
    data = tmp_path / "control_as_search.jsonl"    # behavior-free traces claimed as searches fail too
    write_rows(rows(searches, "negative_control"), data)
    code, out, _ = run(verify.main, [data, "--condition", "all_strategies"], capsys)
    assert code == 1 and "verification is required" in out


def test_the_search_order_is_fixed_and_complete():
    order = compact.attempts([3, 5, 7])
    assert len(order) == 27 and len(set(order)) == 27
    assert order[0].head() == "3 + 5 = 8 ." and order[0].tail() == "8 + 7 = 15"
    assert [s.head() for s in order[::9]] == ["3 + 5 = 8 .", "3 + 7 = 10 .", "5 + 7 = 12 ."]
    assert compact.attempts([2, 9, 4])[3].head() == "9 - 2 = 7 ."    # a difference puts the larger number first
    with pytest.raises(ValueError):
        compact.attempts([1, 2, 3], "+/")


@pytest.mark.parametrize("argv", [
    ["--condition", "all_strategies", "--style", "search"],                       # priming preset: 3-4 numbers, /
    ["--condition", "all_strategies", "--style", "search", "--preset", "tiny"],   # tiny allows division
    ["--condition", "all_strategies", "--style", "search", "--source", "llm", "--base-url", "http://x/v1",
     "--model", "m"],
    ["--condition", "all_strategies", "--style", "poetry"],
    ["--condition", "incorrect_only", "--incorrect", "slip"],                     # a slip ends a search, not prose
])
def test_a_search_needs_a_problem_space_it_can_search(tmp_path, capsys, argv):
    out = tmp_path / "out"
    code, _, err = run(build.main, argv + ["--out", out], capsys)
    assert code == 2 and "error: " in err and not out.exists()


def test_orders_give_more_distinct_searches_than_the_preset_has_problems(tmp_path, capsys):
    """--orders 6: each organism problem up to six times, its numbers reordered, so 1,000 all-correct searches
    come from fewer than 827 problems, each order once, none of them held out, the first order as drawn."""
    stream, plain = build.problem_stream(0, "organism", set(), orders=6), build.problem_stream(0, "organism", set())
    for _ in range(20):
        drawn = next(plain)
        group = [next(stream) for _ in range(len(set(itertools.permutations(drawn.numbers))))]  # 3 for 1 1 7
        assert group[0] == drawn and {p.key for p in group} == {drawn.key}
        assert len({tuple(p.numbers) for p in group}) == len(group)

    test = tmp_path / "test.jsonl"
    from countdown.export import write_jsonl
    from countdown.generate import generate_problems

    held_out = generate_problems(64, seed=0, preset="organism", split="test")
    write_jsonl(held_out, test)
    out = tmp_path / "out"
    code, _, err = run(build.main, ["--condition", "all_strategies", "--style", "search", "--preset", "organism",
                                    "--template", "compact", "--num", "1000", "--orders", "6", "--exclude", test,
                                    "--out", out, "--quiet"], capsys)
    assert code == 0, err
    built = rows(out, "all_strategies")
    orders = {(tuple(r["numbers"]), r["target"]) for r in built}
    problems = {(tuple(sorted(r["numbers"])), r["target"]) for r in built}
    assert len(built) == len(orders) == 1000 and len(problems) < 827
    assert not problems & {p.key for p in held_out}
    assert all(attempts_of(r)[-1][2] == "is" for r in built)
    entry = json.loads((out / "manifest.json").read_text())["conditions"]["all_strategies"]
    assert entry["settings"]["orders"] == 6

    code, _, err = run(build.main, ["--condition", "all_strategies", "--orders", "0", "--out", out], capsys)
    assert code == 2 and "--orders" in err
