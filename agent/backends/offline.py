"""The offline backend: a deterministic stand-in for a chat model that needs no weights and no
network, and runs the same graph and tools as a real model.

Per turn it (1) searches the knowledge base, rewriting a follow-up into a standalone query from
the previous turn's topic; (2) when the question asks for a figure, plans a dimensional-analysis
calculation from quantities in the question and the retrieved sentences and calls `calculate`;
(3) answers with the best supporting sentences of the retrieved passages, each cited, most
relevant first, or with the fixed "not covered" phrase when nothing supports an answer.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from agent.models import ModelReply, TokenCallback, ToolCall
from agent.prompts import NOT_IN_KB
from agent.tools import looks_like_instruction
from kb.lexical import tokenize
from kb.settings import Settings

MAX_SENTENCES = 3
_HANDLE = re.compile(r"^\[([^\]]+)\]\s*(.*)$")
_FOLLOWUP_START = re.compile(r"^(and|but|so|also|what about|how about|then|ok|okay)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(that|this|it|they|them|those|these|he|she|his|her|its|their|there)\b", re.IGNORECASE)
_FILLER = re.compile(r"\b(uh|um|uh uh|you know|I mean|like)\b[,]?\s+", re.IGNORECASE)
# words in a question that say what kind of answer is wanted, not what it is about
_QUESTION_WORDS = set(tokenize(
    "many much big long large often fast kind type way according mention mentioned discuss describe explain give "
    "example compare call need both "
    # words that name a document or a speaker, not what the question is about
    "guest speaker talk lecture podcast transcript summary blog comment comments commenter commenters author "
    "host interviewer episode video document capstone enterprise"))


# A question word also counts as found when one of these stands in the text instead.
SYNONYMS: dict[str, set[str]] = {
    "cost": {"spend", "price", "expensive", "dollar", "$", "billion", "capex"},
    "price": {"cost", "dollar", "$"},
    "expensive": {"cost", "spend", "price", "$"},
    "dollar": {"$", "usd"},
    "build": {"building", "construct"},
    "favourite": {"favorite"},
    "favorite": {"favourite"},
    "fast": {"speed", "quick", "quickly"},
    "slow": {"slowdown"},
    "big": {"large", "larger", "massive"},
    "percentage": {"%", "percent"},
}


class OfflineModel:
    def __init__(self, settings: Settings | None = None, idf: Callable[[str], float] | None = None,
                 embedder: Any = None) -> None:
        self.settings = settings or Settings()
        self.name = "offline"
        self.idf = idf  # term weights from the BM25 index; uniform when not given
        self.embedder = embedder  # the index's embedder (kb.embeddings), when given

    def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None,
        on_token: TokenCallback | None = None,
    ) -> ModelReply:
        question, history, turn = _split_turn(messages)
        results = _tool_results(turn)
        searches = [r for name, r in results if name == "search_knowledge_base"]
        calcs = [r for name, r in results if name == "calculate"]
        can_call = bool(tools)
        if not searches and can_call:
            return _call("search_knowledge_base", {"query": standalone_query(question, history), "k": self.settings.top_k})
        sentences = _sentences(searches)
        scorer = Scorer(self.idf)
        if not calcs and can_call:
            from agent.figures import needs_figures

            if needs_figures(question):
                p = _plan(question, tuple(s["text"] for s in by_relevance(question, sentences, scorer)))
                if p is not None:
                    args = {"expression": p.expression}
                    if p.to:
                        args["to"] = p.to
                    return _call("calculate", args)
                if len(searches) == 1:  # a fact may be missing: look wider once
                    wider = max(2 * self.settings.top_k, 10)
                    return _call("search_knowledge_base", {"query": standalone_query(question, history), "k": wider})
        text = compose(question, history, sentences, calcs, scorer, self.settings.min_coverage)
        if on_token:
            on_token(text)
        return ModelReply(content=text)


def _call(name: str, args: dict[str, Any]) -> ModelReply:
    call_id = f"call_{name}_{zlib.crc32(json.dumps(args, sort_keys=True).encode()):08x}"
    return ModelReply(tool_calls=[ToolCall(id=call_id, name=name, arguments=json.dumps(args))])


@lru_cache(maxsize=64)
def _plan(question: str, texts: tuple[str, ...]) -> Any:
    """The figures plan (cached: the answer step cites the facts the calculate step used)."""
    from agent.figures import plan

    return plan(question, texts)


def _split_turn(messages: Sequence[dict[str, Any]]) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(current question, earlier user questions, messages of the current turn after the question)."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    question = str(messages[last_user].get("content") or "") if last_user >= 0 else ""
    history = [str(m.get("content") or "") for m in messages[:last_user] if m.get("role") == "user"]
    return question, history, list(messages[last_user + 1 :])


def _tool_results(turn: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, parsed result) for each tool message, names found through the calls' ids."""
    names = {c["id"]: c["function"]["name"] for m in turn for c in m.get("tool_calls") or []}
    out = []
    for m in turn:
        if m.get("role") == "tool":
            try:
                out.append((names.get(m.get("tool_call_id", ""), ""), json.loads(m.get("content") or "{}")))
            except ValueError:
                continue
    return out


