"""Checkpoint evaluation: one results-table row per (condition, step), as in the paper's figures.

For each checkpoint of a run (rl.models.list_checkpoints: checkpoint-N from TRL, global_step_N from veRL)
and optionally the starting model as step 0, sample the held-out problems (temperature 1.0, 1024 new tokens
by default), label the four behaviors with the judge named by --judge (behaviors.judges), and append the row
built by behaviors.aggregate.results_table to the results file. Traces and labels of each step stay in
EVAL_DIR (default RUN_DIR/eval/<condition>/, see `step_files`) so any row can be rebuilt or re-judged later.

Resumable at two levels: steps already in the results table for this condition are skipped, and a step
whose traces were written before an interruption is judged without sampling again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from behaviors.judges import Judge, JudgeOptions, label_traces, sample_rows
from countdown.cli import CommandConfig, option, positional, preset_names, run_cli
from countdown.io import InputError, check_resume, read_rows, write_json, write_rows
from countdown.records import RESULTS_COLUMNS, RESULTS_JUDGE_COLUMNS, BehaviorLabel, Problem
from rl.backends import Sampling
from rl.rollout import BackendOptions


@dataclass(kw_only=True)
class EvaluateConfig(Sampling, BackendOptions, JudgeOptions, CommandConfig):
    """Evaluate every checkpoint of a training run on held-out Countdown problems and append one results row per
    step (accuracy, response length, behavior counts) for the condition. The defaults are the `paper` preset
    (configs/evaluate/paper.yaml)."""

    command = "evaluate"
    epilog = """examples:
  python -m rl.evaluate runs/qwen-grpo --condition qwen --problems test.jsonl --base-model Qwen/Qwen2.5-3B \\
      --results results.csv
  python -m rl.evaluate runs/llama-grpo --condition llama --problems test.jsonl --judge llm \\
      --judge-model gpt-4o-mini --judge-sample 200 --results results.csv
