"""Pure translation between Slack payloads and the core: events -> IncomingMessage, model text -> mrkdwn.

Nothing here does I/O. The decisions that need the network (is this channel private? what is this
person called?) are left to `adapters.slack.directory`, after the ack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from adapters.common.split import MarkupRules
from adapters.common.split import split_message as split_long_message
from core.models import ConversationKey, IdentityKey, IncomingMessage, Platform

# Slack truncates message text past 40,000 characters and section blocks take at most 3,000; long
# messages are also hard to read, so answers are posted in chunks of at most this many characters.
MESSAGE_LIMIT = 3000

# Message subtypes that are still a person speaking. Everything else (edits, deletions, joins, bot
# posts, channel topic changes...) is ignored, which is also what prevents reply loops.
PERSON_SUBTYPES = frozenset({"file_share", "thread_broadcast"})

# channel_type values of message events (and what conversations.info says) that are not public.
PRIVATE_CHANNEL_TYPES = frozenset({"im", "mpim", "group"})

Payload = Mapping[str, Any]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> Payload:
    return value if isinstance(value, Mapping) else {}


def workspace_of(body: Payload) -> str:
    """The workspace key of a request: the Enterprise Grid org id when there is one, else the team id.

    Events and slash commands carry `enterprise_id`/`team_id` at the top level, interactivity payloads
    carry `enterprise`/`team` objects. On Enterprise Grid a person has the same user id in every
    workspace of the org, so keying on the org makes them one account everywhere."""
    authorizations = body.get("authorizations")
    first_auth = _dict(authorizations[0]) if isinstance(authorizations, list) and authorizations else {}
    enterprise = (
        _str(body.get("enterprise_id"))
        or _str(_dict(body.get("enterprise")).get("id"))
        or _str(first_auth.get("enterprise_id"))
        or _str(_dict(body.get("team")).get("enterprise_id"))
    )
    if enterprise:
        return enterprise
    return (
        _str(body.get("team_id"))
        or _str(_dict(body.get("team")).get("id"))
        or _str(_dict(body.get("user")).get("team_id"))
        or _str(first_auth.get("team_id"))
    )


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A person's message Mnemo may answer, before the checks that need the network.

    `thread` is the conversation's thread: the thread it was said in, the mentioning message itself
    for a top-level mention (the answer starts a thread there), or "" for a top-level DM.
    `channel_type` is None when the event does not say (app_mention events never do)."""

    workspace: str
    user: str
    channel: str
    ts: str
    thread: str
    text: str
    channel_type: str | None
    mentions_bot: bool
    needs_thread_check: bool
    raw: Payload = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_direct(self) -> bool:
        return self.channel_type == "im"

    @property
    def conversation(self) -> ConversationKey:
        return ConversationKey(Platform.SLACK, self.workspace, self.channel, self.thread)

    @property
    def reply_thread_ts(self) -> str | None:
        return self.thread or None


def _mentions(text: str, user_id: str) -> bool:
    return f"<@{user_id}>" in text or f"<@{user_id}|" in text


def parse_message_event(body: Payload, *, bot_user_id: str) -> SlackMessage | None:
    """The person's message in an `app_mention` or `message` event callback, or None when Mnemo must
    not answer: its own or another bot's messages, edits, deletions and other non-person subtypes,
    channel chatter that neither mentions Mnemo nor is a thread reply, or a malformed event."""
    event = _dict(body.get("event"))
    kind = event.get("type")
    if kind not in ("app_mention", "message"):
        return None
    subtype = event.get("subtype")
    if subtype is not None and subtype not in PERSON_SUBTYPES:
        return None
    # Any bot (Mnemo itself included: bolt drops those too, but not in every mode) is ignored.
    if event.get("hidden") or event.get("bot_id") or event.get("bot_profile"):
        return None
    user, channel, ts = _str(event.get("user")), _str(event.get("channel")), _str(event.get("ts"))
    if not user or not channel or not ts or user == bot_user_id:
        return None
    workspace = workspace_of(body)
    if not workspace:
        return None
    text = _str(event.get("text"))
    channel_type = _str(event.get("channel_type")) or None
    if channel_type is None and channel.startswith("D"):
        channel_type = "im"  # DM channel ids start with D; app_mention events never say
    thread_ts = _str(event.get("thread_ts"))
    mentions = kind == "app_mention" or _mentions(text, bot_user_id)

    if channel_type == "im":
        thread, needs_check = thread_ts, False
    elif mentions:
        thread, needs_check = thread_ts or ts, False
    elif thread_ts and thread_ts != ts:
        thread, needs_check = thread_ts, True
    else:
        return None  # channel chatter that is not for Mnemo

    return SlackMessage(
        workspace=workspace,
        user=user,
        channel=channel,
        ts=ts,
        thread=thread,
        text=text,
        channel_type=channel_type,
        mentions_bot=mentions,
        needs_thread_check=needs_check,
        raw=body,
    )


