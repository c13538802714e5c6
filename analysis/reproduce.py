"""The offline end-to-end reproduction: the whole spine of the paper at toy scale, one command.

    python -m analysis.reproduce --preset tiny --out runs/demo

Stages (each leaves its artifact in OUT and a done-marker in OUT/stages/, so a re-run skips finished work):

 1. problems   countdown.generate: held-out test, RL train and base-pretraining problems, disjoint.
 2. priming    priming sets from the programmatic synthesizer (priming.build, test problems excluded).
 3. base       a locally built model (rl.tiny) trained on direct-answer text only (prompt -> answer, no
               thought), so it produces the answer format but none of the four behaviors: our "Llama".
 4. sft/*      each priming condition fine-tuned into the base model (rl.sft).
 5. rl/*       a short GRPO run from each primed model (rl.train).
 6. eval/*     every checkpoint sampled on the held-out problems and judged with the rule judge
               (rl.evaluate: countdown.rollout + behaviors) -> one results table per condition.
 7. figures    analysis.figures over all results tables and the priming manifests.
 8. report     OUT/report.md: the measured outcome in plain words, tables, figures, stage timings.

Presets: `smoke` (seconds to a minute; what the test runs), `tiny` (the README demo, measured 16 min on 2
shared CPU cores), `gpu` (sized for one H100; not run here). CPU presets call each stage's CLI `main()` in
this process; the gpu preset runs them as child processes (`sys.executable -m ...`) so each stage frees its
GPU memory. Their progress bars show as they are.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from countdown.io import InputError, atomic_path, read_rows, run_cli, write_json, write_rows

STAGES_DIR = "stages"


@dataclass(frozen=True)
class Preset:
    """Every size in the pipeline. Token budgets are what bound wall time on CPU."""

    description: str
    # problems (countdown.generate preset "tiny": 3 numbers 1-20, targets 1-30)
    problem_preset: str
    n_test: int              # held-out evaluation problems
    n_pretrain: int          # direct-answer examples that teach the base model the format
    n_priming: int           # problems per priming set (the synthesizer may skip a few)
    # model
    model_size: str          # rl.tiny size
    model_dims: tuple[int, int, int, int, int] | None  # (hidden, layers, heads, kv heads, mlp) override
    arch: str
    # base pretraining (direct answers)
    pretrain_epochs: float
    pretrain_lr: float
    # priming SFT
    conditions: tuple[str, ...]
    sft_epochs: float
    sft_lr: float
    # GRPO
    rl_steps: int
    rl_save_steps: int
    rl_prompts_per_step: int
    rl_generations: int
    rl_lr: float
    max_completion_tokens: int
    # evaluation
    eval_samples: int        # samples per held-out problem per checkpoint
    batch_size: int = 8      # SFT batch


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        description="whole spine in about a minute on CPU (for tests); numbers mean nothing",
        problem_preset="tiny", n_test=6, n_pretrain=32, n_priming=40,
        model_size="tiny", model_dims=None, arch="qwen2",
        pretrain_epochs=1, pretrain_lr=1e-3,
        conditions=("negative_control", "all_strategies"), sft_epochs=1, sft_lr=1e-3,
        rl_steps=2, rl_save_steps=1, rl_prompts_per_step=2, rl_generations=2, rl_lr=1e-4,
        max_completion_tokens=24, eval_samples=1),
    "tiny": Preset(
        description="the README demo: ~3M-parameter model, 3 conditions, short GRPO, on 2 CPU cores",
        problem_preset="tiny", n_test=64, n_pretrain=2000, n_priming=200,
        model_size="small", model_dims=None, arch="qwen2",
        pretrain_epochs=3, pretrain_lr=2e-3,
        conditions=("negative_control", "all_strategies", "incorrect_only"), sft_epochs=4, sft_lr=1e-3,
        rl_steps=20, rl_save_steps=5, rl_prompts_per_step=4, rl_generations=4, rl_lr=5e-5,
        max_completion_tokens=448, eval_samples=1, batch_size=16),
    "gpu": Preset(
        description="one H100: a ~25M-parameter local model, more data, 200 GRPO steps, 5 conditions",
        problem_preset="tiny", n_test=256, n_pretrain=20000, n_priming=1000,
        model_size="small", model_dims=(512, 8, 16, 8, 1536), arch="qwen2",
        pretrain_epochs=3, pretrain_lr=1e-3,
        conditions=("negative_control", "all_strategies", "incorrect_only", "only_backtracking", "empty_cot"),
        sft_epochs=5, sft_lr=5e-4,
        rl_steps=200, rl_save_steps=20, rl_prompts_per_step=64, rl_generations=8, rl_lr=1e-5,
        max_completion_tokens=512, eval_samples=2, batch_size=32),
}


# --- stage machinery ------------------------------------------------------------------------------------

class Pipeline:
    """Runs named stages once: a stage whose marker exists in OUT/stages/ is skipped on re-run."""

    def __init__(self, out: Path, total: int, force: bool = False):
        self.out = out
        self.total = total
        self.index = 0
        self.force = force
        self.started = time.time()
        (out / STAGES_DIR).mkdir(parents=True, exist_ok=True)

    def marker(self, name: str) -> Path:
        return self.out / STAGES_DIR / f"{name.replace('/', '__')}.json"

    def run(self, name: str, fn: Callable[[], dict[str, Any] | None], artifact: str) -> dict[str, Any]:
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
        info = fn() or {}
        seconds = time.time() - t0
        write_json({"stage": name, "artifact": artifact, "seconds": round(seconds, 2), "info": info}, marker)
        print(f"== {name} finished in {seconds:.0f} s -> {artifact}", flush=True)
        return info


def stage_timings(out: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((out / STAGES_DIR).glob("*.json"), key=lambda p: p.stat().st_mtime):
        data = json.loads(path.read_text(encoding="utf-8"))
        rows.append({"stage": data["stage"], "seconds": data["seconds"], "artifact": data["artifact"]})
    return rows


OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "WANDB_DISABLED": "true", "VLLM_NO_USAGE_STATS": "1"}
# CPU presets call each tool's main() in this process: importing torch + transformers + TRL costs ~10 s of
# CPU per process, a large share of a small run. The gpu preset uses child processes instead, so each
# stage's GPU memory (vLLM's in particular) is returned before the next stage starts.
IN_PROCESS = True


def run_module(module: str, *args: Any) -> None:
    """`python -m module args` (in this process, or a child with IN_PROCESS False); output passes through."""
    argv = [str(a) for a in args]
    print("$ python -m " + " ".join([module, *argv]), flush=True)
    if IN_PROCESS:
        import importlib

        code = importlib.import_module(module).main(argv)
    else:
        code = subprocess.run([sys.executable, "-m", module, *argv], env={**os.environ, **OFFLINE_ENV}).returncode
    if code:
        raise RuntimeError(f"`python -m {module}` failed with exit code {code}; fix the cause and re-run the "
                           "same reproduce command to resume")


# --- stages ---------------------------------------------------------------------------------------------

def stage_problems(out: Path, preset: Preset, seed: int) -> dict[str, Any]:
    from countdown.export import write_jsonl
    from countdown.generate import generate_splits

    # test first, so the held-out set depends only on (seed, n_test), not on the other sizes
    # (priming.build draws its own problems from a separate stream and excludes the test set)
    sizes = {"test": preset.n_test, "train": preset.rl_steps * preset.rl_prompts_per_step,
             "pretrain": preset.n_pretrain}
    splits = generate_splits(sizes, seed=seed, preset=preset.problem_preset)
    for split, problems in splits.items():
        write_jsonl(problems, out / "problems" / f"{split}.jsonl")
    return {split: len(problems) for split, problems in splits.items()}


def stage_priming(out: Path, preset: Preset, seed: int) -> dict[str, Any]:
    """Priming sets from the programmatic synthesizer (priming.build verifies each against its condition)."""
    conditions = [a for c in preset.conditions for a in ("--condition", c)]
    run_module("priming.build", *conditions, "--num", preset.n_priming, "--seed", seed,
               "--preset", preset.problem_preset, "--exclude", out / "problems" / "test.jsonl",
               "--out", out / "priming")
    manifest = json.loads((out / "priming" / "manifest.json").read_text(encoding="utf-8"))
    return {c: manifest["conditions"][c]["counts"].get("rows") for c in preset.conditions}


def direct_answer_rows(out: Path) -> list[dict[str, str]]:
    """Prompt -> empty thought -> the answer: text that teaches the format and no behavior at all."""
    from countdown.data import load_problems
    from countdown.prompts import render_prompt

    return [{"prompt": render_prompt(p.numbers, p.target), "completion": f"\n</think>\n<answer> {p.solution} </answer>"}
            for p in load_problems(out / "problems" / "pretrain.jsonl")]


def stage_base(out: Path, preset: Preset, seed: int) -> dict[str, Any]:
    """A fresh local model (tokenizer trained on prompts + priming text) pretrained on direct answers."""
    from rl.tiny import build_tiny_model, countdown_texts, num_parameters

    rows = direct_answer_rows(out)
    write_rows(rows, out / "base" / "direct_answers.jsonl")
    texts = countdown_texts(seed=seed) + [r["prompt"] + r["completion"] for r in rows[:200]]
    for condition in preset.conditions:  # the tokenizer should encode priming text compactly too
        texts += [r["completion"] for r in read_rows(out / "priming" / f"{condition}.jsonl")][:200]
    init = out / "base" / "init"
    if not (init / "model.safetensors").is_file():
        build_tiny_model(init, arch=preset.arch, size=preset.model_size, seed=seed, texts=texts)
        if preset.model_dims:
            _resize(init, preset.model_dims, seed)
    run_module("rl.sft", "--preset", "tiny", "--model", init, "--data", out / "base" / "direct_answers.jsonl",
               "--out", out / "base" / "model", "--epochs", preset.pretrain_epochs, "--lr", preset.pretrain_lr,
               "--batch-size", preset.batch_size, "--micro-batch-size", preset.batch_size, "--no-eval-loss",
               "--seed", seed)
    return {"parameters": num_parameters(out / "base" / "model"), "examples": len(rows)}


def _resize(folder: Path, dims: tuple[int, int, int, int, int], seed: int) -> None:
    """Re-initialise the model in `folder` with bigger dimensions (same tokenizer), for the gpu preset."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    hidden, layers, heads, kv_heads, mlp = dims
    config = AutoConfig.from_pretrained(folder)
    config.update({"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
                   "num_key_value_heads": kv_heads, "intermediate_size": mlp, "head_dim": hidden // heads})
    generation = GenerationConfig.from_pretrained(folder)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = generation
    model.save_pretrained(folder, safe_serialization=True)


def stage_sft(out: Path, preset: Preset, seed: int, condition: str) -> dict[str, Any]:
    run_module("rl.sft", "--preset", "tiny", "--model", out / "base" / "model",
               "--data", out / "priming" / f"{condition}.jsonl", "--out", out / "sft" / condition,
               "--epochs", preset.sft_epochs, "--lr", preset.sft_lr, "--batch-size", preset.batch_size,
               "--micro-batch-size", preset.batch_size, "--max-length", 1024, "--seed", seed)
    summary = json.loads((out / "sft" / condition / "sft_summary.json").read_text(encoding="utf-8"))
    return {k: summary.get(k) for k in ("rows", "global_steps", "loss_before", "loss_after", "seconds")}


def stage_rl(out: Path, preset: Preset, seed: int, condition: str) -> dict[str, Any]:
    run_module("rl.train", "--preset", "tiny", "--model", out / "sft" / condition, "--out", out / "rl" / condition,
               "--problems", out / "problems" / "train.jsonl", "--steps", preset.rl_steps,
               "--save-steps", preset.rl_save_steps, "--prompts-per-step", preset.rl_prompts_per_step,
               "--num-generations", preset.rl_generations, "--lr", preset.rl_lr,
               "--max-completion-length", preset.max_completion_tokens,
               "--micro-batch-size", preset.rl_prompts_per_step * preset.rl_generations, "--seed", seed)
    summary = json.loads((out / "rl" / condition / "train_summary.json").read_text(encoding="utf-8"))
    return {k: summary.get(k) for k in ("global_steps", "seconds", "seconds_per_step", "first_reward",
                                        "last_reward")}



def stage_eval(out: Path, preset: Preset, seed: int, condition: str, backend: str) -> dict[str, Any]:
    """Every checkpoint of the run, plus the primed model as step 0, on the held-out problems."""
    results = out / "results" / f"{condition}.csv"
    extra = ["--batch-size", 64] if backend == "hf" else []
    run_module("rl.evaluate", out / "rl" / condition, "--condition", condition,
               "--problems", out / "problems" / "test.jsonl", "--results", results,
               "--base-model", out / "sft" / condition, "--num-samples", preset.eval_samples,
               "--max-tokens", preset.max_completion_tokens, "--backend", backend, *extra,
               "--judge", "rules", "--eval-dir", out / "eval" / condition, "--seed", seed)
    rows = read_rows(results)
    return {"steps": [r["step"] for r in rows], "accuracy": [r["accuracy"] for r in rows]}

def stage_figures(out: Path, preset: Preset) -> dict[str, Any]:
    from analysis.figures import load_manifests, make_figures
    from analysis.results import load_results

    frame = load_results(result_paths(out, preset), list(preset.conditions))
    results = make_figures(frame, out / "figures", load_manifests([out / "priming" / "manifest.json"]),
                           paper_reference=False)
    return {r.name: [str(p) for p in r.paths] or r.skipped for r in results}


def result_paths(out: Path, preset: Preset) -> list[Path]:
    return [out / "results" / f"{c}.csv" for c in preset.conditions]


# --- the measured outcome, in words ---------------------------------------------------------------------

def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))


