"""Local tiny-model factory: a randomly initialised Qwen2/Llama model plus a Countdown tokenizer, built offline.

Tests and the CPU demo never download weights; they build one of these folders instead. The folder is a normal
Hugging Face model directory (config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
generation_config.json), so `AutoTokenizer`, `AutoModelForCausalLM` and `vllm.LLM` all load it offline.

Choices that matter downstream:
- the default tokenizer splits digits one per token (like Qwen), so a model can in principle learn arithmetic
  digit by digit;
- it is byte-level BPE, so any text encodes without unknown tokens (priming corpora, judge text);
- head_dim 32: the smallest head size vLLM's CPU attention backend accepts;
- `padding_side="left"` is stored in tokenizer_config.json, because batched generation needs it and
  transformers 5 reloads the tokenizer through the Qwen2/Llama tokenizer class, which would otherwise default
  to right padding.

With `tokenizer="words"` (CLI `--tokenizer words`) the tokenizer is word-level instead: one token per
whitespace/punctuation-separated word, the Countdown tags as single tokens and every integer 0..199 one token
whatever the corpus held, unseen words -> `<unk>`, decode joins tokens with single spaces ("(3 + 5)" comes back
as "( 3 + 5 )", which the reward still parses). It is for the CPU "model organism" (`--size organism`, ~1M
parameters trained from scratch): such a model learns arithmetic far faster when each number is one token than
when it must first learn to compose digits. It needs `arch="llama"`: transformers 5 reloads any qwen2 folder's
tokenizer as Qwen2's byte-level BPE rebuilt from the vocabulary, which would lose the word-level pipeline.

CLI: python -m rl.tiny --out models/tiny-qwen2 --arch qwen2 --size tiny
     python -m rl.tiny --out models/organism --arch llama --size organism --tokenizer words
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from countdown.cli import CommandConfig, option, run_cli
from countdown.io import InputError
from countdown.prompts import (ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, chat_messages, completion_text,
                               render_prompt)

EOS = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (EOS, IM_START, IM_END)
UNK = "<unk>"                                               # words tokenizer only: byte-level BPE needs none
TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)  # words tokenizer: one token each, kept on decode
MAXINT_WORDS = 200                                          # words tokenizer: 0..199 are always tokens
TOKENIZERS = ("bpe", "words")

# A ChatML-like template (the same shape Qwen uses), so the "chat" prompt template works on tiny models.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# size -> (vocab size, hidden, layers, attention heads, kv heads, MLP width). head_dim = hidden / heads = 32.
SIZES: dict[str, tuple[int, int, int, int, int, int]] = {
    "tiny": (512, 64, 2, 2, 1, 128),      # ~0.1M parameters, < 1 MB: unit tests
    "small": (1024, 256, 4, 8, 4, 768),  # ~3M parameters: the CPU demo (learns the answer format quickly)
    "organism": (1024, 128, 4, 4, 2, 512),  # ~1M parameters: from-scratch model organism (with --tokenizer words)
}
ARCHS = ("qwen2", "llama")
MAX_POSITIONS = 2048


def countdown_texts(num: int = 400, seed: int = 0) -> list[str]:
    """Countdown-like training text for the tokenizer: prompts (both templates) and reasoning/answer snippets."""
    rng = random.Random(seed)
    ops = ["+", "-", "*", "/"]
    texts = []
    for i in range(num):
        numbers = [rng.randint(1, 100) for _ in range(rng.choice((3, 4)))]
        target = rng.randint(1, 100)
        texts.append(render_prompt(numbers, target, "base"))
        a, b = numbers[0], numbers[1]
        op = rng.choice(ops)
        expr = f" {op} ".join(str(n) for n in numbers)
        thought = (f"Let me try {a} {op} {b} first. That gives something, but is it {target}? Not yet, so let's "
                   f"try a different sequence. Working backwards from {target}: {target} / 2 = {target / 2:g}, "
                   f"so the goal is to first reach a factor of {target}. Checking: this equals {target}, which is "
                   "the target.")
        texts.append(completion_text(thought, f"({expr})") + EOS)
        if i % 8 == 0:
            msgs = chat_messages(numbers, target)
            texts.append("".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in msgs)
                         + f"{IM_START}assistant\n")
    return texts


def train_tokenizer(texts: Iterable[str], vocab_size: int, kind: str = "bpe"):
    """A Countdown tokenizer wrapped as a transformers fast tokenizer: byte-level BPE (digits split
    individually) or, for kind "words", word-level (see the module docstring)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if kind not in TOKENIZERS:
        raise InputError(f"unknown tokenizer {kind!r} (choose from {', '.join(TOKENIZERS)})")
    if kind == "words":
        tok = _word_tokenizer(list(texts), vocab_size)
    else:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(list(texts), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, pad_token=EOS,
        additional_special_tokens=[IM_START, IM_END], padding_side="left",
        model_max_length=MAX_POSITIONS, clean_up_tokenization_spaces=False,
        **({"unk_token": UNK} if kind == "words" else {}),
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def _word_pre_tokenizer():
    from tokenizers import pre_tokenizers

    # "(3" -> "(", "3"; "22." -> "22", "."; digits stay together, so "57" is one word.
    return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                    pre_tokenizers.Punctuation(behavior="isolated")])


