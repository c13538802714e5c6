"""The typed records of the toolkit (docs/architecture.md), defined once and used by every package.

Records travel as flat dicts (JSONL lines, parquet rows); `to_dict`/`from_dict` are the only converters.
"""
from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

BEHAVIORS: tuple[str, ...] = ("verification", "backtracking", "subgoal_setting", "backward_chaining")

# Results table columns, in the paper's own order (one row per condition x step).
RESULTS_COLUMNS: tuple[str, ...] = (
    "condition", "step",
    "avg_verifications", "avg_backtracking", "avg_subgoals", "avg_backwards",
    "total_verifications", "total_backtracking", "total_subgoals", "total_backwards",
    "accuracy", "response_length",
)
# Optional results columns: how many traces the judge labelled (the sample, when one is drawn) and how many of
# their behavior judgments (one per trace and behavior) it could not give. Readers must not require them: the
# paper's own tables, in the schema above, lack them.
RESULTS_JUDGE_COLUMNS: tuple[str, ...] = ("judged", "judge_failed")
# behavior name -> (avg column, total column) in the results table
RESULTS_BEHAVIOR_COLUMNS: dict[str, tuple[str, str]] = {
    "verification": ("avg_verifications", "total_verifications"),
    "backtracking": ("avg_backtracking", "total_backtracking"),
    "subgoal_setting": ("avg_subgoals", "total_subgoals"),
    "backward_chaining": ("avg_backwards", "total_backwards"),
}


class RecordError(ValueError):
    """A dict that does not make a valid record; the message names the missing or bad field."""


def _build(cls, data: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    missing = sorted(required - data.keys())
    if missing:
        raise RecordError(f"{cls.__name__} is missing field(s): {', '.join(missing)}")
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Problem:
    """One Countdown instance: reach `target` using each of `numbers` exactly once."""

    id: str
    numbers: list[int]
    target: int
    split: str = "train"
    solution: str | None = None

    def __post_init__(self) -> None:
        try:
            self.numbers = [int(n) for n in self.numbers]
            self.target = int(self.target)
        except (TypeError, ValueError) as exc:
            raise RecordError(f"Problem {self.id!r}: numbers and target must be integers ({exc})") from None
        if not self.numbers:
            raise RecordError(f"Problem {self.id!r}: numbers is empty")
        self.id = str(self.id)

    @property
    def key(self) -> tuple[tuple[int, ...], int]:
        """Identity as a multiset of numbers plus target (what split disjointness is defined on)."""
        return tuple(sorted(self.numbers)), self.target

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Problem":
        return _build(cls, data)


@dataclass
class Trace(Problem):
    """A sampled completion for a problem, scored with countdown.reward."""

    prompt: str = ""
    completion: str = ""
    reward: float = 0.0
    correct: bool = False
    model: str = ""
    step: int | None = None
    sample_idx: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    condition: str | None = None

    @property
    def trace_id(self) -> str:
        step = "base" if self.step is None else self.step
        return f"{self.model}@{step}/{self.id}#{self.sample_idx}"

    def problem(self) -> Problem:
        return Problem(self.id, list(self.numbers), self.target, self.split, self.solution)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["trace_id"] = self.trace_id
        return d


@dataclass
class BehaviorLabel:
    """Counts of the four behaviors in one trace. None means the judge failed (see `errors`), never 0."""

    trace_id: str
    verification: int | None
    backtracking: int | None
    subgoal_setting: int | None
    backward_chaining: int | None
    judge: str
    prompt_version: str
    errors: dict[str, str] = field(default_factory=dict)
    protocol: str | None = None   # how the judge asked: paper, combined, rules (None: written before it was recorded)

    def counts(self) -> dict[str, int | None]:
        return {b: getattr(self, b) for b in BEHAVIORS}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BehaviorLabel":
        return _build(cls, data)
