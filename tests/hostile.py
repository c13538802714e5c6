"""Shared pieces of the hostile-input suite (tests/test_hostile_*.py): every command, a way to run one in-process
exactly as its `python -m` entry does, and the check of the error contract (docs/architecture.md):

    bad input -> exit code 2, one stderr line `error: ...` naming the file or option, nothing written.

"Nothing written" is checked by a snapshot of every file under the work folder (hidden ones included, so a
stray temporary file counts) before and after the run.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from countdown.cli import run_cli

COMMANDS = ("countdown.generate", "rl.rollout", "behaviors.classify", "behaviors.agreement", "priming.build",
            "priming.curate", "priming.verify", "rl.sft", "rl.train", "rl.evaluate", "rl.learnability",
            "rl.verl_export", "analysis.figures", "analysis.reproduce", "rl.tiny", "priming.corpus")

SECRET = "sk-hostile-test-0123456789abcdef"   # an API key no test may find on disk or in printed text


def run(command: str, argv: list[Any], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m command *argv`, run in this process through run_cli."""
    module = importlib.import_module(command)
    capsys.readouterr()   # drop anything printed before
    with pytest.raises(SystemExit) as exc:
        run_cli(module.main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fails_cleanly(command: str, argv: list[Any], capsys, *names: str, work: Path | None = None) -> str:
    """Assert the error contract for one run and return its error line: exit 2, exactly one non-empty stderr
    line, starting `error: ` and containing each of `names`; with `work`, no file under it changed."""
    before = snapshot(work) if work is not None else None
    code, _, err = run(command, argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), f"{command}: rc {code}, stderr:\n{err}"
    for name in names:
        assert name in lines[0], f"{command}: {name!r} not named in {lines[0]!r}"
    if work is not None:
        assert snapshot(work) == before, f"{command} wrote files although it failed"
    return lines[0]
