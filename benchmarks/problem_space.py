"""Facts about the Countdown problem spaces that docs/countdown.md and docs/priming.md state.

- solvable share of draws: for each preset and count of numbers, the share of plain draws (numbers uniform with
  repetition, target uniform) whose target is reachable, over SAMPLES seeded draws, with its standard error;
  also 4 numbers from 1-100 with targets 10-25 (why the priming preset uses 1-25);
- distinct solvable problems: the exact number of distinct 3-number `priming` problems (a multiset of numbers
  plus a target), by enumerating every multiset; the generator cannot produce more than that many;
- integer-step share: the share of the `priming` problem stream that priming.search.find_solution can solve
  with positive integer steps (the synthesizer skips the rest).

    .venv/bin/python benchmarks/problem_space.py [--samples 20000] [--stream 4000] [--seed 0]
"""
from __future__ import annotations

import argparse
import math
import sys
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from countdown import solver  # noqa: E402
from countdown.generate import distribution, iter_problems  # noqa: E402
from priming.search import find_solution  # noqa: E402


def solvable_share(k: int, numbers: tuple[int, int], targets: tuple[int, int], samples: int,
                   rng: np.random.Generator) -> tuple[float, float]:
    """(share, standard error) of k-number draws whose target is reachable."""
    draws = rng.integers(numbers[0], numbers[1] + 1, size=(samples, k))
    goal = rng.integers(targets[0], targets[1] + 1, size=samples)
    hit = np.concatenate([solver.batch_solve(draws[i:i + 4096], goal[i:i + 4096]) >= 0
                          for i in range(0, samples, 4096)])
    share = float(hit.mean())
    return share, math.sqrt(share * (1 - share) / samples)


def distinct_solvable(k: int, numbers: tuple[int, int], targets: tuple[int, int]) -> int:
    """Exact count of (multiset of k numbers, target) pairs with a reachable target."""
    wanted = set(range(targets[0], targets[1] + 1))
    return sum(len(wanted & {int(v) for v in solver.reachable(m) if v.denominator == 1})
               for m in combinations_with_replacement(range(numbers[0], numbers[1] + 1), k))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20_000, help="draws per share (default 20000)")
    parser.add_argument("--stream", type=int, default=4_000, help="priming problems checked (default 4000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    print("| distribution | numbers | solvable share of draws |")
    print("|---|---:|---:|")
    cases = [(name, k, distribution(name).number_range, distribution(name).target_range)
             for name in ("tinyzero", "priming") for k in (3, 4)]
    cases.append(("numbers 1-100, targets 10-25", 4, (1, 100), (10, 25)))
    for name, k, numbers, targets in cases:
        share, se = solvable_share(k, numbers, targets, args.samples, rng)
        print(f"| {name} | {k} | {share:.1%} ± {se:.1%} |")

    priming = distribution("priming")
    count = distinct_solvable(3, priming.number_range, priming.target_range)
    print(f"\ndistinct solvable 3-number priming problems: {count:,}")

    stream = iter_problems(seed=args.seed, preset="priming", split="priming")
    problems = [next(stream) for _ in range(args.stream)]
    skipped = sum(find_solution(p.numbers, p.target) is None for p in problems)
    print(f"priming stream without a positive-integer-step solution: {skipped} of {len(problems)} "
          f"({skipped / len(problems):.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
