"""The agent's tools: `search_knowledge_base` (the spine's hybrid search, returning passages with
citation handles), `document_overview` (a document's key moments, for a question about the whole
of it) and `calculate` (unit-aware arithmetic). Both backends call them through the
same `Toolbox`, whose results (`agent.models.ToolResult`) are data: `agent.render` turns them into
the text a model reads, and each gives the answer's `tool_calls` record.

Each tool is declared once, as a pydantic model of its arguments (its docstring is the tool's
description, its fields the parameters): the JSON schema sent to a model (`TOOL_SCHEMAS`), the
dispatch in `Toolbox.run` and the validation of what a model sent all come from `TOOLS`. A bad call
(malformed JSON, an unknown tool, a missing or ill-typed argument, `k` out of range) comes back to
the model as a tool error, never as an exception.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from agent.models import ToolResult
from agent.render import passage_text
from kb.retrieval import Retriever
from kb.safety import INJECTION, looks_like_instruction  # noqa: F401  (re-exported for the agent)
from kb.settings import Settings
from kb.types import Passage

SEARCH = "search_knowledge_base"
CALCULATE = "calculate"
OVERVIEW = "document_overview"
MAX_K = 10  # the most passages one search returns
MAX_OVERVIEWS = 8  # documents' overviews a toolbox keeps
NEEDS_DOCUMENT = "which document?"  # how an overview asked of no document begins its error


class SearchArgs(BaseModel):
    """Hybrid (semantic + keyword) search over the transcripts. Returns passages whose sentences
    carry citation handles such as [10:31] or [doc-id ¶3]."""

    model_config = ConfigDict(extra="ignore")
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(description="what to look for")
    k: int | None = Field(None, ge=1, le=MAX_K, description=f"number of passages (1-{MAX_K})")
    source: str | None = Field(None, description="only this document id (optional)")


class OverviewArgs(BaseModel):
    """A document's key moments, for a question about the whole of it ("what is this episode
    about?", "summarize the meeting"): its most central sentences, the TL;DR ones (`lead`) first,
    then the others in order, with citation handles."""

    model_config = ConfigDict(extra="ignore")
    source: str | None = Field(None, description=(
        "the document id (may be left out when the knowledge base holds one document)"))


class CalculateArgs(BaseModel):
    """Unit-aware arithmetic, e.g. '70e9 USD/GW / (0.5e6 GPU/GW)' or '400e3 token / 500 ms' with
    to='token/s'. Units: USD, GPU, token, person, W/kW/MW/GW/TW, s/ms/h, %."""

    model_config = ConfigDict(extra="ignore")
    expression: str
    to: str | None = Field(None, description="unit for the result (optional)")


@dataclass(frozen=True)
class Tool:
    """A tool: its arguments' model and the Toolbox method that runs it (arguments, scope)."""

    args: type[BaseModel]
    run: Callable[..., ToolResult]


def function_schema(name: str, args: type[BaseModel]) -> dict[str, Any]:
    """The Chat Completions `tools` entry of a tool, from its arguments' model: pydantic's JSON
    schema without titles, an optional field given as its own type, the docstring on one line."""
    schema = args.model_json_schema()
    properties = {}
    for field_name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if len(options) == 1:
            prop = {**options[0], **prop}
        if prop.get("default", "") is None:
            prop.pop("default")
        prop.pop("title", None)
        properties[field_name] = prop
    parameters = {"type": "object", "properties": properties, "required": schema.get("required", [])}
    return {"type": "function", "function": {"name": name, "description": " ".join(schema.get("description", "").split()),
                                             "parameters": parameters}}


