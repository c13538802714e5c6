"""A persistent string -> string cache for model replies (SQLite, one committed row per finished call).

Each reply is committed the moment it arrives, so a run that is killed keeps everything it finished and a
re-run asks only for what is missing. SQLite (WAL mode) also lets two processes share one cache file.
Only replies the caller accepted are stored: failures and unreadable replies are asked again on the next run.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path

from countdown.io import InputError


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(*parts: str) -> str:
    """A readable key from parts, e.g. cache_key(model, prompt_version, behavior, text_hash(prompt))."""
    return "|".join(str(p).replace("|", "/") for p in parts)


class ResponseCache:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"{self.path}: the reply cache is a folder; give a file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = threading.Lock()
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")   # WAL + NORMAL: a committed row survives a kill
            self._db.execute("CREATE TABLE IF NOT EXISTS replies "
                             "(key TEXT PRIMARY KEY, value TEXT NOT NULL, meta TEXT)")
            self._db.commit()
        except (sqlite3.Error, OSError) as exc:
            raise InputError(f"{self.path}: cannot use as a reply cache ({exc}); give another cache "
                             "path, or delete the file") from None

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, value: str, meta: dict | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO replies (key, value, meta) VALUES (?, ?, ?)",
                             (key, value, json.dumps(meta) if meta else None))
            self._db.commit()

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