def _compare(a: str, pa: float, b: str, pb: float, n: int) -> str:
    if pa == pb == 0:
        return f"`{a}` and `{b}` both solved none of the {n} held-out samples"
    diff = pa - pb
    se = math.sqrt(_se(pa, n) ** 2 + _se(pb, n) ** 2)
    if abs(diff) > 2 * se:
        word = "higher" if diff > 0 else "lower"
        return (f"`{a}` ended {word} than `{b}` ({pa:.3f} vs {pb:.3f}, difference {diff:+.3f}, more than two "
                f"standard errors of ±{se:.3f} with {n} samples each)")
    return (f"`{a}` and `{b}` ended within sampling noise of each other ({pa:.3f} vs {pb:.3f}, difference "
            f"{diff:+.3f}, two standard errors ±{2 * se:.3f} with {n} samples each)")


def answer_rate(out: Path | None, condition: str, step: int) -> float | None:
    """Share of evaluated responses with a parsable <answer> (reward > 0), from rl.evaluate's saved traces."""
    if out is None:
        return None
    path = out / "eval" / condition / f"step_{step:06d}.traces.jsonl"
    if not path.is_file():
        return None
    rows = read_rows(path)
    return sum(1 for r in rows if (r.get("reward") or 0) > 0) / len(rows) if rows else None


