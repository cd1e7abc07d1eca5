"""The assistant pane end to end: signed assistant events -> bolt's AsyncAssistant -> the Web API
calls they lead to (fake Slack), with a real core and a fake model."""

from __future__ import annotations

from core.models import AnswerFeedback, IdentityKey, MemoryOrigin, Platform, Rating
from tests.adapters.slack import payloads as p
from tests.adapters.slack import surface_payloads as sp
from tests.adapters.slack.conftest import SlackHarness
from tests.fakes.slack_api import Posted

THREAD = "1750009999.000100"
ALICE = IdentityKey(Platform.SLACK, p.TEAM, p.ALICE)
BOB = IdentityKey(Platform.SLACK, p.TEAM, p.BOB)


def order(harness: SlackHarness) -> list[str]:
    with harness.slack.lock:
        return [call.method for call in harness.slack.state.calls]


def answers(harness: SlackHarness) -> list[Posted]:
    return [m for m in harness.slack.posted(p.ALICE_DM) if m.streamed]


async def ask(harness: SlackHarness, text: str) -> None:
    response = await harness.event(sp.pane_message(text, thread_ts=THREAD))
    assert response.status_code == 200
    await harness.settle()


async def test_a_new_thread_gets_a_greeting_and_memory_prompts(slack_http: SlackHarness) -> None:
    response = await slack_http.event(sp.thread_started(thread_ts=THREAD))
    await slack_http.settle()

    assert response.status_code == 200
    (greeting,) = slack_http.slack.posted(p.ALICE_DM)
    assert greeting.thread_ts == THREAD
    assert "I remember what you tell me, for you only" in greeting.text
    # bolt's `say` keeps the thread's context (the channel Alice looks at) in the metadata.
    assert greeting.args["metadata"]["event_payload"]["channel_id"] == p.GENERAL
    (prompts,) = slack_http.slack.pane_calls("assistant.threads.setSuggestedPrompts")
    assert prompts["thread_ts"] == THREAD
    assert prompts["title"] == "Try asking:"
    assert {"title": "What do you remember?", "message": "What do you remember about me?"} in prompts[
        "prompts"
    ]


async def test_a_context_change_is_kept_by_bolts_thread_context_store(slack_http: SlackHarness) -> None:
    await slack_http.event(sp.thread_started(thread_ts=THREAD))
    await slack_http.settle()

    await slack_http.event(sp.context_changed(thread_ts=THREAD, looking_at=p.SECRET_CHANNEL))
    await slack_http.settle()

    (greeting,) = slack_http.slack.posted(p.ALICE_DM)
    assert greeting.edits == 1
    assert greeting.args["metadata"]["event_payload"]["channel_id"] == p.SECRET_CHANNEL
    assert slack_http.model.count("chat") == 0  # a context change is not a question


async def test_a_question_shows_thinking_then_a_title_then_the_streamed_answer_with_feedback(
    slack_http: SlackHarness,
) -> None:
    slack_http.model.state.reply = lambda messages: "You told me you like green tea."

    await ask(slack_http, "What do I like to drink in the morning, do you remember?")

    calls = order(slack_http)
    assert calls.index("assistant.threads.setStatus") < calls.index("chat.startStream")
    (status,) = slack_http.slack.pane_calls("assistant.threads.setStatus")
    assert (status["status"], status["thread_ts"]) == ("is thinking...", THREAD)
    (title,) = slack_http.slack.pane_calls("assistant.threads.setTitle")
    assert title["title"] == "What do I like to drink in the morning, do you remember?"
    (answer,) = answers(slack_http)
    assert answer.text == "You told me you like green tea."
    assert answer.thread_ts == THREAD
    assert not answer.stream_open
    assert answer.args["recipient_user_id"] == p.ALICE
    (feedback,) = answer.args["blocks"]
    assert feedback["type"] == "context_actions"
    assert feedback["elements"][0]["type"] == "feedback_buttons"
    assert slack_http.slack.count("chat.postMessage") == 0  # nothing posted the old way


