"""RL on Countdown with TRL's GRPOTrainer and the toolkit's safe reward.

The paper trains with veRL's PPO (actor + critic); this is the single-machine stand-in. `--preset paper`
keeps every setting the two share (lr 1e-6, KL 0.001, 256 prompts x 4 samples per step, 256/1024 token
limits, temperature 1.0, ~250 steps, a checkpoint every 10 steps); docs/rl.md lists what differs. For
the exact PPO recipe on several GPUs use `python -m rl.verl_export`.

Rollouts use vLLM inside the trainer process (TRL's colocate mode) when vllm is importable and a GPU is
present, else transformers' generate. Checkpoints land in OUT/checkpoint-<step> (model + tokenizer, so
`countdown.rollout` and `rl.evaluate` can sample them); metrics go to the console, OUT/metrics.jsonl and
any `--report-to` integration. Re-running the same command resumes from the newest checkpoint.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from countdown.data import require_problems
from countdown.io import InputError, run_cli, write_json
from countdown.prompts import TEMPLATES, render_prompt
from countdown.records import Problem
from countdown.reward import DEFAULT as REWARD, score

SUMMARY = "train_summary.json"
RUN_INFO = "run_info.json"
METRICS = "metrics.jsonl"


@dataclass(frozen=True)
class GRPOPreset:
    steps: int
    prompts_per_step: int
    num_generations: int
    lr: float
    beta: float
    max_prompt_length: int
    max_completion_length: int
    save_steps: int
    temperature: float
    micro_batch_size: int          # completions per forward/backward pass on one device
    epochs: float                  # passes over the problem set during `steps` (sets the default set size)
    problem_preset: str            # countdown.generate preset for generated problems
    logging_steps: int = 1


PRESETS: dict[str, GRPOPreset] = {
    # The paper's veRL run, as far as GRPO allows: 15 epochs of 256-prompt batches ~ 250 steps.
    "paper": GRPOPreset(steps=250, prompts_per_step=256, num_generations=4, lr=1e-6, beta=0.001,
                        max_prompt_length=256, max_completion_length=1024, save_steps=10, temperature=1.0,
                        micro_batch_size=16, epochs=15, problem_preset="tinyzero"),
    # CPU in minutes: a handful of steps over short completions from a tiny model.
    "tiny": GRPOPreset(steps=6, prompts_per_step=4, num_generations=4, lr=1e-4, beta=0.001,
                       max_prompt_length=256, max_completion_length=48, save_steps=3, temperature=0.7,
                       micro_batch_size=16, epochs=2, problem_preset="tiny"),
}


def countdown_reward(completions: list[str], numbers: list[list[int]], target: list[int],
                     log_metric=None, **_: Any) -> list[float]:
    """TRL reward function: countdown.reward.score per completion (dataset columns arrive as lists)."""
    rewards = [score(c, n, t) for c, n, t in zip(completions, numbers, target)]
    if log_metric is not None and rewards:
        log_metric("countdown/accuracy", sum(r == REWARD.correct for r in rewards) / len(rewards))
        log_metric("countdown/answer_rate", sum(r != REWARD.none for r in rewards) / len(rewards))
    return rewards


def training_problems(args: argparse.Namespace) -> list[Problem]:
    if args.problems:
        return require_problems(args.problems, args.split)
    from countdown.generate import generate_problems

    exclude = {p.key for p in require_problems(args.exclude_problems)} if args.exclude_problems else None
    return generate_problems(args.num_problems, seed=args.seed, preset=args.problem_preset, split="train",
                             exclude=exclude)


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
    has_vllm = importlib.util.find_spec("vllm") is not None
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


def build_config(args: argparse.Namespace, device: str, use_vllm: bool):
    import torch
    from trl import GRPOConfig

    from rl.models import trainer_precision

    micro, accumulation = batch_layout(args.prompts_per_step, args.num_generations, args.micro_batch_size)
    extra: dict[str, Any] = {}
    if use_vllm:
        extra.update(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=args.vllm_gpu_memory,
                     vllm_max_model_length=args.max_prompt_length + args.max_completion_length)
    if device.startswith("cuda"):
        extra["model_init_kwargs"] = {"dtype": torch.bfloat16}  # only the frozen KL reference model uses it
    return GRPOConfig(
        output_dir=str(args.out),
        max_steps=args.steps,
        learning_rate=args.lr,
        lr_scheduler_type="constant",       # veRL's actor default: no decay, no warmup
        beta=args.beta,
        num_generations=args.num_generations,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,  # -> one generation batch = one optimizer step
        max_completion_length=args.max_completion_length,
        temperature=args.temperature,
        top_p=1.0,
        loss_type=args.loss_type,
        scale_rewards=args.scale_rewards,
        disable_dropout=True,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_only_model=not args.resumable,
        logging_steps=args.logging_steps,
        report_to=args.report_to,
        seed=args.seed,
        data_seed=args.seed,
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


def latest_checkpoint(out: Path) -> Path | None:
    ckpts = [p for p in out.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and (p / "config.json").is_file()]
    return max(ckpts, key=lambda p: int(p.name.split("-")[-1]), default=None)


def run_training(args: argparse.Namespace) -> dict[str, Any]:
    from datasets import Dataset
    from trl import GRPOTrainer

    from rl.models import load_model_and_tokenizer, pick_device

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(args.device)
    use_vllm = rollout_backend(args.rollout_backend, device)
    problems = training_problems(args)
    if args.learnability_filter:
        from rl.learnability import filter_problems

        problems = filter_problems(problems, args.model, k=args.learnability_filter, keep=args.learnability_keep,
                                   max_tokens=args.max_completion_length, template=args.template,
                                   seed=args.seed, temperature=args.temperature, out=out / "learnability.jsonl",
                                   backend="vllm" if use_vllm else "hf")
    # loaded after the filter, which samples with its own engine and frees it
    model, tokenizer = load_model_and_tokenizer(args.model, device=device, dtype=args.dtype or "float32")
    rows, dropped = prompt_rows(problems, tokenizer, args.template, args.max_prompt_length)
    config = build_config(args, device, use_vllm)

    info = {"model": str(args.model), "preset": args.preset, "device": device,
            "rollout_backend": "vllm-colocate" if use_vllm else "transformers", "problems": len(rows),
            "dropped_long_prompts": dropped, "template": args.template,
            "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
            "per_device_train_batch_size": config.per_device_train_batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps}
    write_json(info, out / RUN_INFO)

    trainer = GRPOTrainer(model=model, reward_funcs=countdown_reward, args=config,
                          train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                          callbacks=[_metrics_callback(out / METRICS)])
    resume = latest_checkpoint(out)
    started = time.time()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.time() - started
    if latest_checkpoint(out) is None or int(latest_checkpoint(out).name.split("-")[-1]) < trainer.state.global_step:
        trainer.save_model(str(out / f"checkpoint-{trainer.state.global_step}"))  # always keep the final policy
        tokenizer.save_pretrained(str(out / f"checkpoint-{trainer.state.global_step}"))

    logs = [h for h in trainer.state.log_history if "reward" in h]
    summary = {**{k: info[k] for k in ("model", "preset", "device", "rollout_backend", "problems")},
               "global_steps": trainer.state.global_step, "seconds": round(seconds, 2),
               "seconds_per_step": round(seconds / max(1, trainer.state.global_step), 3),
               "resumed_from": str(resume) if resume else None,
               "first_reward": logs[0]["reward"] if logs else None, "last_reward": logs[-1]["reward"] if logs else None,
               "checkpoints": sorted(p.name for p in out.glob("checkpoint-*"))}
    write_json(summary, out / SUMMARY)
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rl.train",
        description="GRPO on Countdown with TRL and the toolkit's reward (1.0 correct / 0.1 wrong answer / 0 none). "
                    "Checkpoints go to OUT/checkpoint-<step>; re-running resumes from the newest one.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  python -m rl.train --model Qwen/Qwen2.5-3B --out runs/qwen-grpo --preset paper\n"
               "  python -m rl.train --model runs/sft/all_strategies --out runs/primed-grpo --preset paper "
               "--problems train.jsonl\n"
               "  python -m rl.train --model runs/tiny-model --out runs/tiny-grpo --preset tiny\n"
               "presets:\n"
               "  paper: 250 steps, 256 prompts x 4 samples, lr 1e-6, KL beta 0.001, 256/1024 prompt/response tokens,\n"
               "         temperature 1.0, checkpoint every 10 steps (see docs/rl.md for what differs from veRL PPO)\n"
               "  tiny:  6 steps, 4 prompts x 4 samples, 48-token completions, temperature 0.7, checkpoint every 3 steps (CPU)",
    )
    parser.add_argument("--model", required=True, help="starting model folder or hub id")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, metrics.jsonl, run_info.json)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    parser.add_argument("--problems", help="training problems file (default: generate --num-problems)")
    parser.add_argument("--split", help="use only problems of this split from --problems")
    parser.add_argument("--exclude-problems", help="held-out problems file whose problems are never generated")
    parser.add_argument("--num-problems", type=int, help="problems to generate (default: steps x prompts / epochs)")
    parser.add_argument("--problem-preset", help="countdown.generate preset for generated problems")
    parser.add_argument("--template", choices=TEMPLATES, default="base", help="prompt template")
    parser.add_argument("--steps", type=int, help="optimizer steps (one per batch of prompts)")
    parser.add_argument("--save-steps", type=int, help="checkpoint every N steps")
    parser.add_argument("--prompts-per-step", type=int, help="prompts per step")
    parser.add_argument("--num-generations", type=int, help="samples per prompt (GRPO group size, >= 2)")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--beta", type=float, help="KL coefficient against the starting model")
    parser.add_argument("--temperature", type=float, help="rollout temperature")
    parser.add_argument("--max-prompt-length", type=int, help="drop prompts longer than this (tokens)")
    parser.add_argument("--max-completion-length", type=int, help="response token limit")
    parser.add_argument("--micro-batch-size", type=int, help="completions per forward/backward pass")
    parser.add_argument("--logging-steps", type=int, help="log metrics every N steps")
    parser.add_argument("--loss-type", default="dapo",
                        help="TRL loss aggregation (default dapo = token mean over the batch, like veRL)")
    parser.add_argument("--scale-rewards", default="group", choices=("group", "batch", "none"),
                        help="advantage scaling: group std (GRPO), batch std, or none (Dr. GRPO)")
    parser.add_argument("--learnability-filter", type=int, metavar="K",
                        help="sample K completions per problem from the starting model and keep the most learnable")
    parser.add_argument("--learnability-keep", type=float, default=0.5,
                        help="share (<=1) or count (>1) of problems the filter keeps (default 0.5)")
    parser.add_argument("--rollout-backend", choices=("auto", "vllm", "transformers"), default="auto")
    parser.add_argument("--vllm-gpu-memory", type=float, default=0.3, help="GPU memory share for colocated vLLM")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--dtype", help="weight dtype while training (default float32; bf16 autocast on CUDA)")
    parser.add_argument("--resumable", action=argparse.BooleanOptionalAction, default=None,
                        help="store optimizer state in checkpoints (default: on for tiny, off for paper: "
                             "a 3B model's Adam state is ~24 GB per checkpoint)")
    parser.add_argument("--report-to", default="none", help="TRL/transformers report_to (e.g. wandb, tensorboard)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="run even if OUT holds a finished run (e.g. with more --steps; continues from the newest checkpoint)")
    return parser


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    preset = PRESETS[args.preset]
    for f in dataclasses.fields(preset):
        if getattr(args, f.name, None) is None:
            setattr(args, f.name, getattr(preset, f.name))
    if args.resumable is None:
        args.resumable = args.preset != "paper"
    for name in ("steps", "save_steps", "prompts_per_step", "max_prompt_length", "max_completion_length",
                 "micro_batch_size", "logging_steps"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    if args.num_generations < 2:
        raise InputError(f"--num-generations must be >= 2 for a group baseline (got {args.num_generations})")
    if not (args.lr > 0 and math.isfinite(args.lr)) or args.beta < 0 or args.temperature <= 0:
        raise InputError("--lr and --temperature must be positive and --beta non-negative")
    if args.num_problems is None:
        args.num_problems = max(args.prompts_per_step, math.ceil(args.steps * args.prompts_per_step / args.epochs))
    if args.learnability_filter is not None and args.learnability_filter < 2:
        raise InputError("--learnability-filter K needs K >= 2 samples per problem")
    batch_layout(args.prompts_per_step, args.num_generations, args.micro_batch_size)
    return args


def main(argv: list[str] | None = None) -> int:
    args = resolve(build_parser().parse_args(argv))
    from rl.models import check_model_path

    check_model_path(args.model)
    for path in (args.problems, args.exclude_problems):
        if path and not Path(path).is_file():
            raise InputError(f"{path}: no such file")
    if args.problems:
        require_problems(args.problems, args.split)  # bad rows fail here, before any model loads
    if (Path(args.out) / SUMMARY).is_file() and not args.force:
        print(f"{args.out}: finished run ({SUMMARY} present); use --force to train again")
        return 0
    summary = run_training(args)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    run_cli(main)
