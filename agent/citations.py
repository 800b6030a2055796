"""The citation guard: every citation in a final answer must resolve to a sentence of a passage
retrieved in that turn. A handle that matches no retrieved sentence (invented, or at a time that is
off) is corrected to the nearest sentence that supports the claim, or dropped when none does."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.markers import CITE, find_citation
from agent.markers import ITEM as _ITEM
from agent.markers import LOC as _LOC
from agent.markers import marker_links as marker_links  # re-exported: the interfaces import it from here
from kb.asking import is_question, is_request, is_tag_question
from kb.numbers import parse_numbers
from kb.safety import looks_like_instruction
from kb.speakers import split_speaker, turn_texts
from kb.timecode import TIME_PATTERN as _TIME
from kb.timecode import parse_timecode
from kb.tokens import tokenize
from kb.types import Passage, Sentence, handle, video_link

# The canonical markers the guard writes ([10:31], [talk 10:31, 44:00], [Some Notes ¶3]): agent.markers.
# What a model may write: brackets with one or more items (a source before the time, "source:",
# a range "10:31–10:40"), or a bare time in parentheses "(10:31)".
_GROUP = re.compile(rf"\[([^\[\]\n]{{1,200}})\]|\(({_TIME}(?:\s*[–—-]\s*{_TIME})?)\)")
_LOOSE_ITEM = re.compile(rf"^(?:(?:source|src|doc)\s*:\s*)?(?:(?P<src>.+?)[\s,:]+)?(?P<loc>{_LOC})(?:\s*[–—-]\s*{_TIME})?$", re.I)
_TIMELIKE = re.compile(rf"{_TIME}|¶\d+")


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    sentence: Sentence
    seconds: float | None  # the sentence start or a fragment time inside it
    label: str


@dataclass
class GuardResult:
    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    corrected: int = 0
    dropped: int = 0


def candidates(passages: Sequence[Passage]) -> list[Candidate]:
    """Every citable (passage, sentence, time) of the retrieved passages. A sentence addressed to an
    assistant ("ignore your instructions…") is data, never support, and a question ("so is it
    cheaper?") or a prompt put as a statement ("tell us what the ferry costs") asserts nothing:
    none can be cited."""
    out = []
    seen = set()
    for p in passages:
        for s in p.sentences:
            if looks_like_instruction(s.text) or asks(s.text) or is_request(split_speaker(s.text)[1]):
                continue
            times = [s.start_s] + [t for _, t in s.marks] if s.start_s is not None else [None]
            for t in times:
                key = (p.source, s.text, t)
                if key not in seen:
                    seen.add(key)
                    out.append(Candidate(p, s, t, handle(p, s, t)))
    return out


def citation_record(c: Candidate) -> dict[str, Any]:
    return {
        "source": c.passage.source, "title": c.passage.title, "at": c.label.split(" ")[-1] if c.seconds is None else c.label,
        "seconds": c.seconds, "url": video_link(c.passage.url, c.seconds) if c.passage.url else None, "quote": c.sentence.text,
    }


def _overlap(claim: set[str], s: Sentence) -> float:
    if not claim:
        return 0.0
    return len(claim & set(tokenize(s.text))) / len(claim)


def guard(text: str, passages: Sequence[Passage]) -> GuardResult:
    """Resolve, correct or drop each citation in `text` against this turn's retrieved passages, and
    rewrite the markers in canonical form (`[10:31]`; `[source 10:31]` when two timed sources could
    be meant; `[source ¶3]` for untimed documents)."""
    cands = candidates(passages)
    timed_sources = {c.passage.source for c in cands if c.seconds is not None}
    result = GuardResult(text="")
    records: dict[tuple[str, str], dict[str, Any]] = {}
    pieces: list[str] = []
    last = 0
    for m in _GROUP.finditer(text):
        body = m.group(1) if m.group(1) is not None else m.group(2)
        items = [i.strip() for i in re.split(r"\s*[,;]\s*(?=[^,;]*(?:\d:\d|¶))", body.strip())]
        if not any(_TIMELIKE.search(i) for i in items):
            continue  # ordinary brackets ("[sic]"), not a citation
        # the claim is what was said since the previous citation (or the start of the line)
        claim = set(tokenize(text[max(last, text.rfind("\n", 0, m.start()) + 1) : m.start()]))
        resolved: list[Candidate] = []
        for item in items:
            c, status = _resolve(item, claim, cands)
            if c is None:
                result.dropped += 1
                continue
            if status == "corrected":
                result.corrected += 1
            if c not in resolved:
                resolved.append(c)
        pieces.append(text[last : m.start()] if resolved else text[last : m.start()].rstrip())
        if resolved:
            labels = [f"{c.passage.source} {c.label}" if c.seconds is not None and len(timed_sources) > 1 else c.label
                      for c in resolved]
            pieces.append("[" + ", ".join(labels) + "]")
            for c in resolved:
                records.setdefault((c.passage.source, c.label), citation_record(c))
        last = m.end()
    pieces.append(text[last:])
    result.text = re.sub(r"[ \t]+([.,;:])", r"\1", "".join(pieces)).strip()
    result.citations = list(records.values())
    return result


def _label_matches(c: Candidate, seconds: float) -> bool:
    """Handles show whole seconds (631.7 s is [10:31]), so compare at that resolution."""
    return c.seconds is not None and int(c.seconds) == int(seconds)


def _resolve(item: str, claim: set[str], cands: list[Candidate]) -> tuple[Candidate | None, str]:
    m = _LOOSE_ITEM.match(item.strip())
    if not m or not cands:
        return None, "dropped"
    source, label = (m.group("src") or "").strip() or None, m.group("loc")
    seconds = None
    if not label.startswith("¶"):
        try:
            seconds = parse_timecode(label)
        except ValueError:
            return None, "dropped"
    pool = [c for c in cands if source is None or c.passage.source == source] or cands
    if seconds is not None:
        exact = [c for c in pool if _label_matches(c, seconds)]
    else:
        exact = [c for c in pool if c.seconds is None and (c.sentence.locator or c.passage.locator) == label]
    if exact:
        return max(exact, key=lambda c: _overlap(claim, c.sentence)), "ok"
    scored = [(c, _overlap(claim, c.sentence)) for c in cands]
    best = max((s for _, s in scored), default=0.0)
    if best <= 0:
        return None, "dropped"
    supporting = [c for c, s in scored if s >= best * 0.75]
    if seconds is not None and any(c.seconds is not None for c in supporting):
        timed = [c for c in supporting if c.seconds is not None]
        choice = min(timed, key=lambda c: (abs(c.seconds - seconds), -_overlap(claim, c.sentence)))  # type: ignore[operator]
    else:
        choice = max(supporting, key=lambda c: _overlap(claim, c.sentence))
    if choice.seconds is not None and choice.sentence.start_s is not None:
        # cite the sentence itself, not one of its inner fragments, after a correction
        choice = next((c for c in cands if c.sentence is choice.sentence and c.seconds == choice.sentence.start_s), choice)
    return choice, "corrected"


def sources_block(citations: Sequence[dict[str, Any]]) -> str:
    """The list printed under an answer: one line per citation with its link."""
    lines = []
    for c in citations:
        where = c.get("url") or c["source"]
        lines.append(f"[{c['at']}] {c['title']} — {where}")
    return "\n".join(lines)



# --- attribution: every claim of the answer stands on a sentence of this turn's passages -----------

_CODE = re.compile(r"`[^`\n]*`")
_ABBREV = re.compile(r"^(?:e\.g|i\.e|vs|etc|cf|approx|mr|mrs|ms|dr|st|no|fig)\.$", re.I)
_PLACE = re.compile(r"\x01(\d+)\x01")


def numbers(text: str) -> set[str]:
    """The figures a text states, normalised and sign aside ("1,500", "1500.0" and "1.5 thousand"
    are all "1500"; "-5%" states 5); citation markers, clock times and code spans are not figures."""
    return {f"{abs(v):g}" for v in parse_numbers(_CODE.sub(" ", CITE.sub(" ", text)))}


@dataclass
class Attribution:
    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    supported: int = 0  # claims that stand on a cited sentence (or state a computed figure)
    attributed: int = 0  # claims that had no (valid) marker and got one
    unsupported: int = 0  # claims dropped: nothing in this turn's passages supports them
    computed: bool = False  # a kept claim states a figure the calculate tool produced


def _sentence_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of one line; a citation marker after a sentence's full stop
    belongs to that sentence ("It is big. [10:31] Next…")."""
    masked = CITE.sub(lambda m: "\x01" + "0" * (len(m.group(0)) - 2) + "\x01", line)
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", masked)]
    spans, start = [], None
    for i, (a, b) in enumerate(words):
        start = a if start is None else start
        word = masked[a:b]
        nxt = masked[words[i + 1][0] : words[i + 1][1]] if i + 1 < len(words) else None
        bare = _PLACE.sub("", re.sub(r"\x01\d*\x01", "", word))
        ends = bool(re.search(r"[.!?…][\"'”’)*_]*$", bare or word)) and not _ABBREV.match(bare)
        if bare == "" or re.fullmatch(r"\x01\d*\x01[.,;:!?…]*", word):
            prev = masked[words[i - 1][0] : words[i - 1][1]] if i else ""
            ends = bool(re.search(r"[.!?…]$", word)) or bool(re.search(r"[.!?…][\"'”’)*_]*$", prev))
        if nxt is None or (ends and not re.match(r"\x01", nxt)):
            spans.append((start, b))
            start = None
    return spans


def _claim_text(sentence: str) -> str:
    return re.sub(r"^\s*(?:[-*+•]|\d+[.)])\s+", "", CITE.sub(" ", sentence)).strip()


def asks(text: str) -> bool:
    """The sentence is a question ("…inference? [06:17]." too; agent.evidence.is_question), not a
    statement with a tag ("…$50 billion, right?"), which states what it asks agreement with."""
    bare = CITE.sub(" ", text)
    return is_question(bare) and not is_tag_question(bare)


def _is_claim(text: str) -> bool:
    """A sentence that asserts something: a figure with a word to say of what, or at least three
    content words ("4." alone is a list number, not a claim)."""
    words = [t for t in tokenize(text) if not t[:1].isdigit()]
    return (bool(numbers(text)) and bool(words)) or len(tokenize(text)) >= 3


class _Support:
    """Finds the sentence of this turn's passages that supports a claim: all its words there
    (a quote), or semantic similarity over the threshold; either way with every figure in it."""

    def __init__(self, passages: Sequence[Passage], similar: Any, threshold: float) -> None:
        # one candidate per sentence, at the moment the search results showed for it (a passage's
        # best sentence at the fragment where the match begins, any other at its start)
        shown: dict[tuple[str, str], Candidate] = {}
        for c in candidates(passages):
            key = (c.passage.source, c.sentence.text)
            if key not in shown or c.seconds == c.passage.shown_at(c.sentence):
                shown[key] = c
        self.cands = list(shown.values())
        self.similar, self.threshold = similar, threshold
        # compared as answer scoring embeds them ("Speaker: words", kb.speakers): stored vectors are found
        self.texts = {(p.chunk_id, s.text): t for p in passages
                      for s, t in zip(p.sentences, turn_texts([s.text for s in p.sentences])[0])}

    def find(self, claim: str, figures: set[str]) -> Candidate | None:
        ok = [c for c in self.cands if figures <= numbers(c.sentence.text)]
        if not ok:
            return None
        words = set(tokenize(claim))
        quoted = [c for c in ok if words and words <= set(tokenize(c.sentence.text))]
        if quoted:
            return quoted[0]
        if self.similar is None:
            return None
        sims = self.similar(claim, [self.texts.get((c.passage.chunk_id, c.sentence.text), c.sentence.text) for c in ok])
        best = max(range(len(ok)), key=lambda i: sims[i])
        return ok[best] if sims[best] >= self.threshold else None


def _with_marker(sentence: str, label: str) -> str:
    body = CITE.sub("", sentence).rstrip()
    body = re.sub(r"\s+([.,;:!?…])", r"\1", body)
    m = re.search(r"[.!?…]+[\"'”’)*_]*$", body)
    return f"{body[: m.start()]} [{label}]{body[m.start():]}" if m else f"{body} [{label}]"


def attribute(checked: GuardResult, passages: Sequence[Passage], similar: Any = None, threshold: float = 0.6,
              given: set[str] | None = None, computed: Any = None) -> Attribution:
    """Hold every claim of a guarded answer to this turn's passages (one policy for every backend):
    a claim with a citation stands when the cited sentences state each of its figures; a claim
    without one (or whose citation does not state its figures) gets the citation of the sentence
    that supports it; a claim nothing supports is dropped. `similar(claim, texts)` gives cosine
    similarities with the index's embedding model (agent.evidence.SentenceEncoder); `given` are figures from the question; `computed(text)` says whether a sentence
    states a figure the calculate tool produced (it then stands on the calculation)."""
    given = given or set()
    support = _Support(passages, similar, threshold)
    every = candidates(passages)
    timed_sources = {c.passage.source for c in support.cands if c.seconds is not None}
    out = Attribution(text="")
    lines = []
    titles = {_bare_title(p.title) for p in passages if p.title}
    for line in checked.text.split("\n"):
        if _bare_title(line) in titles:
            lines.append(line)  # a document's title heading the part about it asserts nothing
            continue
        bullet = re.match(r"^\s*(?:[-*+•]|\d+[.)])\s+", line)
        prefix = bullet.group(0) if bullet else ""
        body = line[len(prefix):]
        spans = _sentence_spans(body)
        line_quotes = [q for m in CITE.finditer(body) for q in _quotes(m.group(1), every)]
        kept = [_judge(body[s:e], every, line_quotes, support, timed_sources, given, computed, out)
                for s, e in spans]
        if all(k == body[s:e] for k, (s, e) in zip(kept, spans)):
            lines.append(line)  # nothing to change: the line stays exactly as written
        elif any(kept):
            lines.append(prefix + " ".join(k for k in kept if k))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    final = guard(text, passages) if out.attributed else checked  # canonical markers, their records
    out.text = final.text if out.attributed else text
    out.citations = _cited(out.text, final.citations)
    return out


def _bare_title(text: str) -> str:
    """A line as a heading reads it: without Markdown emphasis or heading marks and a closing colon."""
    return re.sub(r"\s+", " ", re.sub(r"^[#\s]+|[*_]+|:\s*$", "", text.strip())).strip().lower()


def _judge(sentence: str, cands: Sequence[Candidate], line_quotes: list[str], support: _Support,
           timed_sources: set[str], given: set[str], computed: Any, out: Attribution) -> str:
    """The sentence as it stays in the answer: unchanged, with a citation added, or "" (dropped)."""
    claim = _claim_text(sentence)
    if asks(claim):
        return re.sub(r"\?[\s.]*$", "?", CITE.sub("", sentence).strip())  # a question asserts nothing: nothing to cite
    if not _is_claim(claim):
        return sentence
    if computed is not None and computed(sentence):
        out.computed = True
        out.supported += 1
        return sentence
    figures = numbers(claim) - given
    quotes = [q for m in CITE.finditer(sentence) for q in _quotes(m.group(1), cands)]
    if quotes and figures <= set().union(*(numbers(q) for q in quotes)):
        out.supported += 1
        return sentence
    words = set(tokenize(claim))
    if not quotes and any(words <= set(tokenize(q)) and figures <= numbers(q) for q in line_quotes):
        out.supported += 1  # part of a quoted sentence whose citation follows on the line
        return sentence
    c = support.find(claim, figures)
    if c is None:
        out.unsupported += 1
        return ""
    label = f"{c.passage.source} {c.label}" if c.seconds is not None and len(timed_sources) > 1 else c.label
    out.supported += 1
    out.attributed += 1
    return _with_marker(sentence, label)


def _quotes(body: str, cands: Sequence[Candidate]) -> list[str]:
    """The sentences a marker's items cite (every sentence at that label: two may start at one second)."""
    out = []
    for item in re.split(r"\s*[,;]\s*", body.strip()):
        m = _ITEM.match(item.strip())
        if m:
            source, label = m.groups()
            out += [c.sentence.text for c in cands if c.label == item.strip()
                    or (c.seconds is not None and c.label == label and source in (None, c.passage.source))]
    return out


def _cited(text: str, citations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The citations the text still carries (a dropped claim takes its citations with it)."""
    wanted = []
    for m in CITE.finditer(text):
        for item in re.split(r"\s*[,;]\s*", m.group(1).strip()):
            c = find_citation(item, citations)
            if c is not None and c not in wanted:
                wanted.append(c)
    return wanted
