"""Build priming SFT sets: `python -m priming.build`.

For each requested condition: draw problems (the generator's "priming" preset, 3-4 numbers, targets 10-25,
on its own "priming" stream, minus any --exclude problems), write one trace per problem (programmatic
synthesizer or an LLM), verify the set with the rule judge and the reward (priming.verify; a set that misses
its condition is not written and the command exits 1), then write

    OUT/<condition>.parquet and OUT/<condition>.jsonl   rows: prompt, completion, id, numbers, target, ...
    OUT/manifest.json                                   per condition: counts, behavior table, seed, source

(`set_path` and `manifest_path` name these files for other code; `build(config)` is the library entry.)

`prompt` is countdown.prompts.render_prompt(...) (ends inside "<think>"), `completion` continues it, so the
files feed TRL's SFTTrainer (prompt/completion format, completion-only loss) and veRL's SFT trainer
(data.prompt_key=prompt, data.response_key=completion) as they are. Re-running skips conditions whose
manifest entry was built with the same settings.
"""
from __future__ import annotations

import functools
import itertools
import json
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from countdown.cli import CommandConfig, option, run_cli
from countdown.io import InputError, write_json, write_rows
from countdown.prompts import TEMPLATES, render_prompt
from countdown.records import BEHAVIORS, Problem
from countdown.reward import score
from priming.compact import WRONG_ENDINGS
from priming.conditions import (CONDITIONS, STYLE_SHOWS, Condition, condition_for_behaviors, correct_share,
                                describe_all, get_condition, parse_share)
from priming.llm_gen import LLMSourceOptions
from priming.verify import VerificationError, check, verify_rows

PROBLEM_SPLIT = "priming"  # the generator seeds its stream by (seed, split): distinct from train/test
MANIFEST = "manifest.json"


def set_path(out: str | Path, condition: str, fmt: str = "jsonl", split: str = "train") -> Path:
    """Where a built set lives: OUT/<condition>.<fmt> (fmt jsonl or parquet), its validation split
    OUT/<condition>.validation.<fmt>."""
    name = condition if split == "train" else f"{condition}.{split}"
    return Path(out) / f"{name}.{fmt}"


def manifest_path(out: str | Path) -> Path:
    return Path(out) / MANIFEST


def problem_stream(seed: int, preset: str, exclude: set[tuple], orders: int = 1) -> Iterator[Problem]:
    """Endless reproducible solvable problems, never one whose key is in `exclude`. With `orders` > 1 each
    problem comes up to that many times, its numbers in distinct orders (the first as drawn): a small preset
    (organism: 827 training-side problems) then gives more distinct traces than it has problems."""
    from countdown.generate import iter_problems

    for problem in iter_problems(seed=seed, preset=preset, split=PROBLEM_SPLIT, exclude=exclude):
        if problem.key in exclude:  # the generator promises this; a leak would poison the evaluation
            raise RuntimeError(f"problem {problem.id} {problem.key} is in the excluded set")
        yield problem
        if orders > 1:
            others = sorted(set(itertools.permutations(problem.numbers)) - {tuple(problem.numbers)})
            random.Random(f"{seed}|orders|{problem.id}").shuffle(others)
            for k, numbers in enumerate(others[:orders - 1], 1):
                yield replace(problem, id=f"{problem.id}-o{k}", numbers=list(numbers))


def load_exclude(paths: Sequence[str]) -> set[tuple]:
    from countdown.data import load_problems

    keys: set[tuple] = set()
    for path in paths:
        keys |= {p.key for p in load_problems(path)}
    return keys


def make_row(problem: Problem, completion: str, condition: Condition, source: str, template: str,
             tokenizer: Any = None, **extra: Any) -> dict[str, Any]:
    row = {
        "prompt": render_prompt(problem.numbers, problem.target, template, tokenizer=tokenizer),
        "completion": completion,
        "id": problem.id,
        "numbers": list(problem.numbers),
        "target": int(problem.target),
        "condition": condition.name,
        "source": source,
        "reward": score(completion, problem.numbers, problem.target),
    }
    if tokenizer is not None:
        from priming.filler import token_count

        row["completion_tokens"] = token_count(tokenizer, completion)
    row.update(extra)
    return row


