"""Answers as Discord messages: splitting (code blocks intact, UTF-16 lengths), nonces, titles."""

from __future__ import annotations

import random
import re

from adapters.discord.render import MESSAGE_LIMIT, nonce_for, split_message, thread_name

MESSAGE = 1_000_000_000_000_000_040


def fences_balanced(chunk: str) -> bool:
    return chunk.count("```") % 2 == 0


def test_short_answers_are_one_message_unchanged() -> None:
    assert split_message("hello\n\nworld") == ["hello\n\nworld"]
    assert split_message("   \n ") == []


def test_long_prose_splits_on_line_then_word_boundaries() -> None:
    paragraph = " ".join(f"word{i}" for i in range(900))  # one 7k-character line
    chunks = split_message(paragraph + "\n" + paragraph)
    assert len(chunks) >= 4
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    words = " ".join(chunks).split()
    assert words == (paragraph + " " + paragraph).split()  # nothing lost, no word cut


def test_code_block_across_a_boundary_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step {i}" for i in range(120))
    text = "Here is the script:\n```python\n" + code + "\n```\nThat's it."
    chunks = split_message(text)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert len(chunk) <= MESSAGE_LIMIT
        assert fences_balanced(chunk), chunk[:80]
    assert chunks[1].startswith("```python\n")
    assert chunks[0].endswith("\n```")
    body = "\n".join(chunks)
    assert all(f"value_{i} = compute({i})" in body for i in range(120))
    assert chunks[-1].endswith("That's it.")


def test_a_line_without_spaces_is_hard_cut() -> None:
    chunks = split_message("x" * 4500)
    assert [len(c) for c in chunks] == [2000, 2000, 500]


def test_length_counts_like_discord_for_emoji() -> None:
    text = "😀" * 1500  # 3000 UTF-16 units
    chunks = split_message(text)
    assert all(len(c.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT for c in chunks)
    assert "".join(chunks) == text


def test_random_documents_always_split_into_valid_chunks() -> None:
    rng = random.Random(7)
    vocabulary = ["alpha", "beta", "```", "```js", "    indented", "", "x" * 300, "long " * 80, "😀"]
    for _ in range(200):
        text = "\n".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 120)))
        chunks = split_message(text)
        for chunk in chunks:
            assert len(chunk.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
            assert chunk.strip()
        if text.count("```") % 2 == 0 and len(text) > MESSAGE_LIMIT:
            assert all(fences_balanced(c) for c in chunks)
        original = re.sub(r"\s+|```\w*", "", text)
        rebuilt = re.sub(r"\s+|```\w*", "", "\n".join(chunks))
        assert rebuilt == original


def test_nonce_is_stable_and_fits_discord() -> None:
    assert nonce_for(MESSAGE, 3) == nonce_for(str(MESSAGE), 3)
    assert nonce_for(MESSAGE, 0) != nonce_for(MESSAGE, 1)
    assert len(nonce_for(2**64 - 1, 999)) <= 25


def test_thread_name_is_the_first_line_within_100_chars() -> None:
    assert thread_name("\n  What is   up?\nmore", fallback="Mnemo") == "What is up?"
    assert len(thread_name("a" * 300, fallback="Mnemo")) == 100
    assert thread_name("  ", fallback="Mnemo answers") == "Mnemo answers"
