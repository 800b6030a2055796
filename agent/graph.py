"""The agent as a LangGraph `StateGraph`: model -> tools -> model ... -> finalize.

`build_graph(deps)` wires a chat model, a toolbox and a checkpointer that the caller provides (the
tests inject fakes); nothing is created at import time. The loop is bounded by
`max_tool_rounds`; when it is hit, the model is asked once more, without tools, to answer from
what it has. `finalize` applies the citation guard and the abstention rule.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from agent.abstention import assess
from agent.citations import guard
from agent.evidence import SentenceEncoder
from agent.models import ChatModel, ModelReply
from agent.prompts import FINAL_ROUND_PROMPT, NOT_IN_KB, SYSTEM_PROMPT
from agent.tools import TOOL_SCHEMAS, Toolbox, looks_like_instruction
from kb.types import Passage


class AgentState(TypedDict, total=False):
    history: Annotated[list[dict[str, Any]], operator.add]  # earlier turns: user questions and final answers
    question: str
    messages: list[dict[str, Any]]  # this turn's model/tool exchange
    passages: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    rounds: int
    usage: dict[str, int]
    final: dict[str, Any]


@dataclass
class Deps:
    chat: ChatModel
    toolbox: Toolbox
    max_tool_rounds: int = 4
    max_history_turns: int = 6
    abstain_threshold: float = 0.42
    min_coverage: float = 0.22
    encoder: Any = None  # agent.evidence.SentenceEncoder over the index's embedding model
    checkpointer: Any = None
    on_token: Callable[[str], None] | None = None
    on_event: Callable[[str, dict[str, Any]], None] | None = None


def _passages(state: AgentState) -> list[Passage]:
    return [Passage.from_state(p) for p in state.get("passages", [])]


def evidence_items(passages: list[Passage]) -> list[dict[str, Any]]:
    """The sentences of this turn's passages, in the form the abstention policy reads."""
    return [{"text": s.text, "passage": i, "pos": j} for i, p in enumerate(passages) for j, s in enumerate(p.sentences)]


def _searched_query(state: AgentState) -> str | None:
    """A follow-up's standalone form (a search query that extends the question with its topic), if any."""
    question = state.get("question", "").strip()
    for r in state.get("tool_calls", []):
        if r.get("name") == "search_knowledge_base" and isinstance(r.get("arguments"), dict):
            query = str(r["arguments"].get("query") or "")
            if question and query.startswith(question) and query != question:
                return query
    return None


def _normal(text: str) -> str:
    return re.sub(r"[\s.!\"'*]+", " ", text).strip().lower()


def states_a_figure(text: str, results: list[dict[str, Any]]) -> bool:
    """Whether the answer states a figure the calculate tool computed (then it may stand without a
    passage to cite: the inputs were the question's). A calculation the answer ignores counts for nothing."""
    flat = text.replace(",", "").lower()
    for r in results:
        value = float(r.get("value", 0))
        phrase = re.search(r"\d[\d,.]*(?:\s*(?:thousand|million|billion|trillion))?", r.get("text", ""))
        forms = {f"{value:.0f}", f"{value:g}"} | ({phrase.group(0).replace(",", "").lower()} if phrase else set())
        if r.get("text", "").lower() in text.lower() or any(f and re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", flat) for f in forms):
            return True
    return False


def build_graph(deps: Deps) -> Any:
    from langgraph.graph import END, START, StateGraph

    if deps.encoder is None:
        deps.encoder = SentenceEncoder(getattr(deps.toolbox.retriever, "embedder", None))

    def model_messages(state: AgentState, final_round: bool = False) -> list[dict[str, Any]]:
        msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
        recent = state.get("history", [])[-2 * deps.max_history_turns :] if deps.max_history_turns else []
        msgs += [{"role": m["role"], "content": m["content"]} for m in recent]
        msgs.append({"role": "user", "content": state["question"]})
        msgs += state.get("messages", [])
        if final_round:
            msgs.append({"role": "user", "content": FINAL_ROUND_PROMPT})
        return msgs

    def add_usage(state: AgentState, reply: ModelReply) -> dict[str, int]:
        usage = dict(state.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0})
        usage["prompt_tokens"] += reply.prompt_tokens
        usage["completion_tokens"] += reply.completion_tokens
        return usage

    def call_model(state: AgentState) -> dict[str, Any]:
        rounds = state.get("rounds", 0)
        final_round = rounds >= deps.max_tool_rounds
        if deps.on_event:
            deps.on_event("thinking", {"round": rounds})
        reply = deps.chat.complete(model_messages(state, final_round), None if final_round else TOOL_SCHEMAS, deps.on_token)
        if final_round and reply.tool_calls:
            reply = ModelReply(content=reply.content or "", prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)
        return {"messages": state.get("messages", []) + [reply.to_message()], "usage": add_usage(state, reply)}

    def route(state: AgentState) -> str:
        last = state["messages"][-1]
        return "tools" if last.get("tool_calls") else "finalize"

    def run_tools(state: AgentState) -> dict[str, Any]:
        last = state["messages"][-1]
        new_msgs = list(state["messages"])
        passages = list(state.get("passages", []))
        records = list(state.get("tool_calls", []))
        for call in last["tool_calls"]:
            name, raw = call["function"]["name"], call["function"]["arguments"]
            if deps.on_event:
                deps.on_event("tool", {"name": name, "arguments": raw})
            outcome = deps.toolbox.run(name, raw)
            records.append(outcome.record)
            known = {p["chunk_id"] for p in passages}
            passages += [p.to_state() for p in outcome.passages if p.chunk_id not in known]
            new_msgs.append({"role": "tool", "tool_call_id": call["id"], "content": outcome.content})
        return {"messages": new_msgs, "passages": passages, "tool_calls": records, "rounds": state.get("rounds", 0) + 1}

    def finalize(state: AgentState) -> dict[str, Any]:
        text = (state["messages"][-1].get("content") or "").strip() if state.get("messages") else ""
        passages = _passages(state)
        checked = guard(text, passages)
        computed = states_a_figure(checked.text, [r["result"] for r in state.get("tool_calls", [])
                                                  if r["name"] == "calculate" and "error" not in r["result"]])
        verdict = assess(state["question"], evidence_items(passages), deps.encoder, deps.abstain_threshold,
                         deps.min_coverage, looks_like_instruction, _searched_query(state))
        relevance = verdict.similarity
        abstained = (
            not checked.text
            or _normal(checked.text) == _normal(NOT_IN_KB)
            or (not verdict.answerable and not computed)
            or (not checked.citations and not computed)
        )
        final = {
            "answer": NOT_IN_KB if abstained else checked.text,
            "citations": [] if abstained else checked.citations,
            "abstained": abstained,
            "citations_corrected": checked.corrected,
            "citations_dropped": checked.dropped,
            "relevance": relevance,
        }
        turn = [{"role": "user", "content": state["question"]}, {"role": "assistant", "content": final["answer"]}]
        return {"final": final, "history": turn}

    g = StateGraph(AgentState)
    g.add_node("model", call_model)
    g.add_node("tools", run_tools)
    g.add_node("finalize", finalize)
    g.add_edge(START, "model")
    g.add_conditional_edges("model", route, {"tools": "tools", "finalize": "finalize"})
    g.add_edge("tools", "model")
    g.add_edge("finalize", END)
    return g.compile(checkpointer=deps.checkpointer)
