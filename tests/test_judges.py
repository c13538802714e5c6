"""behaviors.judges: judges are objects behind one interface, found by name, used by every command that judges."""
from __future__ import annotations

import pytest

from behaviors.interface import Item, Judged
from behaviors.judges import JUDGES, JudgeOptions, RuleJudge, label_traces, make_judge, register_judge, sample_rows
from countdown.cli import run_cli
from countdown.io import InputError, read_rows, write_rows
from countdown.records import BEHAVIORS, BehaviorLabel

TRACE = {"trace_id": "t1", "numbers": [3, 8, 5], "target": 19,
         "completion": "3 * 8 = 24, which is too big. Let me try another way: 3 * 5 = 15, 15 + 8 = 23. Not 19."}


def test_both_judges_are_registered_and_found_by_name():
    assert {"rules", "llm"} <= set(JUDGES)
    assert isinstance(make_judge("rules"), RuleJudge)
    judge = make_judge("llm", judge_base_url="http://127.0.0.1:9/v1", judge_model="m")
    assert judge.name == "llm:m" and judge.client.base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(InputError, match="unknown judge 'nope'.*rules"):
        make_judge("nope")


def test_the_rule_judge_labels_items_and_rows_the_same_way():
    from behaviors.rules import count_behaviors

    [judged] = make_judge("rules").label([Item("t1", TRACE["completion"], "countdown", [3, 8, 5], 19)])
    expected = count_behaviors(TRACE["completion"], [3, 8, 5], 19)
    assert judged.label.counts() == expected and judged.label.judge == "rules"
    assert expected["verification"] >= 1 and expected["backtracking"] >= 1   # the trace really shows both
    [label] = label_traces([TRACE], "rules")
    assert label.counts() == expected and label.trace_id == "t1"


class _CountingJudge:
    """A judge that says 7 for every behavior: proves commands take whatever the registry returns."""

    name = "seven"

    def __init__(self) -> None:
        self.seen = 0

    def label(self, items, progress=False):
        self.seen += len(items)
        return [Judged(BehaviorLabel(i.trace_id, *(7 for _ in BEHAVIORS), judge=self.name, prompt_version="v"))
                for i in items]


@pytest.fixture
def seven_judge():
    instance = _CountingJudge()
    register_judge("seven")(lambda options, seed, default_cache: instance)
    yield instance
    JUDGES.pop("seven", None)


def test_a_registered_judge_is_usable_from_the_classify_command(tmp_path, seven_judge):
    from behaviors.classify import main

    src, out = tmp_path / "traces.jsonl", tmp_path / "labels.jsonl"
    write_rows([TRACE, {**TRACE, "trace_id": "t2"}], src)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [str(src), "--judge", "seven", "--out", str(out)])
    assert exit_info.value.code == 0
    rows = read_rows(out)
    assert [r["verification"] for r in rows] == [7, 7] and {r["judge"] for r in rows} == {"seven"}
    assert seven_judge.seen == 2


def test_a_registered_judge_is_usable_from_evaluate_options(seven_judge):
    from rl.evaluate import EvaluateConfig

    config = EvaluateConfig(run_dir="r", condition="c", problems="p", judge="seven")
    assert config.make_judge() is seven_judge


def test_judge_options_validate():
    with pytest.raises(InputError, match="--judge-sample must be >= 0"):
        JudgeOptions(judge_sample=-1)
    with pytest.raises(InputError, match="--judge-concurrency"):
        JudgeOptions(judge_concurrency=0)


def test_sample_rows_is_seeded_per_group_and_keeps_order():
    rows = [{"step": s, "i": i} for s in (0, 10) for i in range(20)]
    picked = sample_rows(rows, 5, ("step",), seed=3)
    assert [r["step"] for r in picked].count(0) == 5 and [r["step"] for r in picked].count(10) == 5
    assert picked == sample_rows(rows, 5, ("step",), seed=3)
    assert picked != sample_rows(rows, 5, ("step",), seed=4)
    assert [rows.index(r) for r in picked] == sorted(rows.index(r) for r in picked)
    assert sample_rows(rows, 0) == rows and sample_rows(rows, 100) == rows
