"""Questions about a whole document ("What is this episode about?", "Summarize the meeting") and
the evidence that answers them: the document's key moments, picked as its brief picks them
(agent.brief.moments: central sentences, different from each other, spread over the episode), as
passages the citation guard resolves like any search result's.

A search for "summarize the meeting" finds whatever mentions a meeting: such a question has no
topic to search for. It is recognised by its frame — an overview word ("summary", "overview",
"main points", "key takeaways", "what … about?", "what was discussed") — and by asking nothing
else once question words, the lexicon's document words ("meeting", "episode") and the phrase
that names the document ("the spring keynote") are set aside. "Summarize what was said about the budget" has a topic
("budget") and is searched as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.abstention import question_terms
from kb.lexicon import lexicon, listed
from kb.tokens import tokenize
from kb.types import Passage

SHORT_DOCUMENT_SENTENCES = 3

if TYPE_CHECKING:
    from kb.store import Store

_CUE = re.compile(
    r"\b(?:summar(?:y|ies|i[sz]e[sd]?|i[sz]ing)|sum\s+(?:it\s+|this\s+|that\s+)?up|overview|tl;?\s?dr|gist|recap"
    r"|rundown|takeaways?|highlights?|describe"
    r"|(?:main|key|major|central)\s+(?:[\w-]+\s+)?(?:points?|topics?|ideas?|themes?|issues?|messages?|moments?|arguments?)"
    r"|discuss(?:ed|es|ing|ions?)?|purpose|agenda|(?<!how\s)about|covers?|covered|covering"
    r"|(?:go(?:ne)?\s+over|went\s+over|happen(?:ed)?)\s*[?.!]*\s*$)",
    re.IGNORECASE)
# A question asking who, when, where, which one, how many, or yes or no asks for a fact, whatever
# overview words it holds ("who talked about the agenda?", "did they go over the budget?")
_FACT_QUESTION = re.compile(
    r"^\W*(?:and\s+|so\s+)?(?:who|whom|whose|when|where|why|how\s+(?:many|much|often|long|old|far)"
    r"|which\b(?!\s+(?:were|are|was|is)?\s*(?:the\s+)?(?:main\s+|key\s+)?(?:topics?|points?|themes?|issues?|ideas?)\b)"
    r"|(?:did|does|do|is|are|was|were|has|have|had|will|would|should|could|can)\b(?!\s+(?:you|there)\b))",
    re.IGNORECASE)  # "would you summarize…", "is there an overview…", "which topics…" ask for the whole
# a count of the form asked for ("in 3 sentences", "in 2 or 3 sentences", "the 5 main points") is no topic
_FORM_COUNT = re.compile(
    r"\b\d{1,3}(?:\s*(?:-|–|or|to)\s*\d{1,3})?(?=[\s-]*(?:sentences?|paragraphs?|bullets?|lines?|words?|points?|main|key"
    r"|takeaways?|highlights?)\b)", re.IGNORECASE)
# Words that point back at the thread's last answer ("tell me more about that"); after a plain
# overview word ("summarize it") "it" and "again" are the document, not the last answer.
_BACK = frozenset("that those them these he she him her they more else further".split())
_BACK_WEAKLY = frozenset("it its again".split())
_STRONG_CUE = re.compile(r"\b(?:summar|sum\s+(?:it\s+)?up\b|overview|tl;?\s?dr|gist|recap|rundown|takeaway|highlight"
                         r"|(?:main|key|major|central)\s+(?:[\w-]+\s+)?(?:points?|topics?|ideas?|themes?))", re.IGNORECASE)
# Words of an overview's frame, beyond the question words (agent.abstention): how much of it, in
# what form, and the verbs that ask for the whole ("what did they cover?"). Alone, such a word
# names no document ("give me a short summary" is not the document titled "… summary").
_FRAME_WORDS = frozenset(tokenize(
    "whole entire overall general brief briefly short shortly quick quickly main mainly mostly key major central "
    "topic topics idea ideas theme themes issue issues message messages moment moments argument arguments "
    "overview gist recap rundown takeaway takeaways highlight highlights tldr tl dr purpose goal aim agenda "
    "talked cover covers covered covering go gone went over happen happened say said know please me us mind "
    "sum describe here group team everyone summarizing summarized summarising summarised "
    "sentence sentences paragraph paragraphs word words bullet bullets nutshell one two three four five few couple"))
# kinds of document the lexicon does not list, which name no topic either ("the blog post", "the show")
_KINDS = frozenset(tokenize("talk post show keynote webinar seminar interview conversation"))
_FRAME = _FRAME_WORDS | _KINDS


def asks_overview(question: str, naming: Sequence[str] = ()) -> bool:
    """Whether `question` asks about a whole document rather than a topic in it. `naming`: the
    phrases of the question that name the document ("the spring keynote"), which are no topic;
    a number counts how much is wanted ("in 3 sentences"), not what about. A person's role ("what
    did the host describe?") is a topic, unless the question also names the kind of document
    ("what did the speaker talk about in the lecture?")."""
    if not _CUE.search(question.strip()) or _FACT_QUESTION.match(question):
        return False
    named = {t for phrase in naming for t in tokenize(phrase)}
    lex = lexicon()
    words = re.findall(r"[\w'’-]+", question)
    roles = {t for w in words if listed(w, lex.role_words) for t in tokenize(w)}
    if any(listed(w, lex.document_words - lex.role_words) for w in words):
        roles = set()
    return not (question_terms(_FORM_COUNT.sub(" ", question)) - _FRAME - named) | roles


def points_back(question: str) -> bool:
    """Whether a question refers to what the thread last said ("tell me more about that", "can you
    describe it?"); "summarize it" asks for the whole."""
    back = _BACK if _STRONG_CUE.search(question) else _BACK | _BACK_WEAKLY
    return any(w.lower() in back for w in re.findall(r"[\w'’]+", question))


def is_overview_word(word: str) -> bool:
    """Whether a word is one an overview question is framed with ("summary", "short"): such a word
    alone does not name a document ("give me a short summary" is not the one titled "… summary")."""
    return bool(_CUE.fullmatch(word)) or bool(tokenize(word)) and set(tokenize(word)) <= _FRAME_WORDS


_CARRY_OVER = re.compile(r"^\W*(?:and\s+|so\s+)?(?:what|how)\s+about\b", re.IGNORECASE)


def carries_over(question: str) -> bool:
    """"What about the blog?": in a thread, the last question asked again of something else (its
    topic, or its overview when the last answer was one), not by itself a question about the whole."""
    return _CARRY_OVER.match(question) is not None


@dataclass(frozen=True)
class Overview:
    """A document's key moments as passages: the `lead` ones first (the brief's TL;DR: the most
    central that stand alone, one or two), then the others in the order they occur."""

    source: str
    title: str
    passages: tuple[Passage, ...]
    lead: int


def key_moments(store: Store, source: str, embed: Callable[[Sequence[str]], Any]) -> Overview:
    """The overview of one stored document (its brief's TL;DR and key moments, without the rest of
    the brief); `embed` (texts -> vectors) may read the vectors ingest stored. Raises
    UnknownSource for an id the index does not hold."""
    from agent.brief.build import tldr_of
    from agent.brief.document import load_episode
    from agent.brief.moments import central_blocks, moment_count, score, select

    episode = load_episode(store, source)
    sents = episode.sentences
    if not sents:
        raise ValueError(f"document {source!r} has no sentences to summarise")
    scored = score(sents, embed, central_blocks(episode.blocks))
    picked = select(sents, scored, moment_count(sents, len(scored.index)))
    lead = tldr_of(episode, scored, picked)
    if not picked:  # too short for a moment of its own: its opening sentences say what it is
        picked = list(range(min(SHORT_DOCUMENT_SENTENCES, len(sents))))
        lead = picked[:1]
    order = [*lead, *(i for i in picked if i not in lead)]
    return Overview(episode.source, episode.title, tuple(_moment_passage(episode, i) for i in order), len(lead))


def _moment_passage(episode: Any, i: int) -> Passage:
    s = episode.sentences[i]
    return Passage(chunk_id=f"{episode.source}#moment-{i}", source=episode.source, title=episode.title, text=s.text,
                   score=1.0, sentences=(s,), url=episode.url, start_s=s.start_s, end_s=s.start_s,
                   locator=s.locator, at_s=s.start_s, best_sentence=s.text, best_locator=s.locator)
