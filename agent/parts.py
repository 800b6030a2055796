"""What a question asks, and of which document: its parts, each searched for and answered alone.

Two things in one question. "Why did they pick the rubber case, and what did it cost?" and "Is X
true? What do the two speakers say?" each ask two things, and the sentence that best answers the
whole question usually answers only one. A later part leans on the first for its topic, as a
follow-up leans on the previous turn (agent.followup.standalone_query). Only clause boundaries
that start a new question split: a question mark followed by another question, or ", and" / ";"
followed by a question word; "What did they say about the case and the buttons?" is one question.

A document named by its title. "What does the podcast say…", "the spring keynote speaker", "the blog's
author": a document word (kb/data/lexicon.json `document_words`: podcast, guest, blog, author…)
with the words before it, matched against each document's id and title. The one document that
matches more of those words than any other is the one meant, and that part is searched and answered
in it alone; a part that names two documents ("how do the podcast's and the blog's views compare?")
becomes one ask per document, and a follow-up that names none is asked of the documents its
previous turn named. A number right after the document word is part of the phrase
("episode 42", "meeting #7", leading zeros aside), and each of a list of them names one ("episodes
3 and 4", "meetings 2, 5 or 9"). A phrase that matches no title ("the guest" where
no title says guest) or several alike names nothing. A run already scoped to one document is not narrowed further.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from agent.followup import is_followup, standalone_query
from kb.lexicon import lexicon, listed
from kb.tokens import tokenize

MAX_PARTS = 3
MAX_ASKS = 4
_WH_WORDS = r"what|why|how|which|who|whom|whose|where|when"
_ASKS = rf"(?:{_WH_WORDS}|does|do|did|is|are|was|were|can|could|should|would|will|has|have)"
_BOUNDARY = re.compile(rf"\?\s+(?=[A-Z]|{_ASKS}\b)|[,;]\s*(?:and|but|or)\s+(?={_ASKS}\b)|;\s+(?={_ASKS}\b)", re.IGNORECASE)
# "The guest says most compute goes to inference; what share does the blog give training?": a clause
# that reports what someone says, with no question word in it, is what the question builds on
_PREMISE = re.compile(r"\b(?:says|said|claims|claimed|argues|argued|thinks|believes|notes|noted|writes|wrote|states|stated"
                      r"|reports|reported|insists|insisted)\b", re.IGNORECASE)
_WH = re.compile(rf"\b(?:{_WH_WORDS})\b|\?", re.IGNORECASE)
MIN_PART_WORDS = 3  # "…, and why?" is the same question again, not a part of its own
_MODIFIERS = 3  # words before a document word that may name it ("the [spring keynote] speaker")
# a number naming the document, not counting what follows it ("meeting 26?", "episode #4 about",
# not "the podcast 3 times when…"): followed by punctuation, the end, a function word, or a last word
_NUMBER_MARK = r"(?:#|no\.?\s*|number\s+)?"  # "#7", "no. 7", "number 7"
_NUMBER_AFTER = re.compile(rf"\s*{_NUMBER_MARK}(?P<n>\d+)\b(?=\s*(?:[,;:?!.)](?!\d)|$)|\s+(?:about|at|for|when|where|who|"
                           r"after|before|and|or|the|a|an|is|are|was|were|do|does|did|say|says|said|on|in|of|to)\b"
                           r"|\s+[a-z]*(?:[^s\W]|ss|us)\s*[?!.]*$)",  # a last word, not a plural ("2 hours?")
                           re.IGNORECASE)
_MORE_NUMBERS = re.compile(rf"\s*(?:,|(?:,\s*)?(?:and|or|&))(?=\s*{_NUMBER_MARK}\d)", re.IGNORECASE)
# in a list, a number followed by any word but a plural ("episodes 3 and 4 differ", not "episode 3 and 2 hours")
_LISTED_NUMBER = re.compile(rf"\s*{_NUMBER_MARK}(?P<n>\d+)(?=\s+[a-z]*(?:[^s\W]|ss|us)\b)", re.IGNORECASE)
_PHRASE_END = re.compile(r"^(?:the|a|an|one|this|that|these|those|both|and|or|of|in|on|by|from|to|with|about|do|does|did|"
                         r"what|how|why|is|are|was|were|say|says|said)$", re.IGNORECASE)


@dataclass(frozen=True)
class Ask:
    """One thing to find: the part as asked, what it leans on (the thread, or the question's first
    part), its search query, and the document it is asked of (None: the whole knowledge base)."""

    text: str
    history: tuple[str, ...]
    lean: bool
    query: str
    source: str | None = None


def question_parts(question: str) -> list[str]:
    """The question's parts, in order ([question] when it asks one thing)."""
    pieces, start = [], 0
    for m in _BOUNDARY.finditer(question):
        end = m.start() + (1 if m.group(0).startswith("?") else 0)
        pieces.append(question[start:end].strip(" ,;"))
        start = m.end()
    pieces.append(question[start:].strip(" ,;"))
    pieces = [p for p in pieces if p]
    if len(pieces) < 2 or len(pieces) > MAX_PARTS or any(len(p.split()) < MIN_PART_WORDS for p in pieces):
        return [question]
    if any(_PREMISE.search(p) and not _WH.search(p) for p in pieces[:-1]):
        return [question]  # "X says Y; what does Z say?": a statement the question builds on, not an ask
    return [p if p.endswith("?") else p + "?" for p in pieces]


