"""`answer()`: the one function every interface (CLI, REPL, Slack, evals) calls.

It runs the graph for one question in a conversation thread (persisted with LangGraph's SQLite
checkpointer under KB_HOME) and returns a structured `Answer`. `source` scopes the question to one
document: every search of the turn stays inside it, so its citations and abstention do too.
One `Agent` answers questions from many threads at once: what belongs to one run (scope, progress
callbacks) travels in that run's LangGraph config, and the checkpoint database is in WAL mode.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from agent.graph import Deps, build_graph
from agent.models import ChatModel
from kb.errors import UnknownSource
from kb.retrieval import Retriever
from kb.settings import Settings
from kb.store import Store


@dataclass
class Answer:
    answer: str
    citations: list[dict[str, Any]]
    retrieved: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    abstained: bool
    usage: dict[str, Any]
    latency_s: float
    backend: str
    thread_id: str
    citations_corrected: int = 0
    citations_dropped: int = 0
    claims_attributed: int = 0  # claims without a (valid) marker that got the citation of a supporting sentence
    claims_unsupported: int = 0  # claims dropped because no sentence of this turn's passages supports them
    source: str | None = None  # the document the question was scoped to, if any
    question: str = ""
    passages: list[Any] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("passages")
        return d


class Agent:
    """A compiled graph with its model, tools and thread store; reuse it across questions."""

    def __init__(self, settings: Settings | None = None, chat: ChatModel | None = None, store: Store | None = None,
                 retriever: Retriever | None = None, checkpointer: Any = None, retrieval_mode: str = "hybrid") -> None:
        from agent.backends import make_chat_model
        from agent.evidence import SentenceEncoder
        from agent.tools import Toolbox
        from kb.vector_cache import for_settings

        self.settings = settings or Settings.from_env()
        self.retriever = retriever or Retriever(self.settings, store=store)
        # one encoder (and its cache of sentence embeddings) for the offline model and the guard's
        # attribution; term weights from the index where the retriever has them (not the naive peer)
        encoder = SentenceEncoder(self.retriever.embedder, for_settings(self.settings, self.retriever.embedder))
        idf = getattr(self.retriever, "idf", None)
        self.chat = chat or make_chat_model(self.settings, idf=idf, encoder=encoder,
                                           titles=lambda: self.toolbox.titles())
        counter = None
        if self.backend == "openai":
            from agent.budget import get_counter

            counter = get_counter(self.settings.agent.model, load_timeout=self.settings.agent.tokenizer_timeout_s)
        focus = None
        if self.backend == "openai" and self.settings.agent.passage_view == "focused":
            from agent.focus import focus as focus_on

            focus = partial(focus_on, encoder=encoder, idf=idf)
        semantic = encoder.embedder is not None  # the tests' hashing stand-in knows no meaning: embed directly
        self.toolbox = Toolbox(self.retriever, self.settings, counter, mode=retrieval_mode, focus=focus,
                               embed=encoder.vectors if semantic else None)
        if checkpointer is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            checkpointer = SqliteSaver(threads_connection(self.settings))  # the saver locks around its cursor
        self.checkpointer = checkpointer
        self.deps = Deps(chat=self.chat, toolbox=self.toolbox, max_tool_rounds=self.settings.agent.max_tool_rounds,
                         max_history_turns=self.settings.agent.max_history_turns,
                         abstain_threshold=self.settings.agent.abstain_threshold, min_coverage=self.settings.agent.min_coverage,
                         encoder=encoder, checkpointer=checkpointer,
                         top_k=self.settings.retrieval.top_k, attribution_threshold=self.settings.agent.attribution_threshold,
                         compute_first=self.backend == "openai", idf=idf)
        self.graph = build_graph(self.deps)
        self._sources: set[str] = set()

    @property
    def backend(self) -> str:
        """"offline" or "openai", as the chat model declares it."""
        return self.chat.backend

    def check_source(self, source: str) -> None:
        """Raise UnknownSource when no document of the index has this id."""
        if source in self._sources:
            return
        if not self.retriever.store.stored(source).chunk_hashes:
            raise UnknownSource(f"no document {source!r} in the index (`kb sources` lists them)")
        self._sources.add(source)

    def warm(self) -> None:
        """Load what a first answer would otherwise wait for: the embedding model, the BM25 index (when
        the index holds anything) and the calculator's units (pint: about 0.35 s). Servers and the
        chat call it at start, in the background; evals before timing."""
        self.retriever.embedder.embed(["warm up"])
        lexical = getattr(self.retriever, "lexical", None)  # the naive peer has no BM25
        if lexical is not None and self.retriever.store.count():
            lexical()
        from agent.figures import plan

        plan("How many watts do 2 kW heaters draw?")

    def ask(self, question: str, thread_id: str | None = None, on_token: Callable[[str], None] | None = None,
            on_event: Callable[[str, dict[str, Any]], None] | None = None, source: str | None = None) -> Answer:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        thread_id = thread_id or uuid.uuid4().hex[:12]
        started = time.perf_counter()
        self.retriever.store.require_documents()  # an empty index is an error, not an abstention
        source = (source or "").strip() or None
        if source:
            self.check_source(source)
        run = {"thread_id": thread_id, "source": source, "on_token": on_token, "on_event": on_event}
        state = self.graph.invoke(
            {"question": question, "messages": [], "evidence": [], "tool_calls": [], "rounds": 0,
             "usage": {"prompt_tokens": 0, "completion_tokens": 0}},
            {"configurable": run, "recursion_limit": 4 * self.settings.agent.max_tool_rounds + 10},
            durability="exit",  # one checkpoint per turn, not one per step
        )
        from agent.models import Evidence

        final = state["final"]
        passages = Evidence.from_state(state.get("evidence", [])).passages()
        usage = dict(state.get("usage") or {})
        usage["cost_usd"] = cost_usd(self.settings, usage) if self.backend == "openai" else 0.0
        return Answer(
            answer=final["answer"], citations=final["citations"],
            retrieved=[{"source": p.source, "start_s": p.start_s, "end_s": p.end_s, "score": round(p.score, 6),
                        "at": p.at, "similarity": p.similarity} for p in passages],
            tool_calls=state.get("tool_calls", []), abstained=final["abstained"],
            usage={"prompt_tokens": usage.get("prompt_tokens", 0), "completion_tokens": usage.get("completion_tokens", 0),
                   "cost_usd": usage["cost_usd"]},
            latency_s=round(time.perf_counter() - started, 4), backend=self.backend, thread_id=thread_id,
            citations_corrected=final["citations_corrected"], citations_dropped=final["citations_dropped"],
            claims_attributed=final.get("claims_attributed", 0), claims_unsupported=final.get("claims_unsupported", 0),
            source=source, question=question, passages=passages,
        )

    def history(self, thread_id: str) -> list[dict[str, Any]]:
        snap = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return list((snap.values or {}).get("history", [])) if snap else []


def threads_connection(settings: Settings) -> sqlite3.Connection:
    """The conversation checkpoint database, shared by the threads of one process (WAL: readers do
    not block the writer; a busy database is waited for, not an error)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(settings.threads_path), check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def cost_usd(settings: Settings, usage: dict[str, Any]) -> float:
    price = settings.agent.prices.get(settings.agent.model)
    if not price:
        return 0.0
    return round(usage.get("prompt_tokens", 0) / 1e6 * price[0] + usage.get("completion_tokens", 0) / 1e6 * price[1], 6)


