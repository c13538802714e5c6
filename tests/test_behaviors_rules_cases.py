"""The rule judge on the cases where a small counting bug would hide: more solutions after the target is reached,
restarts that reuse a repeated number, goals named before forward work, steps back from derived values, intent
words, verdict sentences, notation (LaTeX, words for operators) and the general-text variant. Each expected
count follows the rules as written in behaviors/rules.py and docs/behaviors.md."""
from __future__ import annotations

import pytest

from behaviors.rules import count_behaviors, count_text_behaviors

NUMS, TARGET = [3, 4, 2], 24


def counts(text, numbers=NUMS, target=TARGET):
    c = count_behaviors(text, numbers, target)
    return c["verification"], c["backtracking"], c["subgoal_setting"], c["backward_chaining"]


@pytest.mark.parametrize("text, expected", [
    # searching on after the target is reached is a switch, once per further solution
    ("3 * 4 = 12, 12 * 2 = 24. 4 * 2 = 8, 8 * 3 = 24.", (0, 1, 0, 0)),
    ("3 * 4 = 12, 12 * 2 = 24. 4 * 2 = 8, 8 * 3 = 24. 3 * 2 = 6, 6 * 4 = 24.", (0, 2, 0, 0)),
    ("3 * 4 = 12, 12 * 2 = 24. That works. Another way: 4 * 2 = 8, 8 * 3 = 24. That works too.", (2, 1, 0, 0)),
    # the whole solution written out once more after reaching the target is no new attempt
    ("3 * 4 = 12, 12 * 2 = 24. That is it! So 3 * 4 * 2 = 24.", (1, 0, 0, 0)),
    ("3 + 4 + 2 = 9, way too small. 3 * 4 * 2 = 24, there we go.", (2, 1, 0, 0)),
])
def test_more_solutions_after_the_target_is_reached(text, expected):
    assert counts(text) == expected


def test_a_restart_that_reuses_a_repeated_number():
    # both 2s and the 3 are spent; "2 * 5" takes a 2 again, so it starts over (a second solution of 12)
    assert counts("2 + 2 = 4, 4 * 3 = 12. 2 * 5 = 10, 10 + 2 = 12.", [2, 2, 3, 5], 12) == (0, 1, 0, 0)


def test_abandon_phrases_count_per_episode():
    # "Dead end. Let me try another way." is one episode with no fresh attempt after it; "No luck again" another
    assert counts("3 + 4 = 7. Dead end. Let me try another way. Hmm. Still thinking here. No luck again.") == (
        0, 2, 0, 0)


@pytest.mark.parametrize("text, expected", [
    # a goal named before the forward work that reaches it: a subgoal, and the work is forward
    ("We want 12 first. Then 12 = 3 * 4, and 12 * 2 = 24.", (0, 0, 1, 0)),
    ("I want 12 first. Next, 12 * 2 = 24 since 3 * 4 = 12.", (0, 0, 1, 0)),
    ("First get 12: 3 * 4 = 12. We need it to equal the target: 12 * 2 = 24.", (0, 0, 1, 0)),   # intent, no check
    # "to reach the target we need ..." is a step back, with or without the target's number
    ("To reach the target, we need 12 * 2. 3 * 4 = 12.", (0, 0, 0, 1)),
    # a decomposition of the target with a part that is not an input is a step back
    ("Goal: 12. Note 12 = 3 * 4. And 24 = 12 * 2.", (0, 0, 1, 1)),
    # a value a backward step derived is that step's, unless the text later calls it a goal on its own
    ("Working backwards: 24 / 2 = 12. Next sentence here. Subgoal: make 12 first. 3 * 4 = 12, 12 * 2 = 24.",
     (0, 0, 1, 1)),
    ("Working backwards: 24 / 2 = 12. Next sentence here. My intermediate goal is 12. 3 * 4 = 12, 12 * 2 = 24.",
     (0, 0, 1, 1)),
    # goals without a number count once per sentence
    ("Let me first get a number close to 20. Let me also get a number close to 10. 3 * 4 = 12.", (0, 0, 2, 0)),
])
def test_goals_and_steps_back(text, expected):
    assert counts(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("24 = 24.", (1, 0, 0, 0)),                                          # the target at the very start
    ("We need 24. 3 * 4 * 2 gives 24 = 24. The answer uses 24.", (1, 0, 0, 0)),   # its middle occurrence
    ("- Yes, 3 * 4 * 2 = 24.", (1, 0, 0, 0)),                            # a verdict sentence behind a bullet
])
def test_checks_against_the_target(text, expected):
    assert counts(text) == expected


def test_size_words_after_a_result_are_not_operators():
    assert counts("7 * 4 = 28, that is over 22.", [7, 4, 2, 9], 22) == (1, 0, 0, 0)


@pytest.mark.parametrize("plain, written", [
    ("3 + 4 = 7\n7 * 2 = 14\n3 * 4 = 12\n12 * 2 = 24", "3 + 4 = 7\n7 \\cdot 2 = 14\n3 \\cdot 4 = 12\n12 \\cdot 2 = 24"),
    ("24 / 2 = 12, and 3 * 4 = 12.", "24 \\div 2 = 12, and 3 * 4 = 12."),
    ("3 * 4 = 12, 12 + 2 = 14. 3 * 2 = 6, 6 * 4 = 24.", "3 times 4 is 12, 12 plus 2 is 14. 3 times 2 is 6, 6 times 4 is 24."),
])
def test_notation_does_not_change_the_counts(plain, written):
    assert counts(written) == counts(plain) != (0, 0, 0, 0)


@pytest.mark.parametrize("text, expected", [
    ("That approach fails. We compute the sum. Instead, we factor the polynomial.", (0, 2, 0, 0)),
    ("We work backwards from the result.", (0, 0, 0, 1)),
    ("A useful subgoal is to bound x.", (0, 0, 1, 0)),
    ("Oops, that was wrong.", (1, 1, 0, 0)),
    # a deliberate check and its verdict in the next sentence are one check
    ("Let me verify: 2 * 3 + 1 = 7. Yes, this is right.", (1, 0, 0, 0)),
    ("Let me check the sum. The weather is nice. Then x = 3, as expected.", (2, 0, 0, 0)),
    ("We check the sum. Then x = 3, as expected. The weather is nice. Let me verify the product.", (2, 0, 0, 0)),
])
def test_general_text_variant(text, expected):
    c = count_text_behaviors(text)
    assert (c["verification"], c["backtracking"], c["subgoal_setting"], c["backward_chaining"]) == expected


def test_the_trigger_scan_finds_every_word_and_prefers_the_longer():
    """rules._trie_regex (built once at import) is the one scan that decides which sentences each rule reads."""
    import re

    from behaviors.rules import _trie_regex

    words = ["not", "not use", "note", "n't", "no ", "too", "x", "a+b"]
    pattern = re.compile(_trie_regex(words))
    for word in words:
        assert pattern.fullmatch(word), word
    for other in ["no", "nota", "to", "not us", "", "ab", "y"]:
        assert not pattern.fullmatch(other), other
    assert pattern.match("note that").group() == "note"           # longer words win over their prefixes
    assert pattern.match("not used").group() == "not use"
    assert [m.group() for m in pattern.finditer("say no to a+b, not that")] == ["no ", "a+b", "not"]
