"""The slack-bolt AsyncApp and its listeners: Slack events in, core calls, Slack Web API calls out.

Every listener acknowledges first (bolt acks events before listeners run; commands and buttons call
ack() on their first line) and hands the work to a tracked task, so nothing slow ever sits between
Slack and its 3-second deadline. Network look-ups (display names, channel privacy, "is Mnemo in this
thread?") happen in that task, are cached, and are bounded.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import (
    ACTION_DELETE,
    ACTION_FORGET_ALL_CANCEL,
    ACTION_FORGET_ALL_CONFIRM,
    ACTION_NEWER,
    ACTION_OLDER,
    ShowState,
    decode_state,
    render_result,
    render_text,
)
from adapters.slack.translate import (
    MESSAGE_LIMIT,
    SlackMessage,
    action_identity,
    channel_type_from_info,
    command_identity,
    command_text,
    display_name_of,
    escape_text,
    is_private_channel_type,
    message_arguments,
    parse_message_event,
    split_message,
    to_incoming,
    to_mrkdwn,
)
from core.admission import SwampedError
from core.assistant import Assistant
from core.cache import TTLCache
from core.commands import Command, CommandName, parse_memory_command
from core.errors import BotError, NotFoundError, StorageError, UserFacingError
from core.models import IdentityKey, IncomingMessage
from core.redaction import short_hash
from core.replies import COMMAND_FAILED_REPLY, SWAMPED_REPLY

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

EXPORT_INLINE_LIMIT = 2800
Respond = Callable[..., Awaitable[Any]]


class ReplyStream:
    """Shows an answer while the model writes it: the first words are posted at once, then the
    message is edited (chat.update) at most once per `interval` seconds. Text past `limit`
    continues in a new message. Edits run in the background so Slack's latency (or a 429 wait)
    never slows the model stream; `finish` writes the final text and removes leftovers."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        interval: float,
        limit: int = MESSAGE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._interval = interval
        self._limit = limit
        self._clock = clock
        self._text = ""
        self._posted: list[tuple[str, str]] = []  # (ts, text shown)
        self._last_flush = float("-inf")
        self._pending: asyncio.Task[None] | None = None

    @property
    def posted_ts(self) -> list[str]:
        return [ts for ts, _ in self._posted]

    async def on_delta(self, piece: str) -> None:
        self._text += piece
        busy = self._pending is not None and not self._pending.done()
        if busy or self._clock() - self._last_flush < self._interval:
            return
        self._last_flush = self._clock()
        self._pending = asyncio.create_task(self._flush_partial(self._text))

    async def finish(self, text: str) -> None:
        """Raises SlackClientError when the final text could not be posted."""
        if self._pending is not None:
            await asyncio.gather(self._pending, return_exceptions=True)
        await self._flush(text, streaming=False)

    async def _flush_partial(self, text: str) -> None:
        try:
            await self._flush(text, streaming=True)
        except SlackClientError as exc:
            # The final flush retries everything; a lost intermediate edit only costs freshness.
            log.warning("streaming edit failed channel=%s: %s", self._channel, slack_error(exc))

    async def _flush(self, text: str, *, streaming: bool) -> None:
        rendered = to_mrkdwn(text)
        if streaming:
            rendered += " …"  # still writing
        chunks = split_message(rendered, self._limit)
        for index, chunk in enumerate(chunks):
            if index < len(self._posted):
                ts, shown = self._posted[index]
                if shown != chunk:
                    await self._client.chat_update(
                        **message_arguments(chunk, channel=self._channel, edit_ts=ts)
                    )
                    self._posted[index] = (ts, chunk)
            else:
                response = await self._client.chat_postMessage(
                    **message_arguments(chunk, channel=self._channel, thread_ts=self._thread_ts)
                )
                self._posted.append((str(response["ts"]), chunk))
        if not streaming:
            # A shorter final text (an apology replacing a cut-off stream) leaves no stale messages.
            for ts, _ in self._posted[len(chunks) :]:
                await self._client.chat_delete(channel=self._channel, ts=ts)
            del self._posted[len(chunks) :]


def slack_error(exc: BaseException) -> str:
    """Slack's error code (`channel_not_found`...) or the exception's class: never a token or URL."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = response.get("error") if isinstance(response, Mapping) or hasattr(response, "data") else None
        return str(error or "unknown_error")
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who Mnemo is in this workspace, from auth.test at start-up."""

    user_id: str
    bot_id: str | None
    team_id: str | None
    enterprise_id: str | None
    name: str


