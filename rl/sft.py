"""Supervised fine-tuning on a priming set (completion-only loss) or continued pretraining on plain text.

Priming (the paper's section on behavior priming): each row has `prompt` (the Countdown prompt, ending in
`<think>`) and `completion` (the trace that continues it); only completion tokens carry loss, so the model
learns the reasoning style, not to reproduce prompts. `--text` trains a plain causal LM on a `text` column
(continued pretraining on behavior-rich or behavior-minimal documents); when such a corpus also has
`prompt` and `completion` columns (documents rewritten into question -> thinking -> answer by
`priming.curate --reformat-qa`), the loss is on the completion (thinking and answer) only, as in the paper.

The output folder holds the final model + tokenizer (loadable by from_pretrained and vLLM) and
`sft_summary.json` (written last, so its presence means the run finished; a re-run then does nothing).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from countdown.cli import CommandConfig, option, preset_names, run_cli
from countdown.io import InputError, read_numbered, write_json

SUMMARY = "sft_summary.json"


@dataclass(kw_only=True)
class SFTConfig(CommandConfig):
    """Fine-tune a causal LM on a priming set (prompt/completion rows, loss on the completion only) or, with
    --text, continue pretraining on a plain-text corpus (a 'text' column). The defaults are the `paper` preset
    (configs/sft/paper.yaml)."""

    command = "sft"
    epilog = """examples:
  python -m rl.sft --model meta-llama/Llama-3.2-3B --data priming/all_strategies.jsonl --out runs/sft/all_strategies
  python -m rl.sft --preset tiny --model runs/tiny-model --data priming.jsonl --out runs/sft-tiny
  python -m rl.sft --text --model meta-llama/Llama-3.2-3B --data owm_rich.parquet --out runs/cpt-rich
presets: (YAML files in configs/sft/; any flag overrides them)
  paper = 5 epochs, batch 64, max length 2048, lr 1e-5, cosine, 10% warmup, AdamW betas (0.9, 0.95),
          weight decay 0.01;
  tiny  = 3 epochs, batch 8, max length 512, lr 1e-3 (CPU demos and tests).
