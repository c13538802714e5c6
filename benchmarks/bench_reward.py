"""Reward speed: scorings per second on ordinary completions, and the worst case on hostile ones.

Ordinary: completions shaped like real rollouts (a few hundred characters of reasoning, then an answer that is
correct, wrong, misuses numbers, or is missing). Hostile: huge expressions, '**' towers, 5,000-deep
parentheses, unicode digits, floats, division by zero, megabyte completions, many answer tags. For each
hostile input the best of several timings is taken (timer noise on a shared machine only ever adds), and the
worst input is reported. Goals (issue 2): >= 100k scorings/s, worst case < 1 ms.

For comparison the reference-style reward (regex extraction, a character filter, Python eval) is timed on
the ordinary corpus only: on hostile input such as a '**' tower it does not return in any useful time.

    .venv/bin/python benchmarks/bench_reward.py
"""
from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from countdown.generate import generate_problems  # noqa: E402
from countdown.reward import compute_score, score  # noqa: E402

FILLER = ("Let me try combining the larger numbers first. {a} + {b} is {s}, which overshoots, so maybe a "
          "subtraction works better. {b} - {a} gives {d}; that is not it either. ")


def ordinary_corpus(n: int = 2000, seed: int = 0) -> list[tuple[str, list[int], int]]:
    rng = random.Random(seed)
    corpus = []
    for p in generate_problems(n, seed=seed, preset="tinyzero"):
        a, b = p.numbers[0], p.numbers[1]
        think = FILLER.format(a=a, b=b, s=a + b, d=b - a) * rng.randint(1, 4)
        kind = rng.random()
        if kind < 0.4:
            answer = f"<answer> {p.solution} </answer>"
        elif kind < 0.7:
            answer = f"<answer> {' + '.join(map(str, p.numbers))} </answer>"
        elif kind < 0.85:
            answer = f"<answer> {a} * {b} </answer>"
        else:
            answer = "I could not find it."
        corpus.append((f"{think}</think> {answer}", p.numbers, p.target))
    return corpus


def hostile_corpus() -> dict[str, str]:
    tower = "9**" * 40 + "9"
    return {
        "exponent tower": f"<answer>{tower}</answer>",
        "short exponent": "<answer>12**2</answer>",
        "5000-deep parens": "<answer>" + "(" * 5000 + "1" + ")" * 5000 + "</answer>",
        "200-deep parens": "<answer>" + "(" * 200 + "1" + ")" * 200 + "</answer>",
        "unbalanced parens": "<answer>" + "(" * 5000 + "</answer>",
        "huge expression": "<answer>" + "+".join(["99999"] * 20000) + "</answer>",
        "huge number": "<answer>" + "9" * 100000 + "</answer>",
        "255-char product": "<answer>" + "*".join(["99"] * 85) + "</answer>",
        "division by zero": "<answer>(1 + 2) / (3 - 3)</answer>",
        "nested division by zero": "<answer>" + "1/(" * 20 + "0" + ")" * 20 + "</answer>",
        "unicode digits": "<answer>١٢ + ٣ * ٤</answer>",
        "fullwidth digits": "<answer>１２ + ３</answer>",
        "float literals": "<answer>1.5 * 16</answer>",
        "scientific float": "<answer>1e308 * 1e308</answer>",
        "equals sign": "<answer>3 * 8 = 24</answer>",
        "python code": "<answer>__import__('os').system('true')</answer>",
        "lambda": "<answer>(lambda: 24)()</answer>",
        "megabyte of text": "x" * 1_000_000 + "<answer>3 * 8</answer>",
        "megabyte answer": "<answer>" + "1+" * 500_000 + "1</answer>",
        "10k answer tags": "<answer>1</answer>" * 10_000,
        "10k open tags": "<answer>" * 100_000 + "3*8</answer>",
        "megabyte no close tag": "<answer>" + "9" * 1_000_000,
        "nul and control chars": "<answer>3\x00*\x088</answer>",
        "unary minus chain": "<answer>" + "-" * 10000 + "24</answer>",
        "many operators": "<answer>" + "1" + "*/" * 100 + "1</answer>",
    }


def reference_score(completion: str, numbers: list[int], target: int) -> float:
    """The paper's reference reward (regex extraction, character filter, eval) - for the baseline timing only."""
    match = list(re.finditer(r"<answer>(.*?)</answer>", completion, re.DOTALL))
    if not match:
        return 0.0
    expr = match[-1].group(1).strip()
    try:
        used = sorted(int(n) for n in re.findall(r"\d+", expr))
        if used != sorted(numbers) or not re.match(r"^[\d+\-*/().\s]+$", expr):
            return 0.1
        value = eval(expr, {"__builtins__": None}, {})
        return 1.0 if abs(float(value) - target) < 1e-5 else 0.1
    except Exception:
        return 0.1


def main() -> None:
    corpus = ordinary_corpus()
    for c, n, t in corpus[:50]:   # warm-up
        score(c, n, t)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for c, n, t in corpus:
            score(c, n, t)
        runs.append(len(corpus) / (time.perf_counter() - start))
    ours = max(runs)
    start = time.perf_counter()
    for c, n, t in corpus:
        reference_score(c, n, t)
    ref = len(corpus) / (time.perf_counter() - start)
    mean_len = sum(len(c) for c, _, _ in corpus) / len(corpus)
    print(f"ordinary completions ({len(corpus)}, mean {mean_len:.0f} chars): {ours:,.0f} scorings/s "
          f"(best of 5; median {sorted(runs)[2]:,.0f}/s); reference eval reward {ref:,.0f}/s")

    worst = 0.0
    print(f"{'hostile input':28s} {'chars':>9s} {'score':>6s} {'ms':>8s}")
    for name, completion in hostile_corpus().items():
        times = []
        for _ in range(7):
            start = time.perf_counter()
            value = compute_score("countdown", completion, {"target": 24, "numbers": [3, 8]})
            times.append(time.perf_counter() - start)
        ms = min(times) * 1e3
        worst = max(worst, ms)
        print(f"{name:28s} {len(completion):9d} {value:6.1f} {ms:8.3f}")
    print(f"worst case: {worst:.3f} ms (goal < 1 ms)")


if __name__ == "__main__":
    main()
