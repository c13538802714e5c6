"""The paper judge protocol against the loopback OpenAI server: the judge reasons before its <count> tag, the
last tag wins, the judged sample is seeded and recorded, failures are counted and flagged in the report."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis.report import judge_failure_notes, render_report
from behaviors.aggregate import results_table
from behaviors.classify import main as classify_main
from behaviors.interface import Item
from behaviors.judges import JudgeOptions, make_judge
from countdown.io import InputError, read_rows, write_rows
from countdown.records import BEHAVIORS, RESULTS_COLUMNS
from fake_openai import Fail, FakeOpenAI

ITEM = Item("t1", "6 * 9 = 54 - far over 30. 9 - 4 = 5, 5 * 6 = 30, which is the target.", "countdown",
            [6, 9, 4], 30)


def _question(request) -> str:
    return request["messages"][0]["content"].split("Question:")[-1]


def _reasoning_reply(request):
    """Replies that reason before the tag, change their mind, or end without a usable tag."""
    question = _question(request)
    if "verification" in question:
        return ("Going through the trace: [1] '6 * 9 = 54 - far over 30' judges a result, so at first I would say "
                "<count>1</count>. But [2] 'which is the target' judges the final result too.\n<count>2</count>")
    if "backtracking" in question:
        return "The trace drops 6 * 9 and starts again from 9 - 4: one switch.\n\n<count>1</count>"
    if "subgoal" in question:
        return "No intermediate value is named as a goal. Final answer: <count>N</count>"   # not a number
    return Fail("500")


def judge_at(server, **options):
    return make_judge("llm", judge_base_url=server.base_url, judge_model="fake", judge_max_retries=0, **options)


def test_paper_protocol_lets_the_judge_reason_and_the_last_tag_counts():
    with FakeOpenAI(reply=_reasoning_reply) as server:
        [judged] = judge_at(server).label([ITEM])
        requests = list(server.requests)
    label = judged.label
    assert len(requests) == 4                                   # one request per behavior
    assert label.verification == 2                              # last tag wins over the earlier <count>1</count>
    assert label.backtracking == 1                              # reasoning before the tag is read past
    assert label.subgoal_setting is None and "not a whole number" in label.errors["subgoal_setting"]
    assert label.backward_chaining is None and "request failed: HTTP 500" in label.errors["backward_chaining"]
    assert (label.protocol, label.prompt_version) == ("paper", "countdown-v3/paper")
    for request in requests:   # the prompt invites reasoning, then the tag; temperature 0 and room to reason
        question = _question(request)
        assert "list each instance" in question and question.rstrip().endswith("(<count>0</count> if there is none).")
        assert "and nothing else" not in question
        assert request["temperature"] == 0.0 and request["max_tokens"] == 1024
    # the worked example of each behavior is in its question
    assert "Worked example" in _question(requests[0])
    row = results_table([{"trace_id": "t1", "completion": ITEM.text, "reward": 1.0}], [label], group_by=())[0]
    assert (row["judged"], row["judge_failed"]) == (1, 2)


def test_temperature_is_configurable_and_part_of_the_cache_key(tmp_path):
    cache = tmp_path / "judge.sqlite"
    with FakeOpenAI(reply=lambda r: "<count>0</count>") as server:
        judge_at(server, judge_cache=str(cache)).label([ITEM])
        judge_at(server, judge_cache=str(cache)).label([ITEM])
        assert server.count == 4                                # same settings: every reply from the cache
        warm = judge_at(server, judge_cache=str(cache), judge_temperature=0.7)
        [judged] = warm.label([ITEM])
        assert server.count == 8 and server.requests[-1]["temperature"] == 0.7
    assert judged.label.counts() == {b: 0 for b in BEHAVIORS}
    with pytest.raises(InputError, match="--judge-temperature"):
        JudgeOptions(judge="llm", judge_temperature=-1.0)


def test_combined_protocol_stays_the_cheap_option():
    reply = "".join(f"<{b}>{i}</{b}>" for i, b in enumerate(BEHAVIORS))
    with FakeOpenAI(reply=lambda r: reply) as server:
        [judged] = judge_at(server, judge_protocol="combined").label([ITEM])
        assert server.count == 1
    assert judged.label.protocol == "combined" and judged.label.backward_chaining == 3


def test_the_llm_judge_samples_200_per_group_by_default_and_the_rule_judge_all():
    assert JudgeOptions(judge="llm").sample_size() == 200
    assert JudgeOptions(judge="rules").sample_size() == 0
    assert JudgeOptions(judge="llm", judge_sample=0).sample_size() == 0
    assert JudgeOptions(judge="llm", judge_sample=50).sample_size() == 50


def _trace_rows(n: int) -> list[dict]:
    return [{"trace_id": f"m@0/p{i}#0", "id": f"p{i}", "numbers": [3, 8], "target": 24, "step": 0,
             "condition": "c", "reward": 1.0 if i % 2 else 0.1, "completion": f"trace {i}: 3 * 8 = 24."}
            for i in range(n)]


def _failing_reply(request):
    """Combined replies; traces 7, 27, 47, ... get an unreadable reply (four failed judgments each): 12 of 230,
    at most 6% of the judgments, under --judge-max-failed's default 10%, so the run writes and records them."""
    number = int(re.search(r"trace (\d+):", request["messages"][0]["content"]).group(1))
    if number % 20 == 7:
        return "I cannot tell."
    return "".join(f"<{b}>1</{b}>" for b in BEHAVIORS)


