"""rl.tiny: the offline tiny-model factory loads back through the standard transformers entry points."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from countdown.io import InputError
from countdown.prompts import render_prompt
from countdown.reward import grade
from rl.tiny import EOS, MAXINT_WORDS, UNK, build_tiny_model, num_parameters, train_tokenizer

TRACE = ("numbers 3 5 57 target 22 <think>\n3 + 5 = 8 . 8 * 7 = 56 not 22 .\n</think>\n"
         "<answer> (3 + 5) * 7 </answer>")
SPACED = ("numbers 3 5 57 target 22 <think> 3 + 5 = 8 . 8 * 7 = 56 not 22 . </think> "
          "<answer> ( 3 + 5 ) * 7 </answer>")
WORD_TEXTS = ["Using the numbers [3, 5, 7], create an equation that equals 56. <think> (3 + 5) * 7 = 56",
              "numbers 57 target 22 <think> 57 - 22 = 35 , not 22 . </think> <answer> 57 - 35 </answer>" + EOS]


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


def test_words_tokenizer_one_token_per_number_and_spaced_decode():
    tok = train_tokenizer(WORD_TEXTS, 1024, kind="words")
    ids = tok(TRACE)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    for word in ("57", "56", "22", "<think>", "</answer>"):
        assert pieces.count(word) == TRACE.count(word), word   # whole, never split
    assert tok.convert_ids_to_tokens(tok("(3")["input_ids"]) == ["(", "3"]
    assert tok.unk_token_id not in ids
    # no decoder: tokens come back joined by single spaces, newlines included
    assert tok.decode(ids) == SPACED == " ".join(pieces)
    # the tags are plain added tokens: skipping special tokens drops EOS, not them
    assert tok.decode(ids + [tok.eos_token_id], skip_special_tokens=True) == SPACED
    assert grade(tok.decode(ids), [3, 5, 7], 56).correct      # the reward parses the spaced answer
    # every small integer is a token even though the texts lack it; other words are <unk>
    assert tok.convert_ids_to_tokens(tok(f"{MAXINT_WORDS - 1} 0 zebra")["input_ids"]) == ["199", "0", UNK]
    assert tok.convert_ids_to_tokens(tok(str(MAXINT_WORDS))["input_ids"]) == [UNK]


def test_words_organism_folder_reloads_with_same_ids(tmp_path):
    from transformers import AutoTokenizer

    folder = build_tiny_model(tmp_path / "m", arch="llama", size="organism", texts=WORD_TEXTS, tokenizer="words")
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok(TRACE)["input_ids"] == train_tokenizer(WORD_TEXTS, 1024, kind="words")(TRACE)["input_ids"]
    assert tok.decode(tok(TRACE)["input_ids"]) == SPACED
    assert tok.padding_side == "left" and tok.eos_token == EOS and tok.pad_token == EOS
    assert render_prompt([3, 5, 2], 16, "chat", tok).startswith("<|im_start|>system\n")
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["vocab_size"] % 64 == 0 and cfg["vocab_size"] >= len(tok) and cfg["head_dim"] == 32
    assert 800_000 < num_parameters(folder) < 1_200_000
    with pytest.raises(InputError, match="--arch llama"):   # qwen2 folders reload as byte-level BPE
        build_tiny_model(tmp_path / "q", size="organism", texts=WORD_TEXTS, tokenizer="words")
    assert not (tmp_path / "q").exists()


def test_cli_rejects_unknown_tokenizer(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "rl.tiny", "--out", str(tmp_path / "m"), "--tokenizer", "nope"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "nope" in bad.stderr and not (tmp_path / "m").exists()
