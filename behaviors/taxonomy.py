"""The four reasoning behaviors, defined once in our own words, with short examples.

The meanings follow the paper (Gandhi et al. 2025): verification includes implicit verdicts ("too high",
"close but not 22"), backtracking is every switch to a fresh attempt after an abandoned one, subgoal setting
names an intermediate value to reach, and backward chaining reasons from the target toward the inputs. Each
behavior has a short worked Countdown example with its instances marked [1], [2], ... and the total count.

The judge prompts (behaviors/prompts.py), the docs and the gold set's labelling conventions
(behaviors/gold/README.md) follow these definitions, so a change here is a change of instrument: bump the
prompt version when editing them.
"""
from __future__ import annotations

from dataclasses import dataclass

from countdown.records import BEHAVIORS


@dataclass(frozen=True)
class Behavior:
    name: str
    title: str
    definition: str
    countdown_examples: tuple[str, ...]   # snippets of Countdown reasoning that show it
    math_examples: tuple[str, ...]        # snippets of general math text that show it
    worked_example: str = ""              # one short Countdown trace with every instance marked and counted


TAXONOMY: dict[str, Behavior] = {
    "verification": Behavior(
        "verification", "verification",
        "The text evaluates a result it has produced, intermediate or final, against what it is aiming for "
        "(the target, an intermediate value it set out to reach, or a rule of the task). The evaluation can be "
        "explicit (the value is compared with the target, the arithmetic is recomputed, the use of each number "
        "once is confirmed) or implicit: a verdict on the result such as 'too high', 'too small', 'way over', "
        "'still short', 'close but not 22', 'nope, not it' or 'that works'. Each evaluation counts once, however "
        "many words it takes; a deliberate re-check of a result already judged ('let me double-check: ...') "
        "counts again. Writing down an equation is not a check; the judgement of its result has to be stated.",
        ("(19 + 7) - 4 = 22, and 22 is exactly the target, so this works.",
         "9 * 8 = 72, way too big."),
        ("Substituting x = 3 back in: 2*3 + 1 = 7, which matches the right-hand side.",
         "Let me double-check the sum: 14 + 9 = 23, as claimed."),
        "Numbers 6, 9, 4, target 30. 6 * 9 = 54 - far over 30 [1]. 9 - 4 = 5, 5 * 6 = 30, which is the "
        "target [2]. -> 2",
    ),
    "backtracking": Behavior(
        "backtracking", "backtracking",
        "The text drops an attempt and starts a fresh one that does not build on the result it just reached: "
        "in Countdown, every switch to a new combination of the numbers or a new approach (starting again from "
        "the given numbers, or going back to an earlier intermediate value) after the previous line was "
        "abandoned. Each abandoned attempt that is followed by a new one counts once, whether or not the switch "
        "is announced in words; continuing from the latest result, or computing the other part of the same "
        "plan, is not a switch.",
        ("Adding them all overshoots, so let me drop that idea and try multiplying first.",
         "58 - 32 = 26. No. What about 58 - 45 = 13?"),
        ("Factoring does not seem to lead anywhere; instead, let us complete the square.",
         "Oops, that sign is wrong. Starting over from the second line."),
        "Numbers 6, 9, 4, target 30. 6 + 9 = 15, 15 + 4 = 19, too small. [1] 6 * 4 = 24, 24 + 9 = 33, "
        "over. [2] 9 - 4 = 5, 5 * 6 = 30. -> 2",
    ),
    "subgoal_setting": Behavior(
        "subgoal_setting", "subgoal setting",
        "The text names an intermediate value or goal it wants to reach on the way to the answer and plans "
        "around it: 'first get to 12', 'if I can make 5 from the other two numbers', 'let me aim for a "
        "multiple of 10'. Each intermediate goal that is set counts once; repeating the same goal later does "
        "not count again. A value that a backward step derives as needed ('22 - 2 = 20, so I need 20 from the "
        "rest'), stated in that step or restated right after it, belongs to backward chaining and is not "
        "counted a second time here.",
        ("First I want to reach 12, since 12 would only need doubling.",
         "If we can make 5 out of 7 and 2, the rest is easy."),
        ("To find the area we first need the radius.",
         "Step 1: compute the discriminant. Step 2: use it to count the real roots."),
        "Numbers 6, 9, 4, target 30. Plan: first get 5 out of 9 and 4 [1], then multiply it by 6. "
        "9 - 4 = 5, 5 * 6 = 30. -> 1",
    ),
    "backward_chaining": Behavior(
        "backward_chaining", "backward chaining",
        "The text starts from the target and reasons back toward the given numbers, undoing operations to "
        "find what would have to be produced: '30 / 6 = 5, so the other numbers must give 5', 'to end at 24 "
        "I would need 3 * 8', 'working back from 22: 22 + 3 = 25'. Each such step back from the target, or "
        "from a value or intermediate goal that is still to be produced, counts once.",
        ("The target is 40 and 40 / 5 = 8, so the other numbers have to produce 8.",
         "Working backwards from 22: 22 + 3 = 25, which is 5 * 5."),
        ("We want to show a > b; it suffices to show a - b > 0.",
         "Working backwards from the desired identity, square both sides."),
        "Numbers 6, 9, 4, target 30. 30 is 6 * 5, so 9 and 4 would have to make 5 [1]. 9 - 4 = 5. "
        "-> 1",
    ),
}

assert tuple(TAXONOMY) == BEHAVIORS  # same names, same order as the records

# Extra yes/no questions asked of general text (pretraining documents), as in the paper.
TEXT_QUESTIONS: dict[str, str] = {
    "has_problem": "Does the text pose a problem or question to be solved (a math exercise, a puzzle, a question)?",
    "has_solution": "Does the text work out or state a solution or answer to a problem?",
}
