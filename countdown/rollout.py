"""The rollout engine: Countdown problems + a model -> scored Trace records.

    traces = sample(problems, "models/tiny", backend="hf", sampling=Sampling(n=4, max_tokens=256))

Every completion is graded with countdown.reward, and the trace records the prompt, completion, reward,
correctness, token counts, model, checkpoint step, sample index and sampling parameters.
`sweep` samples every checkpoint of a training run (global_step_* / checkpoint-*) on the same problems,
writing one file per step and skipping steps already written. Backends live in countdown.backends.

CLI: python -m countdown.rollout PROBLEMS --model PATH --out traces.jsonl   (see --help)
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from countdown.backends import BACKENDS, Backend, load_backend, resolve_kind
from countdown.data import require_problems
from countdown.io import FORMATS, InputError, read_rows, run_cli, write_rows
from countdown.prompts import TEMPLATES, render_prompt
from countdown.records import Problem, Trace
from countdown.reward import score

_STEP_DIR = re.compile(r"^(?:global_step_|checkpoint-)(\d+)$")
# Where a checkpoint folder keeps loadable HF weights: TRL writes them in place; veRL under actor/huggingface.
_MODEL_SUBDIRS = ("", "actor/huggingface", "huggingface", "actor")


@dataclass
class Sampling:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int = 0
    stop: list[str] | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InputError(f"n must be >= 1 (got {self.n})")
        if self.max_tokens < 1:
            raise InputError(f"max_tokens must be >= 1 (got {self.max_tokens})")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1] (got {self.top_p})")
        if self.temperature < 0:
            raise InputError(f"temperature must be >= 0 (got {self.temperature})")


@dataclass
class Throughput:
    prompts: int = 0
    samples: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    steps: list[int] = field(default_factory=list)

    def add(self, other: "Throughput") -> None:
        self.prompts += other.prompts
        self.samples += other.samples
        self.completion_tokens += other.completion_tokens
        self.seconds += other.seconds

    def summary(self) -> str:
        s = max(self.seconds, 1e-9)
        return (f"{self.prompts} prompts, {self.samples} samples, {self.completion_tokens} generated tokens in "
                f"{self.seconds:.1f} s: {self.prompts / s:.2f} prompts/s, {self.completion_tokens / s:.1f} tokens/s")


def problem_seed(seed: int, problem_id: str) -> int:
    """A per-problem seed that depends only on the run seed and the problem id (not on batch or order)."""
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def generate_traces(problems: Sequence[Problem], backend: Backend, sampling: Sampling, template: str = "base",
                    step: int | None = None, condition: str | None = None,
                    model_name: str | None = None) -> tuple[list[Trace], Throughput]:
    """Sample and score with an already loaded backend; also returns the generation throughput."""
    if template not in TEMPLATES:
        raise InputError(f"unknown template {template!r} (choose from {', '.join(TEMPLATES)})")
    if template == "chat" and not getattr(backend.tokenizer, "chat_template", None):
        raise InputError(f"{backend.name}: the chat template needs the model's tokenizer with a chat template")
    prompts = [render_prompt(p.numbers, p.target, template, backend.tokenizer) for p in problems]
    seeds = [problem_seed(sampling.seed, p.id) for p in problems]
    start = time.perf_counter()
    outputs = backend.generate(prompts, seeds, sampling) if problems else []
    seconds = time.perf_counter() - start
    traces: list[Trace] = []
    for problem, prompt, completions in zip(problems, prompts, outputs):
        for idx, c in enumerate(completions):
            reward = score(c.text, problem.numbers, problem.target)
            traces.append(Trace(
                **problem.to_dict(), prompt=prompt, completion=c.text, reward=reward, correct=reward == 1.0,
                model=model_name or backend.name, step=step, sample_idx=idx, prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens, temperature=sampling.temperature, top_p=sampling.top_p,
                max_tokens=sampling.max_tokens, seed=sampling.seed, condition=condition))
    stats = Throughput(len(problems), len(traces), sum(t.completion_tokens for t in traces), seconds)
    return traces, stats


def sample(problems: Sequence[Problem], model: Any, backend: str = "auto", sampling: Sampling | None = None,
           template: str = "base", step: int | None = None, base_url: str | None = None,
           condition: str | None = None, **backend_opts: Any) -> list[Trace]:
    """Scored traces for `problems` (n per problem, in problem order).

    `model` is a model folder / hub id (vllm, hf), the served model name (openai), or an already loaded
    countdown.backends.Backend, which is reused and left open (load it once for many calls).
    `backend_opts` go to the backend (e.g. batch_size for hf, gpu_memory_utilization for vllm, api_key_env
    or concurrency for openai); `model_name` overrides the name recorded in Trace.model.
    """
    sampling = sampling or Sampling()
    model_name = backend_opts.pop("model_name", None)
    if isinstance(model, Backend):
        traces, _ = generate_traces(problems, model, sampling, template, step, condition, model_name)
        return traces
    with load_backend(model, backend, base_url, seed=sampling.seed, **backend_opts) as engine:
        traces, _ = generate_traces(problems, engine, sampling, template, step, condition, model_name)
    return traces


def checkpoint_model_dir(folder: Path) -> Path | None:
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


def sweep(problems: Sequence[Problem], run_dir: str | Path, out_dir: str | Path, backend: str = "auto",
          sampling: Sampling | None = None, template: str = "base", condition: str | None = None,
          fmt: str = "jsonl", **backend_opts: Any) -> tuple[list[Path], Throughput]:
    """Sample each checkpoint of run_dir on the same problems into out_dir/step_N.<fmt>; skip existing files."""
    sampling = sampling or Sampling()
    if resolve_kind(backend, None) == "openai":
        raise InputError("a checkpoint sweep loads each checkpoint itself; use --backend vllm or hf")
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise InputError(f"{run_dir}: no global_step_* or checkpoint-* folders with a config.json")
    out_dir = Path(out_dir)
    total = Throughput()
    paths = []
    for step, model_dir in checkpoints:
        path = out_dir / f"step_{step}.{fmt}"
        paths.append(path)
        if path.exists():
            print(f"step {step}: {path} exists, skipped", file=sys.stderr)
            continue
        with load_backend(str(model_dir), backend, seed=sampling.seed, **backend_opts) as engine:
            traces, stats = generate_traces(problems, engine, sampling, template, step, condition,
                                            model_name=str(Path(run_dir)))
        write_rows([t.to_dict() for t in traces], path)
        total.add(stats)
        total.steps.append(step)
        print(f"step {step}: {_accuracy(traces)}; {stats.summary()} -> {path}", file=sys.stderr)
    return paths, total


def _accuracy(traces: Sequence[Trace]) -> str:
    correct = sum(t.correct for t in traces)
    return f"accuracy {correct}/{len(traces)} = {correct / max(1, len(traces)):.3f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m countdown.rollout",
        description="Sample scored Countdown traces from a model with vLLM, an OpenAI-compatible server, or "
                    "transformers; or sweep every checkpoint of a training run.",
        epilog="""examples:
  python -m countdown.rollout data/test.jsonl --model models/tiny --n 4 --max-tokens 256 --out traces.jsonl
  python -m countdown.rollout data/test.jsonl --model models/tiny --backend hf --out traces.parquet
  OPENAI_API_KEY=... python -m countdown.rollout data/test.jsonl --base-url http://127.0.0.1:8000/v1 \\
      --model Qwen/Qwen2.5-3B --out traces.jsonl
  python -m countdown.rollout data/test.jsonl --run-dir runs/grpo --out-dir runs/grpo/traces --n 1""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("problems", help="problem file (Problem JSONL/JSON/parquet/CSV, or TinyZero parquet)")
    parser.add_argument("--split", help="keep only problems of this split")
    parser.add_argument("--limit", type=int, help="use only the first N problems")
    parser.add_argument("--model", help="model folder or hub id; for --backend openai the served model name")
    parser.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="auto: openai if --base-url, else vllm if installed, else hf (default auto)")
    parser.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable with the API key")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel requests (openai backend)")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per generate call (hf backend)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (hf backend; 1 is best for small models "
                        "on a busy machine)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.3, help="vllm backend (default 0.3)")
    parser.add_argument("--max-model-len", type=int, help="vllm backend context length")
    parser.add_argument("--n", type=int, default=1, help="samples per problem")
    parser.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stop", action="append", help="stop string, kept in the output (repeatable)")
    parser.add_argument("--template", default="base", choices=TEMPLATES)
    parser.add_argument("--condition", help="condition name recorded on every trace (e.g. qwen, llama-primed)")
    parser.add_argument("--step", type=int, help="training step recorded on every trace (single model)")
    parser.add_argument("--run-dir", help="sweep: sample every global_step_*/checkpoint-* under this folder")
    parser.add_argument("--out-dir", help="sweep: one file per step goes here (existing steps are skipped)")
    parser.add_argument("--format", default="jsonl", choices=FORMATS, help="sweep file format (default jsonl)")
    parser.add_argument("--out", help="output traces file (.jsonl/.parquet/...); in a sweep, all steps together")
    parser.add_argument("--overwrite", action="store_true", help="re-sample even if --out already exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sampling = Sampling(n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                        seed=args.seed, stop=args.stop)
    kind = resolve_kind(args.backend, args.base_url)
    opts = dict(api_key_env=args.api_key_env, concurrency=args.concurrency, batch_size=args.batch_size,
                threads=args.threads, gpu_memory_utilization=args.gpu_memory_utilization,
                max_model_len=args.max_model_len)
    if args.run_dir:
        if not args.out_dir:
            raise InputError("--run-dir needs --out-dir (one traces file per checkpoint step)")
        if args.base_url or kind == "openai":
            raise InputError("a checkpoint sweep loads each checkpoint itself; drop --base-url (use vllm or hf)")
    elif not args.out:
        raise InputError("--out is required")
    if args.out and Path(args.out).exists() and not args.overwrite:
        print(f"{args.out} exists; nothing to do (pass --overwrite to re-sample)", file=sys.stderr)
        return 0
    problems = require_problems(args.problems, args.split)[: args.limit]

    if args.run_dir:
        paths, stats = sweep(problems, args.run_dir, args.out_dir, args.backend, sampling, args.template,
                             args.condition, args.format, **opts)
        if args.out:
            write_rows([row for p in paths for row in read_rows(p)], args.out)
    else:
        if kind != "openai" and not args.model:
            raise InputError("--model is required (a model folder or hub id), or --run-dir for a sweep")
        with load_backend(args.model, kind, args.base_url, seed=args.seed, **opts) as engine:
            traces, stats = generate_traces(problems, engine, sampling, args.template, args.step, args.condition)
        write_rows([t.to_dict() for t in traces], args.out)
        print(f"{_accuracy(traces)} -> {args.out}", file=sys.stderr)
    print(f"throughput: {stats.summary()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_cli(main)