def document_phrases(text: str) -> list[tuple[str, set[str]]]:
    """("the spring keynote speaker's", its word stems) for each document word of `text` with
    the words before it that may name the document."""
    words = list(re.finditer(r"[\w'’&-]+", text))
    out = []
    for j, m in enumerate(words):
        if not is_document_word(m.group(0)):
            continue
        start = j
        while start > 0 and j - start < _MODIFIERS and not _PHRASE_END.match(words[start - 1].group(0)):
            if re.search(r"[,;:?!.]", text[words[start - 1].end():words[start].start()]):
                break
            start -= 1
        end = m.end()
        numbers, numbered = [], _NUMBER_AFTER.match(text, end)  # "episode 42", "meeting #7": the number names it too
        while numbered:  # "episodes 3, 4 and 7": each number names one
            numbers.append(numbered.group("n"))
            end = numbered.end()
            more = _MORE_NUMBERS.match(text, end)
            numbered = more and (_NUMBER_AFTER.match(text, more.end()) or _LISTED_NUMBER.match(text, more.end()))
        phrase = text[words[start].start():end]
        before = {t for t in tokenize(text[words[start].start():m.start()]) if t.isdigit()}  # "the 2 podcasts": a count
        named = [t for t in tokenize(text[words[start].start():m.end()]) if t not in before]
        out.extend((phrase, _numbers_plain(stems)) for stems in [[*named, n] for n in numbers] or [named])
    return out


def _numbers_plain(stems: Sequence[str]) -> set[str]:
    """Stems with a number also written without leading zeros ("07" as "7"), so "episode 7" names
    the document whose title says "Episode 07"."""
    return {str(int(t)) if t.isdigit() else t for t in stems}


def is_document_word(word: str) -> bool:
    """Whether a word of a question is one of the lexicon's document words (kb.lexicon.listed:
    plurals and possessives too, a verb such as "meet" not)."""
    return listed(word, lexicon().document_words)


def names_a_kind(text: str) -> bool:
    """Whether a text names a kind of document ("summarize the meeting")."""
    return any(is_document_word(w) for w in re.findall(r"[\w'’-]+", text))


def phrases_naming(text: str, source: str, title: str) -> list[str]:
    """The phrases of `text` that name one given document by words of its id or title ("the
    compute scaling podcast"), as `named_sources` finds them among several."""
    stems = _title_stems(source, title)
    return [phrase for phrase, words in document_phrases(text) if words & stems]


@lru_cache(maxsize=65536)
def _title_stems(source_id: str, title: str) -> frozenset[str]:
    return frozenset(_numbers_plain(tokenize(f"{source_id.replace('-', ' ').replace('_', ' ')} {title}")))


