"""Problem generation speed: countdown.generate vs a straightforward baseline, measured in the same process.

Baseline (what one writes first): for each problem draw the count of numbers, the numbers and a target, and
check solvability with a plain recursive search (pick two numbers, combine them with each operator in exact
Fractions, recurse, stop at the first hit); redraw until solvable; skip duplicates. Both sides draw from the
same distribution, so the ratio is a like-for-like speed-up. Rates are problems per second of this
process's CPU time (single-threaded on both sides), which a busy shared machine disturbs far less than
wall-clock time.

    .venv/bin/python benchmarks/bench_generate.py [--seconds 2] [--num 2000]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from countdown.generate import distribution, generate_problems  # noqa: E402
from countdown.reward import grade  # noqa: E402


def solvable(values: list, target: int) -> bool:
    """Plain recursive search: replace any two values by one combination of them, until one value is left.

    With Fraction values it is exact; with floats (compared within 1e-9) it is the quick version most people
    write first, about 5x faster and what the issue's reference rates (~1,000/s for targets <= 25, ~155/s
    for targets <= 100) correspond to.
    """
    if len(values) == 1:
        return abs(values[0] - target) < 1e-9
    n = len(values)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = values[i], values[j]
            rest = [values[m] for m in range(n) if m != i and m != j]
            results = [a + b, a - b, b - a, a * b]
            if b != 0:
                results.append(a / b)
            if a != 0:
                results.append(b / a)
            for r in results:
                if solvable(rest + [r], target):
                    return True
    return False


def baseline(num: int, preset: str, seed: int = 0, deadline: float | None = None, exact: bool = False) -> int:
    config = distribution(preset)
    rng = random.Random(seed)
    counts, weights = list(config.counts), list(config.counts.values())
    (nlo, nhi), (tlo, thi) = config.number_range, config.target_range
    seen: set = set()
    while len(seen) < num and (deadline is None or time.perf_counter() < deadline):
        k = rng.choices(counts, weights)[0]
        while True:
            numbers = [rng.randint(nlo, nhi) for _ in range(k)]
            target = rng.randint(tlo, thi)
            if solvable([Fraction(n) if exact else float(n) for n in numbers], target):
                break
        seen.add((tuple(sorted(numbers)), target))
    return len(seen)


def rate(fn, seconds: float) -> tuple[float, int]:
    start, cpu = time.perf_counter(), time.process_time()
    made = fn(start + seconds)
    return made / (time.process_time() - cpu), made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget of one float-baseline round (3 rounds per preset)")
    parser.add_argument("--num", type=int, default=2000, help="least problems our generator makes per run")
    args = parser.parse_args()
    print(f"{'preset':9s} {'numbers':>8s} {'targets':>8s} {'float baseline/s':>17s} {'exact baseline/s':>17s} "
          f"{'ours/s':>9s} {'vs float':>9s} {'vs exact':>9s}")
    for preset in ("priming", "tinyzero"):
        generate_problems(200, seed=99, preset=preset)   # warm-up (imports, caches)
        # alternate the contenders and keep each one's best round: on a shared machine load only ever slows
        # a round down, and alternating exposes both to the same load
        float_rate = exact_rate = ours = 0.0
        for round_ in range(3):
            f_rate, made = rate(lambda end: baseline(10**9, preset, seed=round_, deadline=end), args.seconds)
            e_rate, _ = rate(lambda end: baseline(10**9, preset, seed=round_, deadline=end, exact=True),
                             args.seconds / 2)
            # the same number of problems as the float baseline made (dedupe gets harder as a space fills)
            num = max(made, args.num)
            cpu = time.process_time()
            problems = generate_problems(num, seed=round_, preset=preset)
            o_rate = len(problems) / (time.process_time() - cpu)
            float_rate, exact_rate, ours = max(float_rate, f_rate), max(exact_rate, e_rate), max(ours, o_rate)
            bad = sum(not grade(f"<answer>{p.solution}</answer>", p.numbers, p.target).correct for p in problems)
            assert bad == 0, f"{bad} generated solutions do not grade correct"
        config = distribution(preset)
        nums, targets = ("{}-{}".format(*config.number_range), "{}-{}".format(*config.target_range))
        print(f"{preset:9s} {nums:>8s} {targets:>8s} {float_rate:17.0f} {exact_rate:17.0f} {ours:9.0f} "
              f"{ours / float_rate:8.0f}x {ours / exact_rate:8.0f}x   ({num} problems)")


if __name__ == "__main__":
    main()
