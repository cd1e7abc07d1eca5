"""Pure translation: Discord facts -> IncomingMessage, answers -> Discord-sized messages, /memory."""

from __future__ import annotations

import json
import random
import re

import discord
import pytest
from discord.enums import try_enum

from adapters.discord.commands import (
    ConfirmPress,
    commands_need_sync,
    confirm_custom_id,
    confirm_problem,
    memory_command,
    parse_confirm,
    render_result,
)
from adapters.discord.privacy import EveryoneAccess, PlaceFacts, Privacy, place_privacy
from adapters.discord.render import MESSAGE_LIMIT, nonce_for, split_message, thread_name
from adapters.discord.translate import MessageFacts, clean_text, to_incoming
from config import DiscordReplyMode
from core.commands import CommandName, CommandResult
from core.errors import UserFacingError
from core.models import IncomingMessage, MemoryItem, MemoryPage, Platform

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
    follows: bool = False,
    privacy: Privacy | None = None,
) -> IncomingMessage | None:
    if privacy is None:
        privacy = DIRECT if f.is_dm else PUBLIC
    return to_incoming(f, bot_user_id=BOT, reply_mode=mode, follows_thread=follows, privacy=privacy)


# -- inbound ---------------------------------------------------------------------------------------
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


# -- who can read the place ------------------------------------------------------------------------
T = discord.ChannelType
SEEN = EveryoneAccess(overwrite=None, role=True)  # nothing hides it
HIDDEN = EveryoneAccess(overwrite=False, role=True)  # the channel denies @everyone VIEW_CHANNEL
SERVER_HIDES = EveryoneAccess(overwrite=None, role=False)  # @everyone lacks VIEW_CHANNEL server-wide
GRANTED_BACK = EveryoneAccess(overwrite=True, role=False)  # ... but this channel grants it back
ROLE_UNKNOWN = EveryoneAccess(overwrite=None, role=None)  # a server discord.py has not loaded


@pytest.mark.parametrize(
    ("place", "private", "direct"),
    [
        (PlaceFacts(T.private), True, True),
        (PlaceFacts(T.group), True, False),
        (PlaceFacts(T.private_thread), True, False),
        (PlaceFacts(T.private_thread, SEEN), True, False),  # private whatever its parent
        (PlaceFacts(T.public_thread, SEEN), False, False),
        (PlaceFacts(T.news_thread, SEEN), False, False),
        (PlaceFacts(T.public_thread, HIDDEN), True, False),  # a thread is as private as its parent
        (PlaceFacts(T.news_thread, HIDDEN), True, False),
        (PlaceFacts(T.public_thread, SERVER_HIDES), True, False),
        (PlaceFacts(T.public_thread, GRANTED_BACK), False, False),
        (PlaceFacts(T.public_thread), True, False),  # parent unknown
        (PlaceFacts(T.public_thread, ROLE_UNKNOWN), True, False),
        (PlaceFacts(T.text, SEEN), False, False),
        (PlaceFacts(T.text, HIDDEN), True, False),
        (PlaceFacts(T.text, SERVER_HIDES), True, False),
        (PlaceFacts(T.text, GRANTED_BACK), False, False),
        (PlaceFacts(T.text, EveryoneAccess(overwrite=False, role=None)), True, False),
        (PlaceFacts(T.text, EveryoneAccess(overwrite=True, role=None)), False, False),
        (PlaceFacts(T.text, ROLE_UNKNOWN), True, False),
        (PlaceFacts(T.text), True, False),  # overwrites unknown
        (PlaceFacts(T.voice, SEEN), False, False),
        (PlaceFacts(T.voice, HIDDEN), True, False),
        (PlaceFacts(T.stage_voice, HIDDEN), True, False),
        (PlaceFacts(T.news, SEEN), False, False),
        (PlaceFacts(T.news, HIDDEN), True, False),
        (PlaceFacts(T.forum, SEEN), False, False),
        (PlaceFacts(T.forum, SERVER_HIDES), True, False),
        (PlaceFacts(T.media, HIDDEN), True, False),
        (PlaceFacts(None), True, False),  # e.g. a PartialMessageable that could not be looked up
        (PlaceFacts(None, SEEN), True, False),
        (PlaceFacts(try_enum(T, 99), SEEN), True, False),  # a channel type Discord adds later
    ],
)
def test_place_privacy_is_public_only_when_everyone_can_read_it(
    place: PlaceFacts, private: bool, direct: bool
) -> None:
    privacy = place_privacy(place)
    assert (privacy.is_private, privacy.is_direct) == (private, direct), privacy.reason
    assert privacy.reason


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