class SlackBot:
    """The listeners' behaviour. `register(app)` attaches them to a bolt AsyncApp."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        client: AsyncWebClient,
        identity: BotIdentity,
        stream_interval: float = 1.0,
        message_limit: int = MESSAGE_LIMIT,
        name_ttl: float = 6 * 3600,
        channel_ttl: float = 600,
        cache_size: int = 10_000,
    ) -> None:
        self._assistant = assistant
        self._client = client
        self.identity = identity
        self._clock = assistant.clock
        self._stream_interval = stream_interval
        self._message_limit = message_limit
        self._names: TTLCache[tuple[str, str], str | None] = TTLCache(max_size=cache_size, ttl=name_ttl)
        self._name_lookups: dict[tuple[str, str], asyncio.Task[str | None]] = {}
        self._channel_types: TTLCache[tuple[str, str], str] = TTLCache(max_size=cache_size, ttl=channel_ttl)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle and task bookkeeping ----------------------------------------------------------
    async def close(self, timeout: float) -> bool:
        """Let in-flight work finish (bounded)."""
        return await self.drain(timeout)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(self._guarded(work, name), name=f"slack-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None], name: str) -> None:
        # Nothing escapes into bolt's or asyncio's loop: one bad event is logged and forgotten.
        try:
            await work
        except Exception:
            log.exception("slack %s failed", name)

    async def drain(self, timeout: float) -> bool:
        """Wait for in-flight work (replies being posted); False if some was still running."""
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        if pending:
            log.warning("%d Slack task(s) still running after %.1fs; cancelling", len(pending), timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return not pending

    # -- listeners -------------------------------------------------------------------------------
    def register(self, app: AsyncApp) -> None:
        async def on_message_event(body: dict[str, Any]) -> None:
            # Bolt has acked already (events are acknowledged before listeners run).
            received_at = self._clock()
            message = parse_message_event(body, bot_user_id=self.identity.user_id)
            if message is not None:
                self.spawn(self.answer(message, received_at=received_at), name="message")

        async def on_other_event(body: dict[str, Any]) -> None:
            return None  # acked; an unanswered event would otherwise be retried by Slack

        async def on_memory_command(ack: Any, body: dict[str, Any], respond: Respond) -> None:
            await ack()
            self.spawn(self.run_command(body, respond), name="command")

        def on_button(handler: Callable[[dict[str, Any], Respond], Coroutine[Any, Any, None]]) -> Any:
            async def listener(ack: Any, body: dict[str, Any], respond: Respond) -> None:
                await ack()
                self.spawn(handler(body, respond), name="button")

            return listener

        async def on_error(error: Exception) -> None:
            # Payloads are not logged: they hold people's messages.
            log.error("slack listener error: %s", type(error).__name__, exc_info=error)

        app.event("app_mention")(on_message_event)
        app.event("message")(on_message_event)
        app.event(re.compile(r".*"))(on_other_event)
        app.command("/memory")(on_memory_command)
        app.action(ACTION_DELETE)(on_button(self.delete_clicked))
        app.action(ACTION_NEWER)(on_button(self.page_clicked))
        app.action(ACTION_OLDER)(on_button(self.page_clicked))
        app.action(ACTION_FORGET_ALL_CONFIRM)(on_button(self.forget_all_confirmed))
        app.action(ACTION_FORGET_ALL_CANCEL)(on_button(self.forget_all_cancelled))
        app.error(on_error)

    # -- conversations ---------------------------------------------------------------------------
    async def answer(self, message: SlackMessage, *, received_at: datetime) -> None:
        try:
            await self._answer(message, received_at=received_at)
        except SwampedError:
            await self._too_busy(message, received_at=received_at)

    async def _answer(self, message: SlackMessage, *, received_at: datetime) -> None:
        async def complete(incoming: IncomingMessage) -> IncomingMessage:
            # Only for messages that are answered, in their conversation's turn (core.orchestrator).
            return replace(
                incoming,
                is_private=await self._is_private(message),
                user_name=await self.user_name(message.workspace, message.user),
            )

        incoming = to_incoming(
            message,
            is_private=True,  # until `complete` knows better
            user_name=None,
            bot_user_id=self.identity.user_id,
            bot_name=self.identity.name,
            received_at=received_at,
        )
        stream = ReplyStream(
            client=self._client,
            channel=message.channel,
            thread_ts=message.reply_thread_ts,
            interval=self._stream_interval,
            limit=self._message_limit,
        )
        reply = await self._assistant.handle(incoming, on_delta=stream.on_delta, complete=complete)
        if reply is None:
            return  # a duplicate delivery (retry, or the same message as another event type)
        try:
            await stream.finish(reply.text)
        except SlackClientError as exc:
            log.warning(
                "could not post the reply channel=%s session=%s: %s",
                message.channel,
                reply.session_id,
                slack_error(exc),
            )
            return

    async def _too_busy(self, message: SlackMessage, *, received_at: datetime) -> None:
        """Overloaded: say so at once instead of queueing without bound. The message is claimed,
        so its other deliveries (the app_mention/message twin, retries) stay silent."""
        if message.needs_thread_check and not await self._assistant.follows(message.conversation):
            return
        log.warning("too many replies waiting; asking to retry later")
        incoming = to_incoming(
            message,
            is_private=True,
            user_name=None,
            bot_user_id=self.identity.user_id,
            bot_name=self.identity.name,
            received_at=received_at,
        )
        try:
            if not await self._assistant.claim_delivery(incoming):
                return
            await self._client.chat_postMessage(
                **message_arguments(SWAMPED_REPLY, channel=message.channel, thread_ts=message.reply_thread_ts)
            )
        except (StorageError, SlackClientError) as exc:
            log.warning("could not send the busy reply: %s", type(exc).__name__)

    async def _is_private(self, message: SlackMessage) -> bool:
        if message.channel_type is not None:
            self._channel_types.put((message.workspace, message.channel), message.channel_type)
            return is_private_channel_type(message.channel_type)
        key = (message.workspace, message.channel)
        found, channel_type = self._channel_types.get(key)
        if found and channel_type is not None:
            return is_private_channel_type(channel_type)
        try:
            response = await self._client.conversations_info(channel=message.channel)
        except SlackClientError as exc:
            # Unknown privacy counts as private: the memory is then never recalled in public.
            log.warning("conversations.info failed channel=%s: %s", message.channel, slack_error(exc))
            return True
        info = response.get("channel")
        channel_type = channel_type_from_info(info if isinstance(info, Mapping) else {})
        self._channel_types.put(key, channel_type)
        return is_private_channel_type(channel_type)

    async def user_name(self, workspace: str, user: str) -> str | None:
        """The person's display name: users.info once per person, then cached (bounded, expiring)."""
        key = (workspace, user)
        found, name = self._names.get(key)
        if found:
            return name
        lookup = self._name_lookups.get(key)
        if lookup is None:
            lookup = asyncio.create_task(self._fetch_name(key))
            self._name_lookups[key] = lookup
            lookup.add_done_callback(lambda _: self._name_lookups.pop(key, None))
        return await asyncio.shield(lookup)

    async def _fetch_name(self, key: tuple[str, str]) -> str | None:
        try:
            response = await self._client.users_info(user=key[1])
        except SlackClientError as exc:
            log.warning("users.info failed user=%s: %s", short_hash(key[1]), slack_error(exc))
            self._names.put(key, None, ttl=300)  # try again later, not on every message
            return None
        user = response.get("user")
        name = display_name_of(user if isinstance(user, Mapping) else {})
        self._names.put(key, name)
        return name

    # -- /memory -------------------------------------------------------------------------------
    async def run_command(self, body: Mapping[str, Any], respond: Respond) -> None:
        identity = command_identity(body)
        if not identity.workspace or not identity.user:
            await _respond(respond, render_text("I couldn't tell who ran this command."))
            return
        try:
            command = parse_memory_command(command_text(body))
        except UserFacingError as exc:
            await _respond(respond, render_text(str(exc)))
            return
        await self._execute(identity, command, respond, replace=False)

    async def _execute(
        self,
        identity: IdentityKey,
        command: Command,
        respond: Respond,
        *,
        replace: bool,
        notice: str | None = None,
    ) -> None:
        name = await self.user_name(identity.workspace, identity.user)
        try:
            result = await self._assistant.run_command(identity, command, display_name=name)
        except UserFacingError as exc:
            await _respond(respond, render_text(str(exc)), replace=replace)
            return
        except BotError as exc:
            log.warning("/memory %s failed: %s", command.name.value, type(exc).__name__)
            await _respond(respond, render_text(COMMAND_FAILED_REPLY), replace=replace)
            return
        if result.export_json is not None:
            await _respond(respond, await self._send_export(identity, result.export_json, len(result.items)))
            return
        await _respond(respond, render_result(result, command=command, notice=notice), replace=replace)

    async def _send_export(self, identity: IdentityKey, document: str, count: int) -> dict[str, Any]:
        """Upload the export into the person's DM with Mnemo: a file only they can see."""
        plural = "memory" if count == 1 else "memories"
        try:
            opened = await self._client.conversations_open(users=identity.user)
            channel = opened["channel"]["id"]
            await self._client.files_upload_v2(
                channel=channel,
                content=document,
                filename="mnemo-memories.json",
                title="What Mnemo remembers about you",
                initial_comment=f"Here is your export: {count} {plural}.",
            )
        except (SlackClientError, KeyError, TypeError) as exc:
            log.warning("export upload failed: %s", slack_error(exc))
            if len(document) <= EXPORT_INLINE_LIMIT:
                # Ephemeral: still only visible to the person who asked.
                return {
                    "text": f"I couldn't send a file, so here are your {count} {plural} as JSON:",
                    "blocks": [
                        {
                            "type": "section",
                            "text": {
                                "type": "mrkdwn",
                                "text": f"I couldn't send a file, so here are your {count} {plural}:\n"
                                f"```{escape_text(document)}```",
                            },
                        }
                    ],
                }
            return render_text(
                f"I couldn't send your export file (Slack said: {slack_error(exc)}). "
                "Please try again later; nothing was lost."
            )
        return render_text(f"I sent your {count} {plural} as a JSON file to our direct messages.")

    # -- buttons -------------------------------------------------------------------------------
    @staticmethod
    def _button_state(body: Mapping[str, Any]) -> ShowState | None:
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions else None
        value = action.get("value") if isinstance(action, Mapping) else None
        if not isinstance(value, str):
            return None
        try:
            return decode_state(value)
        except ValueError:
            return None

    async def delete_clicked(self, body: Mapping[str, Any], respond: Respond) -> None:
        identity = action_identity(body)
        state = self._button_state(body)
        if state is None or not state.memory_id or not identity.user:
            await _respond(respond, render_text("That button no longer works; run /memory again."))
            return
        try:
            # Acts for the person who clicked: forget() only finds memories of their own account.
            result = await self._assistant.run_command(
                identity, Command(CommandName.FORGET, argument=state.memory_id)
            )
            notice = result.text
        except NotFoundError:
            notice = "That memory was already gone."
        except BotError as exc:
            log.warning("delete button failed: %s", type(exc).__name__)
            await _respond(respond, render_text(COMMAND_FAILED_REPLY))
            return
        await self._execute(
            identity,
            Command(CommandName.SHOW, argument=state.query, page=state.page),
            respond,
            replace=True,
            notice=notice,
        )

    async def page_clicked(self, body: Mapping[str, Any], respond: Respond) -> None:
        identity = action_identity(body)
        state = self._button_state(body)
        if state is None or not identity.user:
            await _respond(respond, render_text("That button no longer works; run /memory again."))
            return
        command = Command(CommandName.SHOW, argument=state.query, page=state.page)
        await self._execute(identity, command, respond, replace=True)

    async def forget_all_confirmed(self, body: Mapping[str, Any], respond: Respond) -> None:
        identity = action_identity(body)
        if not identity.user:
            await _respond(respond, render_text("I couldn't tell who clicked."))
            return
        await self._execute(identity, Command(CommandName.FORGET_ALL, confirmed=True), respond, replace=True)

    async def forget_all_cancelled(self, body: Mapping[str, Any], respond: Respond) -> None:
        await _respond(respond, render_text("Nothing was erased."), replace=True)


