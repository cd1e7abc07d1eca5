"""The one long-message splitter, under plain rules and under rules like Slack's (escapes and links
never cut) and Discord's (UTF-16 length, code blocks reopened with their language)."""

from __future__ import annotations

import random
import re

import pytest

from adapters.common.split import MarkupRules, split_message, utf16_length

ESCAPES_AND_LINKS = MarkupRules(unbreakable=re.compile(r"&(?:amp|lt|gt);|<[^<>]*>"))
UTF16_WITH_LANGUAGES = MarkupRules(measure=utf16_length, language_tags=True)


def fences_balanced(chunk: str) -> bool:
    return chunk.count("```") % 2 == 0


def test_a_short_text_is_one_chunk_unchanged_and_blank_text_none() -> None:
    assert split_message("hello\n\nworld", limit=100) == ["hello\n\nworld"]
    assert split_message("  \n ", limit=100) == []


def test_paragraph_breaks_come_first() -> None:
    text = "\n\n".join(f"para {i} " + "x" * 90 for i in range(30))
    chunks = split_message(text, limit=500)

    assert all(len(c) <= 500 for c in chunks)
    assert "\n\n".join(chunks) == text


def test_long_lines_split_between_words() -> None:
    line = " ".join(f"word{i}" for i in range(900))
    chunks = split_message(line + "\n" + line, limit=2000)

    assert len(chunks) >= 4
    assert all(len(c) <= 2000 for c in chunks)
    assert " ".join(chunks).split() == (line + " " + line).split()


def test_text_without_spaces_is_cut_at_the_limit() -> None:
    assert [len(c) for c in split_message("x" * 4500, limit=2000)] == [2000, 2000, 500]


def test_unbreakable_spans_are_never_cut() -> None:
    text = "&amp;" * 400 + "<https://example.com/" + "a" * 50 + "|label>" + "b" * 1000
    chunks = split_message(text, limit=300, rules=ESCAPES_AND_LINKS)

    assert "".join(chunks) == text
    for chunk in chunks:
        assert re.fullmatch(r"(&amp;)*", chunk) or "&" not in chunk or chunk.startswith("&amp;")
        assert chunk.count("<") == chunk.count(">")


def test_a_space_inside_an_unbreakable_span_is_no_place_to_cut() -> None:
    link = "<https://example.com/page|a label with many words in it>"
    text = "y" * 150 + " " + link + "z" * 200
    chunks = split_message(text, limit=200, rules=ESCAPES_AND_LINKS)

    assert all(len(c) <= 200 for c in chunks)
    assert any(c.startswith(link) for c in chunks), chunks


def test_a_cut_code_block_is_closed_and_reopened() -> None:
    text = "intro\n```\n" + "\n".join(f"line {i}" for i in range(200)) + "\n```\nafter"
    chunks = split_message(text, limit=400)

    assert len(chunks) > 3
    assert all(fences_balanced(c) and len(c) <= 400 for c in chunks)
    assert chunks[0].endswith("\n```")
    assert chunks[1].startswith("```\nline")
    assert chunks[-1].endswith("after")


def test_the_language_tag_is_kept_where_the_platform_shows_it() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step {i}" for i in range(120))
    text = "Here is the script:\n```python\n" + code + "\n```\nThat's it."

    chunks = split_message(text, limit=2000, rules=UTF16_WITH_LANGUAGES)
    plain = split_message(text, limit=2000)

    assert len(chunks) >= 3
    assert all(fences_balanced(c) for c in chunks)
    assert chunks[1].startswith("```python\n    value_")
    assert plain[1].startswith("```\n    value_")
    assert chunks[-1].endswith("That's it.")
    assert all(f"value_{i} = compute({i})" in "\n".join(chunks) for i in range(120))


def test_an_open_code_block_is_closed_even_in_a_short_text() -> None:
    """A text still being streamed: the block closes later, but each update must render."""
    assert split_message("Look:\n```\nprint(1)", limit=100) == ["Look:\n```\nprint(1)\n```"]


def test_length_is_the_platforms() -> None:
    text = "😀" * 1500  # 1,500 characters, 3,000 UTF-16 code units
    chunks = split_message(text, limit=2000, rules=UTF16_WITH_LANGUAGES)

    assert all(utf16_length(c) <= 2000 for c in chunks)
    assert "".join(chunks) == text
    assert split_message(text, limit=2000) == [text]


def test_a_limit_too_small_for_code_blocks_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 64"):
        split_message("text", limit=10)
    with pytest.raises(ValueError, match="at least 80"):
        split_message("text", limit=70, rules=UTF16_WITH_LANGUAGES)


@pytest.mark.parametrize("rules", [ESCAPES_AND_LINKS, UTF16_WITH_LANGUAGES], ids=["escapes", "utf16"])
def test_random_documents_always_split_into_valid_chunks(rules: MarkupRules) -> None:
    rng = random.Random(7)
    vocabulary = [
        "alpha",
        "beta &amp; gamma",
        "```",
        "```js",
        "    indented",
        "",
        "x" * 300,
        "long " * 80,
        "😀",
        "<https://example.com/x|a link>",
    ]
    for _ in range(200):
        text = "\n".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 120)))
        chunks = split_message(text, limit=500, rules=rules)
        for chunk in chunks:
            assert rules.measure(chunk) <= 500
            assert chunk.strip()
            if rules.unbreakable is not None:
                assert chunk.count("<") == chunk.count(">")
        if fences_balanced(text):
            assert all(fences_balanced(c) for c in chunks)
        original = re.sub(r"\s+|```\w*", "", text)
        rebuilt = re.sub(r"\s+|```\w*", "", "\n".join(chunks))
        assert rebuilt == original


def test_a_cut_at_a_line_break_loses_only_the_line_break() -> None:
    """Lines ending in a space (as streamed text does) stay words apart when chunks are joined."""
    text = "".join(("lorem ipsum dolor sit amet " * 8) + "\n" for _ in range(24))
    chunks = split_message(text, limit=2000, rules=UTF16_WITH_LANGUAGES)

    assert len(chunks) == 3
    assert "".join(chunks).split() == text.split()
