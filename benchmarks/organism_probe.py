"""Feasibility probe for a CPU model organism (docs/analysis.md): can a ~1M-parameter model trained here from
scratch learn Countdown arithmetic in context, and does priming with generate-and-test traces then decide who
improves under RL?

This is a measurement, not the organism: it has its own short training loop and word-level vocabulary so a
premise can be tested in minutes, before the toolkit's stages (priming.build, rl.sft, rl.train, rl.evaluate)
are sized for it. It prints numbers; nothing is asserted.

Task: 3 numbers 1..12, ops + and - (a difference keeps the larger number first), an expression (a op b) op c,
targets 5..36 (`--ops +-*`: numbers 1..9, values below 100, targets 10..60); every number multiset whose CRC32
is 0 mod 4 is held out, so a held-out problem cannot be answered from memory. Accuracy is on 256 held-out
problems, one sample each at temperature 1 (±: binomial standard error).
`--style tree` writes a search depth-first (each first step once, then every way to finish it, a value outside
0..TOP-1 as "out"), which halves the × search (87 tokens on average, 186 at most) and keeps its order fixed.

The b_* primings are the paper's three conditions over one stream of budgeted searches (some give up and
answer wrong, as the paper's unfiltered traces do); `--base-tables` mixes arithmetic tables (every attempt's
value, no target, no verdicts) into the base's pretraining.

    python benchmarks/organism_probe.py search       # from scratch on fresh search traces (default 10 min)
    python benchmarks/organism_probe.py priming      # guesser base -> SFT on 1,000 traces -> GRPO, per priming
    python benchmarks/organism_probe.py priming --ops +-* --style tree --base-steps 2000 --base-tables 0.5 \
        --base-file /tmp/base.pt --sft-steps 600 --rl-steps 100 \
        --primings b_all_strategies b_negative_control b_incorrect_only   # the setting in docs/analysis.md
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import sys
import time
import zlib
from pathlib import Path

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from countdown.io import atomic_path  # noqa: E402

# The task (set_task): the operations, number range, value bound, target range, the trace style, the vocabulary
# and the problems.
OPS, MAX_NUMBER, TOP, TARGETS, STYLE = "+-", 12, 40, (5, 36), "flat"
VOCAB: list[str] = []
IDX: dict[str, int] = {}
PAD = EOS = 0
PROBLEMS: dict[bool, list[tuple[tuple[int, ...], int]]] = {}
Step = tuple  # (a, op1, b, x, op2, c, y): the attempt (a op1 b = x) op2 c = y


def held_out(numbers) -> bool:
    return zlib.crc32(" ".join(map(str, sorted(numbers))).encode()) % 4 == 0


def apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def attempts(nums: list[int]) -> list[Step]:
    """Every attempt in a fixed order: pairs in the order the prompt lists the numbers, + before - (before *).
    Flat style: only attempts whose values stay in 0..TOP-1. Tree style: all of them (a result outside is "out"),
    so the order never depends on a value the model has not computed yet."""
    out = []
    for i, j, k in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
        for op1, op2 in itertools.product(OPS, OPS):
            a, b = (nums[i], nums[j]) if op1 != "-" or nums[i] >= nums[j] else (nums[j], nums[i])
            x = apply(a, op1, b)
            y = apply(x, op2, nums[k])
            if STYLE == "tree" or (0 <= x < TOP and 0 <= y < TOP):
                out.append((a, op1, b, x, op2, nums[k], y))
    return out


def all_problems() -> dict[bool, list[tuple[tuple[int, ...], int]]]:
    problems: dict[bool, list] = {True: [], False: []}
    for ms in itertools.combinations_with_replacement(range(1, MAX_NUMBER + 1), 3):
        for t in sorted({s[-1] for s in attempts(list(ms))}):
            if TARGETS[0] <= t <= TARGETS[1] and t < TOP:
                problems[held_out(ms)].append((ms, t))
    return problems


def set_task(ops: str, style: str = "flat") -> None:
    """+- : numbers 1..12, values below 40, targets 5..36; +-* : numbers 1..9, values below 100, targets 10..60."""
    global OPS, MAX_NUMBER, TOP, TARGETS, STYLE, VOCAB, IDX, PAD, EOS, PROBLEMS
    OPS, STYLE = ops, style
    MAX_NUMBER, TOP, TARGETS = (12, 40, (5, 36)) if ops == "+-" else (9, 100, (10, 60))
    VOCAB = ["<pad>", "<eos>", "nums", "target", "<think>", "</think>", "<answer>", "</answer>", "+", "-", "=",
             ",", "no", "yes", "(", ")"] + (["out"] if style == "tree" else []) + (["*"] if "*" in ops else []) + [str(i) for i in range(TOP)]
    IDX = {t: i for i, t in enumerate(VOCAB)}
    PAD, EOS = IDX["<pad>"], IDX["<eos>"]
    PROBLEMS = all_problems()


set_task("+-")


def value(v: int) -> str:
    return str(v) if 0 <= v < TOP else "out"


def head_tokens(s: Step) -> list[str]:
    """Tree style: the first step, written once for every attempt that shares it."""
    return [str(s[0]), s[1], str(s[2]), "=", str(s[3])]


def tail_tokens(s: Step, verdict: str | None) -> list[str]:
    return [s[4], str(s[5]), "=", value(s[6])] + ([verdict] if verdict else [])


def step_tokens(s: Step, verdict: str | None) -> list[str]:
    if STYLE == "tree":
        return head_tokens(s) + tail_tokens(s, verdict)
    a, op1, b, x, op2, c, y = s
    return [str(a), op1, str(b), "=", str(x), ",", str(x), op2, str(c), "=", str(y)] + ([verdict] if verdict else [])


def answer_tokens(s: Step) -> list[str]:
    a, op1, b, _, op2, c, _ = s
    return ["</think>", "<answer>", "(", str(a), op1, str(b), ")", op2, str(c), "</answer>", "<eos>"]


# ------------------------------------------------------------------ the corpora (prompt tokens, completion tokens)
def prompt_of(nums: list[int], t: int) -> list[str]:
    return ["nums", *map(str, nums), "target", str(t), "<think>"]


def guess(ms, t, rng):
    """Behavior-poor: one attempt, right or wrong, answered as if it were right (the guesser base)."""
    nums = rng.sample(list(ms), 3)
    s = rng.choice(attempts(nums))
    return prompt_of(nums, t), step_tokens(s, None) + answer_tokens(s)


def written(order: list[Step], t: int | None = None) -> list[str]:
    """Attempts in the trace style, each compared with the target t ("no" or "yes") unless t is None.
    Tree style writes each first step once, then every way to finish it; flat style separates attempts by ","."""
    body: list[str] = []
    for i, s in enumerate(order):
        verdict = None if t is None else "yes" if s[-1] == t else "no"
        if STYLE == "tree":
            body += (head_tokens(s) if i == 0 or order[i - 1][:4] != s[:4] else []) + tail_tokens(s, verdict)
        else:
            body += ([","] if i else []) + step_tokens(s, verdict)
    return body


def table(ms, t, rng):
    """Arithmetic of attempts, no target and no verdicts: every attempt's value for a number set (pretraining
    text that teaches the computation a search needs, without the search itself)."""
    nums = rng.sample(list(ms), 3)
    return ["nums", *map(str, nums)], written(attempts(nums)) + ["<eos>"]


def straight(ms, t, rng):
    """negative_control: the right attempt at once, no verification, no backtracking."""
    nums = rng.sample(list(ms), 3)
    return at_once(nums, t, [next(s for s in attempts(nums) if s[-1] == t)])


def search(ms, t, rng, systematic=True, max_fail=5):
    """all_strategies-like generate-and-test: attempts compared with the target ("no" and on, backtracking),
    until one gives it ("yes", verification). Systematic: the fixed order; random: a shuffled order."""
    nums = rng.sample(list(ms), 3)
    order = attempts(nums)
    if not systematic:
        rng.shuffle(order)
        order = [s for s in order if s[-1] != t][:rng.randint(0, max_fail)] + [next(s for s in order if s[-1] == t)]
    return searched(nums, t, order[:next(i for i, s in enumerate(order) if s[-1] == t) + 1])


CORPORA = {"guess": guess, "straight": straight, "search": search,
           "random_search": lambda ms, t, rng: search(ms, t, rng, systematic=False)}


GIVE_UP = 0.57  # the share of budgeted searches that stop before their answer: the paper's all_strategies 0.43


def budgeted_plan(ms, t, rng):
    """A systematic search that, with probability GIVE_UP, stops after a uniformly drawn number of its misses:
    the attempts it writes. Like the paper's unfiltered Claude traces, only part of them reach the answer."""
    nums = rng.sample(list(ms), 3)
    order = attempts(nums)
    hit = next(i for i, s in enumerate(order) if s[-1] == t)
    return nums, order[:rng.randint(1, hit) if hit and rng.random() < GIVE_UP else hit + 1]