def outcome_text(frame, preset: Preset, seconds: float | None = None, out: Path | None = None,
                 parameters: int | None = None) -> str:
    """An honest paragraph about what this run measured, whichever way it came out."""
    from analysis.results import summarize
    from countdown.records import BEHAVIORS, RESULTS_BEHAVIOR_COLUMNS

    n = preset.n_test * preset.eval_samples
    summaries = {s.condition: s for s in summarize(frame)}
    lines = []
    for s in summaries.values():
        change = s.end_accuracy - s.start_accuracy
        moved = abs(change) > 2 * math.sqrt(_se(s.start_accuracy, n) ** 2 + _se(s.end_accuracy, n) ** 2)
        last = frame[(frame["condition"] == s.condition) & (frame["step"] == s.last_step)].iloc[0]
        behaviors = ", ".join(f"{b.replace('_', ' ')} {last[RESULTS_BEHAVIOR_COLUMNS[b][0]]:.2f}"
                              for b in BEHAVIORS)
        lines.append(f"- `{s.condition}`: accuracy {s.start_accuracy:.3f} at step {s.first_step} → "
                     f"{s.end_accuracy:.3f} at step {s.last_step} (max {s.max_accuracy:.3f}); "
                     f"{'a change beyond' if moved else 'no change beyond'} sampling noise. Behaviors per "
                     f"response at the last checkpoint: {behaviors}; mean length "
                     f"{last['response_length']:.0f} characters" + _answered(out, s) + ".")
    verdicts = []
    end = {c: s.end_accuracy for c, s in summaries.items()}
    if "all_strategies" in end and "negative_control" in end:
        verdicts.append(_compare("all_strategies", end["all_strategies"], "negative_control",
                                 end["negative_control"], n))
    if "incorrect_only" in end and "all_strategies" in end:
        verdicts.append(_compare("incorrect_only", end["incorrect_only"], "all_strategies",
                                 end["all_strategies"], n))
    claim = ""
    avg = [RESULTS_BEHAVIOR_COLUMNS[b][0] for b in BEHAVIORS]

    def behaviors_at_end(c: str) -> float:
        row = frame[(frame["condition"] == c) & (frame["step"] == summaries[c].last_step)].iloc[0]
        return float(row[avg].sum())

    transferred = None
    if "all_strategies" in summaries and "negative_control" in summaries:
        rich, plain = behaviors_at_end("all_strategies"), behaviors_at_end("negative_control")
        transferred = rich > plain
        verdicts.append(f"the four behaviors together: {rich:.2f} per `all_strategies` response vs {plain:.2f} "
                        "per `negative_control` response")
    if all(s.max_accuracy == 0 for s in summaries.values()):
        claim = ("No condition solved a single held-out problem at any checkpoint, so this run cannot speak to "
                 "the paper's accuracy claims. " +
                 ("What it does show is the mechanics: priming with behavior-rich traces put the behaviors into "
                  "the model's responses and the no-behavior control's responses show fewer, " if transferred
                  else "") +
                 "and with no correct answer the only reward GRPO saw was the 0.1 for a parsable answer (a "
                 "group whose samples all score the same gets zero advantage). A bigger model, longer base "
                 "pretraining and more steps (`--preset gpu`) are what the paper's effect needs.")
    elif len([v for v in verdicts if v.startswith("`")]) == 2:
        primed_wins = end["all_strategies"] - end["negative_control"] > 2 * math.sqrt(
            _se(end["all_strategies"], n) ** 2 + _se(end["negative_control"], n) ** 2)
        incorrect_keeps_up = end["incorrect_only"] - end["all_strategies"] > -2 * math.sqrt(
            _se(end["incorrect_only"], n) ** 2 + _se(end["all_strategies"], n) ** 2)
        if primed_wins and incorrect_keeps_up:
            claim = ("In this toy run the direction matches the paper: priming with the behaviors helped, and "
                     "priming with wrong-answer traces that show them did about as well.")
        else:
            claim = ("This toy run does not reproduce the paper's effect: " +
                     ("behavior priming did not end clearly above the no-behavior control"
                      if not primed_wins else "incorrect-only priming ended clearly below correct priming") +
                     ". At this scale (a few-million-parameter model trained from scratch, "
                     f"{preset.rl_steps} GRPO steps, {n} held-out samples per checkpoint) that is not evidence "
                     "against the paper either; it is what the demo measured.")
    if parameters is None and out is not None and (out / STAGES_DIR / "base.json").is_file():
        parameters = json.loads((out / STAGES_DIR / "base.json").read_text())["info"].get("parameters")
    timing = f" The whole run took {seconds / 60:.1f} minutes." if seconds else ""
    size = f"{parameters / 1e6:.1f}M-parameter" if parameters else f"rl.tiny '{preset.model_size}'"
    head = (f"Preset `{preset_name(preset)}`: a {size} local model pretrained on direct answers only, "
            f"primed with {len(preset.conditions)} synthesizer sets, {preset.rl_steps} GRPO steps each, "
            f"evaluated on {preset.n_test} held-out problems × {preset.eval_samples} sample(s) per "
            f"checkpoint with the rule judge.{timing}")
    parts = [head, "", *lines]
    if verdicts:
        parts += ["", "Comparisons at the last checkpoint: " + "; ".join(verdicts) + "."]
    if claim:
        parts += ["", claim]
    return "\n".join(parts)