_AGENTS: dict[tuple[str, int, int], tuple[Agent, Any, Any]] = {}
_AGENTS_LOCK = threading.Lock()
AGENTS_KEPT = 4  # agents kept per process (a server answering from several indexes)


def get_agent(settings: Settings, store: Store | None = None, embedder: Any = None) -> Agent:
    """A process-wide agent per settings, store and embedder (the model, index and BM25 stay warm
    between questions); its searches embed with `embedder` when one is given. The store and
    embedder are kept with the agent, so their ids in the key are not reused while it lives."""
    key = (settings.cache_key(), id(store), id(embedder))  # repr hides secrets, and two keys are two agents
    with _AGENTS_LOCK:
        if key not in _AGENTS:
            while len(_AGENTS) >= AGENTS_KEPT:
                _AGENTS.pop(next(iter(_AGENTS)))
            retriever = Retriever(settings, store=store, embedder=embedder) if store is not None or embedder is not None else None
            _AGENTS[key] = (Agent(settings, retriever=retriever), store, embedder)
        return _AGENTS[key][0]


def answer(question: str, thread_id: str | None = None, settings: Settings | None = None, chat: ChatModel | None = None,
           store: Store | None = None, source: str | None = None, on_token: Callable[[str], None] | None = None,
           on_event: Callable[[str, dict[str, Any]], None] | None = None) -> Answer:
    """Answer one question (in `thread_id`'s conversation, or a new one) from the knowledge base, or
    from one document of it when `source` names one (UnknownSource when none has that id)."""
    settings = settings or Settings.from_env()
    agent = Agent(settings, chat=chat, store=store) if (chat is not None or store is not None) else get_agent(settings)
    return agent.ask(question, thread_id=thread_id, on_token=on_token, on_event=on_event, source=source)