def searched(nums, t, tried):
    """A search trace: every attempt tried, compared with the target, then the last one answered (wrong when a
    budgeted search gave up): the all_strategies analog."""
    return prompt_of(nums, t), written(tried, t) + answer_tokens(tried[-1])


def at_once(nums, t, tried):
    """The answer of the same attempts written at once, with no verdicts: the negative_control analog."""
    return prompt_of(nums, t), step_tokens(tried[-1], None) + answer_tokens(tried[-1])


# name: (render, keep): the paper's three priming conditions over one stream of budgeted searches
BUDGETED = {"b_all_strategies": (searched, lambda t, tried: True),
            "b_negative_control": (at_once, lambda t, tried: True),
            "b_incorrect_only": (searched, lambda t, tried: tried[-1][-1] != t)}


def priming_corpus(name: str, n: int, rng: random.Random):
    """n priming traces; the budgeted conditions share one stream of problems and plans (same seed)."""
    if name in CORPORA:
        return [CORPORA[name](*rng.choice(PROBLEMS[False]), rng) for _ in range(n)]
    render, keep = BUDGETED[name]
    rows = []
    while len(rows) < n:
        ms, t = rng.choice(PROBLEMS[False])
        nums, tried = budgeted_plan(ms, t, rng)
        if keep(t, tried):
            rows.append(render(nums, t, tried))
    return rows


