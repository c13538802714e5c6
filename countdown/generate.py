"""Seeded Countdown problem generator: solvable, deduplicated problems and provably disjoint splits.

The distribution is the plain one: the count of numbers is drawn from `counts`, the numbers uniformly (with
repetition) from `number_range`, the target uniformly from `target_range`, and a draw is kept only if the
target is reachable. What is fast is how the check is made: instead of a search per (numbers, target), whole
batches of number sets go through `countdown.solver.batch_solve`, which evaluates every expression form over
every row at once with exact integer rationals (stopping at the first hit), so a draw costs a few array
operations. Each kept problem carries a solution read off the winning form (and checked by countdown.reward in the tests).

Two options make small task variants (the CPU model organism): `ops`, the operators a solution may use (a
draw is kept only if the target is reachable with them), and `holdout_every`, which reserves every N-th
multiset of numbers (by a hash of the sorted numbers, the same for every seed) for the test split, so no test
problem shares its numbers with a training problem, even when the space is small enough to be drawn whole.
"""
from __future__ import annotations

import functools
import time
import zlib
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from countdown import solver
from countdown.cli import CommandConfig, layered_values, option, run_cli
from countdown.io import InputError
from countdown.prompts import TEMPLATES
from countdown.records import Problem

SPLITS = ("train", "test", "validation")
# Bounds that keep every draw cheap (exact search over 6 numbers of this size stays in milliseconds) and
# every value inside numpy's int64 arithmetic.
MAX_NUMBER = 10_000
MAX_TARGET = 1_000_000
PATIENCE_SECONDS = 30   # the longest a stream may search for its next problem before giving up


@dataclass(frozen=True)
class Distribution:
    """What to draw: counts maps a count of numbers to its probability; ranges are inclusive."""

    counts: dict[int, float]
    number_range: tuple[int, int]
    target_range: tuple[int, int]
    ops: str = solver.OPS        # the operators a solution may use
    holdout_every: int = 0       # N > 0: a multiset whose CRC32 is 0 mod N is drawn only for the test split

    @property
    def all_ops(self) -> bool:
        """Whether every operator is allowed (the batched solver's case), however `ops` spells them."""
        return set(self.ops) == set(solver.OPS)

    def held_out(self, key: tuple[int, ...]) -> bool:
        """Whether the sorted multiset `key` is reserved for the test split (never, without holdout_every)."""
        return bool(self.holdout_every) and zlib.crc32(" ".join(map(str, key)).encode()) % self.holdout_every == 0

    def allows(self, key: tuple[int, ...], split: str) -> bool:
        """Whether a problem on the sorted multiset `key` may be drawn for `split`."""
        return not self.holdout_every or self.held_out(key) == (split == "test")

    def validate(self) -> "Distribution":
        (nlo, nhi), (tlo, thi) = self.number_range, self.target_range
        if max(abs(nlo), abs(nhi)) > MAX_NUMBER or max(abs(tlo), abs(thi)) > MAX_TARGET:
            raise InputError(f"numbers must lie within 0..{MAX_NUMBER} and targets within ±{MAX_TARGET} "
                             f"(got numbers {nlo}-{nhi}, targets {tlo}-{thi})")
        if not self.counts or any(int(k) < 1 for k in self.counts) or any(p < 0 for p in self.counts.values()):
            raise InputError(f"counts must map counts >= 1 to probabilities >= 0, got {self.counts}")
        if sum(self.counts.values()) <= 0:
            raise InputError("counts probabilities sum to 0")
        if max(self.counts) > 6:
            raise InputError("at most 6 numbers per problem are supported")
        if not 0 <= nlo <= nhi:
            raise InputError(f"number_range must be 0 <= low <= high, got {self.number_range}")
        if tlo > thi:
            raise InputError(f"target_range low > high: {self.target_range}")
        if not self.ops or set(self.ops) - set(solver.OPS) or len(set(self.ops)) != len(self.ops):
            raise InputError(f"ops must be some of {' '.join(solver.OPS)}, each once (e.g. +-*), got {self.ops!r}")
        if self.holdout_every < 0 or self.holdout_every == 1:
            raise InputError(f"holdout_every must be 0 (off) or >= 2, got {self.holdout_every}")
        return self


