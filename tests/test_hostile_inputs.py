"""Hostile input files, given to every command that reads one: each must end in the error contract (exit 2,
one `error:` line naming the file, and the line where there is one, nothing written), never a traceback, and
before any model is loaded. Also hostile --config files, for every command, and values no run can use."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from countdown.records import RESULTS_COLUMNS
from hostile import COMMANDS, fails_cleanly, run

GOOD_PROBLEM = {"id": "g", "numbers": [3, 5, 2], "target": 16}

# Commands that read a table file, what that file is for each, and a row of the right shape.
READERS = {
    "rl.rollout": "problems", "rl.train": "problems", "rl.evaluate": "problems", "rl.learnability": "problems",
    "rl.verl_export": "problems", "priming.build": "problems", "behaviors.classify": "traces",
    "behaviors.agreement": "labels", "priming.curate": "documents", "priming.verify": "priming set",
    "rl.sft": "sft set", "analysis.figures": "results",
}
GOOD_ROW = {
    "problems": GOOD_PROBLEM,
    "traces": {"trace_id": "t", "completion": "3 * 5 = 15", "numbers": [3, 5], "target": 15},
    "labels": {"trace_id": "t", "verification": 1, "backtracking": 0, "subgoal_setting": 0, "backward_chaining": 0},
    "documents": {"text": "Find x. Check: 2 + 2 = 4."},
    "priming set": {"prompt": "p", "completion": "c", "numbers": [3, 5], "target": 8, "condition": "all_strategies"},
    "sft set": {"prompt": "p", "completion": "c"},
    "results": {**{c: 0.0 for c in RESULTS_COLUMNS}, "condition": "c", "step": 0},
}
# A row of each kind whose fields have the wrong type, and one with a number too big for any 64-bit table.
WRONG_ROW = {
    "problems": {"id": "w", "numbers": "3 5", "target": 8},
    "traces": {"trace_id": "w", "completion": 42},
    "labels": {"trace_id": "w", "verification": "two", "backtracking": [1]},
    "documents": {"text": 42},
    "priming set": {"prompt": "p", "completion": 42, "numbers": [3, 5], "target": 8, "condition": "all_strategies"},
    "sft set": {"prompt": "p", "completion": 42},
    "results": {**{c: 0.0 for c in RESULTS_COLUMNS}, "condition": "c", "step": "late", "accuracy": "high"},
}
HUGE_ROW = {
    "problems": {"id": "h", "numbers": [10 ** 30, 2], "target": 3},
    "traces": {"trace_id": "h", "completion": "x", "numbers": [10 ** 30, 2], "target": 3},
    "labels": {"trace_id": "h", "verification": 10 ** 30, "backtracking": 0, "subgoal_setting": 0,
               "backward_chaining": 0},
    "priming set": {"prompt": "p", "completion": "c", "numbers": [10 ** 30, 2], "target": 3,
                    "condition": "all_strategies"},
}


def argv(command: str, path: Path, work: Path, model: Path) -> list:
    """A run of `command` that reads `path` and would write under `work`."""
    good = work / "good.jsonl"
    return {
        "rl.rollout": [path, "--model", model, "--backend", "hf", "--out", work / "o.jsonl"],
        "rl.train": ["--model", model, "--out", work / "t", "--preset", "tiny", "--problems", path],
        "rl.evaluate": [work / "run", "--condition", "c", "--problems", path, "--backend", "hf", "--preset", "tiny",
                        "--results", work / "r.csv"],
        "rl.learnability": [path, "--model", model, "--out", work / "k.jsonl"],
        "rl.verl_export": ["--out", work / "v", "--problems", path, "--test-problems", good],
        "priming.build": ["--condition", "all_strategies", "--num", "2", "--exclude", path, "--out", work / "pb"],
        "behaviors.classify": [path, "--out", work / "l.jsonl"],
        "behaviors.agreement": [path, path, "--out", work / "a.csv"],
        "priming.curate": [path, "--budget-tokens", "10", "--out", work / "cu"],
        "priming.verify": [path],
        "rl.sft": ["--model", model, "--data", path, "--out", work / "s"],
        "analysis.figures": [path, "--out", work / "fig"],
    }[command]


@pytest.fixture
def work(tmp_path):
    (tmp_path / "run").mkdir()   # an (empty) training run for rl.evaluate
    (tmp_path / "good.jsonl").write_text(json.dumps(GOOD_PROBLEM) + "\n")
    return tmp_path


def _lines(*rows: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


DEEP = "[" * 100_000 + "]" * 100_000


# (name, file name, content or a function of the command's input kind, what the error line must name)
CASES = [
    ("missing", "nope.jsonl", None, ["nope.jsonl", "no such file"]),
    ("folder", "folder.jsonl", "DIR", ["folder.jsonl", "folder"]),   # (a corpus may be a folder: of no files here)
    ("not-utf8", "latin.jsonl", lambda kind: _lines(GOOD_ROW[kind]).encode() + b'{"x": "caf\xe9"}\n',
     ["latin.jsonl:2", "not UTF-8"]),
    ("deep", "deep.jsonl", lambda kind: f'{{"x": {DEEP}}}\n', ["deep.jsonl:1", "nested too deeply"]),
    ("bad-json", "broken.jsonl", lambda kind: _lines(GOOD_ROW[kind]) + '{"x": 1\n', ["broken.jsonl:2", "invalid JSON"]),
    ("not-an-object", "list.jsonl", lambda kind: "[1, 2]\n", ["list.jsonl:1", "expected a JSON object"]),
    ("corrupt-parquet", "corrupt.parquet", lambda kind: b"PAR1 this is not a parquet file",
     ["corrupt.parquet", "cannot read parquet"]),
    # the bad row sits on file line 4, after a good row and two blank lines: errors name the file's line
    ("wrong-typed", "wrong.jsonl", lambda kind: _lines(GOOD_ROW[kind]) + "\n\n" + _lines(WRONG_ROW[kind]),
     ["wrong.jsonl:4"]),
]


@pytest.mark.parametrize("command", sorted(READERS))
@pytest.mark.parametrize("case, name, content, needles", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_files(command, case, name, content, needles, work, tiny_model_dir, capsys):
    path = work / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        data = content(READERS[command])
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    fails_cleanly(command, argv(command, path, work, tiny_model_dir), capsys, *needles, work=work)


@pytest.mark.parametrize("command", sorted(c for c in READERS if READERS[c] in HUGE_ROW))
def test_numbers_beyond_64_bits(command, work, tiny_model_dir, capsys):
    path = work / "huge.jsonl"
    path.write_text(_lines(GOOD_ROW[READERS[command]], HUGE_ROW[READERS[command]]))
    fails_cleanly(command, argv(command, path, work, tiny_model_dir), capsys, "huge.jsonl:2", work=work)


# An empty input is an error wherever a run cannot do anything with it (an empty --exclude list is fine).
@pytest.mark.parametrize("command", sorted(c for c in READERS if c != "priming.build"))
def test_empty_input_files(command, work, tiny_model_dir, capsys):
    path = work / "empty.jsonl"
    path.write_text("\n\n")
    fails_cleanly(command, argv(command, path, work, tiny_model_dir), capsys, "empty.jsonl", work=work)


def test_countdown_rows_that_are_not_integer_problems(work, capsys):
    """The judge reads a trace's problem as it is: target 22.9 is not 22, and [] is no problem."""
    for bad in ({"target": 22.9, "numbers": [3, 5]}, {"target": 8, "numbers": []}, {"target": True, "numbers": [8]}):
        path = work / "t.jsonl"
        path.write_text(_lines({"trace_id": "a", "completion": "3 + 5 = 8", **bad}))
        fails_cleanly("behaviors.classify", [path, "--out", work / "l.jsonl", "--variant", "countdown"], capsys,
                      "t.jsonl:1", "integer", work=work)


