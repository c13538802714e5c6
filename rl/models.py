"""Loading a causal LM and its tokenizer the same way everywhere in rl/.

A hub id (`Qwen/Qwen2.5-3B`) is for users with a hub; tests pass local folders (rl.tiny). The dtype
follows the device: float32 on CPU (bf16 matmuls on CPU are slow and lossy), bf16 on CUDA.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from countdown.io import InputError


def pick_device(device: str | None = None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device: str, dtype: Any = None):
    """torch dtype for `device`; `dtype` may be a torch dtype or a name ("float32", "bf16", ...)."""
    import torch

    if dtype is None:
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if str(dtype) not in names:
        raise InputError(f"unknown dtype {dtype!r} (choose from {', '.join(names)})")
    return names[str(dtype)]


def check_model_path(path_or_hub_id: str | os.PathLike) -> str:
    """A local path must exist; anything that looks like `owner/name` and is not a local path is a hub id."""
    text = str(path_or_hub_id)
    path = Path(text)
    if path.exists():
        if not (path / "config.json").is_file():
            raise InputError(f"{path}: not a model folder (no config.json)")
        return text
    if text.startswith((".", "/", "~")) or text.count("/") != 1:
        raise InputError(f"{text}: no such model folder")
    return text


def load_tokenizer(path_or_hub_id: str | os.PathLike, padding_side: str = "left"):
    """Tokenizer with a pad token (falls back to eos) and left padding, which batched generation needs."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(check_model_path(path_or_hub_id))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
    tokenizer.padding_side = padding_side
    return tokenizer


def trainer_precision(device: str) -> dict[str, Any]:
    """TrainingArguments for the device: fp32 on CPU; on CUDA fp32 master weights with bf16 autocast.

    Training keeps float32 weights even on GPU because RL uses lr 1e-6: an update that small is below
    bf16's resolution for most weights and would be rounded away.
    """
    if str(device).startswith("cuda"):
        return {"bf16": True, "fp16": False, "use_cpu": False, "gradient_checkpointing": True}
    return {"bf16": False, "fp16": False, "use_cpu": True, "gradient_checkpointing": False}


def load_model_and_tokenizer(path_or_hub_id: str | os.PathLike, device: str | None = None, dtype: Any = None):
    """(model, tokenizer) ready for generation or training on `device` (default: cuda if present, else cpu)."""
    from transformers import AutoModelForCausalLM

    name = check_model_path(path_or_hub_id)
    device = pick_device(device)
    tokenizer = load_tokenizer(name)
    model = AutoModelForCausalLM.from_pretrained(name, dtype=pick_dtype(device, dtype))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer
