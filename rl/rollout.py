"""The rollout engine: Countdown problems + a model -> scored Trace records.

    traces = sample(problems, "models/tiny", backend="hf", sampling=Sampling(n=4, max_tokens=256))

Every completion is graded with countdown.reward, and the trace records the prompt, completion, reward,
correctness, token counts, model, checkpoint step, sample index and sampling parameters.
`sweep` samples every checkpoint of a training run (rl.models.list_checkpoints) on the same problems,
writing one file per step and skipping steps already written. Backends and the sampling settings
(rl.backends.Sampling) live in rl.backends; the backend options shared by every command that samples
(rollout, evaluate, learnability) are defined here once.

CLI: python -m rl.rollout PROBLEMS --model PATH --out traces.jsonl   (see --help)
"""
from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from countdown.cli import CommandConfig, Options, option, positional, run_cli
from countdown.data import require_problems
from countdown.io import FORMATS, InputError, check_resume, read_rows, write_json, write_rows
from countdown.prompts import TEMPLATES, render_prompt
from countdown.records import Problem, Trace
from countdown.reward import score
from rl.backends import BACKENDS, Backend, Sampling, load_backend, resolve_kind
from rl.models import list_checkpoints


@dataclass(kw_only=True)
class BackendOptions(Options):
    """Which engine generates and how it is set up; each backend ignores the options of the others."""

    backend: str = option("auto", "auto: openai if --base-url, else vllm if installed, else hf",
                          choices=BACKENDS, group="generation backend")
    template: str = option("base", "prompt template", choices=TEMPLATES, group="generation backend")
    base_url: str | None = option(None, "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (openai)",
                                  group="generation backend")
    api_key_env: str = option("OPENAI_API_KEY", "environment variable holding the server's API key (openai)",
                              group="generation backend")
    concurrency: int = option(8, "parallel requests (openai)", group="generation backend")
    batch_size: int = option(16, "sequences per generate call (hf)", group="generation backend")
    threads: int | None = option(None, "torch CPU threads (hf; 1 is best for small models on a busy machine)",
                                 group="generation backend")
    gpu_memory_utilization: float = option(0.3, "GPU memory share of the engine (vllm)",
                                           group="generation backend")
    max_model_len: int | None = option(None, "context length (vllm)", group="generation backend")

    def backend_kind(self) -> str:
        return resolve_kind(self.backend, self.base_url)

    def backend_opts(self) -> dict[str, Any]:
        """Keyword options for rl.backends.load_backend (each backend keeps the ones it understands)."""
        return dict(api_key_env=self.api_key_env, concurrency=self.concurrency, batch_size=self.batch_size,
                    threads=self.threads, gpu_memory_utilization=self.gpu_memory_utilization,
                    max_model_len=self.max_model_len)

    def validate(self) -> None:
        if self.concurrency < 1 or self.batch_size < 1:
            raise InputError("--concurrency and --batch-size must be >= 1")
        super().validate()


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


SETTINGS = "settings.json"   # a sweep folder's settings record; a single output's is <out>.settings.json


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
    rl.backends.Backend, which is reused and left open (load it once for many calls).
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


def sweep(problems: Sequence[Problem], run_dir: str | Path, out_dir: str | Path, backend: str = "auto",
          sampling: Sampling | None = None, template: str = "base", condition: str | None = None,
          fmt: str = "jsonl", settings: dict[str, Any] | None = None, overwrite: bool = False,
          **backend_opts: Any) -> tuple[list[Path], Throughput]:
    """Sample each checkpoint of run_dir on the same problems into out_dir/step_N.<fmt>, skipping steps already
    written. out_dir/settings.json records how (`settings`; default: the sampling, template and condition):
    a sweep with other settings refuses to add to it."""
    sampling = sampling or Sampling()
    if resolve_kind(backend, None) == "openai":
        raise InputError("a checkpoint sweep loads each checkpoint itself; use --backend vllm or hf")
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise InputError(f"{run_dir}: no global_step_* or checkpoint-* folders with a config.json")
    out_dir = Path(out_dir)
    settings = settings or {"sampling": sampling.to_dict(), "template": template, "condition": condition,
                            "format": fmt}
    done = not overwrite and check_resume(out_dir / SETTINGS, settings, out_dir)
    if not done and not overwrite and any(out_dir.glob(f"step_*.{fmt}")):
        raise InputError(f"{out_dir}: holds step files but no {SETTINGS}; use a new --out-dir, or --overwrite")
    if overwrite:   # old steps go first, so an interrupted overwrite never passes them off as the new settings'
        for old in out_dir.glob(f"step_*.{fmt}"):
            old.unlink()
    write_json(settings, out_dir / SETTINGS)
    total = Throughput()
    paths = []
    for step, model_dir in checkpoints:
        path = out_dir / f"step_{step}.{fmt}"
        paths.append(path)
        if path.exists() and read_rows(path):   # an empty file is not a finished step
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


