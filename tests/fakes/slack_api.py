"""A local Slack Web API on loopback, for tests and benchmarks (the way bolt-python tests itself).

Real HTTP: point `AsyncWebClient(base_url=fake.base_url)` (or SLACK_API_URL) at it. It checks the
bearer token like Slack does (`invalid_auth` otherwise), records every call with its arguments
(query string, form and JSON bodies merged), and keeps the messages it was asked to post, edit and
delete, so a test can assert what a channel finally shows. Also served:
- response_url endpoints (`fake.response_url("name")`), as used by respond();
- the upload URLs handed out by files.getUploadURLExternal (files_upload_v2);
- apps.connections.open, answering with `fake.socket_url` (see tests/fakes/slack_socket.py);
- the assistant pane: assistant.threads.setStatus/setTitle/setSuggestedPrompts (kept in
  `state.pane`), chat.startStream/appendStream/stopStream (a streamed message is a Posted that
  grows; `streamed` is True), conversations.replies (a thread's messages, with metadata);
- views.publish: the latest Home view of each person (`fake.home(user)`).
Faults on demand: `rate_limit(method, times, retry_after)` answers HTTP 429 like Slack,
`fail(method, error, times)` answers `{"ok": false, "error": ...}`. `hold(method)` parks the next
call of a Web API method (or `hold("respond/name")`, a response_url post) until the test releases
it (tests/fakes/openai_server.Gate): `await gate.arrived()` says it is being held.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.openai_server import Gate

BOT_TOKEN = "xoxb-1-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    thread_ts: str | None
    args: dict[str, Any]
    deleted: bool = False
    edits: int = 0
    streamed: bool = False
    stream_open: bool = False
    appends: int = 0


@dataclass
class Upload:
    file_id: str
    filename: str
    content: bytes = b""
    channel: str | None = None
    title: str | None = None
    initial_comment: str | None = None


@dataclass
class _Fault:
    method: str
    remaining: int
    status: int
    error: str
    retry_after: int


@dataclass
class FakeSlackState:
    team_id: str = "T0TEAM"
    team: str = "Acme"
    enterprise_id: str | None = None
    bot_user_id: str = "UMNEMO"
    bot_id: str = "BMNEMO"
    bot_token: str = BOT_TOKEN
    app_token: str = APP_TOKEN
    socket_url: str | None = None
    # Sent as X-OAuth-Scopes on every Web API answer, as Slack does (None: no header).
    scopes: str | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    messages: list[Posted] = field(default_factory=list)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uploads: dict[str, Upload] = field(default_factory=dict)
    faults: list[_Fault] = field(default_factory=list)
    delay: dict[str, float] = field(default_factory=dict)
    pane: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (method, args) in order
    home_views: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # user -> views published
    gates: list[Gate] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        # Like Slack: the Web API answers JSON, upload URLs and response_urls answer plain text.
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        content_type = "text/plain" if isinstance(body, bytes) else "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        # The client may have given up (a held call whose process "died"): nothing to answer then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.end_headers()
            self.wfile.write(data)

    def _read_args(self, raw: bytes, query: str) -> dict[str, Any]:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == "application/json" and raw:
            body = json.loads(raw)
            if isinstance(body, dict):
                args.update(body)
        elif raw and content_type == "application/x-www-form-urlencoded":
            args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        return args

    def do_GET(self) -> None:
        self.do_POST()

    def _held(self, endpoint: str) -> bool:
        """Park this request if a gate holds `endpoint`; True when the hold timed out (503 sent)."""
        fake = self.server.fake
        with fake.lock:
            gate = next((g for g in fake.state.gates if g.endpoint == endpoint and g.remaining), None)
            if gate is None:
                return False
            gate.remaining -= 1
            gate.held += 1
        if gate.park():
            return False
        self._send(503, {"ok": False, "error": "held_too_long"})
        return True

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self._held(parts.path.removeprefix("/api/").removeprefix("/")):
            return
        if parts.path.startswith("/respond/"):
            self._respond_url(parts.path.removeprefix("/respond/"), raw)
        elif parts.path.startswith("/upload/"):
            self._upload(parts.path.removeprefix("/upload/"), raw)
        elif parts.path.startswith("/api/"):
            self._api(parts.path.removeprefix("/api/"), self._read_args(raw, parts.query))
        else:
            self._send(404, {"ok": False, "error": "unknown_path"})

    # -- response_url and uploads ------------------------------------------------------------------
    def _respond_url(self, name: str, raw: bytes) -> None:
        fake = self.server.fake
        with fake.lock:
            fake.state.responses.append((name, json.loads(raw or b"{}")))
        self._send(200, b"ok")

    def _upload(self, file_id: str, raw: bytes) -> None:
        fake = self.server.fake
        with fake.lock:
            upload = fake.state.uploads.get(file_id)
            if upload is None:
                self._send(404, {"ok": False})
                return
            upload.content = raw
        self._send(200, b"OK - " + str(len(raw)).encode())

    # -- Web API -----------------------------------------------------------------------------------
    def _api(self, method: str, args: dict[str, Any]) -> None:
        fake = self.server.fake
        state = fake.state
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip() or args.pop("token", None)
        with fake.lock:
            state.calls.append(Call(method, args, token, time.monotonic()))
            state.counts[method] += 1
            delay = state.delay.get(method, 0.0)
            fault = next((f for f in state.faults if f.method == method and f.remaining > 0), None)
            if fault is not None:
                fault.remaining -= 1
        if delay:
            time.sleep(delay)
        if fault is not None:
            if fault.status == 429:
                self._send(
                    429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)}
                )
            else:
                self._send(fault.status, {"ok": False, "error": fault.error})
            return
        expected = state.app_token if method == "apps.connections.open" else state.bot_token
        if not token:
            self._send(200, {"ok": False, "error": "not_authed"})
            return
        if token != expected:
            self._send(200, {"ok": False, "error": "invalid_auth"})
            return
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            self._send(200, {"ok": False, "error": "unknown_method"})
            return
        with fake.lock:
            body = handler(args)
        self._send(200, body, {"X-OAuth-Scopes": state.scopes} if state.scopes is not None else None)

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        s = self.server.fake.state
        body: dict[str, Any] = {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": s.team,
            "user": "mnemo",
            "team_id": s.team_id,
            "user_id": s.bot_user_id,
            "bot_id": s.bot_id,
            "is_enterprise_install": False,
        }
        if s.enterprise_id:
            body["enterprise_id"] = s.enterprise_id
        return body

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        url = self.server.fake.state.socket_url
        return {"ok": True, "url": url} if url else {"ok": False, "error": "no_socket_server"}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        fake = self.server.fake
        channel, text = str(args.get("channel", "")), args.get("text")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not text and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if isinstance(text, str) and len(text) > 40_000:
            return {"ok": False, "error": "msg_too_long"}
        ts = fake.next_ts()
        thread_ts = args.get("thread_ts") or None
        fake.state.messages.append(Posted(channel, ts, str(text or ""), thread_ts, dict(args)))
        message = {"type": "message", "text": text, "user": fake.state.bot_user_id, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _find(self, args: dict[str, Any]) -> Posted | None:
        for posted in self.server.fake.state.messages:
            if posted.channel == args.get("channel") and posted.ts == args.get("ts") and not posted.deleted:
                return posted
        return None

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        posted = self._find(args)
        if posted is None:
            return {"ok": False, "error": "message_not_found"}
        posted.text = str(args.get("text", ""))
        for key in ("blocks", "metadata"):
            if key in args:
                posted.args[key] = _parsed(args[key])
        posted.edits += 1
        return {"ok": True, "channel": posted.channel, "ts": posted.ts, "text": posted.text}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        posted = self._find(args)
        if posted is None:
            return {"ok": False, "error": "message_not_found"}
        posted.deleted = True
        return {"ok": True, "channel": posted.channel, "ts": posted.ts}

    # -- the assistant pane ------------------------------------------------------------------------
    def _pane(self, method: str, args: dict[str, Any], *required: str) -> dict[str, Any]:
        if any(not args.get(name) for name in required):
            return {"ok": False, "error": "invalid_arguments"}
        self.server.fake.state.pane.append((method, dict(args)))
        return {"ok": True}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        # An empty status clears it (Slack also clears it when the app replies).
        return self._pane("assistant.threads.setStatus", args, "channel_id", "thread_ts")

    def _m_assistant_threads_setTitle(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._pane("assistant.threads.setTitle", args, "channel_id", "thread_ts", "title")

    def _m_assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        args = dict(args, prompts=_parsed(args.get("prompts")))
        return self._pane("assistant.threads.setSuggestedPrompts", args, "channel_id", "prompts")

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        fake = self.server.fake
        channel, thread_ts = str(args.get("channel", "")), args.get("thread_ts")
        if not channel or not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        ts = fake.next_ts()
        text = _chunk_text(args)
        posted = Posted(channel, ts, text, str(thread_ts), dict(args), streamed=True, stream_open=True)
        fake.state.messages.append(posted)
        return {"ok": True, "channel": channel, "ts": ts}

    def _stream(self, args: dict[str, Any]) -> Posted | dict[str, Any]:
        posted = self._find(args)
        if posted is None or not posted.streamed:
            return {"ok": False, "error": "message_not_found"}
        if not posted.stream_open:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        return posted

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        posted = self._stream(args)
        if not isinstance(posted, Posted):
            return posted
        posted.text += _chunk_text(args)
        posted.appends += 1
        return {"ok": True, "channel": posted.channel, "ts": posted.ts}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        posted = self._stream(args)
        if not isinstance(posted, Posted):
            return posted
        posted.text += _chunk_text(args)
        posted.stream_open = False
        for key in ("blocks", "metadata"):
            if args.get(key):
                posted.args[key] = _parsed(args[key])
        return {"ok": True, "channel": posted.channel, "ts": posted.ts}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        fake = self.server.fake
        channel, ts = args.get("channel"), args.get("ts")
        found = []
        for posted in fake.state.messages:
            if posted.deleted or posted.channel != channel or ts not in (posted.ts, posted.thread_ts):
                continue
            message: dict[str, Any] = {
                "type": "message",
                "user": fake.state.bot_user_id,
                "text": posted.text,
                "ts": posted.ts,
                "thread_ts": posted.thread_ts,
                "blocks": _parsed(posted.args.get("blocks")) or [],
            }
            if posted.args.get("metadata"):
                message["metadata"] = _parsed(posted.args["metadata"])
            found.append(message)
        return {"ok": True, "messages": found[: int(args.get("limit") or 100)], "has_more": False}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user, view = str(args.get("user_id", "")), _parsed(args.get("view"))
        if not user or not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks", [])) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        self.server.fake.state.home_views.setdefault(user, []).append(view)
        return {"ok": True, "view": {"id": f"V{user}", **view}}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.server.fake.state.users.get(str(args.get("user", "")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.server.fake.state.channels.get(str(args.get("channel", "")))
        return {"ok": True, "channel": channel} if channel else {"ok": False, "error": "channel_not_found"}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users", ""))
        if not users or "," in users:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": f"D{users}"}}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        fake = self.server.fake
        file_id = f"F{len(fake.state.uploads) + 1:06d}"
        fake.state.uploads[file_id] = Upload(file_id, str(args.get("filename", "")))
        return {"ok": True, "upload_url": f"{fake.root_url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        entries = json.loads(files) if isinstance(files, str) else files or []
        done = []
        for entry in entries:
            upload = self.server.fake.state.uploads.get(entry.get("id", ""))
            if upload is None:
                return {"ok": False, "error": "file_not_found"}
            upload.channel = args.get("channel_id")
            upload.title = entry.get("title")
            upload.initial_comment = args.get("initial_comment")
            done.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        return {"ok": True, "files": done}


def _parsed(value: Any) -> Any:
    """A JSON argument as sent: a string in form bodies, already decoded in JSON ones."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        return json.loads(value)
    return value


