"""A local OpenAI-compatible server on loopback, for tests and benchmarks.

Speaks real HTTP (the openai SDK uses its own HTTP stack, so only a real server intercepts it):
- POST /v1/chat/completions: plain or streamed (SSE). Default answer echoes the whole prompt, so a
  test can assert what the model was shown. JSON-mode requests (mem0's memory extraction) get
  `{"memory": [{"id", "text"}]}` with one fact per user line of the "New Messages" section.
- POST /v1/embeddings: deterministic hashed bag-of-words vectors (similar text, similar vectors), or
  whatever `FakeOpenAI(embed=...)` computes (a real embedding model, for bench/memory_quality.py).
- GET /v1/models.
- JSON-mode requests that ask which older memories new ones replace (core.memory.update_judge: an
  "## Older memories" and a "## New memories" section) are the "judge" endpoint: answered by
  `judge_with(...)` (a fixed text, or a function of the parsed `JudgeRequest`, e.g.
  `replacing({(new_text, old_text), ...})`), by default `{"replaced": {}}` (replaces nothing).
Faults on demand: `fail(status, times, endpoint, retry_after)`, `answer_raw(body, content_type)` (a
2xx that is not what the SDK expects), `delay_*` seconds, `invalid_json` extraction.
Orderings on demand: `hold(endpoint)` parks the next request of that kind until the test calls
`release()` on the returned gate, and `await gate.arrived()` says the request is being held, so a
test can put something (an erasure, a pause) exactly in the middle of a reply or a memory write.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_WORD = re.compile(r"[a-z0-9]+")


def embed_text(text: str, dims: int) -> list[float]:
    vec = [0.0] * dims
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dims
        sign = 1.0 if digest[4] & 1 else -1.0
        vec[index] += sign
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def extract_facts(prompt: str) -> list[str]:
    """What the fake 'remembers' from mem0's extraction prompt: each user line of New Messages."""
    matches = re.findall(r"## New Messages\n(.*?)(?:\n## |\Z)", prompt, re.S)
    section = matches[-1] if matches else prompt
    facts = []
    for raw_line in section.splitlines():
        line = raw_line.strip()
        if line.startswith("user:"):
            fact = line.removeprefix("user:").strip()
            if fact:
                facts.append(fact)
    return facts


@dataclass(frozen=True)
class JudgedMemory:
    """A new memory as the judge was shown it, with its candidates: (number, text) of older ones."""

    label: str
    text: str
    candidates: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class JudgeRequest:
    """The update judge's question, parsed back from its prompt."""

    older: dict[int, str]
    new: tuple[JudgedMemory, ...]


_OLDER_LINE = re.compile(r"^\[(\d+)\] \([^)]*\) (.*)$")
_NEW_LINE = re.compile(r"^\[(N\d+)\] \([^)]*\) (.*)$")


def judge_request(prompt: str) -> JudgeRequest | None:
    """The judge's question in a prompt, or None when the prompt is not one."""
    if "## Older memories\n" not in prompt or "\n## New memories\n" not in prompt:
        return None
    older_part, new_part = prompt.split("## Older memories\n", 1)[1].split("\n## New memories\n", 1)
    older = {int(m[1]): m[2] for line in older_part.splitlines() if (m := _OLDER_LINE.match(line))}
    new: list[JudgedMemory] = []
    for line in new_part.splitlines():
        if match := _NEW_LINE.match(line):
            new.append(JudgedMemory(match[1], match[2], ()))
        elif line.startswith("candidates:") and new:
            numbers = [int(n) for n in re.findall(r"\d+", line)]
            last = new[-1]
            new[-1] = JudgedMemory(last.label, last.text, tuple((n, older.get(n, "")) for n in numbers))
    return JudgeRequest(older, tuple(new))


