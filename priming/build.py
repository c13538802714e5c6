"""Build priming SFT sets: `python -m priming.build`.

For each requested condition: draw problems (the generator's "priming" preset, 3-4 numbers, targets 10-25,
on its own "priming" stream, minus any --exclude problems), write one trace per problem (programmatic
synthesizer or an LLM), verify the set with the rule judge and the reward (priming.verify; a set that misses
its condition is not written and the command exits 1), then write

    OUT/<condition>.parquet and OUT/<condition>.jsonl   rows: prompt, completion, id, numbers, target, ...
    OUT/manifest.json                                   per condition: counts, behavior table, seed, source

`prompt` is countdown.prompts.render_prompt(...) (ends inside "<think>"), `completion` continues it, so the
files feed TRL's SFTTrainer (prompt/completion format, completion-only loss) and veRL's SFT trainer
(data.prompt_key=prompt, data.response_key=completion) as they are. Re-running skips conditions whose
manifest entry was built with the same settings.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from countdown.io import InputError, run_cli, write_json, write_rows
from countdown.prompts import TEMPLATES, render_prompt
from countdown.records import Problem
from countdown.reward import score
from priming.conditions import CONDITIONS, Condition, condition_for_behaviors, describe_all, get_condition
from priming.verify import VerificationError, check, verify_rows

PROBLEM_SPLIT = "priming"  # the generator seeds its stream by (seed, split): distinct from train/test
MANIFEST = "manifest.json"


def problem_stream(seed: int, preset: str, exclude: set[tuple]) -> Iterator[Problem]:
    """Endless reproducible solvable problems, never one whose key is in `exclude`."""
    from countdown.generate import iter_problems

    for problem in iter_problems(seed=seed, preset=preset, split=PROBLEM_SPLIT, exclude=exclude):
        if problem.key in exclude:  # the generator promises this; a leak would poison the evaluation
            raise RuntimeError(f"problem {problem.id} {problem.key} is in the excluded set")
        yield problem


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


def synth_rows(condition: Condition, num: int, seed: int, problems: Iterator[Problem], template: str,
               tokenizer: Any = None, progress: bool = True) -> tuple[list[dict[str, Any]], int]:
    """`num` synthesized rows and how many problems were skipped (no integer-step trace of the kind)."""
    from tqdm import tqdm

    from priming.synth import synthesize

    rows: list[dict[str, Any]] = []
    skipped = 0
    base = CONDITIONS["all_strategies"] if condition.thought == "filler" else condition
    bar = tqdm(total=num, desc=condition.name, disable=not progress, leave=False)
    for problem in problems:
        if len(rows) >= num:
            break
        if skipped > 10 * num + 100:
            raise RuntimeError(f"{condition.name}: only {len(rows)} of {num} traces after {skipped} skipped problems")
        trace = synthesize(problem, base, seed)
        if trace is None:
            skipped += 1
            continue
        extra: dict[str, Any] = {}
        completion = trace.completion
        if condition.thought == "filler":
            from priming.filler import length_matched, token_count

            try:
                completion = length_matched(trace.completion, trace.answer, tokenizer)
            except ValueError:
                skipped += 1
                continue
            extra["original_tokens"] = token_count(tokenizer, trace.completion)
        rows.append(make_row(problem, completion, condition, "synth", template, tokenizer, **extra))
        bar.update(1)
    bar.close()
    return rows, skipped


def settings_of(args: argparse.Namespace, condition: Condition) -> dict[str, Any]:
    """What a built set depends on; a manifest entry with the same settings is reused (resume)."""
    return {"condition": condition.name, "num": args.num, "seed": args.seed, "source": args.source,
            "preset": args.preset, "template": args.template,
            "tokenizer": str(args.tokenizer) if args.tokenizer else None,
            "model": args.model if args.source == "llm" else None,
            "exclude": sorted(str(p) for p in args.exclude)}


def read_manifest(out: Path) -> dict[str, Any]:
    path = out / MANIFEST
    if not path.is_file():
        return {"conditions": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}); delete it to rebuild") from None


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    write_json(manifest, out / MANIFEST)


def build_one(args: argparse.Namespace, condition: Condition, exclude: set[tuple], tokenizer: Any,
              manifest: dict[str, Any]) -> dict[str, Any]:
    out = Path(args.out)
    settings = settings_of(args, condition)
    entry = manifest["conditions"].get(condition.name)
    files = [out / f"{condition.name}.parquet", out / f"{condition.name}.jsonl"]
    complete = bool(entry) and entry.get("counts", {}).get("rows") == args.num  # an LLM run may stop short
    if complete and entry.get("settings") == settings and all(f.is_file() for f in files) and not args.force:
        print(f"{condition.name}: already built with these settings, skipped ({files[0]})", file=sys.stderr)
        return entry

    started = time.time()
    problems = problem_stream(args.seed, args.preset, exclude)
    if args.source == "synth":
        rows, skipped = synth_rows(condition, args.num, args.seed, problems, args.template, tokenizer,
                                   progress=not args.quiet)
        extra_counts: dict[str, Any] = {}
    else:
        from priming.llm_gen import llm_rows

        rows, extra_counts = llm_rows(condition, args.num, args.seed, problems, args, tokenizer)
        skipped = extra_counts.get("problems_skipped", 0)
        if len(rows) < args.num:
            print(f"warning: {condition.name}: only {len(rows)} of {args.num} traces within --max-requests; "
                  "writing them (re-run to continue: cached replies are reused)", file=sys.stderr)
    if any((tuple(sorted(r["numbers"])), r["target"]) in exclude for r in rows):
        raise RuntimeError("a priming problem overlaps the excluded evaluation problems")

    report = verify_rows(rows, condition)
    print(f"\n## {condition.name}\n{report.markdown()}", file=sys.stderr)
    check(report)  # raises VerificationError: nothing is written for a set that misses its condition

    write_rows(rows, files[0])
    write_rows(rows, files[1])
    entry = {
        "settings": settings,
        "requires": sorted(condition.requires), "excludes": sorted(condition.excludes),
        "expected_reward": condition.reward,
        "counts": {"rows": len(rows), "problems_skipped": skipped, **extra_counts,
                   "excluded_problems": len(exclude)},
        "disjoint_from_excluded": True,
        "verification": report.to_dict(),
        "files": [f.name for f in files],
        "seconds": round(time.time() - started, 2),
    }
    if rows and "completion_tokens" in rows[0]:
        entry["counts"]["mean_completion_tokens"] = round(sum(r["completion_tokens"] for r in rows) / len(rows), 1)
    manifest["conditions"][condition.name] = entry
    write_manifest(out, manifest)
    return entry


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m priming.build",
        description="Build behavior-controlled priming SFT sets (prompt/completion parquet + JSONL and a "
                    "manifest). Every set is checked with the rule judge and the reward before it is written.",
        epilog="examples:\n"
               "  python -m priming.build --list\n"
               "  python -m priming.build --condition all_strategies --num 1000 --out runs/priming\n"
               "  python -m priming.build --behavior backtracking --num 1000 --out runs/priming   "
               "# = only_backtracking\n"
               "  python -m priming.build --all --tokenizer runs/tiny-model --num 200 --out runs/priming\n"
               "  python -m priming.build --condition all_strategies --source llm --base-url "
               "http://localhost:8000/v1 --model my-model --num 1000 --out runs/priming-llm\n"
               "exit codes: 0 built (or already built), 1 a set failed verification, 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--condition", action="append", default=[], metavar="NAME",
                       help=f"condition to build (repeatable): {', '.join(CONDITIONS)}")
    which.add_argument("--behavior", metavar="SPEC",
                       help="short form: backtracking -> only_backtracking, verification|backward|subgoal -> "
                            "backtracking_<that>, all -> all_strategies, none -> negative_control")
    which.add_argument("--all", action="store_true", help="build every condition")
    which.add_argument("--list", action="store_true", help="list the conditions and exit")
    parser.add_argument("--num", type=int, default=1000, help="traces per condition (default 1000, as in the paper)")
    parser.add_argument("--seed", type=int, default=0, help="seed for problems and phrasing (default 0)")
    parser.add_argument("--source", choices=("synth", "llm"), default="synth",
                        help="programmatic synthesizer (default, offline) or an OpenAI-compatible LLM")
    parser.add_argument("--preset", default="priming", help="countdown.generate preset for the problems")
    parser.add_argument("--exclude", action="append", default=[], metavar="PROBLEMS_FILE",
                        help="problems (e.g. the evaluation split) that must not appear; repeatable")
    parser.add_argument("--template", choices=TEMPLATES, default="base", help="prompt template (chat needs --tokenizer)")
    parser.add_argument("--tokenizer", metavar="PATH",
                        help="local tokenizer folder: needed for length_matched and the chat template; adds "
                             "completion_tokens to rows")
    parser.add_argument("--out", help="output folder")
    parser.add_argument("--force", action="store_true", help="rebuild even if the manifest says it is built")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    llm = parser.add_argument_group("LLM source (--source llm)")
    llm.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    llm.add_argument("--model", help="model name at the endpoint")
    llm.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    llm.add_argument("--temperature", type=float, default=1.0)
    llm.add_argument("--max-tokens", type=int, default=2048)
    llm.add_argument("--concurrency", type=int, default=8)
    llm.add_argument("--rpm", type=float, default=0, help="requests per minute limit (0 = none)")
    llm.add_argument("--max-requests", type=int, default=0,
                     help="stop after this many requests per condition (default 4 x --num)")
    llm.add_argument("--attempts", type=int, default=3, help="asks per problem before moving on (default 3)")
    llm.add_argument("--cache", help="SQLite cache file for LLM replies (default OUT/.llm_cache/replies.sqlite)")
    llm.add_argument("--filter-behaviors", action="store_true",
                     help="keep only LLM traces whose rule-judge behaviors match the condition exactly")
    return parser


def resolve_conditions(args: argparse.Namespace) -> list[Condition]:
    if args.all:
        return list(CONDITIONS.values())
    if args.behavior:
        return [condition_for_behaviors(args.behavior)]
    if args.condition:
        return [get_condition(name) for name in dict.fromkeys(args.condition)]
    raise InputError("say what to build: --condition NAME, --behavior SPEC, --all, or --list")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        for row in describe_all():
            print(f"{row['condition']:<27} requires: {row['requires']:<60} reward {row['reward']:<4} "
                  f"{row['description']}")
        return 0
    conditions = resolve_conditions(args)
    if not args.out:
        raise InputError("--out DIR is required")
    if args.num < 1:
        raise InputError(f"--num must be >= 1, got {args.num}")
    if args.source == "llm" and (not args.base_url or not args.model):
        raise InputError("--source llm needs --base-url and --model")
    needs_tok = [c.name for c in conditions if c.thought == "filler"]
    if (needs_tok or args.template == "chat") and not args.tokenizer:
        raise InputError(f"{', '.join(needs_tok) or 'the chat template'} needs --tokenizer PATH "
                         "(token lengths are per tokenizer)")
    if args.source == "llm" and any(c.thought != "search" for c in conditions):
        # controls are deterministic edits, not a model's writing
        conditions_llm = [c.name for c in conditions if c.thought != "search"]
        raise InputError(f"{', '.join(conditions_llm)} are built with --source synth only")
    from countdown.generate import resolve_config

    resolve_config(args.preset)  # unknown preset -> InputError before any work
    exclude = load_exclude(args.exclude)
    tokenizer = None
    if args.tokenizer:
        from priming.filler import load_tokenizer

        tokenizer = load_tokenizer(args.tokenizer)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    manifest = read_manifest(out)
    failed = []
    for condition in conditions:
        try:
            entry = build_one(args, condition, exclude, tokenizer, manifest)
        except VerificationError as exc:
            print(f"FAILED {exc}", file=sys.stderr)
            failed.append(condition.name)
            continue
        print(f"{condition.name}: {entry['counts']['rows']} traces -> {out / (condition.name + '.parquet')}")
    if failed:
        print(f"error: verification failed for {', '.join(failed)} (nothing written for them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_cli(main)