presets: (YAML files in configs/evaluate/; any flag overrides them)
  paper: 1 sample per problem at temperature 1.0, up to 1024 new tokens (the paper's evaluation)
  tiny:  short completions and large generation batches for tiny CPU models
Traces and labels per step go to RUN_DIR/eval/<condition>/; re-running skips finished steps."""

    run_dir: str = positional("training run folder with checkpoint-N or global_step_N folders")
    condition: str = option(help="condition name for the results table (e.g. qwen)")
    problems: str = option(help="held-out problems file")
    preset: str = option("paper", f"evaluation preset: {', '.join(preset_names('evaluate'))}")
    results: str = option("results.csv", "results table to append to (.csv/.parquet/...)", output="file")
    base_model: str | None = option(None, "also evaluate this starting model as step 0")
    split: str | None = option(None, "use only problems of this split")
    num_problems: int | None = option(None, "evaluate only the first N problems")
    eval_dir: str | None = option(None, "where per-step traces/labels go (default RUN_DIR/eval/CONDITION)")

    def validate(self) -> None:
        if self.num_problems is not None and self.num_problems < 1:
            raise InputError("--num-problems must be >= 1")
        if not self.condition.strip():
            raise InputError("--condition must not be empty")
        super().validate()

    def step_dir(self) -> Path:
        return Path(self.eval_dir) if self.eval_dir else Path(self.run_dir) / "eval" / self.condition

    def outputs(self) -> dict[str, tuple[Path, str]]:
        return {**super().outputs(), "--eval-dir": (self.step_dir(), "dir")}

    def settings(self) -> dict[str, Any]:
        """What a step's traces and labels depend on: EVAL_DIR made otherwise is never reused."""
        judge = {k: v for k, v in self.to_dict().items() if k.startswith("judge") and k not in (
            "judge_concurrency", "judge_rpm", "judge_max_retries", "judge_timeout", "judge_cache",
            "judge_api_key_env", "judge_max_failed")}
        judge["judge_sample"] = self.sample_size()   # the default (200 for llm) and an explicit 200 are one setting
        return {"problems": str(Path(self.problems).resolve()), "split": self.split,
                "num_problems": self.num_problems, "base_model": self.base_model, "template": self.template,
                "backend": self.backend_kind(), "sampling": self.sampling().to_dict(), "seed": self.seed, **judge}


SETTINGS = "settings.json"   # EVAL_DIR's record of how its steps were sampled and judged


def step_files(step_dir: str | Path, step: int) -> tuple[Path, Path]:
    """(traces, labels) files of one evaluated step."""
    step_dir = Path(step_dir)
    return step_dir / f"step_{step:06d}.traces.jsonl", step_dir / f"step_{step:06d}.labels.jsonl"


def step_models(run_dir: str | Path, base_model: str | None = None) -> list[tuple[int, str]]:
    """(step, model) to evaluate: the base model as step 0 (unless a step-0 checkpoint exists), then checkpoints."""
    from rl.models import list_checkpoints

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


def step_row(traces: list[dict], labels: list[BehaviorLabel], condition: str, step: int) -> dict[str, Any]:
    """The results row (with `judged` and `judge_failed`). Traces without a label (not in the judged sample)
    count for accuracy and length only."""
    from behaviors.aggregate import results_table

    rows = results_table(traces, labels, group_by=())
    if len(rows) != 1:
        raise RuntimeError(f"expected one results row for one step, got {len(rows)}")
    return {**{c: rows[0][c] for c in RESULTS_COLUMNS + RESULTS_JUDGE_COLUMNS}, "condition": condition, "step": step}


def evaluate_step(problems: Sequence[Problem], step: int, model: str, config: EvaluateConfig,
                  judge: Judge) -> dict[str, Any]:
    from rl.rollout import sample

    traces_path, labels_path = step_files(config.step_dir(), step)
    if traces_path.is_file():  # sampled before an interruption: judge only
        traces = read_rows(traces_path)
    else:
        traces = [t.to_dict() for t in sample(problems, model, backend=config.backend, sampling=config.sampling(),
                                              template=config.template, step=step, base_url=config.base_url,
                                              condition=config.condition, **config.backend_opts())]
        write_rows(traces, traces_path)
    # the paper judged a sample of responses per checkpoint; accuracy and length still use every trace
    judged = sample_rows(traces, config.sample_size(), seed=f"{config.seed}:{step}")
    if labels_path.is_file():
        labels = [BehaviorLabel.from_dict(r) for r in read_rows(labels_path)]
    else:
        labels = label_traces(judged, judge, progress=True)
        config.check_labels(labels)   # a judge that mostly failed leaves no labels file and no results row
        write_rows([lab.to_dict() for lab in labels], labels_path)
    return step_row(traces, labels, config.condition, step)


def evaluate_run(config: EvaluateConfig) -> list[dict[str, Any]]:
    """Evaluate every step not yet in the results table; returns the new rows (also appended to the file)."""
    from tqdm import tqdm

    from countdown.data import require_problems

    if not Path(config.run_dir).is_dir():
        raise InputError(f"{config.run_dir}: no such run directory")
    results_path = Path(config.results)
    results = read_results(results_path)
    problems = require_problems(config.problems, config.split)[:config.num_problems]
    todo = [(s, m) for s, m in step_models(config.run_dir, config.base_model)
            if s not in done_steps(results, config.condition)]
    judge = config.make_judge(config.seed)
    if not check_resume(config.step_dir() / SETTINGS, config.settings(), config.step_dir(),
                        "use another --eval-dir (and --condition), or delete it to evaluate again"):
        if any(config.step_dir().glob("step_*.jsonl")):
            raise InputError(f"{config.step_dir()}: holds step files but no {SETTINGS}; use another --eval-dir")
        write_json(config.settings(), config.step_dir() / SETTINGS)
    new_rows = []
    for step, model in tqdm(todo, desc=f"evaluate {config.condition}", unit="ckpt"):
        started = time.time()
        row = evaluate_step(problems, step, model, config, judge)
        results = read_results(results_path) + [row]  # re-read: another evaluation may share the file
        write_rows(results, results_path)
        new_rows.append(row)
        print(f"step {step}: accuracy {row['accuracy']:.3f}, response length {row['response_length']:.0f} chars, "
              f"avg verifications {row['avg_verifications']}, avg backtracking {row['avg_backtracking']}, "
              f"judged {row['judged']} (failed judgments {row['judge_failed']}) ({time.time() - started:.1f} s)")
    if not todo:
        print(f"{results_path}: every step of {config.condition} is already evaluated")
    return new_rows


def main(argv: list[str] | None = None) -> int:
    evaluate_run(EvaluateConfig.parse(argv))
    return 0


if __name__ == "__main__":
    run_cli(main)