def replacing(pairs: set[tuple[str, str]]) -> Callable[[JudgeRequest], str]:
    """A judge that knows the answer: a new memory replaces a candidate when (new text, older text)
    is one of `pairs`."""

    def judge(request: JudgeRequest) -> str:
        replaced = {m.label: [n for n, old in m.candidates if (m.text, old) in pairs] for m in request.new}
        return json.dumps({"replaced": {label: ns for label, ns in replaced.items() if ns}})

    return judge


NOTHING_REPLACED = json.dumps({"replaced": {}})

# A pluggable embedder: every input text of one request at once (so a real model can batch them),
# returning one vector per text.
Embedder = Callable[[list[str]], list[list[float]]]


@dataclass
class Fault:
    status: int
    remaining: int
    endpoint: str  # "chat", "embeddings", "extract", "judge" or "any"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # None: an OpenAI-style JSON error
    content_type: str = "application/json"


class Gate:
    """Holds the next `times` requests of one endpoint until released (or until `timeout`, so a
    failing test cannot hang the fake forever; a timed-out hold answers 503)."""

    def __init__(self, endpoint: str, *, times: int, timeout: float) -> None:
        self.endpoint = endpoint
        self.remaining = times
        self.timeout = timeout
        self.held = 0
        self._arrived = threading.Event()
        self._released = threading.Event()

    def park(self) -> bool:
        """Called by the server's thread for a held request: True once released in time."""
        self._arrived.set()
        return self._released.wait(self.timeout)

    async def arrived(self, timeout: float = 10.0) -> None:
        """Return once a request is being held; AssertionError if none arrives within `timeout`."""
        if not await asyncio.to_thread(self._arrived.wait, timeout):
            raise AssertionError(f"no {self.endpoint} request arrived within {timeout}s")

    def release(self) -> None:
        self._released.set()


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    at: float
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


@dataclass
class FakeOpenAIState:
    reply: Callable[[list[dict[str, Any]]], str] | None = None
    # The update judge's answer (None: NOTHING_REPLACED).
    judge: Callable[[JudgeRequest], str] | None = None
    embed: Embedder | None = None
    delay_chat: float = 0.0
    delay_embeddings: float = 0.0
    delay_extract: float = 0.0
    invalid_json: bool = False
    default_dims: int = 64
    stream_chunk_chars: int = 12
    faults: list[Fault] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    chat_in_flight: int = 0
    max_chat_in_flight: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # (prompt_tokens, completion_tokens) every chat and extraction answer reports; None: about
    # one token per 4 characters of the prompt and of the answer, as a real server roughly does.
    usage: tuple[int, int] | None = None
    # False: answers carry no `usage` at all (servers that do not report it).
    report_usage: bool = True


