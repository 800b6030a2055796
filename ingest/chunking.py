"""Chunking: windows of whole sentences sized with the embedding model's own tokenizer.

The text that is embedded is `title + "\n" + chunk text`, and its token count (special tokens
included) never exceeds the limit: a sentence too long on its own is split at word boundaries
(keeping the time of the fragment it came from), so nothing is silently truncated. Consecutive
windows share whole sentences worth up to `overlap_tokens`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from kb.types import Chunk, Document, Sentence

TokenCount = Callable[[str], int]

# Part of every chunk id: bump it when parsing or chunking changes what a chunk carries, so the
# next ingest replaces chunks whose text is the same but whose metadata would differ.
CHUNK_FORMAT = 3


def embedding_text(title: str, text: str) -> str:
    """What the model embeds for a chunk: its title, then its text."""
    return f"{title}\n{text}"


def chunk_document(doc: Document, count: TokenCount, max_tokens: int, overlap_tokens: int = 0,
                   on_progress: Callable[[int, int], None] | None = None) -> list[Chunk]:
    """Split a document into token-bounded windows of whole sentences. `on_progress(done, total)`
    hears how many sentences have been measured, every few thousand (a long file takes a while)."""
    budget = max_tokens - count(embedding_text(doc.title, ""))
    if budget < 8:
        raise ValueError(f"title of {doc.source} leaves no room under the {max_tokens}-token limit")
    sentences: list[Sentence] = []
    for n, s in enumerate(doc.sentences, 1):
        sentences.extend(_fit(s, count, budget))
        if on_progress and n % 5000 == 0:
            on_progress(n, len(doc.sentences))
    cost = [_cost(s.text, count) for s in sentences]

    windows: list[list[int]] = []
    start = 0
    while start < len(sentences):
        end, used = start, 0
        while end < len(sentences) and used + cost[end] <= budget:
            used += cost[end]
            end += 1
        end = max(end, start + 1)
        # verify with a real count of the joined text and shrink if the estimate was optimistic
        while end - start > 1 and count(embedding_text(doc.title, _join(sentences[start:end]))) > max_tokens:
            end -= 1
        windows.append(list(range(start, end)))
        if end >= len(sentences):
            break
        back, carried = end, 0
        while back - 1 > start and carried + cost[back - 1] <= overlap_tokens:
            back -= 1
            carried += cost[back]
        start = back

    seen: dict[str, int] = {}
    chunks = []
    for ordinal, idx in enumerate(windows):
        group = tuple(sentences[i] for i in idx)
        text = _join(group)
        times = [s.start_s for s in group if s.start_s is not None]
        locs = [s.locator for s in group if s.locator]
        key = json.dumps([CHUNK_FORMAT, doc.source, text, times, locs, doc.title, doc.url])
        n = seen.get(key, 0)
        seen[key] = n + 1
        chunks.append(
            Chunk(
                id=hashlib.sha256(f"{key}|{n}".encode()).hexdigest()[:32],
                source=doc.source,
                title=doc.title,
                text=text,
                ordinal=ordinal,
                sentences=group,
                url=doc.url,
                start_s=times[0] if times else None,
                end_s=_end_time(group, sentences, idx[-1]) if times else None,
                locator=(locs[0] if locs[0] == locs[-1] else f"{locs[0]}–{locs[-1]}") if locs else None,
            )
        )
    return chunks


def _join(sentences: Sequence[Sentence]) -> str:
    return " ".join(s.text for s in sentences)


def _cost(text: str, count: TokenCount) -> int:
    return max(1, count(text) - 2)  # without the two special tokens every count includes


def _end_time(group: Sequence[Sentence], all_sentences: Sequence[Sentence], last: int) -> float:
    """A window ends where the next sentence starts (or at its own last fragment)."""
    if last + 1 < len(all_sentences) and all_sentences[last + 1].start_s is not None:
        return float(all_sentences[last + 1].start_s)  # type: ignore[arg-type]
    s = group[-1]
    return float(s.marks[-1][1] if s.marks else s.start_s)  # type: ignore[arg-type]


def _fit(s: Sentence, count: TokenCount, budget: int) -> list[Sentence]:
    """The sentence, or pieces of it split at words so each piece fits the budget."""
    if _cost(s.text, count) <= budget:
        return [s]
    words = s.text.split(" ")
    if len(words) == 1:  # one enormous "word": cut by characters
        half = len(s.text) // 2
        return _fit(_piece(s, 0, half), count, budget) + _fit(_piece(s, half, len(s.text)), count, budget)
    mid = len(" ".join(words[: len(words) // 2]))
    return _fit(_piece(s, 0, mid), count, budget) + _fit(_piece(s, mid + 1, len(s.text)), count, budget)


def _piece(s: Sentence, lo: int, hi: int) -> Sentence:
    start = s.time_at(lo)
    marks = tuple((off - lo, t) for off, t in s.marks if lo < off < hi)
    return Sentence(text=s.text[lo:hi].strip(), start_s=start, marks=marks, locator=s.locator)
