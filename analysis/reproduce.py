"""The offline end-to-end reproduction: the whole spine of the paper at toy scale, one command.

    python -m analysis.reproduce --preset tiny --out runs/demo

Stages (each leaves its artifact in OUT and a done-marker in OUT/stages/, so a re-run skips finished work):

 1. problems   countdown.generate: held-out test, RL train and base-pretraining problems, disjoint.
 2. priming    priming sets from the programmatic synthesizer (priming.build, test problems excluded).
 3. base       a locally built model (rl.tiny) trained on direct-answer text only (prompt -> answer, no
               thought), so it produces the answer format but none of the four behaviors: our "Llama".
               The organism preset instead copies its committed checkpoint (--base-model), which --pretrain
               remakes from priming.corpus (random guesses and arithmetic tables).
 4. sft/*      each priming condition fine-tuned into the base model (rl.sft); cpt/* instead continues the
               base's pretraining on a priming.corpus corpus (`cpt:` conditions), and `no_priming` has no
               stage here: it starts GRPO from the base itself.
 5. rl/*       a short GRPO run from each primed model (rl.train).
 6. eval/*     every checkpoint sampled on the held-out problems and judged (rl.evaluate) -> one results
               table per condition.
 7. figures    analysis.figures over all results tables and the priming manifest.
 8. report     OUT/report.md: the measured outcome in plain words (analysis.outcome), tables, figures,
               stage timings.

Each stage calls its tool's library function with that tool's config object — the tool's own preset (`tiny`
unless the pipeline preset names another) with the pipeline's per-stage options (`base`, `sft`, `train`,
`evaluate`) on top — so what runs here is what the CLIs run, and every stage option is declared once, by
its tool. Presets are YAML files in
configs/reproduce/: `smoke` (about a minute; what the test runs), `organism` (the README demo: the CPU model
organism), `organism-pair` (its Qwen-vs-Llama analog: continued pretraining with and without the behaviors,
then GRPO with no priming), `tiny` (the plumbing at toy scale), `gpu` (one H100; its training and evaluation
stages run in child processes so each returns its GPU memory).
"""
from __future__ import annotations

import importlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from behaviors.judges import JudgeOptions
from countdown.cli import CommandConfig, checked_values, layered_values, option, preset_names, run_cli
from countdown.io import InputError, atomic_path, read_rows, write_json, write_rows
from priming.compact import WRONG_ENDINGS

STAGES_DIR = "stages"
NO_PRIMING = "no_priming"   # the condition that starts GRPO from the base model itself
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "WANDB_DISABLED": "true", "VLLM_NO_USAGE_STATS": "1"}


