"""Where Mnemo changes discord.py's own behaviour, all in one place.

- Endpoints: discord.py reads the REST and gateway URLs from class attributes; they are set here
  (Discord, or a Discord-compatible server, or the test fake).
- Gateway guards: discord.py parses every DISPATCH inside its gateway read loop, so one malformed
  payload (a KeyError in a parser, a frame that is not JSON) would end `connect()` and stop the
  client. The guards log and skip such payloads instead, and let `PlaceLookup` see the channel
  events discord.py drops for channels it does not cache.

These touch discord.py internals (`ConnectionState.parsers`, `_update_references`), checked against
discord.py 2.7; the tests that feed malformed payloads fail if a new version moves them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlparse

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.state import ConnectionState

log = logging.getLogger(__name__)

# Captured at import, before any override, so a start without overrides talks to Discord again.
DEFAULT_API_URL = Route.BASE
DEFAULT_GATEWAY_URL = str(DiscordWebSocket.DEFAULT_GATEWAY)

Parser = Callable[[Any], None]


def apply_endpoint_overrides(*, api_url: str | None, gateway_url: str | None) -> tuple[str, str]:
    """Point discord.py at Discord or at a Discord-compatible server; returns (api, gateway) in use.

    discord.py reads both from class attributes (process-wide), so every start sets both: a start
    without overrides goes back to Discord. An API URL without a path gets Discord's `/api/v10`.
    """
    api = api_url or DEFAULT_API_URL
    if urlparse(api).path in ("", "/"):
        api = api.rstrip("/") + "/api/v10"
    gateway = gateway_url or DEFAULT_GATEWAY_URL
    Route.BASE = api.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    return Route.BASE, gateway


class GatewayGuard:
    """Keeps one client's gateway loop alive through malformed payloads; counts what it skipped."""

    def __init__(self) -> None:
        self.skipped_payloads = 0

    def install(
        self,
        client: discord.Client,
        *,
        watched_events: Collection[str],
        watch: Callable[[str, Any], None],
    ) -> None:
        """Guard every parser of `client` (`watch(event, data)` first sees `watched_events`) and
        every gateway frame it will receive."""
        state = client._connection
        parsers = state.parsers
        for event, original in list(parsers.items()):
            parser = self._watched(event, original, watch) if event in watched_events else original
            # READY stays unguarded: nothing works without it, so its failure should be loud.
            parsers[event] = parser if event == "READY" else self._skipping_errors(event, parser)
        self._guard_frames(state)

    @staticmethod
    def _watched(event: str, parser: Parser, watch: Callable[[str, Any], None]) -> Parser:
        def watch_then_parse(data: Any) -> None:
            watch(event, data)
            parser(data)

        return watch_then_parse

    def _skipping_errors(self, event: str, parser: Parser) -> Parser:
        def parse_or_skip(data: Any) -> None:
            try:
                parser(data)
            except Exception:
                self.skipped_payloads += 1
                # The field names only: the payload holds people's messages.
                shape = sorted(data)[:12] if isinstance(data, dict) else type(data).__name__
                log.exception("skipped a malformed %s payload (fields: %s)", event, shape)

        return parse_or_skip

    def _guard_frames(self, state: ConnectionState[Any]) -> None:
        """A frame that is not JSON (or not an object) would also end the read loop: skip it.

        discord.py hands each new gateway socket to `_update_references`; that is where its
        `received_message` gets wrapped. Only data errors are caught: the ReconnectWebSocket and
        ConnectionClosed signals discord.py raises there on purpose pass through.
        """
        update_references = state._update_references

        def update_and_guard(ws: DiscordWebSocket) -> None:
            update_references(ws)
            receive = ws.received_message

            async def receive_or_skip(msg: Any, /) -> None:
                try:
                    await receive(msg)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    self.skipped_payloads += 1
                    log.error("skipped a malformed gateway frame (%s)", type(exc).__name__)

            ws.received_message = receive_or_skip  # type: ignore[method-assign]

        state._update_references = update_and_guard  # type: ignore[method-assign]
