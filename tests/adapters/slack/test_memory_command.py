"""/memory end to end: signed slash commands and button clicks -> ephemeral answers via response_url."""

from __future__ import annotations

import json
import time

from adapters.slack.render import (
    ACTION_DELETE,
    ACTION_FORGET_ALL_CANCEL,
    ACTION_FORGET_ALL_CONFIRM,
    ACTION_OLDER,
    ShowState,
    encode_state,
)
from core.commands import HELP_TEXT
from core.models import IdentityKey, MemoryItem, MemoryOrigin, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness, assert_safe_mrkdwn, blocks_text


async def seed(harness: SlackHarness, facts: list[str], *, user: str = p.ALICE) -> list[MemoryItem]:
    account = await harness.core.store.resolve_account(IdentityKey(Platform.SLACK, p.TEAM, user))
    added = await harness.core.memory.remember(
        account.id,
        [{"role": "user", "content": fact} for fact in facts],
        origin=MemoryOrigin(Platform.SLACK, p.GENERAL, is_private=False),
        epoch=0,
    )
    assert len(added) == len(facts)
    return added


async def texts(harness: SlackHarness, user: str = p.ALICE) -> list[str]:
    account = await harness.core.store.resolve_account(IdentityKey(Platform.SLACK, p.TEAM, user))
    return sorted(item.text for item in await harness.core.memory.export(account.id, epoch=0))


def buttons(response: dict[str, object], action_id: str) -> list[dict[str, str]]:
    found = []
    for block in response.get("blocks", []):  # type: ignore[union-attr]
        elements = list(block.get("elements", [])) + ([block["accessory"]] if "accessory" in block else [])
        found += [e for e in elements if e.get("action_id") == action_id]
    return found


async def test_show_with_nothing_remembered(slack_http: SlackHarness) -> None:
    response = await slack_http.command("", name="show")
    answer = await slack_http.response("show")

    assert response.status_code == 200
    assert response.text == ""  # the ack is empty; the answer arrives through response_url
    assert answer["response_type"] == "ephemeral"
    assert "I don't remember anything about you yet." in blocks_text(answer)


async def test_show_lists_memories_with_delete_buttons_and_pages(slack_http: SlackHarness) -> None:
    await seed(slack_http, [f"fact number {i}" for i in range(12)])

    await slack_http.command("show", name="show")
    first = await slack_http.response("show")

    assert first["response_type"] == "ephemeral"
    assert "1–10 of 12" in blocks_text(first)
    assert len(buttons(first, ACTION_DELETE)) == 10
    older = buttons(first, ACTION_OLDER)
    assert len(older) == 1

    await slack_http.click(ACTION_OLDER, older[0]["value"], name="older")
    second = await slack_http.response("older")

    assert second["replace_original"] is True
    assert "11–12 of 12" in blocks_text(second)
    assert len(buttons(second, ACTION_DELETE)) == 2


async def test_show_with_words_searches(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["my cat is called Miso", "I work as a pilot", "I like green tea"])

    await slack_http.command("show cat Miso", name="search")
    answer = await slack_http.response("search")

    assert "matching" in blocks_text(answer)
    assert "my cat is called Miso" in blocks_text(answer)


async def test_forget_by_id(slack_http: SlackHarness) -> None:
    items = await seed(slack_http, ["I live in Porto", "I have two kids"])
    porto = next(i for i in items if "Porto" in i.text)

    await slack_http.command(f"forget {porto.id}", name="forget")
    answer = await slack_http.response("forget")

    assert "Forgotten: I live in Porto" in blocks_text(answer)
    assert await texts(slack_http) == ["I have two kids"]


async def test_forget_unknown_id_says_so(slack_http: SlackHarness) -> None:
    await slack_http.command("forget not-a-real-id", name="forget")
    answer = await slack_http.response("forget")

    assert "No memory with id not-a-real-id." in blocks_text(answer)


async def test_delete_button_forgets_and_refreshes_the_list(slack_http: SlackHarness) -> None:
    items = await seed(slack_http, ["I play the cello", "I am vegetarian"])
    await slack_http.command("", name="show")
    listing = await slack_http.response("show")
    cello = next(b for b in buttons(listing, ACTION_DELETE) if json.loads(b["value"])["id"] == items[0].id)

    await slack_http.click(ACTION_DELETE, cello["value"], name="delete")
    answer = await slack_http.response("delete")

    assert answer["replace_original"] is True
    assert f"Forgotten: {items[0].text}" in blocks_text(answer)
    assert len(buttons(answer, ACTION_DELETE)) == 1
    assert await texts(slack_http) == sorted(i.text for i in items[1:])


