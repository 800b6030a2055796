"""What the agent needs of a chat model, whichever backend provides it, and what it gives one:
the conversation as messages (text, rendered once by `agent.render`) and this turn's `Evidence`,
the same tool results as data (the passages with their sentences, the figures computed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kb.types import Passage

TokenCallback = Callable[[str], None]


class AnswerCancelled(Exception):
    """Raised by an interface's progress callback to stop an answer between steps (Ctrl-C); the
    turn is then not added to the conversation."""


class ModelUnavailable(RuntimeError):
    """The model service failed and stayed down after retries; the message says where and why."""


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text, as the model sent it (may be malformed)


@dataclass
class ModelReply:
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return msg


@dataclass(frozen=True)
class ToolResult:
    """What one tool call gave, as data. `passages`: what a search found, whole (the model may be
    shown only some of their sentences, `shown`);
    `output`: the tool's JSON result otherwise (a calculation's expression, value, unit, text), or
    beside passages what else a tool says of them (an overview's title and lead moments);
    `error`: why the call failed (the model may try again). `arguments` are as the call was run
    (a model's search for a bare follow-up gets the thread's topic: agent.graph).
    `shown` is not kept in the checkpoint: it only shapes the text of this call's tool message."""

    name: str
    arguments: Any
    passages: tuple[Passage, ...] = ()
    output: Any = None
    error: str | None = None
    shown: tuple[tuple[int, ...], ...] | None = None  # per passage, the sentences the model reads (agent.focus); None: all

    def record(self) -> dict[str, Any]:
        """The call as the answer's `tool_calls` lists it (a search: where each passage is cited)."""
        if self.error is not None:
            result: Any = {"error": self.error}
        elif not self.passages:
            result = self.output
        else:
            cited = [{"source": p.source, "at": p.at, "score": round(p.score, 4)} for p in self.passages]
            result = cited if self.output is None else {**self.output, "passages": cited}
        return {"name": self.name, "arguments": self.arguments, "result": result}

    def to_state(self) -> dict[str, Any]:
        """Plain data for the checkpoint; `ToolResult.from_state` reverses it."""
        return {"name": self.name, "arguments": self.arguments, "passages": [p.to_state() for p in self.passages],
                "output": self.output, "error": self.error}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> ToolResult:
        return cls(d["name"], d.get("arguments"), tuple(Passage.from_state(p) for p in d.get("passages", ())),
                   d.get("output"), d.get("error"))


@dataclass(frozen=True)
class Evidence:
    """This turn's tool results in call order: everything the model has been given so far."""

    results: tuple[ToolResult, ...] = ()

    def of(self, name: str, ok: bool = False) -> list[ToolResult]:
        """The results of one tool (`ok`: only the calls that succeeded)."""
        return [r for r in self.results if r.name == name and not (ok and r.error is not None)]

    def passages(self) -> list[Passage]:
        """Every passage of the turn once (a chunk found twice keeps the first search's view of it)."""
        seen: set[str] = set()
        out = []
        for r in self.results:
            for p in r.passages:
                if p.chunk_id not in seen:
                    seen.add(p.chunk_id)
                    out.append(p)
        return out

    @classmethod
    def from_state(cls, items: Sequence[dict[str, Any]]) -> Evidence:
        return cls(tuple(ToolResult.from_state(d) for d in items))


class ChatModel(Protocol):
    """A chat model. `backend` says which kind (the answer reports it; only "openai" counts tokens
    and cost). `evidence` carries the same tool results as the messages' text, as data: a backend
    that reads text (OpenAI) ignores it; the offline one reads only it."""

    name: str
    backend: Literal["offline", "openai"]

    def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None,
        on_token: TokenCallback | None = None, evidence: Evidence | None = None,
    ) -> ModelReply: ...
