"""behaviors.parse on judge replies: a count is read only when the reply states one; anything else is None with a
reason, never a silent 0 (a 0 would pass for "no behavior" in every average)."""
from __future__ import annotations

import pytest

from behaviors.parse import MAX_COUNT, parse_combined, parse_count

NAMES = ("verification", "backtracking", "subgoal_setting", "backward_chaining")


@pytest.mark.parametrize("reply, count", [
    ("<count>3</count>", 3),
    ("<count>0</count>", 0),                                        # a real zero stays a zero
    ("<count> 7 </count>", 7),
    ("<count>\n12\n</count>", 12),
    ("<COUNT>2</Count>", 2),
    ("The trace checks 22 twice, once per attempt.\n<count>2</count>", 2),   # reasoning, then the tag
    ("First guess <count>1</count>, but re-reading it: <count>4</count>", 4),  # the last tag wins
    (f"<count>{MAX_COUNT}</count>", MAX_COUNT),
])
def test_a_stated_count_is_read(reply, count):
    assert parse_count(reply) == (count, None)


@pytest.mark.parametrize("reply, reason", [
    (None, "empty reply"),
    ("", "empty reply"),
    ("  \n\t ", "empty reply"),
    ("3", "no <count> tag in reply: '3'"),
    ("  I count three.  ", "no <count> tag in reply: 'I count three.'"),
    ("<count></count>", "count is not a whole number: ''"),
    ("<count>two</count>", "count is not a whole number: 'two'"),
    ("<count>-1</count>", "count is not a whole number: '-1'"),
    ("<count>2.5</count>", "count is not a whole number: '2.5'"),
    ("<count>3 or 4</count>", "count is not a whole number: '3 or 4'"),
    ("<count>4</count> on reflection <count>many</count>", "count is not a whole number: 'many'"),
    (f"<count>{MAX_COUNT + 1}</count>", f"count {MAX_COUNT + 1} is implausibly large"),
    ("<count>99999999999999999999</count>", "count 99999999999999999999 is implausibly large"),
])
def test_an_unreadable_reply_is_none_with_its_reason(reply, reason):
    assert parse_count(reply) == (None, reason)


def test_reasons_quote_only_the_start_of_a_long_reply():
    assert parse_count("y" * 500) == (None, f"no <count> tag in reply: {'y' * 60!r}")
    assert parse_count(f"<count>{'z' * 500}</count>") == (None, f"count is not a whole number: {'z' * 40!r}")


def test_combined_reply_with_every_tag():
    reply = ("<verification>2</verification> <backtracking> 1 </backtracking>\n"
             "<SUBGOAL_SETTING>0</SUBGOAL_SETTING><backward_chaining>3</backward_chaining>")
    assert parse_combined(reply, NAMES) == {"verification": (2, None), "backtracking": (1, None),
                                            "subgoal_setting": (0, None), "backward_chaining": (3, None)}


def test_combined_reply_with_a_missing_tag_keeps_the_others():
    reply = "<verification>2</verification><backtracking>1</backtracking><backward_chaining>0</backward_chaining>"
    parsed = parse_combined(reply, NAMES)
    assert parsed["subgoal_setting"] == (None, "no <subgoal_setting> tag in reply")
    assert parsed["verification"] == (2, None) and parsed["backward_chaining"] == (0, None)


def test_combined_reply_empty_or_broken_per_tag():
    for reply in (None, "", "   "):
        assert parse_combined(reply, NAMES) == {name: (None, "empty reply") for name in NAMES}
    reply = (f"<verification>{MAX_COUNT + 5}</verification><backtracking>a few</backtracking>"
             "<subgoal_setting>1</subgoal_setting><subgoal_setting>2</subgoal_setting>")
    parsed = parse_combined(reply, NAMES)
    assert parsed["verification"] == (None, f"verification {MAX_COUNT + 5} is implausibly large")
    assert parsed["backtracking"] == (None, "backtracking is not a whole number: 'a few'")
    assert parsed["subgoal_setting"] == (2, None)   # repeated: the last one
    assert parsed["backward_chaining"] == (None, "no <backward_chaining> tag in reply")


def test_a_tag_counts_only_for_its_own_name():
    assert parse_combined("<count>3</count><verification>1</verification>", ["backtracking"]) == {
        "backtracking": (None, "no <backtracking> tag in reply")}
    assert parse_count("<verification>3</verification>")[0] is None
