"""The Slack Web API as Mnemo uses it: where it is, how calls are retried, who the bot is
(auth.test, once at start-up), and Slack's errors as short log-safe words.

slack_sdk's quirks stay here: it needs a trailing slash on the base URL, retries nothing unless
told, and puts the reason for a refusal in `exc.response["error"]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

DEFAULT_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 3


class SlackStartError(RuntimeError):
    """Slack refused our tokens or could not be reached at start-up; the message says which."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who Mnemo is in this workspace, from auth.test at start-up."""

    user_id: str
    bot_id: str | None
    team_id: str | None
    enterprise_id: str | None
    name: str


def web_api_base_url(override: str | None) -> str:
    """SLACK_API_URL (GovSlack, tests) or Slack's; the SDK needs the trailing slash."""
    return (override.rstrip("/") + "/") if override else DEFAULT_API_URL


def retry_handlers() -> list[AsyncRetryHandler]:
    # 429s are retried after Slack's Retry-After; a dropped connection is retried once.
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
    ]


def slack_error(exc: BaseException) -> str:
    """Slack's error code (`channel_not_found`...) or the exception's class: never a token or URL."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = response.get("error") if isinstance(response, Mapping) or hasattr(response, "data") else None
        return str(error or "unknown_error")
    return type(exc).__name__


async def authenticate(
    client: AsyncWebClient, *, token: str, base_url: str, bot_name: str
) -> tuple[BotIdentity, AuthorizeResult]:
    """auth.test: who the bot token belongs to, and the authorization bolt needs for every request
    (so that no request ever waits for auth.test). Raises SlackStartError."""
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        raise SlackStartError(f"Slack refused SLACK_BOT_TOKEN ({slack_error(exc)})") from None
    except (SlackClientError, aiohttp.ClientError, OSError) as exc:
        raise SlackStartError(f"could not reach the Slack Web API at {base_url} ({exc})") from None
    user_id = str(auth.get("user_id") or "")
    if not user_id:
        raise SlackStartError("auth.test did not say who the bot is; is SLACK_BOT_TOKEN a bot token?")
    identity = BotIdentity(
        user_id=user_id,
        bot_id=auth.get("bot_id"),
        team_id=auth.get("team_id"),
        enterprise_id=auth.get("enterprise_id"),
        name=bot_name,
    )
    authorization = AuthorizeResult(
        enterprise_id=identity.enterprise_id,
        team_id=identity.team_id,
        team=auth.get("team"),
        url=auth.get("url"),
        bot_user_id=identity.user_id,
        bot_id=identity.bot_id,
        bot_token=token,
    )
    return identity, authorization
