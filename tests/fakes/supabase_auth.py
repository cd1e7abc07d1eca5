"""A Supabase Auth (GoTrue) stand-in on loopback, speaking the HTTP API supabase-py's auth client
calls, under `<url>/auth/v1` like a Supabase project:

- POST /signup `{"email", "password"}`: a session, or (with `require_confirmation`) the user alone,
  and for an address that already has an account the same answer with a made-up user (what
  GoTrue does so that sign-up cannot tell who has an account);
- POST /token?grant_type=password and ?grant_type=refresh_token (refresh tokens are rotated: a
  used one is refused, like GoTrue with no reuse interval);
- POST /logout?scope=local|global|others (Bearer: the user's access token);
- GET /user (Bearer).
Access tokens are HS256 JWTs signed with the given secret, issuer `<url>/auth/v1`, so Mnemo's own
verifier accepts them. Errors have GoTrue's shape and codes (API version 2024-01-01), messages
included: some quote the email address, as GoTrue's do, so tests can see Mnemo never forwards them.
Every request needs the anon key as `apikey`, or gets the gateway's 401 (no `code`).

Controls: `fail(status, ...)` answers the next requests with an error (or a body that is not
JSON, or a redirect), `hold(endpoint)` parks the next request until the test releases it
(tests.fakes.openai_server.Gate), `confirm(email)` confirms an address. `calls` counts requests
per endpoint; `bodies` keeps what was posted, in memory only, so a test can check where a
password went.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.fakes.openai_server import Gate

AUTH_PREFIX = "/auth/v1"
API_VERSION = "2024-01-01"
ACCESS_TOKEN_SECONDS = 3600
MAX_PASSWORD_BYTES = 72
# GoTrue's check (github.com/badoux/checkmail): ASCII only, one @, a dotted host name.
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)


@dataclass
class FakeUser:
    id: str
    email: str
    password_digest: str
    confirmed: bool
    created_at: str


@dataclass
class Failure:
    status: int
    remaining: int
    endpoint: str  # "signup", "password", "refresh_token", "logout", "user" or "any"
    body: bytes | None
    location: str | None  # a redirect's target


@dataclass
class FakeAuthState:
    require_confirmation: bool = False
    min_password_length: int = 6
    users: dict[str, FakeUser] = field(default_factory=dict)  # lowercased email -> user
    sessions: dict[str, str] = field(default_factory=dict)  # session id -> user id
    refresh_tokens: dict[str, tuple[str, bool]] = field(default_factory=dict)  # -> (session, used)
    failures: list[Failure] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)


class _Refusal(Exception):
    def __init__(self, status: int, code: str | None, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = (
            {"code": code, "message": message, **extra} if code else {"message": message}
        )


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        endpoint = self._endpoint(method, parts.path, query)
        fake = self.server.fake
        with fake.lock:
            fake.state.calls[endpoint] += 1
            if raw:
                fake.state.bodies.append(raw)
        if endpoint == "other":
            self._send(404, {"message": "no Route matched with those values"})
            return
        if not self._park(endpoint):
            self._send(503, {"message": "held too long"})
            return
        failure = self._failure(endpoint)
        if failure is not None:
            self._send_raw(
                failure.status, failure.body or json.dumps({"message": "upstream failed"}).encode()
            )
            return
        apikey = self.headers.get("apikey")
        if apikey != fake.anon_key:
            self._send(401, {"message": "Invalid API key" if apikey else "No API key found in request"})
            return
        try:
            body = json.loads(raw) if raw else {}
            status, answer = self._answer(endpoint, body if isinstance(body, dict) else {}, query)
        except _Refusal as refusal:
            status, answer = refusal.status, refusal.body
        except ValueError:
            status, answer = 400, {"code": "bad_json", "message": "Could not parse request body as JSON"}
        self._send(status, answer)

    @staticmethod
    def _endpoint(method: str, path: str, query: dict[str, str]) -> str:
        route = path.removeprefix(AUTH_PREFIX) if path.startswith(AUTH_PREFIX + "/") else None
        if method == "POST" and route == "/signup":
            return "signup"
        if (
            method == "POST"
            and route == "/token"
            and query.get("grant_type") in ("password", "refresh_token")
        ):
            return query["grant_type"]
        if method == "POST" and route == "/logout":
            return "logout"
        if method == "GET" and route == "/user":
            return "user"
        return "other"

    def _park(self, endpoint: str) -> bool:
        fake = self.server.fake
        with fake.lock:
            gate = next((g for g in fake.state.gates if g.endpoint == endpoint and g.remaining), None)
            if gate is None:
                return True
            gate.remaining -= 1
            gate.held += 1
        return gate.park()

    def _failure(self, endpoint: str) -> Failure | None:
        fake = self.server.fake
        with fake.lock:
            for failure in fake.state.failures:
                if failure.remaining > 0 and failure.endpoint in (endpoint, "any"):
                    failure.remaining -= 1
                    return failure
        return None

    def _answer(self, endpoint: str, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
        fake = self.server.fake
        with fake.lock:
            if endpoint == "signup":
                return fake.sign_up(body)
            if endpoint == "password":
                return 200, fake.password_grant(body)
            if endpoint == "refresh_token":
                return 200, fake.refresh_grant(body)
            claims = fake.verify(self.headers.get("Authorization", ""))
            if endpoint == "logout":
                fake.log_out(claims, query.get("scope", "global"))
                return 204, None
            return 200, fake.user_json(fake.user_by_id(str(claims.get("sub"))))

    def _send(self, status: int, body: Any) -> None:
        self._send_raw(status, b"" if body is None else json.dumps(body).encode())

    def _send_raw(self, status: int, data: bytes, *, location: str | None = None) -> None:
        self.send_response(status)
        self.send_header("X-Supabase-Api-Version", API_VERSION)
        if location is not None:
            self.send_header("Location", location)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGoTrue


class FakeGoTrue:
    """`with FakeGoTrue(jwt_secret, anon_key=...) as auth:` then SUPABASE_URL=auth.url."""

    def __init__(self, jwt_secret: str, *, anon_key: str, require_confirmation: bool = False) -> None:
        self.jwt_secret = jwt_secret
        self.anon_key = anon_key
        self.state = FakeAuthState(require_confirmation=require_confirmation)
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._running = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def issuer(self) -> str:
        return self.url + AUTH_PREFIX

    def __enter__(self) -> FakeGoTrue:
        self._thread.start()
        self._running = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut the server down: from now on nothing listens at `url` (Supabase Auth is down)."""
        if self._running:
            self._running = False
            self._server.shutdown()
            self._server.server_close()

    # -- controls ------------------------------------------------------------------------------
    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        endpoint: str = "any",
        body: bytes | None = None,
        location: str | None = None,
    ) -> None:
        """Answer the next `times` requests to `endpoint` with `status` and `body` (default: a JSON
        error without a code), and a Location header when given (a redirect)."""
        with self.lock:
            self.state.failures.append(Failure(status, times, endpoint, body, location))

    def hold(self, endpoint: str, *, times: int = 1, timeout: float = 30.0) -> Gate:
        gate = Gate(endpoint, times=times, timeout=timeout)
        with self.lock:
            self.state.gates.append(gate)
        return gate

    def confirm(self, email: str) -> None:
        with self.lock:
            self.state.users[email.lower()].confirmed = True

    def calls(self, endpoint: str) -> int:
        with self.lock:
            return self.state.calls[endpoint]

    def received(self, text: str) -> bool:
        """Whether any posted body contained `text` (as sent: JSON, UTF-8, unescaped)."""
        needle = text.encode("utf-8")
        with self.lock:
            return any(needle in body for body in self.state.bodies)

    def active_sessions(self) -> int:
        with self.lock:
            return len(self.state.sessions)

    # -- GoTrue's behaviour (called with the lock held) ----------------------------------------
    def sign_up(self, body: dict[str, Any]) -> tuple[int, Any]:
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise _Refusal(422, "validation_failed", "Signup requires a valid password")
        if len(email) > 255 or not _EMAIL.match(email):
            raise _Refusal(400, "email_address_invalid", f'Email address "{email}" is invalid')
        if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            raise _Refusal(422, "validation_failed", "Password cannot be longer than 72 characters")
        if len(password.encode("utf-8")) < self.state.min_password_length:
            raise _Refusal(
                422,
                "weak_password",
                f"Password should be at least {self.state.min_password_length} characters.",
                weak_password={"reasons": ["length"]},
            )
        existing = self.state.users.get(email.lower())
        if existing is not None:
            if self.state.require_confirmation:
                made_up = FakeUser(str(uuid.uuid4()), email, "", False, _now_iso())
                return 200, self.user_json(made_up) | {"identities": []}
            raise _Refusal(422, "user_already_exists", "User already registered")
        user = FakeUser(
            id=str(uuid.uuid4()),
            email=email.lower(),
            password_digest=_digest(password),
            confirmed=not self.state.require_confirmation,
            created_at=_now_iso(),
        )
        self.state.users[user.email] = user
        if self.state.require_confirmation:
            return 200, self.user_json(user) | {"confirmation_sent_at": _now_iso()}
        return 200, self.new_session(user)

    def password_grant(self, body: dict[str, Any]) -> dict[str, Any]:
        email, password = body.get("email"), body.get("password")
        user = self.state.users.get(email.lower()) if isinstance(email, str) else None
        if user is None or not isinstance(password, str) or user.password_digest != _digest(password):
            raise _Refusal(400, "invalid_credentials", "Invalid login credentials")
        if not user.confirmed:
            raise _Refusal(400, "email_not_confirmed", "Email not confirmed")
        return self.new_session(user)

    def refresh_grant(self, body: dict[str, Any]) -> dict[str, Any]:
        token = body.get("refresh_token")
        found = self.state.refresh_tokens.get(token) if isinstance(token, str) else None
        if found is None or found[0] not in self.state.sessions:
            raise _Refusal(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
        session_id, used = found
        if used:
            raise _Refusal(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
        self.state.refresh_tokens[str(token)] = (session_id, True)
        user = self.user_by_id(self.state.sessions[session_id])
        return self.new_session(user, session_id=session_id)

    def log_out(self, claims: dict[str, Any], scope: str) -> None:
        user_id, session_id = str(claims.get("sub")), claims.get("session_id")
        if scope == "local":
            doomed = [session_id] if session_id in self.state.sessions else []
        else:
            doomed = [
                s
                for s, u in self.state.sessions.items()
                if u == user_id and (scope == "global" or s != session_id)
            ]
        for session in doomed:
            del self.state.sessions[session]
        self.state.refresh_tokens = {t: v for t, v in self.state.refresh_tokens.items() if v[0] not in doomed}

    def verify(self, authorization: str) -> dict[str, Any]:
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.jwt_secret, algorithms=["HS256"], audience="authenticated"
            )
        except jwt.PyJWTError as exc:
            raise _Refusal(
                401, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}"
            ) from None
        session_id = claims.get("session_id")
        if session_id is not None and session_id not in self.state.sessions:
            raise _Refusal(403, "session_not_found", "Session from session_id claim in JWT does not exist")
        return claims

    def user_by_id(self, user_id: str) -> FakeUser:
        for user in self.state.users.values():
            if user.id == user_id:
                return user
        raise _Refusal(404, "user_not_found", "User from sub claim in JWT does not exist")

    def new_session(self, user: FakeUser, *, session_id: str | None = None) -> dict[str, Any]:
        session_id = session_id or str(uuid.uuid4())
        self.state.sessions[session_id] = user.id
        refresh_token = secrets.token_urlsafe(16)
        self.state.refresh_tokens[refresh_token] = (session_id, False)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user.id,
            "aud": "authenticated",
            "exp": now + ACCESS_TOKEN_SECONDS,
            "iat": now,
            "email": user.email,
            "phone": "",
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {"email": user.email, "email_verified": user.confirmed},
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": session_id,
            "is_anonymous": False,
        }
        return {
            "access_token": jwt.encode(claims, self.jwt_secret, algorithm="HS256"),
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "expires_at": now + ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh_token,
            "user": self.user_json(user),
        }

    @staticmethod
    def user_json(user: FakeUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": user.email,
            "email_confirmed_at": user.created_at if user.confirmed else None,
            "phone": "",
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "identities": [],
            "created_at": user.created_at,
            "updated_at": user.created_at,
            "is_anonymous": False,
        }