def planned_outcomes(num: int, share: float, seed: int, part: str) -> list[bool]:
    """Which of `num` rows end correct (True): exactly round(share * num) of them, in a seeded order that is
    the same for every condition, so a control derived from all_strategies plans the same answers."""
    k = round(share * num)
    plan = [True] * k + [False] * (num - k)
    random.Random(f"{seed}|planned|{part}|{num}|{k}").shuffle(plan)
    return plan


def synth_rows(condition: Condition, plan: Sequence[bool], seed: int, problems: Iterator[Problem], template: str,
               tokenizer: Any = None, progress: bool = True, style: str = "prose", ops: str | None = None,
               incorrect: str = "give-up") -> tuple[list[dict[str, Any]], int]:
    """One synthesized row per planned outcome (True: a correct answer, False: a wrong one stated as
    confidently) and how many problems were skipped (no integer-step trace of the kind). A derived control
    (empty_cot, negative_control, length_matched) turns its source condition's trace for the same problem and
    plan into its own, so it has the same problems and answers as that condition's set. `incorrect` is how
    incorrect_only's searches end wrong (style search: priming.compact.WRONG_ENDINGS)."""
    from tqdm import tqdm

    if style == "search":
        from priming import compact

        synthesize = functools.partial(compact.synthesize, ops=ops or compact.OPS, incorrect=incorrect)
        derive = compact.derive
    else:
        from priming.synth import derive, synthesize

    rows: list[dict[str, Any]] = []
    skipped = 0
    num = len(plan)
    base = CONDITIONS[condition.source] if condition.source else condition
    bar = tqdm(total=num, desc=condition.name, disable=not progress, leave=False)
    for problem in problems:
        if len(rows) >= num:
            break
        if skipped > 10 * num + 100:
            raise RuntimeError(f"{condition.name}: only {len(rows)} of {num} traces after {skipped} skipped problems")
        correct = plan[len(rows)]
        source = trace = synthesize(problem, base, seed, wrong=not correct)
        if source is not None and condition.source:
            try:
                trace = derive(problem, condition, source, seed, tokenizer)
            except ValueError:  # no dot filler of the exact token length
                trace = None
        if trace is None:
            skipped += 1
            continue
        extra: dict[str, Any] = {"planned": "wrong" if trace.wrong else "correct", "style": style}
        if condition.thought == "filler":
            from priming.filler import token_count

            extra["original_tokens"] = token_count(tokenizer, source.completion)
        rows.append(make_row(problem, trace.completion, condition, "synth", template, tokenizer, **extra))
        bar.update(1)
    bar.close()
    return rows, skipped


def settings_of(config: "BuildConfig", condition: Condition) -> dict[str, Any]:
    """What a built set depends on; a manifest entry with the same settings is reused (resume)."""
    return {"condition": condition.name, "num": config.num, "validation": config.validation, "seed": config.seed,
            "source": config.source, "correct_share": config.correct_share if config.source == "synth" else None,
            "preset": config.problem_preset, "template": config.template, "only_correct": config.only_correct,
            "style": config.style if config.source == "synth" else None,
            "tokenizer": str(config.tokenizer) if config.tokenizer else None,
            "model": config.model if config.source == "llm" else None,
            "exclude": sorted(str(p) for p in config.exclude),
            # sets built before --orders and --incorrect stay valid
            **({"orders": config.orders} if config.orders > 1 else {}),
            **({"incorrect": config.incorrect} if config.incorrect != "give-up" and condition.reward < 1.0 else {})}


def read_manifest(out: Path) -> dict[str, Any]:
    path = manifest_path(out)
    if not path.is_file():
        return {"conditions": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}); delete it to rebuild") from None


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    write_json(manifest, manifest_path(out))


