"""A local Slack Socket Mode server (websocket on loopback), run in the test's event loop.

Like Slack's: on connect it sends `hello`; `send(envelope_type, payload)` pushes an envelope
(events_api, slash_commands, interactive) and `wait_ack(envelope_id)` returns the app's
acknowledgement `{"envelope_id": ..., "payload"?: ...}`. Serve its URL from the fake Web API's
apps.connections.open (`FakeSlack.state.socket_url = fake_socket.url`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._server: Server | None = None
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._ack_event = asyncio.Event()
        self._ids = itertools.count(1)
        self.connected = asyncio.Event()
        self.connection_count = 0
        self.unparsable: list[str] = []

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=test"

    async def start(self) -> FakeSocketMode:
        self._server = await serve(self._session, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeSocketMode:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _session(self, connection: ServerConnection) -> None:
        self._connections.append(connection)
        self.connection_count += 1
        await connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake-socket", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0MNEMO"},
                }
            )
        )
        self.connected.set()
        try:
            async for raw in connection:
                try:
                    message = json.loads(raw)
                except ValueError:
                    self.unparsable.append(str(raw))
                    continue
                if isinstance(message, dict) and "envelope_id" in message:
                    self._acks[str(message["envelope_id"])] = message
                    self._ack_event.set()
        finally:
            self._connections.remove(connection)
            if not self._connections:
                self.connected.clear()

    async def send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Push one envelope to the connected app; returns its envelope_id."""
        await asyncio.wait_for(self.connected.wait(), timeout=5)
        envelope_id = f"env-{next(self._ids)}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": envelope_type != "events_api",
        }
        if envelope_type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        await self._connections[-1].send(json.dumps(envelope))
        return envelope_id

    async def send_raw(self, text: str) -> None:
        """Push any text frame (malformed input for robustness tests)."""
        await asyncio.wait_for(self.connected.wait(), timeout=5)
        await self._connections[-1].send(text)

    async def wait_ack(self, envelope_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while envelope_id not in self._acks:
                self._ack_event.clear()
                await self._ack_event.wait()
        return self._acks[envelope_id]

    def acked(self, envelope_id: str) -> bool:
        return envelope_id in self._acks
