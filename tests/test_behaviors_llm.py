"""ChatClient, the reply cache and the LLM judge against the loopback fake OpenAI server."""
import asyncio
import time

import pytest

from rl.cache import ResponseCache
from rl.client import ChatClient, ChatError
from behaviors.llm_judge import Item, LLMJudge
from behaviors.prompts import per_behavior_messages
from countdown.io import InputError
from countdown.records import BEHAVIORS
from fake_openai import Fail, FakeOpenAI


def ask(text):
    return [{"role": "user", "content": text}]


def fast_client(server, **kw):
    opts = dict(model="fake", base_url=server.base_url, backoff=0.01, timeout=2.0, max_retries=3)
    return ChatClient(**(opts | kw))


def test_concurrency_bound_is_respected():
    with FakeOpenAI(reply=lambda r: "ok", delay=0.1) as server:
        client = fast_client(server, concurrency=3)
        out = client.run([(None, ask(f"q{i}")) for i in range(12)])
    assert out == ["ok"] * 12
    assert server.count == 12
    assert server.max_in_flight == 3 and client.stats.max_in_flight == 3


@pytest.mark.parametrize("kind", ["429", "500", "garbage", "hang"])
def test_transient_failures_are_retried(kind):
    with FakeOpenAI(reply=lambda r: "fine") as server:
        server.fail_next(kind, times=2, **({"seconds": 1.0} if kind == "hang" else {}))
        client = fast_client(server, timeout=0.4)
        assert client.run([(None, ask("x"))]) == ["fine"]
    assert server.count == 3 and client.stats.retries == 2 and client.stats.failures == 0


def test_retry_after_is_honoured_and_rpm_paces_requests():
    with FakeOpenAI(reply=lambda r: "ok") as server:
        server.fail_next("429", retry_after=0.3)
        client = fast_client(server)
        start = time.monotonic()
        client.run([(None, ask("x"))])
        assert time.monotonic() - start >= 0.3
        paced = fast_client(server, rpm=600)   # one request per 0.1 s
        start = time.monotonic()
        paced.run([(None, ask(f"p{i}")) for i in range(4)])
        assert time.monotonic() - start >= 0.3


def test_gives_up_after_retries_and_does_not_retry_client_errors():
    with FakeOpenAI(reply=lambda r: "ok") as server:
        server.fail_next("500", times=10)
        client = fast_client(server, max_retries=2)
        [result] = client.run([(None, ask("x"))])
        assert isinstance(result, ChatError) and "HTTP 500" in str(result) and server.count == 3
    with FakeOpenAI(reply=lambda r: Fail("400")) as server:
        [result] = fast_client(server).run([(None, ask("x"))])
        assert isinstance(result, ChatError) and server.count == 1


def test_cache_second_run_makes_zero_requests(tmp_path):
    jobs = [(f"k{i}", ask(f"q{i}")) for i in range(5)] + [("k0", ask("q0"))]   # a duplicate key in the batch
    with FakeOpenAI(reply=lambda r: r["messages"][0]["content"].upper()) as server:
        first = fast_client(server, cache=tmp_path / "c.sqlite").run(jobs)
        assert server.count == 5
        again = fast_client(server, cache=tmp_path / "c.sqlite")
        assert again.run(jobs) == first and server.count == 5 and again.stats.cache_hits == 5
    assert first[0] == "Q0" and len(ResponseCache(tmp_path / "c.sqlite")) == 5


def test_key_comes_from_env_and_is_never_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test-secret-1234")
    with FakeOpenAI(reply=lambda r: "ok") as server:
        client = fast_client(server, api_key_env="FAKE_JUDGE_KEY", cache=tmp_path / "c.sqlite")
        client.run([("k", ask("x"))])
        assert server.headers[0]["authorization"] == "Bearer sk-test-secret-1234"
    for f in tmp_path.iterdir():
        assert b"sk-test-secret-1234" not in f.read_bytes()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        ChatClient(base_url="https://api.example.com/v1").run([(None, ask("x"))])


def test_async_use_inside_a_running_loop():
    async def go(client):
        return await asyncio.gather(*(client.complete(ask(f"q{i}")) for i in range(3)))

    with FakeOpenAI(reply=lambda r: "ok") as server:
        client = fast_client(server)
        assert asyncio.run(go(client)) == ["ok"] * 3
        assert asyncio.run(go(client)) == ["ok"] * 3   # a second event loop gets a fresh connection pool


def _count_reply(request):
    content = request["messages"][0]["content"]
    if "Reply only" in content:
        return "".join(f"<{n}>{i}</{n}>" for i, n in enumerate(BEHAVIORS)) + "<has_problem>1</has_problem>" \
               "<has_solution>0</has_solution>"
    question = content.split("Question:")[-1]
    if "verification" in question:
        return "Two checks. <count>2</count>"
    if "backtracking" in question:
        return "I think there are a couple."       # unreadable: no tag
    if "problem" in question:
        return "<count>1</count>"
    return "<count>0</count>"


ITEM = Item("t1", "3 * 8 = 24, which is the target.", "countdown", [3, 8], 24)


def test_per_behavior_labels_with_nulls_for_unreadable_replies(tmp_path):
    with FakeOpenAI(reply=_count_reply) as server:
        judge = LLMJudge(fast_client(server, cache=tmp_path / "c.sqlite"))
        [judged] = judge.label([ITEM])
        label = judged.label
        assert server.count == 4
    assert label.verification == 2 and label.subgoal_setting == 0 and label.backward_chaining == 0
    assert label.backtracking is None and "no <count> tag" in label.errors["backtracking"]
    assert label.judge == "llm:fake" and label.prompt_version == "countdown-v3/paper" and label.protocol == "paper"


def test_failed_requests_give_null_with_reason(tmp_path):
    with FakeOpenAI(reply=lambda r: Fail("500")) as server:
        judge = LLMJudge(fast_client(server, max_retries=1), protocol="combined")
        [judged] = judge.label([ITEM])
    assert judged.label.counts() == {b: None for b in BEHAVIORS}
    assert all("request failed: HTTP 500" in judged.label.errors[b] for b in BEHAVIORS)


def test_combined_mode_and_text_variant():
    with FakeOpenAI(reply=_count_reply) as server:
        judge = LLMJudge(fast_client(server), protocol="combined")
        a, b = judge.label([ITEM, Item("d1", "Find x. Thus x = 2.", "text")])
        assert server.count == 2
    assert a.label.counts() == {"verification": 0, "backtracking": 1, "subgoal_setting": 2, "backward_chaining": 3}
    assert b.extras == {"has_problem": 1, "has_solution": 0} and b.label.prompt_version == "text-v3/combined"
    with FakeOpenAI(reply=_count_reply) as server:
        [c] = LLMJudge(fast_client(server)).label([Item("d2", "Find x.", "text")])
        assert server.count == 6 and c.extras["has_problem"] == 1


def test_per_behavior_prompts_put_the_trace_first_for_prefix_caching():
    prompts = [per_behavior_messages(b, "countdown", "MY TRACE", [3, 8], 24)[0]["content"] for b in BEHAVIORS]
    prefix = prompts[0][:prompts[0].index("Question:")]
    assert "MY TRACE" in prefix and "[3, 8]" in prefix and "24" in prefix
    assert all(p.startswith(prefix) for p in prompts) and len(set(prompts)) == 4
