"""priming.curate on a small corpus written here: equal budgets, the rich set really is richer, resume."""
from __future__ import annotations

import json
import random

import pytest

from behaviors.rules import count_text_behaviors
from countdown.cli import run_cli
from countdown.io import read_rows, write_rows
from countdown.records import BEHAVIORS
from priming import curate

RICH = [   # pose a problem, solve it, and show behaviors
    "Problem: find x if 2x + 3 = 11. Solution: subtract 3 to get 2x = 8, so x = 4. Let me check: 2*4 + 3 = 11, "
    "which matches the right-hand side.",
    "We want to show that a > b. It suffices to show a - b > 0. Expanding did not work, so let us try a "
    "different approach instead and factor the difference. Thus a > b.",
    "What is 15% of 80? Let me verify my first guess of 10 by computing 0.15 * 80 = 12. That was wrong, "
    "so I go back and redo it: the answer is 12.",
]
PLAIN = [  # pose a problem and solve it in plain forward steps
    "Problem: compute the area of a rectangle with sides 3 and 5. Solution: multiply the two sides, 3 * 5 = 15, "
    "so the area is 15.",
    "Exercise 2. Find the sum of the first ten positive integers. Solution: the formula n(n + 1)/2 gives "
    "10 * 11 / 2 = 55. Thus the sum is 55.",
    "What is 12 squared? Answer: 12 * 12 = 144, hence the square is 144.",
]
NO_PROBLEM = [  # math text that neither poses nor solves a problem
    "The history of the integral goes back to ancient Greece, where Eudoxus used the method of exhaustion "
    "to compute areas and volumes.",
    "A group is a set together with an associative operation that has an identity element and inverses "
    "for every element of the set.",
    "Prime numbers are the integers greater than one whose only divisors are one and the number itself; "
    "Euclid proved there are infinitely many of them.",
]


@pytest.fixture()
def corpus(tmp_path):
    rng = random.Random(0)
    rows = [{"id": f"doc{i}", "text": rng.choice((RICH, PLAIN, NO_PROBLEM)[i % 3]) + f" (Remark {i}.)"}
            for i in range(60)]
    path = tmp_path / "corpus.jsonl"
    write_rows(rows, path)
    folder = tmp_path / "pages"
    folder.mkdir()
    for i, text in enumerate(RICH + PLAIN + NO_PROBLEM):
        (folder / f"page{i}.txt").write_text(text + "\n")
    return path, folder


