"""Judge cost and speed: input tokens sent per trace in each LLM-judge mode, and rule-judge throughput.

    python benchmarks/bench_judge.py [--traces 2000] [--seed 0] [--rules FILE]

--rules measures another rules.py (e.g. an earlier version from `git show`) in the throughput test.

Tokens: tiktoken's o200k_base (gpt-4o-mini's encoding) when it can be loaded, else a GPT-style regex
pre-tokenizer (words with their leading space, 1-3 digit number groups, punctuation runs); the output says
which. The same counter measures the prompts and the traces, so the ratios are comparable.
Traces: synthetic Countdown reasoning in the style of RL-trained models (attempts, checks, retries), at
several lengths, because the prompt overhead is fixed and its ratio depends on trace length.
Throughput baseline: countdown.reward.grade on the same traces, in the same process.
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from behaviors.prompts import combined_messages, per_behavior_messages, questions  # noqa: E402
from behaviors.rules import count_behaviors  # noqa: E402
from countdown.reward import grade  # noqa: E402

_PRETOKEN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?\d{1,3}| ?[^\sA-Za-z\d]+|\s+(?!\S)|\s+""")


def token_counter():
    try:
        import tiktoken

        enc = tiktoken.get_encoding("o200k_base")
        return "tiktoken o200k_base", lambda text: len(enc.encode(text))
    except Exception:   # not installed, or its vocabulary file cannot be fetched offline
        return "regex pre-tokenizer (tiktoken vocabulary unavailable offline)", lambda text: len(_PRETOKEN.findall(text))


def synth_trace(rng: random.Random, attempts: int) -> tuple[str, list[int], int]:
    """A Countdown trace with `attempts` tries: equations, comparisons with the target, retries."""
    numbers = [rng.randint(1, 99) for _ in range(rng.choice((3, 4)))]
    target = rng.randint(10, 99)
    parts = [f"We have the numbers {', '.join(map(str, numbers))} and need to reach {target}."]
    for k in range(attempts):
        a, b, c = rng.sample(numbers, 3)
        first = a + b if rng.random() < 0.5 else a * b
        op = "+" if first == a + b else "*"
        second = first - c
        parts.append(f"Let's try {a} {op} {b} = {first}. Then {first} - {c} = {second}.")
        style = rng.random()
        if style < 0.4:
            parts.append(f"{second} is not {target}, it is too {'big' if second > target else 'small'}.")
        elif style < 0.6:
            parts.append(f"Working backwards, {target} - {c} = {target - c}, so we would need {target - c} "
                         f"from {a} and {b}.")
        elif style < 0.8:
            parts.append(f"First I want to get {target // 2} since doubling it gets close to {target}.")
        else:
            parts.append("Hmm, that does not get us anywhere useful.")
        if k < attempts - 1:
            parts.append(rng.choice(["Let me try a different combination.", "Let's try another approach.",
                                     "That doesn't work, so let me go back."]))
    parts.append(f"</think> <answer>{numbers[0]} + {numbers[1]}</answer>")
    return " ".join(parts), numbers, target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--traces", type=int, default=2000, help="traces for the throughput test")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rules", default=None, help="a rules.py file to time instead of behaviors.rules")
    args = p.parse_args(argv)
    judge = count_behaviors
    if args.rules:
        spec = importlib.util.spec_from_file_location("rules_under_test", args.rules)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        judge = module.count_behaviors
        print(f"rules: {args.rules} ({module.RULES_VERSION})")
    rng = random.Random(args.seed)
    name, count = token_counter()
    print(f"tokenizer: {name}")

    print("\n1) input tokens sent per trace, as a multiple of the trace's own tokens")
    print(f"{'attempts':>8} {'trace tok':>9} {'combined':>9} {'per-behavior':>12} {'per-beh. w/ prefix cache':>24}")
    totals = {"trace": 0, "combined": 0, "per": 0, "per_cached": 0}
    for attempts in (1, 3, 6, 12, 20):
        sample = [synth_trace(rng, attempts) for _ in range(20)]
        trace_tok = combined = per = per_cached = 0
        for text, numbers, target in sample:
            t = count(text)
            c = count(combined_messages("countdown", text, numbers, target)[0]["content"])
            prompts = [per_behavior_messages(b, "countdown", text, numbers, target)[0]["content"]
                       for b in questions("countdown")]
            shared = prompts[0][:prompts[0].index("Question:")]
            pb = sum(count(x) for x in prompts)
            # with prefix caching the shared part (instructions + trace) is processed once, not four times
            pbc = pb - (len(prompts) - 1) * count(shared)
            trace_tok, combined, per, per_cached = trace_tok + t, combined + c, per + pb, per_cached + pbc
        totals["trace"] += trace_tok
        totals["combined"] += combined
        totals["per"] += per
        totals["per_cached"] += per_cached
        n = len(sample)
        print(f"{attempts:>8} {trace_tok / n:>9.0f} {combined / trace_tok:>8.2f}x {per / trace_tok:>11.2f}x "
              f"{per_cached / trace_tok:>23.2f}x")
    t = totals["trace"]
    print(f"{'all':>8} {'':>9} {totals['combined'] / t:>8.2f}x {totals['per'] / t:>11.2f}x "
          f"{totals['per_cached'] / t:>23.2f}x")

    print("\n2) rule judge throughput")
    traces = [synth_trace(rng, rng.choice((1, 3, 6, 12))) for _ in range(args.traces)]
    chars = sum(len(x[0]) for x in traces) / len(traces)
    for label, fn in (("countdown.reward.grade (baseline)", grade), ("behaviors.rules.count_behaviors", judge)):
        fn(*traces[0])
        wall, cpu = time.perf_counter(), time.process_time()
        for x in traces:
            fn(*x)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{label:<36} {len(traces) / wall:>9.0f} traces/s wall {len(traces) / cpu:>9.0f} traces/s CPU")
        if label.startswith("behaviors"):
            rule_cpu = cpu
        else:
            base_cpu = cpu
    print(f"mean trace length {chars:.0f} chars; rule judge costs {rule_cpu / base_cpu:.1f}x the reward grader")
    return 0


if __name__ == "__main__":
    sys.exit(main())
