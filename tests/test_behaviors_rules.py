"""The offline rule judge on hand-written traces: each behavior present and absent, and kept apart."""
import pytest

from behaviors.rules import count_behaviors, count_text_behaviors
from countdown.records import BEHAVIORS

NUMS, TARGET = [3, 4, 2], 24


def counts(text, numbers=NUMS, target=TARGET):
    return count_behaviors(text, numbers, target)


def only(**expected):
    return {b: expected.get(b, 0) for b in BEHAVIORS}


def test_plain_direct_solution_counts_nothing():
    text = "3 * 4 = 12. 12 * 2 = 24.</think> <answer>3 * 4 * 2</answer>"
    assert counts(text) == only()
    assert counts("25 - 1 = 24", [25, 1], 24) == only()
    assert counts("") == only()
    # the target as the last operand is forward work, not a "20 = 20" check
    assert counts("40 - 20 = 20.", [40, 20, 3], 20) == only()
    assert counts("144 / 12 = 12.", [144, 12, 5], 12) == only()


@pytest.mark.parametrize("text,n", [
    ("3 * 4 = 12. 12 * 2 = 24, which is our target.", 1),
    ("3 + 4 = 7, 7 * 2 = 14. That's not 24.", 1),
    ("3 + 4 + 2 = 9, far less than 24.", 1),
    ("4 * 2 * 3 gives 24 = 24.", 1),
    ("3 * 4 * 2 = 24. Let me verify: 3 * 4 = 12 and 12 * 2 = 24. Yes, we reached the target.", 1),
    ("3 + 4 = 7 and 7 * 2 = 14 is too small; so 14 + 10 would be needed, that is wrong.", 2),
    ("4 * 4 = 16 but we used 4 twice.", 1),
])
def test_verification_present(text, n):
    assert counts(text) == only(verification=n)


@pytest.mark.parametrize("text,n", [
    ("3 + 4 = 7. 7 + 2 = 9. This doesn't work. Let's try a different combination: 3 * 4 = 12, 12 * 2 = 24.", 1),
    ("3 + 4 = 7, 7 * 2 = 14. Scratch that, going back to the start. 4 * 2 = 8, 8 * 3 = 24.", 1),
    ("3 - 2 = 1, 1 * 4 = 4. Dead end. 4 - 2 = 2, 2 + 3 = 5. No luck. Alternatively, 3 * 4 = 12, 12 * 2 = 24.", 2),
    # no words at all: the third line starts over with inputs the first line already used
    ("3 + 4 = 7\n7 + 2 = 9\n3 * 4 = 12\n12 * 2 = 24", 1),
])
def test_backtracking_present(text, n):
    assert counts(text) == only(backtracking=n)


def test_second_attempt_after_a_failed_check_is_both():
    c = counts("(4 + 2) * 3 = 18, too small. 4 * 3 * 2 = 24, this is correct.")
    assert c == only(verification=2, backtracking=1)


def test_continuing_a_line_is_not_backtracking():
    assert counts("3 * 4 = 12\n12 * 2 = 24")["backtracking"] == 0
    assert counts("Let me try 3 * 4 = 12. Then let me try 12 * 2 = 24.")["backtracking"] == 0
    # a sub-result built from the unused inputs is still the same line of work
    assert counts("3 * 4 = 12. 6 - 4 = 2. 12 * 2 = 24.", [3, 4, 6, 4], 24)["backtracking"] == 0


@pytest.mark.parametrize("text,n", [
    ("First, let's get 12 from 3 and 4: 3 * 4 = 12. Then 12 * 2 = 24.", 1),
    ("If we can make 8 out of 4 and 2, the rest is easy: 4 * 2 = 8, 8 * 3 = 24.", 1),
    ("I'll aim for 12 as an intermediate goal. 3 * 4 = 12, 12 * 2 = 24.", 1),
    ("Step 1: make 6 from 4 and 2. 4 + 2 = 6. Step 2: get 18 from 6 and 3. 6 * 3 = 18.", 2),
])
def test_subgoal_present(text, n):
    assert counts(text) == only(subgoal_setting=n)


def test_naming_the_target_itself_is_not_a_subgoal():
    assert counts("We need to make 24. 3 * 4 = 12, 12 * 2 = 24.")["subgoal_setting"] == 0