def run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(curate.main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def density(rows):
    return sum(count_text_behaviors(r["text"])[b] for r in rows for b in BEHAVIORS) / sum(
        len(r["text"].split()) for r in rows)


def is_no_problem(text):
    return any(text.startswith(t[:40]) for t in NO_PROBLEM)


def test_rich_and_minimal_sets_have_equal_budgets(corpus, tmp_path, capsys):
    path, folder = corpus
    out = tmp_path / "cpt"
    code, stdout, _ = run([path, folder, "--budget-tokens", 250, "--out", out], capsys)
    assert code == 0 and "rich:" in stdout
    rich, minimal = read_rows(out / "rich.parquet"), read_rows(out / "minimal.parquet")
    # equal budgets, counted independently of the tool
    assert sum(len(r["text"].split()) for r in rich) == sum(len(r["text"].split()) for r in minimal) == 250
    assert {r["id"] for r in rich}.isdisjoint({r["id"] for r in minimal})
    # re-judging the written text: the rich set carries behaviors, the minimal one none
    assert density(rich) > 0.02 and density(minimal) == 0
    # as in the paper, every chosen document poses a problem and solves it
    assert not any(is_no_problem(r["text"]) for r in rich + minimal)
    assert all(r["has_problem"] == 1 and r["has_solution"] == 1 for r in rich + minimal)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["budget"] == 250 and manifest["documents"] == 60 + 9
    # 40 corpus rows and 6 pages pose and solve a problem; 20 rows and 3 pages do not
    assert manifest["with_problem_and_solution"] == 46 and manifest["require_problem_solution"] is True
    assert manifest["sets"]["rich"]["frequency"]["any_behavior_share"] == 1.0
    assert manifest["sets"]["minimal"]["frequency"]["any_behavior_share"] == 0.0
    assert 0 < manifest["corpus_frequency"]["any_behavior_share"] < 1
    assert read_rows(out / "rich.jsonl") == rich
    # without the requirement, documents that pose no problem may fill the minimal set too
    code, _, _ = run([path, "--budget-tokens", 250, "--no-require-problem-solution", "--out", tmp_path / "any"],
                     capsys)
    assert code == 0 and any(is_no_problem(r["text"]) for r in read_rows(tmp_path / "any" / "minimal.jsonl"))


def test_budget_in_model_tokens_and_shrinking(corpus, tmp_path, capsys, tiny_model_dir):
    from transformers import AutoTokenizer

    path, _ = corpus
    out = tmp_path / "tok"
    code, _, err = run([path, "--budget-tokens", 400, "--tokenizer", tiny_model_dir, "--out", out], capsys)
    assert code == 0
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    sizes = [sum(len(tok(r["text"], add_special_tokens=False)["input_ids"]) for r in read_rows(out / f"{s}.jsonl"))
             for s in ("rich", "minimal")]
    assert sizes[0] == sizes[1] == 400
    # asking for more than the rich documents hold: both sets shrink to the same smaller size
    code, _, err = run([path, "--budget-tokens", 10**7, "--out", tmp_path / "big"], capsys)
    assert code == 0 and "warning" in err
    manifest = json.loads((tmp_path / "big" / "manifest.json").read_text())
    assert manifest["sets"]["rich"]["size"] == manifest["sets"]["minimal"]["size"] == manifest["budget"] < 10**7


def test_rule_rewrite_splits_question_thinking_and_answer():
    assert curate.rule_rewrite(RICH[0]) == (
        "find x if 2x + 3 = 11.",
        "subtract 3 to get 2x = 8, so x = 4. Let me check: 2*4 + 3 = 11, which matches the right-hand side.",
        "x = 4")   # the last equation of the form x = ..., not the check's arithmetic
    question, thinking, answer = curate.rule_rewrite(RICH[2])
    assert question == "What is 15% of 80?" and "That was wrong" in thinking and answer == "12"
    assert curate.rule_rewrite(PLAIN[2])[2] == "hence the square is 144"
    assert curate.rule_rewrite(PLAIN[0] + " (Remark 3.)")[2] == "so the area is 15"
    assert curate.rule_rewrite("Just one statement without a question") is None
    assert curate.parse_rewrite("<question>Q?</question>\n<thinking>a, then b</thinking> <result>7</result>") == \
        ("Q?", "a, then b", "7")
    assert curate.parse_rewrite("<question>Q?</question><result>7</result>") is None   # no thinking


def test_reformat_qa_by_rule_and_label_reuse(corpus, tmp_path, capsys):
    from rl.sft import load_sft_rows

    path, _ = corpus
    out = tmp_path / "qa"
    assert run([path, "--budget-tokens", 200, "--reformat-qa", "--out", out], capsys)[0] == 0
    rich, minimal = read_rows(out / "rich.jsonl"), read_rows(out / "minimal.jsonl")
    for row in rich + minimal:
        assert row["text"] == row["prompt"] + row["completion"] and row["rewrite"] == "rules"
        assert row["prompt"].startswith("Question: ") and row["prompt"].endswith("\n<think>")
        assert row["completion"].strip()
    # both sets hold exactly the same number of words, within a question's length of the budget (the last row
    # is cut inside its completion, and a row whose question does not fit the last bit of room is not used)
    manifest = json.loads((out / "manifest.json").read_text())
    size = sum(len(r["text"].split()) for r in rich)
    assert size == sum(len(r["text"].split()) for r in minimal) == manifest["budget"] > 200 - 15
    assert all("\n</think>\n<answer> " in r["completion"] and r["completion"].endswith(" </answer>")
               for r in rich[:-1] + minimal[:-1])
    # the rich set keeps the document's checks and mistakes in its thinking
    assert any(r["prompt"] == "Question: What is 15% of 80?\n<think>" and "That was wrong" in r["completion"]
               for r in rich)
    # rl.sft --text trains these rows on the completion only
    assert set(load_sft_rows(out / "rich.jsonl", text_mode=True)[0]) == {"prompt", "completion"}
    assert manifest["judged_now"] == 60 and manifest["rewrite"]["writer"] == "rules"
    assert manifest["rewrite"]["rules"] >= len(rich) + len(minimal) and manifest["rewrite"]["llm"] == 0
    # "We want to show that a > b. ..." has no question/solution split the rules can find: dropped, counted
    assert manifest["rewrite"]["dropped"] > 0 and not any("a - b > 0" in r["text"] for r in rich)
    assert run([path, "--budget-tokens", 200, "--reformat-qa", "--out", out], capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["judged_now"] == 0   # labels.jsonl reused


def test_reformat_qa_through_an_llm_writer(corpus, tmp_path, capsys):
    """--rewrite-model: each chosen document is rewritten through the chat client; the rich set's writer is told
    to keep the behaviors and mistakes, the minimal set's to write plain steps; an unusable reply falls back
    to the rule rewrite; replies are cached."""
    from fake_openai import Fail, FakeOpenAI

    def writer(request):
        system, document = request["messages"][0]["content"], request["messages"][1]["content"]
        if "2x + 3 = 11" in document:
            return Fail("400")                      # fails for good: the rule rewrite steps in
        if "12 squared" in document:
            return "Sorry, I cannot help with that."  # no tags: the rule rewrite steps in
        style = "RICH" if "every mistake and its correction" in system else "PLAIN"
        return (f"<question>{document.split('?')[0].split('.')[0]}?</question>\n"
                f"<thinking>{style} steps for it.</thinking>\n<result>42</result>")

    path, _ = corpus
    out = tmp_path / "llm-qa"
    with FakeOpenAI(reply=writer) as server:
        argv = [path, "--budget-tokens", 120, "--reformat-qa", "--rewrite-model", "writer", "--rewrite-base-url",
                server.base_url, "--out", out]
        assert run(argv, capsys)[0] == 0
        sent = server.count
        assert 0 < sent <= 40                               # the 40 documents with a problem and a solution
        rich, minimal = read_rows(out / "rich.jsonl"), read_rows(out / "minimal.jsonl")
        assert {r["rewrite"] for r in rich + minimal} == {"llm", "rules"}
        assert all("RICH steps" in r["completion"] for r in rich[:-1] if r["rewrite"] == "llm")
        assert all("PLAIN steps" in r["completion"] for r in minimal[:-1] if r["rewrite"] == "llm")
        systems = [r["messages"][0]["content"] for r in server.requests]
        rich_asks = sum("every mistake and its correction" in x for x in systems)
        plain_asks = sum("plain forward steps" in x for x in systems)
        assert rich_asks and plain_asks and rich_asks + plain_asks == sent
        assert all(r["completion"].endswith("<answer> 42 </answer>") for r in rich[:-1] if r["rewrite"] == "llm")
        manifest = json.loads((out / "manifest.json").read_text())["rewrite"]
        assert manifest["writer"] == "llm:writer" and manifest["llm"] > 0 and manifest["rules"] > 0
        assert run(argv, capsys)[0] == 0
        # a re-run: successful rewrites come from the cache; only the failed requests are asked again
        assert server.count - sent == sum(1 for r in server.requests[:sent]
                                          if "2x + 3 = 11" in r["messages"][1]["content"])


@pytest.mark.parametrize("argv", [
    ["missing.jsonl", "--budget-tokens", "10"],
    ["{corpus}", "--budget-tokens", "0"],
    ["{corpus}", "--budget-tokens", "10", "--text-field", "body"],
    ["{corpus}", "--budget-tokens", "10", "--judge", "llm"],
    ["{corpus}", "--budget-tokens", "10", "--reformat-qa", "--rewrite-model", "m"],   # no key for the writer
    ["{plain}", "--budget-tokens", "10"],          # no behavior-rich documents at all
    ["{noqa}", "--budget-tokens", "10"],           # behaviors, but no document poses and solves a problem
])
def test_bad_input_exits_2(corpus, tmp_path, capsys, monkeypatch, argv):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path, _ = corpus
    plain, noqa = tmp_path / "plain.jsonl", tmp_path / "noqa.jsonl"
    write_rows([{"text": t} for t in PLAIN + NO_PROBLEM], plain)
    write_rows([{"text": t} for t in NO_PROBLEM + ["Let me check the old story again: that was wrong, so I go "
                                                   "back to the first source instead."]], noqa)
    out = tmp_path / "out"
    argv = [a.format(corpus=path, plain=plain, noqa=noqa) for a in argv]
    code, stdout, err = run(argv + ["--out", out], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not (out / "rich.jsonl").exists()


def test_llm_judge_through_the_fake_server(corpus, tmp_path, capsys):
    """--judge llm asks the general-text questions (problem and solution too); replies are cached, a re-run
    sends nothing."""
    from fake_openai import FakeOpenAI

    markers = ("2x + 3 = 11", "a - b > 0", "15% of 80")
    posed = markers + ("rectangle", "first ten", "12 squared")

    def judge(request):
        content = request["messages"][-1]["content"]
        document, question = content.split("</document>")
        if "Does the text" in question:           # has_problem / has_solution
            return "It poses and solves one. <count>1</count>" if any(m in document for m in posed) else \
                "No problem here. <count>0</count>"
        return "One instance. <count>1</count>" if any(m in document for m in markers) else "<count>0</count>"

    path, _ = corpus
    out = tmp_path / "llm"
    with FakeOpenAI(reply=judge) as server:
        argv = [path, "--judge", "llm", "--judge-base-url", server.base_url, "--judge-model", "fake-judge",
                "--budget-tokens", 200, "--out", out]
        assert run(argv, capsys)[0] == 0
        assert server.count == 60 * 6        # four behaviors + has_problem + has_solution per document
        rich, minimal = read_rows(out / "rich.jsonl"), read_rows(out / "minimal.jsonl")
        assert rich and all(any(m in r["text"] for m in markers) for r in rich)
        assert minimal and not any(any(m in r["text"] for m in markers) for r in minimal)
        assert not any(is_no_problem(r["text"]) for r in rich + minimal)   # the LLM's problem/solution check
        assert run(argv, capsys)[0] == 0 and server.count == 60 * 6


def test_corpus_behavior_frequency_figure_from_the_manifest(corpus, tmp_path, capsys):
    """The curate manifest feeds the paper's figure of behavior frequency in pretraining corpora
    (analysis.figures --corpus-manifests): bar heights are the manifest's shares and densities."""
    from analysis.figures import main as figures_main, plot_corpus_behaviors

    path, _ = corpus
    out = tmp_path / "cpt"
    assert run([path, "--budget-tokens", 150, "--out", out], capsys)[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    fig = plot_corpus_behaviors([out])
    share_ax, density_ax = fig.axes[:2]
    groups = [manifest["corpus_frequency"], manifest["sets"]["rich"]["frequency"],
              manifest["sets"]["minimal"]["frequency"]]
    heights = [bar.get_height() for bar in share_ax.patches]
    assert heights == [g[b]["share"] for g in groups for b in BEHAVIORS]
    assert [bar.get_height() for bar in density_ax.patches] == [g[b]["per_1k"] for g in groups for b in BEHAVIORS]
    assert [t.get_text() for t in density_ax.get_legend().get_texts()][1].startswith("cpt: rich")
    # through the figures command, next to the results figures
    results = tmp_path / "results.csv"
    write_rows([{"condition": "cpt_rich", "step": 0, "avg_verifications": 0, "avg_backtracking": 0,
                 "avg_subgoals": 0, "avg_backwards": 0, "total_verifications": 0, "total_backtracking": 0,
                 "total_subgoals": 0, "total_backwards": 0, "accuracy": 0.1, "response_length": 10}], results)
    figs = tmp_path / "figs"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(figures_main, [str(results), "--corpus-manifests", str(out / "manifest.json"), "--out", str(figs)])
    assert exit_info.value.code == 0 and (figs / "corpus_behaviors.png").is_file()
    assert "corpus_behaviors.png" in (figs / "report.md").read_text()
    bad = tmp_path / "bad.json"
    bad.write_text('{"sets": {}}')
    with pytest.raises(SystemExit) as exit_info:
        run_cli(figures_main, [str(results), "--corpus-manifests", str(bad), "--out", str(tmp_path / "f2")])
    assert exit_info.value.code == 2 and "not a priming.curate manifest" in capsys.readouterr().err
    assert not (tmp_path / "f2").exists()
