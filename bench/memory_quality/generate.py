"""Writes dataset.json: a deterministic, seeded dataset written for this project (no public data).

Each person talks with Mnemo over seven sessions on different days: a Slack DM, a Slack public
channel, a Discord DM, a Discord public channel and three more of any of those (their Discord
identity is linked to their Slack one, so it is one memory). About a hundred lines each: facts, mixed
with everyday chatter, talk about the same subjects that answers nothing, recurring complaints in a
few wordings, and "confusers" (the same subject, about someone else). The questions come a week
after the last session.

Run from the repository root: python -m bench.memory_quality.generate  (rewrites dataset.json;
tests/bench checks that the committed file is what this writes)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from . import dataset as ds
from .dataset import DATASET_PATH, Dataset, Person, Question, Session, Turn, to_json
from .topics import NEVER_TOPICS
from .topics_chatter import AREA_CHATTER, CHATTER, RECURRING, TOPIC_AREAS
from .topics_over_time import DATE_TOPICS, FUTURE_WHEN, MULTI_TOPICS, PAST_WHEN, UPDATE_TOPICS
from .topics_private import PRIVATE_TOPICS
from .topics_single import SINGLE_TOPICS

SEED = 16
WORKSPACE = "T0MNEMO"
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
CONVERSATION_DAYS = 42
QUESTIONS_FROM = START + timedelta(days=CONVERSATION_DAYS + 7, hours=9)
NAMES = (
    "Ines Duarte", "Tomasz Nowak", "Amara Okafor", "Kenji Watanabe", "Freya Lindqvist", "Mateo Alvarez",
    "Priyanka Rao", "Liam O'Connor", "Zeynep Kaya", "Oluwaseun Adeyemi", "Hana Novak", "Rafael Costa",
    "Sofia Marchetti", "Daniel Cohen", "Aisha Rahman", "Elias Becker", "Mei Lin", "Jonah Fischer",
    "Lucia Romero", "Kwame Mensah", "Astrid Holm", "Nikhil Sharma", "Chloe Dubois", "Marek Horvat",
)  # fmt: skip
SLACK_PUBLIC = ("C0GENERAL", "C0RANDOM", "C0TEAMCHAT")
DISCORD_PUBLIC = ("5100000000000000001", "5100000000000000002", "5100000000000000003")
PLACES = ((ds.SLACK, ds.DM), (ds.SLACK, ds.PUBLIC), (ds.DISCORD, ds.DM), (ds.DISCORD, ds.PUBLIC))
SESSIONS_PER_PERSON = 7
TURNS_PER_PERSON = (92, 108)
AREA_CHATTER_PER_PERSON = (34, 44)


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


@dataclass
class _Said:
    """One turn to be placed in a session."""

    text: str
    kind: str
    session: int


@dataclass
class _Ask:
    """One question; evidence and superseded are indexes into the plan's `said`."""

    kind: str
    text: str
    answer: str
    evidence: list[int]
    superseded: list[int] = field(default_factory=list)
    style: str = ds.DIRECT


@dataclass
class _Plan:
    """One person's facts before turns get ids and times."""

    rng: random.Random
    sessions: list[tuple[str, str]]
    said: list[_Said] = field(default_factory=list)
    used_keys: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)
    asks: list[_Ask] = field(default_factory=list)

    def value(self, pool: tuple[str, ...]) -> str:
        fresh = [v for v in pool if v.casefold() not in self.used_values]
        chosen = self.rng.choice(fresh)
        if chosen:
            self.used_values.add(chosen.casefold())
        return chosen

    def say(self, text: str, *, kind: str, session: int) -> int:
        self.said.append(_Said(text, kind, session))
        return len(self.said) - 1

    def any_session(self) -> int:
        return self.rng.randrange(len(self.sessions))

    def two_sessions(self) -> tuple[int, int]:
        first, second = sorted(self.rng.sample(range(len(self.sessions)), 2))
        return first, second

    def ask(self, direct: tuple[str, ...], indirect: tuple[str, ...] = ()) -> tuple[str, str]:
        """A question and its style: half of them indirect where the topic has such phrasings."""
        if indirect and self.rng.random() < 0.5:
            return self.rng.choice(indirect), ds.INDIRECT
        return self.rng.choice(direct), ds.DIRECT

    def dm_session(self) -> int:
        return self.rng.choice([i for i, (_, place) in enumerate(self.sessions) if place == ds.DM])


def _when(tense: str, said_on: date, *, rng: random.Random) -> tuple[str, str]:
    """A relative date expression and the date it means, said on `said_on`."""
    phrase, amount, unit = rng.choice(PAST_WHEN if tense == "past" else FUTURE_WHEN)
    if unit == "d":
        return phrase, (said_on + timedelta(days=amount)).isoformat()
    monday = said_on - timedelta(days=said_on.weekday()) + timedelta(weeks=amount)
    return phrase, f"the week of {monday.isoformat()}"