def _chunk_text(args: dict[str, Any]) -> str:
    text = str(args.get("markdown_text") or "")
    for chunk in _parsed(args.get("chunks")) or []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            text += str(chunk.get("text", ""))
    return text


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of clients at once (bench/mention_burst.py) is not refused
    fake: FakeSlack


class FakeSlack:
    """`with FakeSlack() as slack:` then use `slack.base_url` as SLACK_API_URL."""

    def __init__(self, **state: Any) -> None:
        self.state = FakeSlackState(**state)
        self.lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server: typeshed also allows bytes
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.root_url}/respond/{name}"

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- set-up ------------------------------------------------------------------------------------
    def add_user(self, user_id: str, display_name: str, *, real_name: str = "") -> None:
        with self.lock:
            self.state.users[user_id] = {
                "id": user_id,
                "team_id": self.state.team_id,
                "name": display_name.lower(),
                "real_name": real_name or display_name,
                "profile": {"display_name": display_name, "real_name": real_name or display_name},
            }

    def add_channel(self, channel_id: str, *, private: bool = False, name: str = "") -> None:
        with self.lock:
            self.state.channels[channel_id] = {
                "id": channel_id,
                "name": name or channel_id.lower(),
                "is_channel": not private,
                "is_group": private,
                "is_private": private,
                "is_im": False,
                "is_mpim": False,
            }

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 0) -> None:
        with self.lock:
            self.state.faults.append(_Fault(method, times, 429, "ratelimited", retry_after))

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        with self.lock:
            self.state.faults.append(_Fault(method, times, status, error, 0))

    def heal(self) -> None:
        with self.lock:
            self.state.faults.clear()

    def hold(self, endpoint: str, *, times: int = 1, timeout: float = 30.0) -> Gate:
        """Park the next `times` calls of a Web API method ("users.info") or posts to a
        response_url ("respond/<name>") until `release()`."""
        gate = Gate(endpoint, times=times, timeout=timeout)
        with self.lock:
            self.state.gates.append(gate)
        return gate

    # -- inspection --------------------------------------------------------------------------------
    def count(self, method: str) -> int:
        with self.lock:
            return self.state.counts[method]

    def calls(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.state.calls if call.method == method]

    def posted(self, channel: str | None = None) -> list[Posted]:
        """Messages as the channel shows them now (edits applied, deleted ones left out)."""
        with self.lock:
            return [
                m for m in self.state.messages if not m.deleted and (channel is None or m.channel == channel)
            ]

    def pane_calls(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [args for name, args in self.state.pane if name == method]

    def home(self, user: str) -> dict[str, Any] | None:
        """The Home view last published to `user` (None: never)."""
        with self.lock:
            views = self.state.home_views.get(user)
            return views[-1] if views else None

    def home_count(self, user: str) -> int:
        with self.lock:
            return len(self.state.home_views.get(user, []))

    def responses(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [body for key, body in self.state.responses if name is None or key == name]

    async def wait_for(self, condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; calls: {dict(self.state.counts)}")
            await asyncio.sleep(0.01)
