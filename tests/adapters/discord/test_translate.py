"""Pure translation of an incoming Discord message: facts -> IncomingMessage (or nothing)."""

from __future__ import annotations

import discord
import pytest

from adapters.discord.privacy import EveryoneAccess, PlaceFacts, Privacy, place_privacy
from adapters.discord.translate import MessageFacts, clean_text, to_incoming
from config import DiscordReplyMode
from core.models import IncomingMessage, Platform

BOT = 1_000_000_000_000_000_001
ALICE = 1_000_000_000_000_000_002
BOB = 1_000_000_000_000_000_003
GUILD = 1_000_000_000_000_000_010
CHANNEL = 1_000_000_000_000_000_020
THREAD = 1_000_000_000_000_000_030
MESSAGE = 1_000_000_000_000_000_040


def facts(**overrides: object) -> MessageFacts:
    values: dict[str, object] = {
        "message_id": MESSAGE,
        "channel_id": CHANNEL,
        "guild_id": GUILD,
        "author_id": ALICE,
        "author_name": "Alice",
        "author_is_bot": False,
        "is_webhook": False,
        "is_system": False,
        "content": f"<@{BOT}> what is the plan?",
        "mentioned_user_ids": frozenset({BOT}),
        "can_open_thread": True,
    }
    values.update(overrides)
    return MessageFacts(**values)  # type: ignore[arg-type]


PUBLIC = place_privacy(PlaceFacts(discord.ChannelType.text, EveryoneAccess(overwrite=None, role=True)))
DIRECT = place_privacy(PlaceFacts(discord.ChannelType.private))


def incoming(
    f: MessageFacts,
    *,
    mode: DiscordReplyMode = DiscordReplyMode.REPLY,
    follows: bool | None = False,
    privacy: Privacy | None = None,
) -> IncomingMessage | None:
    if privacy is None:
        privacy = DIRECT if f.is_dm else PUBLIC
    return to_incoming(f, bot_user_id=BOT, reply_mode=mode, follows_thread=follows, privacy=privacy)


def test_mention_in_a_channel_becomes_a_public_message_in_the_channel_session() -> None:
    message = incoming(facts())
    assert message is not None
    assert message.platform is Platform.DISCORD
    assert message.workspace == ""
    assert message.user == str(ALICE)
    assert message.text == "what is the plan?"
    assert (message.channel, message.thread) == (str(CHANNEL), "")
    assert not message.is_private
    assert not message.is_direct
    assert message.mentions_bot
    assert message.event_key == f"msg:discord::{CHANNEL}:{MESSAGE}"


def test_channel_message_without_mention_is_not_for_mnemo() -> None:
    assert incoming(facts(content="just chatting", mentioned_user_ids=frozenset())) is None


def test_dm_is_private_direct_and_needs_no_mention() -> None:
    message = incoming(facts(guild_id=None, content="hi there", mentioned_user_ids=frozenset()))
    assert message is not None
    assert message.is_private
    assert message.is_direct
    assert (message.channel, message.thread) == (str(CHANNEL), "")


def test_the_place_decides_privacy_not_the_presence_of_a_server() -> None:
    private_thread = place_privacy(PlaceFacts(discord.ChannelType.private_thread))
    message = incoming(facts(), privacy=private_thread)
    assert message is not None
    assert message.is_private
    assert not message.is_direct
    # A group DM has no server either: always answered, private, but never direct.
    group = place_privacy(PlaceFacts(discord.ChannelType.group))
    in_group = incoming(facts(guild_id=None, content="hi all", mentioned_user_ids=frozenset()), privacy=group)
    assert in_group is not None
    assert in_group.is_private
    assert not in_group.is_direct


def test_reply_to_mnemo_and_role_mention_address_it() -> None:
    assert incoming(facts(content="and then?", mentioned_user_ids=frozenset(), replied_to_user_id=BOT))
    assert incoming(
        facts(content="<@&5> hi", mentioned_user_ids=frozenset(), mentioned_role_bot_ids=frozenset({BOT}))
    )
    assert (
        incoming(facts(content="and then?", mentioned_user_ids=frozenset(), replied_to_user_id=BOB)) is None
    )


