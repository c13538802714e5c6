"""A judge server that misbehaves (trickles, hangs, garbles, cuts replies short, drops connections, errors,
refuses or echoes the key, answers without a count) and runs that are killed. Promises: no request outlives
--judge-timeout, a run whose judgments mostly failed fails (exit 2, nothing written) instead of passing for
null counts, no API key reaches the disk or the terminal, an unreadable reply is asked again on the next run,
and a killed run leaves no output and resumes."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from countdown.io import read_rows
from fake_openai import Fail, FakeOpenAI
from hostile import SECRET, fails_cleanly, run

ROOT = Path(__file__).resolve().parents[1]
TRACES = [{"trace_id": f"t{i}", "completion": f"3 + {i} = {3 + i}. Check: that works.", "numbers": [3, i],
           "target": 3 + i} for i in range(1, 3)]


@pytest.fixture
def work(tmp_path):
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(t) + "\n" for t in TRACES))
    return tmp_path


def classify(work: Path, server: FakeOpenAI, cache: Path, *extra) -> list:
    """classify's argv for the LLM judge at `server` (the reply cache lives outside `work`, which must stay
    untouched by a failed run)."""
    return [work / "t.jsonl", "--judge", "llm", "--judge-base-url", server.base_url, "--judge-model", "fake",
            "--judge-cache", cache, "--judge-max-retries", "0", "--judge-timeout", "1", "--out", work / "l.jsonl",
            *extra]


@pytest.fixture
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache") / "judge.sqlite"


@pytest.mark.parametrize("kind", ["trickle", "hang"])
def test_no_request_outlives_the_timeout(kind, work, cache, tmp_path_factory, capsys):
    """A body sent one byte per 0.2 s (about 50 s in all) or no answer for 30 s: each request ends at 1 s, so
    the run takes about as long as one against a healthy server (timed in the same process, same load)."""
    with FakeOpenAI() as healthy:
        started = time.monotonic()
        assert run("behaviors.classify", classify(work, healthy, tmp_path_factory.mktemp("c") / "c.sqlite"),
                   capsys)[0] == 0
        baseline = time.monotonic() - started
    (work / "l.jsonl").unlink()
    with FakeOpenAI(reply=lambda r: Fail(kind, seconds=0.2 if kind == "trickle" else 30)) as server:
        started = time.monotonic()
        fails_cleanly("behaviors.classify", classify(work, server, cache), capsys, server.base_url,
                      "8 of 8 judgments failed", "timeout after 1s", work=work)
        assert time.monotonic() - started < baseline + 10   # 8 requests at once, 1 s each; slack for a busy machine
        assert 1 <= server.count <= 8   # (on a loaded machine a request may time out before it arrives)


@pytest.mark.parametrize("kind, reason", [
    ("500", "HTTP 500"), ("garbage", "unreadable reply"), ("no-choices", "no message content"),
    ("truncate", "connection error"), ("drop", "connection error"), ("400", "HTTP 400"),
])
def test_a_judge_that_fails_every_call_fails_the_run(kind, reason, work, cache, capsys):
    with FakeOpenAI(reply=lambda r: Fail(kind)) as server:   # (a timeout long enough not to be the reason)
        fails_cleanly("behaviors.classify", classify(work, server, cache, "--judge-timeout", "20"), capsys,
                      server.base_url, "judgments failed", reason, "re-run", work=work)


def test_the_server_is_checked_before_any_request(work, cache, capsys, monkeypatch):
    unreachable = ["--judge-base-url", "http://127.0.0.1:9/v1"]   # the discard port: nothing listens
    with FakeOpenAI() as server:
        args = classify(work, server, cache)
    fails_cleanly("behaviors.classify", args + unreachable, capsys, "127.0.0.1:9", "unreachable", work=work)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI(models_fail=Fail("echo-key")) as server:   # a 401 that quotes the key back
        line = fails_cleanly("behaviors.classify", classify(work, server, cache), capsys, "refused the API key",
                             work=work)
        assert server.count == 0
    assert SECRET not in line and "[redacted]" in line


def test_an_echoed_key_never_reaches_the_disk_or_the_terminal(work, cache, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI(reply=lambda r: Fail("echo-key")) as server:
        line = fails_cleanly("behaviors.classify", classify(work, server, cache), capsys, "judgments failed",
                             work=work)
        assert SECRET not in line
        # accepted failures: the labels file is written, each error with its reason but not the key
        code, out, err = run("behaviors.classify", classify(work, server, cache, "--judge-max-failed", "1",
                                                            "--group-by", "trace_id"), capsys)
    assert code == 0 and SECRET not in out + err
    labels = read_rows(work / "l.jsonl")
    assert all(r["verification"] is None and "HTTP 401" in r["errors"]["verification"] for r in labels)
    assert "Bearer [redacted]" in labels[0]["errors"]["verification"]
    for path in [*work.rglob("*"), *cache.parent.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_unreadable_replies_are_asked_again_and_answers_are_kept(work, cache, capsys):
    readable = {"on": False}

    def reply(request):
        return "<count>2</count>" if readable["on"] else "There are a couple, I think."   # no count tag

    with FakeOpenAI(reply=reply) as server:
        accept = classify(work, server, cache, "--judge-max-failed", "1")
        assert run("behaviors.classify", accept, capsys)[0] == 0 and server.count == 8
        assert all(r["verification"] is None for r in read_rows(work / "l.jsonl"))
        assert run("behaviors.classify", accept, capsys)[0] == 0 and server.count == 16   # not cached: asked again
        readable["on"] = True
        assert run("behaviors.classify", accept, capsys)[0] == 0 and server.count == 24
        assert run("behaviors.classify", accept, capsys)[0] == 0 and server.count == 24   # now cached
    assert all(r["verification"] == 2 for r in read_rows(work / "l.jsonl"))


@pytest.mark.parametrize("kind, needle", [("folder", "is a folder"), ("corrupt", "cannot use as a reply cache")])
def test_an_unusable_reply_cache_is_an_input_error(kind, needle, work, capsys):
    bad = work / "judge.sqlite"
    if kind == "folder":
        bad.mkdir()
    else:
        bad.write_bytes(b"not a database " * 100)
    with FakeOpenAI() as server:
        fails_cleanly("behaviors.classify", classify(work, server, bad), capsys, "judge.sqlite", needle, work=work)
        assert server.count == 0


def test_a_fully_cached_run_needs_no_server(work, cache, capsys):
    with FakeOpenAI(reply=lambda r: "<count>1</count>") as server:
        args = classify(work, server, cache)
        assert run("behaviors.classify", args, capsys)[0] == 0 and server.count == 8
    code, out, _ = run("behaviors.classify", args, capsys)   # the server is gone: every answer is cached
    assert code == 0 and "cache hits 8" in out


def test_a_few_failures_pass_within_the_allowed_share(work, cache, capsys):
    """One behavior failing on every trace is a quarter of the judgments: above the default 10 %, within 30 %."""
    def reply(request):
        return Fail("500") if "backtracking" in request["messages"][0]["content"].split("Question:")[-1] \
            else "<count>1</count>"

    with FakeOpenAI(reply=reply) as server:
        fails_cleanly("behaviors.classify", classify(work, server, cache), capsys, "2 of 8 judgments failed (25%",
                      work=work)
        assert run("behaviors.classify", classify(work, server, cache, "--judge-max-failed", "0.3"), capsys)[0] == 0
    labels = read_rows(work / "l.jsonl")
    assert [r["verification"] for r in labels] == [1, 1] and [r["backtracking"] for r in labels] == [None, None]


def test_curate_with_a_failing_judge_writes_no_sets(tmp_path, cache, capsys):
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"Find x. Document {i}."}) + "\n" for i in range(3)))
    with FakeOpenAI(reply=lambda r: Fail("500")) as server:
        fails_cleanly("priming.curate", [corpus, "--budget-tokens", "5", "--out", tmp_path / "cpt", "--judge", "llm",
                                         "--judge-base-url", server.base_url, "--judge-model", "fake",
                                         "--judge-cache", cache, "--judge-max-retries", "0"], capsys,
                      "3 of 3 judgments failed")
    assert not any((tmp_path / "cpt" / name).exists() for name in ("rich.jsonl", "minimal.jsonl", "manifest.json"))


def test_evaluate_without_a_key_fails_before_sampling(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "a", "numbers": [3, 5], "target": 8}) + "\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copytree(tiny_model_dir, run_dir / "checkpoint-1")
    fails_cleanly("rl.evaluate", [run_dir, "--condition", "c", "--problems", tmp_path / "p.jsonl", "--backend", "hf",
                                  "--judge", "llm", "--results", tmp_path / "r.csv"], capsys,
                  "no API key", "OPENAI_API_KEY", work=tmp_path)


# ------------------------------------------------------------------------------------------ killed runs

def test_a_killed_rollout_leaves_no_output_and_resumes(tmp_path, capsys):
    """SIGKILL mid-sampling (an OpenAI-compatible server answering slowly): --out and its settings record are
    absent, not half-written; the same command then finishes, and once more has nothing to do."""
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "numbers": [3, 5], "target": 8}) + "\n"
                                for i in range(12)))
    out = tmp_path / "o.jsonl"
    with FakeOpenAI(reply=lambda r: "<answer>3 + 5</answer>", delay=0.3, model="served") as server:
        args = [str(problems), "--backend", "openai", "--base-url", server.base_url, "--model", "served",
                "--concurrency", "2", "--out", str(out)]
        proc = subprocess.Popen([sys.executable, "-m", "rl.rollout", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while server.count < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert 3 <= server.count < 12, "the run ended before it could be killed mid-sampling"
        assert not out.exists() and not Path(f"{out}.settings.json").exists()
        assert run("rl.rollout", args, capsys)[0] == 0
        rows = read_rows(out)
        assert len(rows) == 12 and all(r["correct"] for r in rows)
        assert "nothing to do" in run("rl.rollout", args, capsys)[2]


def test_an_interrupted_judge_run_says_so_and_keeps_its_answers(work, cache):
    """Ctrl-C (SIGINT) mid-judging: exit 130 with one line saying how to resume, no labels file; the answers
    that arrived are cached, so the re-run asks only for the rest."""
    with FakeOpenAI(reply=lambda r: "<count>1</count>", delay=0.4) as server:
        args = [str(a) for a in classify(work, server, cache, "--judge-concurrency", "1", "--judge-timeout", "5")]
        proc = subprocess.Popen([sys.executable, "-m", "behaviors.classify", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while server.count < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and err.strip().splitlines()[-1].startswith("interrupted:"), err
        assert not (work / "l.jsonl").exists()
        asked = server.count
        assert 3 <= asked < 8
        from behaviors.classify import main as classify_main

        classify_main(args)
        assert server.count - asked <= 8 - asked + 1   # the rest, and at most the one in flight at the signal
    assert [r["verification"] for r in read_rows(work / "l.jsonl")] == [1, 1]


def test_curate_checks_the_rewrite_server_before_judging(tmp_path, cache, capsys):
    """--rewrite-model at a server nothing listens on: one error line before any document is judged (no
    labels.jsonl), not after a whole corpus was judged."""
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"Find x. Solution: x = {i}."}) + "\n" for i in range(3)))
    fails_cleanly("priming.curate", [corpus, "--budget-tokens", "5", "--out", tmp_path / "cpt", "--reformat-qa",
                                     "--rewrite-model", "w", "--rewrite-base-url", "http://127.0.0.1:9/v1",
                                     "--rewrite-cache", cache], capsys, "127.0.0.1:9", "unreachable",
                  work=tmp_path)


def test_agreement_with_a_failing_judge_scores_nothing(tmp_path, cache, capsys):
    """--gold with an LLM judge whose every call fails: exit 2 under --judge-max-failed, no table, no labels."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": t["trace_id"], "split": "dev", "style": "s", **t, "verification": 1,
                                        "backtracking": 0, "subgoal_setting": 0, "backward_chaining": 0}) + "\n"
                            for t in TRACES))
    with FakeOpenAI(reply=lambda r: Fail("500")) as server:
        fails_cleanly("behaviors.agreement", ["--gold", "--gold-file", gold, "--judge", "llm", "--judge-base-url",
                                              server.base_url, "--judge-model", "fake", "--judge-cache", cache,
                                              "--judge-max-retries", "0", "--out", tmp_path / "a.csv",
                                              "--labels-out", tmp_path / "l.jsonl"], capsys,
                      server.base_url, "8 of 8 judgments failed", work=tmp_path)
