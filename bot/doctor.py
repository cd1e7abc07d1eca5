"""`python -m bot doctor`: asks every configured dependency whether it will work, one line each.

    ok    model chat      fake-chat answered (41 ms)
    FAIL  slack scopes    missing files:write, users:read: add them under OAuth & Permissions ...

Checked: the model's chat and embeddings (with the embedding size against EMBEDDING_DIMS), the
store (DATA_DIR, or Supabase: URL, key and migrations), the memory vectors (DATA_DIR or Postgres, and
the embedding model they were made with), Slack (auth.test, the token's scopes, the app-level token)
and Discord (the token, the Message Content intent) when configured. Exit 0 only when every check
passes. Nothing about anyone is written; like start-up, it creates the embedded files and tables
when they are missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlparse

import httpx
import psycopg

from bot.wiring import mem0_options, open_store
from config import ConfigError, Settings
from core.errors import BotError
from core.llm import OpenAIChatModel
from core.memory.mem0_openai import Mem0OpenAI

CHECK_TIMEOUT_SECONDS = 15.0
# The bot scopes slack-manifest.yaml asks for (tests/bot/test_doctor.py keeps the two in step).
SLACK_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "mpim:history",
    "mpim:read",
    "users:read",
)
# Discord application flags: the Message Content intent switched on (verified apps / under 100 servers).
MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':<5} {self.name:<17} {self.detail}"


Check = Callable[[Settings], Awaitable[list[Result]]]


def _api_key(settings: Settings) -> str:
    # As the bot does: local OpenAI-compatible servers accept any key; the SDK insists on one.
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def _why(exc: BaseException) -> str:
    # Library errors can be long or multi-line; the class and the first line say enough here.
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# -- the model ------------------------------------------------------------------------------------
async def check_chat(settings: Settings) -> list[Result]:
    model = OpenAIChatModel(
        base_url=settings.openai_base_url,
        api_key=_api_key(settings),
        model=settings.chat_model,
        max_tokens=1,
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=0,
    )
    started = time.perf_counter()
    try:
        await model.complete([{"role": "user", "content": "Say ok."}])
        return [Result("model chat", True, f"{settings.chat_model} answered ({_ms(started)})")]
    except BotError as exc:
        todo = "check OPENAI_BASE_URL, OPENAI_API_KEY and CHAT_MODEL"
        return [Result("model chat", False, f"{settings.chat_model}: {exc}; {todo}")]
    finally:
        await model.close()


async def check_embeddings(settings: Settings) -> list[Result]:
    client = Mem0OpenAI(
        base_url=settings.openai_base_url,
        api_key=_api_key(settings),
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=0,
    )
    name, wanted = settings.embedding_model, settings.embedding_dims

    def embed() -> int:
        answer: Any = client.embeddings.create(
            input=["ok"], model=name, dimensions=wanted, encoding_format="float"
        )
        return len(answer.data[0].embedding)

    try:
        dims = await asyncio.to_thread(embed)
    except Exception as exc:
        return [Result("embeddings", False, f"{name}: {_why(exc)}; check EMBEDDING_MODEL and EMBEDDING_DIMS")]
    finally:
        client.close()
    if dims != wanted:
        return [
            Result(
                "embeddings", False, f"{name} gives {dims} dims, EMBEDDING_DIMS={wanted}: set it to {dims}"
            )
        ]
    return [Result("embeddings", True, f"{name}, {dims} dims (EMBEDDING_DIMS={wanted})")]


# -- storage and memory ---------------------------------------------------------------------------
async def check_store(settings: Settings) -> list[Result]:
    name = "supabase" if settings.supabase_enabled else "storage"
    started = time.perf_counter()
    try:
        store = await open_store(settings)  # the Supabase store checks URL, key and migrations here
        try:
            await store.ping()
        finally:
            await store.close()
    except (ConfigError, BotError) as exc:
        return [Result(name, False, _why(exc) if isinstance(exc, BotError) else str(exc))]
    if settings.supabase_enabled:
        return [
            Result(name, True, f"{settings.supabase_url}: key accepted, migrations applied ({_ms(started)})")
        ]
    return [Result(name, True, f"{settings.data_dir / 'mnemo.db'} ({_ms(started)})")]


def _postgres_vectors(url: str) -> tuple[bool, str]:
    with psycopg.connect(url, connect_timeout=10, prepare_threshold=None) as conn:
        exists, may_create = conn.execute(
            "select to_regclass('mnemo.memory_vectors') is not null, "
            "coalesce((select has_schema_privilege(oid, 'create') from pg_namespace "
            "          where nspname = 'mnemo'), has_database_privilege(current_database(), 'create'))"
        ).fetchone() or (False, False)
        if not exists:
            if may_create:
                return True, "mnemo.memory_vectors not there yet: the bot creates it at start-up"
            return (
                False,
                "mnemo.memory_vectors is missing and this role may not create it: apply supabase/migrations",
            )
        usable = conn.execute(
            "select has_table_privilege('mnemo.memory_vectors', 'select, insert, update, delete')"
        ).fetchone()
    if usable and usable[0]:
        return True, "mnemo.memory_vectors usable"
    return False, "this role may not read and write mnemo.memory_vectors"


async def check_vectors(settings: Settings) -> list[Result]:
    options = mem0_options(settings)
    results = []
    if options.vector_db_url:
        try:
            ok, detail = await asyncio.to_thread(_postgres_vectors, options.vector_db_url)
        except psycopg.Error as exc:
            ok, detail = False, f"cannot connect ({type(exc).__name__}); check SUPABASE_DB_URL"
        results.append(Result("postgres vectors", ok, detail))
        if not ok:
            return results
    try:
        state = await asyncio.to_thread(options.embedding_record.state)
    except ConfigError as exc:
        return [*results, Result("memory vectors", False, str(exc))]
    mismatch = state.mismatch(options.embedding)
    if mismatch is not None:
        return [*results, Result("memory vectors", False, mismatch)]
    made = f"made with {state.recorded}" if state.recorded and state.has_vectors else "none stored yet"
    return [*results, Result("memory vectors", True, f"{made}; settings match")]


# -- the chat platforms ---------------------------------------------------------------------------
async def check_slack(settings: Settings) -> list[Result]:
    from adapters.slack.web_api import web_api_base_url

    assert settings.slack_bot_token is not None
    base = web_api_base_url(settings.slack_api_url)
    results = []
    async with httpx.AsyncClient(base_url=base, timeout=CHECK_TIMEOUT_SECONDS) as http:
        try:
            token = settings.slack_bot_token.get_secret_value()
            answer = await http.post("auth.test", headers={"Authorization": f"Bearer {token}"})
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            return [Result("slack", False, f"cannot reach {base} ({_why(exc)}); check SLACK_API_URL")]
        if not body.get("ok"):
            todo = "copy OAuth & Permissions -> Bot User OAuth Token (xoxb-...) into SLACK_BOT_TOKEN"
            return [Result("slack", False, f"Slack refused SLACK_BOT_TOKEN ({body.get('error')}); {todo}")]
        results.append(
            Result("slack", True, f"bot {body.get('user_id')} in {body.get('team') or body.get('team_id')}")
        )
        header = answer.headers.get("x-oauth-scopes")
        if header is None:
            results.append(Result("slack scopes", True, "Slack did not list the token's scopes; not checked"))
        else:
            granted = {s.strip() for s in header.split(",")}
            missing = [s for s in SLACK_SCOPES if s not in granted]
            detail = (
                f"missing {', '.join(missing)}: add them under OAuth & Permissions (or paste "
                "slack-manifest.yaml again) and reinstall the app"
                if missing
                else f"all {len(SLACK_SCOPES)} scopes of slack-manifest.yaml"
            )
            results.append(Result("slack scopes", not missing, detail))
        if settings.slack_app_token is not None:
            app_token = settings.slack_app_token.get_secret_value()
            try:
                opened = (
                    await http.post("apps.connections.open", headers={"Authorization": f"Bearer {app_token}"})
                ).json()
            except (httpx.HTTPError, ValueError) as exc:
                opened = {"ok": False, "error": type(exc).__name__}
            results.append(
                Result("slack socket", True, "SLACK_APP_TOKEN accepted (Socket Mode)")
                if opened.get("ok")
                else Result(
                    "slack socket",
                    False,
                    f"Slack refused SLACK_APP_TOKEN ({opened.get('error')}); it must be an app-level "
                    "token with the connections:write scope",
                )
            )
    return results


async def check_discord(settings: Settings) -> list[Result]:
    from adapters.discord.sdk import DEFAULT_API_URL

    assert settings.discord_bot_token is not None
    # As the adapter reads DISCORD_API_URL (without touching discord.py's process-wide endpoints).
    api = (settings.discord_api_url or DEFAULT_API_URL).rstrip("/")
    if urlparse(api).path in ("", "/"):
        api += "/api/v10"
    token = settings.discord_bot_token.get_secret_value().strip().removeprefix("Bot ").strip()
    headers = {"Authorization": f"Bot {token}"}
    async with httpx.AsyncClient(base_url=api + "/", headers=headers, timeout=CHECK_TIMEOUT_SECONDS) as http:
        try:
            me = await http.get("users/@me")
            app = await http.get("oauth2/applications/@me") if me.status_code == 200 else None
        except httpx.HTTPError as exc:
            return [Result("discord", False, f"cannot reach {api} ({_why(exc)}); check DISCORD_API_URL")]
    if me.status_code == 401:
        todo = "copy the bot token from Developer Portal -> Bot -> Reset Token"
        return [Result("discord", False, f"Discord rejected DISCORD_BOT_TOKEN (401); {todo}")]
    if me.status_code != 200 or app is None or app.status_code != 200:
        status = me.status_code if app is None else app.status_code
        return [Result("discord", False, f"{api} answered HTTP {status}; check DISCORD_API_URL")]
    results = [Result("discord", True, f"bot {me.json().get('username')} ({me.json().get('id')})")]
    flags = int(app.json().get("flags") or 0)
    results.append(
        Result("discord intents", True, "Message Content intent enabled")
        if flags & MESSAGE_CONTENT_FLAGS
        else Result(
            "discord intents",
            False,
            "the Message Content intent is off: Developer Portal -> Bot -> Privileged Gateway Intents "
            "-> Message Content Intent",
        )
    )
    return results


def checks_for(settings: Settings) -> list[Check]:
    checks: list[Check] = [check_chat, check_embeddings, check_store, check_vectors]
    if settings.slack_enabled:
        checks.append(check_slack)
    if settings.discord_enabled:
        checks.append(check_discord)
    return checks


async def _guarded(check: Check, settings: Settings) -> list[Result]:
    name = check.__name__.removeprefix("check_")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS + 5):
            return await check(settings)
    except TimeoutError:
        return [Result(name, False, "no answer in time")]
    except Exception as exc:  # a check must never hide the others
        return [Result(name, False, _why(exc))]


async def run_doctor(settings: Settings, *, out: TextIO) -> int:
    """Prints one line per check, in a fixed order; 0 when all pass, else 1."""
    checks = checks_for(settings)
    outcomes = await asyncio.gather(*(_guarded(check, settings) for check in checks))
    results = [result for outcome in outcomes for result in outcome]
    for result in results:
        print(result.line(), file=out)
    failed = [r.name for r in results if not r.ok]
    print(f"{len(results) - len(failed)} of {len(results)} checks passed", file=out)
    return 1 if failed else 0


__all__ = ["SLACK_SCOPES", "Result", "checks_for", "run_doctor"]