def test_classify_records_the_seeded_sample_and_the_failures(tmp_path, capsys):
    """230 traces in one checkpoint: the default llm sample judges 200 of them (seeded), the results row
    records judged and judge_failed, and accuracy still uses all 230."""
    rows = _trace_rows(230)
    src = tmp_path / "traces.jsonl"
    write_rows(rows, src)
    with FakeOpenAI(reply=_failing_reply) as server:
        def run(seed, name):
            out, results = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.csv"
            classify_main([str(src), "--judge", "llm", "--judge-protocol", "combined", "--judge-base-url",
                           server.base_url, "--judge-model", "fake", "--judge-max-retries", "0", "--judge-cache",
                           str(tmp_path / f"cache{seed}.sqlite"), "--group-by", "condition,step", "--seed", str(seed),
                           "--out", str(out), "--results", str(results)])
            return read_rows(out), read_rows(results)

        labelled, [row] = run(0, "a")
        assert server.count == 200
        ids = [r["id"] for r in labelled]
        failing = sum(int(i[1:]) % 20 == 7 for i in ids)
        again, _ = run(0, "b")
        # the same sample again: every readable reply from the cache; unreadable ones were not cached
        assert server.count == 200 + failing
        other, _ = run(1, "c")
    printed = capsys.readouterr().out
    assert len(ids) == 200 and len(set(ids)) == 200 and set(ids) <= {r["id"] for r in rows}
    assert [r["id"] for r in again] == ids and [r["id"] for r in other] != ids   # seeded
    assert failing > 0
    assert row["judged"] == 200 and row["judge_failed"] == 4 * failing
    assert row["accuracy"] == pytest.approx(115 / 230)                          # every trace, not the sample
    assert all(r["protocol"] == "combined" and r["prompt_version"] == "countdown-v3/combined" for r in labelled)
    assert "judged a seeded sample of 200 of 230 traces" in printed
    failed_rows = [r for r in labelled if int(r["id"][1:]) % 20 == 7]
    assert all(set(r["errors"]) == set(BEHAVIORS) and r["verification"] is None for r in failed_rows)


