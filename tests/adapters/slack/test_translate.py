"""The pure translation functions: payloads -> messages, model text -> safe mrkdwn, splitting."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from adapters.slack.translate import (
    SlackMessage,
    action_identity,
    clean_user_text,
    command_identity,
    display_name_of,
    escape_text,
    message_arguments,
    parse_message_event,
    split_message,
    to_incoming,
    to_mrkdwn,
    workspace_of,
)
from core.models import IdentityKey, Platform
from tests.adapters.slack import payloads as p


def parse(event: dict[str, object], **envelope: object) -> SlackMessage | None:
    return parse_message_event(p.envelope(event, **envelope), bot_user_id=p.BOT_USER)  # type: ignore[arg-type]


def test_top_level_mention_starts_a_thread_on_that_message() -> None:
    event = p.app_mention("hello")
    message = parse(event)

    assert message is not None
    assert message.thread == event["ts"]
    assert message.reply_thread_ts == event["ts"]
    assert message.channel_type is None  # app_mention never says; looked up later
    assert not message.needs_thread_check


def test_message_event_mentioning_mnemo_maps_to_the_same_conversation_as_app_mention() -> None:
    mention = p.app_mention("hello")
    as_message = parse(p.message(str(mention["text"]), ts=str(mention["ts"])))
    as_mention = parse(mention)

    assert as_message is not None
    assert as_mention is not None
    assert as_message.conversation == as_mention.conversation
    assert as_message.ts == as_mention.ts


def test_top_level_dm_has_no_thread_and_is_direct() -> None:
    message = parse(p.dm("hi"))

    assert message is not None
    assert message.thread == ""
    assert message.reply_thread_ts is None
    assert message.is_direct


def test_thread_reply_without_mention_needs_the_thread_check() -> None:
    root = p.new_ts()
    message = parse(p.message("and another thing", thread_ts=root))

    assert message is not None
    assert message.needs_thread_check
    assert message.thread == root


@pytest.mark.parametrize(
    "event",
    [
        p.message("chatter"),
        p.message("thread root itself", ts="1.1", thread_ts="1.1"),
        p.message("mine", user=p.BOT_USER),
        p.message(f"<@{p.BOT_USER}> hi", bot_id="B1"),
        p.message(f"<@{p.BOT_USER}> hi", subtype="message_changed"),
        p.message(f"<@{p.BOT_USER}> hi", subtype="channel_topic"),
        p.message(f"<@{p.BOT_USER}> hi", user=None),
        {"type": "reaction_added", "user": p.ALICE},
        {"type": "message", "user": p.ALICE, "text": "no channel", "ts": "1.2", "channel_type": "im"},
    ],
)
def test_events_mnemo_must_not_answer(event: dict[str, object]) -> None:
    assert parse(event) is None


def test_malformed_event_shapes_are_ignored_not_raised() -> None:
    for body in ({}, {"event": "text"}, {"event": {"type": "message", "user": 5, "ts": 1, "channel": []}}):
        assert parse_message_event(body, bot_user_id=p.BOT_USER) is None


def test_workspace_is_the_enterprise_when_there_is_one() -> None:
    assert workspace_of({"team_id": "T1"}) == "T1"
    assert workspace_of({"team_id": "T1", "enterprise_id": "E1"}) == "E1"
    assert workspace_of({"team": {"id": "T1"}, "enterprise": {"id": "E1"}}) == "E1"
    assert workspace_of({"team": {"id": "T1"}, "enterprise": None}) == "T1"
    assert workspace_of({"authorizations": [{"enterprise_id": "E2", "team_id": "T2"}]}) == "E2"


def test_identities_of_commands_and_clicks() -> None:
    command = p.slash_command("show", user=p.BOB, response_url="x", enterprise="E9")
    click = p.block_action("a", "v", user=p.BOB, response_url="x")

    assert command_identity(command) == IdentityKey(Platform.SLACK, "E9", p.BOB)
    assert action_identity(click) == IdentityKey(Platform.SLACK, p.TEAM, p.BOB)


def test_to_incoming_keys_the_message_on_its_ts() -> None:
    event = p.app_mention("hello &amp; welcome")
    message = parse(event)
    assert message is not None
    now = datetime(2026, 1, 1, tzinfo=UTC)

    incoming = to_incoming(
        message,
        is_private=False,
        user_name="Alice",
        bot_user_id=p.BOT_USER,
        bot_name="Mnemo",
        received_at=now,
    )

    assert incoming.event_key == f"msg:slack:{p.TEAM}:{p.GENERAL}:{event['ts']}"
    assert incoming.text == "hello & welcome"
    assert incoming.conversation.thread == event["ts"]
    assert incoming.mentions_bot


def test_clean_user_text_reads_like_a_person_wrote_it() -> None:
    text = (
        f"<@{p.BOT_USER}>: ask <@UBOB|bob> in <#C1|general> about <https://x.io/a?b=1&amp;c=2|the doc>, "
        "<mailto:a@b.c|a@b.c> and <!here>; 1 &lt; 2 &amp;&amp; 3 &gt; 2"
    )

    assert clean_user_text(text, bot_user_id=p.BOT_USER, bot_name="Mnemo") == (
        "ask @bob in #general about the doc (https://x.io/a?b=1&c=2), a@b.c and @here; 1 < 2 && 3 > 2"
    )
    assert clean_user_text(f"thanks <@{p.BOT_USER}>!", bot_user_id=p.BOT_USER, bot_name="Mnemo") == (
        "thanks Mnemo!"
    )


@pytest.mark.parametrize(
    "attack",
    [
        "<!channel>",
        "<!here|here>",
        "<!everyone>",
        "<@U123ABC>",
        "<#C123|general>",
        "<!subteam^S1|@team>",
        "[click](https://x.io|<!channel>)",
        "[<!channel>](https://x.io)",
        "[x](javascript:alert(1))",
        "**<@U1>**",
        "`<!here>`",
        "```\n<!everyone>\n```",
        "<https://evil.example|totally safe>",
    ],
)
def test_model_text_cannot_ping_or_inject_links(attack: str) -> None:
    rendered = to_mrkdwn(f"look: {attack} ok")

    assert not re.search(r"<[!@#]", rendered)
    for link in re.findall(r"<([^>]*)>", rendered):
        assert re.match(r"https?://[^\s|<>]+\|", link), link  # only links built here
        target, _, label = link.partition("|")
        assert label.endswith(f"({urlsplit(target).hostname})"), link


@pytest.mark.parametrize(
    ("model_text", "shown"),
    [
        ("[click](https://evil.example/x)", "<https://evil.example/x|click (evil.example)>"),
        ("<https://evil.example|click>", "<https://evil.example|click (evil.example)>"),
        ("<https://evil.example>", "<https://evil.example|https://evil.example>"),
        ("[x](https://good.example@evil.example/)", "<https://good.example@evil.example/|x (evil.example)>"),
        # A look-alike host (Cyrillic "а") is spelled in punycode.
        ("[pаypal.com](https://pаypal.com/a)", "<https://pаypal.com/a|pаypal.com (xn--pypal-4ve.com)>"),
        ("[Example.com](https://example.com/a)", "<https://example.com/a|Example.com>"),  # host in label
        ("[https://example.com/b](https://example.com/a)", "<https://example.com/a|https://example.com/b>"),
        ("[docs](https://example.com/a?b=1&c=2)", "<https://example.com/a?b=1&amp;c=2|docs (example.com)>"),
        ("[no host](https:///path)", "[no host](https:///path)"),  # not made a link
        # Links never nest: the inner one stays text inside the outer one's label.
        ("<https://a.example|[b](https://c.io)>", "<https://a.example|[b](https://c.io) (a.example)>"),
    ],
)
def test_every_link_shows_the_host_it_goes_to(model_text: str, shown: str) -> None:
    assert to_mrkdwn(model_text) == shown


def test_posts_and_edits_are_rendered_alike() -> None:
    post = message_arguments("*hi* &lt;!here&gt;", channel="C1", thread_ts="1.1")
    edit = message_arguments("*hi* &lt;!here&gt;", channel="C1", edit_ts="2.2")

    shared = {"channel": "C1", "text": "*hi* &lt;!here&gt;", "parse": "none", "link_names": False}
    assert {key: post[key] for key in shared} == {key: edit[key] for key in shared} == shared
    assert post["thread_ts"] == "1.1"
    assert post["unfurl_links"] is post["unfurl_media"] is False
    assert edit["ts"] == "2.2"
    assert "thread_ts" not in edit


def test_markdown_becomes_mrkdwn() -> None:
    assert to_mrkdwn("## Title\n**bold** and *it* and ~~gone~~") == "*Title*\n*bold* and _it_ and ~gone~"
    assert to_mrkdwn("- one\n* two") == "• one\n• two"
    assert to_mrkdwn("keep `**code**` as is") == "keep `**code**` as is"
    assert to_mrkdwn("a & b < c") == "a &amp; b &lt; c"


def test_split_keeps_everything_and_respects_the_limit() -> None:
    text = "\n\n".join(f"para {i} " + "x" * 90 for i in range(30))
    chunks = split_message(text, 500)

    assert all(len(c) <= 500 for c in chunks)
    assert "\n\n".join(chunks) == text


def test_split_never_cuts_an_escape_or_a_link() -> None:
    text = escape_text("&" * 2000) + "<https://example.com/" + "a" * 50 + "|label>" + "b" * 1000
    chunks = split_message(text, 300)

    assert "".join(chunks) == text
    for chunk in chunks:
        assert re.fullmatch(r"(&amp;)*", chunk) or "&" not in chunk or chunk.startswith("&amp;")
        assert chunk.count("<") == chunk.count(">")


def test_split_reopens_code_blocks() -> None:
    text = "intro\n```\n" + "\n".join(f"line {i}" for i in range(200)) + "\n```\nafter"
    chunks = split_message(text, 400)

    assert len(chunks) > 3
    assert all(c.count("```") % 2 == 0 for c in chunks)
    assert all(len(c) <= 400 for c in chunks)
    assert chunks[1].startswith("```\n")


def test_split_rejects_a_silly_limit() -> None:
    with pytest.raises(ValueError, match="at least 64"):
        split_message("text", 10)


def test_display_name_prefers_what_people_see() -> None:
    assert (
        display_name_of({"name": "al", "profile": {"display_name": "Ally", "real_name": "Alice A"}}) == "Ally"
    )
    assert (
        display_name_of({"name": "al", "profile": {"display_name": "", "real_name": "Alice A"}}) == "Alice A"
    )
    assert display_name_of({"name": "al"}) == "al"
    assert display_name_of({}) is None