def _answered(out: Path | None, s) -> str:
    rate = answer_rate(out, s.condition, s.last_step)
    return "" if rate is None else f"; {rate:.0%} of responses gave a parsable answer"


def preset_name(preset: Preset) -> str:
    return next((k for k, v in PRESETS.items() if v == preset), "custom")


def stage_report(out: Path, preset: Preset, figure_info: dict[str, Any]) -> dict[str, Any]:
    from analysis.figures import FigureResult
    from analysis.report import render_report
    from analysis.results import load_results

    frame = load_results(result_paths(out, preset), list(preset.conditions))
    figures = [FigureResult(name, None, [Path(p) for p in value], None) if isinstance(value, list)
               else FigureResult(name, None, [], str(value)) for name, value in figure_info.items()]
    timings = [t for t in stage_timings(out) if t["stage"] != "report"]
    seconds = sum(t["seconds"] for t in timings)
    base = out / STAGES_DIR / "base.json"
    parameters = json.loads(base.read_text())["info"].get("parameters") if base.is_file() else None
    outcome = outcome_text(frame, preset, seconds, out=out, parameters=parameters)
    text = render_report(frame, figures, report_dir=out, outcome=outcome, paper_reference=True,
                         title=f"Offline reproduction, preset `{preset_name(preset)}`",
                         sources=[str(p.relative_to(out)) for p in result_paths(out, preset)])
    text += "\n## Stage timings\n\n| stage | seconds | artifact |\n|---|---|---|\n"
    text += "".join(f"| {t['stage']} | {t['seconds']:.0f} | `{t['artifact']}` |\n" for t in timings)
    text += f"| **total** | **{seconds:.0f}** | |\n"
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return {"seconds_before_report": round(seconds, 1)}


