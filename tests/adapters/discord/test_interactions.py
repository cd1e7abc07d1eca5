"""`/memory` app commands end to end: sync, every subcommand, the confirm button, timing."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from adapters.discord.commands import confirm_custom_id
from adapters.discord.translate import identity_of
from core.commands import Command, CommandName
from core.models import IdentityKey, MemoryItem, Platform
from tests.adapters.discord.conftest import (
    EPHEMERAL,
    Bot,
    RunBot,
    answer_text,
    assert_no_pings,
    callback_of,
    flags,
    new_user,
)
from tests.fakes.discord_server import FakeDiscord, Recorded
from tests.fakes.openai_server import FakeOpenAI


async def run_command(bot: Bot, user: int, subcommand: str, **options: Any) -> Recorded:
    payload = bot.fake.slash_command(
        user_id=user, subcommand=subcommand, options=options, guild_id=bot.guild_id, channel_id=bot.channel_id
    )
    await bot.fake.dispatch("INTERACTION_CREATE", payload)
    [callback] = await bot.fake.wait_for(callback_of(payload))
    return callback


async def learn(bot: Bot, user: int, *facts: str) -> list[MemoryItem]:
    """Tell Mnemo things in a DM and wait until they are remembered."""
    dm = bot.fake.add_dm_channel(user)
    for index, fact in enumerate(facts, start=1):
        await bot.dm(fact, user_id=user, channel_id=dm)
        await bot.fake.wait_for(
            lambda r: r.method == "POST" and r.path == f"/channels/{dm}/messages", count=index
        )
    # A streamed answer is posted before the core queues its memory write: wait for the handling.
    await bot.settle()
    assert await bot.core.writer.flush(10)
    account = await bot.core.store.resolve_account(_identity(user))
    return await bot.core.memory.export(account.id, epoch=0)


def _identity(user: int) -> IdentityKey:
    return identity_of(user)


async def test_commands_are_synced_once_and_not_again_when_unchanged(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        [put] = bot.fake.find("PUT", "/commands")
        assert put.path == f"/applications/{bot.fake.app_id}/commands"
        memory, remember, ask = sorted(put.json, key=lambda c: c["type"] * 100 + len(c["name"]))
        assert memory["name"] == "memory"
        assert memory["type"] == 1
        assert {o["name"] for o in memory["options"]} == {
            "show",
            "forget",
            "forget-all",
            "pause",
            "resume",
            "export",
            "usage",
            "link",
            "links",
            "unlink",
            "why",
        }
        # Servers, DMs with the bot and group DMs; installed on a server (0) or by a person (1).
        for command in (memory, remember, ask):
            assert command["contexts"] == [0, 1, 2]
            assert command["integration_types"] == [0, 1]
        assert (remember["name"], remember["type"]) == ("Remember this", 3)  # message context menu
        assert (ask["name"], ask["type"]) == ("Ask Mnemo about this", 3)
    async with run_bot() as bot:
        assert len(bot.fake.find("PUT", "/commands")) == 1  # second start: compared, nothing sent
        assert len(bot.fake.find("GET", "/commands")) == 2


async def test_guild_id_syncs_to_that_guild_only(run_bot: RunBot, fake_discord: FakeDiscord) -> None:
    guild_id, _ = fake_discord.add_guild(name="dev")
    async with run_bot(discord_guild_id=guild_id) as bot:
        [put] = bot.fake.find("PUT", "/commands")
        assert put.path == f"/applications/{bot.fake.app_id}/guilds/{guild_id}/commands"
        assert fake_discord.global_commands == []


async def test_show_lists_memories_ephemerally_with_ids(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        empty = await run_command(bot, user, "show")
        assert empty.body["type"] == 4
        assert flags(empty) & EPHEMERAL
        assert "don't remember anything about you yet" in answer_text(empty)
        [item] = await learn(bot, user, "my favourite tea is oolong-42")
        listed = await run_command(bot, user, "show")
        text = answer_text(listed)
        assert "oolong-42" in text
        assert item.id in text
        assert flags(listed) & EPHEMERAL
        # Someone else sees nothing of it.
        other = await run_command(bot, new_user(), "show")
        assert "oolong-42" not in answer_text(other)
        assert "Authorization" not in listed.headers  # interaction callbacks are token-addressed
        assert_no_pings(bot.fake)


async def test_slow_work_is_deferred_then_followed_up(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    async with run_bot() as bot:
        user = new_user()
        await learn(bot, user, "my bike is a green cargo bike")
        answering = fake_openai.hold("chat")  # "Ask Mnemo about this" needs a completion: held
        fake_openai.state.reply = lambda messages: "That is your green cargo bike."
        target = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=new_user(), content="whose bike?"
        )
        payload = bot.fake.message_command(
            name="Ask Mnemo about this",
            user_id=user,
            target=target,
            guild_id=bot.guild_id,
            channel_id=bot.channel_id,
        )
        await bot.fake.dispatch("INTERACTION_CREATE", payload)
        [callback] = await bot.fake.wait_for(callback_of(payload))
        assert callback.body["type"] == 5  # deferred ("thinking"), ephemeral
        assert callback.body["data"]["flags"] & EPHEMERAL
        answering.release()
        webhook = f"/webhooks/{bot.fake.app_id}/{payload['token']}"
        [followup] = await bot.fake.wait_for(lambda r: r.method == "POST" and r.path == webhook)
        assert "green cargo bike" in json.dumps(followup.body)
        assert followup.body["flags"] & EPHEMERAL
        assert followup.body["allowed_mentions"]["parse"] == []
        # The deferral itself arrived within Discord's window (the fake rejects late callbacks).
        assert bot.fake.original_of(payload).acked


async def test_forget_one_memory_by_id(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        first, second = await learn(bot, user, "i live in Ghent", "my cat is called Miso")
        gone = next(m for m in (first, second) if "Miso" in m.text)
        answer = await run_command(bot, user, "forget", id=gone.id)
        assert "Forgotten" in answer_text(answer)
        assert "Miso" in answer_text(answer)
        left = await bot.core.memory.export(
            (await bot.core.store.resolve_account(_identity(user))).id, epoch=0
        )
        assert [m.text for m in left] == [next(m for m in (first, second) if m is not gone).text]


async def test_forget_with_a_bad_or_unknown_id_explains(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        bad = await run_command(bot, user, "forget", id="not an id!")
        assert "doesn't look like a memory id" in answer_text(bad)
        unknown = await run_command(bot, user, "forget", id="0000-nope")
        assert flags(unknown) & EPHEMERAL
        assert "No memory with id 0000-nope" in answer_text(unknown)


async def test_forget_autocompletes_the_persons_own_memories(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        [item] = await learn(bot, user, "my locker is number 77")
        await learn(bot, new_user(), "my locker is number 12")  # someone else's
        payload = bot.fake.slash_command(
            user_id=user,
            subcommand="forget",
            options={"id": ("locker", True)},
            guild_id=bot.guild_id,
            channel_id=bot.channel_id,
            interaction_type=4,
        )
        await bot.fake.dispatch("INTERACTION_CREATE", payload)
        [callback] = await bot.fake.wait_for(callback_of(payload))
        assert callback.body["type"] == 8
        choices = callback.body["data"]["choices"]
        assert choices == [{"name": item.text, "value": item.id}]


async def test_forget_all_erases_only_after_the_askers_confirmation(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user, stranger = new_user(), new_user()
        await learn(bot, user, "my passport number is X123")
        asked = await run_command(bot, user, "forget-all")
        assert flags(asked) & EPHEMERAL
        assert "cannot be undone" in answer_text(asked)
        [row] = asked.body["data"]["components"]
        confirm, cancel = row["components"]
        assert confirm["label"] == "Erase everything"
        assert cancel["label"] == "Cancel"
        account = await bot.core.store.resolve_account(_identity(user))
        prompt_payload = bot.fake.interactions[int(_last_interaction_id(bot))]
        message = prompt_payload.original
        assert message is not None

        # Someone else pressing it: told off, nothing erased.
        press = bot.fake.button_press(
            user_id=stranger,
            custom_id=confirm["custom_id"],
            message=message,
            guild_id=bot.guild_id,
            channel_id=bot.channel_id,
        )
        await bot.fake.dispatch("INTERACTION_CREATE", press)
        [refused] = await bot.fake.wait_for(callback_of(press))
        assert "Only the person who asked" in answer_text(refused)
        assert flags(refused) & EPHEMERAL
        assert len(await bot.core.memory.export(account.id, epoch=0)) == 1

        # The asker confirms: deferred update, then the prompt becomes the result, buttons gone.
        press = bot.fake.button_press(
            user_id=user,
            custom_id=confirm["custom_id"],
            message=message,
            guild_id=bot.guild_id,
            channel_id=bot.channel_id,
        )
        await bot.fake.dispatch("INTERACTION_CREATE", press)
        [deferred] = await bot.fake.wait_for(callback_of(press))
        assert deferred.body["type"] == 6
        original = f"/webhooks/{bot.fake.app_id}/{press['token']}/messages/@original"
        [edit] = await bot.fake.wait_for(lambda r: r.method == "PATCH" and r.path == original)
        assert "I erased 1 memory" in edit.body["content"]
        assert edit.body["components"] == []
        assert await bot.core.memory.export(account.id, epoch=0) == []
        assert_no_pings(bot.fake)


async def test_forget_all_cancel_and_expired_confirmations_erase_nothing(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        await learn(bot, user, "my bank is Argenta")
        account = await bot.core.store.resolve_account(_identity(user))
        for custom_id, expected in [
            (confirm_custom_id("no", user_id=user, expires_at=time.time() + 600), "Cancelled"),
            (confirm_custom_id("yes", user_id=user, expires_at=time.time() - 1), "expired"),
        ]:
            message = bot.fake.message(
                channel_id=bot.channel_id, author_id=bot.bot_id, content="Sure?", bot=True
            )
            message["components"] = [
                {"type": 1, "components": [{"type": 2, "style": 4, "label": "x", "custom_id": custom_id}]}
            ]
            press = bot.fake.button_press(
                user_id=user,
                custom_id=custom_id,
                message=message,
                guild_id=bot.guild_id,
                channel_id=bot.channel_id,
            )
            await bot.fake.dispatch("INTERACTION_CREATE", press)
            [callback] = await bot.fake.wait_for(callback_of(press))
            assert callback.body["type"] == 7  # the prompt is updated in place
            assert expected in callback.body["data"]["content"]
            assert callback.body["data"]["components"] == []
        assert len(await bot.core.memory.export(account.id, epoch=0)) == 1


async def test_pause_and_resume(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    async with run_bot() as bot:
        user = new_user()
        paused = await run_command(bot, user, "pause")
        assert "Paused" in answer_text(paused)
        assert flags(paused) & EPHEMERAL
        assert await learn(bot, user, "my shoe size is 44") == []
        resumed = await run_command(bot, user, "resume")
        assert "Resumed" in answer_text(resumed)
        assert [m.text for m in await learn(bot, user, "my hat size is 58")] == ["my hat size is 58"]


async def test_export_sends_a_json_file_only_to_the_asker(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        await learn(bot, user, "my favourite colour is teal")
        exported = await run_command(bot, user, "export")
        assert exported.body["type"] == 4
        assert flags(exported) & EPHEMERAL
        [(name, content)] = exported.files
        assert name == "mnemo-memories.json"
        document = json.loads(content)
        assert [m["text"] for m in document["memories"]] == ["my favourite colour is teal"]
        assert document["memories"][0]["private"] is True


async def test_commands_work_in_dms_too(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        dm = bot.fake.add_dm_channel(user)
        payload = bot.fake.slash_command(user_id=user, subcommand="pause", channel_id=dm)
        await bot.fake.dispatch("INTERACTION_CREATE", payload)
        [callback] = await bot.fake.wait_for(callback_of(payload))
        assert "Paused" in answer_text(callback)


def _last_interaction_id(bot: Bot) -> int:
    acked = [
        i for i in bot.fake.interactions.values() if i.original is not None and i.original.get("components")
    ]
    return acked[-1].id


async def test_link_discord_with_another_platform(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        issued = await run_command(bot, user, "link")
        assert flags(issued) & EPHEMERAL
        match = re.search(r"link code is (\S+)", answer_text(issued))
        assert match is not None
        console = IdentityKey(Platform.CONSOLE, "local", "alice")
        linked = await bot.core.commands.run(console, Command(CommandName.LINK, argument=match.group(1)))
        assert "Discord" in linked.text
        listed = await run_command(bot, user, "links")
        assert "Console" in answer_text(listed)
        assert "Discord" in answer_text(listed)
        payload = bot.fake.slash_command(
            user_id=user,
            subcommand="unlink",
            options={"platform": "console"},
            guild_id=bot.guild_id,
            channel_id=bot.channel_id,
        )
        await bot.fake.dispatch("INTERACTION_CREATE", payload)
        [unlinked] = await bot.fake.wait_for(callback_of(payload))
        assert "Unlinked Console" in answer_text(unlinked)
        bad = await run_command(bot, user, "link", code="WRONG-CODE")
        assert "not valid" in answer_text(bad)
