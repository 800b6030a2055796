"""The records that flow through the knowledge base: parsed documents, chunks and search hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kb.timecode import format_timecode


@dataclass(frozen=True)
class Sentence:
    """One re-flowed sentence. Timed sentences carry `start_s` (their first fragment's time) and
    `marks`: (character offset, seconds) for every caption fragment inside the sentence, so a
    citation can point at the fragment that says the thing. Untimed ones carry a `locator`."""

    text: str
    start_s: float | None = None
    marks: tuple[tuple[int, float], ...] = ()
    locator: str | None = None

    def time_at(self, offset: int) -> float | None:
        """The time of the fragment that contains character `offset`."""
        if self.start_s is None:
            return None
        t = self.start_s
        for off, when in self.marks:
            if off <= offset:
                t = when
            else:
                break
        return t


@dataclass(frozen=True)
class Chapter:
    """A titled section of an episode or video, from its start time (seconds)."""

    start_s: float
    title: str


@dataclass(frozen=True)
class Document:
    """A parsed source file: its id (the file stem), title, video URL and sentences; for an episode
    or video also its chapters, publication date (ISO `YYYY-MM-DD`) and feed or channel name."""

    source: str
    title: str
    path: str
    sentences: tuple[Sentence, ...]
    url: str | None = None
    kind: str = "text"  # transcript | srt | vtt | text | json | info.json
    content_hash: str = ""
    chapters: tuple[Chapter, ...] = ()
    published: str | None = None
    feed: str | None = None

    @property
    def timed(self) -> bool:
        return any(s.start_s is not None for s in self.sentences)


@dataclass(frozen=True)
class Chunk:
    """A window of whole sentences, the unit that is embedded and stored."""

    id: str
    source: str
    title: str
    text: str
    ordinal: int
    sentences: tuple[Sentence, ...]
    url: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    locator: str | None = None


@dataclass
class Passage:
    """A search hit: a stored chunk with its score and the sentence that best matches the query."""

    chunk_id: str
    source: str
    title: str
    text: str
    score: float
    sentences: tuple[Sentence, ...] = ()
    url: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    locator: str | None = None
    at_s: float | None = None  # time of the best-matching sentence (fragment)
    best_sentence: str = ""
    best_locator: str | None = None
    similarity: float | None = None  # dense cosine similarity to the query, when dense retrieval saw it
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def at(self) -> str | None:
        """The citation label: `10:31` for timed passages, the locator otherwise."""
        if self.at_s is not None:
            return format_timecode(self.at_s)
        return self.best_locator or self.locator

    @property
    def link(self) -> str | None:
        return video_link(self.url, self.at_s)

    def shown_at(self, s: Sentence) -> float | None:
        """The moment a search result shows for one of its sentences: the best-matching one at the
        fragment where the match begins, any other at its start (None for untimed text)."""
        return self.at_s if s.text == self.best_sentence and self.at_s is not None else s.start_s

    def to_state(self) -> dict[str, Any]:
        """A plain-data copy (for checkpoints); `Passage.from_state` reverses it."""
        d = {k: v for k, v in self.__dict__.items() if k != "sentences"}
        d["sentences"] = [sentence_to_json(s) for s in self.sentences]
        return d

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Passage:
        data = dict(d)
        data["sentences"] = tuple(sentence_from_json(s) for s in d.get("sentences", ()))
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "at": self.at,
            "at_s": self.at_s,
            "text": self.text,
            "best_sentence": self.best_sentence,
            "score": round(self.score, 6),
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "url": self.link or self.url,
            "chunk_id": self.chunk_id,
            "ranks": dict(self.ranks),
        }


def handle(p: Passage, s: Sentence, at_s: float | None = None) -> str:
    """The citation handle of a sentence of a passage, as models read it and the guard resolves it:
    `10:31` for timed text (at `at_s`, a fragment time inside the sentence, when given), `doc-id ¶3`
    otherwise."""
    t = at_s if at_s is not None else s.start_s
    if t is not None:
        return format_timecode(t)
    return f"{p.source} {s.locator or p.locator or '¶1'}"


def video_link(url: str | None, seconds: float | None) -> str | None:
    """The URL that opens the video at `seconds` (YouTube `t=` parameter), or the plain URL."""
    if not url:
        return None
    if seconds is None:
        return url
    from kb.links import with_time

    return with_time(url, seconds)


def sentence_to_json(s: Sentence) -> dict[str, Any]:
    d = asdict(s)
    d["marks"] = [list(m) for m in s.marks]
    return {k: v for k, v in d.items() if k == "text" or not (v is None or v == [])}


def sentence_from_json(d: dict[str, Any]) -> Sentence:
    return Sentence(
        text=d["text"],
        start_s=d.get("start_s"),
        marks=tuple((int(o), float(t)) for o, t in d.get("marks", ())),
        locator=d.get("locator"),
    )