def usage_numbers(state: FakeOpenAIState, body: dict[str, Any], content: str) -> dict[str, int]:
    if state.usage is not None:
        prompt, completion = state.usage
    else:
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
        completion = len(content) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def echo_reply(messages: list[dict[str, Any]]) -> str:
    return "ECHO:\n" + "\n".join(f"[{m.get('role')}] {m.get('content')}" for m in messages)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small header/body writes would otherwise wait ~40 ms for delayed ACKs

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _fault(self, endpoint: str) -> bool:
        state = self.server.state
        with self.server.lock:
            for fault in state.faults:
                if fault.remaining > 0 and fault.endpoint in (endpoint, "any"):
                    fault.remaining -= 1
                    break
            else:
                return False
        status = fault.status
        data = fault.body
        if data is None:
            data = json.dumps({"error": {"message": f"injected {status}", "type": "fake"}}).encode()
        self.send_response(status)
        for key, value in fault.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", fault.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return True

    def _hold(self, endpoint: str) -> bool:
        """Park this request if a gate holds its endpoint; False when the hold timed out (503 sent)."""
        with self.server.lock:
            gate = next((g for g in self.server.state.gates if g.endpoint == endpoint and g.remaining), None)
            if gate is None:
                return True
            gate.remaining -= 1
            gate.held += 1
        if gate.park():
            return True
        self._json(503, {"error": {"message": "held too long by the test", "type": "fake"}})
        return False

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        state = self.server.state
        with self.server.lock:
            state.requests.append(
                RecordedRequest(
                    self.path, body, time.monotonic(), {k.lower(): v for k, v in self.headers.items()}
                )
            )
        if self.path.endswith("/embeddings"):
            self._embeddings(body)
        elif self.path.endswith("/chat/completions"):
            if (body.get("response_format") or {}).get("type") == "json_object":
                question = judge_request(_last_user_content(body))
                if question is None:
                    self._extract(body)
                else:
                    self._judge(body, question)
            else:
                self._chat(body)
        else:
            self._json(404, {"error": {"message": "not found"}})

    def _embeddings(self, body: dict[str, Any]) -> None:
        state = self.server.state
        with self.server.lock:
            state.counts["embeddings"] += 1
        if self._fault("embeddings") or not self._hold("embeddings"):
            return
        if state.delay_embeddings:
            time.sleep(state.delay_embeddings)
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        asked = body.get("dimensions")
        if state.embed is None:
            vectors = [embed_text(str(t), int(asked or state.default_dims)) for t in texts]
        else:
            try:
                vectors = state.embed([str(t) for t in texts])
            except Exception as exc:  # the embedder's failure is the server's 500, not a dropped socket
                self._json(500, {"error": {"message": f"embedder failed: {exc}", "type": "fake"}})
                return
            given = {len(v) for v in vectors}
            if asked is not None and given != {int(asked)}:
                # A real server refuses dimensions its model cannot give; say so instead of
                # handing mem0 vectors that its store would reject later with a vaguer error.
                message = f"the embedder gives {sorted(given)} dimensions, {asked} were asked"
                self._json(400, {"error": {"message": message, "type": "fake"}})
                return
        self._json(
            200,
            {
                "object": "list",
                "model": body.get("model", "fake-embed"),
                "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            },
        )

    def _completion(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        state = self.server.state
        answer: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        }
        if state.report_usage:
            answer["usage"] = usage_numbers(state, body, content)
        return answer

    def _extract(self, body: dict[str, Any]) -> None:
        state = self.server.state
        with self.server.lock:
            state.counts["extract"] += 1
        if self._fault("extract") or not self._hold("extract"):
            return
        if state.delay_extract:
            time.sleep(state.delay_extract)
        # mem0's user message carries the conversation; its system prompt only describes the format.
        user_parts = [str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"]
        prompt = user_parts[-1] if user_parts else ""
        if state.invalid_json:
            content = "this is not json {"
        else:
            facts = extract_facts(prompt)
            content = json.dumps({"memory": [{"id": str(i), "text": f} for i, f in enumerate(facts)]})
        self._json(200, self._completion(body, content))

    def _judge(self, body: dict[str, Any], question: JudgeRequest) -> None:
        state = self.server.state
        with self.server.lock:
            state.counts["judge"] += 1
        if self._fault("judge") or not self._hold("judge"):
            return
        content = NOTHING_REPLACED if state.judge is None else state.judge(question)
        self._json(200, self._completion(body, content))

    def _chat(self, body: dict[str, Any]) -> None:
        state = self.server.state
        with self.server.lock:
            state.counts["chat"] += 1
        if self._fault("chat") or not self._hold("chat"):
            return
        with self.server.lock:
            state.chat_in_flight += 1
            state.max_chat_in_flight = max(state.max_chat_in_flight, state.chat_in_flight)
        try:
            if state.delay_chat:
                time.sleep(state.delay_chat)
        finally:
            with self.server.lock:
                state.chat_in_flight -= 1
        messages = body.get("messages", [])
        content = (state.reply or echo_reply)(messages)
        if not body.get("stream"):
            self._json(200, self._completion(body, content))
            return
        # Chunked, and the connection stays open for the next request, as OpenAI's API does (a
        # stream delimited by closing the connection made every streamed reply in the benches pay a
        # new TCP connection, in the client and here).
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        size = max(1, state.stream_chunk_chars)
        for start in range(0, len(content), size):
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "fake-model"),
                "choices": [
                    {"index": 0, "delta": {"content": content[start : start + size]}, "finish_reason": None}
                ],
            }
            self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
        if state.report_usage and (body.get("stream_options") or {}).get("include_usage"):
            last = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "fake-model"),
                "choices": [],
                "usage": usage_numbers(state, body, content),
            }
            self._chunk(f"data: {json.dumps(last)}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")  # the last chunk: the response ends, the connection stays
        self.wfile.flush()


