"""QMSum (Zhong et al., NAACL 2021) as a kb corpus and gold files: `kb dataset qmsum PATH OUT/`.

Input: one meeting per JSON line (`meeting_transcripts`, `specific_query_list`, ...; see the
dataset's README). Output under OUT/:

- `corpus/<id>.txt`: one timestamped transcript per meeting, in the format `kb ingest` reads.
  The id is `qmsum-<file stem>-<NN>` (NN = the meeting's line, from 01), stable as long as the
  file is. Time comes from a stated speaking rate (`words_per_minute`, default 150): a line starts
  at (words spoken before it) / rate. Each speaker turn starts a line `[mm:ss] >> Speaker: ...`
  and is cut into one line per sentence (or per `LINE_WORDS` words), each at its own time.
  Annotation tokens in braces (`{vocalsound}`, `{disfmarker}`) are dropped and the tokenizer's
  spaces before punctuation (`word .`, `do n't`) are closed; nothing else is changed.
- `gold-dev.jsonl`, `gold-report.jsonl`: one answerable gold question per specific query, scoped
  to its meeting (`"source"`), whose gold citations are the annotated turn spans as time ranges
  (`at`..`end`), plus unanswerable questions (below). Meetings are split by a hash of their id:
  about a third are dev (for calibration), the rest are reported.
- `gold-general-dev.jsonl`, `gold-general-report.jsonl`: one gold question per general query
  ("Summarize the whole meeting."), scoped to its meeting; any moment of it may be cited (the
  dataset annotates no span for them), so they measure whether a question about a whole meeting
  is answered from it rather than refused.

Unanswerable questions are built by one rule, the same for every meeting: a specific query of
another meeting is asked of meeting M when (1) the two meetings share no speaker-label word (a
meeting of another kind or team) and (2) the query has at least `MIN_CONTENT_WORDS` content
words and none of them occurs in M's transcript (its speaker names included). Content words are the query's tokens
(kb.tokens.tokenize: stemmed, stopwords dropped) that occur in fewer than half of all meetings,
so frame words such as "discuss" or "decide" do not count (with only a few meetings, most words are
frame words and few questions qualify). Up to `unanswerable_per_meeting`
such queries per meeting are taken, in the order of a hash of (meeting id, query).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.timecode import format_timecode
from kb.tokens import tokenize

DEFAULT_WPM = 150.0
LINE_WORDS = 25
MIN_CONTENT_WORDS = 2
DEV_SHARE_MOD = 3  # a meeting is dev when hash(id) % 3 == 0: about a third
FRAME_DF = 0.5  # a token in at least this share of meetings is a frame word, not a subject

_BRACES = re.compile(r"\{[a-z_]+\}", re.IGNORECASE)
_SPACE_PUNCT = re.compile(r"\s+([.,?!;:%)]|'(?:s|re|ve|ll|d|m)\b|n't\b)")
_SENTENCE_END = re.compile(r"[.?!]$")


class DatasetError(ValueError):
    """An input file that cannot be converted: the message names the file, line and field."""


@dataclass
class Meeting:
    """One meeting: its id, title (its speakers, most words first), cleaned turns and the time each turn starts and ends (s)."""

    id: str
    title: str
    speakers: list[str]
    turns: list[tuple[str, str]]  # (speaker, cleaned text)
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    lines: list[tuple[float, str]] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)
    general: list[dict[str, Any]] = field(default_factory=list)


def clean_turn(text: str) -> str:
    """The spoken words of a turn: annotation tokens dropped, tokenizer spacing closed."""
    text = _BRACES.sub(" ", text)
    text = _SPACE_PUNCT.sub(r"\1", " ".join(text.split()))
    return text.strip()


def _pieces(text: str) -> list[str]:
    """A turn cut into sentences, none longer than LINE_WORDS words."""
    out: list[list[str]] = [[]]
    for word in text.split():
        out[-1].append(word)
        if _SENTENCE_END.search(word) or len(out[-1]) >= LINE_WORDS:
            out.append([])
    return [" ".join(p) for p in out if p]


def _stamp(seconds: float) -> str:
    return format_timecode(seconds)


def build_meeting(meeting_id: str, raw: dict[str, Any], wpm: float = DEFAULT_WPM) -> Meeting:
    """Timestamps for every turn and line of one meeting (time = words before / wpm)."""
    turns = [(str(t.get("speaker") or "Speaker").strip() or "Speaker", clean_turn(str(t.get("content") or "")))
             for t in raw["meeting_transcripts"]]
    spoken: dict[str, int] = {}
    for s, text in turns:
        spoken[s] = spoken.get(s, 0) + len(text.split())
    speakers = sorted(spoken, key=lambda s: (-spoken[s], s))  # who speaks most comes first
    m = Meeting(meeting_id, f"QMSum meeting {meeting_id.rsplit('-', 1)[-1]}: " + ", ".join(speakers[:6])
                + (f" and {len(speakers) - 6} more" if len(speakers) > 6 else ""), speakers, turns)
    words = 0
    for speaker, text in turns:
        m.starts.append(words * 60.0 / wpm)
        for i, piece in enumerate(_pieces(text)):
            body = f">> {speaker}: {piece}" if i == 0 else piece
            m.lines.append((words * 60.0 / wpm, body))
            words += len(piece.split())
        m.ends.append(words * 60.0 / wpm)
    m.queries = list(raw.get("specific_query_list") or [])
    m.general = list(raw.get("general_query_list") or [])
    return m


def transcript_text(m: Meeting) -> str:
    """The transcript file: `# title`, then `[mm:ss] text` lines."""
    out = [f"# {m.title}"]
    out += [f"[{_stamp(t)}] {body}" for t, body in m.lines]
    return "\n".join(out) + "\n"


def span_citations(m: Meeting, spans: Iterable[Sequence[Any]], where: str) -> list[dict[str, str]]:
    """Inclusive turn-index spans -> gold citations covering them as time ranges."""
    out = []
    for span in spans:
        try:
            lo, hi = int(span[0]), int(span[1])
        except (TypeError, ValueError, IndexError):
            raise DatasetError(f"{where}: relevant_text_span {span!r} is not a pair of turn numbers") from None
        if not (0 <= lo <= hi < len(m.turns)):
            raise DatasetError(f"{where}: relevant_text_span {span!r} is outside the {len(m.turns)} turns")
        out.append({"source": m.id, "at": _stamp(m.starts[lo]), "end": _stamp(max(m.ends[hi], m.starts[lo]))})
    return out


def _hash(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12], 16)


def is_dev(meeting_id: str) -> bool:
    """The split rule: a meeting is dev (calibration) when its id hashes to 0 mod 3."""
    return _hash(meeting_id) % DEV_SHARE_MOD == 0


def _label_words(speakers: Iterable[str]) -> set[str]:
    return {w for s in speakers for w in re.findall(r"[a-z]{2,}", s.lower())}


def unanswerable_questions(meetings: Sequence[Meeting], per_meeting: int) -> dict[str, list[tuple[str, str]]]:
    """For each meeting id: (question, id of the meeting it came from), by the module's rule."""
    vocab = {m.id: set(tokenize(" ".join(m.speakers + [t for _, t in m.turns]))) for m in meetings}
    df: dict[str, int] = {}
    for words in vocab.values():
        for w in words:
            df[w] = df.get(w, 0) + 1
    frame = {w for w, n in df.items() if n >= FRAME_DF * len(meetings)}
    labels = {m.id: _label_words(m.speakers) for m in meetings}
    out: dict[str, list[tuple[str, str]]] = {}
    for m in meetings:
        candidates = []
        for other in meetings:
            if other.id == m.id or labels[other.id] & labels[m.id]:
                continue
            for q in other.queries:
                text = str(q.get("query") or "").strip()
                content = {t for t in tokenize(text) if t not in frame}
                if len(content) >= MIN_CONTENT_WORDS and not content & vocab[m.id]:
                    candidates.append((_hash(m.id, text), text, other.id))
        chosen, seen = [], set()
        for _, text, origin in sorted(candidates):
            if text not in seen:
                seen.add(text)
                chosen.append((text, origin))
            if len(chosen) >= per_meeting:
                break
        out[m.id] = chosen
    return out


