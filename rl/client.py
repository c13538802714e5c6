"""The one client for any OpenAI-compatible endpoint, safe to point at a paid API.

Used by the LLM judge and priming's LLM generation (chat: `complete`, cached) and by the rollout engine's
openai backend (text completions: `complete_prompt`, never cached: those are samples). It gives them all:

- bounded concurrency (a semaphore) and an optional requests-per-minute pace;
- retries with exponential backoff and jitter on 429 (honouring Retry-After), 5xx, timeouts, dropped
  connections and unreadable replies; other 4xx errors fail at once;
- an optional persistent cache (rl.cache.ResponseCache) keyed by any string the caller chooses:
  a cached key never makes a request, and each reply is stored the moment it arrives;
- a check of the server before its first request (GET /models, once; `check_server()` makes it earlier): an
  unreachable server or a refused key is one InputError up front, not a run of failed requests;
  `served_models()` also lists the models;
- `cacheable(reply)`, per request: a reply the caller cannot use (a judge reply without its count tag) is
  returned but never cached, so the next run asks again.

The API key is read from an environment variable (OPENAI_API_KEY unless told otherwise) and is never
stored, logged or written anywhere. Local servers (vLLM, the test server) get a placeholder key.
"""
from __future__ import annotations

import asyncio
import os
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from countdown.io import InputError
from rl.cache import ResponseCache

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
_LOCAL_HOSTS = ("://localhost", "://127.", "://0.0.0.0", "://[::1]")


class ChatError(Exception):
    """A request that failed for good (after retries, or with a non-retryable status)."""


@dataclass
class ClientStats:
    requests: int = 0      # HTTP attempts sent, retries included
    retries: int = 0
    cache_hits: int = 0
    failures: int = 0      # calls that ended in ChatError
    max_in_flight: int = 0


class _LoopState:
    """Objects bound to one event loop (httpx pool, semaphore, pacing lock)."""

    def __init__(self, client: "ChatClient"):
        import openai

        self.api = openai.AsyncOpenAI(base_url=client.base_url, api_key=client._api_key(), timeout=client.timeout,
                                      max_retries=0)   # retries are ours, with our backoff and accounting
        self.semaphore = asyncio.Semaphore(client.concurrency)
        self.pace_lock = asyncio.Lock()
        self.check_lock = asyncio.Lock()
        self.in_flight = 0


