"""A loopback HTTP server that speaks the OpenAI wire format (chat completions, text completions, models),
for tests.

It stands in for a paid API: replies are scripted by a function of the request, failures can be injected
(429 with Retry-After, 500, a hang past the client's timeout, a body trickled out slowly, a garbage body, a
body cut short, a dropped connection, a reply without choices, a 401 that echoes the caller's key), on the
completion routes or on GET /models (`models_fail`), and every request is counted. A text-completions request (`prompt`
instead of `messages`) gets `n` choices, each the scripted reply.

    with FakeOpenAI(reply=lambda req: "<count>2</count>") as server:
        client = ChatClient(model="fake", base_url=server.base_url)
        ...
        assert server.count == 4

`reply(request_json)` returns the assistant text, or a `Fail` to answer that request with a failure.
`server.fail_next("429", times=2)` makes the next two requests fail whatever `reply` says.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Fail:
    """An injected failure: kind is "429", "500", "400", "hang" (sleep `seconds` then 500), "trickle" (a valid
    200 reply sent one byte every `seconds`), "garbage" (a body that is not JSON), "truncate" (a 200 whose
    body stops halfway), "drop" (the connection closes with no reply), "no-choices" (a 200 reply with an empty
    choices list), or "echo-key" (401 quoting the Authorization header)."""

    kind: str
    retry_after: float | None = 0.0
    seconds: float = 5.0


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a timeout, a closed connection) is routine here, not a traceback on stderr."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _default_reply(request: dict[str, Any]) -> str:
    return "<count>0</count>"


class FakeOpenAI:
    def __init__(self, reply: Callable[[dict[str, Any]], str | Fail] = _default_reply, delay: float = 0.0,
                 model: str = "fake-judge", models_fail: Fail | None = None):
        self.reply = reply
        self.models_fail = models_fail   # answer GET /models with this failure (e.g. a 401 echoing the key)
        self.delay = delay          # seconds each successful request takes (to observe concurrency)
        self.model = model
        self.requests: list[dict[str, Any]] = []   # JSON bodies of chat requests, in arrival order
        self.headers: list[dict[str, str]] = []    # their HTTP headers, lower-case names
        self.in_flight = 0
        self.max_in_flight = 0
        self._queued: list[Fail] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ control
    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def fail_next(self, kind: str, times: int = 1, **opts: Any) -> None:
        with self._lock:
            self._queued.extend(Fail(kind, **opts) for _ in range(times))

    def start(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:   # keep test output clean
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models") and fake.models_fail is not None:
                    fake._fail(self, fake.models_fail, self.headers.get("authorization", ""))
                elif self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": fake.model, "object": "model",
                                                                 "created": 0, "owned_by": "fake"}]})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/completions"):
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                request = json.loads(body or b"{}")
                with fake._lock:
                    fake.requests.append(request)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    queued = fake._queued.pop(0) if fake._queued else None
                try:
                    fake._answer(self, request, queued, self.headers.get("authorization", ""))
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                self._raw(status, json.dumps(payload).encode(), headers)

            def _raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout)
                    pass

        self._handler = Handler
        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ replies
    def _answer(self, handler: Any, request: dict[str, Any], queued: Fail | None, authorization: str) -> None:
        outcome = queued if queued is not None else self.reply(request)
        if isinstance(outcome, Fail):
            self._fail(handler, outcome, authorization)
            return
        if self.delay:
            time.sleep(self.delay)
        if "prompt" in request:   # the legacy completions endpoint (base-model sampling)
            n = int(request.get("n") or 1)
            handler._json(200, {
                "id": f"cmpl-fake-{len(self.requests)}", "object": "text_completion", "created": int(time.time()),
                "model": request.get("model", self.model),
                "choices": [{"index": i, "text": outcome, "finish_reason": "stop", "logprobs": None}
                            for i in range(n)],
                "usage": {"prompt_tokens": len(request["prompt"]) // 4, "completion_tokens": n * len(outcome) // 4,
                          "total_tokens": (len(request["prompt"]) + n * len(outcome)) // 4},
            })
            return
        prompt_chars = sum(len(m.get("content") or "") for m in request.get("messages", []))
        handler._json(200, {
            "id": f"chatcmpl-fake-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": request.get("model", self.model),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": outcome}}],
            "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(outcome) // 4,
                      "total_tokens": (prompt_chars + len(outcome)) // 4},
        })

    @staticmethod
    def _fail(handler: Any, fail: Fail, authorization: str = "") -> None:
        if fail.kind == "trickle":
            body = json.dumps({"id": "chatcmpl-slow", "object": "chat.completion", "created": 0, "model": "fake",
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": "<count>1</count>"}}]}).encode()
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            try:
                for byte in body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(fail.seconds)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if fail.kind == "echo-key":
            handler._json(401, {"error": {"message": f"Incorrect API key provided: {authorization}",
                                          "type": "invalid_request_error"}})
            return
        if fail.kind == "429":
            headers = {} if fail.retry_after is None else {"retry-after": str(fail.retry_after)}
            handler._json(429, {"error": {"message": "rate limited (fake)", "type": "rate_limit_error"}}, headers)
        elif fail.kind == "500":
            handler._json(500, {"error": {"message": "server error (fake)", "type": "server_error"}})
        elif fail.kind == "hang":
            time.sleep(fail.seconds)
            handler._json(500, {"error": {"message": "too late (fake)", "type": "server_error"}})
        elif fail.kind == "garbage":
            handler._raw(200, b"{this is not json")
        elif fail.kind == "truncate":
            body = b'{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [{"index": 0, "mess'
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(2 * len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
        elif fail.kind == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
        elif fail.kind == "no-choices":
            handler._json(200, {"id": "chatcmpl-none", "object": "chat.completion", "created": 0, "model": "fake",
                                "choices": []})
        elif fail.kind == "400":
            handler._json(400, {"error": {"message": "bad request (fake)", "type": "invalid_request_error"}})
        else:
            raise ValueError(f"unknown failure kind {fail.kind!r}")
