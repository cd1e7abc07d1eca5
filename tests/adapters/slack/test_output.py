"""What Mnemo posts: escaped (no pings, no link hiding where it goes), split under Slack's limits,
streamed with throttled edits, and delivered despite Slack's rate limits."""

from __future__ import annotations

from adapters.slack.translate import MESSAGE_LIMIT
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness, assert_safe_mrkdwn

PINGS = "<!channel> <!here> <!everyone> <@U123> <@UBOSS|boss> <#C0SECRET> <!subteam^S1> <!subteam^S2|@admins>"
NASTY = (
    f"Sure! {PINGS} @channel @here "
    "[click](https://evil.example/x) <https://evil.example|totally safe> & more > less"
)
ESCAPED = (
    "&lt;!channel&gt;",
    "&lt;!here&gt;",
    "&lt;!everyone&gt;",
    "&lt;@U123&gt;",
    "&lt;@UBOSS|boss&gt;",
    "&lt;#C0SECRET&gt;",
    "&lt;!subteam^S1&gt;",
    "&lt;!subteam^S2|@admins&gt;",
    "&amp; more &gt; less",
)


async def test_model_text_can_never_ping_or_hide_a_link(slack_http: SlackHarness) -> None:
    """Streamed edits (chat.update) and posts are rendered by one function: same escaping, same
    flags. chat.update's parse defaults to "client", so it must be sent as "none" explicitly."""
    slack_http.model.state.reply = lambda messages: NASTY
    slack_http.model.state.stream_chunk_chars = 7  # many partial texts, many edits
    await slack_http.event(p.app_mention("say something rude"))
    await slack_http.settle()

    posts, edits = slack_http.slack.calls("chat.postMessage"), slack_http.slack.calls("chat.update")
    assert len(posts) == 1
    assert edits  # the first words were posted, then edited up to the final text
    for call in posts + edits:
        assert call.args["parse"] == "none"
        assert call.args["link_names"] is False
        assert_safe_mrkdwn(str(call.args["text"]))
        assert "<#" not in str(call.args["text"])
    final = slack_http.slack.posted(p.GENERAL)[0].text
    assert final == edits[-1].args["text"]
    assert [escaped for escaped in ESCAPED if escaped not in final] == []
    assert "@channel @here" in final  # plain text: with parse=none and no link_names, no ping
    assert "<https://evil.example/x|click (evil.example)>" in final
    assert "<https://evil.example|totally safe (evil.example)>" in final


async def test_markdown_links_become_safe_slack_links(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "See **the docs**: [guide](https://example.com/a?b=1&c=2)"
    await slack_http.event(p.dm("where are the docs?"))
    await slack_http.settle()

    text = slack_http.slack.posted(p.ALICE_DM)[0].text
    assert text == "See *the docs*: <https://example.com/a?b=1&amp;c=2|guide (example.com)>"


async def test_long_answers_are_split_under_the_limit_without_losing_text(slack_http: SlackHarness) -> None:
    paragraphs = [f"Paragraph {i}: " + ("word " * 120).strip() + "." for i in range(20)]
    answer = "\n\n".join(paragraphs)  # ~12,500 characters
    slack_http.model.state.reply = lambda messages: answer
    await slack_http.event(p.app_mention("tell me everything"))
    await slack_http.settle()

    posted = slack_http.slack.posted(p.GENERAL)
    assert len(posted) >= 5
    assert all(len(m.text) <= MESSAGE_LIMIT for m in posted)
    assert all(m.thread_ts == posted[0].thread_ts for m in posted)
    rebuilt = "\n\n".join(m.text for m in posted)
    assert [para in rebuilt for para in paragraphs] == [True] * len(paragraphs)


async def test_split_code_blocks_stay_code_blocks(slack_http: SlackHarness) -> None:
    code = "\n".join(f"print({i})  # line {i}" for i in range(400))  # ~9,000 characters
    slack_http.model.state.reply = lambda messages: f"Here you go:\n```python\n{code}\n```\nDone."
    await slack_http.event(p.dm("write a long script"))
    await slack_http.settle()

    posted = slack_http.slack.posted(p.ALICE_DM)
    assert len(posted) >= 3
    for message in posted:
        assert len(message.text) <= MESSAGE_LIMIT
        assert message.text.count("```") % 2 == 0  # every chunk opens and closes its block


async def test_streaming_posts_early_then_edits_to_the_full_answer(slack_http: SlackHarness) -> None:
    answer = "A fairly long streamed answer, " * 10
    slack_http.model.state.reply = lambda messages: answer
    slack_http.model.state.stream_chunk_chars = 5
    await slack_http.event(p.dm("stream please"))
    await slack_http.settle()

    posted = slack_http.slack.posted(p.ALICE_DM)
    assert slack_http.slack.count("chat.postMessage") == 1
    assert slack_http.slack.count("chat.update") >= 1  # shown progressively, then completed
    assert posted[0].text == answer.strip()
    first = slack_http.slack.calls("chat.postMessage")[0].args["text"]
    assert len(first) < len(answer)  # the first post came before the whole answer was written


async def test_rate_limited_post_is_retried_after_retry_after(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "Worth the wait."
    slack_http.slack.rate_limit("chat.postMessage", times=2, retry_after=0)
    await slack_http.event(p.dm("hello"))
    await slack_http.settle()

    assert slack_http.slack.count("chat.postMessage") == 3  # two 429s, then delivered
    assert [m.text for m in slack_http.slack.posted(p.ALICE_DM)] == ["Worth the wait."]


async def test_a_post_failing_while_streaming_is_recovered_by_the_final_post(
    slack_http: SlackHarness,
) -> None:
    slack_http.model.state.reply = lambda messages: "Answer."
    slack_http.slack.fail("chat.postMessage", "internal_error", times=1)
    await slack_http.event(p.dm("first"))
    await slack_http.settle()

    assert [m.text for m in slack_http.slack.posted(p.ALICE_DM)] == ["Answer."]


async def test_a_channel_refusing_posts_does_not_stop_the_next_message(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "Answer."
    slack_http.slack.fail("chat.postMessage", "channel_not_found", times=1000)
    await slack_http.event(p.dm("first"))
    await slack_http.settle()
    slack_http.slack.heal()
    await slack_http.event(p.dm("second"))
    await slack_http.settle()

    assert [m.text for m in slack_http.slack.posted(p.ALICE_DM)] == ["Answer."]
    assert slack_http.model.count("chat") == 2


async def test_model_down_gives_a_short_apology(slack_http: SlackHarness) -> None:
    slack_http.model.fail(500, times=5, endpoint="chat")
    await slack_http.event(p.dm("are you there?"))
    await slack_http.settle()

    posted = slack_http.slack.posted(p.ALICE_DM)
    assert len(posted) == 1
    assert posted[0].text.startswith("Sorry")