def parse_range(text: str, name: str) -> tuple[int, int]:
    """'LO-HI' -> (LO, HI)."""
    try:
        lo, hi = (int(v) for v in str(text).split("-", 1))
    except ValueError:
        raise InputError(f"--{name} must look like LO-HI (e.g. 1-100), got {text!r}") from None
    return lo, hi


def parse_counts(text: str) -> dict[int, float]:
    """'3:0.5,4:0.5' -> {3: 0.5, 4: 0.5}."""
    try:
        return {int(k): float(p) for k, p in (item.split(":") for item in str(text).split(","))}
    except ValueError:
        raise InputError(f"--counts must look like 3:0.5,4:0.5, got {text!r}") from None


@functools.lru_cache(maxsize=None)
def _preset_distribution(name: str) -> Distribution:
    values = layered_values(GenerateConfig, name, None)
    return Distribution(parse_counts(values["counts"]), parse_range(values["numbers"], "numbers"),
                        parse_range(values["targets"], "targets"), values.get("ops", solver.OPS),
                        values.get("holdout_every", 0)).validate()


def distribution(preset: str | Distribution = "tinyzero", **overrides) -> Distribution:
    """A preset by name (configs/generate/NAME.yaml) or a Distribution, with keyword overrides of its
    fields (counts, number_range, target_range), validated."""
    config = preset if isinstance(preset, Distribution) else _preset_distribution(preset)
    unknown = set(overrides) - {"counts", "number_range", "target_range", "ops", "holdout_every"}
    if unknown:
        raise InputError(f"unknown generator option(s): {', '.join(sorted(unknown))}")
    overrides = {k: ({int(c): float(p) for c, p in v.items()} if k == "counts" else tuple(v) if k.endswith("_range")
                     else v) for k, v in overrides.items() if v is not None}
    return replace(config, **overrides).validate()


def _rng(seed: int, split: str) -> np.random.Generator:
    # each split name gets its own stream, so `--split test --seed 0` is not a copy of the train set
    return np.random.default_rng([int(seed), zlib.crc32(split.encode())])


def _draw(rng: np.random.Generator, k: int, rows: int, config: Distribution) -> list[tuple]:
    """One batch of draws with k numbers, keeping those whose target is reachable, as
    (key, numbers, target, solution) with key = Problem.key."""
    (nlo, nhi), (tlo, thi) = config.number_range, config.target_range
    numbers = rng.integers(nlo, nhi + 1, size=(rows, k))
    targets = rng.integers(tlo, thi + 1, size=rows)
    if k == 1 or not config.all_ops or not solver.batch_fits(k, max(abs(nlo), abs(nhi))):
        kept = []
        for row, t in zip(numbers.tolist(), targets.tolist()):  # exact per-set tables (cached in solver)
            expr = solver.solve(row, t, config.ops)
            if expr is not None:
                kept.append(((tuple(sorted(row)), t), row, t, expr))
        return kept
    forms = solver.batch_solve(numbers, targets)
    hit = forms >= 0
    numbers, targets, forms = numbers[hit], targets[hit], forms[hit]
    templates = solver.batch_templates(k)
    return [((tuple(key), t), row, t, templates[f].format(*row)) for key, row, t, f in
            zip(np.sort(numbers, axis=1).tolist(), numbers.tolist(), targets.tolist(), forms.tolist())]


def _batch_rows(k: int, config: Distribution) -> int:
    # big enough that numpy's per-call overhead vanishes, small enough to stay in cache (a 4-number row
    # touches a few thousand table entries); sets too big for the batched path are solved one by one, so
    # few of them are drawn at a time. Fixed sizes keep the stream independent of how many problems are asked.
    if not solver.batch_fits(k, max(abs(v) for v in config.number_range)):
        return 4
    if not config.all_ops:   # solved one by one, but on small numbers whose tables are cached at once
        return 64
    return 1024 if k >= 4 else 8192