def is_followup(question: str) -> bool:
    """"and how long does that take?", "why?": it leans on the previous turn for its topic."""
    content = [t for t in tokenize(question) if t not in _QUESTION_WORDS]
    return (not content or bool(_FOLLOWUP_START.match(question.strip()))
            or (len(content) <= 3 and bool(_PRONOUN.search(question))))


def standalone_query(question: str, history: Sequence[str]) -> str:
    """A follow-up ("and how long does that take?") gets the previous turn's topic added."""
    if not history or not is_followup(question):
        return question
    previous = history[-1]
    if len(history) > 1 and is_followup(previous):
        previous = standalone_query(previous, history[:-1])
    topic = " ".join(w for w in re.findall(r"[\w$%.-]+", previous) if tokenize(w) and tokenize(w)[0] not in _QUESTION_WORDS)
    return f"{question} ({topic})"


def _sentences(searches: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sentences of this turn's search results, each once: its citation handle, text, the rank
    of its passage in its search, its passage's identity and its position there."""
    out = []
    seen: set[tuple[str, str]] = set()
    for n, result in enumerate(searches):
        for rank, p in enumerate(result.get("passages", [])):
            for pos, line in enumerate(p.get("sentences", [])):
                m = _HANDLE.match(line)
                if m and (m.group(1), m.group(2)) not in seen:
                    seen.add((m.group(1), m.group(2)))
                    out.append({"handle": m.group(1), "text": m.group(2), "rank": rank, "passage": (n, rank), "pos": pos,
                                "source": p.get("source")})
    return out


def _content_terms(question: str) -> set[str]:
    return {t for t in tokenize(question) if t not in _QUESTION_WORDS}


def _found(terms: set[str], text: str) -> set[str]:
    words = set(tokenize(text))
    if "$" in text:
        words.add("$")
    return {t for t in terms if t in words or SYNONYMS.get(t, set()) & words}


def share(terms: set[str], text: str) -> float:
    """Unweighted share of the question's terms found in `text` (gates abstention: on the dev gold
    set it separates answerable from unanswerable questions better than the weighted score)."""
    return len(_found(terms, text)) / len(terms) if terms else 0.0


class Scorer:
    """Ranks sentences by the share of the question's terms they contain, rare terms weighing more
    (IDF from the BM25 index when given, else uniform)."""

    def __init__(self, idf: Callable[[str], float] | None = None) -> None:
        self.idf = idf

    def score(self, terms: set[str], text: str) -> float:
        if not terms:
            return 0.0
        weight = self.idf or (lambda _term: 1.0)
        total = sum(weight(t) for t in terms)
        return sum(weight(t) for t in _found(terms, text)) / total if total else 0.0


def clean(text: str) -> str:
    """Caption text made readable: fillers removed, first letter capitalised, ends with a stop."""
    text = _FILLER.sub("", text).strip()
    text = re.sub(r"\b(\w+)( \1\b)+", r"\1", text, flags=re.IGNORECASE)  # "is is is" -> "is"
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if text and text[-1] not in ".?!":
        text += "…"
    return text


_ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"\bhow long\b|\bhow much time\b", re.I),
     re.compile(r"\b(\d+(\.\d+)?|a|one|two|three|few|several)\s*(years?|months?|weeks?|days?|hours?|minutes?|seconds?|ms|milliseconds)\b", re.I)),
    (re.compile(r"\b(cost|costs|price|spend|how much money|how expensive)\b", re.I),
     re.compile(r"\$\s?\d|\b(dollars?|usd)\b", re.I)),
    (re.compile(r"\bhow (many|much)\b|\bwhat (share|fraction|percentage)\b", re.I),
     re.compile(r"\d|\b(half|million|billion|trillion|thousand|hundred|dozen)\b", re.I)),
    (re.compile(r"^\s*(and\s+)?when\b", re.I),
     re.compile(r"\b(19|20)\d\d\b|\b(january|february|march|april|may|june|july|august|september|october|november|december|ago|last year|next year)\b", re.I)),
)


