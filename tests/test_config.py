"""countdown.cli: typed configs, YAML presets, config files and flag overrides, for every command."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from countdown.cli import CONFIG_DIR, preset_names
from countdown.io import InputError
from rl.evaluate import EvaluateConfig
from rl.sft import SFTConfig
from rl.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_a_preset_file_sets_values_and_flags_override_it():
    tiny = yaml.safe_load((CONFIG_DIR / "train" / "tiny.yaml").read_text())
    config = TrainConfig.parse(["--model", "m", "--out", "o", "--preset", "tiny"])
    assert config.preset == "tiny"
    assert (config.steps, config.max_completion_length, config.temperature) == (
        tiny["steps"], tiny["max_completion_length"], tiny["temperature"])
    assert config.lr == pytest.approx(float(tiny["lr"]))
    overridden = TrainConfig.parse(["--model", "m", "--out", "o", "--preset", "tiny", "--steps", "9", "--lr", "0.5"])
    assert (overridden.steps, overridden.lr, overridden.temperature) == (9, 0.5, tiny["temperature"])
    # a flag given before --preset still wins over the file
    assert TrainConfig.parse(["--steps", "9", "--preset", "tiny", "--model", "m", "--out", "o"]).steps == 9


def test_the_default_preset_is_the_dataclass_defaults():
    """paper.yaml is the documented copy of the defaults; the two must never drift apart."""
    for config_type, preset, required in ((SFTConfig, "paper", {"model": "m", "data": "d", "out": "o"}),
                                          (TrainConfig, "paper", {"model": "m", "out": "o"}),
                                          (EvaluateConfig, "paper", {"run_dir": "r", "condition": "c",
                                                                     "problems": "p"})):
        from_file = yaml.safe_load((CONFIG_DIR / config_type.command / f"{preset}.yaml").read_text())
        plain = config_type(**required)
        for key, value in from_file.items():
            assert getattr(plain, key) == pytest.approx(value) if isinstance(value, float) \
                else getattr(plain, key) == value, (config_type.__name__, key)
    from analysis.reproduce import ReproduceConfig

    tiny = ReproduceConfig.from_preset("tiny", out="o")
    assert dataclasses.replace(ReproduceConfig(out="o"), preset="tiny").settings() == tiny.settings()


def test_a_config_file_sits_between_the_preset_and_the_flags(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("steps: 12\nsave-steps: 4\nlr: 1e-4\n")   # dashes allowed, YAML's 1e-4 string coerced
    config = TrainConfig.parse(["--model", "m", "--out", "o", "--preset", "tiny", "--config", str(path),
                                "--save-steps", "6"])
    assert (config.steps, config.save_steps, config.lr) == (12, 6, 1e-4)
    assert config.max_completion_length == 48   # still the tiny preset's
    library = TrainConfig.from_preset("tiny", config_file=path, model="m", out="o", steps=3)
    assert (library.steps, library.save_steps, library.lr) == (3, 4, 1e-4)


def test_required_fields_can_come_from_a_config_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(f"model: {tmp_path}/m\nout: {tmp_path}/o\n")
    config = TrainConfig.parse(["--config", str(path)])
    assert config.model == f"{tmp_path}/m" and config.out == f"{tmp_path}/o"


@pytest.mark.parametrize("text, message", [
    ("stepz: 3\n", "unknown option"),
    ("- a\n- b\n", "expected a mapping"),
    ("steps: [\n", "not valid YAML"),
    ("lr: fast\n", "must be a number"),
])
def test_bad_config_files_are_input_errors(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        TrainConfig.parse(["--model", "m", "--out", "o", "--config", str(path)])


def test_unknown_preset_and_invalid_values_are_input_errors():
    with pytest.raises(InputError, match="unknown train preset 'nope'.*paper, tiny"):
        TrainConfig.parse(["--model", "m", "--out", "o", "--preset", "nope"])
    with pytest.raises(InputError, match="--num-generations must be >= 2"):
        TrainConfig.parse(["--model", "m", "--out", "o", "--num-generations", "1"])
    with pytest.raises(InputError, match="--num-generations must be >= 2"):   # library use validates too
        TrainConfig.from_preset("tiny", model="m", out="o", num_generations=1)


def test_list_options_repeat_and_replace_the_preset_list():
    from analysis.reproduce import ReproduceConfig

    assert ReproduceConfig.parse(["--out", "o", "--preset", "smoke"]).conditions == ["negative_control",
                                                                                     "all_strategies"]
    config = ReproduceConfig.parse(["--out", "o", "--preset", "smoke", "--conditions", "empty_cot",
                                    "--conditions", "only_backtracking", "all_strategies"])
    assert config.conditions == ["empty_cot", "only_backtracking", "all_strategies"]


def test_every_boolean_has_an_on_and_an_off_flag():
    assert SFTConfig.parse(["--model", "m", "--data", "d", "--out", "o"]).eval_loss is True
    assert SFTConfig.parse(["--model", "m", "--data", "d", "--out", "o", "--no-eval-loss"]).eval_loss is False
    tiny = TrainConfig.parse(["--model", "m", "--out", "o", "--preset", "tiny"])
    assert tiny.resumable is True   # from the preset
    assert TrainConfig.parse(["--model", "m", "--out", "o", "--preset", "tiny", "--no-resumable"]).resumable is False


def test_shared_option_groups_are_declared_once():
    from analysis.reproduce import ReproduceConfig
    from behaviors.classify import ClassifyConfig
    from behaviors.judges import JudgeOptions
    from priming.curate import CurateConfig
    from rl.learnability import LearnabilityConfig
    from rl.backends import Sampling
    from rl.rollout import BackendOptions, RolloutConfig

    for config_type in (ClassifyConfig, CurateConfig, EvaluateConfig, ReproduceConfig):
        assert issubclass(config_type, JudgeOptions)
    for config_type in (RolloutConfig, EvaluateConfig, LearnabilityConfig):
        assert issubclass(config_type, BackendOptions)
    assert issubclass(RolloutConfig, Sampling) and issubclass(EvaluateConfig, Sampling)
    config = EvaluateConfig.parse(["run", "--condition", "c", "--problems", "p", "--num-samples", "3",
                                   "--judge-sample", "7", "--judge-model", "m"])
    assert (config.n, config.judge_sample, config.judge_model) == (3, 7, "m")
    assert config.sampling().n == 3


@pytest.mark.parametrize("command", ["generate", "sft", "train", "evaluate", "reproduce"])
def test_every_preset_file_loads_and_validates(command):
    from countdown.cli import CommandConfig

    types = {c.command: c for c in _all_configs() if c.command}
    config_type: type[CommandConfig] = types[command]
    required = {f.name: "x" for f in dataclasses.fields(config_type)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    if "num" in required:
        required["num"] = 1
    if command == "generate":
        required["out"] = "x.jsonl"
    for name in preset_names(command):
        config = config_type.from_preset(name, **required)
        assert config.preset == name


def _all_configs():
    from analysis.reproduce import ReproduceConfig
    from countdown.generate import GenerateConfig

    return [GenerateConfig, SFTConfig, TrainConfig, EvaluateConfig, ReproduceConfig]


def test_a_preset_extends_another_and_states_only_what_it_changes(tmp_path, monkeypatch):
    from analysis.reproduce import ReproduceConfig
    from countdown import cli

    pair, organism = (ReproduceConfig.from_preset(name, out="x").to_dict() for name in ("organism-pair", "organism"))
    changed = {k for k in pair if pair[k] != organism[k]}
    assert changed == {"preset", "conditions", "cpt", "cpt_sft"} and pair["base_model"] == organism["base_model"]

    (tmp_path / "reproduce").mkdir()
    (tmp_path / "reproduce" / "a.yaml").write_text("extends: b\nseed: 3\n")
    (tmp_path / "reproduce" / "b.yaml").write_text("extends: a\n")
    (tmp_path / "reproduce" / "c.yaml").write_text("extends: [a]\n")
    monkeypatch.setattr(cli, "CONFIG_DIR", tmp_path)
    with pytest.raises(InputError, match="extends itself"):
        ReproduceConfig.from_preset("a", out="x")
    with pytest.raises(InputError, match="must name a preset"):
        ReproduceConfig.from_preset("c", out="x")


def test_help_shows_the_presets_values():
    proc = subprocess.run([sys.executable, "-m", "rl.train", "--preset", "tiny", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "--steps STEPS optimizer steps (one per batch of prompts) (default: 6)" in text
    assert "--config FILE.yaml" in text and "configs/train/" in text
    assert "--resumable store optimizer state" in text and "(on by default)" in text


def test_a_bad_preset_on_the_command_line_is_one_error_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rl.sft", "--preset", "nope", "--model", "m", "--data", "d",
                           "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: unknown sft preset 'nope'")
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_evaluate_records_the_judge_sample_it_uses():
    """EVAL_DIR's resume record holds the sample size judged: the llm default and an explicit 200 are one
    setting, another size is not."""
    def record(**judge):
        return EvaluateConfig(run_dir="r", condition="c", problems="p", judge="llm", **judge).settings()

    assert record() == record(judge_sample=200) != record(judge_sample=50)
    assert record()["judge_sample"] == 200