def read_meetings(path: Path, wpm: float = DEFAULT_WPM) -> list[Meeting]:
    """Every meeting of a QMSum JSON Lines file; raises DatasetError naming the bad line."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    prefix = "qmsum-" + re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    meetings = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{n}: invalid JSON: {exc.msg}") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("meeting_transcripts"), list):
            raise DatasetError(f"{path}:{n}: field 'meeting_transcripts': missing or not a list")
        meetings.append(build_meeting(f"{prefix}-{len(meetings) + 1:02d}", raw, wpm))
    if not meetings:
        raise DatasetError(f"{path}: no meeting")
    return meetings


def gold_lines(meetings: Sequence[Meeting], unanswerable_per_meeting: int = 3) -> list[dict[str, Any]]:
    """Answerable (one per specific query) and unanswerable gold lines, scoped to their meeting."""
    negatives = unanswerable_questions(meetings, unanswerable_per_meeting)
    out: list[dict[str, Any]] = []
    for m in meetings:
        for i, q in enumerate(m.queries, start=1):
            where = f"{m.id} specific_query_list[{i - 1}]"
            out.append({"id": f"{m.id}-q{i:02d}", "category": "qmsum_specific", "source": m.id,
                        "question": str(q.get("query") or "").strip(), "reference": str(q.get("answer") or ""),
                        "citations": span_citations(m, q.get("relevant_text_span") or [], where), "answerable": True})
        for i, (text, origin) in enumerate(negatives[m.id], start=1):
            out.append({"id": f"{m.id}-u{i:02d}", "category": "qmsum_unanswerable", "source": m.id, "question": text,
                        "reference": f"Asked of another meeting ({origin}); none of its content words occurs in this one.",
                        "citations": [], "answerable": False})
    return [g for g in out if g["question"]]


def general_lines(meetings: Sequence[Meeting]) -> list[dict[str, Any]]:
    """One gold line per general query ("Summarize the whole meeting."), scoped to its meeting: a
    question about the whole of it, answered by any moment of it (no span is annotated)."""
    return [{"id": f"{m.id}-g{i:02d}", "category": "qmsum_general", "source": m.id,
             "question": str(q.get("query") or "").strip(), "reference": str(q.get("answer") or ""),
             "citations": [{"source": m.id}], "answerable": True}
            for m in meetings for i, q in enumerate(m.general, start=1) if str(q.get("query") or "").strip()]


def convert(path: Path, out_dir: Path, wpm: float = DEFAULT_WPM, unanswerable_per_meeting: int = 3) -> dict[str, Any]:
    """Write OUT/corpus/*.txt, OUT/gold-dev.jsonl, OUT/gold-report.jsonl and the general queries'
    OUT/gold-general-{dev,report}.jsonl; return counts."""
    if wpm <= 0:
        raise DatasetError(f"words per minute must be positive, not {wpm:g}")
    meetings = read_meetings(path, wpm)
    corpus = out_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for m in meetings:
        (corpus / f"{m.id}.txt").write_text(transcript_text(m), encoding="utf-8")
    lines = gold_lines(meetings, unanswerable_per_meeting)
    general = general_lines(meetings)
    parts = {"dev": [g for g in lines if is_dev(g["source"])], "report": [g for g in lines if not is_dev(g["source"])],
             "general-dev": [g for g in general if is_dev(g["source"])],
             "general-report": [g for g in general if not is_dev(g["source"])]}
    for name, rows in parts.items():
        (out_dir / f"gold-{name}.jsonl").write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in rows))
    return {"meetings": len(meetings), "dev_meetings": sum(is_dev(m.id) for m in meetings),
            "answerable": sum(g["answerable"] for g in lines), "unanswerable": sum(not g["answerable"] for g in lines),
            "dev_questions": len(parts["dev"]), "report_questions": len(parts["report"]), "general_questions": len(general),
            "words_per_minute": wpm, "corpus": str(corpus)}
