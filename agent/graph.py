"""The agent as a LangGraph `StateGraph`: retrieve -> model -> tools -> model ... -> finalize.

`build_graph(deps)` wires a chat model, a toolbox and a checkpointer that the caller provides (the
tests inject fakes); nothing is created at import time. `retrieve` searches with the question (made
standalone when it is a follow-up) before the first model call and hands the passages to the model
as the result of a `search_knowledge_base` call, so a simple lookup costs one model call and a model
that never calls tools still gets passages. For a model (not the offline backend, which plans its
own), a question whose figure the retrieved quantities combine into is also `calculate`d there, so
such a model still states a computed figure. A question about a whole document ("what is this
episode about?") gets that document's key moments instead of a search (`document_overview`,
agent.overview). A model's own search for a bare follow-up ("why is
that?") gets the thread's topic, as the first search did. The loop is bounded by `max_tool_rounds`; when it is
hit, the model is asked once more, without tools, to answer from what it has. `finalize` applies
the citation guard, attribution and the abstention rule.

Each tool result is in the state in two forms: as the tool message the model reads
(`agent.render.tool_content`, the only place it becomes text) and as data (`evidence`), which every
model call gets too (the offline backend reads only that) and from which the guard takes the
turn's passages.

Everything that belongs to one run travels in its LangGraph config (`configurable`): `source`
(the scope every search of the turn stays inside), `on_token` and `on_event` (progress callbacks,
which may raise `AnswerCancelled`). `Deps` holds only what all runs share, so one compiled graph
answers many questions at once.
"""

from __future__ import annotations

import json
import math
import operator
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from agent.abstention import assess
from agent.citations import GuardResult, attribute, guard, numbers
from agent.evidence import SentenceEncoder, by_relevance, items_of
from agent.followup import is_followup
from agent.models import ChatModel, Evidence, ModelReply, ToolResult
from agent.overview import asks_overview, carries_over, is_overview_word, points_back
from agent.parts import (
    MAX_ASKS,
    ids_written,
    named_sources,
    names_a_kind,
    other_documents,
    phrases_naming,
    question_asks,
    question_parts,
    writes_id,
)
from agent.prompts import FINAL_ROUND_PROMPT, NOT_IN_KB, OUTSIDE_SCOPE, SYSTEM_PROMPT, WHICH_DOCUMENT
from agent.render import tool_content
from agent.tools import (
    CALCULATE,
    MAX_K,
    NEEDS_DOCUMENT,
    OVERVIEW,
    SEARCH,
    TOOL_SCHEMAS,
    Toolbox,
    looks_like_instruction,
)
from kb.numbers import parse_numbers
from kb.types import Passage, handle

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


class AgentState(TypedDict, total=False):
    history: Annotated[list[dict[str, Any]], operator.add]  # earlier turns: user questions and final answers
    question: str
    messages: list[dict[str, Any]]  # this turn's model/tool exchange, as the model reads it
    evidence: list[dict[str, Any]]  # the same tool results as data (ToolResult.to_state), in call order
    tool_calls: list[dict[str, Any]]
    rounds: int
    usage: dict[str, int]
    final: dict[str, Any]
    outside: list[str]  # documents the question names that the run's scope leaves out (then nothing is searched)


@dataclass
class Deps:
    chat: ChatModel
    toolbox: Toolbox
    max_tool_rounds: int = 4
    max_history_turns: int = 6
    abstain_threshold: float = 0.42
    min_coverage: float = 0.22
    encoder: SentenceEncoder = field(default_factory=lambda: SentenceEncoder(None))  # over the index's embedding model
    checkpointer: Any = None
    top_k: int = 5
    attribution_threshold: float = 0.55  # similarity (deps.encoder) a sentence needs to support an uncited claim
    compute_first: bool = False  # plan and run `calculate` before the first model call (agent.figures)
    idf: Callable[[str], float] | None = None  # the index's term weights, for ranking sentences to plan from


def _run(config: Any) -> dict[str, Any]:
    """This run's own values (scope, callbacks) from its LangGraph config."""
    return dict((config or {}).get("configurable") or {})


def _emit(config: Any, kind: str, data: dict[str, Any]) -> None:
    on_event = _run(config).get("on_event")
    if on_event:
        on_event(kind, data)


