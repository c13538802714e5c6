"""Does a model that searches recognise the target when it reaches it? The measurement behind docs/analysis.md's
"Why the searchers miss the target". Two readings, both printed, nothing asserted:

- teacher-forced: on the correct compact search of every held-out problem (priming.compact, the trace an
  all_strategies set would hold), the model's logit of `is` minus that of `not` at each verdict: at the hit
  (where `is` is right) and at the misses. Quantiles of both, and how often the right word ranks first.
- sampled (with --traces, e.g. an rl.evaluate or rl.rollout file of the same model): of the responses that
  compute the target's value at some attempt, how many call that first hit "is", and how many verdicts on
  other values wrongly say "is".

    python benchmarks/organism_recognition.py runs/demo/sft/all_strategies --problems runs/demo/problems/test.jsonl \\
        --traces runs/demo/eval/all_strategies/step_000000.traces.jsonl
"""
from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VERDICT = re.compile(r"= (\S+) (is|not) (\d+)")


def quantiles(values: list[float], qs=(0.1, 0.5, 0.9)) -> str:
    values = sorted(values)
    return " / ".join(f"{values[int(q * (len(values) - 1))]:+.1f}" for q in qs) if values else "-"


def teacher_forced(model_dir: str, problems: list) -> dict[str, list[float]]:
    """logit(is) - logit(not) at every verdict of each problem's correct search, split into hits and misses."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from countdown.prompts import render_prompt
    from priming import compact

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    IS, NOT = tokenizer.convert_tokens_to_ids(["is", "not"])
    if IS == NOT or tokenizer.unk_token_id in (IS, NOT):
        raise SystemExit(f"error: {model_dir}'s tokenizer has no single tokens for 'is' and 'not' "
                         "(not an organism model)")
    margins: dict[str, list[float]] = {"hit": [], "miss": []}
    for problem in problems:
        search = compact.search_trace(problem, wrong=False, rng=random.Random(0))   # a correct search: rng unused
        if search is None:
            continue
        text = render_prompt(problem.numbers, problem.target, "compact") + search.completion
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        for i in range(1, len(ids)):
            if ids[i] in (IS, NOT):   # the logits before a verdict word predict it
                margins["hit" if ids[i] == IS else "miss"].append((logits[i - 1, IS] - logits[i - 1, NOT]).item())
    return margins


def sampled(traces_path: str) -> dict[str, int]:
    """Counts over sampled responses: reach, first hit called is, misses called is (of all verdicts on misses)."""
    from countdown.io import read_rows

    counts = {"responses": 0, "correct": 0, "reach": 0, "first_hit_is": 0, "miss_verdicts": 0, "misses_is": 0}
    for row in read_rows(traces_path):
        counts["responses"] += 1
        counts["correct"] += bool(row.get("correct"))
        target, reached = str(row["target"]), False
        for value, verdict, _ in VERDICT.findall(row["completion"]):
            if value == target and not reached:
                reached = True
                counts["reach"] += 1
                counts["first_hit_is"] += verdict == "is"
            elif value != target:
                counts["miss_verdicts"] += 1
                counts["misses_is"] += verdict == "is"
    return counts


def main(argv: list[str] | None = None) -> int:
    intro, _, rest = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=rest,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model folder (an organism model: words tokenizer, compact prompts)")
    parser.add_argument("--problems", required=True, help="held-out problems (Problem JSONL/parquet)")
    parser.add_argument("--traces", help="sampled responses of this model on those problems, to count as well")
    args = parser.parse_args(argv)

    from countdown.data import load_problems
    from countdown.io import InputError

    try:
        problems = load_problems(args.problems)
    except InputError as exc:
        parser.error(str(exc))
    if not (Path(args.model) / "config.json").is_file():
        parser.error(f"{args.model}: not a model folder (no config.json)")
    margins = teacher_forced(args.model, problems)
    hits, misses = margins["hit"], margins["miss"]
    print(f"teacher-forced on {len(hits)} correct searches: logit(is) - logit(not), q10 / q50 / q90")
    print(f"  at the hit:   {quantiles(hits)}   ranked 'is' first at {sum(m > 0 for m in hits)} of {len(hits)}")
    print(f"  at the misses: {quantiles(misses)}   ranked 'is' first at {sum(m > 0 for m in misses)} of {len(misses)}"
          f" (q99 {quantiles(misses, (0.99,))})")
    if args.traces:
        c = sampled(args.traces)
        print(f"sampled ({args.traces}): {c['correct']} of {c['responses']} right; {c['reach']} reach the target's "
              f"value, {c['first_hit_is']} of them call that first hit 'is'; {c['misses_is']} of "
              f"{c['miss_verdicts']} verdicts on other values say 'is'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
