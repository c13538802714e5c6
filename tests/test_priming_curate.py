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

RICH = [
    "Problem: find x if 2x + 3 = 11. Solution: subtract 3 to get 2x = 8, so x = 4. Let me check: 2*4 + 3 = 11, "
    "which matches the right-hand side.",
    "We want to show that a > b. It suffices to show a - b > 0. Expanding did not work, so let us try a "
    "different approach instead and factor the difference.",
    "What is 15% of 80? Let me verify my first guess of 10 by computing 0.15 * 80 = 12. That was wrong, "
    "so I go back and redo it: the answer is 12.",
]
PLAIN = [
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
    rows = [{"id": f"doc{i}", "text": rng.choice(RICH if i % 3 == 0 else PLAIN) + f" (Remark {i}.)"}
            for i in range(60)]
    path = tmp_path / "corpus.jsonl"
    write_rows(rows, path)
    folder = tmp_path / "pages"
    folder.mkdir()
    for i, text in enumerate(RICH + PLAIN):
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
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["budget"] == 250 and manifest["documents"] == 66
    assert manifest["sets"]["rich"]["frequency"]["any_behavior_share"] == 1.0
    assert manifest["sets"]["minimal"]["frequency"]["any_behavior_share"] == 0.0
    assert 0 < manifest["corpus_frequency"]["any_behavior_share"] < 1
    assert read_rows(out / "rich.jsonl") == rich


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


def test_reformat_qa_and_label_reuse(corpus, tmp_path, capsys):
    path, _ = corpus
    out = tmp_path / "qa"
    assert run([path, "--budget-tokens", 500, "--reformat-qa", "--out", out], capsys)[0] == 0
    texts = [r["text"] for r in read_rows(out / "rich.jsonl")]
    assert any(t.startswith("Question: What is 15% of 80?\nAnswer: Let me verify") for t in texts)
    assert curate.reformat_qa(RICH[0]).startswith("Question: find x if 2x + 3 = 11.\nAnswer: subtract 3")
    assert json.loads((out / "manifest.json").read_text())["judged_now"] == 60
    assert run([path, "--budget-tokens", 500, "--reformat-qa", "--out", out], capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["judged_now"] == 0   # labels.jsonl reused
    assert curate.reformat_qa("Just one statement without a question") is None


@pytest.mark.parametrize("argv", [
    ["missing.jsonl", "--budget-tokens", "10"],
    ["{corpus}", "--budget-tokens", "0"],
    ["{corpus}", "--budget-tokens", "10", "--text-field", "body"],
    ["{corpus}", "--budget-tokens", "10", "--judge", "llm"],
    ["{plain}", "--budget-tokens", "10"],          # no behavior-rich documents at all
])
def test_bad_input_exits_2(corpus, tmp_path, capsys, argv):
    path, _ = corpus
    plain = tmp_path / "plain.jsonl"
    write_rows([{"text": t} for t in PLAIN], plain)
    out = tmp_path / "out"
    argv = [a.format(corpus=path, plain=plain) for a in argv]
    code, stdout, err = run(argv + ["--out", out], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not (out / "rich.jsonl").exists()


def test_llm_judge_through_the_fake_server(corpus, tmp_path, capsys):
    """--judge llm asks the general-text questions; replies are cached, a re-run sends nothing."""
    from fake_openai import FakeOpenAI

    markers = ("2x + 3 = 11", "a - b > 0", "15% of 80")

    def judge(request):
        document = request["messages"][-1]["content"].split("</document>")[0]
        return "<count>1</count>" if any(m in document for m in markers) else "<count>0</count>"

    path, _ = corpus
    out = tmp_path / "llm"
    with FakeOpenAI(reply=judge) as server:
        argv = [path, "--judge", "llm", "--judge-base-url", server.base_url, "--judge-model", "fake-judge",
                "--budget-tokens", 200, "--out", out]
        assert run(argv, capsys)[0] == 0
        assert server.count == 60 * 6        # four behaviors + has_problem + has_solution per document
        rich = read_rows(out / "rich.jsonl")
        assert rich and all(any(m in r["text"] for m in markers) for r in rich)
        assert not any(any(m in r["text"] for m in markers) for r in read_rows(out / "minimal.jsonl"))
        assert run(argv, capsys)[0] == 0 and server.count == 60 * 6
