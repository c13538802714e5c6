"""The priming conditions (the paper's names) and which behaviors each must show or must avoid.

A condition is a contract checked after every build (priming.verify): each behavior in `requires` must be
present in >= 90% of its traces, each in `excludes` in <= 5%, and every answer must score what was planned
for it (incorrect_only: always wrong, 0.1; the others: right, or wrong for the build's --correct-share).
The controls are derived from all_strategies' traces (`source`): same problems, same answers.
"""
from __future__ import annotations

from dataclasses import dataclass

from countdown.io import InputError
from countdown.records import BEHAVIORS

VER, BT, SUB, BWD = BEHAVIORS  # verification, backtracking, subgoal_setting, backward_chaining


@dataclass(frozen=True)
class Condition:
    name: str
    requires: frozenset[str]
    excludes: frozenset[str]
    reward: float            # the score every answer of the set must get from countdown.reward
    thought: str = "search"  # search | empty | filler | plain
    description: str = ""
    source: str | None = None  # the condition whose traces this control is derived from

    @property
    def is_control(self) -> bool:
        return not self.requires


def _cond(name: str, requires: tuple[str, ...], reward: float = 1.0, thought: str = "search",
          description: str = "") -> Condition:
    req = frozenset(requires)
    source = None if thought == "search" else "all_strategies"
    return Condition(name, req, frozenset(BEHAVIORS) - req, reward, thought, description, source)


CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    _cond("all_strategies", (VER, BT, SUB, BWD), description="all four behaviors, correct answers"),
    _cond("only_backtracking", (BT,), description="backtracking only"),
    _cond("backtracking_verification", (BT, VER), description="backtracking + verification"),
    _cond("backtracking_backward", (BT, BWD), description="backtracking + backward chaining"),
    _cond("backtracking_subgoal", (BT, SUB), description="backtracking + subgoal setting"),
    _cond("negative_control", (), thought="plain",
          description="all_strategies' answers reached by a direct forward solution, no behaviors"),
    _cond("empty_cot", (), thought="empty", description="empty thought, then all_strategies' answer"),
    _cond("length_matched", (), thought="filler",
          description="all_strategies traces with the thought replaced by dots of equal token length"),
    _cond("incorrect_only", (VER, BT, SUB, BWD), reward=0.1,
          description="all four behaviors, every final answer wrong (reward 0.1)"),
)}

# The behaviors each synthesizer style can show: prose (priming.synth) any of them; search (priming.compact,
# the CPU model organism's generate-and-test searches) verification and backtracking only. A set built in a
# style is held to its condition's required behaviors among these; the rest must be absent.
STYLE_SHOWS: dict[str, frozenset[str]] = {"prose": frozenset(BEHAVIORS), "search": frozenset({VER, BT})}

# Share of correct answers the paper measured in its unfiltered priming sets (--correct-share paper). The
# derived controls carry all_strategies' answers, so they have its share (the paper's own empty_cot set, written
# separately, was 0.19 correct); incorrect_only is 0 by definition.
PAPER_CORRECT_SHARE = {"all_strategies": 0.43, "backtracking_verification": 0.44, "only_backtracking": 0.42,
                       "backtracking_backward": 0.38, "backtracking_subgoal": 0.28}


def correct_share(condition: Condition, spec: str) -> float:
    """The planned share of correct answers for a condition under --correct-share SPEC (all, paper, or P)."""
    if condition.reward < 1.0:
        return 0.0
    if spec == "paper":
        return PAPER_CORRECT_SHARE.get(condition.source or condition.name, 1.0)
    return parse_share(spec)


def parse_share(spec: str) -> float:
    """The share a --correct-share value names for a condition without its own paper share: all -> 1.0,
    paper -> 1.0, P -> P in [0, 1]; anything else is an InputError."""
    if spec in ("all", "paper"):
        return 1.0
    try:
        share = float(spec)
    except ValueError:
        share = float("nan")
    if not 0.0 <= share <= 1.0:  # also rejects nan
        raise InputError(f"--correct-share must be all, paper or a number in [0, 1], got {spec!r}")
    return share


# --behavior short forms: a behavior (or comma list) names the condition whose required set it is.
_ALIASES = {
    "verification": VER, "verify": VER,
    "backtracking": BT, "backtrack": BT,
    "subgoal": SUB, "subgoals": SUB, "subgoal_setting": SUB,
    "backward": BWD, "backwards": BWD, "backward_chaining": BWD,
}


def get_condition(name: str) -> Condition:
    try:
        return CONDITIONS[name]
    except KeyError:
        raise InputError(f"unknown condition {name!r} (choose from {', '.join(CONDITIONS)})") from None


def condition_for_behaviors(spec: str) -> Condition:
    """`backtracking` -> only_backtracking, `backtracking,verification` or `verification` ->
    backtracking_verification (every paper condition includes backtracking), `all`, `none`."""
    spec = spec.strip().lower()
    if spec in ("all", "all_strategies"):
        return CONDITIONS["all_strategies"]
    if spec in ("none", ""):
        return CONDITIONS["negative_control"]
    wanted = set()
    for part in spec.replace("+", ",").split(","):
        part = part.strip()
        if part not in _ALIASES:
            raise InputError(f"unknown behavior {part!r} (choose from {', '.join(sorted(_ALIASES))}, all, none)")
        wanted.add(_ALIASES[part])
    if wanted != {BT}:
        wanted.add(BT)
    for cond in CONDITIONS.values():
        if cond.thought == "search" and cond.reward == 1.0 and set(cond.requires) == wanted:
            return cond
    raise InputError(f"no condition shows exactly {', '.join(sorted(wanted))} "
                     f"(conditions: {', '.join(CONDITIONS)})")


def describe_all() -> list[dict[str, str]]:
    """One row per condition for --list and the docs."""
    return [{"condition": c.name, "requires": ", ".join(sorted(c.requires)) or "-",
             "excludes": ", ".join(sorted(c.excludes)) or "-", "reward": f"{c.reward:g}",
             "description": c.description} for c in CONDITIONS.values()]