async def _respond(respond: Respond, payload: Mapping[str, Any], *, replace: bool = False) -> None:
    """An ephemeral answer through the response_url; failures are logged, never raised."""
    try:
        response = await respond(
            text=payload["text"],
            blocks=payload.get("blocks"),
            response_type="ephemeral",
            replace_original=replace,
        )
    except Exception as exc:  # aiohttp and SDK errors alike: the person just sees nothing
        log.warning("respond() failed: %s", type(exc).__name__)
        return
    status = getattr(response, "status_code", getattr(response, "status", 200))
    if status != 200:
        log.warning("respond() answered HTTP %s (expired response_url?)", status)


class _EnvTokenNotice(logging.Filter):
    """AsyncApp reads SLACK_BOT_TOKEN from the environment by itself and then warns that it will not
    use it (we pass a client and `authorize`, on purpose): a misleading line at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("As you gave `client` as well")


def build_app(
    *,
    bot: SlackBot,
    client: AsyncWebClient,
    authorization: AuthorizeResult,
    signing_secret: str | None,
) -> AsyncApp:
    """A bolt AsyncApp that never calls auth.test on a request (authorization is known from start-up)
    and verifies signatures in HTTP mode. `client` (no token) carries the base URL, session and retry
    handlers bolt copies into its per-request clients."""

    async def authorize(**_: Any) -> AuthorizeResult:
        return authorization

    bolt_log = logging.getLogger("adapters.slack.bolt")
    if not any(isinstance(f, _EnvTokenNotice) for f in bolt_log.filters):
        bolt_log.addFilter(_EnvTokenNotice())
    app = AsyncApp(
        name="mnemo",
        client=client,
        authorize=authorize,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        logger=bolt_log,
    )
    bot.register(app)
    return app