class Toolbox:
    """The tools over one retriever. `counter` (tokens of text) packs a search result into the
    context budget; `focus` (query, passages -> the positions of the sentences to show, agent.focus)
    narrows what a model reads of each passage. Both only matter to a model that reads text.
    `embed` (texts -> vectors; the agent's sentence encoder, which reads the vectors ingest stored)
    embeds a document's sentences for its overview; without it the retriever's model does."""

    def __init__(self, retriever: Retriever, settings: Settings, counter: Any = None, mode: str = "hybrid",
                 focus: Callable[[str, Sequence[Passage]], tuple[tuple[int, ...], ...]] | None = None,
                 embed: Callable[[Sequence[str]], Any] | None = None) -> None:
        self.retriever = retriever
        self.settings = settings
        self.counter = counter
        self.mode = mode
        self.focus = focus
        self.embed = embed
        self._titles: tuple[str, list[tuple[str, str]]] | None = None
        self._overviews: dict[tuple[str, str], Any] = {}
        self._overview_lock = threading.Lock()

    def titles(self) -> list[tuple[str, str]]:
        """(id, title) of each document of the knowledge base, read again only when the collection
        has changed; empty where the retriever has no store (a peer of the evals)."""
        store = getattr(self.retriever, "store", None)
        if store is None or not store.exists():
            return []
        fp = store.fingerprint()
        if self._titles is None or self._titles[0] != fp:
            from kb.catalogue import listed

            self._titles = (fp, [(info.source, info.title) for info in listed(store)])
        return self._titles[1]

    def run(self, name: str, raw_arguments: str, scope: str | None = None) -> ToolResult:
        """Run one tool call as a model sent it; `scope` (a source id) confines every search to that
        document, whatever `source` the model asked for."""
        try:
            arguments = json.loads(raw_arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return ToolResult(name, raw_arguments, error=f"invalid arguments: {exc}")
        tool = TOOLS.get(name)
        if tool is None:
            return ToolResult(name, arguments, error=f"unknown tool {name!r}")
        try:
            args = tool.args.model_validate(arguments)
        except ValidationError as exc:
            return ToolResult(name, arguments, error=f"invalid arguments: {_problems(exc)}")
        try:
            return tool.run(self, args, arguments, scope)
        except (TypeError, ValueError, ArithmeticError) as exc:  # reported to the model, which may try again
            return ToolResult(name, arguments, error=f"{type(exc).__name__}: {exc}" if isinstance(exc, ArithmeticError) else str(exc))

    def search(self, args: SearchArgs, arguments: dict[str, Any], scope: str | None = None) -> ToolResult:
        """The passages for the query that fit the context budget (only those count as retrieved:
        they are what the model sees and may cite)."""
        if scope:
            arguments = {**arguments, "source": scope}  # the run's scope wins over what the model asked for
        k = args.k if args.k is not None else min(self.settings.retrieval.top_k, MAX_K)
        passages = self.retriever.search(args.query, k=k, source=scope or args.source or None, mode=self.mode)
        shown = self.focus(args.query, passages) if self.focus is not None else None
        if self.counter is not None:
            from agent.budget import pack

            texts = [passage_text(p, shown[i] if shown is not None else None) for i, p in enumerate(passages)]
            kept = pack(texts, self.settings.agent.context_token_budget, self.counter)
            passages = [passages[i] for i in kept]
            shown = tuple(shown[i] for i in kept) if shown is not None else None
        return ToolResult(SEARCH, arguments, passages=tuple(passages), shown=shown)

    def overview(self, args: OverviewArgs, arguments: dict[str, Any], scope: str | None = None) -> ToolResult:
        """The key moments of one document (agent.overview): the run's scope, the one asked for, or
        the knowledge base's only document; kept while the collection is unchanged (one built at a
        time: parallel questions about one document wait for it rather than build it twice)."""
        from agent.overview import key_moments
        from agent.prompts import OVERVIEW_NOTE
        from kb.store import Store

        store = getattr(self.retriever, "store", None)
        if not isinstance(store, Store):  # a peer of the evals keeps no stored documents
            raise ValueError("this retriever keeps no stored documents to give an overview of")
        source = scope or args.source or self._only_document()
        key = (source, store.fingerprint())
        with self._overview_lock:
            if key not in self._overviews:
                if len(self._overviews) >= MAX_OVERVIEWS:
                    self._overviews.pop(next(iter(self._overviews)))
                self._overviews[key] = key_moments(store, source, self.embed or self.retriever.embedder.embed)
            ov = self._overviews[key]
        return ToolResult(OVERVIEW, {**arguments, "source": source}, passages=ov.passages,
                          output={"note": OVERVIEW_NOTE, "title": ov.title, "lead": ov.lead})

    def _only_document(self) -> str:
        ids = [sid for sid, _ in self.titles()]
        if len(ids) != 1:
            shown = ", ".join(ids[:8]) + (", …" if len(ids) > 8 else "")
            raise ValueError(f"{NEEDS_DOCUMENT} `source` is needed: one of {shown or '(none stored)'}")
        return ids[0]

    def calculate(self, args: CalculateArgs, arguments: dict[str, Any], scope: str | None = None) -> ToolResult:
        from agent.calculator import CalcError, calculate

        try:
            result = calculate(args.expression, to=args.to or None)
        except CalcError as exc:
            return ToolResult(CALCULATE, arguments, error=str(exc))
        out = {"expression": result.expression, "value": result.value, "unit": result.unit, "text": result.text}
        return ToolResult(CALCULATE, arguments, output=out)


def _problems(exc: ValidationError) -> str:
    """A validation error in one line: `k: Input should be less than or equal to 10; …`."""
    return "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors())


TOOLS: dict[str, Tool] = {SEARCH: Tool(SearchArgs, Toolbox.search), OVERVIEW: Tool(OverviewArgs, Toolbox.overview),
                          CALCULATE: Tool(CalculateArgs, Toolbox.calculate)}
TOOL_SCHEMAS: list[dict[str, Any]] = [function_schema(name, tool.args) for name, tool in TOOLS.items()]
