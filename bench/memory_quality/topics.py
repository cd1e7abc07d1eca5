"""The kinds of topic the dataset generator draws from, and the questions about things never said.

Every topic has a `key`: a person gets each key at most once across all kinds, so no two facts of
one person answer the same question by accident. Templates are filled with `str.format`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SingleTopic:
    """A fact said once ({v}); `confusers` say the same kind of thing about someone else."""

    key: str
    values: tuple[str, ...]
    statements: tuple[str, ...]
    questions: tuple[str, ...]
    confusers: tuple[str, ...]
    # Questions that need the fact without naming its subject the way it was said (a request that
    # relies on it): the harder half of what people ask an assistant that remembers.
    indirect: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MultiTopic:
    """Two facts said in different sessions ({a}, then {b}); the question needs both."""

    key: str
    values_a: tuple[str, ...]
    values_b: tuple[str, ...]
    first: tuple[str, ...]
    second: tuple[str, ...]
    questions: tuple[str, ...]
    answer: str
    indirect: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateTopic:
    """An older value ({old}), later replaced by a newer one ({new}); the newer must win."""

    key: str
    values: tuple[str, ...]
    older: tuple[str, ...]
    newer: tuple[str, ...]
    questions: tuple[str, ...]
    indirect: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DateTopic:
    """An event said with a date relative to the day it was said ({when}); asked about later."""

    key: str
    tense: str  # "past" or "future": which relative expressions fit
    statements: tuple[str, ...]
    questions: tuple[str, ...]
    values: tuple[str, ...] = ("",)


@dataclass(frozen=True, slots=True)
class PrivateTopic:
    """Said in a DM; asked in a public channel, where it must not be recalled."""

    key: str
    values: tuple[str, ...]
    statements: tuple[str, ...]
    questions: tuple[str, ...]


CITIES = (
    "Porto", "Lyon", "Leeds", "Montreal", "Tampere", "Ghent", "Valencia", "Krakow", "Dublin",
    "Osaka", "Austin", "Bologna", "Gothenburg", "Cape Town", "Wellington", "Bilbao",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NeverTopic:
    """A question about something nobody ever said (evidence: none)."""

    key: str
    questions: tuple[str, ...]


NEVER_TOPICS: tuple[NeverTopic, ...] = (
    NeverTopic("blood", ("What's my blood type?",)),
    NeverTopic("movie", ("What's my favourite movie?",)),
    NeverTopic("tattoo", ("Do I have any tattoos?",)),
    NeverTopic("shoe", ("What's my shoe size?",)),
    NeverTopic("dog", ("What's my dog's name?",)),
    NeverTopic("gym", ("Which gym do I go to?",)),
    NeverTopic("siblings_count", ("How many siblings do I have?",)),
    NeverTopic("middle_name", ("What's my middle name?",)),
    NeverTopic("garden", ("What do I grow in my garden?",)),
    NeverTopic("podcast", ("Which podcast do I listen to?",)),
)
