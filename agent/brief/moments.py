"""Key moments: sentences central to the episode and different from each other.

Candidates are the sentences of the chunks most central to the episode (by the chunks' stored
embeddings, so a long episode does not embed every sentence). Each candidate sentence is embedded with the knowledge base's embedding model
as what is said, without the speaker's name that opens a turn ("Project Manager: …"): the name
is neither content that makes a moment nor meaning that makes one central. Its centrality is
its similarity to the episode's mean vector. Moments are picked by maximal marginal relevance
(centrality against similarity to the moments already picked), keeping picks apart in time so
they spread over the episode, and are returned in the order they occur.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.brief.document import Block
from agent.brief.text import content_words
from agent.evidence import is_question
from kb.speakers import split_speaker
from kb.types import Sentence

MIN_CONTENT_WORDS = 6
MMR_LAMBDA = 0.65
MID_THOUGHT_PENALTY = 0.05  # a sentence that leans on the one before ("And so that...") says less alone
_MID_THOUGHT = re.compile(r"^\W*(?:and|but|so|because|which|that|or|then|well|also|plus|like)\b", re.IGNORECASE)
CENTRAL_SHARE = 0.5  # moments come from the more central half of the chunks


@dataclass(frozen=True)
class Scored:
    """Candidate sentences (indices into the episode) with unit vectors and centrality."""

    index: list[int]
    vectors: np.ndarray
    centrality: np.ndarray


def central_blocks(blocks: Sequence[Block], share: float = CENTRAL_SHARE) -> set[int]:
    """Sentence indices of the chunks most similar to the episode's mean chunk (their stored
    embeddings: nothing to compute), `share` of the chunks; all sentences for short documents."""
    if len(blocks) < 6:
        return {i for b in blocks for i in range(b.first, b.last + 1)}
    vectors = np.asarray([b.embedding for b in blocks], dtype=np.float32)
    centroid = vectors.mean(axis=0)
    sims = vectors @ (centroid / (np.linalg.norm(centroid) or 1.0))
    keep = np.argsort(-sims)[: max(3, int(round(len(blocks) * share)))]
    return {i for k in keep for i in range(blocks[int(k)].first, blocks[int(k)].last + 1)}


def candidates(sentences: Sequence[Sentence], allowed: set[int] | None = None) -> list[int]:
    """Sentences that can be a moment: statements with enough content words (in `allowed`, if given)."""
    from agent.tools import looks_like_instruction  # imported here: agent.tools loads the search stack
    out = [i for i, s in enumerate(sentences)
           if (allowed is None or i in allowed)
           and content_words(split_speaker(s.text)[1]) >= MIN_CONTENT_WORDS and not is_question(s.text)
           and not looks_like_instruction(s.text)]
    if len(out) < 3:  # a very short document: take what there is
        out = [i for i, s in enumerate(sentences) if content_words(s.text) >= 2] or list(range(len(sentences)))
    return out


def score(sentences: Sequence[Sentence], embed: object, allowed: set[int] | None = None) -> Scored:
    """Embed the candidates (`embed(texts) -> vectors`) and score their centrality."""
    index = candidates(sentences, allowed)
    vectors = np.asarray(embed([split_speaker(sentences[i].text)[1] for i in index]), dtype=np.float32)  # type: ignore[operator]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1, norms)
    centroid = vectors.mean(axis=0)
    centroid = centroid / (np.linalg.norm(centroid) or 1.0)
    penalty = np.array([MID_THOUGHT_PENALTY if leans_on_previous(sentences[i].text) else 0.0 for i in index])
    return Scored(index, vectors, vectors @ centroid - penalty)


def leans_on_previous(text: str) -> bool:
    """A sentence that starts mid-thought ("And so that ...", "But ...")."""
    return bool(_MID_THOUGHT.match(text))


def moment_count(sentences: Sequence[Sentence], n_candidates: int) -> int:
    """5-7 moments for an episode (more for longer ones), fewer when there are few candidates."""
    want = 5 + (len(sentences) > 300) + (len(sentences) > 700)
    return max(1, min(want, n_candidates))


def position(sentences: Sequence[Sentence], i: int) -> float:
    """Where sentence i sits in the episode, 0..1 (by time when timed, else by order)."""
    s = sentences[i]
    times = [x.start_s for x in (sentences[0], sentences[-1])]
    if s.start_s is not None and times[0] is not None and times[1] is not None and times[1] > times[0]:
        return (s.start_s - times[0]) / (times[1] - times[0])
    return i / max(1, len(sentences) - 1)


def select(sentences: Sequence[Sentence], scored: Scored, k: int, min_gap: float | None = None) -> list[int]:
    """k sentence indices by MMR, at least `min_gap` (share of the episode) apart, in order."""
    if not scored.index:
        return []
    gap = (0.5 / k) if min_gap is None else min_gap
    pos = np.array([position(sentences, i) for i in scored.index])
    cent = scored.centrality
    chosen: list[int] = []
    while len(chosen) < k:
        best, best_val = None, -1e9
        for j in range(len(scored.index)):
            if j in chosen:
                continue
            if chosen and np.min(np.abs(pos[chosen] - pos[j])) < gap:
                continue
            redundancy = float(np.max(scored.vectors[chosen] @ scored.vectors[j])) if chosen else 0.0
            val = MMR_LAMBDA * float(cent[j]) - (1 - MMR_LAMBDA) * redundancy
            if val > best_val:
                best, best_val = j, val
        if best is None:
            if gap <= 0:
                break
            gap /= 2  # nothing left far enough apart: relax the spacing
            continue
        chosen.append(best)
    return sorted(scored.index[j] for j in chosen)


def most_central(scored: Scored, lo: int, hi: int) -> int | None:
    """The most central candidate among sentences lo..hi (inclusive), if any."""
    best = [(float(scored.centrality[j]), i) for j, i in enumerate(scored.index) if lo <= i <= hi]
    return max(best)[1] if best else None
