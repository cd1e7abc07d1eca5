"""The test-wide guard really blocks non-loopback traffic."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkBlockedError


def test_non_loopback_connect_fails() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlockedError):
        sock.connect(("10.255.255.1", 443))


def test_name_lookup_of_a_remote_host_fails() -> None:
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("api.openai.com", 443)


def test_loopback_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