@pytest.mark.parametrize("text,n", [
    ("Working backwards: 24 / 2 = 12, and 3 * 4 = 12.", 1),
    ("24 / 2 = 12, so we need 12 from 3 and 4. 3 * 4 = 12.", 1),
    ("To get 24, we need two factors, like 8 * 3. 4 * 2 = 8.", 1),
    ("24 = 2 * 12. 3 * 4 = 12.", 1),
    ("24 / 3 = 8. 4 * 2 = 8. Also 24 - 2 = 22, which is hard.", 2),
])
def test_backward_chaining_present(text, n):
    assert counts(text) == only(backward_chaining=n)


def test_target_among_inputs_is_forward_work():
    # 24 is an input here, so "24 / 2 = 12" is an ordinary step, not reasoning from the target
    assert counts("24 / 2 = 12. 12 + 12 = 24.", [24, 2, 12], 24)["backward_chaining"] == 0


def test_all_four_together_and_unicode_operators():
    text = ("Working backwards, 24 ÷ 2 = 12, so first I want to reach 12. 3 + 4 = 7, not 12. That doesn't "
            "work; let me try another way. 3 × 4 = 12. Then 12 × 2 = 24, which is the target.")
    c = counts(text)
    assert c["backward_chaining"] == 1 and c["backtracking"] == 1
    assert c["verification"] == 2 and c["subgoal_setting"] == 0   # the subgoal is part of the backward step
    assert counts("First, let me reach 12. 3 × 4 = 12. 12 × 2 = 24, which is the target.") == only(
        verification=1, subgoal_setting=1)


def test_general_text_variant():
    doc = ("Problem 2: Find x such that 2x + 1 = 7. Solution: first we compute 2x = 6, thus x = 3. "
           "Let's check: 2 * 3 + 1 = 7, as expected. It suffices to show uniqueness.")
    c = count_text_behaviors(doc)
    assert c == {"verification": 1, "backtracking": 0, "subgoal_setting": 1, "backward_chaining": 1,
                 "has_problem": 1, "has_solution": 1}
    plain = count_text_behaviors("The weather was nice and we walked to the park.")
    assert plain == {b: 0 for b in BEHAVIORS} | {"has_problem": 0, "has_solution": 0}
    assert count_text_behaviors("That approach fails. Instead, we factor the polynomial.")["backtracking"] == 1


# Natural phrasings (as a priming-trace writer would use them) for target 22 from [7, 4, 2, 9]: each must
# show its own behavior and no other.
PHRASINGS = {
    "verification": ["7 * 4 = 28. 28 - 2 = 26, which doesn't equal 22.", "So 9 + 7 + 4 + 2 = 22. This equals our target!",
                     "28 - 9 = 19. That's 3 short of 22.", "(9 - 7) * 4 = 8. Hmm, 8 is way below 22.",
                     "9 * 2 = 18, 18 + 4 = 22 but I haven't used 7 yet, so this is invalid."],
    "backtracking": ["7 * 4 = 28. 28 - 9 = 19. This path isn't working. Let me start over.",
                     "Hmm, that approach fails. Let me go back and try multiplication instead.",
                     "9 * 4 = 36. That's a dead end.", "Okay, let's try a different grouping."],
    "subgoal_setting": ["My first goal is to make 11, because 11 * 2 = 22.", "I'll try to get 20 first, then add 2.",
                        "A useful intermediate target would be 11.", "I need to produce 13 from 9 and 4."],
    "backward_chaining": ["Working backwards from 22: 22 - 2 = 20, so I need 20 from 7, 4 and 9.",
                          "Since 22 = 2 * 11, I need 11 from 7, 4, 9.", "To reach 22 we need 11 * 2.",
                          "What times 2 gives 22? 11."],
    None: ["Let's try 7 * 4 = 28.", "We have the numbers 7, 4, 2, 9 and the target is 22.",
           "We need to use all numbers exactly once to make 22.", "Now 28 - 9 = 19, then 19 + 2 = 21.",
           "I will multiply 7 by 4 to get 28.", "Our goal is 22."],
}


@pytest.mark.parametrize("behavior,text", [(b, t) for b, ts in PHRASINGS.items() for t in ts])
def test_natural_phrasings_are_separable(behavior, text):
    assert count_behaviors(text, [7, 4, 2, 9], 22) == only(**({behavior: 1} if behavior else {}))


