"""python -m behaviors.classify / behaviors.agreement end to end, aggregation, and resume after a kill."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from behaviors.agreement import agreement
from behaviors.aggregate import results_table
from rl.cache import ResponseCache
from behaviors.classify import main as classify_main
from behaviors.judges import label_traces
from countdown.cli import run_cli
from countdown.io import read_rows, write_rows
from countdown.records import RESULTS_COLUMNS, RESULTS_JUDGE_COLUMNS, BehaviorLabel, Trace
from fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]


def traces():
    texts = ["3 * 8 = 24, which is the target.",
             "3 + 8 = 11, not 24. Let's try a different combination. 3 * 8 = 24.",
             "Working backwards, 24 / 8 = 3. So 3 * 8 = 24.",
             "3 * 8 = 24"]
    rows = []
    for step in (0, 10):
        for i, text in enumerate(texts):
            t = Trace(f"p{i}", [3, 8], 24, "test", prompt="...", completion=text, model="m", step=step,
                      condition="base", reward=1.0 if i != 1 or step else 0.1)
            rows.append(t.to_dict())
    return rows


def test_results_table_semantics():
    rows = traces()[:4]
    labels = [BehaviorLabel(r["trace_id"], v, 1, 0, None, "x", "v", {"backward_chaining": "boom"} if v else {})
              for r, v in zip(rows, [2, None, 4, 0])]
    [row] = results_table(rows, labels)
    assert list(row) == list(RESULTS_COLUMNS + RESULTS_JUDGE_COLUMNS)
    # 4 traces judged; failed judgments: one verification + four backward-chaining counts are null
    assert row["judged"] == 4 and row["judge_failed"] == 5
    assert row["condition"] == "base" and row["step"] == 0
    assert row["avg_verifications"] == 2.0 and row["total_verifications"] == 6   # null left out, not 0
    assert row["avg_backtracking"] == 1.0 and row["total_backtracking"] == 4
    assert row["avg_backwards"] is None and row["total_backwards"] is None        # nothing judged
    assert row["accuracy"] == 0.75
    assert row["response_length"] == sum(len(r["completion"]) for r in rows) / 4
    # labels given out of order are matched by trace_id
    again = results_table(rows, list(reversed(labels)), with_counts=True)[0]
    assert again["total_verifications"] == 6 and again["failed_verification"] == 1 and again["num_traces"] == 4
    # a judged sample: traces without a label count for accuracy, not for `judged`
    sampled = results_table(rows, [labels[0], labels[2]])[0]
    assert (sampled["judged"], sampled["judge_failed"], sampled["accuracy"]) == (2, 2, 0.75)
    assert sampled["avg_verifications"] == 3.0


def test_classify_rules_end_to_end(tmp_path, capsys):
    src = tmp_path / "traces.jsonl"
    write_rows(traces(), src)
    out, results = tmp_path / "labeled.parquet", tmp_path / "results.csv"
    classify_main([str(src), "--out", str(out), "--group-by", "condition,step", "--results", str(results)])
    printed = capsys.readouterr().out
    assert "verification" in printed and "8 traces" in printed
    rows = read_rows(out)
    assert len(rows) == 8 and rows[0]["completion"] == traces()[0]["completion"]
    assert [r["verification"] for r in rows[:4]] == [1, 1, 0, 0]
    assert [r["backtracking"] for r in rows[:4]] == [0, 1, 0, 0]
    assert [r["backward_chaining"] for r in rows[:4]] == [0, 0, 1, 0]
    assert rows[0]["judge"] == "rules" and json.loads(rows[0]["errors"]) == {}
    table = read_rows(results)
    assert [(r["condition"], r["step"]) for r in table] == [("base", 0), ("base", 10)]
    assert table[0]["accuracy"] == 0.75 and table[1]["accuracy"] == 1.0
    assert table[0]["avg_verifications"] == 0.5 and table[0]["total_backwards"] == 1
    sampled = tmp_path / "sampled.jsonl"
    classify_main([str(src), "--out", str(sampled), "--group-by", "step", "--sample", "2", "--seed", "3"])
    assert len(read_rows(sampled)) == 4 and len(read_rows(tmp_path / "sampled_results.csv")) == 2
    # label_traces on plain dicts with a different text column (general-text variant)
    docs = [{"text": "Problem: find x. Let me check the answer: x = 2, as expected."}]
    [label] = label_traces(docs, text_field="text")
    assert label.trace_id == "row0" and label.verification == 1 and label.prompt_version == "rules-v2/text"


@pytest.mark.parametrize("content,message", [
    ('{"completion": "ok", "numbers": [1], "target": 1}\n{not json\n', "bad.jsonl:2: invalid JSON"),
    ('{"text": "no completion column"}\n', "no text in field 'completion'"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, content, message):
    src = tmp_path / "bad.jsonl"
    src.write_text(content)
    out = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(classify_main, [str(src), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_agreement_on_a_hand_made_pair(tmp_path, capsys):
    a = [{"trace_id": f"t{i}", "verification": v, "backtracking": 1, "subgoal_setting": 0,
          "backward_chaining": None if i == 0 else i} for i, v in enumerate([0, 1, 2, 0])]
    b = [{"trace_id": f"t{i}", "verification": v, "backtracking": 1, "subgoal_setting": 0,
          "backward_chaining": i} for i, v in enumerate([0, 2, 0, 0])]
    b.append({"trace_id": "only-b", "verification": 5, "backtracking": 0, "subgoal_setting": 0,
              "backward_chaining": 0})
    table = {row["behavior"]: row for row in agreement(a, b)}
    v = table["verification"]
    # presence A = [0,1,1,0], B = [0,1,0,0]: 3/4 agree; pe = .5*.25 + .5*.75 = .5; kappa = (.75-.5)/.5
    assert v["n"] == 4 and v["presence_accuracy"] == 0.75 and v["kappa"] == pytest.approx(0.5)
    # counts A = [0,1,2,0], B = [0,2,0,0] by hand: means .75 and .5; sum of co-deviations .375 + .375 - .625
    # + .375 = .5; squared deviations 2.75 and 3; r = .5 / sqrt(8.25) = 0.17408
    assert v["count_pearson"] == pytest.approx(0.174077656, abs=1e-8)
    assert table["backtracking"]["kappa"] is None and table["backtracking"]["presence_accuracy"] == 1.0
    assert table["backward_chaining"]["n"] == 3 and table["backward_chaining"]["count_pearson"] == pytest.approx(1.0)
    pa, pb = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_rows(a, pa)
    write_rows(b, pb)
    from behaviors.agreement import main as agreement_main

    agreement_main([str(pa), str(pb), "--out", str(tmp_path / "agree.csv")])
    assert "0.500" in capsys.readouterr().out and len(read_rows(tmp_path / "agree.csv")) == 4


def _numbered_reply(request):
    """Echo the trace's number as the verification count, so a reply tells which trace it answered."""
    idx = int(re.search(r"trace number (\d+)", request["messages"][0]["content"]).group(1))
    return (f"<verification>{idx}</verification><backtracking>0</backtracking>"
            "<subgoal_setting>0</subgoal_setting><backward_chaining>0</backward_chaining>")