# -- outbound: splitting ---------------------------------------------------------------------------
def fences_balanced(chunk: str) -> bool:
    return chunk.count("```") % 2 == 0


def test_short_answers_are_one_message_unchanged() -> None:
    assert split_message("hello\n\nworld") == ["hello\n\nworld"]
    assert split_message("   \n ") == []


def test_long_prose_splits_on_line_then_word_boundaries() -> None:
    paragraph = " ".join(f"word{i}" for i in range(900))  # one 7k-character line
    chunks = split_message(paragraph + "\n" + paragraph)
    assert len(chunks) >= 4
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    words = " ".join(chunks).split()
    assert words == (paragraph + " " + paragraph).split()  # nothing lost, no word cut


def test_code_block_across_a_boundary_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step {i}" for i in range(120))
    text = "Here is the script:\n```python\n" + code + "\n```\nThat's it."
    chunks = split_message(text)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert len(chunk) <= MESSAGE_LIMIT
        assert fences_balanced(chunk), chunk[:80]
    assert chunks[1].startswith("```python\n")
    assert chunks[0].endswith("\n```")
    body = "\n".join(chunks)
    assert all(f"value_{i} = compute({i})" in body for i in range(120))
    assert chunks[-1].endswith("That's it.")


def test_a_line_without_spaces_is_hard_cut() -> None:
    chunks = split_message("x" * 4500)
    assert [len(c) for c in chunks] == [2000, 2000, 500]


