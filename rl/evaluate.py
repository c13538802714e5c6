"""Checkpoint evaluation: one results-table row per (condition, step), as in the paper's figures.

For each checkpoint of a run (countdown.rollout.list_checkpoints: checkpoint-N from TRL, global_step_N
from veRL) and optionally the starting model as step 0, sample the held-out problems (temperature 1.0,
1024 new tokens by default), label the four behaviors (behaviors.classify), and append the row built by
behaviors.aggregate.results_table to the results file. Traces and labels of each step stay in
RUN_DIR/eval/<condition>/ so any row can be rebuilt or re-judged later.

Resumable at two levels: steps already in the results table for this condition are skipped, and a step
whose traces were written before an interruption is judged without sampling again.
"""
from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any, Sequence

from countdown.io import InputError, read_rows, run_cli, write_rows
from countdown.records import RESULTS_COLUMNS, BehaviorLabel, Problem


def step_models(run_dir: str | Path, base_model: str | None = None) -> list[tuple[int, str]]:
    """(step, model) to evaluate: the base model as step 0 (unless a step-0 checkpoint exists), then checkpoints."""
    from countdown.rollout import list_checkpoints

    found = [(step, str(path)) for step, path in list_checkpoints(run_dir)]
    if base_model and all(step != 0 for step, _ in found):
        found.insert(0, (0, str(base_model)))
    if not found:
        raise InputError(f"{run_dir}: no checkpoint-N / global_step_N folders with model weights "
                         "(pass --base-model to evaluate the starting model as step 0)")
    return found


