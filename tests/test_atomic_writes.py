"""Every writer is atomic: a failure in the middle of writing leaves the previous file as it was and no
temporary file behind. Each test breaks the write after part of the new content has reached the disk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from countdown import io
from countdown.io import read_rows, write_json, write_rows
from countdown.records import Problem


class Boom(Exception):
    """The injected failure (a type no real writer raises, so the test sees exactly this one)."""


OLD = [{"id": "old", "value": 1}]
NEW = [{"id": f"new-{i}", "value": i} for i in range(10)]


def _only(folder: Path, name: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [name], "a temporary file was left behind"


def test_jsonl_rows_half_written_then_failing(tmp_path, monkeypatch):
    target = write_rows(OLD, tmp_path / "rows.jsonl")
    calls = {"n": 0}
    real_dumps = json.dumps

    def dumps(obj, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:   # three new rows are already in the file being written
            raise Boom
        return real_dumps(obj, **kwargs)

    monkeypatch.setattr(io.json, "dumps", dumps)
    with pytest.raises(Boom):
        write_rows(NEW, target)
    monkeypatch.undo()
    assert calls["n"] == 4 and read_rows(target) == OLD
    _only(tmp_path, "rows.jsonl")


def test_rows_from_a_generator_that_fails_after_some_were_written(tmp_path):
    target = write_rows(OLD, tmp_path / "rows.jsonl")
    produced = []

    def rows():
        for row in NEW[:5]:
            produced.append(row)
            yield row
        raise Boom

    with pytest.raises(Boom):
        write_rows(rows(), target)
    assert len(produced) == 5 and read_rows(target) == OLD
    _only(tmp_path, "rows.jsonl")


@pytest.mark.parametrize("suffix, method", [(".parquet", "to_parquet"), (".csv", "to_csv")])
def test_table_formats_failing_mid_write(tmp_path, monkeypatch, suffix, method):
    import pandas as pd

    target = write_rows(OLD, tmp_path / f"rows{suffix}")

    def partial(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half a file")
        raise Boom

    monkeypatch.setattr(pd.DataFrame, method, partial)
    with pytest.raises(Boom):
        write_rows(NEW, target)
    monkeypatch.undo()
    assert read_rows(target) == OLD
    _only(tmp_path, f"rows{suffix}")


def test_json_document_failing_mid_write(tmp_path, monkeypatch):
    target = write_json({"version": 1}, tmp_path / "manifest.json")
    real_write_text = Path.write_text

    def half(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise Boom

    monkeypatch.setattr(Path, "write_text", half)
    with pytest.raises(Boom):
        write_json({"version": 2, "rows": NEW}, target)
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"version": 1}
    _only(tmp_path, "manifest.json")


def test_verl_parquet_failing_mid_write(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from countdown.export import write_verl_parquet

    problems = [Problem(f"p{i}", [1, 2, 3], 6, "train", "1 + 2 + 3") for i in range(4)]
    target = write_verl_parquet(problems[:1], tmp_path / "train.parquet")
    before = target.read_bytes()

    def partial(table, where, *args, **kwargs):
        Path(where).write_bytes(b"PAR1 truncated")
        raise Boom

    monkeypatch.setattr(pq, "write_table", partial)
    with pytest.raises(Boom):
        write_verl_parquet(problems, target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    _only(tmp_path, "train.parquet")
