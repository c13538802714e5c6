"""The CPU model organism over several seeds: each seed is one full `analysis.reproduce --preset organism` run
(priming sets, SFT, GRPO, held-out draw and sampling all follow the seed; the committed base checkpoint is the
same for every seed unless --pretrain is passed through), or of `--preset organism-pair` (the continued-
pretraining corpora follow the seed too). Prints each condition's GRPO gain per seed with its
standard error, then mean ± sd over the seeds, and how many seeds met each of the organism's targets. Nothing
is asserted; docs/analysis.md records what it printed.

    python benchmarks/organism_seeds.py                                   # seeds 0 1 2, about 30 min each
    python benchmarks/organism_seeds.py --seeds 3 4 --out runs/seeds      # more seeds, same folders
    python benchmarks/organism_seeds.py --preset organism-pair --out runs/pair-seeds   # the Qwen-vs-Llama analog
    python benchmarks/organism_seeds.py -- --train steps=100              # anything after -- goes to reproduce

A finished seed's folder is reused (reproduce resumes), so an interrupted benchmark continues where it stopped.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else float("nan")


def run_seed(preset: str, seed: int, out: Path, extra: list[str]):
    """One reproduce run (resumed if its folder exists); returns its config and results frame."""
    from analysis.reproduce import ReproduceConfig, reproduce, result_paths
    from analysis.results import load_results

    config = ReproduceConfig.parse(["--preset", preset, "--seed", str(seed), "--out", str(out), *extra])
    reproduce(config)
    return config, load_results(result_paths(out, config), list(config.conditions))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    split = args.index("--") if "--" in args else len(args)   # what follows -- goes to reproduce
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="organism", help="analysis.reproduce preset (default organism)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to run (default 0 1 2)")
    parser.add_argument("--out", default="runs/organism-seeds", help="one folder per seed is made under it")
    options, extra = parser.parse_args(args[:split]), args[split + 1:]

    from analysis.outcome import gain, organism_targets
    from analysis.results import summarize

    gains: dict[str, list[float]] = {}
    ends: dict[str, list[float]] = {}
    met: dict[str, int] = {}
    lines = []
    for seed in options.seeds:
        config, frame = run_seed(options.preset, seed, Path(options.out) / f"seed-{seed}", extra)
        n = config.n_test * config.stage_values("evaluate")["n"]
        summaries = {s.condition: s for s in summarize(frame)}
        for c, s in summaries.items():
            change, se = gain(s, n)
            gains.setdefault(c, []).append(change)
            ends.setdefault(c, []).append(s.end_accuracy)
            lines.append(f"seed {seed}  {c:18s} {s.start_accuracy:.3f} -> {s.end_accuracy:.3f} at step "
                         f"{s.last_step}  gain {change:+.3f} ± {se:.3f}")
        for target in organism_targets(frame, summaries, n):
            met[target.name] = met.get(target.name, 0) + target.met
    print("\n" + "\n".join(lines))
    print("\nover seeds " + " ".join(map(str, options.seeds)) + " (mean ± sd):")
    for c in gains:
        print(f"  {c:18s} gain {statistics.mean(gains[c]):+.3f} ± {sd(gains[c]):.3f}   "
              f"end {statistics.mean(ends[c]):.3f} ± {sd(ends[c]):.3f}")
    print(f"\ntargets met (seeds out of {len(options.seeds)}):")
    for name, count in met.items():
        print(f"  {count}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
