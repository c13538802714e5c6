"""The rule judge against the hand-labelled gold set: agreement per behavior on dev, holdout and all rows.

    python benchmarks/gold_agreement.py              # plain table
    python benchmarks/gold_agreement.py --markdown   # the table in docs/behaviors.md
    python benchmarks/gold_agreement.py --split dev --rows   # also list the dev rows where judge and gold differ
    git show 2ea7fae~1:behaviors/rules.py > /tmp/rules_v1.py
    python benchmarks/gold_agreement.py --rules /tmp/rules_v1.py   # an earlier version of the rules, for comparison

Presence accuracy (both >= 1 or both 0), Cohen's kappa on presence and the Pearson correlation of counts,
from behaviors.agreement.score_against_gold. Tune rules on dev only; holdout is for reporting.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from behaviors.agreement import score_against_gold  # noqa: E402
from behaviors.gold import SPLITS, load_gold  # noqa: E402
from behaviors import rules  # noqa: E402
from countdown.records import BEHAVIORS  # noqa: E402


_SHORT = {"verification": "ver", "backtracking": "btr", "subgoal_setting": "sub", "backward_chaining": "bwd"}


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=SPLITS + ("all",), action="append",
                   help="split(s) to report (default: dev, holdout, all)")
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    p.add_argument("--rows", action="store_true", help="list the rows where judge and gold differ (per split shown)")
    p.add_argument("--rules", default=None, help="a rules.py file to measure instead of behaviors.rules")
    args = p.parse_args(argv)
    splits = args.split or ["dev", "holdout", "all"]
    gold_all = load_gold()
    judge = rules
    if args.rules:
        spec = importlib.util.spec_from_file_location("rules_under_test", args.rules)
        judge = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(judge)
    labels = {r["id"]: {"id": r["id"], **judge.count_behaviors(r["completion"], list(r["numbers"]), int(r["target"]))}
              for r in gold_all}
    tables = {}
    for split in splits:
        rows = gold_all if split == "all" else [r for r in gold_all if r["split"] == split]
        tables[split] = (len(rows), score_against_gold([labels[r["id"]] for r in rows], rows))
    print(f"rule judge {judge.RULES_VERSION} vs gold set ({len(gold_all)} rows)")
    if args.markdown:
        print("\n| behavior | split | n | presence acc. | kappa | Pearson r | mean rules | mean gold |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for b in BEHAVIORS:
            for split in splits:
                t = tables[split][1][b]
                print(f"| {b} | {split} | {t['n']} | {_f(t['presence_accuracy'])} | {_f(t['kappa'])} | "
                      f"{_f(t['pearson'])} | {_f(t['mean_judge'])} | {_f(t['mean_gold'])} |")
    else:
        print(f"{'behavior':<18} {'split':<8} {'n':>4} {'presence':>9} {'kappa':>6} {'pearson':>8} "
              f"{'mean_rules':>10} {'mean_gold':>9}")
        for b in BEHAVIORS:
            for split in splits:
                t = tables[split][1][b]
                print(f"{b:<18} {split:<8} {t['n']:>4} {_f(t['presence_accuracy']):>9} {_f(t['kappa']):>6} "
                      f"{_f(t['pearson']):>8} {_f(t['mean_judge']):>10} {_f(t['mean_gold']):>9}")
    if args.rows:
        for split in splits:
            rows = gold_all if split == "all" else [r for r in gold_all if r["split"] == split]
            print(f"\nrows that differ ({split}): id  behavior  rules/gold")
            for r in rows:
                diff = [f"{_SHORT[b]} {labels[r['id']][b]}/{r[b]}" for b in BEHAVIORS if labels[r["id"]][b] != r[b]]
                if diff:
                    print(f"  {r['id']} [{r['style']}]  " + ", ".join(diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
