"""Supabase Auth JWTs, verified locally (no call to Supabase per request).

- HS256 tokens with SUPABASE_JWT_SECRET (the legacy shared secret);
- RS256/ES256 tokens with the project's public keys from SUPABASE_JWKS_URL (PyJWT's PyJWKClient:
  the key set is cached for 5 minutes and an unknown `kid` refetches it at most every 30 s, so
  forged kids cannot turn into a flood of requests to Supabase).
Both may be configured at once (a project moving to asymmetric keys still has live HS256 tokens);
the token's `alg` header picks the key, and each key only ever verifies its own algorithms, so an
HS256 token "signed" with a public key is refused. `alg: none` is never accepted.

Always checked: signature, `exp`, `aud == "authenticated"`, a usable `sub`; `iss` when known
(SUPABASE_JWT_ISSUER, else SUPABASE_URL + "/auth/v1"). Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKClientConnectionError, PyJWKClientError

from adapters.http.errors import ApiError, ErrorCode, service_unavailable, unauthorized
from config import Settings
from core.models import IdentityKey, Platform

log = logging.getLogger(__name__)

AUDIENCE = "authenticated"
HMAC_ALGORITHMS = ("HS256",)
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
MAX_TOKEN_CHARS = 8192
MAX_SUBJECT_CHARS = 255
MAX_NAME_CHARS = 100
# Clock skew between Supabase Auth and this host.
LEEWAY_SECONDS = 30
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_CACHE_SECONDS = 300.0
# An unknown `kid` refetches the key set at most this often (a rotated-in key waits at most this).
JWKS_REFRESH_COOLDOWN_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Principal:
    """The person behind a verified token."""

    subject: str
    display_name: str | None = None
    email: str | None = None

    @property
    def identity(self) -> IdentityKey:
        return IdentityKey(Platform.WEB, "", self.subject)


def _clean_subject(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_SUBJECT_CHARS:
        raise unauthorized(ErrorCode.INVALID_TOKEN, "The token has no usable 'sub' claim.")
    # The subject becomes a store key (conversation keys are joined with '|').
    if "|" in value or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise unauthorized(ErrorCode.INVALID_TOKEN, "The token has no usable 'sub' claim.")
    return value


def _display_name(claims: dict[str, Any]) -> str | None:
    metadata = claims.get("user_metadata")
    if not isinstance(metadata, dict):
        return None
    for key in ("full_name", "name", "user_name", "preferred_username"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            # Goes into the prompt as the person's name: one short line, no control characters.
            cleaned = "".join(ch for ch in value if not unicodedata.category(ch).startswith("C"))
            return cleaned.strip()[:MAX_NAME_CHARS] or None
    return None


class TokenVerifier:
    def __init__(
        self,
        *,
        hs256_secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str = AUDIENCE,
        jwks_timeout: float = JWKS_TIMEOUT_SECONDS,
        jwks_cooldown: float = JWKS_REFRESH_COOLDOWN_SECONDS,
    ) -> None:
        if not hs256_secret and not jwks_url:
            raise ValueError("TokenVerifier needs an HS256 secret or a JWKS URL")
        self._secret = hs256_secret or None
        self._jwks = (
            PyJWKClient(
                jwks_url, timeout=jwks_timeout, lifespan=JWKS_CACHE_SECONDS, cooldown_duration=jwks_cooldown
            )
            if jwks_url
            else None
        )
        self._jwks_timeout = jwks_timeout
        self._issuer = issuer
        self._audience = audience

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        issuer = settings.supabase_jwt_issuer or (
            f"{settings.supabase_url}/auth/v1" if settings.supabase_url else None
        )
        secret = settings.supabase_jwt_secret
        return cls(
            hs256_secret=secret.get_secret_value() if secret is not None else None,
            jwks_url=settings.supabase_jwks_url,
            issuer=issuer,
        )

    @property
    def issuer(self) -> str | None:
        return self._issuer

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token. Raises ApiError: 401 for every bad token, 503 when the
        key set cannot be fetched (the token may be fine: the client should retry, not sign out)."""
        if len(token) > MAX_TOKEN_CHARS:
            raise unauthorized(ErrorCode.INVALID_TOKEN, "The bearer token is too long to be a Supabase JWT.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise unauthorized(
                ErrorCode.INVALID_TOKEN, "The bearer token is not a well-formed JWT."
            ) from None
        alg = header.get("alg")
        key: Any
        if alg in HMAC_ALGORITHMS and self._secret is not None:
            key = self._secret
        elif alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            key = await self._public_key(token, alg=str(alg))
        else:
            raise unauthorized(
                ErrorCode.INVALID_TOKEN,
                f"Tokens signed with {str(alg)[:20]!r} are not accepted here.",
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(alg)],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized(ErrorCode.TOKEN_EXPIRED, "The token has expired; sign in again.") from None
        except jwt.InvalidAudienceError:
            raise unauthorized(
                ErrorCode.INVALID_TOKEN, f"The token's audience is not '{self._audience}'."
            ) from None
        except jwt.InvalidIssuerError:
            raise unauthorized(ErrorCode.INVALID_TOKEN, "The token was issued by another project.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthorized(ErrorCode.INVALID_TOKEN, f"The token has no '{exc.claim}' claim.") from None
        except jwt.InvalidSignatureError:
            raise unauthorized(ErrorCode.INVALID_TOKEN, "The token's signature does not verify.") from None
        except jwt.PyJWTError as exc:  # InvalidKeyError and friends are not InvalidTokenError
            log.info("token rejected: %s", type(exc).__name__)
            raise unauthorized(ErrorCode.INVALID_TOKEN, "The token is not valid.") from None
        email = claims.get("email")
        return Principal(
            subject=_clean_subject(claims.get("sub")),
            display_name=_display_name(claims),
            email=email if isinstance(email, str) and email else None,
        )

    async def _public_key(self, token: str, *, alg: str) -> Any:
        assert self._jwks is not None
        jwks = self._jwks
        try:
            # PyJWKClient is blocking (urllib): keep it off the event loop.
            signing_key = await asyncio.wait_for(
                asyncio.to_thread(jwks.get_signing_key_from_jwt, token),
                timeout=self._jwks_timeout + 1.0,
            )
        except (PyJWKClientConnectionError, TimeoutError) as exc:
            log.warning("JWKS unavailable: %s", type(exc).__name__)
            raise service_unavailable(
                "Cannot fetch the signing keys to check your token right now; try again shortly.",
                code=ErrorCode.AUTH_UNAVAILABLE,
            ) from None
        except (PyJWKClientError, jwt.PyJWTError):
            raise unauthorized(ErrorCode.INVALID_TOKEN, "The token's signing key is not known.") from None
        if signing_key.algorithm_name != alg:
            # A key is published for one algorithm; a token claiming another is not from it.
            raise unauthorized(ErrorCode.INVALID_TOKEN, "The token's algorithm does not match its key.")
        return signing_key.key


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or a 401 ApiError."""
    if authorization is None or not authorization.strip():
        raise unauthorized(ErrorCode.MISSING_TOKEN, "Send 'Authorization: Bearer <Supabase access token>'.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(ErrorCode.INVALID_TOKEN, "The Authorization header must be 'Bearer <token>'.")
    return token.strip()


__all__ = ["ApiError", "Principal", "TokenVerifier", "bearer_token"]
