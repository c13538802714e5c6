"""Local model access, the same everywhere: one path rule, one tokenizer/model loader, one checkpoint
discovery, one vLLM check. (Remote models are reached through rl.client.)

A hub id (`Qwen/Qwen2.5-3B`) is for users with a hub; tests and demos pass local folders (rl.tiny). The dtype
follows the device: float32 on CPU (bf16 matmuls on CPU are slow and lossy), bf16 on CUDA.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

from countdown.io import InputError

# What a local folder must hold to be loadable as each kind of thing.
_NEEDS = {"model": ("config.json",), "tokenizer": ("tokenizer_config.json", "tokenizer.json")}


def check_model_path(path_or_hub_id: str | os.PathLike, kind: str = "model") -> str:
    """The name to load: an existing folder holding a `kind` ("model": config.json; "tokenizer": a
    tokenizer file), or a hub id (`name` or `owner/name`, not path-like), unless HF_HUB_OFFLINE=1."""
    text = str(path_or_hub_id)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir() or not any((path / name).is_file() for name in _NEEDS[kind]):
            raise InputError(f"{path}: not a {kind} folder (no {' or '.join(_NEEDS[kind])})")
        return str(path)
    hub_like = bool(text) and text.count("/") <= 1 and not text.startswith((".", "/", "~")) \
        and not text.endswith("/") and "\\" not in text
    if not hub_like:
        raise InputError(f"{text}: no such {kind} folder")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise InputError(f"{text}: no such {kind} folder (and HF_HUB_OFFLINE=1, so it is not fetched as a hub id)")
    return text


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


_DEVICE = re.compile(r"(cpu|cuda|mps|xpu)(:\d+)?")
DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}   # the names --dtype accepts -> torch dtype names


def check_device_options(device: str | None, dtype: str | None = None) -> None:
    """Fail on a --device or --dtype no run can use, before anything is loaded or written."""
    if device and not _DEVICE.fullmatch(device):
        raise InputError(f"--device {device}: not a device (use cpu, cuda, cuda:N, mps or xpu)")
    if dtype is not None and str(dtype) not in DTYPES:
        raise InputError(f"--dtype {dtype}: unknown dtype (choose from {', '.join(DTYPES)})")


def pick_device(device: str | None = None) -> str:
    import torch

    check_device_options(device)
    if not device:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA GPU is available here")
    return device


def pick_dtype(device: str, dtype: Any = None):
    """torch dtype for `device`; `dtype` may be a torch dtype or a name ("float32", "bf16", ...)."""
    import torch

    if dtype is None:
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    check_device_options(None, dtype)
    return getattr(torch, DTYPES[str(dtype)])


def load_tokenizer(path_or_hub_id: str | os.PathLike, padding_side: str = "left"):
    """Tokenizer with a pad token (falls back to eos) and left padding, which batched generation needs."""
    from transformers import AutoTokenizer

    name = check_model_path(path_or_hub_id, "tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except Exception as exc:  # transformers raises OSError/ValueError/... for unusable folders
        raise InputError(f"{name}: cannot load a tokenizer ({type(exc).__name__}: {exc})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
    tokenizer.padding_side = padding_side
    return tokenizer


def load_model_and_tokenizer(path_or_hub_id: str | os.PathLike, device: str | None = None, dtype: Any = None):
    """(model, tokenizer) ready for generation or training on `device` (default: cuda if present, else cpu)."""
    from transformers import AutoModelForCausalLM

    name = check_model_path(path_or_hub_id)
    device = pick_device(device)
    tokenizer = load_tokenizer(name)
    try:
        model = AutoModelForCausalLM.from_pretrained(name, dtype=pick_dtype(device, dtype))
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: transformers cannot load the model ({exc})") from None
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer


def trainer_precision(device: str) -> dict[str, Any]:
    """TrainingArguments for the device: fp32 on CPU; on CUDA fp32 master weights with bf16 autocast.

    Training keeps float32 weights even on GPU because RL uses lr 1e-6: an update that small is below
    bf16's resolution for most weights and would be rounded away.
    """
    if str(device).startswith("cuda"):
        return {"bf16": True, "fp16": False, "use_cpu": False, "gradient_checkpointing": True}
    return {"bf16": False, "fp16": False, "use_cpu": True, "gradient_checkpointing": False}


def context_length(model: str | os.PathLike) -> int:
    """max_position_embeddings of a local model folder (0 when unknown, e.g. a hub id)."""
    try:
        config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    config = config.get("text_config", config)
    return int(config.get("max_position_embeddings") or 0)


# ---------------------------------------------------------------------------------------------- checkpoints
# A training run keeps one folder per saved step: TRL writes checkpoint-N with the weights in place, veRL
# writes global_step_N with Hugging Face weights under actor/huggingface (or a merged copy elsewhere).
_STEP_DIR = re.compile(r"^(?:global_step_|checkpoint-)(\d+)$")
_MODEL_SUBDIRS = ("", "actor/huggingface", "huggingface", "actor")


def checkpoint_model_dir(folder: Path) -> Path | None:
    """The folder inside a checkpoint that holds loadable weights, or None."""
    for sub in _MODEL_SUBDIRS:
        candidate = folder / sub if sub else folder
        if (candidate / "config.json").is_file():
            return candidate
    return None


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, model folder) for every global_step_N / checkpoint-N under run_dir holding HF weights, by step."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    found = []
    for child in run_dir.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and child.is_dir() and (model_dir := checkpoint_model_dir(child)) is not None:
            found.append((int(match.group(1)), model_dir))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> tuple[int, Path] | None:
    """The (step, model folder) of the newest checkpoint, or None (also when run_dir does not exist yet)."""
    if not Path(run_dir).is_dir():
        return None
    found = list_checkpoints(run_dir)
    return found[-1] if found else None
