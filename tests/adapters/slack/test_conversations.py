"""Conversations end to end: signed Events API requests -> real bolt app -> real core -> fake Slack."""

from __future__ import annotations

from pathlib import Path

from core.replies import SWAMPED_REPLY as BUSY_REPLY
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness, running_slack, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack


async def test_mention_is_answered_in_the_thread_of_that_message(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "Hello Alice, nice to meet you."
    mention = p.app_mention("hi, I'm Alice")

    response = await slack_http.event(mention)
    await slack_http.settle()

    assert response.status_code == 200
    posted = slack_http.slack.posted(p.GENERAL)
    assert [m.text for m in posted] == ["Hello Alice, nice to meet you."]
    assert posted[0].thread_ts == mention["ts"]
    assert posted[0].args["unfurl_links"] is False
    assert posted[0].args["link_names"] is False
    # The model saw the person's words without the @Mnemo mention, and their display name.
    prompt = "\n".join(str(m["content"]) for m in slack_http.model.chat_prompts()[-1])
    assert "hi, I'm Alice" in prompt
    assert f"<@{p.BOT_USER}>" not in prompt
    assert "Alice" in prompt


async def test_mention_inside_a_thread_answers_in_that_thread(slack_http: SlackHarness) -> None:
    root = p.new_ts()
    await slack_http.event(p.app_mention("what do you think?", thread_ts=root))
    await slack_http.settle()

    assert [m.thread_ts for m in slack_http.slack.posted(p.GENERAL)] == [root]


async def test_dm_is_answered_in_the_dm_without_a_thread(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "Hi there."
    await slack_http.event(p.dm("hello"))
    await slack_http.settle()

    posted = slack_http.slack.posted(p.ALICE_DM)
    assert [(m.text, m.thread_ts) for m in posted] == [("Hi there.", None)]


async def test_thread_follow_up_reaches_mnemo_without_a_mention(slack_http: SlackHarness) -> None:
    mention = p.app_mention("remember that my cat is called Miso")
    await slack_http.event(mention)
    await slack_http.settle()
    slack_http.model.state.reply = lambda messages: "Miso is a lovely name."

    await slack_http.event(p.message("what's my cat called?", thread_ts=mention["ts"]))
    await slack_http.settle()

    posted = slack_http.slack.posted(p.GENERAL)
    assert len(posted) == 2
    assert posted[1].text == "Miso is a lovely name."
    assert posted[1].thread_ts == mention["ts"]
    assert slack_http.slack.count("auth.test") == 1  # at start-up only, never per request


async def test_thread_follow_up_is_followed_after_a_restart(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    """Thread membership comes from storage, not from the process's memory."""
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    mention = p.app_mention("hello")
    async with running_slack(settings, fake_openai, fake_slack) as before:
        await before.event(mention)
        await before.settle()
    async with running_slack(settings, fake_openai, fake_slack) as after:
        await after.event(p.message("and a follow-up", thread_ts=mention["ts"]))
        await after.settle()

    posted = fake_slack.posted(p.GENERAL)
    assert len(posted) == 2
    assert posted[1].thread_ts == mention["ts"]


async def test_threads_mnemo_is_not_in_and_channel_chatter_are_ignored(slack_http: SlackHarness) -> None:
    await slack_http.event(p.message("just chatting with the team"))
    await slack_http.event(p.message("a reply in someone else's thread", thread_ts=p.new_ts()))
    await slack_http.settle()

    assert slack_http.slack.count("chat.postMessage") == 0
    assert slack_http.model.count("chat") == 0


async def test_replies_in_one_thread_keep_their_order(slack_http: SlackHarness) -> None:
    mention = p.app_mention("first")
    slack_http.model.state.reply = lambda messages: f"reply to: {str(messages[-1]['content']).split()[-1]}"
    await slack_http.event(mention)
    for word in ("second", "third", "fourth"):
        await slack_http.event(p.message(f"message {word}", thread_ts=mention["ts"]))
    await slack_http.settle()

    texts = [m.text for m in slack_http.slack.posted(p.GENERAL)]
    assert texts == [
        "reply to: first",
        "reply to: second",
        "reply to: third",
        "reply to: fourth",
    ]


async def test_under_load_messages_wait_in_the_intake_and_are_all_answered(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    """One reply at a time: the others are acknowledged at once and wait in the durable intake
    (not in memory, and never refused with a busy reply), then are answered in turn."""
    settings = slack_settings(
        tmp_path / "data", fake_openai, fake_slack, max_concurrent_replies=1, max_waiting_replies=0
    )
    fake_openai.state.reply = lambda messages: "answered"
    model = fake_openai.hold("chat")  # the first answer holds the one slot until released
    async with running_slack(settings, fake_openai, fake_slack) as harness:
        assert (await harness.event(p.dm("first"))).status_code == 200
        await model.arrived()
        second = await harness.event(p.app_mention("second"))
        third = await harness.event(p.dm("third", user=p.BOB, channel="D0BOB"))
        assert (second.status_code, third.status_code) == (200, 200)
        assert await harness.core.intake.pending() == 3
        model.release()
        await harness.settle()
        refused = harness.core.admission.refused

    assert [m.text for m in fake_slack.posted(p.ALICE_DM)] == ["answered"]
    assert [m.text for m in fake_slack.posted(p.GENERAL)] == ["answered"]
    assert [m.text for m in fake_slack.posted("D0BOB")] == ["answered"]
    assert BUSY_REPLY not in [m.text for m in fake_slack.posted("D0BOB")]
    assert refused == 0
    assert fake_openai.count("chat") == 3


async def test_an_acknowledged_message_is_already_being_worked_on(slack_http: SlackHarness) -> None:
    """Listeners record the message in the durable intake before the ack: nothing acknowledged
    exists only in memory (a worker answers it even if this process dies now)."""
    model = slack_http.model.hold("chat")

    response = await slack_http.event(p.dm("hello"))

    assert response.status_code == 200
    assert await slack_http.core.intake.pending() == 1
    await model.arrived()
    model.release()
    await slack_http.settle()
    assert len(slack_http.slack.posted(p.ALICE_DM)) == 1
