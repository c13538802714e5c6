"""Shared fixtures: a tiny local model (built once per session) and a few Countdown problems.

Everything runs offline: the HF variables below make any accidental hub access fail fast instead of hanging.
"""
from __future__ import annotations

import os
import platform
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the default would reserve far more than tests need
os.environ["COGBEHAVE_CACHE"] = tempfile.mkdtemp(prefix="cogbehave-test-cache-")  # never the user's judge cache

import pytest

from countdown.records import Problem

# Hand-checked fallbacks, used only until countdown.generate is importable.
_FALLBACK_PROBLEMS = [
    Problem("tiny-0", [3, 5, 2], 16, "test", "(3 + 5) * 2"),
    Problem("tiny-1", [7, 4, 9], 19, "test", "7 * 4 - 9"),
    Problem("tiny-2", [12, 6, 3], 6, "test", "12 / 6 * 3"),
    Problem("tiny-3", [8, 2, 5], 20, "test", "8 / 2 * 5"),
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised tiny Qwen2 model + Countdown tokenizer folder (about 0.4 MB, ~4 s to build)."""
    from rl.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2") / "model", arch="qwen2", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_problems() -> list[Problem]:
    """A few solvable 3-number test problems (fresh copies are not needed: treat them as read-only)."""
    try:
        from countdown.generate import generate_problems
    except ImportError:
        return [Problem(**p.to_dict()) for p in _FALLBACK_PROBLEMS]
    return generate_problems(4, seed=0, preset="tiny", split="test")


def require_vllm() -> None:
    """vLLM must import wherever setup installs it (x86-64): a broken install fails the suite instead of
    quietly skipping the engine's tests. Elsewhere, or with NO_VLLM=1 (setup told to leave it out), skip."""
    try:
        import vllm  # noqa: F401
    except Exception as exc:   # a broken install raises more than ImportError
        if platform.machine() == "x86_64" and os.environ.get("NO_VLLM") != "1":
            pytest.fail(f"vllm does not import on x86-64 ({type(exc).__name__}: {exc}); run scripts/setup.sh, "
                        "or set NO_VLLM=1 to run without it", pytrace=False)
        pytest.skip(f"vllm not available here ({type(exc).__name__}); NO_VLLM=1 or not x86-64",
                    allow_module_level=True)