# ---------------------------------------------------------------- rules-v2: the paper's meanings (behaviors/taxonomy.py)
@pytest.mark.parametrize("text,n", [
    ("3 + 4 + 2 = 9, way too small. 3 * 4 * 2 = 24, there we go.", 2),
    ("3 * 4 = 12, 12 + 2 = 14. Under by 10.", 1),
    ("3 * 4 = 12, 12 + 2 = 14, close but not quite.", 1),           # one result judged once
    ("3 + 4 = 7\n7 * 2 = 14. no", 1),
    ("3 + 4 + 2 = 9, nope.", 1),
    ("3 * 2 = 6, 6 + 4 = 10, 2 short... wait, 14 short.", 1),
    ("4 * 3 * 2 = 24 ✅", 1),
    ("3 * 4 = 12, 12 * 2 = 24. That's it! Let me check: 3 * 4 * 2 = 24. Yes.", 2),   # a verdict, then a re-check
    ("3 * 4 = 12, 12 / 2 = 6. 6 again, not useful.", 1),             # overlapping triggers ("not use", "useful")
])
def test_implicit_verdicts_are_verification(text, n):
    assert counts(text)["verification"] == n


def test_goal_phrases_and_input_sizes_are_not_verification():
    assert counts("Let me first get a number close to 24. 4 * 3 * 2 = 24.")["verification"] == 0
    assert counts("4 is much bigger than 2, so start with 4. 4 * 3 = 12, 12 * 2 = 24.")["verification"] == 0


@pytest.mark.parametrize("text,numbers,target,n", [
    # a verdict, then a fresh line on other numbers: a switch even though no input is re-used
    ("7 + 4 = 11, too small. 9 * 2 = 18, 18 + 4 = 22.", [7, 4, 2, 9], 22, 1),
    # a verdict on an intermediate result, then building on it: no switch
    ("7 * 4 = 28, too big, so 28 - 9 = 19, 19 + 2 = 21. Close.", [7, 4, 2, 9], 22, 0),
    ("7 + 4 = 11, 9 * 2 = 18, 11 + 18 = 29.", [7, 4, 2, 9], 22, 0),           # two parts of one plan
    ("3 * 4 * 2 = 24. That's it! Another way: 4 * 2 = 8, 8 * 3 = 24.", NUMS, TARGET, 1),   # searching on
    ("3 * 4 = 12, 12 * 2 = 24. So 3 * 4 * 2 = 24.", NUMS, TARGET, 0),          # the solution written out again
    ("3 * 4 = 12, 12 * 2 = 24. Let me check: 3 * 4 = 12 and 12 * 2 = 24.", NUMS, TARGET, 0),
    ("Let me start over. 3 * 4 = 12, 12 * 2 = 24.", NUMS, TARGET, 0),         # nothing to give up yet
    ("18 - 12 = 6. 6 + 8 = 14, 14 * 3 = 42. No, too small.\nBack to 6: 6 * 8 = 48, 48 + 3 = 51.",
     [3, 18, 12, 8], 51, 1),                                                  # back to an earlier value
])
def test_backtracking_counts_switches_to_a_fresh_attempt(text, numbers, target, n):
    assert count_behaviors(text, numbers, target)["backtracking"] == n


def test_subgoals_are_distinct_goals():
    assert counts("Subgoal: make 12 first. 3 * 4 = 12. Subgoal 12 reached. 12 * 2 = 24.")["subgoal_setting"] == 1
    assert counts("Let me first get a number close to 20. 3 * 4 = 12, 12 * 2 = 24.")["subgoal_setting"] == 1
    # a goal justified forward is a subgoal, not a step back from the target
    c = count_behaviors("Goal: 44 first (44 - 23 = 21). 17 - 13 = 4, 4 * 11 = 44, 44 - 23 = 21.", [13, 11, 23, 17], 21)
    assert c["subgoal_setting"] == 1 and c["backward_chaining"] == 0


@pytest.mark.parametrize("text,numbers,target,n", [
    # a step back from a value that was itself derived from the target counts again
    ("99 * 5 = 495, so I need 495 from 26, 16 and 79. 495 - 79 = 416. 26 * 16 = 416.", [26, 16, 79, 5], 99, 2),
    ("Need 8. 40 / 5 = 8, and 51 - 46 = 5.", [51, 40, 46], 8, 1),            # 5 is needed before it exists
    ("Think of 23 as 22 + 1. 5 - 4 = 1, and 8 ...", [8, 4, 22, 5], 23, 1),
    ("Let's think about this backwards. 95 + 61 = 156, so we need 156.", [1, 39, 3, 61], 95, 1),
    # the target reached by forward work, then used again: forward
    ("7 + 4 = 11\n11 * 2 = 22\n22 + 9 = 31", [7, 4, 2, 9], 22, 0),
    ("100 + 53 = 153 (too high), 153 - 55 = 98.", [100, 53, 55], 98, 0),
])
def test_backward_chaining_from_derived_values(text, numbers, target, n):
    assert count_behaviors(text, numbers, target)["backward_chaining"] == n
