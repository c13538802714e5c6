"""countdown.io at its edges: each kind of bad input gives the one message that names the file (and line), the
table formats read what the toolkit and pandas write, outputs are checked before any work, and the resume guard
never extends an output made with other settings."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from countdown.io import (InputError, atomic_path, check_distinct, check_output, check_resume, format_of, read_rows,
                          write_json, write_rows)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------- formats
def test_format_from_option_or_extension(tmp_path):
    assert format_of("x.anything", "csv") == "csv"
    assert format_of(tmp_path / "Rows.JSONL") == "jsonl"
    assert format_of("a/b.parquet") == "parquet" and format_of("t.json") == "json" and format_of("t.csv") == "csv"
    assert error_of(format_of, "x.jsonl", "xml") == "unknown format 'xml' (choose from jsonl, json, parquet, csv)"
    assert error_of(format_of, "data/rows.txt") == (
        "data/rows.txt: cannot tell the format from the extension (use .jsonl, .json, .parquet or .csv)")
    assert error_of(format_of, "rows").startswith("rows: cannot tell the format")


def test_an_explicit_format_overrides_the_extension(tmp_path):
    path = write_rows([{"a": 1}], tmp_path / "rows.txt", fmt="jsonl")
    assert path == tmp_path / "rows.txt" and path.read_text() == '{"a": 1}\n'
    assert read_rows(path, fmt="jsonl") == [{"a": 1}]


# ---------------------------------------------------------------- reading
def test_missing_file_and_folder(tmp_path):
    assert error_of(read_rows, tmp_path / "none.jsonl") == f"{tmp_path / 'none.jsonl'}: no such file"
    (tmp_path / "dir.jsonl").mkdir()
    assert error_of(read_rows, tmp_path / "dir.jsonl") == f"{tmp_path / 'dir.jsonl'}: is a folder, not a file"


def test_jsonl_skips_blank_lines_and_names_the_bad_one(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n')
    assert read_rows(path) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n\n[1, 2]\n')
    assert error_of(read_rows, path) == f"{path}:3: expected a JSON object, got list"
    path.write_text('{"a": 1}\n{"a": }\n')
    assert error_of(read_rows, path).startswith(f"{path}:2: invalid JSON (Expecting value")


def test_non_utf8_bytes_name_the_line_and_byte(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    assert error_of(read_rows, path) == f"{path}:2: not UTF-8 text (byte 0xff at offset 7)"
    doc = tmp_path / "rows.json"
    doc.write_bytes(b'[{"a": "\xfe"}]')
    assert error_of(read_rows, doc) == f"{doc}: not UTF-8 text (byte 0xfe at offset 8)"


def test_json_documents(tmp_path):
    doc = tmp_path / "rows.json"
    doc.write_text(json.dumps([{"a": 1}, {"a": 2}]))
    assert read_rows(doc) == [{"a": 1}, {"a": 2}]
    doc.write_text(json.dumps({"a": [1, 2], "b": ["x", "y"]}))                 # columns as lists
    assert read_rows(doc) == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    doc.write_text(json.dumps({"a": {"0": 1, "1": 2}, "b": {"0": 3, "1": 4}}))   # pandas' to_json
    assert read_rows(doc) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    for bad in ([1, 2], [{"a": 1}, "x"], "text", 3):
        doc.write_text(json.dumps(bad))
        assert error_of(read_rows, doc) == f"{doc}: expected a list of JSON objects"
    for bad in ({}, {"a": [1], "b": 2}):
        doc.write_text(json.dumps(bad))
        assert error_of(read_rows, doc) == f"{doc}: expected a list of JSON objects or a dict of columns"
    doc.write_text('[\n{"a": 1},\n{"a" 2}\n]')
    assert error_of(read_rows, doc).startswith(f"{doc}:3: invalid JSON (Expecting ':' delimiter")
    doc.write_text("[" * 100_000 + "]" * 100_000)
    assert error_of(read_rows, doc) == f"{doc}:1: JSON nested too deeply"
    rows = tmp_path / "deep.jsonl"
    rows.write_text('{"a": 1}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    assert error_of(read_rows, rows) == f"{rows}:2: JSON nested too deeply"


def test_tables_come_back_as_plain_python(tmp_path):
    rows = [{"id": "a", "numbers": [1, 2], "meta": {"k": [3]}, "x": 1.5}, {"id": "b", "numbers": [], "meta": {"k": []},
                                                                           "x": None}]
    back = read_rows(write_rows(rows, tmp_path / "t.parquet"))
    assert back == rows
    assert type(back[0]["numbers"]) is list and type(back[0]["numbers"][0]) is int
    assert type(back[0]["meta"]["k"]) is list
    csv = tmp_path / "t.csv"
    csv.write_text("id,score\na,1.5\nb,\n")
    assert read_rows(csv) == [{"id": "a", "score": 1.5}, {"id": "b", "score": None}]   # an empty cell is None
    csv.write_text("")
    assert read_rows(csv) == []


def test_corrupt_table_message_is_one_short_line(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 64)
    message = error_of(read_rows, path)
    assert message.startswith(f"{path}: cannot read parquet (") and message.endswith(")")
    assert "\n" not in message and len(message) <= len(str(path)) + 260


# ---------------------------------------------------------------- writing
def test_written_files_are_plain_readable_text(tmp_path):
    rows = [{"name": "café ∑", "n": 1}]
    jsonl = write_rows(rows, tmp_path / "r.jsonl")
    assert jsonl.read_text(encoding="utf-8") == '{"name": "café ∑", "n": 1}\n'
    doc = write_rows(rows, tmp_path / "r.json")
    assert json.loads(doc.read_text(encoding="utf-8")) == rows and "café ∑" in doc.read_text(encoding="utf-8")
    manifest = write_json({"path": Path("a/b"), "name": "é"}, tmp_path / "m.json")
    text = manifest.read_text(encoding="utf-8")
    assert json.loads(text) == {"path": "a/b", "name": "é"} and text.endswith("}\n") and "é" in text
    assert write_rows((r for r in rows), tmp_path / "g.json") == tmp_path / "g.json"   # a generator, listed
    assert read_rows(tmp_path / "g.json") == rows
    assert read_rows(write_rows([], tmp_path / "empty.jsonl")) == []


def test_atomic_path_makes_folders_and_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "new" / "deeper" / "out.txt"
        with atomic_path(target) as tmp:
            assert tmp.parent == target.parent and tmp.name.startswith(".out.txt.") and tmp.name.endswith(".tmp")
            assert not target.exists()
            tmp.write_text("done")
        assert target.read_text() == "done" and (target.stat().st_mode & 0o777) == 0o644
        assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]
    finally:
        os.umask(old)


# ---------------------------------------------------------------- checks before work
def test_check_output(tmp_path):
    folder = tmp_path / "exists"
    folder.mkdir()
    assert check_output(tmp_path / "a" / "b" / "out.jsonl") == tmp_path / "a" / "b" / "out.jsonl"
    assert not (tmp_path / "a").exists()                      # probing creates nothing that stays
    assert check_output(folder, kind="dir") == folder
    assert error_of(check_output, folder) == f"{folder}: output is a folder; give a file path"
    assert error_of(check_output, folder, what="--labels") == f"{folder}: --labels is a folder; give a file path"
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert error_of(check_output, file, kind="dir", what="--out") == f"{file}: --out exists and is not a folder"
    assert error_of(check_output, file / "sub" / "out.jsonl") == (
        f"{file / 'sub' / 'out.jsonl'}: cannot create output: {file} is a file, not a folder")
    assert error_of(check_output, file / "run", kind="dir", what="run folder") == (
        f"{file / 'run'}: cannot create run folder: {file} is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists", "file.txt"]


def test_check_distinct(tmp_path):
    check_distinct({"--out": tmp_path / "a.jsonl", "--labels": tmp_path / "b.jsonl"})
    same = tmp_path / "x" / ".." / "a.jsonl"
    assert error_of(check_distinct, {"--out": tmp_path / "a.jsonl", "--log": tmp_path / "b", "--labels": same}) == (
        f"{same}: --out and --labels are the same file; give them different paths")


def test_check_resume(tmp_path):
    record, output = tmp_path / "out.settings.json", tmp_path / "out.jsonl"
    settings = {"model": "m", "n": 4, "seed": 0}
    assert check_resume(record, settings, output) is False
    write_json(settings, record)
    assert check_resume(record, dict(settings), output) is True
    assert error_of(check_resume, record, {"model": "m", "n": 8, "seed": 1}, output) == (
        f"{output}: made with other settings (n, seed); use a new output path, or --overwrite to make it again")
    assert "(extra, seed)" in error_of(check_resume, record, {"model": "m", "n": 4, "extra": 1}, output)
    for broken in (b"{not json", b'{"a": "\xff"}'):
        record.write_bytes(broken)
        assert error_of(check_resume, record, settings, output) == (
            f"{record}: unreadable settings record of {output}; delete both to start over")


def test_a_reader_error_names_its_type_and_a_short_message(tmp_path, monkeypatch):
    import pandas as pd

    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")

    def fails(message):
        def read(*args, **kwargs):
            raise OSError(message)
        return read

    monkeypatch.setattr(pd, "read_parquet", fails("bad magic\n    bytes\tat end"))
    assert error_of(read_rows, path) == f"{path}: cannot read parquet (OSError: bad magic bytes at end)"
    monkeypatch.setattr(pd, "read_parquet", fails("x" * 200))
    assert error_of(read_rows, path) == f"{path}: cannot read parquet (OSError: {'x' * 200})"
    monkeypatch.setattr(pd, "read_parquet", fails("y" * 201))
    assert error_of(read_rows, path) == f"{path}: cannot read parquet (OSError: {'y' * 200}...)"


@pytest.fixture
def ascii_locale():
    """A machine whose locale encoding is ASCII: files must still be written and read as UTF-8."""
    import locale

    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, before)


def test_files_are_utf8_whatever_the_locale(tmp_path, ascii_locale):
    rows = [{"name": "café ∑"}]
    for ext in ("jsonl", "json"):
        path = write_rows(rows, tmp_path / f"r.{ext}")
        assert read_rows(path) == rows and "café ∑" in path.read_bytes().decode("utf-8")
    record = write_json({"note": "naïve"}, tmp_path / "settings.json")
    assert "naïve" in record.read_bytes().decode("utf-8")
    assert check_resume(record, {"note": "naïve"}, tmp_path / "out.jsonl") is True


def test_output_check_probes_the_folder_the_output_goes_into(tmp_path, monkeypatch):
    import tempfile

    probes = []
    real = tempfile.NamedTemporaryFile

    def recording(*args, **kwargs):
        handle = real(*args, **kwargs)
        probes.append(Path(handle.name))
        return handle

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", recording)
    run = tmp_path / "run"
    run.mkdir()
    existing = run / "old.jsonl"
    existing.write_text("{}\n")
    assert check_output(existing) == existing                 # an output that is there already: replaced later
    assert check_output(run, kind="dir") == run
    assert check_output(run / "new" / "x.jsonl") == run / "new" / "x.jsonl"
    assert [p.parent for p in probes] == [run, run, run]
    assert all(p.name.startswith(".") and not p.exists() for p in probes)   # hidden, and gone
    assert sorted(p.name for p in run.iterdir()) == ["old.jsonl"]


def test_an_unwritable_output_folder_says_why(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    assert error_of(check_output, tmp_path / "out.jsonl", what="--out") == (
        f"{tmp_path / 'out.jsonl'}: cannot write --out in {tmp_path} (Permission denied)")

    def broken(*args, **kwargs):
        raise OSError("the disk went away")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", broken)
    assert error_of(check_output, tmp_path / "out.jsonl") == (
        f"{tmp_path / 'out.jsonl'}: cannot write output in {tmp_path} (the disk went away)")
