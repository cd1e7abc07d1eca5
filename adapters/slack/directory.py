"""What Slack knows about people and channels that a message does not say: display names
(users.info) and whether a channel is private (conversations.info, for app_mention events, which
never say). Each is looked up after the ack, only for messages that are answered, once per person
or channel, then cached (bounded, expiring); a failed look-up errs on the safe side.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.translate import (
    SlackMessage,
    channel_type_from_info,
    display_name_of,
    is_private_channel_type,
)
from adapters.slack.web_api import slack_error
from core.cache import TTLCache
from core.redaction import short_hash

log = logging.getLogger(__name__)

FAILED_NAME_TTL = 300  # a person whose name could not be fetched is tried again later, not per message


class SlackDirectory:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        name_ttl: float = 6 * 3600,
        channel_ttl: float = 600,
        cache_size: int = 10_000,
    ) -> None:
        self._client = client
        self._names: TTLCache[tuple[str, str], str | None] = TTLCache(max_size=cache_size, ttl=name_ttl)
        self._name_lookups: dict[tuple[str, str], asyncio.Task[str | None]] = {}
        self._channel_types: TTLCache[tuple[str, str], str] = TTLCache(max_size=cache_size, ttl=channel_ttl)

    async def is_private(self, message: SlackMessage) -> bool:
        """Whether the message was said somewhere private (a DM, a group DM, a private channel).
        Unknown privacy counts as private: the memory is then never recalled in public."""
        key = (message.workspace, message.channel)
        if message.channel_type is not None:
            self._channel_types.put(key, message.channel_type)
            return is_private_channel_type(message.channel_type)
        found, channel_type = self._channel_types.get(key)
        if found and channel_type is not None:
            return is_private_channel_type(channel_type)
        try:
            response = await self._client.conversations_info(channel=message.channel)
        except SlackClientError as exc:
            log.warning("conversations.info failed channel=%s: %s", message.channel, slack_error(exc))
            return True
        info = response.get("channel")
        channel_type = channel_type_from_info(info if isinstance(info, Mapping) else {})
        self._channel_types.put(key, channel_type)
        return is_private_channel_type(channel_type)

    async def user_name(self, workspace: str, user: str) -> str | None:
        """The person's display name: users.info once per person (concurrent asks share one call),
        then cached."""
        key = (workspace, user)
        found, name = self._names.get(key)
        if found:
            return name
        lookup = self._name_lookups.get(key)
        if lookup is None:
            lookup = asyncio.create_task(self._fetch_name(key), name="slack-users-info")
            self._name_lookups[key] = lookup
            lookup.add_done_callback(lambda _: self._name_lookups.pop(key, None))
        # Shielded: one asker giving up (its reply cancelled) must not cancel the others' look-up.
        return await asyncio.shield(lookup)

    async def _fetch_name(self, key: tuple[str, str]) -> str | None:
        try:
            response = await self._client.users_info(user=key[1])
        except SlackClientError as exc:
            log.warning("users.info failed user=%s: %s", short_hash(key[1]), slack_error(exc))
            self._names.put(key, None, ttl=FAILED_NAME_TTL)
            return None
        user = response.get("user")
        name = display_name_of(user if isinstance(user, Mapping) else {})
        self._names.put(key, name)
        return name
