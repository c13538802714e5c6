"""Rollout engine throughput against its baselines, same model and prompts, measured in this one process.

- raw:    vllm.LLM.generate on the rendered prompts (the floor the engine adds to)
- engine: rl.rollout.generate_traces with the vLLM backend on the same LLM instance
          (rendering, per-problem seeds, scoring every completion, building Trace records)
- hf:     the engine with the transformers backend (batched generate, left padding)

The vLLM runs use identical per-prompt seeds, so raw and engine generate exactly the same tokens and the ratio
of their tokens/s is the engine's overhead (goal: <= 10%). Timings alternate raw/engine and keep the best of
--repeats to damp noise from a shared machine.

    python benchmarks/bench_rollout.py --size small --problems 64 --n 4 --max-tokens 128
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: build a tiny model with rl.tiny)")
    parser.add_argument("--size", default="small", choices=("tiny", "small"))
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--hf-problems", type=int, default=16, help="HF is slow; time it on fewer problems")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-hf", action="store_true")
    args = parser.parse_args()

    from vllm import LLM, SamplingParams

    from rl.backends import HFBackend, Sampling, VLLMBackend
    from countdown.generate import generate_problems
    from countdown.prompts import render_prompt
    from rl.rollout import generate_traces, problem_seed
    from rl.tiny import build_tiny_model, num_parameters

    tmp = tempfile.TemporaryDirectory()
    model = args.model or str(build_tiny_model(Path(tmp.name) / "model", size=args.size, seed=args.seed))
    problems = generate_problems(args.problems, seed=args.seed, preset="tinyzero", split="test")
    sampling = Sampling(n=args.n, max_tokens=args.max_tokens, seed=args.seed)
    print(f"model {model} ({num_parameters(model):,} parameters), {len(problems)} problems x n={args.n}, "
          f"max_tokens={args.max_tokens}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

    t0 = time.perf_counter()
    llm = LLM(model=model, dtype="float32", gpu_memory_utilization=0.3, enforce_eager=True, seed=args.seed,
              enable_chunked_prefill=False)  # as rl.backends does on CPU (see the note there)
    print(f"vLLM start-up: {time.perf_counter() - t0:.1f} s")
    engine = VLLMBackend.from_llm(llm, model)
    prompts = [render_prompt(p.numbers, p.target) for p in problems]
    params = [SamplingParams(n=args.n, temperature=1.0, top_p=1.0, max_tokens=args.max_tokens,
                             seed=problem_seed(args.seed, p.id), include_stop_str_in_output=True)
              for p in problems]

    def raw() -> tuple[int, float]:
        start = time.perf_counter()
        outs = llm.generate(prompts, params, use_tqdm=True)  # vLLM's default; the engine shows the same bar
        return sum(len(c.token_ids) for o in outs for c in o.outputs), time.perf_counter() - start

    post = []  # engine time outside backend.generate: rendering, seeds, scoring, Trace records

    def ours() -> tuple[int, float]:
        start = time.perf_counter()
        traces, stats = generate_traces(problems, engine, sampling)
        seconds = time.perf_counter() - start
        post.append(seconds - stats.seconds)
        return sum(t.completion_tokens for t in traces), seconds

    raw()  # warm-up (first batch pays for allocation)
    times: dict[str, list[float]] = {"raw": [], "engine": []}
    tokens: dict[str, int] = {}
    for rep in range(args.repeats):
        order = (("raw", raw), ("engine", ours))
        for name, fn in order if rep % 2 == 0 else order[::-1]:  # alternate who goes first
            tokens[name], seconds = fn()
            times[name].append(seconds)
    assert tokens["raw"] == tokens["engine"], "raw and engine should generate the same tokens"
    rate = {k: tokens[k] / min(v) for k, v in times.items()}
    for name in ("raw", "engine"):
        best = min(times[name])
        print(f"{name:>7}: {tokens[name]} tokens in {best:.3f} s (best of {args.repeats}) = {rate[name]:,.0f} tokens/s, "
              f"{len(problems) / best:.1f} prompts/s; runs: {', '.join(f'{t:.2f}' for t in times[name])} s")
    overhead = rate["raw"] / rate["engine"] - 1
    median_overhead = statistics.median(times["engine"]) / statistics.median(times["raw"]) - 1
    spread = max(times["raw"]) / min(times["raw"]) - 1
    print(f"engine overhead vs raw vllm.LLM.generate: best {overhead:+.1%}, median {median_overhead:+.1%} "
          f"(goal <= 10%); raw run-to-run spread on this machine: {spread:.0%}")
    print(f"engine code outside generate (render, seeds, scoring, records): {min(post) * 1000:.1f} ms per run "
          f"= {min(post) / min(times['raw']):.2%} of the raw time")
    engine.close()

    if not args.skip_hf:
        subset = problems[: args.hf_problems]
        with HFBackend(model, batch_size=64, threads=1) as hf:
            generate_traces(subset[:1], hf, Sampling(n=1, max_tokens=4))  # warm-up
            start = time.perf_counter()
            traces, _ = generate_traces(subset, hf, sampling)
            seconds = time.perf_counter() - start
        tokens = sum(t.completion_tokens for t in traces)
        rate["hf"] = tokens / seconds
        print(f"     hf: {tokens} tokens in {seconds:.3f} s = {rate['hf']:,.0f} tokens/s, "
              f"{len(subset) / seconds:.1f} prompts/s (1 torch thread, batch 64 sequences)")
        print(f"engine (vLLM) vs engine (HF): {rate['engine'] / rate['hf']:.1f}x tokens/s")
    tmp.cleanup()


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    main()