def _last_user_content(body: dict[str, Any]) -> str:
    user_parts = [str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"]
    return user_parts[-1] if user_parts else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of clients at once (bench/mention_burst.py) is not refused
    state: FakeOpenAIState
    lock: threading.Lock


class FakeOpenAI:
    """`with FakeOpenAI() as fake:` then point OPENAI_BASE_URL at `fake.base_url`.

    `embed`, if given, computes /v1/embeddings instead of the hashed bag of words (it may be called
    from several server threads at once)."""

    def __init__(self, *, embed: Embedder | None = None) -> None:
        self.state = FakeOpenAIState(embed=embed)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- controls ------------------------------------------------------------------------------
    def fail(
        self, status: int, *, times: int = 1, endpoint: str = "any", retry_after: str | None = None
    ) -> None:
        """Answer the next `times` requests to `endpoint` with `status` (429s say Retry-After: 0
        unless `retry_after` is given)."""
        if retry_after is None and status == 429:
            retry_after = "0"
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._server.lock:
            self.state.faults.append(Fault(status, times, endpoint, headers))

    def answer_raw(
        self, body: bytes, *, content_type: str = "application/json", times: int = 1, endpoint: str = "any"
    ) -> None:
        """Answer the next `times` requests to `endpoint` with 200 and exactly `body` (a truncated
        JSON, a proxy's HTML page, a broken event stream)."""
        with self._server.lock:
            self.state.faults.append(Fault(200, times, endpoint, body=body, content_type=content_type))

    def hold(self, endpoint: str, *, times: int = 1, timeout: float = 30.0) -> Gate:
        """Park the next `times` requests to `endpoint` ("chat", "extract", "judge" or "embeddings")."""
        gate = Gate(endpoint, times=times, timeout=timeout)
        with self._server.lock:
            self.state.gates.append(gate)
        return gate

    def judge_with(self, answer: str | Callable[[JudgeRequest], str] | None) -> None:
        """How the update judge answers from now on: always `answer` (a text), or what `answer`
        returns for the parsed question; None: NOTHING_REPLACED."""
        with self._server.lock:
            self.state.judge = (lambda _question: answer) if isinstance(answer, str) else answer

    def judge_requests(self) -> list[JudgeRequest]:
        """Every update judge question so far, oldest first."""
        with self._server.lock:
            prompts = [
                _last_user_content(r.body)
                for r in self.state.requests
                if r.path.endswith("/chat/completions")
                and (r.body.get("response_format") or {}).get("type") == "json_object"
            ]
        return [q for p in prompts if (q := judge_request(p)) is not None]

    def heal(self) -> None:
        with self._server.lock:
            self.state.faults.clear()
            self.state.invalid_json = False

    def chat_prompts(self) -> list[list[dict[str, Any]]]:
        """Prompts of every chat (not extraction) request so far, oldest first."""
        with self._server.lock:
            return [
                r.body.get("messages", [])
                for r in self.state.requests
                if r.path.endswith("/chat/completions")
                and (r.body.get("response_format") or {}).get("type") != "json_object"
            ]

    def count(self, kind: str) -> int:
        with self._server.lock:
            return self.state.counts[kind]
