"""Hostile output paths for every command that writes: under a file, in a folder nobody may write, a folder where
a file goes (and the reverse), two outputs that are one file. Each fails before any work (exit 2, one `error:`
line naming the path, nothing written). Then the resume guards: an existing output made with other settings,
or without a record of its settings, is never extended or passed off as done."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from countdown.io import read_rows
from hostile import fails_cleanly, run

PROBLEMS = [{"id": f"p{i}", "numbers": [3, 5, i + 1], "target": 8 + i + 1} for i in range(2)]
LABELS = {"trace_id": "t", "verification": 1, "backtracking": 0, "subgoal_setting": 0, "backward_chaining": 0}


@pytest.fixture
def work(tmp_path, tiny_model_dir):
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    (tmp_path / "t.jsonl").write_text(json.dumps({"trace_id": "t", "completion": "3 + 5 = 8, so 8 it is."}) + "\n")
    (tmp_path / "labels.jsonl").write_text(json.dumps(LABELS) + "\n")
    (tmp_path / "docs.jsonl").write_text(json.dumps({"text": "Check: 2 + 2 = 4."}) + "\n")
    (tmp_path / "sft.jsonl").write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    (tmp_path / "results.csv").write_text("condition,step,accuracy\nc,0,0.5\n")
    shutil.copytree(tiny_model_dir, tmp_path / "run" / "checkpoint-1")
    (tmp_path / "a_file").write_text("in the way\n")
    return tmp_path


# (command, output flag, "file" or "dir", argv with OUT where the output goes: every input valid)
WRITERS = [
    ("countdown.generate", "--out", "file", ["--num", "3", "--out", "OUT"]),
    ("countdown.generate", "--test-out", "file", ["--num", "3", "--out", "W/g.jsonl", "--test-num", "2",
                                                  "--test-out", "OUT"]),
    ("rl.rollout", "--out", "file", ["W/p.jsonl", "--model", "MODEL", "--backend", "hf", "--out", "OUT"]),
    ("rl.rollout", "--out-dir", "dir", ["W/p.jsonl", "--run-dir", "W/run", "--backend", "hf", "--out-dir", "OUT"]),
    ("behaviors.classify", "--out", "file", ["W/t.jsonl", "--out", "OUT"]),
    ("behaviors.classify", "--results", "file", ["W/t.jsonl", "--out", "W/l.jsonl", "--group-by", "trace_id",
                                                 "--results", "OUT"]),
    ("behaviors.agreement", "--out", "file", ["W/labels.jsonl", "W/labels.jsonl", "--out", "OUT"]),
    ("priming.build", "--out", "dir", ["--condition", "all_strategies", "--num", "2", "--out", "OUT"]),
    ("priming.curate", "--out", "dir", ["W/docs.jsonl", "--budget-tokens", "5", "--out", "OUT"]),
    ("rl.sft", "--out", "dir", ["--model", "MODEL", "--data", "W/sft.jsonl", "--out", "OUT"]),
    ("rl.train", "--out", "dir", ["--model", "MODEL", "--preset", "tiny", "--out", "OUT"]),
    ("rl.evaluate", "--results", "file", ["W/run", "--condition", "c", "--problems", "W/p.jsonl", "--backend", "hf",
                                          "--results", "OUT"]),
    ("rl.evaluate", "--eval-dir", "dir", ["W/run", "--condition", "c", "--problems", "W/p.jsonl", "--backend", "hf",
                                          "--eval-dir", "OUT"]),
    ("rl.learnability", "--out", "file", ["W/p.jsonl", "--model", "MODEL", "--out", "OUT"]),
    ("rl.verl_export", "--out", "dir", ["--out", "OUT", "--train", "4", "--test", "2"]),
    ("analysis.figures", "--out", "dir", ["W/results.csv", "--out", "OUT"]),
    ("analysis.reproduce", "--out", "dir", ["--out", "OUT"]),
    ("rl.tiny", "--out", "dir", ["--out", "OUT"]),
    ("priming.corpus", "--out", "file", ["--rows", "4", "--out", "OUT"]),
]
IDS = [f"{c}{flag}" for c, flag, _, _ in WRITERS]


def _argv(template: list[str], out: Path, work: Path, model: Path) -> list[str]:
    def fill(arg: str) -> str:
        return str(out) if arg == "OUT" else str(model) if arg == "MODEL" else arg.replace("W/", f"{work}/")
    return [fill(a) for a in template]


@pytest.fixture(scope="module")
def unwritable() -> Path:
    """A folder this process cannot create files in: a read-only temp folder, or (as root, who ignores
    permission bits) /sys, which is mounted read-only."""
    folder = Path(tempfile.mkdtemp(prefix="cogbehave-ro-"))
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        try:
            tempfile.NamedTemporaryFile(dir=candidate).close()
        except OSError:
            yield candidate
            break
    else:
        pytest.skip("no folder here refuses writes to this user")
    folder.chmod(0o755)
    folder.rmdir()


@pytest.mark.parametrize("command, flag, kind, template", WRITERS, ids=IDS)
def test_output_under_a_file(command, flag, kind, template, work, tiny_model_dir, capsys):
    out = work / "a_file" / ("x.jsonl" if kind == "file" else "x")
    fails_cleanly(command, _argv(template, out, work, tiny_model_dir), capsys, str(out), "a_file is a file",
                  work=work)


@pytest.mark.parametrize("command, flag, kind, template", WRITERS, ids=IDS)
def test_output_in_an_unwritable_folder(command, flag, kind, template, work, tiny_model_dir, unwritable, capsys):
    out = unwritable / ("cogbehave-x.jsonl" if kind == "file" else "cogbehave-x")
    fails_cleanly(command, _argv(template, out, work, tiny_model_dir), capsys, str(out), "cannot write", work=work)


@pytest.mark.parametrize("command, flag, kind, template", WRITERS, ids=IDS)
def test_output_of_the_wrong_kind(command, flag, kind, template, work, tiny_model_dir, capsys):
    """A folder given where a file goes, or a file where a folder goes."""
    if kind == "file":
        out = work / "folder.jsonl"
        out.mkdir()
        needle = "is a folder"
    else:
        out = work / "a_file"
        needle = "not a folder"
    fails_cleanly(command, _argv(template, out, work, tiny_model_dir), capsys, str(out), needle, work=work)


@pytest.mark.parametrize("command, argv", [
    ("countdown.generate", ["--num", "3", "--out", "W/x.jsonl", "--test-num", "2", "--test-out", "W/x.jsonl"]),
    ("countdown.generate", ["--num", "3", "--out", "W/x.jsonl", "--test-num", "2", "--test-out", "W/./x.jsonl"]),
    ("countdown.generate", ["--num", "3", "--out", "W/x.jsonl", "--test-num", "2", "--test-out", "W/link.jsonl"]),
    ("behaviors.classify", ["W/t.jsonl", "--out", "W/x.jsonl", "--group-by", "trace_id", "--results", "W/x.jsonl"]),
], ids=["same", "spelled-otherwise", "symlink", "classify"])
def test_two_outputs_that_are_one_file(command, argv, work, capsys):
    (work / "link.jsonl").symlink_to(work / "x.jsonl")   # a link to where --out will be
    fails_cleanly(command, [a.replace("W/", f"{work}/") for a in argv], capsys, "are the same file", work=work)


# ------------------------------------------------------------------------------------------ resume guards

def test_a_single_rollout_output_resumes_only_with_its_own_settings(work, tiny_model_dir, capsys):
    out, record = work / "o.jsonl", work / "o.jsonl.settings.json"

    def args(*extra, tokens: int = 4) -> list:
        return [work / "p.jsonl", "--model", tiny_model_dir, "--backend", "hf", "--max-tokens", tokens, "--out", out,
                *extra]

    assert run("rl.rollout", args(), capsys)[0] == 0
    assert len(read_rows(out)) == 2 and json.loads(record.read_text())["sampling"]["max_tokens"] == 4
    assert "nothing to do" in run("rl.rollout", args(), capsys)[2]
    fails_cleanly("rl.rollout", args(tokens=5), capsys, "o.jsonl", "made with other settings (sampling)", work=work)
    fails_cleanly("rl.rollout", args("--limit", "1"), capsys, "other settings (limit)", work=work)
    record.unlink()
    fails_cleanly("rl.rollout", args(), capsys, "exists without a settings record", work=work)
    out.write_text("")   # an empty output is not a finished one: it is sampled again
    assert run("rl.rollout", args(), capsys)[0] == 0 and len(read_rows(out)) == 2 and record.is_file()
    assert run("rl.rollout", args("--overwrite", tokens=5), capsys)[0] == 0
    assert json.loads(record.read_text())["sampling"]["max_tokens"] == 5


def test_a_sweep_never_mixes_steps_sampled_otherwise(work, tiny_model_dir, capsys):
    shutil.copytree(tiny_model_dir, work / "run" / "checkpoint-2")
    sweep = work / "sweep"
    args = [work / "p.jsonl", "--run-dir", work / "run", "--backend", "hf", "--max-tokens", "4", "--out-dir", sweep,
            "--out", work / "all.jsonl"]
    assert run("rl.rollout", args, capsys)[0] == 0
    assert sorted(p.name for p in sweep.iterdir()) == ["settings.json", "step_1.jsonl", "step_2.jsonl"]
    (sweep / "step_2.jsonl").unlink()   # as if killed before step 2: a re-run samples only step 2
    code, _, err = run("rl.rollout", args, capsys)
    assert code == 0 and "step 1:" in err and "skipped" in err and len(read_rows(work / "all.jsonl")) == 4
    fails_cleanly("rl.rollout", args + ["--temperature", "0.5"], capsys, "sweep", "other settings (sampling)",
                  work=work)
    (sweep / "settings.json").unlink()
    fails_cleanly("rl.rollout", args, capsys, "holds step files but no settings.json", work=work)


def test_learnability_rates_are_reused_only_when_sampled_the_same_way(work, tiny_model_dir, capsys):
    args = [work / "p.jsonl", "--model", tiny_model_dir, "--backend", "hf", "--k", "2", "--max-tokens", "4",
            "--out", work / "k.jsonl"]
    assert run("rl.learnability", args, capsys)[0] == 0
    assert (work / "k.rates.jsonl.settings.json").is_file()
    fails_cleanly("rl.learnability", args + ["--temperature", "0.5"], capsys, "k.rates.jsonl",
                  "other settings (temperature)", work=work)


def test_evaluate_refuses_an_eval_dir_made_otherwise(work, tiny_model_dir, capsys):
    args = [work / "run", "--condition", "c", "--problems", work / "p.jsonl", "--preset", "tiny", "--backend", "hf",
            "--max-tokens", "4", "--results", work / "r.csv"]
    assert run("rl.evaluate", args, capsys)[0] == 0 and len(read_rows(work / "r.csv")) == 1
    fails_cleanly("rl.evaluate", args[:-2] + ["--results", work / "r2.csv", "--max-tokens", "5"], capsys,
                  "eval/c", "other settings (sampling)", work=work)
