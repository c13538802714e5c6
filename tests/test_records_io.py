"""countdown.records and countdown.io: round trips, clear errors, atomic writes."""
from __future__ import annotations

import pytest

from countdown.cli import run_cli
from countdown.io import InputError, atomic_path, read_rows, write_rows
from countdown.records import BehaviorLabel, Problem, RecordError, Trace

ROWS = [
    {"id": "a", "numbers": [1, 2, 3], "target": 6, "split": "train", "solution": "1 + 2 + 3", "score": 0.5},
    {"id": "b", "numbers": [4, 5], "target": 20, "split": "test", "solution": None, "score": 1.0},
]


@pytest.mark.parametrize("ext", ["jsonl", "json", "parquet"])
def test_round_trip(tmp_path, ext):
    path = write_rows(ROWS, tmp_path / f"rows.{ext}")
    assert read_rows(path) == ROWS


def test_csv_round_trip_of_flat_rows(tmp_path):
    rows = [{"id": "a", "target": 6, "score": 0.5, "note": "x"}, {"id": "b", "target": 7, "score": 1.0, "note": None}]
    assert read_rows(write_rows(rows, tmp_path / "rows.csv")) == rows


def test_records_round_trip_through_files(tmp_path):
    problem = Problem("p1", [3, 8, 2], 22, "test", "3 * 8 - 2")
    trace = Trace(**problem.to_dict(), prompt="P", completion="C", reward=1.0, correct=True, model="m", step=10)
    label = BehaviorLabel(trace.trace_id, 1, 0, None, 2, "rules", "v1", {"subgoal_setting": "timeout"})
    for ext in ("jsonl", "parquet"):
        write_rows([problem.to_dict()], tmp_path / f"p.{ext}")
        assert Problem.from_dict(read_rows(tmp_path / f"p.{ext}")[0]) == problem
        write_rows([trace.to_dict()], tmp_path / f"t.{ext}")
        back = Trace.from_dict(read_rows(tmp_path / f"t.{ext}")[0])
        assert back == trace and back.trace_id == "m@10/p1#0"
    write_rows([label.to_dict()], tmp_path / "l.jsonl")
    assert BehaviorLabel.from_dict(read_rows(tmp_path / "l.jsonl")[0]) == label
    assert problem.key == ((2, 3, 8), 22)


def test_record_errors():
    with pytest.raises(RecordError, match="target"):
        Problem.from_dict({"id": "x", "numbers": [1]})
    with pytest.raises(RecordError):
        Problem("x", ["a"], 3)
    with pytest.raises(RecordError):
        Problem("x", [], 3)


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(InputError, match=rf"{path}:3: invalid JSON"):
        read_rows(path)
    path.write_text('{"a": 1}\n"text"\n')
    with pytest.raises(InputError, match=rf"{path}:2: expected a JSON object"):
        read_rows(path)


def test_missing_unknown_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_rows(tmp_path / "none.jsonl")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="cannot tell the format"):
        read_rows(tmp_path / "x.txt")
    (tmp_path / "c.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot read parquet"):
        read_rows(tmp_path / "c.parquet")


def test_atomic_write_leaves_no_file_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"

    def rows():
        yield {"a": 1}
        raise RuntimeError("boom halfway")

    with pytest.raises(RuntimeError):
        write_rows(rows(), target)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError):   # not JSON-serialisable
        write_rows([{"a": 1}, {"b": object()}], target)
    assert list(tmp_path.iterdir()) == []
    write_rows([{"a": 1}], target)
    with pytest.raises(ValueError):   # a failed rewrite keeps the old complete file
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise ValueError
    assert read_rows(target) == [{"a": 1}] and len(list(tmp_path.iterdir())) == 1


def test_run_cli_turns_input_error_into_exit_2(capsys):
    def main(argv):
        raise InputError("data.jsonl:4: bad row")

    with pytest.raises(SystemExit) as exit_:
        run_cli(main, [])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == "error: data.jsonl:4: bad row"
    with pytest.raises(SystemExit) as exit_:
        run_cli(lambda argv: 0, [])
    assert exit_.value.code == 0