def _word_tokenizer(texts: list[str], vocab_size: int):
    """WordLevel tokenizer: special tokens, tags, the trained words, then any missing integer < MAXINT_WORDS."""
    from tokenizers import AddedToken, Tokenizer, models, trainers

    reserved = [UNK, *SPECIAL_TOKENS, *TAGS]
    counter = Tokenizer(models.WordLevel(unk_token=UNK))
    counter.pre_tokenizer = _word_pre_tokenizer()
    # Registered so they are counted as whole words, not split into "<", "think", ">" by Punctuation.
    counter.add_special_tokens(reserved)
    counter.train_from_iterator(texts, trainer=trainers.WordLevelTrainer(
        vocab_size=vocab_size, min_frequency=1, special_tokens=[UNK], show_progress=False))
    # The final vocabulary is built afresh: tokens added before training get ids that collide with the
    # trained ones (".", say, decoding as "</think>"), so the reserved tokens take the first ids explicitly.
    trained = sorted(counter.get_vocab(with_added_tokens=False).items(), key=lambda item: item[1])
    words = reserved + [w for w, _ in trained if w not in reserved]
    known = set(words)
    words += [str(n) for n in range(MAXINT_WORDS) if str(n) not in known]
    tok = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token=UNK))
    tok.pre_tokenizer = _word_pre_tokenizer()
    tok.add_special_tokens([UNK, *SPECIAL_TOKENS])
    # Not special: decode must keep the tags, even with skip_special_tokens=True.
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAGS])
    # No decoder: tokenizers then joins tokens with single spaces, which is what a word-level model needs.
    return tok


def make_config(arch: str, size: str, vocab_size: int, eos_id: int):
    from transformers import LlamaConfig, Qwen2Config

    if arch not in ARCHS:
        raise InputError(f"unknown arch {arch!r} (choose from {', '.join(ARCHS)})")
    if size not in SIZES:
        raise InputError(f"unknown size {size!r} (choose from {', '.join(SIZES)})")
    _, hidden, layers, heads, kv_heads, mlp = SIZES[size]
    common = dict(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=mlp, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=hidden // heads,
        max_position_embeddings=MAX_POSITIONS, tie_word_embeddings=True,
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
        rms_norm_eps=1e-6, rope_theta=10000.0, dtype="float32",
    )
    if arch == "qwen2":
        return Qwen2Config(**common, use_sliding_window=False)
    return LlamaConfig(**common)