def _free(plan: _Plan, topics: tuple[K, ...], *, count: int) -> list[K]:
    """`count` topics whose subject this person has not talked about yet."""
    chosen = plan.rng.sample([t for t in topics if t.key not in plan.used_keys], count)
    plan.used_keys.update(t.key for t in chosen)
    return chosen


def _plan_single(plan: _Plan) -> None:
    for topic in _free(plan, SINGLE_TOPICS, count=4):
        v = plan.value(topic.values)
        i = plan.say(plan.rng.choice(topic.statements).format(v=v), kind="fact", session=plan.any_session())
        text, style = plan.ask(topic.questions, topic.indirect)
        plan.asks.append(_Ask(ds.SINGLE, text.format(v=v), v, [i], style=style))
        # Confusers: the same subject, about someone else, with other values.
        for confuser in topic.confusers:
            plan.say(confuser.format(v=plan.value(topic.values)), kind="confuser", session=plan.any_session())


def _plan_multi(plan: _Plan) -> None:
    for topic in _free(plan, MULTI_TOPICS, count=2):
        a, b = plan.value(topic.values_a), plan.value(topic.values_b)
        first, second = plan.two_sessions()
        i = plan.say(plan.rng.choice(topic.first).format(a=a, b=b), kind="fact", session=first)
        j = plan.say(plan.rng.choice(topic.second).format(a=a, b=b), kind="fact", session=second)
        text, style = plan.ask(topic.questions, topic.indirect)
        plan.asks.append(_Ask(ds.MULTI, text, topic.answer.format(a=a, b=b), [i, j], style=style))


def _plan_updates(plan: _Plan) -> None:
    for topic in _free(plan, UPDATE_TOPICS, count=2):
        old, new = plan.value(topic.values), plan.value(topic.values)
        first, second = plan.two_sessions()
        i = plan.say(plan.rng.choice(topic.older).format(old=old), kind="fact", session=first)
        j = plan.say(plan.rng.choice(topic.newer).format(old=old, new=new), kind="fact", session=second)
        text, style = plan.ask(topic.questions, topic.indirect)
        plan.asks.append(_Ask(ds.UPDATE, text, new, [j], [i], style=style))


def _plan_dates(plan: _Plan, session_days: list[date]) -> None:
    for topic in _free(plan, DATE_TOPICS, count=2):
        v = plan.value(topic.values)
        session = plan.any_session()
        phrase, answer = _when(topic.tense, session_days[session], rng=plan.rng)
        i = plan.say(plan.rng.choice(topic.statements).format(v=v, when=phrase), kind="fact", session=session)
        plan.asks.append(_Ask(ds.DATE, plan.rng.choice(topic.questions).format(v=v), answer, [i]))


def _plan_private(plan: _Plan) -> None:
    for topic in _free(plan, PRIVATE_TOPICS, count=2):
        v = plan.value(topic.values)
        i = plan.say(plan.rng.choice(topic.statements).format(v=v), kind="fact", session=plan.dm_session())
        question = plan.rng.choice(topic.questions).format(v=v)
        plan.asks.append(_Ask(ds.PRIVACY, question, v or "(private)", [i]))


def _plan_never_said(plan: _Plan) -> None:
    """One subject the person only mentions about someone else (a confuser), one nobody mentions."""
    (single,) = _free(plan, SINGLE_TOPICS, count=1)
    confuser = plan.rng.choice(single.confusers).format(v=plan.value(single.values))
    plan.say(confuser, kind="confuser", session=plan.any_session())
    plan.asks.append(_Ask(ds.NEVER, plan.rng.choice(single.questions), "(never said)", []))
    (never,) = _free(plan, NEVER_TOPICS, count=1)
    plan.asks.append(_Ask(ds.NEVER, plan.rng.choice(never.questions), "(never said)", []))


def _plan_facts(plan: _Plan, session_days: list[date]) -> None:
    _plan_single(plan)
    _plan_multi(plan)
    _plan_updates(plan)
    _plan_dates(plan, session_days)
    _plan_private(plan)
    _plan_never_said(plan)


