"""The memory-quality dataset: people, their sessions and turns, and labelled questions.

Stored as dataset.json beside this file (written by generate.py). A question's `evidence` are the
turns that answer it; what the benchmark expects of them depends on the question's kind:
- single, multi_session, date: the evidence should be recalled;
- update: `evidence` is the newer value, `superseded` the older one; the newer should be recalled
  and ranked above the older;
- never_said: no evidence; nothing relevant should come back;
- privacy_trap: the evidence was said in a DM and the question is asked in a public channel, so it
  must NOT be recalled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

DATASET_PATH = Path(__file__).resolve().parent / "dataset.json"

SINGLE = "single"
MULTI = "multi_session"
DATE = "date"
UPDATE = "update"
NEVER = "never_said"
PRIVACY = "privacy_trap"
KINDS = (SINGLE, MULTI, DATE, UPDATE, NEVER, PRIVACY)
# Kinds whose evidence should be recalled (evidence recall is measured over these).
ANSWERABLE = (SINGLE, MULTI, DATE, UPDATE)

# How a question is put: naming its subject as it was said, or as a request that relies on it.
DIRECT = "direct"
INDIRECT = "indirect"

SLACK = "slack"
DISCORD = "discord"
DM = "dm"
PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Turn:
    id: str
    at: datetime
    text: str
    kind: str  # "fact", "confuser" (the same subject, about someone else) or "chatter"


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    platform: str
    place: str
    channel: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    slack_user: str
    discord_user: str
    sessions: tuple[Session, ...]

    def turns(self) -> list[tuple[Session, Turn]]:
        return [(session, turn) for session in self.sessions for turn in session.turns]


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    person: str
    kind: str
    text: str
    platform: str
    place: str
    channel: str
    asked_at: datetime
    evidence: tuple[str, ...]
    superseded: tuple[str, ...]
    answer: str
    style: str = DIRECT


@dataclass(frozen=True, slots=True)
class Dataset:
    seed: int
    workspace: str
    people: tuple[Person, ...]
    questions: tuple[Question, ...]

    def first_people(self, count: int) -> Dataset:
        """The first `count` people and only their questions (the --quick run)."""
        people = self.people[:count]
        kept = {p.id for p in people}
        return replace(self, people=people, questions=tuple(q for q in self.questions if q.person in kept))


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def to_json(dataset: Dataset) -> str:
    """Deterministic text, one turn or question per line, so the committed file stays small and
    diffs cleanly (plain `json.dumps(indent=...)` spends a third of it on whitespace)."""
    out = [
        "{",
        ' "about": "Mnemo memory-quality benchmark; written by bench/memory_quality/generate.py",',
        f' "seed": {dataset.seed},',
        f' "workspace": {json.dumps(dataset.workspace)},',
        ' "people": [',
    ]
    for i, person in enumerate(dataset.people):
        head = {"id": person.id, "name": person.name, "slack_user": person.slack_user}
        head["discord_user"] = person.discord_user
        out.append("  " + _line(head)[:-1] + ', "sessions": [')
        for j, session in enumerate(person.sessions):
            meta = {"id": session.id, "platform": session.platform, "place": session.place}
            meta["channel"] = session.channel
            out.append("   " + _line(meta)[:-1] + ', "turns": [')
            turns = [
                "    " + _line({"id": t.id, "at": t.at.isoformat(), "text": t.text, "kind": t.kind})
                for t in session.turns
            ]
            out.append(",\n".join(turns))
            out.append("   ]}" + ("," if j < len(person.sessions) - 1 else ""))
        out.append("  ]}" + ("," if i < len(dataset.people) - 1 else ""))
    out.append(" ],")
    out.append(' "questions": [')
    questions = [
        "  "
        + _line(
            {
                "id": q.id,
                "person": q.person,
                "kind": q.kind,
                "text": q.text,
                "platform": q.platform,
                "place": q.place,
                "channel": q.channel,
                "asked_at": q.asked_at.isoformat(),
                "evidence": list(q.evidence),
                "superseded": list(q.superseded),
                "answer": q.answer,
                "style": q.style,
            }
        )
        for q in dataset.questions
    ]
    out.append(",\n".join(questions))
    out.append(" ]")
    out.append("}")
    return "\n".join(out) + "\n"


def from_json(text: str) -> Dataset:
    data = json.loads(text)
    people = tuple(
        Person(
            id=p["id"],
            name=p["name"],
            slack_user=p["slack_user"],
            discord_user=p["discord_user"],
            sessions=tuple(
                Session(
                    id=s["id"],
                    platform=s["platform"],
                    place=s["place"],
                    channel=s["channel"],
                    turns=tuple(
                        Turn(id=t["id"], at=datetime.fromisoformat(t["at"]), text=t["text"], kind=t["kind"])
                        for t in s["turns"]
                    ),
                )
                for s in p["sessions"]
            ),
        )
        for p in data["people"]
    )
    questions = tuple(
        Question(
            id=q["id"],
            person=q["person"],
            kind=q["kind"],
            text=q["text"],
            platform=q["platform"],
            place=q["place"],
            channel=q["channel"],
            asked_at=datetime.fromisoformat(q["asked_at"]),
            evidence=tuple(q["evidence"]),
            superseded=tuple(q["superseded"]),
            answer=q["answer"],
            style=q["style"],
        )
        for q in data["questions"]
    )
    return Dataset(seed=data["seed"], workspace=data["workspace"], people=people, questions=questions)


def load_dataset(path: Path = DATASET_PATH) -> Dataset:
    return from_json(path.read_text(encoding="utf-8"))