class ChatClient:
    def __init__(self, model: str = DEFAULT_MODEL, base_url: str | None = DEFAULT_BASE_URL,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8, rpm: float | None = None,
                 max_retries: int = 5, timeout: float = 60.0, backoff: float = 1.0, max_backoff: float = 60.0,
                 cache: ResponseCache | str | os.PathLike | None = None, seed: int = 0, **default_params: Any):
        if concurrency < 1:
            raise InputError(f"concurrency must be at least 1 (got {concurrency})")
        if not timeout > 0 or max_retries < 0 or (rpm is not None and rpm < 0):
            raise InputError(f"timeout must be > 0 s, max_retries >= 0 and rpm >= 0 (got {timeout}, {max_retries}, "
                             f"{rpm})")
        self.model = model
        self.base_url = base_url or DEFAULT_BASE_URL
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.rpm = rpm
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.cache = cache if cache is None or isinstance(cache, ResponseCache) else ResponseCache(cache)
        # None means "server default": leave it out of the request rather than send null
        self.default_params = {k: v for k, v in {"temperature": 0.0, **default_params}.items() if v is not None}
        self.stats = ClientStats()
        self._rng = random.Random(seed)
        self._states: dict[int, _LoopState] = {}
        self._next_slot = 0.0
        self._server_checked = False

    def _api_key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if any(h in self.base_url for h in _LOCAL_HOSTS):
            return "local-no-key"   # vLLM and test servers accept any key
        raise InputError(f"no API key: set the {self.api_key_env} environment variable for {self.base_url}")

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if id(loop) not in self._states:
            self._states = {id(loop): _LoopState(self)}   # a new asyncio.run: start fresh
        return self._states[id(loop)]

    async def _pace(self, state: _LoopState) -> None:
        if not self.rpm:
            return
        async with state.pace_lock:
            now = time.monotonic()
            if self._next_slot > now:
                await asyncio.sleep(self._next_slot - now)
            self._next_slot = max(now, self._next_slot) + 60.0 / self.rpm

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_backoff, retry_after)
        base = min(self.max_backoff, self.backoff * 2 ** attempt)
        return base * (0.5 + self._rng.random() / 2)   # jitter so parallel retries do not arrive together

    async def _check_server(self, state: _LoopState) -> None:
        """Before the first request: GET /models once. No answer, or 401/403, is an InputError; a server
        without a /models route (another status) is given the benefit of the doubt."""
        import openai

        async with state.check_lock:
            if self._server_checked:
                return
            try:
                await asyncio.wait_for(state.api.models.list(), min(self.timeout, 30.0))
            except (openai.APITimeoutError, asyncio.TimeoutError):
                raise InputError(f"{self.base_url}: the server did not answer GET /models within "
                                 f"{min(self.timeout, 30.0):g} s") from None
            except openai.APIConnectionError as exc:
                raise InputError(f"{self.base_url}: server unreachable ({self._short(str(exc))})") from None
            except openai.APIStatusError as exc:
                if exc.status_code in (401, 403):
                    raise InputError(f"{self.base_url}: the server refused the API key from {self.api_key_env} "
                                     f"(HTTP {exc.status_code}: {self._short(exc.message)})") from None
            self._server_checked = True

    async def _send(self, endpoint: str, request: dict[str, Any], read: Any) -> Any:
        """POST `request` to chat.completions or completions with retries; `read(reply)` gives the result
        (a ValueError from it means a garbled reply, retried). `timeout` bounds each whole attempt, however
        slowly a server sends its body."""
        import openai

        state = self._state()
        if not self._server_checked:
            await self._check_server(state)
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats.retries += 1
            await self._pace(state)
            retry_after = None
            async with state.semaphore:
                state.in_flight += 1
                self.stats.max_in_flight = max(self.stats.max_in_flight, state.in_flight)
                self.stats.requests += 1
                try:
                    api = state.api.chat.completions if endpoint == "chat" else state.api.completions
                    return read(await asyncio.wait_for(api.create(**request), self.timeout))
                except openai.APIStatusError as exc:
                    last_error = f"HTTP {exc.status_code}: {self._short(exc.message)}"
                    if exc.status_code not in (408, 409, 429) and exc.status_code < 500:
                        self.stats.failures += 1
                        raise ChatError(last_error) from None
                    retry_after = _retry_after(exc)
                except (openai.APITimeoutError, asyncio.TimeoutError):
                    last_error = f"timeout after {self.timeout:g}s"
                except openai.APIConnectionError as exc:
                    last_error = f"connection error: {self._short(str(exc))}"
                except (openai.APIResponseValidationError, ValueError, TypeError, AttributeError) as exc:
                    last_error = f"unreadable reply: {self._short(str(exc))}"   # garbage body from the server
                finally:
                    state.in_flight -= 1
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, retry_after))
        self.stats.failures += 1
        raise ChatError(f"{last_error} (gave up after {self.max_retries + 1} attempts)")

    async def complete(self, messages: Sequence[dict[str, str]], cache_key: str | None = None,
                       cacheable: Callable[[str], bool] | None = None, **params: Any) -> str:
        """The reply text for a chat request; served from the cache when `cache_key` is stored there.

        `cacheable(text)` False marks a reply the caller cannot use (e.g. a judge reply without its count
        tag): it is returned but not cached (and such a reply found in the cache is asked again), so a
        later run retries it instead of reading the same unusable answer forever."""
        usable = cacheable or (lambda text: True)
        if cache_key is not None and self.cache is not None:
            cached = self.cache.get(cache_key)
            if cached is not None and usable(cached):
                self.stats.cache_hits += 1
                return cached

        request = {"model": self.model, "messages": list(messages), **self.default_params, **params}
        content = await self._send("chat", request, _message_content)
        if cache_key is not None and self.cache is not None and usable(content):
            self.cache.put(cache_key, content, {"model": self.model})
        return content

    async def complete_prompt(self, prompt: str, **params: Any) -> Any:
        """The raw reply (choices, usage) of a text-completion request: sampling, so never cached."""
        request = {"model": self.model, "prompt": prompt, **self.default_params, **params}
        return await self._send("completions", request, lambda reply: reply)

    def check_server(self) -> None:
        """The check made before the first request, made now: for a caller with other work (judging a whole
        corpus, say) to do before its first request to this server."""
        async def check() -> None:
            try:
                await self._check_server(self._state())
            finally:
                await self.aclose()

        if not self._server_checked:
            asyncio.run(check())

    def served_models(self, timeout: float = 15.0) -> list[str]:
        """Names the server serves (GET /models), checked once up front: one short try, no retries, so an
        unreachable server or a bad key is one clear InputError before any work."""
        import openai

        try:
            with openai.OpenAI(base_url=self.base_url, api_key=self._api_key(), timeout=timeout,
                               max_retries=0) as api:
                served = [m.id for m in api.models.list().data]
            self._server_checked = True
            return served
        except openai.APIConnectionError as exc:
            raise InputError(f"{self.base_url}: server unreachable ({self._short(str(exc))})") from None
        except openai.APIStatusError as exc:
            raise InputError(f"{self.base_url}: /models answered HTTP {exc.status_code} "
                             f"({self._short(exc.message)})") from None

    async def gather(self, coroutines: Sequence[Any], progress: bool = False, desc: str = "requests") -> list[Any]:
        """Await coroutines concurrently (the semaphore bounds them), results in order, with a progress bar;
        the client's connections are closed at the end."""
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        try:
            if progress and tasks:
                from tqdm import tqdm

                with tqdm(total=len(tasks), desc=desc, unit="req") as bar:
                    for fut in asyncio.as_completed(tasks):
                        await fut
                        bar.update(1)
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        finally:
            await self.aclose()

    async def complete_many(self, jobs: Sequence[tuple], progress: bool = False, desc: str = "requests"
                            ) -> list[str | ChatError]:
        """Run (cache_key, messages) or (cache_key, messages, cacheable) jobs concurrently; each result is the
        reply or its ChatError, in order. Jobs with the same key share one request."""
        async def one(job):
            try:
                return await self.complete(job[1], cache_key=job[0], cacheable=job[2] if len(job) > 2 else None)
            except ChatError as exc:
                return exc

        first: dict[Any, int] = {}   # key -> index of the first job with it
        unique = []
        for i, job in enumerate(jobs):
            key = job[0] if job[0] is not None else ("unkeyed", i)
            if key not in first:
                first[key] = len(unique)
                unique.append(job)
        results = await self.gather([one(job) for job in unique], progress=progress, desc=desc)
        return [results[first[job[0] if job[0] is not None else ("unkeyed", i)]] for i, job in enumerate(jobs)]

    def run(self, jobs: Sequence[tuple], progress: bool = False, desc: str = "requests") -> list[str | ChatError]:
        """Synchronous complete_many (starts its own event loop)."""
        return asyncio.run(self.complete_many(jobs, progress=progress, desc=desc))

    def _short(self, text: str) -> str:
        """An error text fit to store and print: one line, bounded, with no secret in it."""
        return redact(_short(text), os.environ.get(self.api_key_env))

    async def aclose(self) -> None:
        for state in self._states.values():
            await state.api.close()
        self._states = {}


def _message_content(reply: Any) -> str:
    content = reply.choices[0].message.content if reply.choices else None
    if content is None:
        raise ValueError("reply has no message content")
    return content


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return None if value is None else max(0.0, float(value))
    except (AttributeError, ValueError, TypeError):
        return None


_SECRET = re.compile(r"(?i)(bearer\s+|api[_-]?key[\"':= ]+)[^\s\"',]+|\bsk-[A-Za-z0-9_\-]{6,}")


def redact(text: str, key: str | None = None) -> str:
    """`text` without the API key or anything shaped like a credential (servers echo keys in 401 messages)."""
    if key:
        text = text.replace(key, "[redacted]")
    return _SECRET.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