# --- CLI ------------------------------------------------------------------------------------------------

EPILOG = """examples:
  python -m analysis.reproduce --preset tiny --out runs/demo        # the README demo (CPU, offline)
  python -m analysis.reproduce --preset smoke --out /tmp/smoke      # about a minute; numbers mean nothing
  python -m analysis.reproduce --preset gpu --out runs/gpu          # one H100 (not run in CI)

Re-running the same command resumes: finished stages (OUT/stages/*.json) are skipped. Everything a stage
makes stays in OUT: problems/, priming/, base/, sft/<condition>/, rl/<condition>/, eval/<condition>/,
results/<condition>.csv, figures/, report.md.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.reproduce", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Offline end-to-end reproduction at toy scale: problems -> base model without the "
                    "behaviors -> priming sets -> SFT -> GRPO -> checkpoint evaluation with the rule judge -> "
                    "results tables -> figures -> a report of what was measured.")
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny",
                   help="; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()))
    p.add_argument("--out", required=True, help="run folder (every stage's artifact is kept here)")
    p.add_argument("--conditions", nargs="+", help="priming conditions (default: the preset's)")
    p.add_argument("--backend", choices=("auto", "hf", "vllm"),
                   help="generation backend for evaluation (default: hf on CPU, auto on a GPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="run every stage again (the tools' own resume still "
                                                        "keeps finished models)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    preset = PRESETS[args.preset]
    if args.conditions:
        from priming.conditions import get_condition

        for c in args.conditions:
            if get_condition(c).thought == "filler":
                raise InputError(f"condition {c!r} needs the base model's tokenizer before priming; not supported "
                                 "by reproduce")
        preset = dataclasses.replace(preset, conditions=tuple(dict.fromkeys(args.conditions)))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    settings = {"preset": args.preset, "seed": args.seed, **dataclasses.asdict(preset)}
    settings["conditions"] = list(settings["conditions"])
    if settings.get("model_dims"):
        settings["model_dims"] = list(settings["model_dims"])
    saved = out / "settings.json"
    if saved.is_file() and not args.force:
        before = json.loads(saved.read_text(encoding="utf-8"))
        if before != settings:
            changed = sorted(k for k in settings if before.get(k) != settings[k])
            raise InputError(f"{saved}: this folder was made with other settings ({', '.join(changed)}); "
                             "use a new --out, or --force to redo every stage")
    write_json(settings, saved)

    for key, value in OFFLINE_ENV.items():  # before transformers is imported: nothing is fetched
        os.environ.setdefault(key, value)
    import torch

    global IN_PROCESS
    IN_PROCESS = args.preset != "gpu"
    backend = args.backend or ("auto" if torch.cuda.is_available() else "hf")
    conditions = preset.conditions
    pipe = Pipeline(out, total=3 + 3 * len(conditions) + 2, force=args.force)
    seed = args.seed
    pipe.run("problems", lambda: stage_problems(out, preset, seed), "problems/{test,train,pretrain}.jsonl")
    pipe.run("priming", lambda: stage_priming(out, preset, seed), "priming/<condition>.jsonl, manifest.json")
    pipe.run("base", lambda: stage_base(out, preset, seed), "base/model")
    for c in conditions:
        pipe.run(f"sft/{c}", lambda c=c: stage_sft(out, preset, seed, c), f"sft/{c}")
    for c in conditions:
        pipe.run(f"rl/{c}", lambda c=c: stage_rl(out, preset, seed, c), f"rl/{c}")
    for c in conditions:
        pipe.run(f"eval/{c}", lambda c=c: stage_eval(out, preset, seed, c, backend), f"results/{c}.csv")
    figure_info = pipe.run("figures", lambda: stage_figures(out, preset), "figures/")
    pipe.run("report", lambda: stage_report(out, preset, figure_info), "report.md")
    total = sum(t["seconds"] for t in stage_timings(out))
    print(f"\nreport: {out / 'report.md'}  (stages took {total / 60:.1f} min in all)")
    from analysis.results import load_results

    print(outcome_text(load_results(result_paths(out, preset), list(conditions)), preset, total, out=out))
    return 0


if __name__ == "__main__":
    run_cli(main)
