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

from agent.abstention import assess, names, question_terms
from agent.evidence import SentenceEncoder, display, is_claim, near_duplicate, score, weighted_share, with_context
from agent.followup import is_followup, standalone_query
from agent.models import ModelReply, TokenCallback, ToolCall
from agent.prompts import NOT_COMPUTED, NOT_IN_KB
from agent.tools import looks_like_instruction
from kb.lexical import tokenize
from kb.settings import Settings

MAX_SENTENCES = 3
_HANDLE = re.compile(r"^\[([^\]]+)\]\s*(.*)$")


class OfflineModel:
    """The model-free backend. `idf` (term weights) and `embedder` (for sentence meaning) come from
    the retriever; without them it falls back to uniform weights and term overlap."""

    def __init__(self, settings: Settings | None = None, idf: Callable[[str], float] | None = None,
                 embedder: Any | None = None) -> None:
        self.settings = settings or Settings()
        self.name = "offline"
        self.idf = idf
        self.embedder = embedder
        self.encoder = SentenceEncoder(embedder)

    def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None,
        on_token: TokenCallback | None = None,
    ) -> ModelReply:
        question, history, turn = _split_turn(messages)
        results = _tool_results(turn)
        searches = [r for name, r in results if name == "search_knowledge_base"]
        calcs = [r for name, r in results if name == "calculate"]
        can_call = bool(tools)
        query = standalone_query(question, history)
        if not searches and can_call:
            return _call("search_knowledge_base", {"query": query, "k": self.settings.retrieval.top_k})
        sentences = _sentences(searches)
        if not calcs and can_call:
            from agent.figures import needs_figures

            if needs_figures(query):
                p = _plan(query, tuple(s["text"] for s in self.by_relevance(query, sentences)))
                if p is not None:
                    args = {"expression": p.expression}
                    if p.to:
                        args["to"] = p.to
                    return _call("calculate", args)
                if len(searches) == 1:  # a fact may be missing: look wider once
                    wider = max(2 * self.settings.retrieval.top_k, 10)
                    return _call("search_knowledge_base", {"query": query, "k": wider})
        text = self.compose(question, history, sentences, calcs)
        if on_token:
            on_token(text)
        return ModelReply(content=text)

    def by_relevance(self, query: str, sentences: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Sentences most like the question first (stable, so retrieval order breaks ties)."""
        scored = score(query, question_terms(query), sentences, self.encoder, self.idf)
        order = sorted(range(len(sentences)), key=lambda i: -scored[i].score)
        return [sentences[i] for i in order]

    def pick(self, question: str, history: Sequence[str], sentences: Sequence[dict[str, Any]],
             n: int = MAX_SENTENCES) -> list[dict[str, Any]]:
        """The sentences that answer: the best claim by meaning and term weight, then others close to
        it that add something (a near-duplicate adds nothing). A follow-up's own words weigh more
        than the topic carried over from the previous turn."""
        query = standalone_query(question, history)
        own = question_terms(question) if history and is_followup(question) else set()
        claims = [s for s in sentences if is_claim(s["text"], looks_like_instruction)]
        if not claims:
            return []
        ranked = []
        for sc in score(query, question_terms(query), claims, self.encoder, self.idf):
            total = sc.score + answer_type_bonus(question, sc.item["text"]) - 0.01 * sc.item["rank"]
            if own:
                total = 0.5 * total + 0.5 * weighted_share(own, sc.item["text"], self.idf)
            if names(question):
                total += 0.1 * _name_share(question, sc.item["text"])
            ranked.append((total, sc))
        ranked.sort(key=lambda x: -x[0])
        top = ranked[0][0]
        terms = question_terms(query)
        chosen: list[dict[str, Any]] = []
        covered: set[str] = set()
        for total, sc in ranked:
            if len(chosen) >= n or total < top * COVERING_FLOOR:
                break
            if any(near_duplicate(sc.item["text"], c["text"]) for c in chosen):
                continue
            found = terms & set(tokenize(sc.item["text"]))
            if chosen and total < top * RELATIVE_FLOOR and not found - covered:
                continue  # a weaker sentence earns its place only with a part of the question the others miss
            chosen.append(sc.item)
            covered |= found | {t for x in with_context(sc.item, sentences, looks_like_instruction)
                                for t in terms & set(tokenize(x["text"]))}
        return chosen

    def compose(self, question: str, history: Sequence[str], sentences: Sequence[dict[str, Any]],
                calcs: Sequence[dict[str, Any]]) -> str:
        calc = next((c for c in calcs if "error" not in c), None)
        if calc is not None:
            return self._compose_figure(question, history, sentences, calc)
        chosen = self.pick(question, history, sentences)
        shown = [x["text"] for s in chosen for x in with_context(s, sentences, looks_like_instruction)]
        verdict = assess(question, sentences, self.encoder, self.settings.agent.abstain_threshold, self.settings.agent.min_coverage,
                         looks_like_instruction, standalone_query(question, history), shown)
        if not chosen or not verdict.answerable:
            return NOT_IN_KB
        from agent.figures import needs_figures

        lines = [NOT_COMPUTED] if needs_figures(standalone_query(question, history)) else []
        return "\n".join(lines + _bullets(chosen, sentences))

    def _compose_figure(self, question: str, history: Sequence[str], sentences: Sequence[dict[str, Any]],
                        calc: dict[str, Any]) -> str:
        query = standalone_query(question, history)
        ordered = self.by_relevance(query, sentences)
        p = _plan(query, tuple(s["text"] for s in ordered))
        lines = [f"**{calc['text']}** — computed with the calculate tool: `{calc['expression']}`."]
        cited: list[dict[str, Any]] = []
        for fact in p.facts if p else ():
            if fact.origin == "passage" and fact.passage_index is not None:
                s = ordered[fact.passage_index]
                if s not in cited:
                    cited.append(s)
        if not cited:
            cited = self.pick(question, history, sentences, n=1)
        return "\n".join(lines + [f"- {display(s['text'])} [{s['handle']}]" for s in cited])


RELATIVE_FLOOR = 0.8  # a further sentence scoring this share of the best one is kept
COVERING_FLOOR = 0.5  # one scoring this share is kept when it covers question words the others do not


def _bullets(chosen: Sequence[dict[str, Any]], sentences: Sequence[dict[str, Any]]) -> list[str]:
    """One bullet per chosen sentence (with its context), no sentence shown twice."""
    shown: set[tuple[Any, int]] = set()
    out = []
    for s in chosen:
        parts = [x for x in with_context(s, sentences, looks_like_instruction) if (x["passage"], x["pos"]) not in shown]
        if s not in parts:
            continue
        shown.update((x["passage"], x["pos"]) for x in parts)
        out.append("- " + " ".join(f"{display(x['text'])} [{x['handle']}]" for x in parts))
    return out


def _name_share(question: str, text: str) -> float:
    asked = names(question)
    low = text.lower()
    return sum(1 for n in asked if n.lower() in low) / len(asked) if asked else 0.0


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


_ASKS_NAME = re.compile(r"\b(?:which|what)\s+(?:company|companies|firm|lab|labs|model|models|product|products|person|"
                        r"team|country|city|tool|tools|startup|organisation|organization)\b|^\s*who\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][A-Za-z0-9&-]+")


def answer_type_bonus(question: str, text: str) -> float:
    if _ASKS_NAME.search(question):  # "which company…?": a sentence naming one the question does not
        asked = {w.lower() for w in re.findall(r"[A-Za-z0-9&-]+", question)}
        return 0.3 if any(m.group(0).lower() not in asked for m in _NAME.finditer(text.strip())) else 0.0
    return _typed_bonus(question, text)


def _typed_bonus(question: str, text: str) -> float:
    """0.3 when the sentence has the kind of thing the question asks for (a duration, a number, a date)."""
    for asks, has in _ANSWER_TYPES:
        if asks.search(question):
            return 0.3 if has.search(text) else 0.0
    return 0.0