@pytest.mark.parametrize("row, needle", [
    ({"verification": 1.5}, "verification must be a whole number"),
    ({"verification": True}, "verification must be a whole number"),
    ({"verification": -3}, "verification must be a whole number"),
    ({"trace_id": "t"}, "already labelled on line 1"),
])
def test_agreement_refuses_counts_it_would_misread(row, needle, work, capsys):
    labels = GOOD_ROW["labels"]
    path = work / "labels.jsonl"
    path.write_text(_lines(labels, {**labels, "trace_id": "u", **row}))
    fails_cleanly("behaviors.agreement", [path, path], capsys, "labels.jsonl:2", needle, work=work)


GOLD_ROW = {"id": "g1", "split": "dev", "style": "s", "numbers": [3, 5], "target": 8, "completion": "3 + 5 = 8",
            "verification": 0, "backtracking": 0, "subgoal_setting": 0, "backward_chaining": 0}


@pytest.mark.parametrize("content, needle", [
    (lambda: _lines(GOLD_ROW) + "\n" + _lines({"id": "g2", "completion": "x"}), "gold.jsonl:3: not a gold row"),
    (lambda: _lines(GOLD_ROW, {**GOLD_ROW, "id": "g2", "verification": "two"}), "gold.jsonl:2: verification"),
    (lambda: _lines(GOLD_ROW, {**GOLD_ROW, "id": "g2", "backtracking": -1}), "gold.jsonl:2: backtracking"),
    (lambda: _lines(GOLD_ROW, {**GOLD_ROW, "id": "g2", "target": 22.9}), "gold.jsonl:2: 'numbers' must"),
    (lambda: _lines(GOLD_ROW, GOLD_ROW), "gold.jsonl:2: id 'g1' already on line 1"),
    (lambda: _lines(GOLD_ROW) + f'{{"x": {DEEP}}}\n', "gold.jsonl:2: JSON nested too deeply"),
    (lambda: _lines(GOLD_ROW).encode() + b'{"id": "caf\xe9"}\n', "gold.jsonl:2: not UTF-8"),
], ids=["missing-field", "count-not-a-number", "negative-count", "target-not-integer", "id-twice", "deep",
        "not-utf8"])