def share_correct(rows: Sequence[dict[str, Any]]) -> float | None:
    """The measured share of rows whose answer countdown.reward scores as correct."""
    return round(sum(r["reward"] == 1.0 for r in rows) / len(rows), 4) if rows else None


def build_one(config: "BuildConfig", condition: Condition, exclude: set[tuple], tokenizer: Any,
              manifest: dict[str, Any]) -> dict[str, Any]:
    out = Path(config.out)
    settings = settings_of(config, condition)
    entry = manifest["conditions"].get(condition.name)
    files = [set_path(out, condition.name, fmt, split) for split in ("train", "validation")[:1 + bool(config.validation)]
             for fmt in ("parquet", "jsonl")]
    counts = (entry or {}).get("counts", {})
    complete = counts.get("rows") == config.num and counts.get("validation_rows", 0) == config.validation
    if complete and entry.get("settings") == settings and all(f.is_file() for f in files) and not config.force:
        print(f"{condition.name}: already built with these settings, skipped ({files[0]})", file=sys.stderr)
        return entry

    started = time.time()
    total = config.num + config.validation
    problems = problem_stream(config.seed, config.problem_preset, exclude, config.orders)
    if config.source == "synth":
        share = correct_share(condition, config.correct_share)
        plan = (planned_outcomes(config.num, share, config.seed, "train")
                + planned_outcomes(config.validation, share, config.seed, "validation"))
        rows, skipped = synth_rows(condition, plan, config.seed, problems, config.template, tokenizer,
                                   progress=not config.quiet, style=config.style, ops=config.search_ops(),
                                   incorrect=config.incorrect)
        extra_counts: dict[str, Any] = {"planned_share_correct": share}
    else:
        from priming.llm_gen import llm_traces

        traces, extra_counts = llm_traces(condition, total, config.seed, problems, config,
                                          default_cache=out / ".llm_cache" / "replies.sqlite",
                                          progress=not config.quiet)
        rows = [make_row(problem, completion, condition, "llm", config.template, tokenizer, **extra)
                for problem, completion, extra in traces]
        skipped = extra_counts.get("problems_skipped", 0)
        if len(rows) < total:
            print(f"warning: {condition.name}: only {len(rows)} of {total} traces within --max-requests; "
                  "writing them (re-run to continue: cached replies are reused)", file=sys.stderr)
    if any((tuple(sorted(r["numbers"])), r["target"]) in exclude for r in rows):
        raise RuntimeError("a priming problem overlaps the excluded evaluation problems")

    shown = config.shown()
    report = verify_rows(rows, condition, shown=shown)
    print(f"\n## {condition.name}\n{report.markdown()}", file=sys.stderr)
    check(report)  # raises VerificationError: nothing is written for a set that misses its condition

    train, validation = rows[:config.num], rows[config.num:]
    for split_rows, pair in ((train, files[:2]), (validation, files[2:])):
        for path in pair:
            write_rows(split_rows, path)
    entry = {
        "settings": settings,
        "requires": sorted(condition.requires & shown),
        "excludes": sorted(set(BEHAVIORS) - (condition.requires & shown)),
        "expected_reward": condition.reward,
        "derived_from": condition.source if config.source == "synth" else None,  # an LLM writes its own
        "counts": {"rows": len(train), "validation_rows": len(validation), "problems_skipped": skipped,
                   **extra_counts, "share_correct": share_correct(train),
                   "share_correct_validation": share_correct(validation), "excluded_problems": len(exclude)},
        "disjoint_from_excluded": True,
        "verification": report.to_dict(),
        "files": [f.name for f in files],
        "seconds": round(time.time() - started, 2),
    }
    if rows and "completion_tokens" in rows[0]:
        entry["counts"]["mean_completion_tokens"] = round(sum(r["completion_tokens"] for r in train) / len(train), 1)
    manifest["conditions"][condition.name] = entry
    write_manifest(out, manifest)
    return entry