async def test_only_the_first_question_titles_the_thread(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "Noted."

    await ask(slack_http, "first question")
    await ask(slack_http, "second question")

    assert [c["title"] for c in slack_http.slack.pane_calls("assistant.threads.setTitle")] == [
        "first question"
    ]
    assert len(slack_http.slack.pane_calls("assistant.threads.setStatus")) == 2
    assert len(answers(slack_http)) == 2


async def test_a_long_answer_streams_in_pieces_and_model_markup_cannot_ping(slack_http: SlackHarness) -> None:
    long_answer = "<!channel> " + " ".join(f"word{i}" for i in range(300))
    slack_http.model.state.reply = lambda messages: long_answer
    slack_http.model.state.stream_chunk_chars = 40

    await ask(slack_http, "tell me a lot")

    (answer,) = answers(slack_http)
    # In pieces of at least 256 characters: startStream, a few appendStream, stopStream.
    assert answer.appends + 2 <= len(answer.text) // 256 + 2
    assert answer.text == long_answer.replace("<", "&lt;").replace(">", "&gt;")
    assert "<!channel>" not in answer.text


async def test_without_native_streaming_the_answer_is_posted_and_edited(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "Posted the old way."
    slack_http.slack.fail("chat.startStream", "not_allowed_token_type", times=5)

    await ask(slack_http, "hello?")

    assert answers(slack_http) == []
    answer, buttons = slack_http.slack.posted(p.ALICE_DM)
    assert (answer.text, answer.thread_ts) == ("Posted the old way.", THREAD)
    assert buttons.thread_ts == THREAD
    assert buttons.args["blocks"][0]["elements"][0]["type"] == "feedback_buttons"


async def test_the_pane_is_private_like_a_dm(slack_http: SlackHarness) -> None:
    account = await slack_http.core.store.resolve_account(ALICE)
    await slack_http.core.memory.remember(
        account.id,
        [{"role": "user", "content": "my door code is 4321"}],
        origin=MemoryOrigin(Platform.SLACK, p.ALICE_DM, is_private=True),
        epoch=0,
    )
    slack_http.model.state.reply = lambda messages: "Sure."

    await ask(slack_http, "what is my door code")
    assert await slack_http.core.writer.flush(10)

    # A private memory is recalled in the pane ...
    assert "my door code is 4321" in str(slack_http.model.chat_prompts()[-1])
    # ... and what is said there is remembered as private.
    learned = [
        m for m in await slack_http.core.memory.export(account.id, epoch=0) if "what is my door" in m.text
    ]
    assert learned
    assert all(item.is_private for item in learned)


async def test_feedback_clicks_are_kept_per_answer_for_the_clicker(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "An answer."
    await ask(slack_http, "a question")
    (answer,) = answers(slack_http)

    for value in ("good", "bad"):  # a second click replaces the first
        response = await slack_http.post(
            *p.interactive_request(sp.feedback_click(value, message_ts=answer.ts))
        )
        assert response.status_code == 200
        await slack_http.settle()

    (kept,) = await slack_http.core.assistant.feedback(ALICE)
    assert (kept.answer, kept.rating) == (f"slack:{p.TEAM}:{p.ALICE_DM}:{answer.ts}", Rating.BAD)
    assert await slack_http.core.assistant.feedback(BOB) == []


async def test_a_feedback_click_without_a_rating_records_nothing(slack_http: SlackHarness) -> None:
    response = await slack_http.post(*p.interactive_request(sp.feedback_click("meh", message_ts="1.2")))
    await slack_http.settle()

    assert response.status_code == 200
    assert await slack_http.core.assistant.feedback(ALICE) == list[AnswerFeedback]()


async def test_erasing_everything_erases_the_feedback(slack_http: SlackHarness) -> None:
    await slack_http.post(*p.interactive_request(sp.feedback_click("good", message_ts="1.2")))
    await slack_http.settle()
    assert len(await slack_http.core.assistant.feedback(ALICE)) == 1

    await slack_http.command("forget all confirm", name="erase")
    await slack_http.response("erase")

    assert await slack_http.core.assistant.feedback(ALICE) == []


async def test_a_retried_delivery_is_answered_once(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: "Once."
    event = sp.pane_message("only once please", thread_ts=THREAD)

    for retry in (None, 1):
        response = await slack_http.event(event, retry=retry)
        assert response.status_code == 200
        await slack_http.settle()

    assert [m.text for m in answers(slack_http)] == ["Once."]
    assert slack_http.model.count("chat") == 1
    statuses = [c["status"] for c in slack_http.slack.pane_calls("assistant.threads.setStatus")]
    assert statuses == ["is thinking..."]  # the retry is refused at the door: no status for it
