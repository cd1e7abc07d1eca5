"""Test-wide setup: an offline guard, a clean environment, and the shared fakes and core fixtures."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Before anything imports mem0 (telemetry is read at import time).
os.environ["MEM0_TELEMETRY"] = "False"

from bot.wiring import Core, build_core
from config import Settings
from tests.fakes.openai_server import FakeOpenAI

_SETTINGS_ENV = {name.upper() for name in Settings.model_fields} | {"OPENROUTER_API_KEY", "OPENAI_API_BASE"}


class NetworkBlockedError(AssertionError):
    """A test tried to reach something that is not on this machine."""


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkBlockedError(f"test tried to connect to {address!r}; only loopback is allowed")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkBlockedError(f"test tried to connect to {address!r}; only loopback is allowed")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost") and not _is_loopback((name, 0)):
        raise NetworkBlockedError(f"test tried to resolve {name!r}; only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def offline_guard() -> Iterator[None]:
    """Fail any connection (or name lookup) that is not loopback, for the whole run."""
    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", _guarded_connect)
    mp.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    mp.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's environment must not leak into tests (settings, OpenRouter rerouting)."""
    for name in list(os.environ):
        if name.upper() in _SETTINGS_ENV:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def make_settings(data_dir: Path, fake: FakeOpenAI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openai_base_url": fake.base_url,
        "openai_api_key": "test-key",
        "chat_model": "fake-chat",
        "embedding_model": "fake-embed",
        "embedding_dims": 64,
        "data_dir": data_dir,
        "llm_timeout_seconds": 5,
        "llm_max_retries": 0,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    return make_settings(tmp_path / "data", fake_openai)


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    async with build_core(settings) as built:
        yield built