@dataclass(kw_only=True)
class ReproduceConfig(JudgeOptions, CommandConfig):
    """Offline end-to-end reproduction at toy scale: problems -> base model without the behaviors -> priming
    sets -> SFT -> GRPO -> checkpoint evaluation -> results tables -> figures -> a report of what was measured.
    The defaults are the `tiny` preset (configs/reproduce/tiny.yaml)."""

    command = "reproduce"
    epilog = """presets: (YAML files in configs/reproduce/; any flag overrides them)
  smoke     whole spine in about a minute on CPU (for tests); numbers mean nothing
  organism  the README demo: the CPU model organism from its committed ~1M-parameter base (Countdown with 3
            numbers 1..9), compact search priming, 3 conditions, 40 GRPO steps, 256 held-out problems
  organism-pair  the organism's Qwen-vs-Llama analog: its base continued-pretrained on searches (cpt_rich) or
            on guesses (cpt_minimal) at the same token budget, then GRPO with no priming (and no_priming)
  tiny      the plumbing at toy scale: ~3M-parameter model, 3 conditions, short GRPO (solves nothing)
  gpu       one H100: the organism and its pair in one run, 7 conditions, 200 GRPO steps of 64 x 8, 4 samples
            per held-out problem

examples:
  python -m analysis.reproduce --preset organism --out runs/demo    # the README demo (CPU, offline)
  python -m analysis.reproduce --preset organism --pretrain --out runs/organism-pretrain  # remake its base
  python -m analysis.reproduce --preset organism-pair --out runs/pair  # Qwen-vs-Llama analog (CPU, ~20 min)
  python -m analysis.reproduce --preset smoke --out /tmp/smoke      # about a minute; numbers mean nothing
  python -m analysis.reproduce --preset gpu --out runs/gpu          # one H100 (not run in CI)

Re-running the same command resumes: finished stages (OUT/stages/*.json) are skipped. Everything a stage
makes stays in OUT: problems/, priming/, base/, sft/<condition>/, rl/<condition>/, eval/<condition>/,
results/<condition>.csv, figures/, report.md."""

    out: str = option(help="run folder (every stage's artifact is kept here)", output="dir")
    preset: str = option("tiny", f"pipeline preset: {', '.join(preset_names('reproduce'))}")
    seed: int = option(0, "seed of every stage")
    force: bool = option(False, "run every stage again (the tools' own resume still keeps finished models)")
    backend: str | None = option(None, "generation backend for evaluation (default: hf on CPU, auto on a GPU)",
                                 choices=("auto", "hf", "vllm"))
    conditions: list[str] = option(default_factory=lambda: ["negative_control", "all_strategies",
                                                            "incorrect_only"],
                                   help="conditions: priming conditions (priming.build), no_priming (GRPO from the "
                                   "base itself), or the names given in --cpt")
    isolate: bool = option(False, "run the training and evaluation stages in child processes (frees GPU memory)")
    # problems (a countdown.generate preset); the GRPO set is steps x prompts per step of the train stage
    problem_preset: str = option("tiny", "countdown.generate preset of every problem")
    n_test: int = option(64, "held-out evaluation problems")
    n_pretrain: int = option(2000, "direct-answer examples that teach the base model the format")
    n_priming: int = option(200, "problems per priming set")
    priming_orders: int = option(1, "priming.build --orders: each problem up to N times, its numbers reordered "
                                 "(1: each once, as in the paper)", metavar="N")
    correct_share: str = option("all", "priming.build --correct-share: all, paper (the paper's unfiltered "
                                "shares) or P", metavar="all|paper|P")
    incorrect: str = option("give-up", "priming.build --incorrect (style search): how incorrect_only's searches "
                            "end wrong: give-up or slip", choices=WRONG_ENDINGS)
    priming_style: str = option("prose", "priming.build --style: prose (every behavior a condition asks for) or "
                                "search (the organism's compact generate-and-test searches)",
                                choices=("prose", "search"))
    template: str = option("base", "prompt template of every stage (priming, base corpus, GRPO, evaluation)",
                           choices=("base", "compact"))
    # the base model: a ready one (--base-model), or rl.tiny pretrained here
    base_model: str | None = option(None, "start from this ready base model folder (the organism preset's "
                                    "committed checkpoint) instead of pretraining one; --pretrain ignores it")
    pretrain: bool = option(False, "pretrain the base model here even when a --base-model is given")
    corpus: dict[str, Any] | None = option(None, "pretrain the base on priming.corpus rows (guesses and arithmetic "
                                           "tables; these are that tool's options) instead of direct answers")
    arch: str = option("qwen2", "rl.tiny architecture")
    model_size: str = option("small", "rl.tiny size")
    tokenizer: str = option("bpe", "rl.tiny tokenizer: bpe, or words (one token per word; needs --arch llama)",
                            choices=("bpe", "words"))
    model_dims: list[int] | None = option(None, "override the model: hidden layers heads kv_heads mlp",
                                          metavar="N")
    cpt: dict[str, Any] = option(default_factory=dict, help="continued-pretraining conditions, "
                                 "NAME='{priming.corpus options}': the base trained further on that corpus "
                                 "(rl.sft with the --cpt-sft options), then GRPO with no priming; list NAME in "
                                 "--conditions", metavar="NAME={...}")
    # each stage's own options, over that tool's preset (`preset: NAME` picks another; default tiny)
    base: dict[str, Any] = option(default_factory=lambda: dict(epochs=3, lr=2e-3, batch_size=16,
                                                               micro_batch_size=16, eval_loss=False),
                                  help="rl.sft options of the base model's direct-answer pretraining")
    sft: dict[str, Any] = option(default_factory=lambda: dict(epochs=4, lr=1e-3, batch_size=16,
                                                              micro_batch_size=16, max_length=1024),
                                 help="rl.sft options of each priming SFT")
    train: dict[str, Any] = option(default_factory=lambda: dict(steps=20, save_steps=5, prompts_per_step=4,
                                                                num_generations=4, lr=5e-5,
                                                                max_completion_length=448, micro_batch_size=16),
                                   help="rl.train options of each GRPO run")
    evaluate: dict[str, Any] = option(default_factory=lambda: dict(n=1, max_tokens=448),
                                      help="rl.evaluate options of each checkpoint evaluation")
    cpt_sft: dict[str, Any] = option(default_factory=lambda: dict(epochs=1, lr=1e-3, batch_size=32,
                                                                  micro_batch_size=32, eval_loss=False),
                                     help="rl.sft options of each continued pretraining (--cpt)")

    STAGES: ClassVar[dict[str, str]] = {"base": "rl.sft.SFTConfig", "sft": "rl.sft.SFTConfig",
                                        "cpt_sft": "rl.sft.SFTConfig",
                                        "train": "rl.train.TrainConfig", "evaluate": "rl.evaluate.EvaluateConfig"}

    def validate(self) -> None:
        from priming.conditions import CONDITIONS, get_condition, parse_share

        parse_share(self.correct_share)
        for name, corpus in self.cpt.items():
            if name == NO_PRIMING or name in CONDITIONS:
                raise InputError(f"--cpt {name}: that name is a priming condition or no_priming; name the corpus "
                                 "condition otherwise (cpt_rich, cpt_minimal, ...)")
            if not isinstance(corpus, dict):
                raise InputError(f"--cpt {name}: give priming.corpus options as a mapping, e.g. "
                                 f"{name}='{{searches: 1, tables: 0}}', got {corpus!r}")
            self.cpt_corpus(name)   # a bad corpus option fails now
        for c in self.priming_conditions():
            if c not in CONDITIONS:
                raise InputError(f"unknown condition {c!r}: choose priming conditions ({', '.join(CONDITIONS)}), "
                                 f"{NO_PRIMING}, or names given in --cpt")
            if get_condition(c).thought == "filler":
                raise InputError(f"condition {c!r} needs the base model's tokenizer before priming; not supported "
                                 "by reproduce")
        if self.model_dims is not None and len(self.model_dims) != 5:
            raise InputError("--model-dims takes 5 numbers: hidden layers heads kv_heads mlp")
        for stage in self.STAGES:
            self.stage_values(stage)   # unknown options or presets fail now, not after an hour of training
        source = self.base_source()
        if source is not None and not (source / "config.json").is_file():
            raise InputError(f"--base-model {self.base_model}: not a model folder (no config.json); give a "
                             "folder, or --pretrain to make the base here")
        if self.corpus is not None:
            from priming.corpus import CorpusConfig

            checked_values(CorpusConfig, self.corpus, "--corpus")
        super().validate()

    def priming_conditions(self) -> list[str]:
        """The conditions primed with a priming.build set (neither no_priming nor a --cpt corpus)."""
        return [c for c in self.conditions if c != NO_PRIMING and c not in self.cpt]

    def cpt_corpus(self, name: str) -> Any:
        """The priming.corpus config of a --cpt condition, written to OUT/cpt/NAME.parquet: the pipeline's
        problems, template and seed, then the condition's own options."""
        from priming.corpus import CorpusConfig

        return CorpusConfig(**{"preset": self.problem_preset, "template": self.template, "seed": self.seed,
                               **checked_values(CorpusConfig, self.cpt[name], f"--cpt {name}"),
                               "out": str(Path(self.out) / "cpt" / f"{name}.parquet")})

    def base_source(self) -> Path | None:
        """The ready base model the base stage copies (None: it pretrains one). A relative path that does not
        exist here is read from the repository root, where the organism preset's checkpoint lives."""
        if not self.base_model or self.pretrain:
            return None
        source = Path(self.base_model)
        if not source.is_absolute() and not source.exists():
            source = Path(__file__).resolve().parents[1] / source
        return source

    def stage_type(self, stage: str) -> type[CommandConfig]:
        module, name = self.STAGES[stage].rsplit(".", 1)
        return getattr(importlib.import_module(module), name)

    def stage_values(self, stage: str) -> dict[str, Any]:
        """The stage tool's option values: its preset (default tiny) with this pipeline's overrides."""
        overrides = dict(getattr(self, stage))
        kind = self.stage_type(stage)
        values = layered_values(kind, overrides.pop("preset", "tiny"), None)
        values.update(checked_values(kind, overrides, f"--{stage}"))
        return values

    def stage(self, stage: str, **values: Any) -> Any:
        """The stage tool's config object, with the paths and names this pipeline gives it."""
        return self.stage_type(stage)(**{**self.stage_values(stage), "seed": self.seed, **values})

    def settings(self) -> dict[str, Any]:
        """What the run folder's artifacts depend on (a re-run with other settings must use a new folder)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("out", "force", "backend", "isolate")}


# --- stage machinery ------------------------------------------------------------------------------------

class Pipeline:
    """Runs named stages once: a stage whose marker exists in OUT/stages/ is skipped on re-run."""

    def __init__(self, out: Path, total: int, force: bool = False, isolate: bool = False):
        self.out = out
        self.total = total
        self.index = 0
        self.force = force
        self.isolate = isolate
        self.started = time.time()
        (out / STAGES_DIR).mkdir(parents=True, exist_ok=True)

    def marker(self, name: str) -> Path:
        return self.out / STAGES_DIR / f"{name.replace('/', '__')}.json"

    def run(self, name: str, fn: Callable[..., dict[str, Any] | None], *args: Any, artifact: str,
            isolated: bool = False) -> dict[str, Any]:
        self.index += 1
        marker = self.marker(name)
        head = f"[{self.index}/{self.total}] {name}"
        if marker.is_file() and not self.force:
            done = json.loads(marker.read_text(encoding="utf-8"))
            print(f"== {head}: done earlier ({done['seconds']:.0f} s) -> {artifact}; skipped", flush=True)
            return done.get("info", {})
        elapsed = time.time() - self.started
        print(f"\n{'=' * 78}\n== {head}  (elapsed {elapsed / 60:.1f} min)\n{'=' * 78}", flush=True)
        t0 = time.time()
        info = (in_child(fn, *args) if isolated and self.isolate else fn(*args)) or {}
        seconds = time.time() - t0
        write_json({"stage": name, "artifact": artifact, "seconds": round(seconds, 2), "info": info}, marker)
        print(f"== {name} finished in {seconds:.0f} s -> {artifact}", flush=True)
        return info


def _child(fn: Callable, args: tuple, result: Any) -> None:
    result.put(fn(*args))


def in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a fresh process (spawned, so CUDA and vLLM start clean and free everything on exit)."""
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    process = context.Process(target=_child, args=(fn, args, result))
    process.start()
    process.join()
    if process.exitcode:
        raise RuntimeError(f"stage {fn.__name__} failed in its child process (exit code {process.exitcode}); "
                           "fix the cause and re-run the same reproduce command to resume")
    return result.get()


