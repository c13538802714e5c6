"""The CPU model organism at small scale: the committed base checkpoint (rl/checkpoints/organism-base) is the
Llama-like start the demo needs (answers in format, solves a few held-out problems by guessing, shows no
behavior), priming it with the organism's searches puts verification and backtracking into its answers, and
the organism preset runs through the toolkit's stages from it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from behaviors.rules import count_behaviors
from countdown.generate import generate_splits
from rl.backends import Sampling
from rl.rollout import sample

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "rl" / "checkpoints" / "organism-base"


def held_out(num: int, seed: int = 0):
    return generate_splits({"test": num}, seed=seed, preset="organism")["test"]


def behaviors_per_response(traces) -> dict[str, float]:
    counts = [count_behaviors(t.completion, t.numbers, t.target) for t in traces]
    return {b: sum(c[b] for c in counts) / len(counts) for b in ("verification", "backtracking")}


def test_committed_base_is_small_and_records_its_recipe():
    weights = BASE / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size <= 5 * 2 ** 20
    recipe = json.loads((BASE / "recipe.json").read_text(encoding="utf-8"))
    assert recipe["command"].startswith("python -m analysis.reproduce --preset organism --pretrain")
    assert recipe["corpus"] == {"rows": 128000, "tables": 0.5} and recipe["seed"] == 0
    assert recipe["seconds"] > 0 and recipe["sft"]["model"]


def test_committed_base_guesses_in_format_without_behaviors():
    """256 held-out problems, one sample each at temperature 1: nearly every answer parses, a few are right
    (the base was measured at about 0.04), and almost no response verifies or backs off."""
    traces = sample(held_out(256), str(BASE), backend="hf", template="compact",
                    sampling=Sampling(temperature=1.0, max_tokens=60, seed=0), batch_size=128)
    answered = sum(t.reward > 0 for t in traces) / len(traces)
    solved = sum(t.correct for t in traces)
    assert answered >= 0.9, f"only {answered:.0%} of the base's answers parse"
    assert 1 <= solved <= 64, f"the base solved {solved} of 256 held-out problems by guessing"
    # a rare guess writes two first steps, which the rule judge reads as backing off
    assert all(count <= 0.02 for count in behaviors_per_response(traces).values())


def test_search_priming_puts_the_behaviors_into_the_base(tmp_path):
    """Ten SFT epochs on 96 all_strategies searches (priming.build, rl.sft) and the primed model's own
    answers to held-out problems check candidates against the target and back off."""
    from priming.build import BuildConfig, build, set_path
    from rl.sft import SFTConfig, run_sft

    test = held_out(32)
    test_file = tmp_path / "test.jsonl"
    test_file.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in test), encoding="utf-8")
    build(BuildConfig(condition=["all_strategies"], num=96, style="search", problem_preset="organism",
                      template="compact", exclude=[str(test_file)], out=str(tmp_path / "priming"), quiet=True))
    run_sft(SFTConfig.from_preset("tiny", model=str(BASE), data=str(set_path(tmp_path / "priming", "all_strategies")),
                                  out=str(tmp_path / "sft"), epochs=10, lr=2e-3, batch_size=16, micro_batch_size=16,
                                  max_length=400, eval_loss=False, device="cpu"))
    traces = sample(test, str(tmp_path / "sft"), backend="hf", template="compact",
                    sampling=Sampling(temperature=1.0, max_tokens=300, seed=0), batch_size=32)
    counts = behaviors_per_response(traces)
    assert counts["verification"] >= 0.3 and counts["backtracking"] >= 1.0, counts  # the base: 0.00 and 0.004


@pytest.mark.slow
def test_organism_preset_runs_from_the_committed_base(tmp_path):
    """The organism preset, cut to seconds, through every stage from the committed checkpoint: the report
    states the organism's targets (met or not)."""
    from analysis import reproduce

    out = tmp_path / "run"
    reproduce.main(["--preset", "organism", "--out", str(out), "--n-test", "16", "--n-priming", "40",
                    "--conditions", "negative_control", "all_strategies", "--sft", "epochs=1",
                    "--train", "steps=2", "save_steps=2", "prompts_per_step=4", "num_generations=2",
                    "max_completion_length=40", "--evaluate", "max_tokens=40"])
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "the ready base model `rl/checkpoints/organism-base`" in report
    assert "The model organism's targets" in report and "`negative_control` gains at most half" in report
    assert (out / "base" / "model" / "model.safetensors").stat().st_size == (BASE / "model.safetensors").stat().st_size


@pytest.mark.slow
def test_organism_pair_preset_continues_pretraining_at_one_token_budget(tmp_path):
    """The organism-pair preset, cut to seconds: no_priming starts GRPO from the committed base itself,
    cpt_rich and cpt_minimal from the base trained further on searches or on guesses holding the same completion
    tokens; the report states the pair's targets and the continued-pretraining figure is drawn."""
    from analysis import reproduce

    out = tmp_path / "run"
    reproduce.main(["--preset", "organism-pair", "--out", str(out), "--n-test", "16",
                    "--cpt", "cpt_rich={tokens: 3000, tables: 0, searches: 1}",
                    "cpt_minimal={tokens: 3000, tables: 0, searches: 0}",
                    "--train", "steps=2", "save_steps=2", "prompts_per_step=4", "num_generations=2",
                    "max_completion_length=40", "--evaluate", "max_tokens=40"])
    info = {c: json.loads((out / "stages" / f"cpt__{c}.json").read_text())["info"] for c in ("cpt_rich", "cpt_minimal")}
    assert info["cpt_rich"]["search_rows"] == info["cpt_rich"]["rows"] and "guess_rows" not in info["cpt_rich"]
    assert info["cpt_minimal"]["guess_rows"] == info["cpt_minimal"]["rows"] > 3 * info["cpt_rich"]["rows"]
    assert all(3000 <= i["completion_tokens"] < 3300 for i in info.values())   # one budget, spent by the last row
    assert not (out / "priming" / "manifest.json").exists() and not (out / "sft").exists()
    evaluated = json.loads((out / "eval" / "no_priming" / "settings.json").read_text())
    assert Path(evaluated["base_model"]) == out / "base" / "model"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "continued-pretrained on 2 corpora (`cpt_minimal`, `cpt_rich`), and, as `no_priming`, the base" in report
    assert "`cpt_minimal` gains at most half as much" in report and "`cpt_rich` keeps verification" in report
    assert (out / "figures" / "continued_pretraining.png").is_file()
