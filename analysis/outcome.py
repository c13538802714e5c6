"""The measured outcome of a reproduction, in plain words: what changed beyond sampling noise, and what not.

Used by analysis.reproduce for the report's first section. Every comparison states the numbers, the sample
size and the standard error, whichever way it came out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from countdown.io import read_rows
from rl.evaluate import step_files


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))


def _diff_se(pa: float, pb: float, n: int) -> float:
    """Standard error of pa - pb, two independent shares of n samples each."""
    return math.sqrt(_se(pa, n) ** 2 + _se(pb, n) ** 2)


def _above(pa: float, pb: float, n: int) -> bool:
    """pa ended clearly above pb: by more than two standard errors of the difference (n samples each)."""
    return pa - pb > 2 * _diff_se(pa, pb, n)


def _compare(a: str, pa: float, b: str, pb: float, n: int) -> str:
    if pa == pb == 0:
        return f"`{a}` and `{b}` both solved none of the {n} held-out samples"
    diff, se = pa - pb, _diff_se(pa, pb, n)
    if abs(diff) > 2 * se:
        word = "higher" if diff > 0 else "lower"
        return (f"`{a}` ended {word} than `{b}` ({pa:.3f} vs {pb:.3f}, difference {diff:+.3f}, more than two "
                f"standard errors of ±{se:.3f} with {n} samples each)")
    return (f"`{a}` and `{b}` ended within sampling noise of each other ({pa:.3f} vs {pb:.3f}, difference "
            f"{diff:+.3f}, two standard errors ±{2 * se:.3f} with {n} samples each)")


def answer_rate(eval_dir: Path | None, step: int) -> float | None:
    """Share of evaluated responses with a parsable <answer> (reward > 0), from rl.evaluate's saved traces."""
    if eval_dir is None:
        return None
    path, _ = step_files(eval_dir, step)
    if not path.is_file():
        return None
    rows = read_rows(path)
    return sum(1 for r in rows if (r.get("reward") or 0) > 0) / len(rows) if rows else None


