"""Whose memories reach whose replies. The fake model echoes its whole prompt, so a reply shows
exactly what the model was given."""

from __future__ import annotations

from core.models import IdentityKey, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness


async def _say(harness: SlackHarness, event: dict[str, object]) -> str:
    before = len(harness.slack.posted())
    await harness.event(event)
    await harness.settle()
    assert await harness.core.writer.flush(10)
    posted = harness.slack.posted()
    assert len(posted) == before + 1
    return posted[-1].text


async def test_two_users_in_one_channel_never_see_each_others_memories(slack_http: SlackHarness) -> None:
    await _say(slack_http, p.app_mention("my locker code is 4711", user=p.ALICE))
    await _say(slack_http, p.app_mention("my favourite band is Low", user=p.BOB))

    bob_reply = await _say(slack_http, p.app_mention("what is my locker code? my band?", user=p.BOB))
    alice_reply = await _say(slack_http, p.app_mention("what is my locker code? my band?", user=p.ALICE))

    assert "4711" not in bob_reply
    assert "favourite band is Low" in bob_reply  # Bob's own memory is recalled...
    assert "favourite band is Low" not in alice_reply  # ...and only for Bob
    assert "locker code is 4711" in alice_reply


async def test_a_dm_memory_is_not_recalled_in_a_channel(slack_http: SlackHarness) -> None:
    await _say(slack_http, p.dm("my salary is 98000 a year"))

    in_channel = await _say(slack_http, p.app_mention("what is my salary?"))
    in_dm = await _say(slack_http, p.dm("what is my salary?"))

    assert "98000" not in in_channel
    assert "98000" in in_dm


async def test_a_private_channel_mention_is_learned_as_private(slack_http: SlackHarness) -> None:
    """app_mention events do not say whether the channel is private: conversations.info does."""
    await _say(slack_http, p.app_mention("the merger code name is Bluebird", channel=p.SECRET_CHANNEL))
    await _say(slack_http, p.app_mention("and one more thing", channel=p.SECRET_CHANNEL))

    in_public = await _say(slack_http, p.app_mention("what is the merger code name?"))

    assert "Bluebird" not in in_public
    # One look-up per channel, then cached.
    looked_up = [c.args["channel"] for c in slack_http.slack.calls("conversations.info")]
    assert looked_up.count(p.SECRET_CHANNEL) == 1
    account = await slack_http.core.store.resolve_account(IdentityKey(Platform.SLACK, p.TEAM, p.ALICE))
    items = await slack_http.core.memory.export(account.id, epoch=0)
    bluebird = [i for i in items if "Bluebird" in i.text]
    assert len(bluebird) == 1
    assert bluebird[0].is_private


async def test_unknown_channel_privacy_counts_as_private(slack_http: SlackHarness) -> None:
    slack_http.slack.fail("conversations.info", "missing_scope", times=10)
    await _say(slack_http, p.app_mention("my PIN is 1234", channel="C0UNKNOWN"))

    account = await slack_http.core.store.resolve_account(IdentityKey(Platform.SLACK, p.TEAM, p.ALICE))
    (item,) = await slack_http.core.memory.export(account.id, epoch=0)
    assert item.is_private


async def test_display_name_is_fetched_once_and_cached(slack_http: SlackHarness) -> None:
    for text in ("one", "two", "three"):
        await _say(slack_http, p.dm(text))

    assert [c.args["user"] for c in slack_http.slack.calls("users.info")] == [p.ALICE]
    assert "Alice" in slack_http.slack.posted()[-1].text  # the model was told who is speaking


async def test_enterprise_grid_user_is_one_account_across_workspaces(slack_http: SlackHarness) -> None:
    """On Enterprise Grid the org id keys the person, whichever workspace they write from."""
    await slack_http.event(p.dm("I am allergic to peanuts", team="T0EAST"), enterprise="E0ACME")
    await slack_http.settle()
    assert await slack_http.core.writer.flush(10)
    await slack_http.event(p.dm("what am I allergic to?", team="T0WEST"), team="T0WEST", enterprise="E0ACME")
    await slack_http.settle()

    assert "allergic to peanuts" in slack_http.slack.posted()[-1].text
    identity = IdentityKey(Platform.SLACK, "E0ACME", p.ALICE)
    account = await slack_http.core.store.resolve_account(identity)
    assert "I am allergic to peanuts" in [
        i.text for i in await slack_http.core.memory.export(account.id, epoch=0)
    ]
