"""Issue 8 over the real adapters: one person links Slack and Discord, and from then on is one
person to Mnemo on both, with the privacy rule intact. The fake model echoes its whole prompt, so
what a reply shows is exactly what the model was given."""

from __future__ import annotations

import re
from typing import Any

from adapters.discord.translate import identity_of
from core.models import IdentityKey, Platform
from tests.adapters.discord.conftest import (
    EPHEMERAL,
    Bot,
    answer_text,
    assert_no_pings,
    callback_of,
    flags,
    new_user,
    prompt_text,
)
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness, blocks_text
from tests.linking.conftest import BothDoors

CODE = re.compile(r"\b([A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4})\b")
ALICE_SLACK = IdentityKey(Platform.SLACK, p.TEAM, p.ALICE)


async def slack_memory(slack: SlackHarness, text: str, *, name: str) -> dict[str, Any]:
    """`/memory <text>` in Slack; the answer that came back through response_url."""
    response = await slack.command(text, name=name)
    assert response.status_code == 200
    answer = await slack.response(name)
    assert answer["response_type"] == "ephemeral"  # only the person who asked sees it
    return answer


async def discord_memory(bot: Bot, user: int, subcommand: str, **options: Any) -> tuple[str, int]:
    """`/memory <subcommand>` in the Discord server: (answer text, message flags), answered at once
    or deferred and followed up."""
    payload = bot.fake.slash_command(
        user_id=user, subcommand=subcommand, options=options, guild_id=bot.guild_id, channel_id=bot.channel_id
    )
    await bot.fake.dispatch("INTERACTION_CREATE", payload)
    [callback] = await bot.fake.wait_for(callback_of(payload))
    if callback.body["type"] == 4:
        return answer_text(callback), flags(callback)
    assert callback.body["type"] == 5, callback.body  # deferred: the answer is a follow-up
    webhook = f"/webhooks/{bot.fake.app_id}/{payload['token']}"
    [followup] = await bot.fake.wait_for(
        lambda r: r.method in ("POST", "PATCH") and r.path.startswith(webhook)
    )
    return str(followup.body.get("content") or ""), int(followup.body.get("flags") or flags(callback))


async def slack_dm(slack: SlackHarness, text: str) -> str:
    before = len(slack.slack.posted())
    await slack.event(p.dm(text))
    await slack.settle()
    assert await slack.core.writer.flush(10)
    posted = slack.slack.posted()
    assert len(posted) == before + 1
    return posted[-1].text


async def discord_dm(bot: Bot, user: int, dm_channel: int, text: str) -> str:
    """A DM to Mnemo on Discord; what the model was shown for it."""
    sent = len(bot.fake.channel_posts(dm_channel))
    await bot.dm(text, user_id=user, channel_id=dm_channel)
    await bot.fake.wait_for(
        lambda r: r.method == "POST" and r.path == f"/channels/{dm_channel}/messages", count=sent + 1
    )
    return prompt_text(bot)


async def discord_server_message(bot: Bot, user: int, text: str) -> str:
    sent = len(bot.fake.channel_posts(bot.channel_id))
    await bot.say(text, user_id=user)
    await bot.fake.wait_for(
        lambda r: r.method == "POST" and r.path == f"/channels/{bot.channel_id}/messages", count=sent + 1
    )
    return prompt_text(bot)


async def link_slack_to_discord(both: BothDoors, discord_user: int) -> str:
    issued = await slack_memory(both.slack, "link", name="link")
    shown = blocks_text(issued)
    match = CODE.search(shown)
    assert match is not None, shown
    answer, message_flags = await discord_memory(both.discord, discord_user, "link", code=match.group(1))
    assert message_flags & EPHEMERAL
    return answer