def build_tiny_model(out_dir: str | Path, arch: str = "qwen2", size: str = "tiny", seed: int = 0,
                     texts: Sequence[str] | None = None, tokenizer: str = "bpe") -> Path:
    """Build tokenizer + randomly initialised model into `out_dir` (created) and return it."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    if arch not in ARCHS:
        raise InputError(f"unknown arch {arch!r} (choose from {', '.join(ARCHS)})")
    if size not in SIZES:
        raise InputError(f"unknown size {size!r} (choose from {', '.join(SIZES)})")
    if tokenizer not in TOKENIZERS:
        raise InputError(f"unknown tokenizer {tokenizer!r} (choose from {', '.join(TOKENIZERS)})")
    if tokenizer == "words" and arch == "qwen2":
        # AutoTokenizer forces Qwen2Tokenizer on qwen2 folders (whatever tokenizer_config.json says), and it
        # rebuilds a digit-splitting byte-level BPE from the vocabulary: the saved word-level model is ignored.
        raise InputError("the words tokenizer needs --arch llama (transformers reloads a qwen2 folder's tokenizer "
                         "as Qwen2's byte-level BPE, losing the word-level vocabulary)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = list(texts) if texts is not None else countdown_texts(seed=seed)
    tok = train_tokenizer(corpus, SIZES[size][0], kind=tokenizer)
    eos_id = tok.convert_tokens_to_ids(EOS)
    # Round the embedding table up to a multiple of 64 (what GPU kernels like); extra rows are never produced
    # by the tokenizer but are valid ids, as in real checkpoints.
    vocab = -(-len(tok) // 64) * 64
    config = make_config(arch, size, vocab, eos_id)

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
                                               do_sample=True, temperature=1.0, top_p=1.0)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    _pin_tokenizer_config(out)
    return out


def _pin_tokenizer_config(out: Path) -> None:
    """Make sure reloads keep left padding, eos/pad and the chat template, whatever class transformers picks."""
    path = out / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg.update(padding_side="left", eos_token=EOS, pad_token=EOS, chat_template=CHAT_TEMPLATE,
               model_max_length=MAX_POSITIONS, clean_up_tokenization_spaces=False)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def num_parameters(model_dir: str | Path) -> int:
    """Parameter count read from the safetensors header (no model load)."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(Path(model_dir) / "model.safetensors"), framework="pt") as fh:
        for name in fh.keys():
            count = 1
            for dim in fh.get_slice(name).get_shape():
                count *= dim
            total += count
    return total


def resize(folder: str | Path, dims: Sequence[int], seed: int = 0) -> None:
    """Re-initialise the model in `folder` with other dimensions (hidden, layers, heads, kv heads, MLP width),
    keeping its tokenizer and generation config: a bigger model from the same local recipe."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    hidden, layers, heads, kv_heads, mlp = dims
    config = AutoConfig.from_pretrained(folder)
    config.update({"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
                   "num_key_value_heads": kv_heads, "intermediate_size": mlp, "head_dim": hidden // heads})
    generation = GenerationConfig.from_pretrained(folder)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = generation
    model.save_pretrained(folder, safe_serialization=True)


@dataclass(kw_only=True)
class TinyConfig(CommandConfig):
    """Build a randomly initialised tiny Qwen2/Llama model with a Countdown tokenizer (offline)."""

    epilog = """examples:
  python -m rl.tiny --out models/tiny-qwen2
  python -m rl.tiny --out models/small-llama --arch llama --size small --seed 1
  python -m rl.tiny --out models/organism --arch llama --size organism --tokenizer words"""

    out: str = option(help="output model folder", output="dir")
    arch: str = option("qwen2", "model architecture", choices=ARCHS)
    size: str = option("tiny", "model size", choices=tuple(SIZES))
    seed: int = option(0, "seed of the tokenizer corpus and the weights")
    tokenizer: str = option("bpe", "bpe: byte-level BPE, digits split one per token; words: one token per "
                            "whitespace/punctuation-separated word, every integer 0..199 one token (for the CPU "
                            "model organism: --size organism, needs --arch llama)", choices=TOKENIZERS)
    texts: str | None = option(None, "optional text file (one document per line) to train the tokenizer on")


def main(argv: list[str] | None = None) -> int:
    config = TinyConfig.parse(argv)
    texts = None
    if config.texts:
        path = Path(config.texts)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not texts:
            raise InputError(f"{path}: no text lines")
    out = build_tiny_model(config.out, arch=config.arch, size=config.size, seed=config.seed, texts=texts,
                           tokenizer=config.tokenizer)
    size_mb = (out / "model.safetensors").stat().st_size / 2**20
    print(f"wrote {out} ({config.arch}/{config.size}/{config.tokenizer}, {num_parameters(out):,} parameters, "
          f"{size_mb:.2f} MB)")
    return 0


if __name__ == "__main__":
    run_cli(main)
