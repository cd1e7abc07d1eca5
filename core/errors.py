"""Mnemo's error hierarchy: what a person may see vs what a dependency did."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error Mnemo raises on purpose."""


class UserFacingError(BotError):
    """The person asked for something we cannot do; the message is safe to show them."""


class NotFoundError(UserFacingError):
    """The thing asked for does not exist for this account (never says whether it exists for another)."""


class ErasedError(BotError):
    """The account was erased after this work began (its erasure epoch moved on): what the work
    produced must not be stored. Not a failure; the caller drops the write and carries on."""


class DependencyError(BotError):
    """A service we depend on failed. Logged with its cause; the person sees a friendly line."""


class StorageError(DependencyError):
    """The message/session store failed."""


class MemoryBackendError(DependencyError):
    """The long-term memory (mem0, vector store, embedder) failed."""


class ModelError(DependencyError):
    """The chat model endpoint failed (down, rate limited, timed out, or answered nonsense)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
