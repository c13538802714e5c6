"""rl.tiny: the offline tiny-model factory loads back through the standard transformers entry points."""
from __future__ import annotations

import json
import subprocess
import sys

import torch

from countdown.prompts import render_prompt
from rl.tiny import EOS, build_tiny_model, num_parameters


def test_tokenizer_reload_keeps_padding_eos_and_chat_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.padding_side == "left"
    assert tok.eos_token == EOS and tok.pad_token == EOS and tok.pad_token_id == tok.eos_token_id
    # digits are one token each, whatever the number
    pieces = tok.convert_ids_to_tokens(tok("target 1234")["input_ids"])
    assert pieces[-4:] == ["1", "2", "3", "4"]
    text = render_prompt([3, 5, 2], 16) + " 3 + 5 = 8 </think> <answer> (3 + 5) * 2 </answer>"
    assert tok.decode(tok(text)["input_ids"]) == text
    chat = render_prompt([3, 5, 2], 16, "chat", tok)
    assert chat.startswith("<|im_start|>system\n") and "<|im_start|>assistant\n" in chat
    batch = tok(["a", "a much longer line 42"], padding=True)
    assert batch["attention_mask"][0][0] == 0 and batch["attention_mask"][0][-1] == 1  # left padded


def test_model_loads_small_and_generates(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert (tiny_model_dir / "model.safetensors").stat().st_size < 2 * 2**20
    cfg = json.loads((tiny_model_dir / "config.json").read_text())
    assert cfg["model_type"] == "qwen2" and cfg["head_dim"] == 32
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.dtype == torch.float32
    assert model.config.vocab_size >= len(tok)
    enc = tok([render_prompt([3, 5, 2], 16)] * 2, return_tensors="pt", padding=True)
    out = model.generate(**enc, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape == (2, enc["input_ids"].shape[1] + 5)


def test_same_seed_same_weights_llama(tmp_path):
    from safetensors.torch import load_file

    a = build_tiny_model(tmp_path / "a", arch="llama", seed=3)
    b = build_tiny_model(tmp_path / "b", arch="llama", seed=3)
    c = build_tiny_model(tmp_path / "c", arch="llama", seed=4)
    wa, wb, wc = (load_file(p / "model.safetensors") for p in (a, b, c))
    assert json.loads((a / "config.json").read_text())["model_type"] == "llama"
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert 50_000 < num_parameters(a) < 500_000


def test_cli_builds_and_rejects_bad_texts_file(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "rl.tiny", "--out", str(tmp_path / "m"), "--seed", "1"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "parameters" in ok.stdout and (tmp_path / "m" / "tokenizer.json").is_file()
    bad = subprocess.run([sys.executable, "-m", "rl.tiny", "--out", str(tmp_path / "n"),
                          "--texts", str(tmp_path / "missing.txt")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "missing.txt" in bad.stderr
    assert not (tmp_path / "n").exists()