def iter_problems(seed: int = 0, preset: str | Distribution = "tinyzero", split: str = "train",
                  exclude: Iterable[tuple] | None = None, **overrides) -> Iterator[Problem]:
    """An endless, reproducible stream of distinct solvable problems (ids f"{split}-{i:06d}").

    The count of numbers of each problem follows `counts`; for that count, numbers and target are redrawn
    until the target is reachable (draws are made in batches and buffered, which changes nothing about the
    distribution).
    """
    config = distribution(preset, **overrides)
    rng = _rng(seed, split)
    counts = sorted(config.counts)
    probs = np.array([config.counts[k] for k in counts], dtype=float)
    probs /= probs.sum()
    seen = set(exclude or ())
    buffers: dict[int, deque] = {k: deque() for k in counts}
    # Draws without a new problem before the space counts as exhausted: 50,000, or for a small space 20 times
    # its number of distinct draws, so that its rarest problem (one order of its numbers, one target) is all
    # but surely drawn before we give up (the organism's 827 training problems: 37,179 draws, rarest 1 in 37,179).
    (nlo, nhi), (tlo, thi) = config.number_range, config.target_range
    patience = {k: max(50_000, min(20 * (nhi - nlo + 1) ** k * (thi - tlo + 1), 1_000_000)) for k in counts}
    index = 0
    while True:
        for k in rng.choice(counts, size=256, p=probs).tolist():
            buffer, drawn, started = buffers[k], 0, time.monotonic()
            while True:
                while not buffer:
                    rows = _batch_rows(k, config)
                    buffer.extend(_draw(rng, k, rows, config))
                    drawn += rows
                    if drawn > (patience[k] if rows > 4 else 2_000):
                        raise InputError(f"no new solvable {k}-number problem in {drawn:,} draws after {index} "
                                         "problems: the configuration's space looks exhausted (widen the ranges)")
                    if time.monotonic() - started > PATIENCE_SECONDS:
                        raise InputError(f"no new solvable {k}-number problem in {PATIENCE_SECONDS} s ({drawn:,} "
                                         f"draws) after {index} problems: solvable draws are too rare or too slow "
                                         "to check here (use fewer or smaller numbers, or a narrower target range)")
                key, numbers, target, expr = buffer.popleft()
                if key not in seen and config.allows(key[0], split):
                    break
            seen.add(key)
            yield Problem(f"{split}-{index:06d}", numbers, target, split, expr)
            index += 1


def generate_problems(num: int, seed: int = 0, preset: str | Distribution = "tinyzero", split: str = "train",
                      exclude: Iterable[tuple] | None = None, **overrides) -> list[Problem]:
    """`num` distinct solvable problems with solutions; keys in `exclude` (Problem.key) are never produced."""
    if num < 0:
        raise InputError(f"num must be >= 0, got {num}")
    out: list[Problem] = []
    if num == 0:
        distribution(preset, **overrides)
        return out
    for problem in iter_problems(seed, preset, split, exclude, **overrides):
        out.append(problem)
        if len(out) >= num:
            break
    return out


def generate_splits(sizes: dict[str, int], seed: int = 0, preset: str | Distribution = "tinyzero",
                    **overrides) -> dict[str, list[Problem]]:
    """Named splits, disjoint by Problem.key: each split excludes every key of the splits before it."""
    taken: set[tuple] = set()
    out: dict[str, list[Problem]] = {}
    for split, num in sizes.items():
        problems = generate_problems(num, seed, preset, split, exclude=taken, **overrides)
        taken.update(p.key for p in problems)
        out[split] = problems
    return out


# ---------------------------------------------------------------------------------------------------------
# CLI