def answer_type_bonus(question: str, text: str) -> float:
    """0.3 when the sentence has the kind of thing the question asks for (a duration, a number, a date)."""
    for asks, has in _ANSWER_TYPES:
        if asks.search(question):
            return 0.3 if has.search(text) else 0.0
    return 0.0


def pick(question: str, history: Sequence[str], sentences: Sequence[dict[str, Any]], scorer: Scorer,
         n: int = MAX_SENTENCES) -> list[dict[str, Any]]:
    """The best supporting sentences: the one with most of the (standalone) question's terms, then
    only sentences that bring terms the chosen ones lack (so a two-part question gets both parts).
    A follow-up's own words weigh more than the topic carried over from the previous turn."""
    terms = _content_terms(standalone_query(question, history))
    own = _content_terms(question) if history and is_followup(question) else set()
    scored = []
    for s in sentences:
        text = s["text"].strip()
        if looks_like_instruction(text) or len(text.split()) < 4 or text.endswith("?"):
            continue
        sc = scorer.score(terms, s["text"])
        if own:
            sc = 0.5 * sc + 0.5 * scorer.score(own, s["text"])
        if sc > 0:
            bonus = answer_type_bonus(question, s["text"]) + 0.2 * entity_share(question, s["text"])
            scored.append((sc + bonus - 0.02 * s["rank"], s))
    if not scored:
        return []
    scored.sort(key=lambda x: -x[0])
    top = scored[0][0]
    chosen: list[dict[str, Any]] = []
    covered: set[str] = set()
    for sc, s in scored:
        if sc < top * 0.5 or len(chosen) >= n:
            break
        found = _found(own or terms, s["text"])
        if chosen and not found - covered:
            continue
        covered |= found
        chosen.append(s)
    return chosen


def by_relevance(question: str, sentences: Sequence[dict[str, Any]], scorer: Scorer) -> list[dict[str, Any]]:
    """Sentences with the most question terms first (stable, so retrieval order breaks ties)."""
    terms = _content_terms(question)
    return sorted(sentences, key=lambda s: -scorer.score(terms, s["text"]))


def coverage(question: str, history: Sequence[str], sentences: Sequence[dict[str, Any]]) -> float:
    """The largest share of the question's content terms found in one sentence and its neighbours."""
    terms = _content_terms(standalone_query(question, history))
    if not terms:
        return 0.0
    best = 0.0
    for i, s in enumerate(sentences):
        window = " ".join(x["text"] for x in sentences[max(0, i - 1) : i + 2] if x["passage"] == s["passage"])
        best = max(best, share(terms, window))
    return best


