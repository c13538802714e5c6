"""RL on Countdown with TRL's GRPOTrainer and the toolkit's safe reward.

The paper trains with veRL's PPO (actor + critic); this is the single-machine stand-in. `--preset paper`
keeps every setting the two share (lr 1e-6, KL 0.001, 256 fresh prompts x 4 samples per step, 256/1024
token limits, temperature 1.0, 250 steps, a checkpoint every 10 steps); docs/rl.md lists what differs. For
the exact PPO recipe on several GPUs use `python -m rl.verl_export`.

Rollouts use vLLM inside the trainer process (TRL's colocate mode) when vllm is importable and a GPU is
present, else transformers' generate. Checkpoints land in OUT/checkpoint-<step> (model + tokenizer, so
`rl.rollout` and `rl.evaluate` can sample them); metrics go to the console, OUT/metrics.jsonl and
any `--report-to` integration. Re-running the same command resumes from the newest checkpoint.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from countdown.cli import CommandConfig, option, preset_names, run_cli
from countdown.data import require_problems
from countdown.io import InputError, check_input, write_json
from countdown.prompts import TEMPLATES, render_prompt
from countdown.records import Problem
from countdown.reward import DEFAULT as REWARD, score

SUMMARY = "train_summary.json"
RUN_INFO = "run_info.json"
METRICS = "metrics.jsonl"


# TRL's GRPO loss types that work with its default token-level importance sampling (luspo needs sequence level)
LOSS_TYPES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo", "vespo")


@dataclass(kw_only=True)
class TrainConfig(CommandConfig):
    """GRPO on Countdown with TRL and the toolkit's reward (1.0 correct / 0.1 wrong answer / 0 none).
    Checkpoints go to OUT/checkpoint-<step>; re-running resumes from the newest one. The defaults are the
    `paper` preset (configs/train/paper.yaml)."""

    command = "train"
    epilog = """examples:
  python -m rl.train --model Qwen/Qwen2.5-3B --out runs/qwen-grpo --preset paper
  python -m rl.train --model runs/sft/all_strategies --out runs/primed-grpo --preset paper --problems train.jsonl
  python -m rl.train --model runs/tiny-model --out runs/tiny-grpo --preset tiny
