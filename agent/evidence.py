"""Evidence selection: which retrieved sentences answer a question, scored by what they mean.

Each candidate sentence of this turn's passages is scored against the question with the embedding
model the index already loads (one batch, only the retrieved sentences) together with BM25 term
weights. Questions, backchannels ("Right?", "Oh, you name it.") and text addressed to an assistant
are never claims. A sentence that starts mid-thought gets the sentence before it, a short one the
sentences after it; near-duplicates are dropped; each sentence is cited at its own second.
Nothing here knows a corpus: the same rules apply to every transcript.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kb.asking import asks_listener, carries_on_request, is_question, is_request
from kb.speakers import attributed_text, split_speaker, turn_speakers
from kb.tokens import tokenize
from kb.types import Passage

if TYPE_CHECKING:
    from kb.vector_cache import VectorCache

SEMANTIC_WEIGHT = 0.6  # the rest is the IDF-weighted share of the question's terms
SPEAKER_WEIGHT = 0.1  # added to a sentence of a speaker the question names ("what did Ada say about…")
MIN_CLAIM_TERMS = 3  # content words a sentence needs to carry a claim
# Sentences are embedded in groups of about this many, shortest first: a batch is padded to its
# longest text, and transcript sentences run from 3 to 60 words, so one batch of them all costs
# about twice as much as groups of like lengths (measured side by side: 2.8 s vs 1.35 s for ~60
# sentences on the loaded 2-core machine).
ENCODE_GROUP = 8
# "And that is why…", "This gap explains…": a sentence that leans on the one before it
_MID_THOUGHT = re.compile(r"^(?:and|but|so|because|which|that|or|then|also|too|plus|as well|this|these|those)\b", re.IGNORECASE)
_ANNOUNCES = re.compile(
    r"\b(?:two|three|four|five|several|a\s+few|a\s+couple\s+of|a\s+number\s+of)\s+(?:\w+\s+)?"
    r"(?:factors|reasons|things|ways|points|parts|problems|issues|drivers|tailwinds|headwinds|steps|options|kinds|types|"
    r"lessons|challenges|questions|ideas|trends)\b|:\s*$", re.IGNORECASE)
# "Then we need to discuss the budget", "I'll tell you about the findings", "we'll get more into X
# later": a speaker announcing what will be said, not saying it. Such agenda sentences name the topic
# in the question's own words and so outscore the discussion itself; they rank below it instead.
_ANNOUNCEMENT = re.compile(
    r"(?:'ll|\bwill|\bgoing to|\bgonna|\bneed to|\bhave to|\bwant to|\bwould like to|'d like to|\blet's|\blet us|\bshall)"
    r"\s+(?:[\w']+\s+){0,3}?(?:discuss|talk|present|tell you|show you|look at|go through|go over|get (?:more )?into|"
    r"cover|start with|move on|begin with|introduce|come back to|hear)\b", re.IGNORECASE)
ANNOUNCEMENT_PENALTY = 0.1  # on the dev sets: QMSum first citation in span 0.560 -> 0.571, the others unchanged
# "What did the team discuss about the budget?", "Summarize the decision on…": a question about what
# was discussed, decided or concluded. A meeting or a talk opens with its agenda, which names every
# topic in the words a question uses ("today: the budget, the design…"); for such a question a
# sentence of the opening OPENING_S seconds ranks OPENING_PENALTY lower than the discussion itself.
# On the dev sets: QMSum first citation in span 0.607 -> 0.643, kb/dev/fresh/fresh2 unchanged
# (60 s: 0.631, 240 s: 0.619; the same penalty on every question: no more in span, fresh2 precision
# 0.679 -> 0.654, the opening is where a host introduces the guest).
_ASKS_DISCUSSION = re.compile(r"\b(?:discuss|summari[sz]|decid|decision|conclu|agree)\w*", re.IGNORECASE)
OPENING_S = 120.0
OPENING_PENALTY = 0.1
_DISFLUENCY = re.compile(r"\b(?:uh|um|uhm|er|erm|ah|hmm|mm)\b[,.]?\s*", re.IGNORECASE)
_REPEAT = re.compile(r"\b(\w+)(?:,?\s+\1\b)+", re.IGNORECASE)


@dataclass
class Scored:
    """A candidate sentence with its scores: `semantic` (cosine to the question), `lexical`
    (IDF-weighted share of the question's terms it contains) and the blend used to rank."""

    item: dict[str, Any]
    semantic: float
    lexical: float
    score: float


class SentenceEncoder:
    """Cosine similarity between a question and sentences, with the index's embedding model;
    embeddings of sentences already seen are reused (an answer step runs more than once a turn)."""

    def __init__(self, embedder: Any | None, stored: VectorCache | None = None) -> None:
        # an embedder that only hashes words (the tests' stand-in) says nothing about meaning
        self.embedder = embedder if getattr(embedder, "semantic", True) else None
        self.stored = stored  # the vectors ingest embedded (kb.vector_cache), read before embedding
        self._cache: dict[str, Any] = {}
        self._dim: int | None = None  # the model's vector length, once it has embedded something
        self._lock = threading.Lock()  # questions may be answered in parallel; the cache is shared

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]:
        if self.embedder is None or not texts:
            return [0.0] * len(texts)
        with self._lock:
            self._fill([query, *texts], query)
            import numpy as np

            q = np.asarray(self._cache[query], dtype=np.float32)
            m = np.asarray([self._cache[t] for t in texts], dtype=np.float32)
        norms = np.linalg.norm(m, axis=1) * (np.linalg.norm(q) or 1.0)
        return (m @ q / np.where(norms == 0, 1.0, norms)).tolist()

    def vectors(self, texts: Sequence[str]) -> list[Any]:
        """The embedding of each text: the stored or already seen ones read, the others embedded
        (and stored). Needs an embedder that knows meaning."""
        if self.embedder is None:
            raise ValueError("no embedding model: the sentence encoder has none")
        with self._lock:
            self._fill(texts)
            return [self._cache[t] for t in texts]

    def _fill(self, texts: Sequence[str], query: str | None = None) -> None:
        """Put every text's vector in the cache: from the stored vectors where they are of this
        model (a vector's length tells another model's), else embedded, like lengths together."""
        wanted = list(dict.fromkeys(texts))
        missing = [t for t in wanted if t not in self._cache]
        embedded: dict[str, Any] = {}
        if missing and self.stored is not None:
            if query in missing or self._dim is None:  # by this model, always: its length tells a stored vector of another model
                probe = query if query in missing else missing[0]
                self._cache[probe] = embedded[probe] = self.embedder.embed([probe])[0]
                self._dim = len(self._cache[probe])
                missing.remove(probe)
            dim = self._dim
            self._cache.update({t: v for t, v in self.stored.get(missing).items() if len(v) == dim})
            missing = [t for t in missing if t not in self._cache]
        missing.sort(key=len)
        for start in range(0, len(missing), ENCODE_GROUP):  # like lengths together: little padding
            group = missing[start:start + ENCODE_GROUP]
            embedded.update(zip(group, self.embedder.embed(group)))
        self._cache.update(embedded)
        if embedded and self._dim is None:
            self._dim = len(next(iter(embedded.values())))
        if self.stored is not None:  # a passage's sentences come back; the question seldom does
            self.stored.put({t: v for t, v in embedded.items() if t != query})
        if missing and len(self._cache) > 4096:
            self._cache = {t: self._cache[t] for t in wanted}


