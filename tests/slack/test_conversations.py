"""Conversations end to end: signed Events API requests -> real bolt app -> real core -> fake Slack."""

from __future__ import annotations

from tests.slack import payloads as p
from tests.slack.conftest import SlackHarness


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


async def test_thread_follow_up_is_followed_after_a_restart(slack_http: SlackHarness) -> None:
    """Thread membership comes from storage, not from this process's memory."""
    mention = p.app_mention("hello")
    await slack_http.event(mention)
    await slack_http.settle()
    assert slack_http.service.bot is not None
    slack_http.service.bot._threads = type(slack_http.service.bot._threads)(max_size=10, ttl=60)

    await slack_http.event(p.message("and a follow-up", thread_ts=mention["ts"]))
    await slack_http.settle()

    assert len(slack_http.slack.posted(p.GENERAL)) == 2


async def test_threads_mnemo_is_not_in_and_channel_chatter_are_ignored(slack_http: SlackHarness) -> None:
    await slack_http.event(p.message("just chatting with the team"))
    await slack_http.event(p.message("a reply in someone else's thread", thread_ts=p.new_ts()))
    await slack_http.settle()

    assert slack_http.slack.count("chat.postMessage") == 0
    assert slack_http.model.count("chat") == 0