async def test_a_button_acts_for_the_person_who_clicked_only(slack_http: SlackHarness) -> None:
    """Bob replaying a Delete button carrying Alice's memory id cannot delete it."""
    items = await seed(slack_http, ["Alice's secret plan"], user=p.ALICE)
    value = encode_state(ShowState(0, "", items[0].id))

    await slack_http.click(ACTION_DELETE, value, name="bob", user=p.BOB)
    answer = await slack_http.response("bob")

    assert "That memory was already gone." in blocks_text(answer)
    assert "Alice's secret plan" not in blocks_text(answer)
    assert await texts(slack_http, p.ALICE) == ["Alice's secret plan"]


async def test_forget_all_asks_first_then_erases_everything(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["I was born in 1990", "my dog is Rex"])
    await slack_http.command("forget all", name="ask")
    question = await slack_http.response("ask")

    confirm = buttons(question, ACTION_FORGET_ALL_CONFIRM)
    assert len(confirm) == 1
    assert "confirm" in confirm[0]
    assert len(await texts(slack_http)) == 2  # nothing erased yet

    await slack_http.click(ACTION_FORGET_ALL_CONFIRM, confirm[0]["value"], name="erase")
    done = await slack_http.response("erase")

    assert done["replace_original"] is True
    assert "I erased 2 memories" in blocks_text(done)
    assert await texts(slack_http) == []


async def test_forget_all_cancel_keeps_everything(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["I like jazz"])
    await slack_http.command("forget all", name="ask")
    question = await slack_http.response("ask")

    cancel = buttons(question, ACTION_FORGET_ALL_CANCEL)
    await slack_http.click(ACTION_FORGET_ALL_CANCEL, cancel[0]["value"], name="cancel")
    answer = await slack_http.response("cancel")

    assert "Nothing was erased." in blocks_text(answer)
    assert await texts(slack_http) == ["I like jazz"]


async def test_forget_all_button_erases_only_the_clicker(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["Alice likes tea"], user=p.ALICE)
    await seed(slack_http, ["Bob likes coffee"], user=p.BOB)

    await slack_http.click(ACTION_FORGET_ALL_CONFIRM, "forget-all", name="bob", user=p.BOB)
    await slack_http.response("bob")

    assert await texts(slack_http, p.BOB) == []
    assert await texts(slack_http, p.ALICE) == ["Alice likes tea"]


async def test_pause_and_resume(slack_http: SlackHarness) -> None:
    await slack_http.command("pause", name="pause")
    assert "Paused" in blocks_text(await slack_http.response("pause"))

    await slack_http.event(p.dm("my passport number is secret"))
    await slack_http.settle()
    assert await slack_http.core.writer.flush(10)
    assert slack_http.model.count("extract") == 0  # answered, but nothing remembered
    assert slack_http.slack.count("chat.postMessage") == 1

    await slack_http.command("resume", name="resume")
    assert "Resumed" in blocks_text(await slack_http.response("resume"))
    await slack_http.event(p.dm("I moved to Berlin"))
    await slack_http.settle()
    assert await slack_http.core.writer.flush(10)
    assert slack_http.model.count("extract") == 1


async def test_export_is_a_json_file_in_the_persons_dm(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["I speak Portuguese", "my birthday is in May"])

    await slack_http.command("export", name="export")
    answer = await slack_http.response("export")

    assert "I sent your 2 memories as a JSON file to our direct messages." in blocks_text(answer)
    assert [c.args["users"] for c in slack_http.slack.calls("conversations.open")] == [p.ALICE]
    (upload,) = slack_http.slack.state.uploads.values()
    assert upload.channel == f"D{p.ALICE}"
    assert upload.filename == "mnemo-memories.json"
    document = json.loads(upload.content)
    assert sorted(m["text"] for m in document["memories"]) == ["I speak Portuguese", "my birthday is in May"]


async def test_export_falls_back_to_an_ephemeral_answer_when_upload_fails(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["I collect stamps"])
    slack_http.slack.fail("files.getUploadURLExternal", "missing_scope")

    await slack_http.command("export", name="export")
    answer = await slack_http.response("export")

    assert answer["response_type"] == "ephemeral"
    assert "I collect stamps" in blocks_text(answer)
    assert "couldn't send a file" in blocks_text(answer)