def is_private_channel_type(channel_type: str) -> bool:
    return channel_type in PRIVATE_CHANNEL_TYPES


def channel_type_from_info(channel: Payload) -> str:
    """conversations.info's channel object -> a message-event style channel_type."""
    if channel.get("is_im"):
        return "im"
    if channel.get("is_mpim"):
        return "mpim"
    if channel.get("is_private") or channel.get("is_group"):
        return "group"
    return "channel"


def display_name_of(user: Payload) -> str | None:
    """The name people see for a users.info user object (display name, else real name, else handle)."""
    profile = _dict(user.get("profile"))
    for candidate in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        name = _str(candidate).strip()
        if name:
            return name[:80]
    return None


def to_incoming(
    message: SlackMessage,
    *,
    is_private: bool,
    user_name: str | None,
    bot_user_id: str,
    bot_name: str,
    received_at: datetime,
) -> IncomingMessage:
    # message_id is the message ts: the same message arrives as app_mention and message.* events
    # (different event ids) and again on retries; keyed on ts, all of them collapse into one reply.
    return IncomingMessage(
        platform=Platform.SLACK,
        workspace=message.workspace,
        user=message.user,
        channel=message.channel,
        thread=message.thread,
        text=clean_user_text(message.text, bot_user_id=bot_user_id, bot_name=bot_name),
        message_id=message.ts,
        is_private=is_private,
        is_direct=message.is_direct,
        mentions_bot=message.mentions_bot,
        only_if_following=message.needs_thread_check,
        user_name=user_name,
        received_at=received_at,
        raw=message.raw,
    )


def command_text(body: Payload) -> str:
    """What the person typed after the slash command (Slack sends & < > escaped)."""
    return _str(body.get("text")).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_identity(body: Payload) -> IdentityKey:
    """The person who ran a slash command."""
    return IdentityKey(Platform.SLACK, workspace_of(body), _str(body.get("user_id")))


def command_conversation(body: Payload) -> ConversationKey | None:
    """Where a slash command was typed, as the channel-level conversation (Slack does not say which
    thread); None when the payload does not say."""
    channel = _str(body.get("channel_id"))
    workspace = workspace_of(body)
    if not channel or not workspace:
        return None
    return ConversationKey(Platform.SLACK, workspace, channel, "")


def action_identity(body: Payload) -> IdentityKey:
    """The person who clicked a button: always the clicker, never whoever the message was for."""
    return IdentityKey(Platform.SLACK, workspace_of(body), _str(_dict(body.get("user")).get("id")))


# -- Slack text -> plain text for the model ---------------------------------------------------------

_LEADING_MENTION = re.compile(r"^\s*<@(?P<id>[A-Z0-9]+)(?:\|[^>]*)?>[\s,:]*")
_TOKEN = re.compile(r"<(?P<body>[^<>]+)>")


def _plain_token(body: str, *, bot_user_id: str, bot_name: str) -> str:
    target, _, label = body.partition("|")
    if target.startswith("@"):
        return bot_name if target[1:] == bot_user_id else f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        name = target[1:].split("^", 1)[0]
        if label:
            return label
        return f"@{name}" if name in ("here", "channel", "everyone") else ""
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    return f"{label} ({target})" if label and label != target else target


def clean_user_text(text: str, *, bot_user_id: str, bot_name: str) -> str:
    """Slack's wire text -> what a person would read: the leading @Mnemo dropped, mentions, channels
    and links spelled out, and Slack's &amp; &lt; &gt; escapes undone."""
    while True:
        match = _LEADING_MENTION.match(text)
        if match is None or match.group("id") != bot_user_id:
            break
        text = text[match.end() :]
    text = _TOKEN.sub(
        lambda m: _plain_token(m.group("body"), bot_user_id=bot_user_id, bot_name=bot_name), text
    )
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


# -- model text -> Slack mrkdwn ---------------------------------------------------------------------