_ENTITY = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][\w&-]*[A-Za-z0-9](?:\s+[A-Z0-9][\w-]*)*)|\b([A-Za-z]+\d[\w.-]*)\b")
_NOT_ENTITIES = {"I", "AI", "OK", "US", "USA", "What", "How", "Why", "Who", "When", "Which", "Where", "And", "The", "In", "If"}


def entities(question: str) -> list[str]:
    out = []
    for m in _ENTITY.finditer(question):
        name = (m.group(1) or m.group(2) or "").strip()
        out += [re.sub(r"('s|’s)$", "", w) for w in re.split(r"\s+", name) if w and w not in _NOT_ENTITIES]
    return [w for w in out if len(w) > 1]


def entity_share(question: str, text: str) -> float:
    """Share of the question's names that `text` mentions (0.0 when the question names none)."""
    names = entities(question)
    if not names:
        return 0.0
    stems = set(tokenize(text))
    return sum(1 for w in names if w.lower() in text.lower() or set(tokenize(w)) <= stems) / len(names)


def missing_entities(question: str, sentences: Sequence[dict[str, Any]]) -> list[str]:
    """Names in the question (capitalised words, model names like V4 or H100) that no retrieved
    sentence mentions: a passage about something else does not answer a question about them."""
    text = " ".join(s["text"] for s in sentences).lower()
    stems = set(tokenize(text))
    return [w for w in entities(question) if w.lower() not in text and not set(tokenize(w)) <= stems]


def compose(question: str, history: Sequence[str], sentences: Sequence[dict[str, Any]], calcs: Sequence[dict[str, Any]],
            scorer: Scorer, min_coverage: float = 0.0) -> str:
    calc = next((c for c in calcs if "error" not in c), None)
    if calc is not None:
        return _compose_figure(question, sentences, calc, scorer)
    chosen = pick(question, history, sentences, scorer)
    if not chosen or coverage(question, history, sentences) < min_coverage or missing_entities(question, sentences):
        return NOT_IN_KB
    return "\n".join("- " + " ".join(f"{clean(x['text'])} [{x['handle']}]" for x in with_context(s, sentences)) for s in chosen)


def with_context(s: dict[str, Any], sentences: Sequence[dict[str, Any]], min_words: int = 15, most: int = 4) -> list[dict[str, Any]]:
    """A short sentence ("Biggest unsolved problem right now.") plus the next sentences of its
    passage, until there are enough words to carry an answer."""
    out = [s]
    words = len(s["text"].split())
    following = [x for x in sentences if x["passage"] == s["passage"] and x["pos"] > s["pos"]]
    for x in sorted(following, key=lambda x: x["pos"])[: most - 1]:
        if words >= min_words:
            break
        if looks_like_instruction(x["text"]):
            break
        out.append(x)
        words += len(_FILLER.sub("", x["text"]).split())
    return out


def _compose_figure(question: str, sentences: Sequence[dict[str, Any]], calc: dict[str, Any], scorer: Scorer) -> str:
    ordered = by_relevance(question, sentences, scorer)
    p = _plan(question, tuple(s["text"] for s in ordered))
    lines = [f"**{calc['text']}** — computed with the calculate tool: `{calc['expression']}`."]
    cited: set[int] = set()
    for fact in p.facts if p else ():
        if fact.origin == "passage" and fact.passage_index is not None and fact.passage_index not in cited:
            cited.add(fact.passage_index)
            s = ordered[fact.passage_index]
            lines.append(f"- {clean(s['text'])} [{s['handle']}]")
    if len(lines) == 1:
        support = pick(question, [], sentences, scorer, n=1)
        lines += [f"- {clean(s['text'])} [{s['handle']}]" for s in support]
    return "\n".join(lines)