def test_resume_after_kill_loses_and_repeats_nothing(tmp_path):
    n = 16
    rows = [{"id": f"p{i}", "numbers": [3, 8], "target": 24, "completion": f"trace number {i}: 3 * 8 = 24"}
            for i in range(n)]
    src, out, cache = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "judge.sqlite"
    write_rows(rows, src)
    with FakeOpenAI(reply=_numbered_reply, delay=0.15) as server:
        args = [str(src), "--judge", "llm", "--judge-mode", "combined", "--judge-base-url", server.base_url, "--judge-model", "fake",
                "--judge-concurrency", "2", "--judge-cache", str(cache), "--out", str(out)]
        proc = subprocess.Popen([sys.executable, "-m", "behaviors.classify", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not cache.exists() or len(ResponseCache(cache)) < 5):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not out.exists()
        sent_first = server.count
        done = {int(re.search(r"<verification>(\d+)<", v).group(1))
                for (v,) in ResponseCache(cache)._db.execute("SELECT value FROM replies")}
        assert 5 <= len(done) < n and sent_first - len(done) <= 2   # only in-flight calls were lost
        classify_main(args)
        second = [int(re.search(r"trace number (\d+)", r["messages"][0]["content"]).group(1))
                  for r in server.requests[sent_first:]]
        assert sorted(second) == sorted(set(range(n)) - done)      # exactly the missing ones, once each
        labeled = read_rows(out)
        assert [r["verification"] for r in labeled] == list(range(n))
        before = server.count
        classify_main(args)
        assert server.count == before                              # a finished run re-runs for free