@dataclass(kw_only=True)
class RolloutConfig(Sampling, BackendOptions, CommandConfig):
    """Sample scored Countdown traces from a model with vLLM, an OpenAI-compatible server, or transformers; or
    sweep every checkpoint of a training run."""

    epilog = """examples:
  python -m rl.rollout data/test.jsonl --model models/tiny --n 4 --max-tokens 256 --out traces.jsonl
  python -m rl.rollout data/test.jsonl --model models/tiny --backend hf --out traces.parquet
  OPENAI_API_KEY=... python -m rl.rollout data/test.jsonl --base-url http://127.0.0.1:8000/v1 \\
      --model Qwen/Qwen2.5-3B --out traces.jsonl
  python -m rl.rollout data/test.jsonl --run-dir runs/grpo --out-dir runs/grpo/traces --n 1"""

    problems: str = positional("problem file (Problem JSONL/JSON/parquet/CSV, or TinyZero parquet)")
    model: str | None = option(None, "model folder or hub id; for --backend openai the served model name")
    split: str | None = option(None, "keep only problems of this split")
    limit: int | None = option(None, "use only the first N problems")
    condition: str | None = option(None, "condition name recorded on every trace (e.g. qwen, llama-primed)")
    step: int | None = option(None, "training step recorded on every trace (single model)")
    run_dir: str | None = option(None, "sweep: sample every global_step_*/checkpoint-* under this folder")
    out_dir: str | None = option(None, "sweep: one file per step goes here (existing steps are skipped)",
                                 output="dir")
    format: str = option("jsonl", "sweep file format", choices=FORMATS)
    out: str | None = option(None, "output traces file (.jsonl/.parquet/...); in a sweep, all steps together",
                             output="file")
    overwrite: bool = option(False, "re-sample even if --out already exists")

    def validate(self) -> None:
        if self.run_dir:
            if not self.out_dir:
                raise InputError("--run-dir needs --out-dir (one traces file per checkpoint step)")
            if self.base_url or self.backend == "openai":
                raise InputError("a checkpoint sweep loads each checkpoint itself; drop --base-url (use vllm or hf)")
        elif self.out_dir:
            raise InputError("--out-dir is for a checkpoint sweep: give --run-dir too, or use --out")
        elif not self.out:
            raise InputError("--out is required")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit must be >= 1 (got {self.limit})")
        super().validate()

    def settings(self) -> dict[str, Any]:
        """What the traces depend on: an existing output made otherwise is never extended or reused."""
        problems = str(Path(self.problems).resolve())
        source = {"run_dir": str(Path(self.run_dir).resolve())} if self.run_dir else {"model": self.model}
        return {"problems": problems, "split": self.split, "limit": self.limit, **source,
                "backend": self.backend_kind(), "template": self.template, "condition": self.condition,
                "step": self.step, "sampling": self.sampling().to_dict(), "format": self.format}


def main(argv: list[str] | None = None) -> int:
    config = RolloutConfig.parse(argv)
    sampling = config.sampling()
    kind = config.backend_kind()
    problems = require_problems(config.problems, config.split)[: config.limit]

    if config.run_dir:   # the sweep resumes step by step (out_dir/settings.json); --out is rebuilt from the steps
        paths, stats = sweep(problems, config.run_dir, config.out_dir, config.backend, sampling, config.template,
                             config.condition, config.format, settings=config.settings(),
                             overwrite=config.overwrite, **config.backend_opts())
        if config.out:
            write_rows([row for p in paths for row in read_rows(p)], config.out)
    else:
        if kind != "openai" and not config.model:
            raise InputError("--model is required (a model folder or hub id), or --run-dir for a sweep")
        record = Path(f"{config.out}.settings.json")
        if not config.overwrite and Path(config.out).exists() and read_rows(config.out):   # empty is not done
            if check_resume(record, config.settings(), config.out):
                print(f"{config.out} exists; nothing to do (pass --overwrite to re-sample)", file=sys.stderr)
                return 0
            raise InputError(f"{config.out}: exists without a settings record ({record.name}); use a new --out, "
                             "or --overwrite to re-sample")
        record.unlink(missing_ok=True)   # an output and its record are replaced together, record last
        with load_backend(config.model, kind, config.base_url, seed=config.seed, **config.backend_opts()) as engine:
            traces, stats = generate_traces(problems, engine, sampling, config.template, config.step,
                                            config.condition)
        write_rows([t.to_dict() for t in traces], config.out)
        write_json(config.settings(), record)
        print(f"{_accuracy(traces)} -> {config.out}", file=sys.stderr)
    print(f"throughput: {stats.summary()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_cli(main)
