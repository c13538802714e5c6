"""CLI contract of rl/: helpful --help, and bad input -> one `error:` line, exit code 2, nothing written."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from countdown.cli import run_cli
from countdown.io import write_rows
from rl import evaluate, learnability, sft, train, verl_export

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"rl.sft": sft, "rl.train": train, "rl.evaluate": evaluate, "rl.learnability": learnability,
           "rl.verl_export": verl_export}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_help_explains_with_examples(name, capsys):
    with pytest.raises(SystemExit) as exc:
        MODULES[name].main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert f"python -m {name}" in text and "examples:" in text and "--seed" in text


def _fails_cleanly(module, argv, capsys, needle):
    with pytest.raises(SystemExit) as exc:
        run_cli(module.main, argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and needle in err, err


def test_bad_inputs_exit_2_with_one_line(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "completion": "c"}\n{"prompt": "p"}\n')
    _fails_cleanly(sft, ["--model", str(tiny_model_dir), "--data", str(bad), "--out", str(out)], capsys, "bad.jsonl:2")
    _fails_cleanly(sft, ["--model", str(tiny_model_dir), "--data", str(tmp_path / "none.jsonl"), "--out", str(out)],
                   capsys, "no such file")
    _fails_cleanly(sft, ["--model", str(tmp_path), "--data", str(bad), "--out", str(out), "--text"], capsys,
                   "'text'")
    _fails_cleanly(train, ["--model", str(tiny_model_dir), "--out", str(out), "--num-generations", "1"], capsys,
                   "--num-generations")
    _fails_cleanly(train, ["--model", str(tmp_path / "missing"), "--out", str(out), "--preset", "tiny"], capsys,
                   "no such model folder")
    probs = tmp_path / "probs.jsonl"
    write_rows([{"id": "a", "numbers": [1, 2], "target": "x"}], probs)
    _fails_cleanly(train, ["--model", str(tiny_model_dir), "--out", str(out), "--preset", "tiny",
                           "--problems", str(probs)], capsys, "probs.jsonl")
    empty_run = tmp_path / "run"
    empty_run.mkdir()
    write_rows([{"id": "a", "numbers": [1, 2], "target": 3}], probs)
    _fails_cleanly(evaluate, [str(empty_run), "--condition", "c", "--problems", str(probs),
                              "--results", str(out / "r.csv")], capsys, "no checkpoint")
    _fails_cleanly(evaluate, [str(tmp_path / "nope"), "--condition", "c", "--problems", str(probs)], capsys,
                   "no such run directory")
    _fails_cleanly(learnability, [str(probs), "--model", str(tiny_model_dir), "--out", str(out / "k.jsonl"),
                                  "--k", "0"], capsys, "--k")
    _fails_cleanly(verl_export, ["--out", str(out), "--train", "0"], capsys, "--train")
    assert not out.exists()


def test_cli_runs_as_a_module():
    help_run = subprocess.run([sys.executable, "-m", "rl.train", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert help_run.returncode == 0 and "--preset" in help_run.stdout
    bad = subprocess.run([sys.executable, "-m", "rl.sft", "--model", "x/y", "--data", "missing.jsonl", "--out", "o"],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: missing.jsonl: no such file"