def items_of(passages: Sequence[Passage]) -> list[dict[str, Any]]:
    """The sentences of passages as the scoring and the abstention policy read them: text, the
    passage's index, the sentence's position in it, and the passage's document (id and title)."""
    return [{"text": s.text, "passage": i, "pos": j, "source": p.source, "title": p.title, "at_s": s.start_s}
            for i, p in enumerate(passages) for j, s in enumerate(p.sentences)]


@lru_cache(maxsize=16384)
def terms_of(text: str) -> frozenset[str]:
    """The distinct word stems of a text (kb.tokens.tokenize), kept: a turn scores, checks and
    shows the same sentences many times."""
    return frozenset(tokenize(text))


def attach_speakers(items: Sequence[dict[str, Any]]) -> None:
    """Give each item its `speaker` (the name that opened its turn, carried to the turn's later
    sentences of the same passage; None where the passage does not say), `said` (its words
    without the name) and `request` (it asks in the form of a statement, kb.asking.is_request, or
    carries on the request or question of the sentence before it). A speaker's name is who speaks,
    not what is said: it is matched against the question as a field of its own, never counted as
    the sentence's content."""
    passages: dict[Any, list[dict[str, Any]]] = {}
    for item in sorted(items, key=lambda x: (str(x.get("passage")), x.get("pos", 0))):
        passages.setdefault(item.get("passage"), []).append(item)
    for turn in passages.values():
        before: dict[str, Any] | None = None
        for item, (speaker, said) in zip(turn, turn_speakers([i["text"] for i in turn])[0]):
            if "said" not in item:
                item["speaker"], item["said"] = speaker, said
                item["request"] = is_request(said) or (
                    before is not None and is_prompt(before) and before["pos"] == item["pos"] - 1
                    and split_speaker(item["text"])[0] is None and carries_on_request(said))
            before = item