A finished output folder (with sft_summary.json) is left alone on re-run."""

    model: str = option(help="model folder or hub id to start from")
    data: str = option(help="priming set (.jsonl/.json/.parquet/.csv)")
    out: str = option(help="output folder for the fine-tuned model", output="dir")
    text: bool = option(False, "plain causal-LM training on the 'text' column")
    preset: str = option("paper", f"hyperparameter preset: {', '.join(preset_names('sft'))}")
    epochs: float = option(5.0, "passes over the data")
    lr: float = option(1e-5, "peak learning rate")
    batch_size: int = option(64, "effective batch size (micro batch x accumulation x processes)")
    micro_batch_size: int = option(8, "per-device batch size (capped at --batch-size)")
    max_length: int = option(2048, "truncate sequences to this many tokens")
    warmup_ratio: float = option(0.1, "share of steps spent warming up the lr")
    scheduler: str = option("cosine", "lr schedule (a transformers scheduler name)")
    adam_beta1: float = option(0.9, "AdamW beta1 (the paper: 0.9)")
    adam_beta2: float = option(0.95, "AdamW beta2 (the paper: 0.95; TRL's default is 0.999)")
    weight_decay: float = option(0.01, "AdamW weight decay (the paper: 0.01; TRL's default is 0)")
    limit: int | None = option(None, "use only the first N rows")
    device: str | None = option(None, "cpu or cuda (default: cuda when available)")
    dtype: str | None = option(None, "weight dtype while training (default float32; bf16 autocast on CUDA)")
    report_to: str = option("none", "TRL/transformers report_to (e.g. wandb, tensorboard)")
    eval_loss: bool = option(True, "measure the loss on the set before and after training")
    group_by_length: bool = option(False, "batch rows of similar length together: far less padding when short and "
                                   "long rows mix (the organism's base corpus), but batches no longer mix them")
    seed: int = option(0, "random seed")
    force: bool = option(False, "train again even if --out holds a finished run")

    def validate(self) -> None:
        for name in ("epochs", "lr", "batch_size", "micro_batch_size", "max_length"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"--{name.replace('_', '-')} must be positive (got {value})")
        if not 0 <= self.warmup_ratio < 1:
            raise InputError(f"--warmup-ratio must be in [0, 1) (got {self.warmup_ratio})")
        if not (0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1 and 0 <= self.weight_decay < math.inf):
            raise InputError(f"--adam-beta1 and --adam-beta2 must be in [0, 1) and --weight-decay a finite number >= 0 "
                             f"(got {self.adam_beta1}, {self.adam_beta2}, {self.weight_decay})")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit must be >= 1 (got {self.limit})")
        from transformers import SchedulerType

        from rl.models import check_device_options

        if self.scheduler not in {s.value for s in SchedulerType}:
            raise InputError(f"--scheduler {self.scheduler}: unknown (choose from "
                             f"{', '.join(s.value for s in SchedulerType)})")
        check_device_options(self.device, self.dtype)
        super().validate()

    def micro_batch(self) -> int:
        return min(self.micro_batch_size, self.batch_size)


def is_qa(row: dict[str, Any]) -> bool:
    """A question/answer row (prompt + non-empty completion), as priming.curate --reformat-qa writes them."""
    return isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str) and \
        bool(row["completion"].strip())


def load_sft_rows(path: str | os.PathLike, text_mode: bool, limit: int | None = None) -> list[dict[str, str]]:
    """Rows reduced to the columns SFT trains on (prompt/completion, or text for a plain --text corpus), with
    one clear error for a bad row (naming its file line). A --text corpus whose rows are all question/answer
    rows keeps prompt/completion, so its loss is on the completion only."""
    rows = read_numbered(path)
    if not rows:
        raise InputError(f"{path}: no rows")
    qa = text_mode and all(is_qa(r) for _, r in rows)
    columns = ("text",) if text_mode and not qa else ("prompt", "completion")
    out = []
    for i, row in rows:
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


def trainer_args(config: SFTConfig, device: str, completion_only: bool | None = None):
    """TRL's SFTConfig (its TrainingArguments) for our config on `device`; the loss is on completions only
    unless the rows are plain text (default: not --text)."""
    import trl

    from rl.models import trainer_precision

    micro = config.micro_batch()
    return trl.SFTConfig(
        output_dir=str(config.out),
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        lr_scheduler_type=config.scheduler,
        adam_beta1=config.adam_beta1,
        adam_beta2=config.adam_beta2,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a ratio of total steps
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=accumulation_steps(config.batch_size, micro),
        max_length=config.max_length,
        completion_only_loss=not config.text if completion_only is None else completion_only,
        dataset_text_field="text",
        packing=False,
        logging_steps=1,
        save_strategy="epoch",
        save_total_limit=1,          # keeps one resumable checkpoint; removed after the final save
        save_only_model=False,
        report_to=config.report_to,
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        disable_tqdm=False,
        **trainer_precision(device),
    )


def run_sft(config: SFTConfig) -> dict[str, Any]:
    """Train (or, when --out holds a finished run and not `force`, return its summary)."""
    from datasets import Dataset
    from trl import SFTTrainer

    from rl.models import check_model_path, load_model_and_tokenizer, pick_device

    out = Path(config.out)
    rows = load_sft_rows(config.data, config.text, config.limit)  # bad input fails before any model loads
    if (out / SUMMARY).is_file() and not config.force:
        print(f"{out}: already trained ({SUMMARY} present); use --force to train again")
        return json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    check_model_path(config.model)
    device = pick_device(config.device)
    completion_only = "completion" in rows[0]
    args = trainer_args(config, device, completion_only)
    # fp32 master weights everywhere (bf16 autocast on CUDA comes from the trainer arguments)
    model, tokenizer = load_model_and_tokenizer(config.model, device=device, dtype=config.dtype or "float32")
    tokenizer.padding_side = "right"  # training pads on the right; generation (vLLM / rollout) sets its own
    dataset = Dataset.from_list(rows)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset,
                         eval_dataset=dataset if config.eval_loss else None, processing_class=tokenizer)

    started = time.time()
    loss_before = trainer.evaluate()["eval_loss"] if config.eval_loss else None
    checkpoints = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
    loss_after = trainer.evaluate()["eval_loss"] if config.eval_loss else None
    train_seconds = time.time() - started

    tokenizer.padding_side = "left"
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    for ckpt in out.glob("checkpoint-*"):  # the final model supersedes the resume checkpoints
        shutil.rmtree(ckpt, ignore_errors=True)

    summary = {
        "model": str(config.model), "data": str(config.data), "mode": "completion_only" if completion_only else "text",
        "rows": len(rows), "preset": config.preset, "epochs": config.epochs, "lr": config.lr,
        "batch_size": config.batch_size, "max_length": config.max_length, "device": device,
        "adam_betas": [config.adam_beta1, config.adam_beta2], "weight_decay": config.weight_decay,
        "global_steps": trainer.state.global_step, "loss_before": loss_before, "loss_after": loss_after,
        "seconds": round(train_seconds, 2),
        "train_loss_log": [h["loss"] for h in trainer.state.log_history if "loss" in h],
    }
    write_json(summary, out / SUMMARY)
    return summary


def main(argv: list[str] | None = None) -> int:
    summary = run_sft(SFTConfig.parse(argv))
    print(json.dumps({k: v for k, v in summary.items() if k != "train_loss_log"}))
    return 0


if __name__ == "__main__":
    run_cli(main)