@dataclass(kw_only=True)
class BuildConfig(LLMSourceOptions, CommandConfig):
    """Build behavior-controlled priming SFT sets (prompt/completion parquet + JSONL and a manifest). Every set
    is checked with the rule judge and the reward before it is written."""

    epilog = """examples:
  python -m priming.build --list
  python -m priming.build --condition all_strategies --num 1000 --out runs/priming
  python -m priming.build --behavior backtracking --num 1000 --out runs/priming   # = only_backtracking
  python -m priming.build --all --tokenizer runs/tiny-model --num 200 --out runs/priming
  python -m priming.build --condition all_strategies --source llm --base-url http://localhost:8000/v1 \\
      --model my-model --num 1000 --out runs/priming-llm
exit codes: 0 built (or already built), 1 a set failed verification, 2 bad input."""

    condition: list[str] = option(default_factory=list, help=f"condition(s) to build (repeatable): "
                                  f"{', '.join(CONDITIONS)}", metavar="NAME")
    behavior: str | None = option(None, "short form: backtracking -> only_backtracking, verification|backward|"
                                  "subgoal -> backtracking_<that>, all -> all_strategies, none -> negative_control",
                                  metavar="SPEC")
    all_conditions: bool = option(False, "build every condition", aliases=("--all",))
    list_conditions: bool = option(False, "list the conditions and exit", aliases=("--list",))
    num: int = option(1000, "traces per condition (1000 in the paper)")
    orders: int = option(1, "use each problem up to N times, its numbers in distinct orders (1: each problem once, "
                         "as in the paper; more lets a small preset such as organism give more distinct traces "
                         "than it has problems)", metavar="N")
    validation: int = option(0, "also write a validation split of this many traces on further problems, "
                             "OUT/<condition>.validation.* (200 in the paper)", metavar="N")
    correct_share: str = option("all", "share of traces whose answer is correct; the rest end on a wrong answer "
                                "stated as confidently: all (1.0), paper (the shares the paper measured per "
                                "condition: all_strategies 0.43 ...), or a number P in [0, 1]. incorrect_only is "
                                "always 0; synth source only (an LLM's share is measured)", metavar="all|paper|P")
    seed: int = option(0, "seed for problems and phrasing")
    source: str = option("synth", "programmatic synthesizer (offline) or an OpenAI-compatible LLM",
                         choices=("synth", "llm"))
    style: str = option("prose", "synth traces: prose (natural language, every behavior a condition asks for) "
                        "or search (compact generate-and-test searches for the CPU model organism: verification "
                        "and backtracking only, 3-number problems without division, e.g. --preset organism)",
                        choices=tuple(STYLE_SHOWS))
    incorrect: str = option("give-up", "style search: how incorrect_only's searches end wrong: give-up (stop after "
                            "backing off and answer the last miss, as all_strategies' wrong answers do) or slip "
                            "(search to the target, say so, then miswrite one number or operator of the answer)",
                            choices=WRONG_ENDINGS)
    problem_preset: str = option("priming", "countdown.generate preset for the problems", aliases=("--preset",))
    exclude: list[str] = option(default_factory=list, help="problems (e.g. the evaluation split) that must not "
                                "appear; repeatable", metavar="PROBLEMS_FILE")
    template: str = option("base", "prompt template (chat needs --tokenizer)", choices=TEMPLATES)
    tokenizer: str | None = option(None, "local tokenizer folder: needed for length_matched and the chat "
                                   "template; adds completion_tokens to rows", metavar="PATH")
    out: str | None = option(None, "output folder", output="dir")
    force: bool = option(False, "rebuild even if the manifest says it is built")
    quiet: bool = option(False, "no progress bars")

    def validate(self) -> None:
        if sum(map(bool, (self.condition, self.behavior, self.all_conditions, self.list_conditions))) > 1:
            raise InputError("give one of --condition, --behavior, --all, --list")
        if self.num < 1:
            raise InputError(f"--num must be >= 1, got {self.num}")
        if not 1 <= self.orders <= 24:
            raise InputError(f"--orders must be in 1..24 (the orders of 4 numbers), got {self.orders}")
        if self.validation < 0:
            raise InputError(f"--validation must be >= 0, got {self.validation}")
        parse_share(self.correct_share)
        if self.style == "search" and self.source != "synth":
            raise InputError("--style search is a synthesizer style: it needs --source synth")
        if self.incorrect != "give-up" and self.style != "search":
            raise InputError("--incorrect slip is a way a search ends: it needs --style search")
        super().validate()

    def search_ops(self) -> str | None:
        """With --style search, the operators of the preset's problems (checked to be ones a search can take)."""
        from priming.compact import searchable_ops

        return searchable_ops(self.problem_preset) if self.style == "search" else None

    def shown(self) -> frozenset[str]:
        """The behaviors this build's traces can show: a condition's others are checked as absent."""
        return STYLE_SHOWS[self.style] if self.source == "synth" else frozenset(BEHAVIORS)

    def conditions(self) -> list[Condition]:
        if self.all_conditions:
            return list(CONDITIONS.values())
        if self.behavior:
            return [condition_for_behaviors(self.behavior)]
        if self.condition:
            return [get_condition(name) for name in dict.fromkeys(self.condition)]
        raise InputError("say what to build: --condition NAME, --behavior SPEC, --all, or --list")


