"""Measure a built priming set with the rule judge and the reward, and fail loudly if it is not what its
condition promises: each required behavior in >= 90% of traces, each excluded one in <= 5%, and every
answer scoring what was planned for it (a row's `planned` column: correct 1.0, wrong 0.1; without it, the
condition's reward: 1.0, or 0.1 for incorrect_only).

    python -m priming.verify runs/priming/only_backtracking.parquet --condition only_backtracking
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from countdown.cli import CommandConfig, option, positional, run_cli
from countdown.data import is_integer
from countdown.io import InputError, read_numbered
from countdown.records import BEHAVIORS
from countdown.reward import DEFAULT, score
from priming.conditions import STYLE_SHOWS, Condition, get_condition

REQUIRED_MIN = 0.90
EXCLUDED_MAX = 0.05


class VerificationError(Exception):
    """A built set that does not meet its condition; the message holds the table."""


@dataclass
class Report:
    condition: str
    n: int
    table: list[dict[str, Any]]            # one row per behavior
    reward_ok: float                        # share of rows scoring the condition's reward
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "n": self.n, "ok": self.ok, "reward_ok": self.reward_ok,
                "behaviors": self.table, "problems": self.problems}

    def markdown(self) -> str:
        lines = [f"condition `{self.condition}`, {self.n} traces, answers with the expected reward: "
                 f"{self.reward_ok:.1%}",
                 "", "| behavior | role | present in | mean count | rule | ok |", "|---|---|---|---|---|---|"]
        for row in self.table:
            lines.append(f"| {row['behavior']} | {row['role']} | {row['present']:.1%} | {row['mean']:.2f} | "
                         f"{row['rule']} | {'yes' if row['ok'] else 'NO'} |")
        return "\n".join(lines)


def judge_counts(rows: Sequence[dict[str, Any]]) -> list[dict[str, int]]:
    """The rule judge's behavior counts for each row (completion, numbers, target)."""
    from behaviors.rules import count_behaviors

    return [count_behaviors(r["completion"], list(r["numbers"]), int(r["target"])) for r in rows]


def verify_rows(rows: Sequence[dict[str, Any]], condition: Condition,
                counts: list[dict[str, int]] | None = None, shown: frozenset[str] = frozenset(BEHAVIORS)) -> Report:
    """The behavior table and reward check of a set; `counts` may be given to avoid re-judging. Only the
    behaviors the traces' style can show (`shown`) are required; the others must be absent."""
    if not rows:
        return Report(condition.name, 0, [], 0.0, ["the set is empty"])
    counts = judge_counts(rows) if counts is None else counts
    n = len(rows)
    table, problems = [], []
    for b in BEHAVIORS:
        present = sum(1 for c in counts if (c.get(b) or 0) > 0) / n
        mean = sum(c.get(b) or 0 for c in counts) / n
        if b in condition.requires and b in shown:
            role, rule, ok = "required", f">= {REQUIRED_MIN:.0%}", present >= REQUIRED_MIN
        else:
            role, rule, ok = "excluded", f"<= {EXCLUDED_MAX:.0%}", present <= EXCLUDED_MAX
        table.append({"behavior": b, "role": role, "present": round(present, 4), "mean": round(mean, 3),
                      "rule": rule, "ok": ok})
        if not ok:
            problems.append(f"{b} is {role} but present in {present:.1%} of traces (rule {rule})")
    rewards = [score(r["completion"], list(r["numbers"]), int(r["target"])) for r in rows]
    expected = [expected_reward(r, condition) for r in rows]
    reward_ok = sum(1 for x, e in zip(rewards, expected) if x == e) / n
    if reward_ok < 1.0:
        bad = next(i for i, (x, e) in enumerate(zip(rewards, expected)) if x != e)
        problems.append(f"{n - round(reward_ok * n)} answers do not score {expected[bad]:g} as planned "
                        f"(first: row {bad + 1}, id {rows[bad].get('id')}, reward {rewards[bad]:g})")
    return Report(condition.name, n, table, round(reward_ok, 4), problems)


def expected_reward(row: dict[str, Any], condition: Condition) -> float:
    """What a row's answer must score: the condition's reward when every answer must be wrong (incorrect_only),
    else the row's `planned` outcome (correct 1.0, wrong 0.1), else the condition's reward."""
    planned = row.get("planned")
    if planned is None or condition.reward < DEFAULT.correct:
        return condition.reward
    return {"correct": DEFAULT.correct, "wrong": DEFAULT.format}[planned]


def check(report: Report) -> Report:
    """Raise VerificationError with the table when the report does not meet its condition."""
    if not report.ok:
        raise VerificationError(f"priming set `{report.condition}` fails verification: "
                                + "; ".join(report.problems) + "\n" + report.markdown())
    return report


@dataclass(kw_only=True)
class VerifyConfig(CommandConfig):
    """Check a priming set (prompt/completion rows with numbers and target) against its condition with the rule
    judge and the reward. Exit 0 if it passes, 1 if not."""

    epilog = "example:\n  python -m priming.verify runs/priming/all_strategies.parquet --condition all_strategies"

    data: str = positional("priming set file (.parquet/.jsonl)")
    condition: str | None = option(None, "condition to check against (default: the rows' condition column)")
    style: str | None = option(None, "the style the set was synthesized in: search sets are held to verification "
                               "and backtracking only (default: the rows' style column, else prose)",
                               choices=tuple(STYLE_SHOWS))


def main(argv: list[str] | None = None) -> int:
    config = VerifyConfig.parse(argv)
    numbered = read_numbered(config.data)
    if not numbered:
        raise InputError(f"{config.data}: no rows")
    for line, row in numbered:
        missing = [c for c in ("completion", "numbers", "target") if c not in row]
        if missing:
            raise InputError(f"{config.data}:{line}: missing column(s) {', '.join(missing)}")
        numbers, target = row["numbers"], row["target"]
        if not isinstance(row["completion"], str) or not isinstance(numbers, list) or not numbers \
                or not all(map(is_integer, numbers + [target])):
            raise InputError(f"{config.data}:{line}: needs a text completion, a non-empty list of integer numbers "
                             "and an integer target")
    rows = [row for _, row in numbered]
    name = config.condition or (rows[0].get("condition") if rows else None)
    if not name:
        raise InputError(f"{config.data}: no condition column; pass --condition")
    style = config.style or rows[0].get("style") or "prose"
    if style not in STYLE_SHOWS:
        raise InputError(f"{config.data}: unknown style {style!r} (choose from {', '.join(STYLE_SHOWS)})")
    report = verify_rows(rows, get_condition(name), shown=STYLE_SHOWS[style])
    print(report.markdown())
    if not report.ok:
        print("FAILED: " + "; ".join(report.problems))
        return 1
    return 0


if __name__ == "__main__":
    run_cli(main)
