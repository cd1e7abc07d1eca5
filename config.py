"""Every setting Mnemo reads, in one place.

Settings come from the environment and an optional `.env` file. `load_settings()` turns a
validation failure into one line per bad variable (`ConfigError`), so start-up never shows a
traceback for a typo. Nothing else in the code base reads the environment.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "changethis", "your-token", "xxx", "todo", "secret"}


class ConfigError(Exception):
    """Settings are missing or malformed; the message is meant for a person, one line per problem."""


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class DiscordReplyMode(StrEnum):
    REPLY = "reply"
    THREAD = "thread"


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in _PLACEHOLDERS or "your-" in lowered or lowered.endswith("...")


def _is_service_key(key: str) -> bool:
    """A Supabase secret key: `sb_secret_...`, or a legacy JWT key whose `role` is service_role
    (read without verifying it: only its claim matters here)."""
    if key.startswith("sb_secret_"):
        return True
    parts = key.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(claims, dict) and claims.get("role") == "service_role"


def _check_url(value: str, *, schemes: tuple[str, ...]) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ValueError(f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return value.rstrip("/")


_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
_DISCORD_ID = re.compile(r"^[0-9]{15,21}$")


def _id_list(value: Any) -> Any:
    """Comma-separated ids as a frozenset; empty means "not set" (None)."""
    parts = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else None
    return value if parts is None else (frozenset(parts) or None)


# Comma-separated ids in the environment (NoDecode: not JSON), a frozenset in the code.
IdList = Annotated[frozenset[str] | None, NoDecode]


class Settings(BaseSettings):
    """Mnemo's configuration. Field names are the environment variable names (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    # Model endpoint (any OpenAI-compatible server).
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    chat_model: str = "gpt-4o-mini"
    memory_model: str | None = Field(
        default=None,
        description="Model mem0 uses to extract memories; defaults to CHAT_MODEL.",
    )
    embedding_model: str = "text-embedding-3-small"
    embedding_dims: int = Field(default=1536, ge=8, le=8192)
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    max_reply_tokens: int = Field(default=800, ge=16, le=32_000)
    prompt_token_budget: int = Field(default=6000, ge=500, le=1_000_000)
    bot_name: str = "Mnemo"
    system_prompt: str | None = None

    # Storage and memory.
    data_dir: Path = Path("./data")
    session_idle_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    memory_recall_limit: int = Field(default=8, ge=0, le=50)
    memory_prompt_tokens: int = Field(default=1000, ge=0, le=100_000)
    memory_write_queue_size: int = Field(default=1000, ge=1, le=100_000)
    memory_write_workers: int = Field(default=2, ge=1, le=32)
    # One admission limit per process, every front door (core/admission.py).
    max_concurrent_replies: int = Field(default=64, ge=1, le=10_000)
    max_waiting_replies: int = Field(default=1000, ge=0, le=1_000_000)
    # Replies all processes together write at once (0: no shared cap); needs SUPABASE_DB_URL.
    max_concurrent_replies_total: int = Field(default=0, ge=0, le=100_000)
    message_retention_days: int = Field(default=0, ge=0, le=36500)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, le=600)

    # Background jobs.
    scheduler_enabled: bool = True
    memory_retry_max_age_hours: float = Field(default=72.0, gt=0, le=24 * 365)
    memory_merge_similarity: float = Field(default=0.9, ge=0.5, le=1.0)
    # With SUPABASE_DB_URL: forgotten memories are deleted at once; their text leaves the table's
    # files when the purge job rewrites it, at most this often (core/memory/vectors/postgres_purge.py).
    vector_purge_interval_minutes: int = Field(default=60, ge=1, le=10080)
    # The memory model judges at write time which older memories a new one replaces (issue 16).
    memory_update_by_model: bool = True

    # Web server and logging.
    port: int = Field(default=8080, ge=1, le=65535)
    host: str = "0.0.0.0"  # noqa: S104  (a deployed web process must listen publicly)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT

    # Slack.
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None

    # Discord.
    discord_bot_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    discord_guild_id: int | None = None
    discord_reply_mode: DiscordReplyMode = DiscordReplyMode.REPLY
    discord_shard_count: int | None = Field(default=None, ge=1)
    discord_shard_ids: Annotated[list[int] | None, NoDecode] = None

    # Supabase.
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    # The anon (or publishable) key: what Supabase Auth expects from clients. With SUPABASE_URL it
    # enables POST /v1/auth/signup, /login, /refresh and /logout; it gives no access to storage.
    supabase_anon_key: SecretStr | None = None
    supabase_db_url: SecretStr | None = None
    supabase_jwt_secret: SecretStr | None = None
    supabase_jwt_issuer: str | None = None
    supabase_jwks_url: str | None = None
    api_rate_limit_per_minute: int = Field(default=60, ge=1, le=100_000)
    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Access control (core/access.py): comma-separated ids; unset = everyone; a block-list wins.
    allow_dms: bool = True
    slack_allowed_channels: IdList = None
    slack_allowed_users: IdList = None
    slack_blocked_channels: IdList = None
    slack_blocked_users: IdList = None
    discord_allowed_channels: IdList = None
    discord_allowed_roles: IdList = None
    discord_allowed_users: IdList = None
    discord_blocked_channels: IdList = None
    discord_blocked_roles: IdList = None
    discord_blocked_users: IdList = None

    # Cost limits (core/budget.py): prompt + completion tokens per UTC day; unset = unlimited.
    daily_token_budget_per_person: int | None = Field(default=None, ge=1)
    daily_token_budget_per_workspace: int | None = Field(default=None, ge=1)

    # Per-channel system prompt and model (core/channel_settings.py): a TOML file.
    channel_settings_file: Path | None = None

    @field_validator("openai_base_url")
    @classmethod
    def _openai_url(cls, value: str) -> str:
        return _check_url(value, schemes=("http", "https"))

    @field_validator("slack_api_url", "discord_api_url", "supabase_url", "supabase_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if not value else _check_url(value, schemes=("http", "https"))

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return None if not value else _check_url(value, schemes=("ws", "wss"))

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        for origin in value or []:
            if origin != "*":
                _check_url(origin, schemes=("http", "https"))
        return value

    @field_validator(
        "slack_allowed_channels",
        "slack_allowed_users",
        "slack_blocked_channels",
        "slack_blocked_users",
        "discord_allowed_channels",
        "discord_allowed_roles",
        "discord_allowed_users",
        "discord_blocked_channels",
        "discord_blocked_roles",
        "discord_blocked_users",
        mode="before",
    )
    @classmethod
    def _id_lists(cls, value: Any, info: ValidationInfo) -> Any:
        ids = _id_list(value)
        slack = (info.field_name or "").startswith("slack")
        pattern, kind = (_SLACK_ID, "Slack id (like C0123ABCD)") if slack else (_DISCORD_ID, "Discord id")
        for one in ids or ():
            if not pattern.match(one):
                raise ValueError(f"'{one[:40]}' is not a {kind}" + ("" if slack else " (15 to 21 digits)"))
        return ids

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return [int(part) for part in value.split(",") if part.strip()]
            except ValueError:
                raise ValueError("expected comma-separated shard numbers, e.g. 0,1") from None
        return value

    @field_validator(
        "openai_api_key",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "discord_bot_token",
        "supabase_service_role_key",
        "supabase_anon_key",
        "supabase_jwt_secret",
        "supabase_db_url",
    )
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if not raw.strip():
            return None
        if _is_placeholder(raw):
            raise ValueError("looks like a placeholder from .env.example; set the real value or remove it")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _slack_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("expected a Slack bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _slack_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("expected a Slack app-level token starting with xapp-")
        return value

    @field_validator("supabase_anon_key")
    @classmethod
    def _anon_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Mnemo hands this key to Supabase Auth on behalf of anyone who signs up: a key that
        # bypasses row-level security has no business there.
        if value is not None and _is_service_key(value.get_secret_value()):
            raise ValueError(
                "this is a secret (service_role) key; use the anon or publishable key "
                "(Project Settings > API Keys)"
            )
        return value

    @model_validator(mode="after")
    def _combinations(self) -> Settings:
        slack_mode = self.slack_app_token is not None or self.slack_signing_secret is not None
        if self.slack_bot_token is not None and not slack_mode:
            raise ValueError(
                "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) "
                "nor SLACK_SIGNING_SECRET (HTTP mode) is"
            )
        if slack_mode and self.slack_bot_token is None:
            raise ValueError("SLACK_APP_TOKEN/SLACK_SIGNING_SECRET need SLACK_BOT_TOKEN as well")
        self._check_supabase_combination()
        if self.openai_api_key is None and urlparse(self.openai_base_url).hostname == "api.openai.com":
            raise ValueError(
                "OPENAI_API_KEY is required for api.openai.com (or point OPENAI_BASE_URL at a local server)"
            )
        if self.discord_shard_ids is not None and self.discord_shard_count is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT")
        if self.max_concurrent_replies_total and self.supabase_db_url is None:
            raise ValueError(
                "MAX_CONCURRENT_REPLIES_TOTAL needs SUPABASE_DB_URL (the processes share the limit there)"
            )
        return self

    def _check_supabase_combination(self) -> None:
        keys = {
            "SUPABASE_SERVICE_ROLE_KEY": self.supabase_service_role_key,
            "SUPABASE_ANON_KEY": self.supabase_anon_key,
        }
        if self.supabase_url is None:
            for name, key in keys.items():
                if key is not None:
                    raise ValueError(f"{name} is set but SUPABASE_URL is not: they must be set together")
            return
        if all(key is None for key in keys.values()):
            raise ValueError(
                "SUPABASE_URL needs SUPABASE_SERVICE_ROLE_KEY (storage in Supabase) and/or "
                "SUPABASE_ANON_KEY (sign-up and sign-in through Supabase Auth): "
                "SUPABASE_URL and a key must be set together"
            )
        if self.supabase_anon_key is not None and not self.api_auth_enabled:
            raise ValueError(
                "SUPABASE_ANON_KEY enables the HTTP API's sign-in endpoints, which also need "
                "SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL (to verify the tokens they hand out)"
            )

    # Derived views, so callers never repeat these rules.
    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def slack_socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def discord_enabled(self) -> bool:
        return self.discord_bot_token is not None

    @property
    def supabase_enabled(self) -> bool:
        """Storage in Supabase: only with the service-role key (the anon key alone keeps it embedded)."""
        return self.supabase_url is not None and self.supabase_service_role_key is not None

    @property
    def supabase_auth_enabled(self) -> bool:
        """POST /v1/auth/signup, /login, /refresh and /logout, through Supabase Auth."""
        return self.supabase_url is not None and self.supabase_anon_key is not None

    @property
    def api_auth_enabled(self) -> bool:
        return self.supabase_jwt_secret is not None or self.supabase_jwks_url is not None

    @property
    def effective_memory_model(self) -> str:
        return self.memory_model or self.chat_model


def _describe(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not loc:
        return message
    return f"{loc[0].upper()}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise ConfigError with one human line per problem (no traceback)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(err) for err in exc.errors()]
        raise ConfigError("; ".join(lines)) from None
