"""What the agent needs of a chat model, whichever backend provides it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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


class ChatModel(Protocol):
    name: str

    def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None,
        on_token: TokenCallback | None = None,
    ) -> ModelReply: ...