def test_thread_follow_up_needs_no_mention_only_in_a_thread_mnemo_follows() -> None:
    in_thread = facts(
        channel_id=THREAD,
        thread_id=THREAD,
        thread_parent_id=CHANNEL,
        content="follow-up",
        mentioned_user_ids=frozenset(),
    )
    assert incoming(in_thread, follows=False) is None
    message = incoming(in_thread, follows=True)
    assert message is not None
    assert (message.channel, message.thread) == (str(CHANNEL), str(THREAD))
    # `follows` only applies inside threads: a plain channel still needs a mention.
    assert incoming(facts(content="x", mentioned_user_ids=frozenset()), follows=True) is None


def test_thread_mode_session_is_the_thread_opened_from_the_message() -> None:
    message = incoming(facts(), mode=DiscordReplyMode.THREAD)
    assert message is not None
    # Discord gives a thread started from a message that message's id.
    assert (message.channel, message.thread) == (str(CHANNEL), str(MESSAGE))
    no_threads_here = incoming(facts(can_open_thread=False), mode=DiscordReplyMode.THREAD)
    assert no_threads_here is not None
    assert no_threads_here.thread == ""


@pytest.mark.parametrize(
    "override",
    [
        {"author_id": BOT},
        {"author_is_bot": True},
        {"is_webhook": True},
        {"is_system": True},
        {"guild_id": None, "author_is_bot": True},
    ],
)
def test_own_bot_webhook_and_system_messages_are_never_answered(override: dict[str, object]) -> None:
    assert incoming(facts(**override)) is None


def test_only_a_mention_is_nothing_to_answer() -> None:
    assert incoming(facts(content=f"<@{BOT}>   ")) is None


def test_clean_text_drops_mnemo_and_names_other_people() -> None:
    text = clean_text(
        f"<@!{BOT}> ask <@{BOB}> and <@999999999999999999>", bot_user_id=BOT, names={BOB: "Bob"}
    )
    assert text == "ask @Bob and <@999999999999999999>"


# -- threads: who decides whether Mnemo follows ------------------------------------------------------
def in_thread(**overrides: object) -> MessageFacts:
    values: dict[str, object] = {
        "channel_id": THREAD,
        "thread_id": THREAD,
        "thread_parent_id": CHANNEL,
        "thread_owner_id": ALICE,
        "content": "follow-up",
        "mentioned_user_ids": frozenset(),
    }
    values.update(overrides)
    return facts(**values)


def test_a_thread_message_without_a_mention_is_left_to_the_core() -> None:
    """The client cannot know whether Mnemo takes part in someone else's thread: the core decides,
    in the conversation's turn (`only_if_following`)."""
    message = incoming(in_thread(), follows=None)
    assert message is not None
    assert message.only_if_following
    assert (message.channel, message.thread) == (str(CHANNEL), str(THREAD))


def test_a_mention_or_mnemos_own_thread_needs_no_check() -> None:
    mentioned = incoming(in_thread(content=f"<@{BOT}> hi", mentioned_user_ids=frozenset({BOT})), follows=None)
    assert mentioned is not None
    assert not mentioned.only_if_following
    own = incoming(in_thread(thread_owner_id=BOT), follows=None)
    assert own is not None
    assert not own.only_if_following
    # Outside threads nothing is left to the core: no mention, no answer.
    assert incoming(facts(content="x", mentioned_user_ids=frozenset()), follows=None) is None


def test_the_server_and_the_authors_roles_travel_with_the_message() -> None:
    message = incoming(facts(author_role_ids=frozenset({GUILD, 1_000_000_000_000_000_050})))
    assert message is not None
    assert message.server == str(GUILD)
    assert message.roles == {str(GUILD), "1000000000000000050"}


def test_a_dm_has_no_server_and_no_roles() -> None:
    message = incoming(facts(guild_id=None, mentioned_user_ids=frozenset()))
    assert message is not None
    assert (message.server, message.roles) == ("", frozenset())