# ------------------------------------------------------------------ model, training, measurement
def new_model(seed: int) -> Qwen2ForCausalLM:
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(Qwen2Config(
        vocab_size=len(VOCAB), hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=512, max_position_embeddings=512, tie_word_embeddings=True, pad_token_id=PAD,
        eos_token_id=EOS))


def tensors(rows):
    """Right-padded ids and labels with the loss on the completion only."""
    length = max(len(p) + len(c) for p, c in rows)
    ids = torch.full((len(rows), length), PAD)
    labels = torch.full((len(rows), length), -100)
    for i, (p, c) in enumerate(rows):
        seq = [IDX[x] for x in p + c]
        ids[i, :len(seq)] = torch.tensor(seq)
        labels[i, len(p):len(seq)] = torch.tensor(seq[len(p):])
    return ids, labels


def train(model, rows_for_step, steps: int, lr: float, seconds: float = math.inf) -> int:
    """AdamW (0.9, 0.95), warm-up then cosine; stops at `steps` or after `seconds`. Returns the steps taken."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    model.train()
    started, step = time.time(), 0
    while step < steps and time.time() - started < seconds:
        progress = max(step / steps, (time.time() - started) / seconds)
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        rows = rows_for_step(step)
        # short and long rows padded apart (guesses next to tables would be padded 6x); the same token mean
        loss = 0.0
        for long in (False, True):
            part = [r for r in rows if (len(r[0]) + len(r[1]) > 48) == long]
            if part:
                ids, labels = tensors(part)
                share = sum(len(c) for _, c in part) / sum(len(c) for _, c in rows)
                loss = loss + share * model(input_ids=ids, attention_mask=(ids != PAD).long(), labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
    model.eval()
    return step


def reward(ms, t, tokens: list[str]) -> float:
    """The paper's reward on this vocabulary: 1 right, 0.1 a wrong but present answer, 0 none."""
    if "<answer>" not in tokens or "</answer>" not in tokens[tokens.index("<answer>"):]:
        return 0.0
    answer = tokens[tokens.index("<answer>") + 1:tokens.index("</answer>", tokens.index("<answer>"))]
    numbers = [int(x) for x in answer if x.isdigit()]
    if sorted(numbers) != sorted(ms) or len(answer) != 7 or answer[0] != "(" or answer[4] != ")":
        return 0.1
    a, op1, b, op2, c = int(answer[1]), answer[2], int(answer[3]), answer[5], int(answer[6])
    if op1 not in OPS or op2 not in OPS:
        return 0.1
    return 1.0 if apply(apply(a, op1, b), op2, c) == t else 0.1


