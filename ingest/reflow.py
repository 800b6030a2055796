"""Re-flow caption fragments into sentences.

Captions arrive as fragments ("[43:46] talking about uh like a gigawatt is $70" / "[43:51] billion
in spend"). We join them into one word stream per speaker turn, cut it at sentence punctuation,
and cut long unpunctuated runs at discourse markers ("so", "and so", "right", ...), so every
sentence is short enough to cite. A sentence keeps the start time of its first fragment and the
times of the fragments inside it (`marks`), so a citation can open the video where the words are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kb.types import Sentence


@dataclass(frozen=True)
class Fragment:
    """One caption line: its start time, its text, and whether a new speaker starts here."""

    start_s: float
    text: str
    new_speaker: bool = False


_END = re.compile(r"[.?!][\"')\]]*$")
_ABBREV = {"dr.", "mr.", "mrs.", "ms.", "vs.", "e.g.", "i.e.", "etc.", "st.", "no.", "u.s.", "prof."}
# Words that often start a new clause in unpunctuated speech; a long run is cut before one.
_SOFT_STARTERS = {"so", "and", "but", "because", "right", "uh", "um", "okay", "now", "which", "then", "yeah"}
MAX_WORDS = 30
MIN_WORDS = 6
TARGET_WORDS = 18


def reflow(fragments: Iterable[Fragment]) -> list[Sentence]:
    """Sentences from caption fragments, in order; empty fragments are ignored."""
    words: list[tuple[str, float, int, bool]] = []  # (word, fragment time, fragment index, new speaker)
    for i, frag in enumerate(fragments):
        toks = frag.text.split()
        for j, tok in enumerate(toks):
            words.append((tok, frag.start_s, i, frag.new_speaker and j == 0))

    sentences: list[Sentence] = []
    turn = 0
    current: list[tuple[str, float, int]] = []

    def flush() -> None:
        if current:
            for piece in _split_long(current):
                sentences.append(_make_sentence(piece, turn))
            current.clear()

    for word, t, idx, new_speaker in words:
        if new_speaker:
            flush()
            turn += 1
        current.append((word, t, idx))
        if _END.search(word) and word.lower() not in _ABBREV and not re.fullmatch(r"\d+\.", word):
            flush()
    flush()
    return sentences


def _split_long(words: list[tuple[str, float, int]]) -> list[list[tuple[str, float, int]]]:
    if len(words) <= MAX_WORDS:
        return [words]
    best, best_cost = None, None
    for i in range(MIN_WORDS, len(words) - MIN_WORDS + 1):
        w = words[i][0].lower().strip(",.")
        if w not in _SOFT_STARTERS:
            continue
        at_fragment_start = words[i][2] != words[i - 1][2]
        cost = abs(i - TARGET_WORDS) - (3 if at_fragment_start else 0)
        if best_cost is None or cost < best_cost:
            best, best_cost = i, cost
    if best is None:  # no marker: cut at the fragment boundary nearest the target length
        bounds = [i for i in range(MIN_WORDS, len(words) - MIN_WORDS + 1) if words[i][2] != words[i - 1][2]]
        best = min(bounds, key=lambda i: abs(i - TARGET_WORDS)) if bounds else MAX_WORDS
    return _split_long(words[:best]) + _split_long(words[best:])


def _make_sentence(words: list[tuple[str, float, int]], turn: int) -> Sentence:
    parts: list[str] = []
    marks: list[tuple[int, float]] = []
    offset = 0
    prev_idx = words[0][2]
    for word, t, idx in words:
        if parts:
            offset += 1
        if idx != prev_idx:
            marks.append((offset, t))
            prev_idx = idx
        parts.append(word)
        offset += len(word)
    return Sentence(text=" ".join(parts), start_s=words[0][1], marks=tuple(marks), speaker_turn=turn)


_SENT_SPLIT = re.compile(r"(?<=[.?!])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a prose paragraph (punctuation-based; keeps abbreviations like `e.g.` whole)."""
    pieces = [p.strip() for p in _SENT_SPLIT.split(text) if p.strip()]
    merged: list[str] = []
    for p in pieces:
        if merged and merged[-1].split()[-1].lower() in _ABBREV:
            merged[-1] = f"{merged[-1]} {p}"
        else:
            merged.append(p)
    return merged