presets: (YAML files in configs/train/; any flag overrides them)
  paper: 250 steps, 256 fresh prompts x 4 samples (64,000 generated problems, none repeated), lr 1e-6,
         KL beta 0.001, 256/1024 prompt/response tokens, temperature 1.0, checkpoint every 10 steps
         (see docs/rl.md for what differs from veRL PPO)
  tiny:  6 steps, 4 prompts x 4 samples, 48-token completions, temperature 0.7, checkpoint every 3 steps (CPU)"""

    model: str = option(help="starting model folder or hub id")
    out: str = option(help="run folder (checkpoints, metrics.jsonl, run_info.json)", output="dir")
    preset: str = option("paper", f"hyperparameter preset: {', '.join(preset_names('train'))}")
    problems: str | None = option(None, "training problems file (default: generate --num-problems)")
    split: str | None = option(None, "use only problems of this split from --problems")
    exclude_problems: str | None = option(None, "held-out problems file whose problems are never generated")
    num_problems: int | None = option(None, "problems to generate (default: steps x prompts / epochs)")
    problem_preset: str = option("tinyzero", "countdown.generate preset for generated problems")
    template: str = option("base", "prompt template", choices=TEMPLATES)
    steps: int = option(250, "optimizer steps (one per batch of prompts)")
    save_steps: int = option(10, "checkpoint every N steps")
    prompts_per_step: int = option(256, "prompts per step")
    num_generations: int = option(4, "samples per prompt (GRPO group size, >= 2)")
    epochs: float = option(1.0, "passes over the problem set during --steps (sets the default set size; 1 = "
                           "every prompt fresh)")
    lr: float = option(1e-6, "learning rate")
    beta: float = option(0.001, "KL coefficient against the starting model")
    temperature: float = option(1.0, "rollout temperature")
    max_prompt_length: int = option(256, "drop prompts longer than this (tokens)")
    max_completion_length: int = option(1024, "response token limit")
    micro_batch_size: int = option(16, "completions per forward/backward pass")
    logging_steps: int = option(1, "log metrics every N steps")
    loss_type: str = option("dapo", "TRL loss aggregation (dapo = token mean over the batch, like veRL)",
                            choices=LOSS_TYPES)
    scale_rewards: str = option("group", "advantage scaling: group std (GRPO), batch std, or none (Dr. GRPO)",
                                choices=("group", "batch", "none"))
    learnability_filter: int | None = option(None, "sample K completions per problem from the starting model and "
                                             "keep the most learnable", metavar="K")
    learnability_keep: float = option(0.5, "share (<=1) or count (>1) of problems the filter keeps")
    rollout_backend: str = option("auto", "generation inside the trainer: vllm (GPU) or transformers",
                                  choices=("auto", "vllm", "transformers"))
    vllm_gpu_memory: float = option(0.3, "GPU memory share for colocated vLLM")
    device: str | None = option(None, "cpu or cuda (default: cuda when available)")
    dtype: str | None = option(None, "weight dtype while training (default float32; bf16 autocast on CUDA)")
    resumable: bool = option(False, "store optimizer state in checkpoints (off in paper: a 3B model's Adam state "
                             "is ~24 GB per checkpoint; on in tiny)")
    report_to: str = option("none", "TRL/transformers report_to (e.g. wandb, tensorboard)")
    seed: int = option(0, "random seed")
    force: bool = option(False, "run even if OUT holds a finished run (e.g. with more --steps; continues from "
                         "the newest checkpoint)")

    def validate(self) -> None:
        for name in ("steps", "save_steps", "prompts_per_step", "max_prompt_length", "max_completion_length",
                     "micro_batch_size", "logging_steps"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(self, name)})")
        if self.num_generations < 2:
            raise InputError(f"--num-generations must be >= 2 for a group baseline (got {self.num_generations})")
        if not (self.lr > 0 and math.isfinite(self.lr)) or self.beta < 0 or self.temperature <= 0:
            raise InputError("--lr and --temperature must be positive and --beta non-negative")
        if not self.epochs > 0 or (self.num_problems is not None and self.num_problems < 1):
            raise InputError("--epochs and --num-problems must be positive")
        if self.learnability_filter is not None and self.learnability_filter < 2:
            raise InputError("--learnability-filter K needs K >= 2 samples per problem")
        batch_layout(self.prompts_per_step, self.num_generations, self.micro_batch_size)
        from rl.models import check_device_options

        check_device_options(self.device, self.dtype)
        super().validate()

    def problem_count(self) -> int:
        """Problems to generate: --num-problems, or enough for --steps at --epochs passes."""
        if self.num_problems is not None:
            return self.num_problems
        return max(self.prompts_per_step, math.ceil(self.steps * self.prompts_per_step / self.epochs))


def countdown_reward(completions: list[str], numbers: list[list[int]], target: list[int],
                     log_metric=None, **_: Any) -> list[float]:
    """TRL reward function: countdown.reward.score per completion (dataset columns arrive as lists)."""
    rewards = [score(c, n, t) for c, n, t in zip(completions, numbers, target)]
    if log_metric is not None and rewards:
        log_metric("countdown/accuracy", sum(r == REWARD.correct for r in rewards) / len(rewards))
        log_metric("countdown/answer_rate", sum(r != REWARD.none for r in rewards) / len(rewards))
    return rewards


def training_problems(config: TrainConfig) -> list[Problem]:
    if config.problems:
        return require_problems(config.problems, config.split)
    from countdown.generate import generate_problems

    exclude = {p.key for p in require_problems(config.exclude_problems)} if config.exclude_problems else None
    return generate_problems(config.problem_count(), seed=config.seed, preset=config.problem_preset,
                             split="train", exclude=exclude)


def prompt_rows(problems: Sequence[Problem], tokenizer, template: str, max_prompt_length: int):
    """Dataset rows for GRPOTrainer; prompts over the token limit are dropped (veRL filters them too)."""
    rows, dropped = [], 0
    for p in problems:
        prompt = render_prompt(p.numbers, p.target, template, tokenizer=tokenizer)
        if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) > max_prompt_length:
            dropped += 1
            continue
        rows.append({"prompt": prompt, "numbers": list(p.numbers), "target": int(p.target), "id": p.id})
    if not rows:
        raise InputError(f"every prompt is longer than --max-prompt-length {max_prompt_length} tokens")
    return rows, dropped


def rollout_backend(choice: str, device: str) -> bool:
    """True when rollouts should go through vLLM."""
    from rl.models import vllm_available

    has_vllm = vllm_available()
    if choice == "vllm":
        if not has_vllm or not device.startswith("cuda"):
            raise InputError("--rollout-backend vllm needs the vllm package and a CUDA GPU")
        return True
    return choice == "auto" and has_vllm and device.startswith("cuda")


def batch_layout(prompts_per_step: int, num_generations: int, micro_batch_size: int) -> tuple[int, int]:
    """(per-device micro batch, gradient accumulation) so one optimizer step sees every completion of a step."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    completions = prompts_per_step * num_generations
    micro = min(micro_batch_size, completions // world or 1)
    if completions % (micro * world):
        raise InputError(f"{prompts_per_step} prompts x {num_generations} generations = {completions} completions "
                         f"is not a multiple of micro batch {micro} x {world} processes")
    return micro, completions // (micro * world)


def trainer_args(config: TrainConfig, device: str, use_vllm: bool):
    """TRL's GRPOConfig (its TrainingArguments) for our config on `device`."""
    import torch
    from trl import GRPOConfig

    from rl.models import trainer_precision

    micro, accumulation = batch_layout(config.prompts_per_step, config.num_generations, config.micro_batch_size)
    extra: dict[str, Any] = {}
    if use_vllm:
        extra.update(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=config.vllm_gpu_memory,
                     vllm_max_model_length=config.max_prompt_length + config.max_completion_length)
    if device.startswith("cuda"):
        extra["model_init_kwargs"] = {"dtype": torch.bfloat16}  # only the frozen KL reference model uses it
    return GRPOConfig(
        output_dir=str(config.out),
        max_steps=config.steps,
        learning_rate=config.lr,
        lr_scheduler_type="constant",       # veRL's actor default: no decay, no warmup
        beta=config.beta,
        num_generations=config.num_generations,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,  # -> one generation batch = one optimizer step
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        top_p=1.0,
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        disable_dropout=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_only_model=not config.resumable,
        logging_steps=config.logging_steps,
        report_to=config.report_to,
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=0,
        log_completions=False,
        **extra,
        **trainer_precision(device),
    )


def _metrics_callback(path: Path):
    from transformers import TrainerCallback

    class JsonlMetrics(TrainerCallback):
        """Appends every logged metrics dict (one line per logging step) to OUT/metrics.jsonl."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"step": state.global_step, **logs}) + "\n")

    return JsonlMetrics()


def run_training(config: TrainConfig) -> dict[str, Any]:
    """Train (or, when OUT holds a finished run and not `force`, return its summary)."""
    from datasets import Dataset
    from trl import GRPOTrainer

    from rl.models import check_model_path, latest_checkpoint, load_model_and_tokenizer, pick_device

    out = Path(config.out)
    if (out / SUMMARY).is_file() and not config.force:
        print(f"{out}: finished run ({SUMMARY} present); use --force to train again")
        return json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    check_model_path(config.model)
    for path in (config.problems, config.exclude_problems):
        if path:
            check_input(path)
    if config.problems:
        require_problems(config.problems, config.split)  # bad rows fail here, before any model loads
    device = pick_device(config.device)
    use_vllm = rollout_backend(config.rollout_backend, device)
    out.mkdir(parents=True, exist_ok=True)
    problems = training_problems(config)
    if config.learnability_filter:
        from rl.learnability import filter_problems

        problems = filter_problems(problems, config.model, k=config.learnability_filter,
                                   keep=config.learnability_keep, max_tokens=config.max_completion_length,
                                   template=config.template, seed=config.seed, temperature=config.temperature,
                                   out=out / "learnability.jsonl", backend="vllm" if use_vllm else "hf")
    # loaded after the filter, which samples with its own engine and frees it
    model, tokenizer = load_model_and_tokenizer(config.model, device=device, dtype=config.dtype or "float32")
    rows, dropped = prompt_rows(problems, tokenizer, config.template, config.max_prompt_length)
    args = trainer_args(config, device, use_vllm)

    info = {"model": str(config.model), "preset": config.preset, "device": device,
            "rollout_backend": "vllm-colocate" if use_vllm else "transformers", "problems": len(rows),
            "dropped_long_prompts": dropped, "template": config.template,
            "settings": {k: v for k, v in config.to_dict().items() if k != "out"},
            "per_device_train_batch_size": args.per_device_train_batch_size,
            "gradient_accumulation_steps": args.gradient_accumulation_steps}
    write_json(info, out / RUN_INFO)

    trainer = GRPOTrainer(model=model, reward_funcs=countdown_reward, args=args,
                          train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                          callbacks=[_metrics_callback(out / METRICS)])
    resume = latest_checkpoint(out)
    started = time.time()
    trainer.train(resume_from_checkpoint=str(resume[1]) if resume else None)
    seconds = time.time() - started
    last = latest_checkpoint(out)
    if last is None or last[0] < trainer.state.global_step:   # always keep the final policy
        trainer.save_model(str(out / f"checkpoint-{trainer.state.global_step}"))
        tokenizer.save_pretrained(str(out / f"checkpoint-{trainer.state.global_step}"))

    logs = [h for h in trainer.state.log_history if "reward" in h]
    summary = {**{k: info[k] for k in ("model", "preset", "device", "rollout_backend", "problems")},
               "global_steps": trainer.state.global_step, "seconds": round(seconds, 2),
               "seconds_per_step": round(seconds / max(1, trainer.state.global_step), 3),
               "resumed_from": str(resume[1]) if resume else None,
               "first_reward": logs[0]["reward"] if logs else None, "last_reward": logs[-1]["reward"] if logs else None,
               "checkpoints": sorted(p.name for p in out.glob("checkpoint-*"))}
    write_json(summary, out / SUMMARY)
    return summary


def main(argv: list[str] | None = None) -> int:
    summary = run_training(TrainConfig.parse(argv))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    run_cli(main)
