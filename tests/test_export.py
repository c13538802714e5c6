"""countdown.export files load with `datasets`; countdown.data reads them (and TinyZero files) back."""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from countdown.data import load_problems  # noqa: E402
from countdown.export import trl_prompt_rows, verl_rows, write_jsonl, write_trl_jsonl, write_verl_parquet  # noqa: E402
from countdown.generate import generate_problems  # noqa: E402
from countdown.io import InputError  # noqa: E402
from countdown.prompts import render_prompt  # noqa: E402
from countdown.reward import compute_score  # noqa: E402


@pytest.fixture(scope="module")
def problems():
    return generate_problems(20, seed=0, preset="tiny", split="test")


def _load(kind: str, path, tmp_path):
    from datasets import load_dataset

    return load_dataset(kind, data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache"))


def test_verl_parquet_schema_loads_with_datasets(problems, tmp_path):
    path = write_verl_parquet(problems, tmp_path / "test.parquet")
    ds = _load("parquet", path, tmp_path)
    assert len(ds) == 20
    assert set(ds.column_names) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    row = ds[3]
    p = problems[3]
    assert row["data_source"] == "countdown" and row["ability"] == "math"
    assert row["prompt"] == [{"role": "user", "content": render_prompt(p.numbers, p.target)}]
    assert row["reward_model"] == {"style": "rule", "ground_truth": {"target": p.target, "numbers": p.numbers}}
    assert row["extra_info"] == {"split": "test", "index": 3, "id": p.id}
    # the ground truth is what compute_score takes
    answer = f"</think> <answer>{p.solution}</answer>"
    assert compute_score(row["data_source"], answer, row["reward_model"]["ground_truth"], row["extra_info"]) == 1.0


def test_verl_chat_template_rows(problems):
    rows = verl_rows(problems[:2], template="chat", data_source="cd")
    assert [m["role"] for m in rows[0]["prompt"]] == ["system", "user"] and rows[0]["data_source"] == "cd"


def test_jsonl_loads_with_datasets_and_round_trips(problems, tmp_path):
    path = write_jsonl(problems, tmp_path / "problems.jsonl")
    ds = _load("json", path, tmp_path)
    assert ds.column_names and ds[0]["numbers"] == problems[0].numbers and ds[0]["id"] == problems[0].id
    assert load_problems(path) == problems
    assert load_problems(path, split="train") == []


def test_verl_parquet_reads_back_as_problems(problems, tmp_path):
    path = write_verl_parquet(problems, tmp_path / "v.parquet")
    back = load_problems(path)
    assert [(p.id, p.numbers, p.target, p.split) for p in back] == \
        [(p.id, p.numbers, p.target, p.split) for p in problems]


def test_trl_rows_and_dataset(problems, tmp_path):
    rows = trl_prompt_rows(problems)
    assert set(rows[0]) >= {"prompt", "numbers", "target", "id"}
    assert rows[0]["prompt"].endswith("<think>")
    chat = trl_prompt_rows(problems, template="chat")
    assert isinstance(chat[0]["prompt"], list) and chat[0]["prompt"][-1]["role"] == "user"
    ds = _load("json", write_trl_jsonl(problems, tmp_path / "trl.jsonl"), tmp_path)
    assert ds[1]["target"] == problems[1].target and ds[1]["prompt"] == rows[1]["prompt"]


def test_tinyzero_files(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"target": [24, 10], "nums": [[3, 8, 1], [5, 5]]})
    frame.to_parquet(tmp_path / "train.parquet")
    problems = load_problems(tmp_path / "train.parquet")
    assert [(p.numbers, p.target, p.split) for p in problems] == [([3, 8, 1], 24, "train"), ([5, 5], 10, "train")]
    assert problems[0].id != problems[1].id
    (tmp_path / "tz.json").write_text(json.dumps([{"nums": [1, 2], "target": 3}]))
    assert load_problems(tmp_path / "tz.json", split="test")[0].split == "test"


@pytest.mark.parametrize("line,message", [
    ('{"nums": [1, 2], "target": 2.5}', "integers"),
    ('{"nums": [], "target": 2}', "non-empty"),
    ('{"target": 2}', "numbers"),
    ('{"nums": [1, "x"], "target": 2}', "integers"),
    ('{"nums": [1, 2]}', "integers"),
    ('[1, 2]', "JSON object"),
    ('{"nums": [1, 2], "target": 3', "invalid JSON"),
])
def test_bad_rows_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"nums": [1, 2], "target": 3}\n\n' + line + "\n")
    with pytest.raises(InputError) as err:
        load_problems(path)
    assert f"{path}:3:" in str(err.value) and message in str(err.value)


def test_duplicate_ids_rejected(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "numbers": [1, 2], "target": 3}\n{"id": "a", "numbers": [2, 2], "target": 4}\n')
    with pytest.raises(InputError, match="more than once"):
        load_problems(path)


def test_export_is_atomic(problems, tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(Exception):
        write_verl_parquet(problems, target, template="no-such-template")
    assert list(tmp_path.iterdir()) == []
