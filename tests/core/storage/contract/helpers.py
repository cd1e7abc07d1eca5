"""What the Store contract tests share: fixed instants, identities, conversations, short-hands."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.models import ConversationKey, IdentityKey, MemoryOrigin, Platform, Role
from core.storage import Store

ROOT = Path(__file__).resolve().parents[4]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
IDLE = timedelta(minutes=60)
NAIVE = datetime(2026, 11, 1, 12, 0)  # the bad input under test
ORIGIN = MemoryOrigin(Platform.SLACK, "C1", is_private=False)
EXCHANGE = [{"role": "user", "content": "I like tea"}, {"role": "assistant", "content": "Noted"}]


def identity(user: str = "U1", *, workspace: str = "T1", platform: Platform = Platform.SLACK) -> IdentityKey:
    return IdentityKey(platform, workspace, user)


def conversation(channel: str = "C1", *, thread: str = "", workspace: str = "T1") -> ConversationKey:
    return ConversationKey(Platform.SLACK, workspace, channel, thread)


async def new_session(store: Store, channel: str = "C1", *, now: datetime = T0) -> uuid.UUID:
    return (await store.touch_session(conversation(channel), now=now, idle_timeout=IDLE)).id


async def say(
    store: Store,
    session_id: uuid.UUID,
    account_id: uuid.UUID,
    text: str,
    *,
    now: datetime = T0,
    role: Role = Role.USER,
    epoch: int = 0,
) -> None:
    await store.append_message(
        session_id=session_id, account_id=account_id, role=role, text=text, now=now, epoch=epoch
    )


def web_conversation(thread: str, *, channel: str = "sub-1") -> ConversationKey:
    return ConversationKey(Platform.WEB, "", channel, thread)
