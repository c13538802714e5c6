"""Supervised fine-tuning on a priming set (completion-only loss) or continued pretraining on plain text.

Priming (the paper's section on behavior priming): each row has `prompt` (the Countdown prompt, ending in
`<think>`) and `completion` (the trace that continues it); only completion tokens carry loss, so the model
learns the reasoning style, not to reproduce prompts. `--text` trains a plain causal LM on a `text` column
(continued pretraining on behavior-rich or behavior-minimal documents).

The output folder holds the final model + tokenizer (loadable by from_pretrained and vLLM) and
`sft_summary.json` (written last, so its presence means the run finished; a re-run then does nothing).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from countdown.io import InputError, read_rows, run_cli, write_json

SUMMARY = "sft_summary.json"


@dataclass(frozen=True)
class SFTPreset:
    epochs: float
    lr: float
    batch_size: int        # effective (global) batch: micro batch x accumulation x processes
    micro_batch_size: int
    max_length: int
    warmup_ratio: float = 0.1
    scheduler: str = "cosine"


PRESETS: dict[str, SFTPreset] = {
    # The paper's priming recipe: 5 epochs, batch 64, max length 2048, lr 1e-5, cosine, 10% warmup.
    "paper": SFTPreset(epochs=5, lr=1e-5, batch_size=64, micro_batch_size=8, max_length=2048),
    # CPU-sized: a tiny model learns a few dozen traces in well under a minute.
    "tiny": SFTPreset(epochs=3, lr=1e-3, batch_size=8, micro_batch_size=8, max_length=512),
}


def load_sft_rows(path: str | os.PathLike, text_mode: bool, limit: int | None = None) -> list[dict[str, str]]:
    """Rows reduced to the columns SFT trains on, with one clear error for a bad row."""
    rows = read_rows(path)
    if not rows:
        raise InputError(f"{path}: no rows")
    columns = ("text",) if text_mode else ("prompt", "completion")
    out = []
    for i, row in enumerate(rows, 1):
        for col in columns:
            value = row.get(col)
            if not isinstance(value, str) or (col != "prompt" and not value.strip()):
                hint = " (use --text for plain-text corpora)" if not text_mode and "text" in row else ""
                raise InputError(f"{path}:{i}: column {col!r} must be a non-empty string{hint}")
        out.append({c: row[c] for c in columns})
    return out[:limit] if limit else out


def accumulation_steps(batch_size: int, micro_batch_size: int) -> int:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_step = micro_batch_size * world
    if batch_size % per_step:
        raise InputError(f"--batch-size {batch_size} is not a multiple of micro batch x processes ({per_step})")
    return batch_size // per_step


def build_config(args: argparse.Namespace, device: str):
    from trl import SFTConfig

    from rl.models import trainer_precision

    return SFTConfig(
        output_dir=str(args.out),
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        lr_scheduler_type=args.scheduler,
        warmup_steps=args.warmup_ratio,  # a float in [0, 1) is a ratio of total steps
        per_device_train_batch_size=args.micro_batch_size,
        per_device_eval_batch_size=args.micro_batch_size,
        gradient_accumulation_steps=accumulation_steps(args.batch_size, args.micro_batch_size),
        max_length=args.max_length,
        completion_only_loss=not args.text,
        dataset_text_field="text",
        packing=False,
        logging_steps=1,
        save_strategy="epoch",
        save_total_limit=1,          # keeps one resumable checkpoint; removed after the final save
        save_only_model=False,
        report_to=args.report_to,
        seed=args.seed,
        data_seed=args.seed,
        dataloader_num_workers=0,
        disable_tqdm=False,
        **trainer_precision(device),
    )


def run_sft(args: argparse.Namespace) -> dict[str, Any]:
    from datasets import Dataset
    from trl import SFTTrainer

    from rl.models import load_model_and_tokenizer, pick_device

    out = Path(args.out)
    rows = load_sft_rows(args.data, args.text, args.limit)
    device = pick_device(args.device)
    config = build_config(args, device)
    # fp32 master weights everywhere (bf16 autocast on CUDA comes from the config)
    model, tokenizer = load_model_and_tokenizer(args.model, device=device, dtype=args.dtype or "float32")
    tokenizer.padding_side = "right"  # training pads on the right; generation (vLLM / rollout) sets its own
    dataset = Dataset.from_list(rows)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, eval_dataset=dataset,
                         processing_class=tokenizer)

    started = time.time()
    loss_before = trainer.evaluate()["eval_loss"] if args.eval_loss else None
    checkpoints = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
    loss_after = trainer.evaluate()["eval_loss"] if args.eval_loss else None
    train_seconds = time.time() - started

    tokenizer.padding_side = "left"
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    for ckpt in out.glob("checkpoint-*"):  # the final model supersedes the resume checkpoints
        shutil.rmtree(ckpt, ignore_errors=True)

    summary = {
        "model": str(args.model), "data": str(args.data), "mode": "text" if args.text else "completion_only",
        "rows": len(rows), "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
        "max_length": args.max_length, "device": device, "global_steps": trainer.state.global_step,
        "loss_before": loss_before, "loss_after": loss_after, "seconds": round(train_seconds, 2),
        "train_loss_log": [h["loss"] for h in trainer.state.log_history if "loss" in h],
    }
    write_json(summary, out / SUMMARY)
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rl.sft",
        description="Fine-tune a causal LM on a priming set (prompt/completion rows, loss on the completion only) "
                    "or, with --text, continue pretraining on a plain-text corpus (a 'text' column).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  python -m rl.sft --model meta-llama/Llama-3.2-3B --data priming/all_strategies.jsonl "
               "--out runs/sft/all_strategies\n"
               "  python -m rl.sft --preset tiny --model runs/tiny-model --data priming.jsonl --out runs/sft-tiny\n"
               "  python -m rl.sft --text --model meta-llama/Llama-3.2-3B --data owm_rich.parquet --out runs/cpt-rich\n"
               "presets: paper = 5 epochs, batch 64, max length 2048, lr 1e-5, cosine, 10% warmup;\n"
               "         tiny  = 3 epochs, batch 8, max length 512, lr 1e-3 (CPU demos and tests).\n"
               "A finished output folder (with sft_summary.json) is left alone on re-run.",
    )
    parser.add_argument("--model", required=True, help="model folder or hub id to start from")
    parser.add_argument("--data", required=True, help="priming set (.jsonl/.json/.parquet/.csv)")
    parser.add_argument("--out", required=True, help="output folder for the fine-tuned model")
    parser.add_argument("--text", action="store_true", help="plain causal-LM training on the 'text' column")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper", help="hyperparameter preset")
    parser.add_argument("--epochs", type=float, help="override the preset's epochs")
    parser.add_argument("--lr", type=float, help="override the preset's learning rate")
    parser.add_argument("--batch-size", type=int, help="effective batch size (micro batch x accumulation)")
    parser.add_argument("--micro-batch-size", type=int, help="per-device batch size")
    parser.add_argument("--max-length", type=int, help="truncate sequences to this many tokens")
    parser.add_argument("--warmup-ratio", type=float, help="share of steps spent warming up the lr")
    parser.add_argument("--scheduler", help="lr schedule (transformers name, default cosine)")
    parser.add_argument("--limit", type=int, help="use only the first N rows")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--dtype", help="weight dtype while training (default float32; bf16 autocast on CUDA)")
    parser.add_argument("--report-to", default="none", help="TRL/transformers report_to (e.g. wandb, tensorboard)")
    parser.add_argument("--no-eval-loss", dest="eval_loss", action="store_false",
                        help="skip measuring the loss on the set before and after training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="train again even if --out holds a finished run")
    return parser


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    preset = PRESETS[args.preset]
    for name in ("epochs", "lr", "batch_size", "micro_batch_size", "max_length", "warmup_ratio", "scheduler"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(preset, name))
    args.micro_batch_size = min(args.micro_batch_size, args.batch_size)
    for name in ("epochs", "lr", "batch_size", "micro_batch_size", "max_length"):
        value = getattr(args, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InputError(f"--{name.replace('_', '-')} must be positive (got {value})")
    if not 0 <= args.warmup_ratio < 1:
        raise InputError(f"--warmup-ratio must be in [0, 1) (got {args.warmup_ratio})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = resolve(build_parser().parse_args(argv))
    load_sft_rows(args.data, args.text)  # fail on bad input before loading any model
    from rl.models import check_model_path

    check_model_path(args.model)
    summary_path = Path(args.out) / SUMMARY
    if summary_path.is_file() and not args.force:
        print(f"{args.out}: already trained ({SUMMARY} present); use --force to train again")
        return 0
    summary = run_sft(args)
    print(json.dumps({k: v for k, v in summary.items() if k != "train_loss_log"}))
    return 0


if __name__ == "__main__":
    run_cli(main)