def _frame(rows: list[dict]) -> pd.DataFrame:
    base = {c: 0.0 for c in RESULTS_COLUMNS[2:]}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_the_report_flags_checkpoints_with_more_than_one_percent_failed_judgments():
    frame = _frame([
        {"condition": "a", "step": 0, "judged": 200, "judge_failed": 8},    # 8 / 800 = 1.0%: not above
        {"condition": "a", "step": 10, "judged": 200, "judge_failed": 9},   # 9 / 800 = 1.1%: flagged
        {"condition": "b", "step": 0, "judged": 0, "judge_failed": 0},      # nothing judged: nothing to flag
    ])
    notes = judge_failure_notes(frame)
    assert len(notes) == 1 and "a step 10" in notes[0] and "9 of 800" in notes[0]
    assert "9 of 800 behavior judgments failed" in render_report(frame, paper_reference=False)
    # the paper's own schema, without the judge columns, loads and renders without a flag
    plain = _frame([{"condition": "a", "step": 0}])
    assert judge_failure_notes(plain) == [] and "judge failures" not in render_report(plain, paper_reference=False)


def test_results_files_with_and_without_the_judge_columns_load(tmp_path):
    from analysis.results import load_results

    paper, ours = tmp_path / "paper.csv", tmp_path / "ours.csv"
    plain = {c: 1.0 for c in RESULTS_COLUMNS[2:]} | {"accuracy": 0.5}
    write_rows([{"condition": "a", "step": 0, **plain}], paper)            # exactly RESULTS_COLUMNS
    write_rows([{"condition": "b", "step": 0, **plain, "judged": 200, "judge_failed": 30}], ours)
    frame = load_results([paper, ours])
    assert list(frame["condition"]) == ["a", "b"]
    [note] = judge_failure_notes(frame)
    assert note.startswith("**judge failures**: b step 0: 30 of 800")


def test_agreement_scores_an_llm_judge_on_the_gold_set(tmp_path, capsys):
    """The one command of docs/behaviors.md: `behaviors.agreement --gold --judge llm --judge-base-url URL`.
    A fake judge that answers each question with the gold count scores 1.0; one that always says 0 scores
    exactly the all-zero floor."""
    from behaviors.agreement import main as agreement_main
    from behaviors.gold import load_gold

    gold = {r["completion"]: r for r in load_gold("dev")}
    titles = {"verification": "verification", "backtracking": "backtracking",
              "subgoal setting": "subgoal_setting", "backward chaining": "backward_chaining"}

    def oracle(request):
        content = request["messages"][0]["content"]
        trace = content.split("<trace>\n", 1)[1].split("\n</trace>", 1)[0]
        asked = re.search(r"times does the trace show (.+?)\?", content).group(1)
        return f"Counting them one by one.\n<count>{gold[trace][titles[asked]]}</count>"

    def run(reply, name):
        with FakeOpenAI(reply=reply) as server:
            agreement_main(["--gold", "--split", "dev", "--judge", "llm", "--judge-base-url", server.base_url,
                            "--judge-model", "fake", "--judge-cache", str(tmp_path / f"{name}.sqlite"),
                            "--labels-out", str(tmp_path / f"{name}_labels.jsonl"),
                            "--out", str(tmp_path / f"{name}.csv")])
            assert server.count == 4 * len(gold)
        return {r["behavior"]: r for r in read_rows(tmp_path / f"{name}.csv")}

    perfect = run(oracle, "oracle")
    assert all(t["n"] == len(gold) and t["presence_accuracy"] == 1.0 for t in perfect.values())
    assert "labelled 76 gold traces; failed judgments 0" in capsys.readouterr().out
    zeros = run(lambda r: "None here. <count>0</count>", "zeros")
    for b in BEHAVIORS:
        assert zeros[b]["presence_accuracy"] == pytest.approx(sum(r[b] == 0 for r in gold.values()) / len(gold))
    labels = read_rows(tmp_path / "zeros_labels.jsonl")
    assert len(labels) == len(gold) and {r["protocol"] for r in labels} == {"paper"}
    # labels made earlier score the same way, without a judge
    agreement_main([str(tmp_path / "oracle_labels.jsonl"), "--gold", "--split", "dev"])
    assert "gold set (dev, 76 rows)" in capsys.readouterr().out
    with pytest.raises(InputError, match="two label files"):
        agreement_main([str(tmp_path / "oracle_labels.jsonl")])
