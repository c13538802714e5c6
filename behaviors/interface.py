"""What a behavior judge is: it turns Items (texts to judge) into Judged results. See behaviors.judges."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from countdown.records import BehaviorLabel


@dataclass
class Item:
    """One text to judge. numbers/target are set for the countdown variant."""

    trace_id: str
    text: str
    variant: str = "countdown"
    numbers: Sequence[int] | None = None
    target: int | None = None


@dataclass
class Judged:
    label: BehaviorLabel
    extras: dict[str, Any] = field(default_factory=dict)   # has_problem / has_solution for the text variant


class Judge(Protocol):
    name: str   # recorded in every label

    def label(self, items: Sequence[Item], progress: bool = False) -> list[Judged]:
        """One Judged per item, in order."""
