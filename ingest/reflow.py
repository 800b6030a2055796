"""Re-flow caption fragments into sentences.

Captions arrive as fragments ("[12:04] talking about uh a terawatt is $90" / "[12:09] billion
in spend"). We join them into one word stream per speaker turn, cut it at sentence punctuation,
and cut long unpunctuated runs at discourse markers ("so", "and so", "right", ...), so every
sentence is short enough to cite. A sentence keeps the start time of its first fragment and the
times of the fragments inside it (`marks`), so a citation can open the video where the words are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kb.safety import looks_like_instruction
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
    """Sentences from caption fragments, in order; empty fragments are ignored. Words stream
    through: only the current sentence's words are held, not the document's."""
    sentences: list[Sentence] = []
    current: list[tuple[str, float, int]] = []

    def flush() -> None:
        if current:
            for piece in _split_long(current):
                sentences.append(_make_sentence(piece))
            current.clear()

    for word, t, idx, new_speaker, isolate in _words(fragments):
        if new_speaker:  # a sentence never spans two speakers
            flush()
        if isolate == "first":
            flush()
        current.append((word, t, idx))
        if isolate == "last" or (_END.search(word) and word.lower() not in _ABBREV and not re.fullmatch(r"\d+\.", word)):
            flush()
    flush()
    return sentences


def _words(fragments: Iterable[Fragment]) -> Iterator[tuple[str, float, int, bool, str]]:
    """(word, fragment time, fragment index, whether a new speaker starts at this word, and "first"
    or "last" at the edges of a fragment addressed to an assistant, which becomes its own sentence
    so that it cannot swallow the real sentence after it)."""
    for i, frag in enumerate(fragments):
        toks = frag.text.split()
        instruction = looks_like_instruction(frag.text)
        for j, tok in enumerate(toks):
            edge = ("last" if j == len(toks) - 1 else "first" if j == 0 else "") if instruction else ""
            if instruction and len(toks) == 1:
                edge = "last"
            yield tok, frag.start_s, i, frag.new_speaker and j == 0, edge


def _split_long(words: list[tuple[str, float, int]]) -> list[list[tuple[str, float, int]]]:
    """Cut a run longer than MAX_WORDS: before the soft starter nearest TARGET_WORDS (preferring one
    that opens a caption fragment), else at the fragment boundary nearest it, else at MAX_WORDS;
    pieces still too long are cut again. Linear in the run's length: each cut looks only as far
    as a better cut could be, through precomputed "next candidate" positions."""
    if len(words) <= MAX_WORDS:
        return [words]
    n = len(words)
    starts = [i > 0 and words[i][2] != words[i - 1][2] for i in range(n)]  # opens a fragment
    soft = [w[0].lower().strip(",.") in _SOFT_STARTERS for w in words]
    next_soft, next_bound = _next_true(soft), _next_true(starts)
    pieces: list[list[tuple[str, float, int]]] = []
    stack = [(0, n)]  # runs still to cut, the leftmost on top
    while stack:
        lo, hi = stack.pop()
        if hi - lo <= MAX_WORDS:
            pieces.append(words[lo:hi])
            continue
        cut = _best_cut(lo, hi, next_soft, next_bound, starts)
        stack.append((cut, hi))
        stack.append((lo, cut))
    return pieces


def _next_true(flags: list[bool]) -> list[int]:
    """For each position, the first position at or after it whose flag is set (len(flags) if none)."""
    out = [len(flags)] * (len(flags) + 1)
    for i in range(len(flags) - 1, -1, -1):
        out[i] = i if flags[i] else out[i + 1]
    return out


def _best_cut(lo: int, hi: int, next_soft: list[int], next_bound: list[int], starts: list[bool]) -> int:
    """Where to cut words[lo:hi] (an absolute index); costs are relative to `lo`."""
    last = hi - MIN_WORDS  # cuts at lo+MIN_WORDS .. hi-MIN_WORDS leave both sides MIN_WORDS long
    best, best_cost = None, None
    i = next_soft[lo + MIN_WORDS]
    while i <= last:
        rel = i - lo
        if best_cost is not None and rel - TARGET_WORDS - 3 >= best_cost:
            break  # every later cut costs at least this much: the first minimum stands
        cost = abs(rel - TARGET_WORDS) - (3 if starts[i] else 0)
        if best_cost is None or cost < best_cost:
            best, best_cost = i, cost
        i = next_soft[i + 1]
    if best is not None:
        return best
    i = next_bound[lo + MIN_WORDS]
    while i <= last:  # no marker: the fragment boundary nearest the target length
        if best_cost is not None and i - lo - TARGET_WORDS >= best_cost:
            break
        cost = abs(i - lo - TARGET_WORDS)
        if best_cost is None or cost < best_cost:
            best, best_cost = i, cost
        i = next_bound[i + 1]
    return best if best is not None else lo + MAX_WORDS


def _make_sentence(words: list[tuple[str, float, int]]) -> Sentence:
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
    return Sentence(text=" ".join(parts), start_s=words[0][1], marks=tuple(marks))


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
