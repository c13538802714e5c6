"""The four reasoning behaviors, defined once in our own words, with short examples.

The judge prompts (behaviors/prompts.py) and the docs quote these definitions, so a change here is a
change of instrument: bump the prompt version when editing them.
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


TAXONOMY: dict[str, Behavior] = {
    "verification": Behavior(
        "verification", "verification",
        "The text explicitly checks a result it has produced, intermediate or final, against the goal or "
        "a rule of the task: it compares a value with the target, says a value is too large or too small, "
        "confirms that every number was used once, or re-computes to make sure a step is right. Simply "
        "writing down an equation is not a check; the comparison or the checking has to be stated.",
        ("(19 + 7) - 4 = 22, and 22 is exactly the target, so this works.",
         "That gives 30, which is not 22."),
        ("Substituting x = 3 back in: 2*3 + 1 = 7, which matches the right-hand side.",
         "Let me double-check the sum: 14 + 9 = 23, as claimed."),
    ),
    "backtracking": Behavior(
        "backtracking", "backtracking",
        "The text gives up on a line of work it has judged unworkable and goes back to an earlier point to "
        "try something else: it announces a different approach, a new combination, or starting over after "
        "an attempt failed.",
        ("Adding them all overshoots, so let me drop that idea and try multiplying first.",
         "This path is a dead end. Going back to the original numbers: 8 * 3 = 24."),
        ("Factoring does not seem to lead anywhere; instead, let us complete the square.",
         "Oops, that sign is wrong. Starting over from the second line."),
    ),
    "subgoal_setting": Behavior(
        "subgoal_setting", "subgoal setting",
        "The text names an intermediate result to aim for on the way to the answer and organises the work "
        "around it: 'first get to 12', 'if I can make 5 from the other two numbers', 'step 1: find the "
        "radius'.",
        ("First I want to reach 12, since 12 would only need doubling.",
         "If we can make 5 out of 7 and 2, the rest is easy."),
        ("To find the area we first need the radius.",
         "Step 1: compute the discriminant. Step 2: use it to count the real roots."),
    ),
    "backward_chaining": Behavior(
        "backward_chaining", "backward chaining",
        "The text starts from the goal and reasons back toward what is given, undoing operations: it "
        "derives what would be needed to reach the target ('22 - 7 = 15, so we need 15 from the rest', "
        "'to get 24 we would need 3 * 8').",
        ("The target is 40 and 40 / 5 = 8, so the other numbers have to produce 8.",
         "Working backwards from 22: 22 + 3 = 25, which is 5 * 5."),
        ("We want to show a > b; it suffices to show a - b > 0.",
         "Working backwards from the desired identity, square both sides."),
    ),
}

assert tuple(TAXONOMY) == BEHAVIORS  # same names, same order as the records

# Extra yes/no questions asked of general text (pretraining documents), as in the paper.
TEXT_QUESTIONS: dict[str, str] = {
    "has_problem": "Does the text pose a problem or question to be solved (a math exercise, a puzzle, a question)?",
    "has_solution": "Does the text work out or state a solution or answer to a problem?",
}