def test_agreement_checks_a_gold_file_like_a_label_file(content, needle, work, capsys):
    """--gold-file: a gold set in the package's format, each row checked (and named by its line) before any
    trace is judged or scored."""
    path = work / "gold.jsonl"
    data = content()
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    fails_cleanly("behaviors.agreement", ["--gold", "--gold-file", path, "--out", work / "a.csv"], capsys, needle,
                  work=work)


# ------------------------------------------------------------------------------------------ --config files

YAML_CASES = [
    ("missing", None, "no such config file"),
    ("folder", "DIR", "is a folder"),
    ("not-utf8", b"seed: 1\nout: caf\xe9\n", "not valid YAML"),
    ("deep", ("x: " + "[" * 600 + "]" * 600 + "\n").encode(), "nested too deeply"),   # past YAML's parser stack
    ("not-a-mapping", b"- 1\n- 2\n", "expected a mapping"),
    ("unknown-option", b"no_such_option: 1\n", "unknown option(s) no_such_option"),
    ("wrong-typed", b"seed: [1, 2]\n", "option 'seed' must be an integer"),
    ("not-whole", b"seed: 1.5\n", "option 'seed' must be an integer"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case, content, needle", YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_hostile_config_files(command, case, content, needle, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    names = ["run.yaml", needle]
    if command == "priming.verify" and case in ("wrong-typed", "not-whole"):   # no --seed: not an option
        names = ["run.yaml", "unknown option(s) seed"]
    fails_cleanly(command, ["--config", path], capsys, *names, work=tmp_path)


@pytest.mark.parametrize("text, needle", [
    ("template: nosuch\n", "option 'template' must be one of base, chat"),   # choices hold for files too
    ("overwrite: 1\n", "option 'overwrite' must be true or false"),
    ("stop: [[1]]\n", "option 'stop' must be a string"),
])
def test_config_values_are_checked_like_flags(text, needle, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    fails_cleanly("rl.rollout", ["p.jsonl", "--out", "o.jsonl", "--config", path], capsys, "run.yaml", needle,
                  work=tmp_path)


# ------------------------------------------------------------------------------------------ option values

@pytest.mark.parametrize("command, args, needle", [
    ("countdown.generate", ["--num", "3", "--numbers", "1-99999999999999999999"], "numbers must lie within"),
    ("countdown.generate", ["--num", "3", "--counts", "5:1", "--numbers", "1-9000000000000000000"], "numbers must"),
    ("countdown.generate", ["--num", "0"], "--num must be >= 1"),
    ("rl.sft", ["--scheduler", "nosuch"], "--scheduler nosuch"),
    ("rl.sft", ["--device", "nosuch"], "--device nosuch"),
    ("rl.sft", ["--dtype", "int3"], "--dtype int3"),
    ("rl.sft", ["--limit", "0"], "--limit"),
    ("rl.train", ["--device", "gpu7"], "--device gpu7"),
    ("rl.train", ["--num-problems", "0"], "--num-problems"),
    ("rl.learnability", ["--k", "1"], "--k must be >= 2"),
    ("rl.rollout", ["--limit", "0"], "--limit must be >= 1"),
    ("rl.rollout", ["--limit", "-1"], "--limit must be >= 1"),
    ("rl.rollout", ["--stop", ""], "--stop"),
    ("rl.rollout", ["--out-dir", "sweep"], "--out-dir is for a checkpoint sweep"),
    ("behaviors.classify", ["--judge", "llm", "--judge-timeout", "0"], "--judge-timeout"),
    ("behaviors.classify", ["--judge", "llm", "--judge-timeout", "-1"], "--judge-timeout"),
    ("behaviors.classify", ["--judge", "llm", "--judge-max-retries", "-1"], "--judge-max-retries"),
    ("behaviors.classify", ["--judge", "llm", "--judge-rpm", "0"], "--judge-rpm"),
    ("behaviors.classify", ["--judge-max-failed", "1.5"], "--judge-max-failed"),
    ("priming.build", ["--source", "llm", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                       "--max-requests", "0"], "--max-requests"),
    ("priming.build", ["--source", "llm", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                       "--attempts", "0"], "--attempts"),
    ("rl.verl_export", ["--train", "0"], "--train"),
    ("behaviors.agreement", ["--seed", str(2 ** 40)], "--seed"),
    ("behaviors.agreement", ["--gold"], "--gold compares one label file"),
    ("behaviors.classify", ["--judge", "llm", "--judge-temperature", "inf"], "--judge-temperature"),
    ("behaviors.classify", ["--judge", "llm", "--judge-max-tokens", "-1"], "--judge-max-tokens"),
    ("rl.sft", ["--adam-beta1", "1"], "--adam-beta1"),
    ("rl.sft", ["--weight-decay", "inf"], "--weight-decay"),
    ("priming.curate", ["--reformat-qa", "--rewrite-temperature", "inf"], "--rewrite-temperature"),
    ("priming.curate", ["--reformat-qa", "--rewrite-concurrency", "0"], "--rewrite-concurrency"),
])
def test_values_no_run_can_use(command, args, needle, tmp_path, tiny_model_dir, capsys):
    base = {
        "countdown.generate": ["--out", tmp_path / "p.jsonl"],
        "rl.sft": ["--model", tiny_model_dir, "--data", tmp_path / "d.jsonl", "--out", tmp_path / "s"],
        "rl.train": ["--model", tiny_model_dir, "--out", tmp_path / "t", "--preset", "tiny"],
        "rl.learnability": [tmp_path / "p.jsonl", "--model", tiny_model_dir, "--out", tmp_path / "k.jsonl"],
        "rl.rollout": [tmp_path / "p.jsonl", "--model", tiny_model_dir, "--out", tmp_path / "o.jsonl"],
        "behaviors.classify": [tmp_path / "t.jsonl", "--out", tmp_path / "l.jsonl"],
        "priming.build": ["--condition", "all_strategies", "--num", "2", "--out", tmp_path / "pb"],
        "rl.verl_export": ["--out", tmp_path / "v"],
        "behaviors.agreement": [tmp_path / "a.jsonl", tmp_path / "a.jsonl"],
        "priming.curate": [tmp_path / "p.jsonl", "--budget-tokens", "5", "--out", tmp_path / "cu"],
    }[command]
    (tmp_path / "p.jsonl").write_text(json.dumps(GOOD_PROBLEM) + "\n")
    fails_cleanly(command, base + args, capsys, needle, work=tmp_path)


def test_a_csv_the_toolkit_wrote_reads_back(work, capsys):
    """Lists and objects in CSV cells (numbers, errors) are written as JSON and read back as values."""
    traces = work / "t.jsonl"
    traces.write_text(_lines(GOOD_ROW["traces"], {**GOOD_ROW["traces"], "trace_id": "u", "numbers": [3, 5, 2]}))
    assert run("behaviors.classify", [traces, "--out", work / "l.csv"], capsys)[0] == 0
    assert run("behaviors.classify", [work / "l.csv", "--out", work / "again.jsonl"], capsys)[0] == 0
    again = [json.loads(line) for line in (work / "again.jsonl").read_text().splitlines()]
    assert [r["numbers"] for r in again] == [[3, 5], [3, 5, 2]]
    assert run("behaviors.agreement", [work / "l.csv", work / "again.jsonl"], capsys)[0] == 0