def named_sources(text: str, sources: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """(source id, the phrases naming it) for each document `text` names by words of its id or title
    (`sources`: (id, title) pairs), in the order first named."""
    return [(sid, [phrase for phrase, _ in found]) for sid, found in _naming(text, sources).items()]


def _naming(text: str, sources: Sequence[tuple[str, str]]) -> dict[str, list[tuple[str, set[str]]]]:
    """named_sources with each phrase's word stems (document_phrases), in the order first named."""
    if len(sources) < 2:
        return {}
    index = _TitleIndex.of(tuple(sources))
    out: dict[str, list[tuple[str, set[str]]]] = {}
    for phrase, words in document_phrases(text):
        hits: dict[str, int] = {}
        for w in words:
            for sid in index.having(w):
                hits[sid] = hits.get(sid, 0) + 1
        numbered = index.numbered(words)
        if numbered:  # "meeting 3" is the one numbered 3, not one whose title says "and 3 more"
            hits = {sid: n for sid, n in hits.items() if sid in numbered}
        best = max(hits.values(), default=0)
        winners = [sid for sid, n in hits.items() if n == best]
        if best and len(winners) == 1:
            out.setdefault(winners[0], []).append((phrase, words))
    return out


def _document_numbers(source_id: str, title: str) -> set[str]:
    """The numbers a document is known by: those of its id ("show-ep-07") and those right after a
    document word of its title ("Meeting 12: …"), leading zeros aside."""
    numbers = re.findall(r"(?<![a-z])\d+(?![a-z])", source_id, re.IGNORECASE)
    numbers += [m.group(2) for m in re.finditer(rf"([\w'’-]+)\s*{_NUMBER_MARK}(\d+)\b", title) if is_document_word(m.group(1))]
    return _numbers_plain(numbers)


def writes_id(text: str, source_id: str) -> bool:
    """Whether `text` writes the document id as a word of its own ("summarize qmsum-val-12")."""
    return re.search(rf"(?<![\w-]){re.escape(source_id)}(?![\w-])", text, re.IGNORECASE) is not None


def other_documents(text: str, scope: str, sources: Sequence[tuple[str, str]]) -> list[str]:
    """The documents other than `scope` that `text` names and `scope` does not: by an id as written
    (ids_written: "parish-meeting-14"; "gpt-4" may be a topic), or by a phrase
    (named_sources) with a word of the other's title that the scope's title lacks and that is no
    kind of document or role ("the kitchen blog" asked of a podcast; "the blog" or "the guest" may
    be one the scope talks about). Empty when the text also names `scope`."""
    named = _naming(text, sources)
    if scope in named or writes_id(text, scope):
        return []
    others = [sid for sid in ids_written(text, sources) if sid != scope]
    titles = dict(sources)
    own = _title_stems(scope, titles.get(scope, ""))
    kinds = _kind_stems()
    for sid, found in named.items():
        theirs = _title_stems(sid, titles.get(sid, ""))
        if sid not in others and any((words & theirs) - own - kinds for _, words in found):
            others.append(sid)
    return others


@lru_cache(maxsize=1)
def _kind_stems() -> frozenset[str]:
    """The stems of the lexicon's document and role words: no title word of its own."""
    return frozenset(w for kind in lexicon().document_words | lexicon().role_words for w in tokenize(kind))


def ids_written(text: str, sources: Sequence[tuple[str, str]]) -> list[str]:
    """The documents whose id `text` writes as a word of its own, where the id reads as no topic."""
    return [sid for sid, _ in sources if _id_like(sid) and writes_id(text, sid)]


def _id_like(source_id: str) -> bool:
    """An id no one writes as a topic: three parts or more ("show-ep-03"), or two of letters alone
    ("choir-notes"); not "gpt-4", "web3", "covid-19" or a plain word."""
    parts = [p for p in re.split(r"[-_.]", source_id) if p]
    return len(parts) >= 3 or (len(parts) == 2 and all(p.isalpha() for p in parts))


class _TitleIndex:
    """Which documents' id or title has a word: the word itself, or one it starts, or that starts it,
    from five letters ("review" / "reviewer")."""

    def __init__(self, sources: tuple[tuple[str, str], ...]) -> None:
        self.by_stem: dict[str, set[str]] = {}
        for sid, title in sources:
            for stem in _title_stems(sid, title):
                self.by_stem.setdefault(stem, set()).add(sid)
        self.stems = sorted(self.by_stem)
        self.by_number: dict[str, set[str]] = {}
        for sid, title in sources:
            for number in _document_numbers(sid, title):
                self.by_number.setdefault(number, set()).add(sid)

    @staticmethod
    @lru_cache(maxsize=4)
    def of(sources: tuple[tuple[str, str], ...]) -> _TitleIndex:
        return _TitleIndex(sources)

    def numbered(self, words: set[str]) -> set[str]:
        """The documents numbered by one of `words` (_document_numbers)."""
        return {sid for w in words for sid in self.by_number.get(w, ())}

    def having(self, word: str) -> set[str]:
        found = set(self.by_stem.get(word, ()))
        for n in range(PREFIX_LETTERS, len(word)):  # a title word that starts this word
            found |= self.by_stem.get(word[:n], set())
        if len(word) >= PREFIX_LETTERS:  # title words this word starts
            i = bisect.bisect_left(self.stems, word)
            while i < len(self.stems) and self.stems[i].startswith(word):
                found |= self.by_stem[self.stems[i]]
                i += 1
        return found


PREFIX_LETTERS = 5


def _without(text: str, phrases: Sequence[str]) -> str:
    """`text` without the phrases that name documents (and the article before each)."""
    for phrase in sorted(phrases, key=len, reverse=True):
        text = re.sub(rf"(?:\b(?:the|a|an|one)\s+)?{re.escape(phrase)}", " ", text, flags=re.IGNORECASE)
    return re.sub(r"\s{2,}", " ", re.sub(r"\s+([,.?!;:])", r"\1", text)).strip()


def question_asks(question: str, history: Sequence[str] = (), sources: Sequence[tuple[str, str]] = ()) -> list[Ask]:
    """What to search for and answer: one ask per part of the question, and per document a part
    names (see the module docstring). `sources` are the knowledge base's (id, title) pairs; empty
    when the run is scoped to one document or the list is not known."""
    first, *later = question_parts(question)
    out = []
    for i, part in enumerate([first, *later]):
        hist, lean = (tuple(history), False) if i == 0 else ((first,), True)
        named = named_sources(part, sources)
        if not named and i == 0 and history and is_followup(part):  # "and what else does it say?" stays there
            named = [(sid, []) for sid, _ in named_sources(history[-1], sources)]
        if not named:
            out.append(Ask(part, hist, lean, standalone_query(part, hist, lean)))
            continue
        bare = _without(part, [phrase for _, phrases in named for phrase in phrases])
        for sid, _ in named:
            out.append(Ask(part, hist, lean, standalone_query(bare, hist, lean), sid))
    return out[:MAX_ASKS]
