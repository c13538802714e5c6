"""The reward grades only the response (whatever chat format the prompt used) and never raises."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from countdown.prompts import ASSISTANT_PREFIX, base_prompt, chat_messages, render_prompt
from countdown.reward import compute_score, score

NUMS, TARGET = [3, 8, 2], 22
TRUTH = {"target": TARGET, "numbers": NUMS}


def llama3_prompt() -> str:
    """The chat prompt as Llama-3's template renders it (special tokens kept, as TinyZero-style decoding does)."""
    turns = "".join(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
                    for m in chat_messages(NUMS, TARGET))
    return f"<|begin_of_text|>{turns}<|start_header_id|>assistant<|end_header_id|>\n\n{ASSISTANT_PREFIX}"


def chatml_prompt() -> str:
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat_messages(NUMS, TARGET))
    return f"{turns}<|im_start|>assistant\n{ASSISTANT_PREFIX}"


PROMPTS = {"llama3": llama3_prompt(), "chatml": chatml_prompt(), "base": base_prompt(NUMS, TARGET)}


@pytest.mark.parametrize("template", PROMPTS)
@pytest.mark.parametrize("response,expected", [
    (" I cannot find it.", 0.0),                                  # no answer: the prompt's example must not count
    (" 3 * 8 = 24, 24 - 2 = 22 </think>\n<answer> 3 * 8 - 2 </answer>", 1.0),
    (" </think> <answer> 3 + 8 + 2 </answer>", 0.1),
])
def test_prompt_plus_response_grades_the_response_only(template, response, expected):
    prompt = PROMPTS[template]
    assert "<answer> (1 + 2) / 3 </answer>" in prompt  # the prompt does carry a (wrong) example answer
    assert compute_score("countdown", prompt + response, TRUTH) == expected
    assert compute_score("countdown", response, TRUTH) == expected   # veRL 0.9 passes the response alone


def test_the_llama3_case_from_the_issue_scores_zero():
    # was 0.1: the Llama-3 assistant header was not a marker, so the prompt's example answer was graded
    assert compute_score("countdown", llama3_prompt() + " Let me think... no idea.", TRUTH) == 0.0


def test_the_earliest_marker_ends_the_prompt():
    # a base prompt, then a response that goes on to open a ChatML turn: the answer before it still counts
    text = base_prompt(NUMS, TARGET) + " </think> <answer> 3*8-2 </answer><|im_end|>\n<|im_start|>assistant\nmore"
    assert compute_score("countdown", text, TRUTH) == 1.0


@pytest.mark.parametrize("completion", [None, 7, 2.5, b"<answer> 3*8-2 </answer>", ["<answer>3*8-2</answer>"]])
def test_score_of_a_non_text_completion_is_zero(completion):
    assert score(completion, NUMS, TARGET) == 0.0


@pytest.mark.parametrize("numbers,target", [(None, 22), ([3, 8, 2], None), ("382", 22), (5, 22),
                                            ([3.0, 8, 2], 22), ([3, 8, 2], 22.5), ([3, None, 2], 22)])
def test_score_of_an_unusable_problem_is_zero(numbers, target):
    assert score("<answer> 3 * 8 - 2 </answer>", numbers, target) == 0.0


@pytest.mark.parametrize("truth", [{"target": 22}, {"numbers": [3, 8, 2]}, {}, None, [22, [3, 8, 2]],
                                   {"target": "22", "numbers": [3, 8, 2]}, {"target": 22, "numbers": None}])
def test_compute_score_with_a_broken_ground_truth_is_zero(truth):
    assert compute_score("countdown", "<answer> 3 * 8 - 2 </answer>", truth) == 0.0


def test_numpy_ground_truth_is_graded():
    # what a trainer that routes rows through numpy hands over
    truth = {"target": np.int64(22), "numbers": np.array([3, 8, 2], dtype=np.int64)}
    assert compute_score("countdown", "<answer> 3 * 8 - 2 </answer>", truth) == 1.0
    assert compute_score("countdown", "<answer> 3 * 8 + 2 </answer>", truth) == 0.1


anything = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
                        | st.binary(max_size=20),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                    max_size=4),
                        max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(solution=anything | st.text(max_size=200), truth=anything
       | st.fixed_dictionaries({"target": anything, "numbers": anything}))
def test_compute_score_never_raises(solution, truth):
    assert compute_score("countdown", solution, truth) in (0.0, 0.1, 1.0)


@pytest.mark.parametrize("response,expected", [(" 3 * 8 = 24 . </think> <answer> ( 3 * 8 ) - 2 </answer>", 1.0),
                                               (" 3 + 8 = 11 . </think> <answer> ( 3 + 8 ) + 2 </answer>", 0.1),
                                               (" 3 + 8 = 11 .", 0.0)])
def test_the_compact_prompt_carries_no_answer_and_its_response_is_graded(response, expected):
    prompt = render_prompt(NUMS, TARGET, "compact")
    assert prompt == "Numbers: 3 8 2. Target: 22.\n<think>"
    assert compute_score("countdown", prompt + response, TRUTH) == expected   # spaced tokens, as a words model writes