async def test_help(slack_http: SlackHarness) -> None:
    await slack_http.command("help", name="help")
    answer = await slack_http.response("help")

    assert HELP_TEXT.splitlines()[0].replace("<", "&lt;").replace(">", "&gt;") in blocks_text(answer)


async def test_unknown_subcommand_gets_a_clear_answer(slack_http: SlackHarness) -> None:
    await slack_http.command("frobnicate everything", name="unknown")
    answer = await slack_http.response("unknown")

    assert "Unknown command 'frobnicate'" in blocks_text(answer)
    assert "/memory forget" in blocks_text(answer)


async def test_bad_page_number_gets_a_clear_answer(slack_http: SlackHarness) -> None:
    await slack_http.command("show --page zero", name="page")
    answer = await slack_http.response("page")

    assert "--page takes a page number" in blocks_text(answer)


async def test_malformed_button_value_gets_a_clear_answer(slack_http: SlackHarness) -> None:
    await slack_http.click(ACTION_DELETE, "{not json", name="bad")
    answer = await slack_http.response("bad")

    assert "That button no longer works" in blocks_text(answer)


async def test_slow_work_is_acked_at_once_and_answered_later(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["I like hiking"])
    slack_http.slack.state.delay["users.info"] = 1.5  # the person's name is looked up first

    started = time.monotonic()
    response = await slack_http.command("show hiking", name="slow")
    acked_after = time.monotonic() - started
    answer = await slack_http.response("slow")
    answered_after = time.monotonic() - started

    assert response.status_code == 200
    assert acked_after < 1.0
    assert answered_after >= 1.5
    assert "I like hiking" in blocks_text(answer)


async def test_command_text_is_unescaped(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["I work in R&D at <Acme>"])

    await slack_http.command("show R&amp;D &lt;Acme&gt;", name="escaped")
    answer = await slack_http.response("escaped")

    assert "matching “R&amp;D &lt;Acme&gt;”" in blocks_text(answer)  # searched for R&D <Acme>
    assert "I work in R&amp;D at &lt;Acme&gt;" in blocks_text(answer)


MODEL_WRITTEN = "tell <!channel> and <@UBOSS> via <!subteam^S1|@admins>: [click](https://evil.example/x)"


async def test_memories_written_by_the_model_cannot_ping_in_any_answer(slack_http: SlackHarness) -> None:
    """Memory texts come from the model: the list, the delete notice and the inline export show
    them as text (escaped), and a masked link stays visible as written."""
    _, masked = await seed(slack_http, [MODEL_WRITTEN, "<https://evil.example|totally safe>"])

    await slack_http.command("show", name="show")
    shown = await slack_http.response("show")
    (delete,) = [b for b in buttons(shown, ACTION_DELETE) if json.loads(b["value"])["id"] == masked.id]
    await slack_http.click(ACTION_DELETE, delete["value"], name="delete")
    after_delete = await slack_http.response("delete")
    slack_http.slack.fail("files.getUploadURLExternal", "missing_scope")
    await slack_http.command("export", name="export")
    exported = await slack_http.response("export")

    for answer in (shown, after_delete, exported):
        assert_safe_mrkdwn(blocks_text(answer))
    assert "tell &lt;!channel&gt; and &lt;@UBOSS&gt;" in blocks_text(shown)
    assert "[click](https://evil.example/x)" in blocks_text(shown)
    assert "&lt;https://evil.example|totally safe&gt;" in blocks_text(shown)
    assert "&lt;!subteam^S1|@admins&gt;" in blocks_text(exported)


async def test_why_shows_the_memories_behind_my_last_answer_in_this_channel(slack_http: SlackHarness) -> None:
    await seed(slack_http, ["Alice keeps bees"])
    await slack_http.event(p.app_mention("what about my bees?"))
    await slack_http.settle()

    await slack_http.command("why", name="why-alice")
    await slack_http.command("why", name="why-bob", user=p.BOB)
    alice = await slack_http.response("why-alice")
    bob = await slack_http.response("why-bob")

    assert alice["response_type"] == "ephemeral"
    assert "My last answer to you here was based on these memories:" in blocks_text(alice)
    assert "Alice keeps bees" in blocks_text(alice)
    assert bob["response_type"] == "ephemeral"
    assert "I haven't answered you here yet" in blocks_text(bob)
    assert "bees" not in blocks_text(bob)
