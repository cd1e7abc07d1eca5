"""Where a memory was learned decides where it is recalled: end to end through the real discord.py
client, the real core and mem0, fake Discord and a fake model that records every prompt.

Each case tells a secret somewhere, then asks in a public channel of the same server and of another
server (the secret must never reach those prompts), and in a DM (where it must: proof that it was
remembered at all, privately). First, the rule itself (pure) on every kind of place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord
import pytest
from discord.enums import try_enum

from adapters.discord.privacy import EveryoneAccess, PlaceFacts, place_privacy
from tests.adapters.discord.conftest import Bot, RunBot, is_post_to, new_user
from tests.fakes.discord_server import (
    EVERYONE_PERMISSIONS,
    NEWS,
    NEWS_THREAD,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    TEXT,
    VIEW_CHANNEL,
    FakeDiscord,
)

# Recall every memory of the person, so a missing secret is missing because of where it was told.
RECALL_ALL = {"memory_recall_limit": 50}


# -- the rule, pure: who can read the place ---------------------------------------------------------
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


@dataclass
class World:
    guild: int  # the server where things are told
    public: int  # a channel of that server everyone can read
    other_guild: int
    other_public: int  # a channel of another server everyone can read


def build_world(fake: FakeDiscord, *, everyone_permissions: int = EVERYONE_PERMISSIONS) -> World:
    """Two servers, before the bot connects (GUILD_CREATE carries what exists at that moment)."""
    guild, [first] = fake.add_guild(name="Here", everyone_permissions=everyone_permissions)
    public = first
    if not everyone_permissions & VIEW_CHANNEL:
        # A server hidden by default: a channel is public only where an overwrite grants it back.
        granted = fake.everyone_overwrite(guild, allow=VIEW_CHANNEL)
        public = fake.add_channel(guild_id=guild, name="lobby", overwrites=[granted])
    other_guild, [other_public] = fake.add_guild(name="Elsewhere")
    return World(guild, public, other_guild, other_public)


def hidden(fake: FakeDiscord, guild_id: int) -> list[dict[str, Any]]:
    return [fake.everyone_overwrite(guild_id, deny=VIEW_CHANNEL)]


def prompt_of(bot: Bot, question: str) -> str:
    """Everything the model was shown when it answered `question` (asked exactly once)."""
    [prompt] = [p for p in bot.openai.chat_prompts() if p and p[-1].get("content") == question]
    return "\n".join(str(m.get("content")) for m in prompt)


async def say_in(bot: Bot, text: str, *, user: int, channel_id: int, guild_id: int | None) -> str:
    """Mention Mnemo in a server channel or thread (or write in a DM when `guild_id` is None);
    returns the prompt the model answered."""
    before = len(bot.fake.channel_posts(channel_id))
    if guild_id is None:
        await bot.dm(text, user_id=user, channel_id=channel_id)
    else:
        await bot.say(text, user_id=user, channel_id=channel_id, guild_id=guild_id)
    await bot.fake.wait_for(is_post_to(channel_id), count=before + 1)
    return prompt_of(bot, text)


async def tell(bot: Bot, secret: str, *, user: int, channel_id: int, guild_id: int | None) -> None:
    await say_in(bot, f"my secret is {secret}", user=user, channel_id=channel_id, guild_id=guild_id)
    await bot.settle()  # a streamed answer is posted before the core queues its memory write
    assert await bot.core.writer.flush(10)  # the memory write is asynchronous


async def public_prompts(bot: Bot, world: World, *, user: int, tag: str) -> list[str]:
    """Ask about oneself in a public channel of the same server and of another server."""
    return [
        await say_in(
            bot, f"what is my secret? ({tag}, {where})", user=user, channel_id=channel, guild_id=guild
        )
        for where, channel, guild in (
            ("this server", world.public, world.guild),
            ("another server", world.other_public, world.other_guild),
        )
    ]


async def assert_kept_private(bot: Bot, world: World, *, user: int, secret: str) -> None:
    for prompt in await public_prompts(bot, world, user=user, tag="public"):
        assert secret not in prompt
    dm = bot.fake.add_dm_channel(user)
    in_dm = await say_in(bot, "what is my secret? (dm)", user=user, channel_id=dm, guild_id=None)
    assert secret in in_dm  # it was remembered: only where it was told decides where it shows


# -- private places --------------------------------------------------------------------------------
async def test_a_secret_told_in_a_private_thread_stays_out_of_public_channels(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord)
    user = new_user()
    thread = fake_discord.add_thread(
        guild_id=world.guild, parent_id=world.public, owner_id=user, thread_type=PRIVATE_THREAD
    )
    async with run_bot(**RECALL_ALL) as bot:
        await tell(bot, "5521-heron", user=user, channel_id=thread, guild_id=world.guild)
        await assert_kept_private(bot, world, user=user, secret="5521-heron")


async def test_a_secret_told_in_a_channel_everyone_cannot_view_stays_out_of_public_channels(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord)
    staff = fake_discord.add_channel(
        guild_id=world.guild, name="staff", overwrites=hidden(fake_discord, world.guild)
    )
    async with run_bot(**RECALL_ALL) as bot:
        user = new_user()
        await tell(bot, "88-walrus", user=user, channel_id=staff, guild_id=world.guild)
        await assert_kept_private(bot, world, user=user, secret="88-walrus")


async def test_in_a_server_everyone_cannot_view_by_default_only_granted_channels_are_public(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord, everyone_permissions=EVERYONE_PERMISSIONS & ~VIEW_CHANNEL)
    members_only = fake_discord.add_channel(guild_id=world.guild, name="members")  # no overwrite
    async with run_bot(**RECALL_ALL) as bot:
        user = new_user()
        await tell(bot, "3310-otter", user=user, channel_id=members_only, guild_id=world.guild)
        await assert_kept_private(bot, world, user=user, secret="3310-otter")
        # Control: the channel whose overwrite grants @everyone VIEW_CHANNEL back is public.
        await tell(bot, "blue-falcon", user=user, channel_id=world.public, guild_id=world.guild)
        asked = "what is my secret? (elsewhere)"
        await say_in(bot, asked, user=user, channel_id=world.other_public, guild_id=world.other_guild)
        assert "blue-falcon" in prompt_of(bot, asked)


@pytest.mark.parametrize(("thread_type", "parent_type"), [(PUBLIC_THREAD, TEXT), (NEWS_THREAD, NEWS)])
async def test_a_public_thread_of_a_hidden_channel_is_private(
    run_bot: RunBot, fake_discord: FakeDiscord, thread_type: int, parent_type: int
) -> None:
    world = build_world(fake_discord)
    user = new_user()
    parent = fake_discord.add_channel(
        guild_id=world.guild, channel_type=parent_type, overwrites=hidden(fake_discord, world.guild)
    )
    thread = fake_discord.add_thread(
        guild_id=world.guild, parent_id=parent, owner_id=user, thread_type=thread_type
    )
    async with run_bot(**RECALL_ALL) as bot:
        await tell(bot, "42-lynx", user=user, channel_id=thread, guild_id=world.guild)
        await assert_kept_private(bot, world, user=user, secret="42-lynx")


async def test_a_group_dm_is_private_but_not_direct(run_bot: RunBot, fake_discord: FakeDiscord) -> None:
    world = build_world(fake_discord)
    async with run_bot(**RECALL_ALL) as bot:
        user = new_user()
        group = bot.fake.add_group_dm_channel([user, new_user()])
        dm = bot.fake.add_dm_channel(user)
        await tell(bot, "Dr-Quokka", user=user, channel_id=dm, guild_id=None)
        await tell(bot, "night-heron", user=user, channel_id=group, guild_id=None)
        # Other people read a group DM: what was said one-to-one is not recalled there.
        in_group = await say_in(bot, "what is my secret? (group)", user=user, channel_id=group, guild_id=None)
        assert "Dr-Quokka" not in in_group
        await assert_kept_private(bot, world, user=user, secret="night-heron")


# -- the control: public places are public ---------------------------------------------------------
async def test_a_public_thread_of_a_public_channel_is_recalled_in_public(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord)
    user = new_user()
    thread = fake_discord.add_thread(guild_id=world.guild, parent_id=world.public, owner_id=user)
    async with run_bot(**RECALL_ALL) as bot:
        await tell(bot, "Biscuit-7", user=user, channel_id=thread, guild_id=world.guild)
        for prompt in await public_prompts(bot, world, user=user, tag="public"):
            assert "Biscuit-7" in prompt


# -- unknown is private ----------------------------------------------------------------------------
async def test_a_channel_whose_privacy_cannot_be_learned_counts_as_private(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord)
    # Public on Discord, but not in GUILD_CREATE: discord.py has to ask about it over REST.
    unlisted = fake_discord.add_channel(guild_id=world.guild, name="unlisted", cached=False)
    async with run_bot(**RECALL_ALL) as bot:
        user = new_user()
        bot.fake.fail_next("GET", f"/channels/{unlisted}", status=403, times=1000)
        await tell(bot, "7741-ibis", user=user, channel_id=unlisted, guild_id=world.guild)
        await assert_kept_private(bot, world, user=user, secret="7741-ibis")
        # Once Discord answers, the same channel is public: only the failed lookup made it private.
        bot.fake.clear_faults()
        await tell(bot, "Pixel-9", user=user, channel_id=unlisted, guild_id=world.guild)
        for prompt in await public_prompts(bot, world, user=user, tag="again"):
            assert "Pixel-9" in prompt
            assert "7741-ibis" not in prompt


async def test_a_thread_whose_parent_cannot_be_looked_up_counts_as_private(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord)
    user = new_user()
    # A parent channel that is neither cached nor known to Discord any more (deleted).
    orphan = fake_discord.add_thread(guild_id=world.guild, parent_id=new_user(), owner_id=user, cached=False)
    async with run_bot(**RECALL_ALL) as bot:
        await tell(bot, "909-newt", user=user, channel_id=orphan, guild_id=world.guild)
        await assert_kept_private(bot, world, user=user, secret="909-newt")


async def test_a_dm_discord_will_not_describe_is_not_treated_as_direct(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    async with run_bot(**RECALL_ALL) as bot:
        user = new_user()
        dm = bot.fake.add_dm_channel(user)
        await tell(bot, "mumps-theta", user=user, channel_id=dm, guild_id=None)
        # discord.py makes every guild-less channel a DMChannel; it could be a group DM.
        unknown = bot.fake.add_dm_channel(user)
        bot.fake.fail_next("GET", f"/channels/{unknown}", status=403, times=1000)
        first = await say_in(bot, "what is my secret? (1)", user=user, channel_id=unknown, guild_id=None)
        assert "mumps-theta" not in first
        bot.fake.clear_faults()
        second = await say_in(bot, "what is my secret? (2)", user=user, channel_id=unknown, guild_id=None)
        assert "mumps-theta" in second  # Discord said it is a DM: direct after all


# -- permission changes take effect ----------------------------------------------------------------
async def test_hiding_a_channel_or_the_whole_server_takes_effect_at_once(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord)
    room = fake_discord.add_channel(guild_id=world.guild, name="room")
    hall = fake_discord.add_channel(guild_id=world.guild, name="hall")
    async with run_bot(**RECALL_ALL) as bot:
        user = new_user()
        await tell(bot, "Fern-1", user=user, channel_id=room, guild_id=world.guild)
        # CHANNEL_UPDATE: @everyone may no longer view the room.
        await bot.fake.update_channel(room, permission_overwrites=hidden(bot.fake, world.guild))
        await tell(bot, "6060-moth", user=user, channel_id=room, guild_id=world.guild)
        # GUILD_ROLE_UPDATE: @everyone may no longer view anything without an overwrite.
        await bot.fake.update_everyone_role(world.guild, permissions=EVERYONE_PERMISSIONS & ~VIEW_CHANNEL)
        await tell(bot, "1212-crane", user=user, channel_id=hall, guild_id=world.guild)
        asked = "what is my secret? (elsewhere)"
        await say_in(bot, asked, user=user, channel_id=world.other_public, guild_id=world.other_guild)
        prompt = prompt_of(bot, asked)
        assert "Fern-1" in prompt  # told while the room was public
        assert "6060-moth" not in prompt
        assert "1212-crane" not in prompt


async def test_a_channel_looked_up_over_rest_is_looked_up_again_after_it_changes(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    world = build_world(fake_discord)
    unlisted = fake_discord.add_channel(guild_id=world.guild, name="unlisted", cached=False)
    async with run_bot(**RECALL_ALL) as bot:
        user = new_user()
        await tell(bot, "Gull-3", user=user, channel_id=unlisted, guild_id=world.guild)
        await tell(bot, "Vole-4", user=user, channel_id=unlisted, guild_id=world.guild)
        lookups = bot.fake.find("GET", f"/channels/{unlisted}")
        assert len([r for r in lookups if r.path == f"/channels/{unlisted}"]) == 1  # asked once
        # discord.py drops a CHANNEL_UPDATE for a channel it does not cache; Mnemo must not.
        await bot.fake.update_channel(unlisted, permission_overwrites=hidden(bot.fake, world.guild))
        await tell(bot, "4004-wren", user=user, channel_id=unlisted, guild_id=world.guild)
        asked = "what is my secret? (elsewhere)"
        await say_in(bot, asked, user=user, channel_id=world.other_public, guild_id=world.other_guild)
        prompt = prompt_of(bot, asked)
        assert "Gull-3" in prompt
        assert "4004-wren" not in prompt
