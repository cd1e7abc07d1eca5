"""What a keyword search looks for: the words of a query, made safe for a full-text engine.

mem0 (2.2.1) calls a vector store's `keyword_search(query, top_k, filters)` with the query run
through spaCy's lemmatizer when spaCy is installed, which also drops stop words; without spaCy
(Mnemo does not install it, see README "Memory quality") it passes the text unchanged. So the
query is whatever a person typed: quotes, `*`, `NEAR(`, column filters, parentheses or a megabyte of
text. None of it may reach the engine as syntax. Only words (\\w+ runs, any script) are kept,
each quoted as a literal term, joined with OR (BM25 then ranks documents matching more and rarer
terms higher).

Stop words are dropped here (hand-written, because the only maintained lists ship with large NLP
packages): a question is mostly "what / do / I / my", which every memory contains; they add
nothing to BM25's ranking but make the engine walk every memory's postings.
"""

from __future__ import annotations

import re

# The engine sees at most this much of a query, and at most this many distinct terms of it.
MAX_QUERY_CHARS = 4000
MAX_TERMS = 32
MAX_TERM_CHARS = 64

_WORD = re.compile(r"\w+", re.UNICODE)

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t d ll m re ve
    """.split()  # noqa: SIM905
)


def keyword_terms(query: str) -> list[str]:
    """The distinct words of `query` worth searching for, lower-cased, in order of appearance."""
    terms: dict[str, None] = {}
    for match in _WORD.finditer(query[:MAX_QUERY_CHARS]):
        word = match.group().casefold()
        if word in STOP_WORDS or len(word) > MAX_TERM_CHARS or word.strip("_") == "":
            continue
        terms[word] = None
        if len(terms) >= MAX_TERMS:
            break
    return list(terms)


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: each term a quoted string (a word holds no `"`), ORed."""
    return " OR ".join(f'"{term}"' for term in terms)
