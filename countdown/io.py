"""Reading and writing record tables (JSONL / JSON / parquet / CSV), atomically, with clear errors.

Every CLI in the toolkit reads and writes through here, so bad input always produces one line that names
the file (and line), and an output file is either complete or absent.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

FORMATS = ("jsonl", "json", "parquet", "csv")


class InputError(Exception):
    """Bad user input (missing file, malformed line, unknown option value). CLIs print it as one line."""


def format_of(path: str | os.PathLike, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
        return fmt
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise InputError(f"{path}: cannot tell the format from the extension (use .jsonl, .json, .parquet or .csv)")


def read_rows(path: str | os.PathLike, fmt: str | None = None) -> list[dict[str, Any]]:
    """All rows of a table file as dicts. Raises InputError naming the file and line on bad input."""
    return [row for _, row in read_numbered(path, fmt)]


def read_numbered(path: str | os.PathLike, fmt: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(line, row) for every row of a table file, so callers can name the line of a bad row as `file:line`:
    the file's own line for JSONL (blank lines are skipped but counted), the 1-based row number otherwise."""
    path = check_input(path)
    fmt = format_of(path, fmt)
    if fmt == "jsonl":
        rows = []
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                line = _text(raw, path, lineno)
                if not line.strip():
                    continue
                row = _json(line, path, lineno)
                if not isinstance(row, dict):
                    raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
                rows.append((lineno, row))
        return rows
    if fmt == "json":
        data = _json(_text(path.read_bytes(), path, None), path, None)
        if isinstance(data, dict):  # column-oriented {"col": [...]} as pandas writes it
            data = _columns_to_rows(data, path)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InputError(f"{path}: expected a list of JSON objects")
        return list(enumerate(data, 1))
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return []
    except Exception as exc:  # pyarrow/pandas raise many types for corrupt files
        raise InputError(f"{path}: cannot read {fmt} ({type(exc).__name__}: {brief(exc)})") from None
    rows = [_plain(r) for r in frame.to_dict(orient="records")]
    return list(enumerate(_json_cells(rows) if fmt == "csv" else rows, 1))


def check_input(path: str | os.PathLike) -> Path:
    """`path` as a Path if it is a file to read; else InputError saying what is there instead."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {'is a folder, not a file' if path.is_dir() else 'no such file'}")
    return path


def _json_cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CSV cells cannot hold lists or objects, so write_rows stores them as JSON text; read those columns
    back (a column whose every filled cell is a JSON list or object), leaving text columns alone."""
    decoded: dict[str, list[Any]] = {}
    for col in (rows[0] if rows else {}):
        cells = [r.get(col) for r in rows]
        if not any(isinstance(c, str) for c in cells):
            continue
        values = []
        for cell in cells:
            if cell is None:
                values.append(None)
                continue
            if not isinstance(cell, str) or not cell.startswith(("[", "{")):
                break
            try:
                value = json.loads(cell)
            except (json.JSONDecodeError, RecursionError):
                break
            if not isinstance(value, (list, dict)):
                break
            values.append(value)
        else:
            decoded[col] = values
    for col, values in decoded.items():
        for row, value in zip(rows, values):
            row[col] = value
    return rows


def _text(raw: bytes, path: Path, lineno: int | None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"{path}:{lineno}" if lineno else f"{path}"
        raise InputError(f"{where}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None


def _json(text: str, path: Path, lineno: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{lineno or exc.lineno}: invalid JSON ({exc.msg})") from None
    except RecursionError:   # nesting deeper than Python's parser stack: no record looks like that
        raise InputError(f"{path}:{lineno or 1}: JSON nested too deeply") from None


def brief(value: Any, limit: int = 200) -> str:
    """`value` as one line of at most `limit` characters, fit for an error message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _columns_to_rows(data: dict, path: Path) -> list[dict]:
    cols = list(data)
    if not cols or not all(isinstance(data[c], (list, dict)) for c in cols):
        raise InputError(f"{path}: expected a list of JSON objects or a dict of columns")
    values = [list(data[c].values()) if isinstance(data[c], dict) else data[c] for c in cols]
    return [dict(zip(cols, vals)) for vals in zip(*values)]


def _plain(value: Any) -> Any:
    """numpy/pandas values from parquet -> plain Python (lists, ints, None)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN from a missing CSV/parquet cell
        return None
    return value


def check_output(path: str | os.PathLike, kind: str = "file", what: str = "output") -> Path:
    """Fail early (InputError) for an output that cannot be written: a folder where a file goes (or the
    reverse), a file in the way of a folder on the path, or a place the process cannot create files in.
    Probes by creating and removing a temporary file in the nearest existing folder (permission bits do not
    tell the truth for root or read-only mounts). Creates nothing that stays."""
    path = Path(path)
    if kind == "file" and path.is_dir():
        raise InputError(f"{path}: {what} is a folder; give a file path")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise InputError(f"{path}: {what} exists and is not a folder")
    folder = path if kind == "dir" else path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"{path}: cannot create {what}: {folder} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cogbehave-write-check-"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot write {what} in {folder} ({exc.strerror or exc})") from None
    return path


def check_distinct(paths: dict[str, str | os.PathLike]) -> None:
    """Two outputs of one command must not be the same file (one would silently replace the other)."""
    seen: dict[Path, str] = {}
    for name, path in paths.items():
        resolved = Path(path).expanduser().resolve()
        if resolved in seen:
            raise InputError(f"{path}: {seen[resolved]} and {name} are the same file; give them different paths")
        seen[resolved] = name


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the result a normal file's permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_rows(rows: Iterable[dict[str, Any]], path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write rows to `path` atomically in the format its extension (or `fmt`) names. JSONL rows are streamed
    (a generator is consumed while the file is written); the table formats need all rows at once."""
    path = Path(path)
    fmt = format_of(path, fmt)
    with atomic_path(path) as tmp:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif fmt == "json":
            tmp.write_text(json.dumps(list(rows), ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            import pandas as pd

            if fmt == "parquet":
                pd.DataFrame(list(rows)).to_parquet(tmp, index=False)
            else:   # lists and objects as JSON text, which read_rows turns back into values
                pd.DataFrame([{k: _json_text(v) for k, v in row.items()} for row in rows]).to_csv(tmp, index=False)
    return path


def _json_text(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, tuple, dict)) else value


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write one JSON document (a manifest, a summary) atomically; non-JSON values become strings."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def check_resume(record: str | os.PathLike, settings: dict[str, Any], output: str | os.PathLike,
                 remedy: str = "use a new output path, or --overwrite to make it again") -> bool:
    """The resume guard of an output made in steps: True when `record` (a JSON file beside the output) holds
    exactly `settings`, False when there is no record yet. An output made with other settings, or without a
    record, is never silently extended: InputError names the settings that differ and the `remedy`."""
    record = Path(record)
    if not record.is_file():
        return False
    try:
        before = json.loads(record.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise InputError(f"{record}: unreadable settings record of {output}; delete both to start over") from None
    if not isinstance(before, dict):
        raise InputError(f"{record}: not a settings record of {output}; delete both to start over")
    # through JSON, so tuples and lists (and other values the record stored as text) compare alike
    settings = json.loads(json.dumps(settings, default=str))
    if before != settings:
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        raise InputError(f"{output}: made with other settings ({', '.join(changed)}); {remedy}")
    return True