async def test_link_in_slack_redeem_in_discord_then_one_memory_with_privacy(both: BothDoors) -> None:
    user = new_user()
    slack, discord = both.slack, both.discord

    linked = await link_slack_to_discord(both, user)

    assert "Linked. Your memory now spans: Discord, Slack." in linked
    slack_account = await both.core.store.resolve_account(ALICE_SLACK)
    assert (await both.core.store.resolve_account(identity_of(user))).id == slack_account.id

    await slack_dm(slack, "my blood type is AB-negative-7734")
    dm_channel = discord.fake.add_dm_channel(user)
    in_discord_dm = await discord_dm(discord, user, dm_channel, "what is my blood type?")
    assert "AB-negative-7734" in in_discord_dm
    in_server = await discord_server_message(discord, user, "what is my blood type?")
    assert "what is my blood type?" in in_server  # the model saw this question...
    assert "AB-negative-7734" not in in_server  # ...and not the fact learned in a private chat

    links_in_slack = await slack_memory(slack, "links", name="links")
    assert "Linked to your memory: Discord, Slack." in blocks_text(links_in_slack)
    links_in_discord, message_flags = await discord_memory(discord, user, "links")
    assert "Linked to your memory: Discord, Slack." in links_in_discord
    assert message_flags & EPHEMERAL
    assert_no_pings(discord.fake)


async def test_erasure_from_discord_leaves_nothing_of_a_slack_fact_on_disk(both: BothDoors) -> None:
    user = new_user()
    canary = "platypuscanary5519"
    await slack_dm(both.slack, f"my locker combination is {canary}")  # before linking: merged in
    await link_slack_to_discord(both, user)
    await slack_dm(both.slack, f"and my bike lock is {canary}-2")  # after linking
    slack_account = await both.core.store.resolve_account(ALICE_SLACK)
    assert any(canary in item.text for item in await both.core.memory.export(slack_account.id, epoch=0))
    data_dir = both.core.settings.data_dir
    assert [path for path in data_dir.rglob("*") if path.is_file() and canary.encode() in path.read_bytes()]

    bot = both.discord
    payload = bot.fake.slash_command(
        user_id=user, subcommand="forget-all", guild_id=bot.guild_id, channel_id=bot.channel_id
    )
    await bot.fake.dispatch("INTERACTION_CREATE", payload)
    [asked] = await bot.fake.wait_for(callback_of(payload))
    assert "cannot be undone" in answer_text(asked)
    [row] = asked.body["data"]["components"]
    confirm = row["components"][0]
    prompt = bot.fake.original_of(payload).original
    assert prompt is not None
    press = bot.fake.button_press(
        user_id=user,
        custom_id=confirm["custom_id"],
        message=prompt,
        guild_id=bot.guild_id,
        channel_id=bot.channel_id,
    )
    await bot.fake.dispatch("INTERACTION_CREATE", press)
    original = f"/webhooks/{bot.fake.app_id}/{press['token']}/messages/@original"
    [done] = await bot.fake.wait_for(lambda r: r.method == "PATCH" and r.path == original)
    assert "I erased" in done.body["content"]

    assert await both.core.memory.export(slack_account.id, epoch=0) == []
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert files, "nothing was ever written: the scan would prove nothing"
    assert [path for path in files if canary.encode() in path.read_bytes()] == []
    # Slack is the same person still, with nothing remembered.
    shown = await slack_memory(both.slack, "show", name="show")
    assert "I don't remember anything about you yet." in blocks_text(shown)


async def test_a_wrong_code_in_discord_links_nothing_and_says_why(both: BothDoors) -> None:
    user = new_user()
    await slack_memory(both.slack, "link", name="link")

    answer, message_flags = await discord_memory(both.discord, user, "link", code="ZZZZ-ZZZZ")

    assert "That code is not valid" in answer
    assert message_flags & EPHEMERAL
    slack_account = await both.core.store.resolve_account(ALICE_SLACK)
    assert (await both.core.store.resolve_account(identity_of(user))).id != slack_account.id
    assert [i.platform for i in await both.core.store.list_identities(slack_account.id)] == [Platform.SLACK]