def _earlier_questions(state: AgentState) -> list[str]:
    """The thread's earlier user questions, oldest first."""
    return [m["content"] for m in state.get("history", []) if m.get("role") == "user"]


def _searched_queries(state: AgentState) -> list[str | None]:
    """What the turn first searched for: the standalone form of each ask of the question
    (agent.parts: a follow-up with its topic, each part, each document named); [None] when none."""
    queries = [str(r["arguments"].get("query") or "") for r in state.get("tool_calls", [])
               if r.get("retrieve_first") and not r.get("context") and r.get("name") == SEARCH
               and isinstance(r.get("arguments"), dict)]
    return [q for q in queries if q] or [None]


def _where_last_answered(final: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A search for the place the previous answer quoted first (its sentence, in its document): a
    follow-up ("why is it that high?") usually asks about what was said right there."""
    cited = (final or {}).get("citations") or []
    if not cited or (final or {}).get("abstained") or not cited[0].get("quote") or not cited[0].get("source"):
        return []
    return [{"query": str(cited[0]["quote"]), "k": ASK_K, "source": str(cited[0]["source"])}]


def _normal(text: str) -> str:
    return re.sub(r"[\s.!\"'*]+", " ", text).strip().lower()


def states_a_figure(text: str, results: list[dict[str, Any]]) -> bool:
    """Whether the answer states a figure the calculate tool computed (then it may stand without a
    passage to cite: the inputs were the question's). A calculation the answer ignores counts for nothing."""
    stated = parse_numbers(text)
    for r in results:
        shown = str(r.get("text", ""))
        figures = [float(r.get("value", 0)), *parse_numbers(shown)]  # the value, and as shown ("1.235 million")
        if shown.lower() in text.lower() or any(math.isclose(n, f, rel_tol=1e-9) for n in stated for f in figures):
            return True
    return False


def _relevance(passages: list[Passage]) -> float | None:
    """Dense similarity is the relevance signal; retrievers without one (BM25 only) leave it to the model."""
    sims = [p.similarity for p in passages if p.similarity is not None]
    return max(sims) if sims else None


def _final(text: str, citations: list[dict[str, Any]], abstained: bool, checked: Any, claims: Any,
           relevance: float | None) -> dict[str, Any]:
    return {"answer": text, "citations": citations, "abstained": abstained,
            "citations_corrected": checked.corrected, "citations_dropped": checked.dropped,
            "claims_attributed": claims.attributed if claims else 0,
            "claims_unsupported": claims.unsupported if claims else 0, "relevance": relevance}


def _turn(state: AgentState, answer: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": state["question"]}, {"role": "assistant", "content": answer}]


ASK_K = 3  # the fewest passages a search of one ask brings when a question has several asks


class Nodes:
    """The graph's steps over one `Deps`: each reads the state and returns the keys it changes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def messages(self, state: AgentState, final_round: bool = False) -> list[dict[str, Any]]:
        """What the model reads: the system prompt, recent turns, the question, this turn's exchange."""
        deps = self.deps
        msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
        recent = state.get("history", [])[-2 * deps.max_history_turns :] if deps.max_history_turns else []
        msgs += [{"role": m["role"], "content": m["content"]} for m in recent]
        msgs.append({"role": "user", "content": state["question"]})
        msgs += state.get("messages", [])
        if final_round:
            msgs.append({"role": "user", "content": FINAL_ROUND_PROMPT})
        return msgs

    def retrieve(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Search with the question (standalone) before the first model call, as if the model had;
        a question that asks two things, or of two documents it names, gets a search for each
        (agent.parts)."""
        earlier = _earlier_questions(state)
        scope = _run(config).get("source")
        if scope and (outside := other_documents(state["question"], scope, self.deps.toolbox.titles())):
            return {"messages": [], "evidence": [], "tool_calls": [], "outside": outside}  # said in finalize
        calls, messages, evidence, records = [], [], [], []
        asks = question_asks(state["question"], earlier, [] if scope else self.deps.toolbox.titles())
        k = min(self.deps.top_k if len(asks) == 1 else max(ASK_K, self.deps.top_k // 2), MAX_K)
        whole = self.overview_of(state["question"], earlier, scope, state.get("final"))
        if whole is not None:  # a question about the whole document: its key moments, not a search
            first_calls = [(OVERVIEW, args, True) for args in whole]
        else:
            first_calls = [(SEARCH, {"query": a.query, "k": k, **({"source": a.source} if a.source else {})}, True)
                           for a in asks]
            if earlier and is_followup(state["question"]):
                first_calls += [(SEARCH, args, False) for args in _where_last_answered(state.get("final"))]
        results = []
        for name, args, asked in first_calls:
            raw = json.dumps(args, ensure_ascii=False)
            _emit(config, "retrieve", {"name": name, "arguments": raw})
            results.append((self.deps.toolbox.run(name, raw, scope=scope), raw, {} if asked else {"context": True}))
        if self.deps.compute_first and len(asks) == 1:
            computed = self.compute_first(asks[0].query, [r for r, _, _ in results], config)
            if computed is not None:
                results.append(computed)
        for result, raw, extra in results:
            call_id = f"call_retrieve_{zlib.crc32(raw.encode()):08x}"
            calls.append({"id": call_id, "type": "function", "function": {"name": result.name, "arguments": raw}})
            messages.append(_tool_message(call_id, result))
            evidence.append(result.to_state())
            records.append({**result.record(), "retrieve_first": True, **extra})
        return {"messages": [{"role": "assistant", "content": None, "tool_calls": calls}, *messages],
                "evidence": evidence, "tool_calls": records, "outside": []}

    def overview_of(self, question: str, earlier: list[str], scope: str | None,
                    last: dict[str, Any] | None = None) -> list[dict[str, Any]] | None:
        """The overview tool calls' arguments when the question asks about a whole document
        (agent.overview): `{"source": id}` for each document it names (up to MAX_ASKS), `{}` for
        the run's scope or the knowledge base's only document (the tool resolves them, or asks
        which document). None for any other question: one with a topic or two parts, or a
        follow-up of the thread's topic. `last`: the thread's previous answer."""
        if len(question_parts(question)) != 1:
            return None
        titles = self.deps.toolbox.titles()
        named = [] if scope else _named_for_overview(question, titles)
        if len(named) > MAX_ASKS:
            return None
        if earlier and is_followup(question) and not _overview_in_thread(question, scope, named, last):
            return None
        if scope or (not named and len(titles) == 1):
            sid, title = (scope, dict(titles).get(scope, "")) if scope else titles[0]
            naming = phrases_naming(question, sid, title) + ([sid] if writes_id(question, sid) else [])
        else:
            naming = [p for _, phrases in named for p in phrases]
        if not asks_overview(question, naming):
            return None
        return [{"source": sid} for sid, _ in named] or [{}]

    def compute_first(self, query: str, searches: list[ToolResult], config: RunnableConfig,
                      ) -> tuple[ToolResult, str, dict[str, Any]] | None:
        """When the question asks for a figure that the quantities of the question and of the
        retrieved sentences combine into (agent.figures), `calculate` it before the first model call,
        so that a model that never calls tools still states a computed figure, not a guessed one. The
        result names the sentences each operand came from (`from`), for the model to cite."""
        from agent.figures import needs_figures, plan

        if not needs_figures(query):
            return None
        unique: dict[str, Passage] = {}
        for p in (p for r in searches for p in r.passages):
            unique.setdefault(p.chunk_id, p)
        passages = list(unique.values())
        items = items_of(passages)
        ordered = by_relevance(query, items, self.deps.encoder, self.deps.idf)
        p = plan(query, tuple(i["text"] for i in ordered))
        if p is None:
            return None
        raw = json.dumps({"expression": p.expression, **({"to": p.to} if p.to else {})}, ensure_ascii=False)
        _emit(config, "retrieve", {"name": CALCULATE, "arguments": raw})
        result = self.deps.toolbox.run(CALCULATE, raw)
        if result.error is not None:
            return None  # a plan the calculator refuses is no figure; the model answers from the passages
        quoted: list[str] = []
        for item in (ordered[i] for i in p.passage_operands()):
            passage = passages[item["passage"]]
            sentence = passage.sentences[item["pos"]]
            line = f"[{handle(passage, sentence, passage.shown_at(sentence))}] {sentence.text}"
            if line not in quoted:  # touching windows repeat a sentence
                quoted.append(line)
        return ToolResult(CALCULATE, result.arguments, output={**result.output, "from": quoted}), raw, {}

    def call_model(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        rounds = state.get("rounds", 0)
        final_round = rounds >= self.deps.max_tool_rounds
        _emit(config, "thinking", {"round": rounds})
        reply = self.deps.chat.complete(self.messages(state, final_round), None if final_round else TOOL_SCHEMAS,
                                        _run(config).get("on_token"), evidence=_evidence(state))
        if final_round and reply.tool_calls:
            reply = ModelReply(content=reply.content or "", prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)
        return {"messages": state.get("messages", []) + [reply.to_message()], "usage": _add_usage(state, reply)}

    def run_tools(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        scope = _run(config).get("source")
        new_msgs = list(state["messages"])
        evidence = list(state.get("evidence", []))
        records = list(state.get("tool_calls", []))
        earlier = _earlier_questions(state)
        for call in state["messages"][-1]["tool_calls"]:
            name, raw = call["function"]["name"], call["function"]["arguments"]
            if name == SEARCH and earlier and is_followup(state["question"]):
                raw = self.standalone_search(raw, earlier, scope)
            _emit(config, "tool", {"name": name, "arguments": raw})
            result = self.deps.toolbox.run(name, raw, scope=scope)
            records.append(result.record())
            evidence.append(result.to_state())
            new_msgs.append(_tool_message(call["id"], result))
        return {"messages": new_msgs, "evidence": evidence, "tool_calls": records, "rounds": state.get("rounds", 0) + 1}

    def standalone_search(self, raw: str, earlier: list[str], scope: str | None) -> str:
        """During a follow-up turn, a model's search that is itself a bare follow-up ("why is it that
        high?", often the user's words sent back) is run as the retrieve-first search of such a
        question is: with the thread's topic, in the document the thread named (agent.parts). A
        search that stands on its own is run as the model sent it."""
        try:
            args = json.loads(raw or "{}")
        except ValueError:
            return raw
        query = args.get("query") if isinstance(args, dict) else None
        if not isinstance(query, str) or not is_followup(query):
            return raw
        ask = question_asks(query, earlier, [] if scope else self.deps.toolbox.titles())[0]
        return json.dumps({**args, "query": ask.query, **({"source": ask.source} if ask.source and not args.get("source") else {})},
                          ensure_ascii=False)

    def finalize(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """The answer that stands: citations checked, every claim attributed, abstention decided."""
        deps = self.deps
        if state.get("outside"):
            return self.outside_scope(state, _run(config).get("source"))
        text = (state["messages"][-1].get("content") or "").strip() if state.get("messages") else ""
        evidence = _evidence(state)
        passages = evidence.passages()
        checked = guard(text, passages)
        overview = _first_overview(state)
        # no answer to a question about a whole document because none was known: say which is needed
        result = (overview or {}).get("result")
        failed = str(result.get("error") or "") if isinstance(result, dict) else ""
        refusal = WHICH_DOCUMENT if failed.startswith(NEEDS_DOCUMENT) else NOT_IN_KB
        if not checked.text or _normal(checked.text) == _normal(NOT_IN_KB):
            return {"final": _final(refusal, [], True, checked, None, _relevance(passages)), "history": _turn(state, refusal)}
        calcs = [r.output for r in evidence.of(CALCULATE, ok=True)]
        claims = attribute(checked, passages, deps.encoder.similarities, deps.attribution_threshold,
                           given=numbers(state["question"]), computed=lambda sentence: states_a_figure(sentence, calcs))
        computed = claims.computed
        items = items_of(passages)
        quoted = [str(c.get("quote") or "") for c in claims.citations] if claims else []
        verdicts = (assess(state["question"], items, deps.encoder, deps.abstain_threshold, deps.min_coverage,
                           looks_like_instruction, query, quoted) for query in _searched_queries(state))
        first = next(verdicts)  # the asks after the first are assessed only while none is answered
        verdict = first if first.answerable else next((v for v in verdicts if v.answerable), first)
        # a question about the whole is answered by key moments, when the answer quotes only
        # documents an overview was given of (the model's own call, after the first one failed, too)
        summarised = {str((r.arguments or {}).get("source")) for r in evidence.of(OVERVIEW, ok=True)}
        overviewed = overview is not None and bool(claims.citations) and all(
            c.get("source") in summarised for c in claims.citations)
        abstained = (
            not claims.text
            or (not verdict.answerable and not computed and not overviewed)
            or (not claims.citations and not computed)
        )
        final = _final(refusal if abstained else claims.text, [] if abstained else claims.citations, abstained,
                       checked, claims, verdict.similarity)
        final["overview"] = overviewed and not abstained  # a follow-up "what about the blog?" asks for another
        return {"final": final, "history": _turn(state, final["answer"])}

    def outside_scope(self, state: AgentState, scope: str | None) -> dict[str, Any]:
        """The answer to a question about other documents than the run's scope: which, and how to ask them."""
        titles = dict(self.deps.toolbox.titles())
        text = OUTSIDE_SCOPE.format(scope=titles.get(scope or "") or scope,
                                    others=" and ".join(f"“{titles.get(s) or s}” ({s})" for s in state["outside"]))
        final = {**_final(text, [], True, GuardResult(text), None, None), "outside": list(state["outside"])}
        return {"final": final, "history": _turn(state, text)}


def _named_for_overview(question: str, titles: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The documents a question about a whole document names: by id as written
    ("qmsum-val-12"), else by words of their title, where a phrase has more than overview and
    document words ("give me a summary" names no document called a summary)."""
    by_id = [(sid, [sid]) for sid in ids_written(question, titles)]  # "choir-notes", not "talk" or "gpt-4"
    if by_id:
        return by_id
    words = re.compile(r"[\w'’-]+")
    return [(sid, phrases) for sid, phrases in named_sources(question, titles)
            if any(not all(is_overview_word(w) for w in words.findall(p)) for p in phrases)]


def _overview_in_thread(question: str, scope: str | None, named: list[Any], last: dict[str, Any] | None) -> bool:
    """Whether a follow-up in a thread asks about a whole document: saying which kind ("summarize
    the meeting"), right after kb asked which one, or inside one document unless it points back at
    the last answer ("tell me more about that"). "Give me an overview"
    unscoped may be of the thread's topic; "what about the blog?" asks the last question again,
    so it is an overview only after an overview, and of the document it names."""
    asked_which = (last or {}).get("answer") == WHICH_DOCUMENT
    if carries_over(question):
        return bool(named) and (bool((last or {}).get("overview")) or asked_which)
    return names_a_kind(question) or asked_which or (bool(scope) and not points_back(question))


def _first_overview(state: AgentState) -> dict[str, Any] | None:
    """The record of the overview the turn began with (agent.overview), if it began with one: a
    model's own later call for a topic question does not make the question one about the whole."""
    return next((r for r in state.get("tool_calls", []) if r.get("retrieve_first") and r.get("name") == OVERVIEW), None)


def _evidence(state: AgentState) -> Evidence:
    return Evidence.from_state(state.get("evidence", []))


def _tool_message(call_id: str, result: ToolResult) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": tool_content(result)}


def _add_usage(state: AgentState, reply: ModelReply) -> dict[str, int]:
    usage = dict(state.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0})
    usage["prompt_tokens"] += reply.prompt_tokens
    usage["completion_tokens"] += reply.completion_tokens
    return usage


def _after_retrieve(state: AgentState) -> str:
    return "finalize" if state.get("outside") else "model"


def _route(state: AgentState) -> str:
    last = state["messages"][-1]
    return "tools" if last.get("tool_calls") else "finalize"


def build_graph(deps: Deps) -> Any:
    from langgraph.graph import END, START, StateGraph

    nodes = Nodes(deps)
    g = StateGraph(AgentState)
    g.add_node("retrieve", nodes.retrieve)
    g.add_node("model", nodes.call_model)
    g.add_node("tools", nodes.run_tools)
    g.add_node("finalize", nodes.finalize)
    g.add_edge(START, "retrieve")
    g.add_conditional_edges("retrieve", _after_retrieve, {"model": "model", "finalize": "finalize"})
    g.add_conditional_edges("model", _route, {"tools": "tools", "finalize": "finalize"})
    g.add_edge("tools", "model")
    g.add_edge("finalize", END)
    return g.compile(checkpointer=deps.checkpointer)