@dataclass(kw_only=True)
class GenerateConfig(CommandConfig):
    """Generate solvable, deduplicated Countdown problems (one Problem record per line)."""

    command = "generate"
    epilog = """presets: (YAML files in configs/generate/; any flag overrides them)
  tinyzero  3-4 numbers in 1..100, targets 1..100 (TinyZero's RL data)
  priming   3-4 numbers in 1..25, targets 10..25 (the paper's priming problems)
  tiny      3 numbers in 1..20, targets 1..30 (CPU demos and tests)
  organism  3 numbers in 1..9, + - * only, targets 10..60, every 4th multiset held out (the CPU model organism)

examples:
  python -m countdown.generate --num 1000 --seed 0 --out data/train.jsonl
  python -m countdown.generate --num 20000 --test-num 500 --out data/train.parquet --format parquet
  python -m countdown.generate --num 1000 --preset priming --split test --out data/priming_test.jsonl"""

    num: int = option(help="problems to generate for --split")
    out: str = option(help="output file (.jsonl, or .parquet with --format parquet)", output="file")
    seed: int = option(0, "random seed")
    preset: str = option("tinyzero", "problem distribution: a name in configs/generate/ (see below)")
    numbers: str = option("1-100", "range the numbers are drawn from", metavar="LO-HI")
    targets: str = option("1-100", "range the targets are drawn from", metavar="LO-HI")
    counts: str = option("3:0.5,4:0.5", "how many numbers a problem has, with probabilities", metavar="K:P,...")
    ops: str = option("+-*/", "the operators a solution may use (a target reachable only with others is redrawn)")
    holdout_every: int = option(0, "N >= 2: reserve every multiset of numbers whose CRC32 is 0 mod N for the test "
                                "split (no test problem shares its numbers with a train problem); 0: off")
    format: str | None = option(None, "jsonl: Problem records; parquet: veRL RL schema (default: from --out's "
                                "extension)", choices=("jsonl", "parquet"))
    split: str = option("train", "split name of --out", choices=SPLITS)
    test_num: int = option(0, "also write this many test problems, disjoint from --out, to --test-out")
    test_out: str | None = option(None, "where the test split goes (default: --out with '_test' before the "
                                  "extension)", output="file")
    template: str = option("base", "prompt template for parquet output", choices=TEMPLATES)

    def validate(self) -> None:
        if self.num < 1 or self.test_num < 0:
            raise InputError("--num must be >= 1 and --test-num >= 0")
        suffix = Path(self.out).suffix
        fmt = self.output_format()
        if fmt == "jsonl" and suffix == ".parquet" or fmt == "parquet" and suffix != ".parquet":
            raise InputError(f"--out {self.out} does not match --format {fmt} (use .jsonl or .parquet)")
        if self.test_num and self.split == "test":
            raise InputError("--test-num needs --split train or validation")
        if self.test_num and Path(self.test_path()).suffix != suffix:
            raise InputError(f"--test-out {self.test_path()} must have the same extension as --out {self.out}")
        self.distribution()
        super().validate()

    def outputs(self) -> dict[str, tuple[Path, str]]:
        found = super().outputs()
        if self.test_num:
            found["--test-out"] = (self.test_path(), "file")
        return found

    def output_format(self) -> str:
        return self.format or ("parquet" if Path(self.out).suffix == ".parquet" else "jsonl")

    def distribution(self) -> Distribution:
        return Distribution(parse_counts(self.counts), parse_range(self.numbers, "numbers"),
                            parse_range(self.targets, "targets"), self.ops, self.holdout_every).validate()

    def test_path(self) -> Path:
        out = Path(self.out)
        return Path(self.test_out) if self.test_out else out.with_name(f"{out.stem}_test{out.suffix}")


def main(argv: list[str] | None = None) -> int:
    from countdown import export

    config = GenerateConfig.parse(argv)
    sizes = {config.split: config.num}
    if config.test_num:
        sizes["test"] = config.test_num
    splits = generate_splits(sizes, seed=config.seed, preset=config.distribution())
    outputs = [(splits[config.split], Path(config.out))]
    if config.test_num:
        outputs.append((splits["test"], config.test_path()))
    for problems, path in outputs:
        if config.output_format() == "parquet":
            export.write_verl_parquet(problems, path, template=config.template)
        else:
            export.write_jsonl(problems, path)
        print(f"wrote {len(problems)} {problems[0].split} problems to {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
