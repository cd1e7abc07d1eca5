"""A Supabase Auth stand-in for tests: key pairs generated in the test, a JWKS endpoint on loopback
(`GET /auth/v1/.well-known/jwks.json`, like a Supabase project), and a token minter.

The JWKS server is real HTTP (PyJWT's PyJWKClient fetches it with urllib), counts its requests
and can fail on demand (`fail_with = 500`), so tests see the fetch, its cache and an outage.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

JWKS_PATH = "/auth/v1/.well-known/jwks.json"


@dataclass
class SigningKey:
    """A private key, its `kid` and its algorithm; `public_jwk()` is what the JWKS publishes."""

    kid: str
    alg: str
    private: Any

    @classmethod
    def rsa(cls, kid: str | None = None) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or f"rsa-{uuid.uuid4().hex[:8]}", "RS256", key)

    @classmethod
    def ec(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig", "key_ops": ["verify"]})
        return jwk


def mint(
    key: str | SigningKey,
    *,
    sub: str = "11111111-2222-3333-4444-555555555555",
    aud: str | None = "authenticated",
    expires_in: float = 3600,
    issuer: str | None = None,
    alg: str | None = None,
    kid: str | None = None,
    **claims: Any,
) -> str:
    """A Supabase-style access token signed with an HS256 secret (str) or a SigningKey."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": sub,
        "role": "authenticated",
        "iat": now,
        "exp": now + int(expires_in),
        "email": "person@example.com",
        "user_metadata": {"full_name": "Pat Example"},
        **claims,
    }
    if aud is not None:
        payload["aud"] = aud
    if issuer is not None:
        payload["iss"] = issuer
    payload = {k: v for k, v in payload.items() if v is not None}
    if isinstance(key, SigningKey):
        headers = {"kid": kid or key.kid}
        return jwt.encode(payload, key.private, algorithm=alg or key.alg, headers=headers)
    return jwt.encode(payload, key, algorithm=alg or "HS256", headers={"kid": kid} if kid else None)


@dataclass
class _State:
    keys: list[SigningKey] = field(default_factory=list)
    fail_with: int | None = None
    requests: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state
        with self.server.lock:
            state.requests += 1
            fail_with = state.fail_with
            keys = list(state.keys)
        if self.path != JWKS_PATH:
            self._send(404, {"message": "not found"})
        elif fail_with is not None:
            self._send(fail_with, {"message": "unavailable"})
        else:
            self._send(200, {"keys": [key.public_jwk() for key in keys]})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State
    lock: threading.Lock


class FakeSupabaseAuth:
    """`with FakeSupabaseAuth(keys) as auth:` then SUPABASE_JWKS_URL=auth.jwks_url."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.state = _State(keys=list(keys))
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    @property
    def requests(self) -> int:
        with self._server.lock:
            return self.state.requests

    def set_keys(self, keys: list[SigningKey]) -> None:
        with self._server.lock:
            self.state.keys = list(keys)

    def fail(self, status: int | None) -> None:
        with self._server.lock:
            self.state.fail_with = status

    def __enter__(self) -> FakeSupabaseAuth:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