def outcome_text(frame, config: Any, seconds: float | None = None,
                 eval_dirs: dict[str, Path] | None = None, parameters: int | None = None) -> str:
    """An honest paragraph about what a reproduction (`config`: its analysis.reproduce.ReproduceConfig)
    measured, whichever way it came out. `eval_dirs` maps a condition to its rl.evaluate folder (for the share
    of parsable answers)."""
    from analysis.results import summarize
    from countdown.records import BEHAVIORS, RESULTS_BEHAVIOR_COLUMNS

    samples, steps = config.stage_values("evaluate")["n"], config.stage_values("train")["steps"]
    n = config.n_test * samples
    summaries = {s.condition: s for s in summarize(frame)}
    lines = []
    for s in summaries.values():
        change = s.end_accuracy - s.start_accuracy
        moved = abs(change) > 2 * _diff_se(s.start_accuracy, s.end_accuracy, n)
        last = frame[(frame["condition"] == s.condition) & (frame["step"] == s.last_step)].iloc[0]
        behaviors = ", ".join(f"{b.replace('_', ' ')} {last[RESULTS_BEHAVIOR_COLUMNS[b][0]]:.2f}"
                              for b in BEHAVIORS)
        lines.append(f"- `{s.condition}`: accuracy {s.start_accuracy:.3f} at step {s.first_step} → "
                     f"{s.end_accuracy:.3f} at step {s.last_step} (max {s.max_accuracy:.3f}); "
                     f"{'a change beyond' if moved else 'no change beyond'} sampling noise. Behaviors per "
                     f"response at the last checkpoint: {behaviors}; mean length "
                     f"{last['response_length']:.0f} characters" + _answered(eval_dirs, s) + ".")
    verdicts = []
    end = {c: s.end_accuracy for c, s in summaries.items()}
    if "all_strategies" in end and "negative_control" in end:
        verdicts.append(_compare("all_strategies", end["all_strategies"], "negative_control",
                                 end["negative_control"], n))
    if "incorrect_only" in end and "all_strategies" in end:
        verdicts.append(_compare("incorrect_only", end["incorrect_only"], "all_strategies",
                                 end["all_strategies"], n))
    if "cpt_rich" in end and "cpt_minimal" in end:
        verdicts.append(_compare("cpt_rich", end["cpt_rich"], "cpt_minimal", end["cpt_minimal"], n))
    claim = ""
    avg = [RESULTS_BEHAVIOR_COLUMNS[b][0] for b in BEHAVIORS]

    def behaviors_at_end(c: str) -> float:
        row = frame[(frame["condition"] == c) & (frame["step"] == summaries[c].last_step)].iloc[0]
        return float(row[avg].sum())

    size = f"{parameters / 1e6:.1f}M-parameter" if parameters else f"rl.tiny '{config.model_size}'"
    transferred = None
    for rich_name, plain_name in pairs_in(summaries):
        rich, plain = behaviors_at_end(rich_name), behaviors_at_end(plain_name)
        transferred = rich > plain
        verdicts.append(f"the four behaviors together: {rich:.2f} per `{rich_name}` response vs {plain:.2f} "
                        f"per `{plain_name}` response")
    if all(s.max_accuracy == 0 for s in summaries.values()):
        claim = ("No condition solved a single held-out problem at any checkpoint, so this run cannot speak to "
                 "the paper's accuracy claims. " +
                 ("What it does show is the mechanics: priming with behavior-rich traces put the behaviors into "
                  "the model's responses and the no-behavior control's responses show fewer, " if transferred
                  else "") +
                 "and with no correct answer the only reward GRPO saw was the 0.1 for a parsable answer (a "
                 "group whose samples all score the same gets zero advantage). A bigger model, longer base "
                 "pretraining and more steps (`--preset gpu`) are what the paper's effect needs.")
    elif {"all_strategies", "negative_control", "incorrect_only"} <= set(end):
        primed_wins = _above(end["all_strategies"], end["negative_control"], n)
        incorrect_keeps_up = not _above(end["all_strategies"], end["incorrect_only"], n)
        scale = (f"At this scale ({size} model trained from scratch, {steps} GRPO steps, {n} held-out samples "
                 "per checkpoint) that is not evidence against the paper either; it is what the demo measured.")
        if primed_wins and incorrect_keeps_up:
            claim = ("In this toy run the direction matches the paper: priming with the behaviors helped, and "
                     "priming with wrong-answer traces that show them did about as well.")
        elif primed_wins:
            claim = ("This toy run reproduces half of the paper's effect: behavior priming ended clearly above the "
                     "no-behavior control, but incorrect-only priming ended clearly below correct priming. " + scale)
        else:
            claim = ("This toy run does not reproduce the paper's effect: behavior priming did not end clearly above "
                     "the no-behavior control. " + scale)
    if "cpt_rich" in end and "cpt_minimal" in end and not claim.startswith("No condition"):
        rich_wins = _above(end["cpt_rich"], end["cpt_minimal"], n)
        claim += (" " if claim else "") + (
            "As in the paper's Qwen-vs-Llama and continued-pretraining comparisons, the base whose pretraining "
            "held the behaviors ended clearly above its behavior-minimal twin under RL." if rich_wins else
            "Unlike the paper's Qwen-vs-Llama and continued-pretraining comparisons, the base whose pretraining "
            "held the behaviors did not end clearly above its behavior-minimal twin under RL.")
    timing = f" The whole run took {seconds / 60:.1f} minutes." if seconds else ""
    if config.base_model and not config.pretrain:
        origin = f"the ready base model `{config.base_model}`"
    elif config.corpus is not None:
        origin = "pretrained here on the organism corpus (guesses and arithmetic tables)"
    else:
        origin = "pretrained here on direct answers only"
    head = (f"Preset `{config.preset}`: a {size} local model, {origin}; {starts(config)}; {steps} GRPO "
            "steps each, "
            f"evaluated on {config.n_test} held-out problems × {samples} sample(s) per "
            f"checkpoint with the {config.judge} judge.{timing}")
    parts = [head, "", *lines]
    if verdicts:
        parts += ["", "Comparisons at the last checkpoint: " + "; ".join(verdicts) + "."]
    if claim:
        parts += ["", claim]
    targets = targets_text(frame, summaries, n)
    if targets:
        parts += ["", "The model organism's targets (docs/analysis.md), each as measured:", *targets]
    return "\n".join(parts)


def starts(config: Any) -> str:
    """How the conditions start GRPO, in words: priming sets, continued pretraining, the base itself."""
    primed = config.priming_conditions()
    parts = [f"primed with {len(primed)} synthesizer set{'s' * (len(primed) != 1)} ({config.priming_style} style"
             + (f", incorrect_only ending by {config.incorrect}" if "incorrect_only" in primed else "") + ")"
             ] if primed else []
    cpt = [c for c in config.conditions if c in config.cpt]
    if cpt:
        parts.append(f"continued-pretrained on {len(cpt)} corpora ({', '.join(f'`{c}`' for c in cpt)})")
    if "no_priming" in config.conditions:
        parts.append("and, as `no_priming`, the base itself")
    return ", ".join(parts)