def check_inputs(config: BuildConfig) -> list[Condition]:
    """Every input problem a build can have, found before any work; the conditions to build."""
    from countdown.generate import distribution

    conditions = config.conditions()
    if not config.out:
        raise InputError("--out DIR is required")
    if config.source == "llm" and (not config.base_url or not config.model):
        raise InputError("--source llm needs --base-url and --model")
    needs_tok = [c.name for c in conditions if c.thought == "filler"]
    if (needs_tok or config.template == "chat") and not config.tokenizer:
        raise InputError(f"{', '.join(needs_tok) or 'the chat template'} needs --tokenizer PATH "
                         "(token lengths are per tokenizer)")
    edits = [c.name for c in conditions if c.thought in ("empty", "filler")]
    if config.source == "llm" and edits:  # controls that are deterministic edits, not a model's writing
        raise InputError(f"{', '.join(edits)} are built with --source synth only")
    if config.source == "llm" and config.correct_share != "all":
        raise InputError("--correct-share applies to --source synth: an LLM's traces are kept unfiltered and "
                         "their share is measured (--only-correct keeps only correct ones)")
    distribution(config.problem_preset)  # unknown preset -> InputError before any work
    config.search_ops()   # and, with --style search, one a search can take
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    return conditions


def build(config: BuildConfig) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Build every requested set: (manifest entry per built condition, conditions that failed verification)."""
    conditions = check_inputs(config)
    exclude = load_exclude(config.exclude)
    tokenizer = None
    if config.tokenizer:
        from rl.models import load_tokenizer

        tokenizer = load_tokenizer(config.tokenizer)
    out = Path(config.out)
    manifest = read_manifest(out)
    built, failed = {}, []
    for condition in conditions:
        try:
            built[condition.name] = build_one(config, condition, exclude, tokenizer, manifest)
        except VerificationError as exc:
            print(f"FAILED {exc}", file=sys.stderr)
            failed.append(condition.name)
    return built, failed


def main(argv: list[str] | None = None) -> int:
    config = BuildConfig.parse(argv)
    if config.list_conditions:
        for row in describe_all():
            print(f"{row['condition']:<27} requires: {row['requires']:<60} reward {row['reward']:<4} "
                  f"{row['description']}")
        return 0
    built, failed = build(config)
    for name, entry in built.items():
        print(f"{name}: {entry['counts']['rows']} traces -> {set_path(config.out, name, 'parquet')}")
    if failed:
        print(f"error: verification failed for {', '.join(failed)} (nothing written for them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_cli(main)