def sample(model, problems, n: int, max_new: int):
    prompts = [prompt_of(list(ms), t) for ms, t in problems for _ in range(n)]
    ids = torch.tensor([[IDX[x] for x in p] for p in prompts])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=True,
                             temperature=1.0, top_k=0, pad_token_id=PAD, eos_token_id=EOS)
    return ids.shape[1], out


def accuracy(model, problems, max_new: int) -> tuple[float, float, float, float]:
    """Accuracy, its standard error, and per response the mean count of rejected attempts ("no": backtracking)
    and of accepted ones ("yes": verification) before the end of text."""
    start, out = sample(model, problems, 1, max_new)
    rows = [[VOCAB[i] for i in row] for row in out[:, start:].tolist()]
    rows = [row[:row.index("<eos>") + 1] if "<eos>" in row else row for row in rows]
    rewards = [reward(ms, t, row) for (ms, t), row in zip(problems, rows)]
    acc = sum(r == 1.0 for r in rewards) / len(rewards)
    return (acc, math.sqrt(acc * (1 - acc) / len(rewards)), sum(r.count("no") for r in rows) / len(rows),
            sum(r.count("yes") for r in rows) / len(rows))


def grpo(model, steps: int, lr: float, rng: random.Random, max_new: int, prompts: int = 16, group: int = 8) -> None:
    """Group-relative policy gradient (no KL, no clipping: one update per batch), fresh training prompts."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    for _ in range(steps):
        problems = [rng.choice(PROBLEMS[False]) for _ in range(prompts)]
        start, out = sample(model, problems, group, max_new)
        completion = out[:, start:]
        rows = completion.tolist()
        r = torch.tensor([reward(*problems[k // group], [VOCAB[i] for i in row]) for k, row in enumerate(rows)])
        r = r.view(prompts, group)
        advantage = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)
        mask = torch.zeros_like(completion, dtype=torch.float)
        for k, row in enumerate(rows):  # the tokens up to and including the first end of text
            mask[k, :row.index(EOS) + 1 if EOS in row else len(row)] = 1
        model.train()
        logits = model(input_ids=out, attention_mask=torch.ones_like(out)).logits[:, start - 1:-1]
        logp = torch.log_softmax(logits.float(), -1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)
        loss = -(advantage[:, None] * logp * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.eval()


def show(name: str, acc: tuple[float, float, float, float]) -> str:
    return f"{name} {acc[0]:.3f} ± {acc[1]:.3f} (no {acc[2]:.1f}, yes {acc[3]:.2f} per response)"


def main() -> None:
    global GIVE_UP
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("search", "priming"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=10.0, help="search mode: training time")
    parser.add_argument("--base-steps", type=int, default=600, help="priming mode: guesser pretraining steps (batch 64)")
    parser.add_argument("--base-tables", type=float, default=0.0,
                        help="priming mode: share of each base batch that is arithmetic tables (no target)")
    parser.add_argument("--traces", type=int, default=1000, help="priming mode: SFT traces per priming")
    parser.add_argument("--sft-steps", type=int, default=400, help="priming mode: SFT steps (batch 32)")
    parser.add_argument("--rl-steps", type=int, default=60, help="priming mode: GRPO steps (16 prompts x 8)")
    parser.add_argument("--rl-lr", type=float, default=1e-4)
    parser.add_argument("--primings", nargs="+", default=["search", "straight"], choices=[*CORPORA, *BUDGETED])
    parser.add_argument("--give-up", type=float, default=GIVE_UP,
                        help="b_* primings: share of searches that stop before their answer")
    parser.add_argument("--max-new", type=int, default=200, help="completion limit in tokens")
    parser.add_argument("--ops", default="+-", choices=("+-", "+-*"), help="the task's operations")
    parser.add_argument("--style", default="flat", choices=("flat", "tree"),
                        help="trace style: flat (every attempt written out in full) or tree (shared first steps)")
    parser.add_argument("--base-file",
                        help="priming mode: reuse the guesser base saved here (trained and saved there if absent)")
    args = parser.parse_args()
    for flag, share in (("--give-up", args.give_up), ("--base-tables", args.base_tables)):
        if not 0.0 <= share <= 1.0:
            parser.error(f"{flag} must be a share between 0 and 1, not {share:g}")
    set_task(args.ops, args.style)
    GIVE_UP = args.give_up
    torch.set_num_threads(2)
    held = random.Random(7).sample(PROBLEMS[True], 256)
    print(f"ops {OPS}: problems: {len(PROBLEMS[False])} training side, {len(PROBLEMS[True])} held out "
          f"(whole number multisets); evaluation on 256 held out, one sample each at T=1", flush=True)

    if args.mode == "search":  # fresh random-order search traces each step, from scratch
        model, rng = new_model(args.seed), random.Random(args.seed)
        steps = train(model, lambda _: [CORPORA["random_search"](*rng.choice(PROBLEMS[False]), rng)
                                        for _ in range(64)], 10**9, 2e-3, seconds=args.minutes * 60)
        print(f"{steps} steps in {args.minutes:g} min;", show("held-out accuracy", accuracy(model, held, args.max_new)))
        return

    base, rng = new_model(args.seed), random.Random(args.seed)
    started = time.time()
    recipe = {"ops": OPS, "style": STYLE, "seed": args.seed, "base_steps": args.base_steps}
    if args.base_tables:
        recipe["base_tables"] = args.base_tables
    if args.base_file and os.path.exists(args.base_file):
        saved = torch.load(args.base_file)
        if saved.get("recipe") != recipe:
            raise SystemExit(f"error: {args.base_file} holds a base trained for {saved.get('recipe')}, "
                             f"not {recipe}; pass another --base-file")
        base.load_state_dict(saved["state"])
        base.eval()
    else:
        n_tables = round(64 * args.base_tables)
        train(base, lambda _: [guess(*rng.choice(PROBLEMS[False]), rng) for _ in range(64 - n_tables)]
              + [table(*rng.choice(PROBLEMS[False]), rng) for _ in range(n_tables)], args.base_steps, 2e-3)
        if args.base_file:
            with atomic_path(args.base_file) as tmp:
                torch.save({"recipe": recipe, "state": base.state_dict()}, tmp)
    print(f"guesser base ({time.time() - started:.0f} s):", show("accuracy", accuracy(base, held, args.max_new)),
          flush=True)
    state = {k: v.clone() for k, v in base.state_dict().items()}
    for name in args.primings:
        model = new_model(args.seed)
        model.load_state_dict(state)
        srng = random.Random(args.seed + 1)
        fixed = priming_corpus(name, args.traces, srng)
        share = sum(reward(tuple(map(int, p[1:4])), int(p[5]), c) == 1.0 for p, c in fixed) / len(fixed)
        train(model, lambda _: srng.sample(fixed, min(32, len(fixed))), args.sft_steps, 1e-3)
        primed = accuracy(model, held, args.max_new)
        started = time.time()
        grpo(model, args.rl_steps, args.rl_lr, random.Random(args.seed + 2), args.max_new)
        after = accuracy(model, held, args.max_new)
        print(f"{name} (priming answers right: {share:.2f}): {show('after SFT', primed)}; "
              f"{show(f'after {args.rl_steps} GRPO steps', after)}; "
              f"gain {after[0] - primed[0]:+.3f} ({time.time() - started:.0f} s of GRPO)", flush=True)


if __name__ == "__main__":
    main()