def escape_text(text: str) -> str:
    """Slack's three control characters. With them escaped, text cannot form <!channel>, <!here>,
    <!everyone>, <@U...>, <#C...> or links: it can never ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CODE = re.compile(r"(```.*?```|`[^`\n]+`)", re.S)
# Links in escaped text: Markdown's [label](url), or Slack's own <url|label> / <url> (as &lt;...&gt;).
# One pattern, one pass: a link built here is never scanned again, so links cannot nest.
_LINK = re.compile(
    r"\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^\s()<>|]+)\)"
    r"|&lt;(?P<slack_url>https?://(?:[^\s|<>&]|&amp;)+)(?:\|(?P<slack_label>[^\n<>|]*?))?&gt;"
)
_HEADING = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+(?P<title>.+?)[ \t#]*$")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(?P<t>[^*\n]*?[^\s*])\*(?![*\w])")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(?P<t>.+?)(?<=\S)\1")
_STRIKE = re.compile(r"~~(?=\S)(?P<t>.+?)(?<=\S)~~")
_BULLET = re.compile(r"(?m)^(?P<indent>[ \t]*)[*-][ \t]+")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _visible_link(match: re.Match[str]) -> str:
    """A link whose label cannot hide where it goes: `<url|label (host)>`, the host spelled in
    ASCII (punycode), so "paypal.com" in Cyrillic letters shows as xn--... The host is left out
    only when the label already starts with it. A URL without a usable host stays plain text."""
    if match.group("url"):
        url, label = match.group("url"), match.group("label")
    else:
        url, label = match.group("slack_url"), match.group("slack_label")
    try:
        host = (urlsplit(_unescape(url)).hostname or "").encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        host = ""
    if not host:
        return match.group(0)
    label = (label or "").strip() or url
    shown = re.sub(r"^https?://", "", _unescape(label).strip().lower()).split("/", 1)[0]
    suffix = "" if shown == host else f" ({host})"
    return f"<{url}|{label}{suffix}>"


def _markdown_to_mrkdwn(part: str) -> str:
    part = _LINK.sub(_visible_link, part)
    # Italics first: the bold and heading conversions below produce `*x*`, which is bold in mrkdwn.
    part = _ITALIC_STAR.sub(lambda m: f"_{m.group('t')}_", part)
    part = _BOLD.sub(lambda m: f"*{m.group('t')}*", part)
    part = _STRIKE.sub(lambda m: f"~{m.group('t')}~", part)
    part = _HEADING.sub(lambda m: f"*{m.group('title').strip('*_ ')}*", part)
    return _BULLET.sub(lambda m: f"{m.group('indent')}• ", part)


def to_mrkdwn(text: str) -> str:
    """Model output (Markdown) -> Slack mrkdwn that renders as meant, cannot ping, and shows where
    every link goes.

    Everything is escaped first; the only raw `<...>` in the result are links built here from
    Markdown `[label](http(s)://...)` or Slack's `<http(s)://...|label>`, each labelled with its
    host. Code spans and fenced blocks are left as they are."""
    parts = _CODE.split(escape_text(text))
    return "".join(part if index % 2 else _markdown_to_mrkdwn(part) for index, part in enumerate(parts))


# Slack shows `&amp;` cut in two as garbage and a `<url|label>` cut in two as broken text.
SLACK_MARKUP = MarkupRules(unbreakable=re.compile(r"&(?:amp|lt|gt);|<[^<>]*>"))


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split mrkdwn into messages of at most `limit` characters at paragraph, line or word breaks,
    never inside an escape or a link. A code block cut in two is closed at the end of one chunk and
    reopened in the next."""
    return split_long_message(text, limit=limit, rules=SLACK_MARKUP)


def reply_messages(text: str, final: bool, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The messages that show model text (a ReplyWriter layout): mrkdwn, split, and while the
    model is still writing (not `final`) marked so ("…")."""
    rendered = to_mrkdwn(text)
    return split_message(rendered if final else rendered + " …", limit)


def message_arguments(
    mrkdwn: str, *, channel: str, thread_ts: str | None = None, edit_ts: str | None = None
) -> dict[str, Any]:
    """chat.postMessage arguments for one chunk of an answer, or with `edit_ts` chat.update's for
    the message with that ts: the text is rendered the same either way. Names are never linked,
    and `parse` is set on both because chat.update's default ("client") differs from
    chat.postMessage's ("none")."""
    arguments: dict[str, Any] = {"channel": channel, "text": mrkdwn, "parse": "none", "link_names": False}
    if edit_ts is not None:
        return arguments | {"ts": edit_ts}
    arguments |= {"mrkdwn": True, "unfurl_links": False, "unfurl_media": False}
    if thread_ts:
        arguments["thread_ts"] = thread_ts
    return arguments