def is_prompt(item: dict[str, Any]) -> bool:
    """The item asks: a question, or a request put as a statement (or carrying one on)."""
    if "request" in item:  # attach_speakers has read it
        return item["request"] or is_question(said(item))
    return asks_listener(said(item))


def said(item: dict[str, Any]) -> str:
    """The words of an item without a speaker's name that opens it."""
    return item["said"] if "said" in item else split_speaker(item["text"])[1]


def attributed(item: dict[str, Any]) -> str:
    """The item's words preceded by its speaker's name wherever the speaker is known (not only on
    the turn's first sentence), so every sentence of a turn is matched alike against "what did X say"."""
    return attributed_text(item.get("speaker"), said(item))


def asked_speakers(question: str, items: Sequence[dict[str, Any]]) -> set[str]:
    """The speakers of `items` (see attach_speakers) whom the question names: by the whole name or
    by a part of it that no other speaker's name shares ("Grad B" as "B", "Dr Ada Byron" as
    "Byron"). A one-word part counts only as written in the name (capitalised), so "marketing"
    in a question is a topic, "Marketing" a speaker."""
    speakers = {i["speaker"] for i in items if i.get("speaker")}
    if not speakers:
        return set()
    def parts(name: str) -> set[str]:
        w = name.split()
        return {" ".join(w[a:b]) for a in range(len(w)) for b in range(a + 1, len(w) + 1)}
    all_parts = {n: parts(n) for n in speakers}
    found = set()
    for name, own in all_parts.items():
        for part in own:
            if any(part.lower() in {p.lower() for p in other} for o, other in all_parts.items() if o != name):
                continue
            flags = re.IGNORECASE if " " in part else 0
            if re.search(rf"(?<![\w-]){re.escape(part)}(?![\w-])", question[1:] if len(part) == 1 else question, flags):
                found.add(name)
                break
    return found


def content_terms(text: str, extra_stop: frozenset[str] = frozenset()) -> set[str]:
    return {t for t in tokenize(text) if t not in extra_stop}


def weighted_share(terms: set[str], text: str, idf: Callable[[str], float] | None) -> float:
    """IDF-weighted share of `terms` that `text` contains (uniform weights without an index)."""
    if not terms:
        return 0.0
    words = terms_of(text)
    weight = idf or (lambda _t: 1.0)
    total = sum(weight(t) for t in terms)
    return sum(weight(t) for t in terms & words) / total if total else 0.0


_DISCLAIMS = re.compile(r"\b(?:i|we)\s+(?:forget|forgot|don't\s+know|do\s+not\s+know|don't\s+remember|can't\s+remember|"
                        r"cannot\s+remember|have\s+no\s+(?:idea|clue|insight)|am\s+not\s+sure|'m\s+not\s+sure)\b", re.IGNORECASE)


def disclaims(text: str) -> bool:
    """The speaker says they do not know ("I forget the exact number"), and states no figure: the
    sentence mentions what was asked without saying it."""
    return _DISCLAIMS.search(text) is not None and not re.search(r"\d", text)


def is_claim(item: dict[str, Any], looks_like_instruction: Callable[[str], bool]) -> bool:
    """A sentence (an item, attach_speakers) that can carry an answer: not a question or a request
    put as a statement ("Tell us about a tool you rely on."), a backchannel, an instruction or a
    speaker saying they do not know."""
    t = said(item)
    if not t or is_prompt(item) or looks_like_instruction(t) or disclaims(t):
        return False
    return len(terms_of(_DISFLUENCY.sub("", t))) >= MIN_CLAIM_TERMS