def _person(
    index: int, *, rng: random.Random, taken_hours: dict[int, set[int]]
) -> tuple[Person, _Plan, dict[int, str]]:
    """One person's sessions, and their plan with the turn id of each planned turn."""
    pid = f"p{index + 1:02d}"
    places = list(PLACES) + [rng.choice(PLACES) for _ in range(SESSIONS_PER_PERSON - len(PLACES))]
    rng.shuffle(places)
    days = sorted(rng.sample(range(CONVERSATION_DAYS), len(places)))
    plan = _Plan(rng=rng, sessions=places)
    _plan_facts(plan, [(START + timedelta(days=d)).date() for d in days])
    areas = sorted({area for key in plan.used_keys for area in TOPIC_AREAS.get(key, ())})
    about_life = sorted({line for area in areas for line in AREA_CHATTER[area]})
    chatter = rng.sample(about_life, min(len(about_life), rng.randint(*AREA_CHATTER_PER_PERSON)))
    for area in areas:
        themes = RECURRING.get(area, ())
        if themes and rng.random() < 0.7:
            theme = rng.choice(themes)
            for line in rng.sample(theme, rng.randint(2, len(theme))):
                plan.say(line, kind="chatter", session=plan.any_session())
    anything = [line for line in CHATTER if line not in chatter]
    chatter += rng.sample(anything, max(0, rng.randint(*TURNS_PER_PERSON) - len(plan.said) - len(chatter)))
    rng.shuffle(chatter)
    for text in chatter:
        # Chatter evens the sessions out (a session of two facts and nothing else is not a chat).
        sizes = [sum(1 for said in plan.said if said.session == s) for s in range(len(places))]
        plan.say(
            text, kind="chatter", session=rng.choice([s for s, n in enumerate(sizes) if n == min(sizes)])
        )

    order = list(range(len(plan.said)))
    rng.shuffle(order)
    sessions: list[Session] = []
    turn_ids: dict[int, str] = {}
    for s, ((platform, place), day) in enumerate(zip(places, days, strict=True)):
        hour = rng.choice([h for h in range(8, 22) if h not in taken_hours.setdefault(day, set())])
        taken_hours[day].add(hour)
        at = START + timedelta(days=day, hours=hour, minutes=rng.randrange(0, 20))
        if place == ds.DM:
            channel = f"D0{pid.upper()}" if platform == ds.SLACK else f"52000000000000000{index + 1:02d}"
        else:
            channel = rng.choice(SLACK_PUBLIC if platform == ds.SLACK else DISCORD_PUBLIC)
        turns: list[Turn] = []
        for k in (k for k in order if plan.said[k].session == s):
            turn_id = f"{pid}-s{s + 1}-t{len(turns) + 1:02d}"
            turn_ids[k] = turn_id
            turns.append(Turn(id=turn_id, at=at, text=plan.said[k].text, kind=plan.said[k].kind))
            at += timedelta(minutes=rng.randint(1, 3))
        sessions.append(Session(f"{pid}-s{s + 1}", platform, place, channel, tuple(turns)))
    texts = [t.text for s in sessions for t in s.turns]
    assert len(texts) == len(set(texts)), f"{pid}: two turns say the same thing"
    person = Person(
        id=pid,
        name=NAMES[index],
        slack_user=f"U0{pid.upper()}",
        discord_user=str(900_000_000_000_000_000 + index + 1),
        sessions=tuple(sessions),
    )
    return person, plan, turn_ids


def _place_of_question(
    kind: str, *, evidence_private: bool, rng: random.Random, person: Person
) -> tuple[str, str]:
    """Where a question is asked: privacy traps in public, DM facts in a DM, the rest anywhere."""
    if kind == ds.PRIVACY:
        platform, place = rng.choice([p for p in PLACES if p[1] == ds.PUBLIC])
    elif evidence_private:
        platform, place = rng.choice([p for p in PLACES if p[1] == ds.DM])
    else:
        platform, place = rng.choice(PLACES)
    if place == ds.DM:
        dm = next(s.channel for s in person.sessions if s.platform == platform and s.place == ds.DM)
        return f"{platform}:{place}", dm
    return f"{platform}:{place}", rng.choice(SLACK_PUBLIC if platform == ds.SLACK else DISCORD_PUBLIC)


def generate(seed: int = SEED, people: int = len(NAMES)) -> Dataset:
    rng = random.Random(seed)
    taken_hours: dict[int, set[int]] = {}
    persons: list[Person] = []
    questions: list[Question] = []
    asked_at = QUESTIONS_FROM
    for index in range(people):
        person, plan, turn_ids = _person(index, rng=rng, taken_hours=taken_hours)
        persons.append(person)
        place_of = {t.id: s.place for s, t in person.turns()}
        for n, ask in enumerate(plan.asks, start=1):
            evidence = [turn_ids[i] for i in ask.evidence]
            superseded = [turn_ids[i] for i in ask.superseded]
            private = any(place_of[t] == ds.DM for t in [*evidence, *superseded])
            where, channel = _place_of_question(ask.kind, evidence_private=private, rng=rng, person=person)
            platform, place = where.split(":")
            questions.append(
                Question(
                    id=f"{person.id}-q{n:02d}",
                    person=person.id,
                    kind=ask.kind,
                    text=ask.text,
                    platform=platform,
                    place=place,
                    channel=channel,
                    asked_at=asked_at,
                    evidence=tuple(evidence),
                    superseded=tuple(superseded),
                    answer=ask.answer,
                    style=ask.style,
                )
            )
            asked_at += timedelta(minutes=3)
    return Dataset(seed=seed, workspace=WORKSPACE, people=tuple(persons), questions=tuple(questions))


def main(path: Path = DATASET_PATH) -> None:
    dataset = generate()
    path.write_text(to_json(dataset), encoding="utf-8")
    turns = sum(len(p.turns()) for p in dataset.people)
    print(f"wrote {path}: {len(dataset.people)} people, {turns} turns, {len(dataset.questions)} questions")


if __name__ == "__main__":
    main()