def stage_timings(out: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((out / STAGES_DIR).glob("*.json"), key=lambda p: p.stat().st_mtime):
        data = json.loads(path.read_text(encoding="utf-8"))
        rows.append({"stage": data["stage"], "seconds": data["seconds"], "artifact": data["artifact"]})
    return rows


# --- where this pipeline keeps things (each tool names its own files inside its folder) -------------------

def problems_path(out: Path, split: str) -> Path:
    return out / "problems" / f"{split}.jsonl"


def results_path(out: Path, condition: str) -> Path:
    return out / "results" / f"{condition}.csv"


def result_paths(out: Path, config: ReproduceConfig) -> list[Path]:
    return [results_path(out, c) for c in config.conditions]


def eval_dir(out: Path, condition: str) -> Path:
    return out / "eval" / condition


# --- stages ---------------------------------------------------------------------------------------------

def stage_problems(out: Path, config: ReproduceConfig) -> dict[str, Any]:
    from countdown.export import write_jsonl
    from countdown.generate import generate_splits

    # test first, so the held-out set depends only on (seed, n_test), not on the other sizes
    # (priming.build draws its own problems from a separate stream and excludes the test set)
    train = config.stage_values("train")
    # as rl.train sizes its own set: each of `epochs` passes sees every problem once
    sizes = {"test": config.n_test, "train": math.ceil(train["steps"] * train["prompts_per_step"] / train["epochs"]),
             "pretrain": config.n_pretrain}
    splits = generate_splits(sizes, seed=config.seed, preset=config.problem_preset)
    for split, problems in splits.items():
        write_jsonl(problems, problems_path(out, split))
    return {split: len(problems) for split, problems in splits.items()}


def stage_priming(out: Path, config: ReproduceConfig) -> dict[str, Any]:
    """Priming sets from the programmatic synthesizer (priming.build verifies each against its condition)."""
    from priming.build import BuildConfig, build

    if not config.priming_conditions():
        return {}
    built, failed = build(BuildConfig(condition=config.priming_conditions(), num=config.n_priming, seed=config.seed,
                                      problem_preset=config.problem_preset, correct_share=config.correct_share,
                                      style=config.priming_style, template=config.template,
                                      orders=config.priming_orders, incorrect=config.incorrect,
                                      exclude=[str(problems_path(out, "test"))],
                                      out=str(out / "priming")))
    if failed:
        raise RuntimeError(f"priming sets failed verification: {', '.join(failed)}")
    return {c: entry["counts"].get("rows") for c, entry in built.items()}


def direct_answer_rows(out: Path, template: str) -> list[dict[str, str]]:
    """Prompt -> empty thought -> the answer: text that teaches the format and no behavior at all."""
    from countdown.data import load_problems
    from countdown.prompts import completion_text, render_prompt

    return [{"prompt": render_prompt(p.numbers, p.target, template), "completion": completion_text("", p.solution)}
            for p in load_problems(problems_path(out, "pretrain"))]


def base_rows(out: Path, config: ReproduceConfig) -> list[dict[str, Any]]:
    """The base model's pretraining rows: the organism corpus (--corpus) or direct answers."""
    if config.corpus is None:
        return direct_answer_rows(out, config.template)
    from priming.corpus import CorpusConfig, corpus_rows

    corpus = CorpusConfig(**{"preset": config.problem_preset, "template": config.template, "seed": config.seed,
                             **checked_values(CorpusConfig, config.corpus, "--corpus"),
                             "out": str(out / "base" / "corpus.parquet")})
    return corpus_rows(corpus)


def stage_base(out: Path, config: ReproduceConfig) -> dict[str, Any]:
    """The base model: a copy of --base-model, or a fresh rl.tiny model (tokenizer trained on its pretraining
    text and the priming text) pretrained here on direct answers or the organism corpus."""
    from rl.tiny import num_parameters

    model, source = out / "base" / "model", config.base_source()
    if source is not None:
        if not (model / "config.json").is_file():
            shutil.copytree(source, model, dirs_exist_ok=True)
        return {"parameters": num_parameters(model), "from": str(source)}
    return pretrain_base(out, config)


def pretrain_base(out: Path, config: ReproduceConfig) -> dict[str, Any]:
    from priming.build import set_path
    from rl.sft import run_sft
    from rl.tiny import build_tiny_model, countdown_texts, num_parameters, resize

    t0 = time.time()
    rows = base_rows(out, config)
    data = out / "base" / ("corpus.parquet" if config.corpus is not None else "direct_answers.jsonl")
    write_rows(rows, data)
    texts = [r["prompt"] + r["completion"] for r in rows[:2000]]
    if config.tokenizer == "bpe":  # a BPE vocabulary also wants the generic Countdown phrasing
        texts = countdown_texts(seed=config.seed) + texts[:200]
    for condition in config.priming_conditions():  # the tokenizer should encode priming text compactly too
        texts += [r["completion"] for r in read_rows(set_path(out / "priming", condition))][:200]
    init, model = out / "base" / "init", out / "base" / "model"
    if not (init / "model.safetensors").is_file():
        build_tiny_model(init, arch=config.arch, size=config.model_size, seed=config.seed, texts=texts,
                         tokenizer=config.tokenizer)
        if config.model_dims:
            resize(init, config.model_dims, config.seed)
    base = config.stage("base", model=str(init), data=str(data), out=str(model))
    run_sft(base)
    recipe = {"command": " ".join(["python -m analysis.reproduce", *sys.argv[1:]]) if sys.argv[1:] else None,
              "seed": config.seed, "arch": config.arch, "size": config.model_size, "tokenizer": config.tokenizer,
              "model_dims": config.model_dims, "corpus": config.corpus, "problem_preset": config.problem_preset,
              "template": config.template, "rows": len(rows), "sft": base.to_dict(),
              "seconds": round(time.time() - t0, 1)}
    write_json(recipe, model / "recipe.json")  # what made it, beside the weights (for a committed copy)
    return {"parameters": num_parameters(model), "examples": len(rows)}


def start_model(out: Path, config: ReproduceConfig, condition: str) -> Path:
    """The model a condition's GRPO starts from (and its step 0): the base itself for no_priming, else the
    base after the condition's continued pretraining (cpt/NAME) or priming SFT (sft/NAME)."""
    if condition == NO_PRIMING:
        return out / "base" / "model"
    return out / ("cpt" if condition in config.cpt else "sft") / condition


def stage_sft(out: Path, config: ReproduceConfig, condition: str) -> dict[str, Any]:
    from priming.build import set_path
    from rl.sft import run_sft

    summary = run_sft(config.stage("sft", model=str(out / "base" / "model"),
                                   data=str(set_path(out / "priming", condition)),
                                   out=str(start_model(out, config, condition))))
    return {k: summary.get(k) for k in ("rows", "global_steps", "loss_before", "loss_after", "seconds")}


def stage_cpt(out: Path, config: ReproduceConfig, condition: str) -> dict[str, Any]:
    """Continued pretraining: the base trained further on the condition's priming.corpus corpus."""
    from priming.corpus import corpus_rows, count_tokens
    from rl.sft import run_sft

    corpus = config.cpt_corpus(condition)
    rows = corpus_rows(corpus)
    write_rows(rows, corpus.out)
    summary = run_sft(config.stage("cpt_sft", model=str(out / "base" / "model"), data=corpus.out,
                                   out=str(start_model(out, config, condition))))
    kinds = {kind: sum(r["kind"] == kind for r in rows) for kind in ("table", "search", "guess")}
    return {"rows": len(rows), **{f"{k}_rows": n for k, n in kinds.items() if n},
            "completion_tokens": sum(count_tokens(r["completion"]) for r in rows),
            "tokens": sum(count_tokens(r["text"]) for r in rows),
            **{k: summary.get(k) for k in ("global_steps", "loss_before", "loss_after", "seconds")}}


def stage_rl(out: Path, config: ReproduceConfig, condition: str) -> dict[str, Any]:
    from rl.train import run_training

    summary = run_training(config.stage("train", model=str(start_model(out, config, condition)),
                                        out=str(out / "rl" / condition),
                                        problems=str(problems_path(out, "train")), template=config.template))
    return {k: summary.get(k) for k in ("global_steps", "seconds", "seconds_per_step", "first_reward",
                                        "last_reward")}


def stage_eval(out: Path, config: ReproduceConfig, condition: str, backend: str) -> dict[str, Any]:
    """Every checkpoint of the run, plus the primed model as step 0, on the held-out problems."""
    from rl.evaluate import evaluate_run

    judge = {name: getattr(config, name) for name in JudgeOptions.__dataclass_fields__}
    evaluate_run(config.stage("evaluate", run_dir=str(out / "rl" / condition), condition=condition,
                              problems=str(problems_path(out, "test")), results=str(results_path(out, condition)),
                              base_model=str(start_model(out, config, condition)), backend=backend,
                              template=config.template,
                              eval_dir=str(eval_dir(out, condition)), **judge))
    rows = read_rows(results_path(out, condition))
    return {"steps": [r["step"] for r in rows], "accuracy": [r["accuracy"] for r in rows]}


def stage_figures(out: Path, config: ReproduceConfig) -> dict[str, Any]:
    from analysis.figures import load_manifests, make_figures
    from analysis.results import load_results
    from priming.build import manifest_path

    frame = load_results(result_paths(out, config), list(config.conditions))
    manifests = [manifest_path(out / "priming")] if config.priming_conditions() else []
    results = make_figures(frame, out / "figures", load_manifests(manifests),
                           paper_reference=False)
    return {r.name: [str(p) for p in r.paths] or r.skipped for r in results}


def stage_report(out: Path, config: ReproduceConfig, figure_info: dict[str, Any]) -> dict[str, Any]:
    from analysis.figures import FigureResult
    from analysis.outcome import outcome_text
    from analysis.report import render_report
    from analysis.results import load_results

    frame = load_results(result_paths(out, config), list(config.conditions))
    figures = [FigureResult(name, None, [Path(p) for p in value], None) if isinstance(value, list)
               else FigureResult(name, None, [], str(value)) for name, value in figure_info.items()]
    timings = [t for t in stage_timings(out) if t["stage"] != "report"]
    seconds = sum(t["seconds"] for t in timings)
    outcome = outcome_text(frame, config, seconds, eval_dirs={c: eval_dir(out, c) for c in config.conditions},
                           parameters=base_parameters(out))
    text = render_report(frame, figures, report_dir=out, outcome=outcome, paper_reference=True,
                         title=f"Offline reproduction, preset `{config.preset}`",
                         sources=[str(p.relative_to(out)) for p in result_paths(out, config)])
    text += "\n## Stage timings\n\n| stage | seconds | artifact |\n|---|---|---|\n"
    text += "".join(f"| {t['stage']} | {t['seconds']:.0f} | `{t['artifact']}` |\n" for t in timings)
    text += f"| **total** | **{seconds:.0f}** | |\n"
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return {"seconds_before_report": round(seconds, 1)}


def base_parameters(out: Path) -> int | None:
    marker = out / STAGES_DIR / "base.json"
    return json.loads(marker.read_text(encoding="utf-8"))["info"].get("parameters") if marker.is_file() else None


# --- CLI ------------------------------------------------------------------------------------------------

def check_settings(out: Path, config: ReproduceConfig) -> None:
    """A run folder belongs to one set of settings: refuse to mix, record them on first use."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    saved = out / "settings.json"
    if saved.is_file() and not config.force:
        try:
            before = json.loads(saved.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{saved}: not readable JSON; delete it, or use a new --out") from None
        if before != config.settings():
            changed = sorted(k for k in config.settings() if before.get(k) != config.settings()[k])
            raise InputError(f"{saved}: this folder was made with other settings ({', '.join(changed)}); "
                             "use a new --out, or --force to redo every stage")
    write_json(config.settings(), saved)


def reproduce(config: ReproduceConfig) -> Path:
    """Run (or resume) every stage; returns the report's path."""
    out = Path(config.out)
    check_settings(out, config)
    for key, value in OFFLINE_ENV.items():  # before transformers is imported: nothing is fetched
        os.environ.setdefault(key, value)
    import torch

    backend = config.backend or ("auto" if torch.cuda.is_available() else "hf")
    conditions = config.conditions
    prepared = [c for c in conditions if c != NO_PRIMING]   # each has an SFT or a continued pretraining
    pipe = Pipeline(out, total=3 + len(prepared) + 2 * len(conditions) + 2, force=config.force,
                    isolate=config.isolate)
    pipe.run("problems", stage_problems, out, config, artifact="problems/{test,train,pretrain}.jsonl")
    pipe.run("priming", stage_priming, out, config, artifact="priming/<condition>.jsonl, manifest.json")
    pipe.run("base", stage_base, out, config, artifact="base/model", isolated=True)
    for c in prepared:
        kind, stage = ("cpt", stage_cpt) if c in config.cpt else ("sft", stage_sft)
        pipe.run(f"{kind}/{c}", stage, out, config, c, artifact=f"{kind}/{c}", isolated=True)
    for c in conditions:
        pipe.run(f"rl/{c}", stage_rl, out, config, c, artifact=f"rl/{c}", isolated=True)
    for c in conditions:
        pipe.run(f"eval/{c}", stage_eval, out, config, c, backend, artifact=f"results/{c}.csv", isolated=True)
    figure_info = pipe.run("figures", stage_figures, out, config, artifact="figures/")
    pipe.run("report", stage_report, out, config, figure_info, artifact="report.md")
    return out / "report.md"


def main(argv: list[str] | None = None) -> int:
    from analysis.outcome import outcome_text
    from analysis.results import load_results

    config = ReproduceConfig.parse(argv)
    out = Path(config.out)
    report = reproduce(config)
    total = sum(t["seconds"] for t in stage_timings(out))
    print(f"\nreport: {report}  (stages took {total / 60:.1f} min in all)")
    frame = load_results(result_paths(out, config), list(config.conditions))
    print(outcome_text(frame, config, total, eval_dirs={c: eval_dir(out, c) for c in config.conditions},
                       parameters=base_parameters(out)))
    return 0


if __name__ == "__main__":
    run_cli(main)