def score(query: str, terms: set[str], items: Sequence[dict[str, Any]], encoder: SentenceEncoder,
          idf: Callable[[str], float] | None, speakers: set[str] = frozenset()) -> list[Scored]:
    """Every item scored against the question (same order as `items`). `speakers`, those the
    question names (asked_speakers), are matched against who speaks, not against what is said:
    their names' words leave the terms, and their sentences gain SPEAKER_WEIGHT. An item's `at_s`
    (its second, where timed) places it in the opening of its document (OPENING_S)."""
    sims = encoder.similarities(query, [attributed(i) for i in items])
    about_discussion = _ASKS_DISCUSSION.search(query) is not None
    named = {t for n in speakers for t in tokenize(n)}
    topic = terms - named if terms - named else terms
    out = []
    for item, sim in zip(items, sims):
        lex = weighted_share(topic, said(item), idf) if speakers else weighted_share(terms, said(item), idf)
        blend = SEMANTIC_WEIGHT * sim + (1 - SEMANTIC_WEIGHT) * lex if encoder.embedder is not None else lex
        if item.get("speaker") in speakers:
            blend += SPEAKER_WEIGHT
        if announces(said(item)):
            blend -= ANNOUNCEMENT_PENALTY
        if about_discussion and item.get("at_s") is not None and item["at_s"] < OPENING_S:
            blend -= OPENING_PENALTY
        out.append(Scored(item, sim, lex, blend))
    return out


def by_relevance(query: str, items: Sequence[dict[str, Any]], encoder: SentenceEncoder,
                 idf: Callable[[str], float] | None) -> list[dict[str, Any]]:
    """The items most like the query first (stable, so retrieval order breaks ties)."""
    from agent.abstention import question_terms

    attach_speakers(items)  # scored as every other step scores them ("Speaker: words")
    scored = score(query, question_terms(query), items, encoder, idf)
    order = sorted(range(len(items)), key=lambda i: -scored[i].score)
    return [items[i] for i in order]


def announces(text: str) -> bool:
    """The sentence announces a topic ("next we'll discuss the budget") rather than stating something."""
    return _ANNOUNCEMENT.search(text) is not None


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """The same words (most of the shorter sentence's words are in the longer one)."""
    ta, tb = terms_of(a), terms_of(b)
    if not ta or not tb:
        return a.strip().lower() == b.strip().lower()
    return len(ta & tb) / min(len(ta), len(tb)) >= threshold


def with_context(s: dict[str, Any], items: Sequence[dict[str, Any]], looks_like_instruction: Callable[[str], bool],
                 min_words: int = 12, most: int = 3) -> list[dict[str, Any]]:
    """The sentence, preceded by the one before it when it starts mid-thought ("And that's why…"),
    followed by the next ones of its passage while it is too short to carry an answer."""
    same = sorted((x for x in items if x["passage"] == s["passage"]), key=lambda x: x["pos"])
    before = [x for x in same if x["pos"] < s["pos"] and is_claim(x, looks_like_instruction)][-1:]
    out = []
    starts_turn = split_speaker(s["text"])[0] is not None
    if (not starts_turn and _MID_THOUGHT.match(said(s)) and before and before[0]["pos"] >= s["pos"] - 2
            and before[0].get("speaker") == s.get("speaker")):
        out.append(before[0])  # a backchannel between the two ("Mhm.") is skipped
    out.append(s)
    if _ANNOUNCES.search(s["text"]):  # "there are two reasons…": the reasons follow
        min_words = max(min_words, 40)
    words = sum(len(x["text"].split()) for x in out)
    for x in (x for x in same if x["pos"] > s["pos"]):
        if words >= min_words or len(out) >= most or looks_like_instruction(x["text"]) or split_speaker(x["text"])[0]:
            break  # another speaker's turn is not the rest of this thought
        if is_claim(x, looks_like_instruction):  # "Oh, you name it." carries nothing
            out.append(x)
            words += len(x["text"].split())
    return out


@lru_cache(maxsize=4096)
def display(text: str) -> str:
    """A quote as shown: the speaker's words, with only pure disfluencies dropped ("uh", "um", a
    word said twice); the stored text stays verbatim. First letter capitalised."""
    t = _DISFLUENCY.sub("", text).strip()
    t = _REPEAT.sub(r"\1", t)
    t = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", t)).strip(" ,")
    if t and t[0].islower():
        t = t[0].upper() + t[1:]
    if t and t[-1] not in ".?!…":
        t += "…"
    return t