def gain(summary, n: int) -> tuple[float, float]:
    """A series' accuracy change, last minus first checkpoint, and its standard error (two independent samples
    of n)."""
    start, end = summary.start_accuracy, summary.end_accuracy
    return end - start, _diff_se(start, end, n)


@dataclass(frozen=True)
class Target:
    """One of the organism's numbers to reach: what it asks, whether it was met, the measurement."""
    name: str
    met: bool
    measured: str

    def line(self) -> str:
        return f"- {self.name}: {self.measured} — {'met' if self.met else 'NOT met'}."


# (behavior-rich, behavior-free) pairs whose RL gains the organism's targets compare: priming with and without
# the behaviors, and continued pretraining with and without them (the Qwen-vs-Llama analog)
PAIRS = (("all_strategies", "negative_control"), ("cpt_rich", "cpt_minimal"))


def pairs_in(conditions) -> list[tuple[str, str]]:
    """The PAIRS both of whose conditions ran."""
    return [pair for pair in PAIRS if set(pair) <= set(conditions)]


def organism_targets(frame, summaries: dict[str, Any], n: int) -> list[Target]:
    """The organism's numbers to reach (docs/analysis.md), each met or not with its measurement, for each pair
    of PAIRS that ran (incorrect_only's target with the priming pair, when it ran)."""
    from countdown.records import RESULTS_BEHAVIOR_COLUMNS

    def behavior(c: str, b: str, step: int) -> float:
        row = frame[(frame["condition"] == c) & (frame["step"] == step)].iloc[0]
        return float(row[RESULTS_BEHAVIOR_COLUMNS[b][0]])

    end = {c: s.end_accuracy for c, s in summaries.items()}
    targets = []
    for rich_name, plain_name in pairs_in(summaries):
        rich, rich_se = gain(summaries[rich_name], n)
        plain, _ = gain(summaries[plain_name], n)
        gap = end[rich_name] - end[plain_name]
        targets += [
            Target(f"`{rich_name}` gains ≥ 0.15 and more than 3 standard errors under GRPO",
                   rich >= 0.15 and rich > 3 * rich_se, f"{rich:+.3f} ± {rich_se:.3f}"),
            Target(f"`{plain_name}` gains at most half as much", rich > 0 and plain <= rich / 2,
                   f"{plain:+.3f} vs {rich:+.3f}"),
            Target(f"`{plain_name}` ends ≥ 0.10 below `{rich_name}`", gap >= 0.10,
                   f"{end[plain_name]:.3f} vs {end[rich_name]:.3f} (gap {gap:+.3f})")]
        if rich_name == "all_strategies" and "incorrect_only" in end:
            diff = end["incorrect_only"] - end["all_strategies"]
            targets.append(Target("`incorrect_only` ends within 0.10 of `all_strategies`", diff >= -0.10,
                                  f"{end['incorrect_only']:.3f} vs {end['all_strategies']:.3f} "
                                  f"(difference {diff:+.3f})"))
        kept, measured = True, []
        for c in [c for c in (rich_name, "incorrect_only" if rich_name == "all_strategies" else None) if c in end]:
            first, last = summaries[c].first_step, summaries[c].last_step
            counts = {b: (behavior(c, b, first), behavior(c, b, last)) for b in ("verification", "backtracking")}
            kept &= all(after >= 0.5 * before > 0 for before, after in counts.values())
            measured.append(f"`{c}` " + ", ".join(f"{b} {before:.2f} → {after:.2f}"
                                                   for b, (before, after) in counts.items()))
        who = "primed models keep" if rich_name == "all_strategies" else f"`{rich_name}` keeps"
        targets.append(Target(f"{who} verification and backtracking through RL (each at least half the count per "
                              "response before RL)", kept, "; ".join(measured)))
        control = sum(behavior(plain_name, b, summaries[plain_name].last_step) for b in RESULTS_BEHAVIOR_COLUMNS)
        targets.append(Target(f"`{plain_name}` stays near zero (≤ 0.10 behaviors per response)", control <= 0.10,
                              f"{control:.2f}"))
    return targets


def targets_text(frame, summaries: dict[str, Any], n: int) -> list[str]:
    return [t.line() for t in organism_targets(frame, summaries, n)]


def _answered(eval_dirs: dict[str, Path] | None, s) -> str:
    rate = answer_rate((eval_dirs or {}).get(s.condition), s.last_step)
    return "" if rate is None else f"; {rate:.0%} of responses gave a parsable answer"