def read_results(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = read_rows(path)
    if rows:
        missing = [c for c in RESULTS_COLUMNS if c not in rows[0]]
        if missing:
            raise InputError(f"{path}: not a results table (missing column(s): {', '.join(missing)})")
    return rows


def done_steps(rows: Sequence[dict[str, Any]], condition: str) -> set[int]:
    return {int(r["step"]) for r in rows if str(r["condition"]) == condition and r.get("step") is not None}


def judged_subset(traces: list[dict], judge_sample: int, seed: int, step: int) -> list[dict]:
    """The traces the behavior judge sees: all, or a seeded random sample (the paper judged 200 per step;
    accuracy and response length still use every trace)."""
    if not judge_sample or judge_sample >= len(traces):
        return traces
    rng = random.Random(f"{seed}:{step}")
    keep = sorted(rng.sample(range(len(traces)), judge_sample))
    return [traces[i] for i in keep]


def step_row(traces: list[dict], labels: list[BehaviorLabel], condition: str, step: int) -> dict[str, Any]:
    """The results row. Traces without a label (not in the judged sample) count for accuracy and length only."""
    from behaviors.aggregate import results_table

    rows = results_table(traces, labels, group_by=())
    if len(rows) != 1:
        raise RuntimeError(f"expected one results row for one step, got {len(rows)}")
    return {**{c: rows[0][c] for c in RESULTS_COLUMNS}, "condition": condition, "step": step}


def evaluate_step(problems: Sequence[Problem], step: int, model: str, condition: str, step_dir: Path,
                  args: argparse.Namespace) -> dict[str, Any]:
    from behaviors.classify import label_traces
    from countdown.rollout import Sampling, sample

    traces_path = step_dir / f"step_{step:06d}.traces.jsonl"
    labels_path = step_dir / f"step_{step:06d}.labels.jsonl"
    if traces_path.is_file():  # sampled before an interruption: judge only
        traces = read_rows(traces_path)
    else:
        sampling = Sampling(n=args.num_samples, temperature=args.temperature, max_tokens=args.max_tokens,
                            seed=args.seed)
        opts = {"batch_size": args.batch_size, "gpu_memory_utilization": args.gpu_memory_utilization}
        traces = [t.to_dict() for t in sample(problems, model, backend=args.backend, sampling=sampling,
                                              template=args.template, step=step, base_url=args.base_url,
                                              condition=condition, **opts)]
        write_rows(traces, traces_path)
    judged = judged_subset(traces, args.judge_sample, args.seed, step)
    if labels_path.is_file():
        labels = [BehaviorLabel.from_dict(r) for r in read_rows(labels_path)]
    else:
        labels = label_traces(judged, judge=args.judge, **judge_options(args))
        write_rows([lab.to_dict() for lab in labels], labels_path)
    return step_row(traces, labels, condition, step)


def judge_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.judge != "llm":
        return {}
    opts = {"model": args.judge_model, "base_url": args.judge_base_url, "concurrency": args.judge_concurrency,
            "api_key_env": args.judge_api_key_env, "rpm": args.judge_rpm, "cache": args.judge_cache}
    return {"progress": True, **{k: v for k, v in opts.items() if v is not None}}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from tqdm import tqdm

    from countdown.data import require_problems

    problems = require_problems(args.problems, args.split)
    if args.num_problems:
        problems = problems[:args.num_problems]
    results_path = Path(args.results)
    results = read_results(results_path)
    todo = [(s, m) for s, m in step_models(args.run_dir, args.base_model) if s not in done_steps(results,
                                                                                              args.condition)]
    step_dir = Path(args.eval_dir) if args.eval_dir else Path(args.run_dir) / "eval" / args.condition
    new_rows = []
    for step, model in tqdm(todo, desc=f"evaluate {args.condition}", unit="ckpt"):
        started = time.time()
        row = evaluate_step(problems, step, model, args.condition, step_dir, args)
        results = read_results(results_path) + [row]  # re-read: another evaluation may share the file
        write_rows(results, results_path)
        new_rows.append(row)
        print(f"step {step}: accuracy {row['accuracy']:.3f}, response length {row['response_length']:.0f} chars, "
              f"avg verifications {row['avg_verifications']}, avg backtracking {row['avg_backtracking']} "
              f"({time.time() - started:.1f} s)")
    if not todo:
        print(f"{results_path}: every step of {args.condition} is already evaluated")
    return new_rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rl.evaluate",
        description="Evaluate every checkpoint of a training run on held-out Countdown problems and append one "
                    "results row per step (accuracy, response length, behavior counts) for the condition.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  python -m rl.evaluate runs/qwen-grpo --condition qwen --problems test.jsonl "
               "--base-model Qwen/Qwen2.5-3B --results results.csv\n"
               "  python -m rl.evaluate runs/llama-grpo --condition llama --problems test.jsonl --judge llm "
               "--judge-model gpt-4o-mini --judge-sample 200 --results results.csv\n"
               "Traces and labels per step go to RUN_DIR/eval/<condition>/; re-running skips finished steps.",
    )
    parser.add_argument("run_dir", help="training run folder with checkpoint-N or global_step_N folders")
    parser.add_argument("--condition", required=True, help="condition name for the results table (e.g. qwen)")
    parser.add_argument("--problems", required=True, help="held-out problems file")
    parser.add_argument("--results", default="results.csv", help="results table to append to (.csv/.parquet/...)")
    parser.add_argument("--base-model", help="also evaluate this starting model as step 0")
    parser.add_argument("--split", help="use only problems of this split")
    parser.add_argument("--num-problems", type=int, help="evaluate only the first N problems")
    parser.add_argument("--num-samples", type=int, default=1, help="samples per problem (default 1)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--template", default="base", choices=("base", "chat"))
    parser.add_argument("--backend", default="auto", choices=("auto", "vllm", "hf", "openai"),
                        help="rollout backend (auto: vllm when installed, else transformers)")
    parser.add_argument("--base-url", help="OpenAI-compatible server for --backend openai")
    parser.add_argument("--batch-size", type=int, help="generation batch size for the hf backend")
    parser.add_argument("--gpu-memory-utilization", type=float, help="vLLM GPU memory share")
    parser.add_argument("--judge", default="rules", choices=("rules", "llm"), help="behavior judge")
    parser.add_argument("--judge-sample", type=int, default=0,
                        help="judge behaviors on N random traces per step (0 = all; the paper used 200)")
    parser.add_argument("--judge-model", help="LLM judge model name (e.g. gpt-4o-mini)")
    parser.add_argument("--judge-base-url", help="OpenAI-compatible endpoint for the LLM judge")
    parser.add_argument("--judge-concurrency", type=int, help="parallel judge requests")
    parser.add_argument("--judge-rpm", type=float, help="judge requests per minute limit")
    parser.add_argument("--judge-api-key-env", help="environment variable holding the judge API key")
    parser.add_argument("--judge-cache", help="judge reply cache file (default: behaviors' default cache)")
    parser.add_argument("--eval-dir", help="where per-step traces/labels go (default RUN_DIR/eval/CONDITION)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("num_samples", "max_tokens"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1")
    if args.judge_sample < 0 or (args.num_problems is not None and args.num_problems < 1):
        raise InputError("--judge-sample must be >= 0 and --num-problems >= 1")
    if not args.condition.strip():
        raise InputError("--condition must not be empty")
    if not Path(args.run_dir).is_dir():
        raise InputError(f"{args.run_dir}: no such run directory")
    read_results(Path(args.results))
    run(args)
    return 0


if __name__ == "__main__":
    run_cli(main)