def test_length_counts_like_discord_for_emoji() -> None:
    text = "😀" * 1500  # 3000 UTF-16 units
    chunks = split_message(text)
    assert all(len(c.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT for c in chunks)
    assert "".join(chunks) == text


def test_random_documents_always_split_into_valid_chunks() -> None:
    rng = random.Random(7)
    vocabulary = ["alpha", "beta", "```", "```js", "    indented", "", "x" * 300, "long " * 80, "😀"]
    for _ in range(200):
        text = "\n".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 120)))
        chunks = split_message(text)
        for chunk in chunks:
            assert len(chunk.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
            assert chunk.strip()
        if text.count("```") % 2 == 0 and len(text) > MESSAGE_LIMIT:
            assert all(fences_balanced(c) for c in chunks)
        original = re.sub(r"\s+|```\w*", "", text)
        rebuilt = re.sub(r"\s+|```\w*", "", "\n".join(chunks))
        assert rebuilt == original


def test_nonce_is_stable_and_fits_discord() -> None:
    assert nonce_for(MESSAGE, 3) == nonce_for(str(MESSAGE), 3)
    assert nonce_for(MESSAGE, 0) != nonce_for(MESSAGE, 1)
    assert len(nonce_for(2**64 - 1, 999)) <= 25


def test_thread_name_is_the_first_line_within_100_chars() -> None:
    assert thread_name("\n  What is   up?\nmore", fallback="Mnemo") == "What is up?"
    assert len(thread_name("a" * 300, fallback="Mnemo")) == 100
    assert thread_name("  ", fallback="Mnemo answers") == "Mnemo answers"


# -- /memory ---------------------------------------------------------------------------------------
def test_memory_command_maps_options_to_core_commands() -> None:
    show = memory_command("show", query="  coffee   beans ", page=2)
    assert (show.name, show.argument, show.page) == (CommandName.SHOW, "coffee beans", 1)
    assert memory_command("forget", memory_id=" `abc-123` ").argument == "abc-123"
    assert memory_command("forget-all").confirmed is False
    assert memory_command("forget-all", confirmed=True).confirmed is True
    assert memory_command("export").name is CommandName.EXPORT


@pytest.mark.parametrize(
    ("subcommand", "kwargs", "message"),
    [
        ("forget", {"memory_id": ""}, "Give the id"),
        ("forget", {"memory_id": "a b; drop"}, "doesn't look like a memory id"),
        ("show", {"page": 0}, "page starts at 1"),
        ("show", {"query": "x" * 300}, "too long"),
        ("explode", {}, "Unknown /memory command"),
    ],
)
def test_bad_command_input_gets_a_clear_error(
    subcommand: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UserFacingError, match=message):
        memory_command(subcommand, **kwargs)  # type: ignore[arg-type]


def item(n: int) -> MemoryItem:
    return MemoryItem(f"id-{n}", f"fact number {n}", "2026-11-01T10:00:00", "discord", "123", n % 2 == 0)


def test_show_renders_an_embed_with_ids_and_next_page_hint() -> None:
    page = MemoryPage([item(n) for n in range(10)], offset=0, total=23)
    answer = render_result(CommandResult("text", page=page), user_id=ALICE, size_limit=10)
    assert answer.embed is not None
    description = answer.embed.description or ""
    assert "`id-3`" in description
    assert "fact number 3" in description
    assert "page:2" in description
    assert "1-10 of 23" in (answer.embed.title or "")


def test_export_becomes_a_json_file_unless_too_large() -> None:
    document = json.dumps({"memories": [{"text": "x"}]})
    answer = render_result(CommandResult("Here", export_json=document), user_id=ALICE, size_limit=10_000)
    assert answer.file is not None
    assert json.loads(answer.file[1]) == {"memories": [{"text": "x"}]}
    too_big = render_result(CommandResult("Here", export_json=document), user_id=ALICE, size_limit=5)
    assert too_big.file is None
    assert "more than Discord lets me attach" in too_big.content


def test_forget_all_asks_for_a_confirmation_owned_by_the_asker() -> None:
    answer = render_result(CommandResult("Sure?", needs_confirmation=True), user_id=ALICE, size_limit=1)
    assert answer.confirm_for == ALICE


def test_confirm_buttons_check_owner_and_expiry_statelessly() -> None:
    custom_id = confirm_custom_id("yes", user_id=ALICE, expires_at=1_000)
    match = re.fullmatch(r"mnemo:forget-all:(?P<action>yes|no):(?P<user>\d+):(?P<expires>\d+)", custom_id)
    assert match is not None
    assert len(custom_id) <= 100
    press = parse_confirm(match)
    assert press == ConfirmPress("yes", ALICE, 1_000)
    assert confirm_problem(press, presser_id=ALICE, now=999) is None
    assert "Only the person who asked" in (confirm_problem(press, presser_id=BOB, now=999) or "")
    assert "expired" in (confirm_problem(press, presser_id=ALICE, now=1_001) or "")


# -- command sync ----------------------------------------------------------------------------------
LOCAL = [
    {
        "name": "memory",
        "description": "mem",
        "type": 1,
        "options": [{"name": "show", "description": "d", "type": 1, "options": []}],
        "nsfw": False,
        "default_member_permissions": None,
        "contexts": [0, 1],
    }
]


def test_commands_in_sync_when_discord_only_added_its_own_fields() -> None:
    remote = [
        {
            **LOCAL[0],
            "id": "55",
            "application_id": "1",
            "version": "9",
            "contexts": [0, 1],
            "options": [{"name": "show", "description": "d", "type": 1}],
            "name_localizations": None,
        }
    ]
    assert not commands_need_sync(LOCAL, remote)


@pytest.mark.parametrize(
    "remote",
    [
        [],
        [{**LOCAL[0], "description": "old"}],
        [{**LOCAL[0], "options": []}],
        [LOCAL[0], {"name": "legacy", "type": 1, "description": "x"}],
    ],
)
def test_commands_need_sync_when_anything_we_set_differs(remote: list[dict[str, object]]) -> None:
    assert commands_need_sync(LOCAL, remote)
