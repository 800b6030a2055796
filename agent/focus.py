"""Which sentences of a search result a language model reads: those that bear on the query, with
their neighbours, instead of every sentence of every window.

A retrieved passage is a window of a transcript (a dozen sentences or more); most of it is about
something else. The model is shown, for each search, the sentences the evidence scoring
(`agent.evidence.score`: meaning and term weight, the same scoring the offline answerer ranks
by) puts highest across the result, each passage's best one, and one sentence either side of
each, in transcript order, with a gap mark where sentences are left out. This is the "contextual
compression" step of retrieval pipelines: fewer prompt tokens (what a local model spends most of
its time on) and less to be distracted by. The passages themselves are unchanged, so the citation
guard resolves a handle of any of their sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent.abstention import question_terms
from agent.evidence import SentenceEncoder, asked_speakers, attach_speakers, is_claim, items_of, score
from kb.safety import looks_like_instruction
from kb.types import Passage

FOCUS_TOP = 8  # sentences of a whole search result kept for their score (each passage's best is kept too)
FOCUS_NEIGHBOURS = 1  # sentences kept either side of each kept one


def focus(query: str, passages: Sequence[Passage], encoder: SentenceEncoder,
          idf: Callable[[str], float] | None = None, top: int = FOCUS_TOP,
          neighbours: int = FOCUS_NEIGHBOURS) -> tuple[tuple[int, ...], ...]:
    """For each passage, the positions of the sentences the model is shown (ascending): the `top`
    claims of the whole result by score against the search's query, each passage's best claim (its
    best sentence when it has none), and `neighbours` either side of each. Scored before the
    result is packed into the token budget, so a passage the budget drops may have taken a place."""
    items = items_of(passages)
    if not items:
        return tuple(() for _ in passages)
    attach_speakers(items)
    scored = score(query, question_terms(query), items, encoder, idf, asked_speakers(query, items))
    by_score = sorted(scored, key=lambda sc: -sc.score)
    ranked = [sc for sc in by_score if is_claim(sc.item, looks_like_instruction)]
    chosen = {(sc.item["passage"], sc.item["pos"]) for sc in ranked[:top]}
    best_of: dict[int, int] = {}
    for sc in ranked + by_score:  # a passage with no claim still shows its best sentence
        best_of.setdefault(sc.item["passage"], sc.item["pos"])
    chosen |= set(best_of.items())
    shown: list[tuple[int, ...]] = []
    for i, p in enumerate(passages):
        keep = {j + d for (k, j) in chosen if k == i for d in range(-neighbours, neighbours + 1)}
        shown.append(tuple(j for j in range(len(p.sentences)) if j in keep))
    return tuple(shown)
