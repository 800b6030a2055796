"""The OpenAI Chat Completions backend; also any OpenAI-compatible server (Ollama, vLLM,
llama.cpp) through `OPENAI_BASE_URL`. Tool calling, streamed tokens, request timeouts, and the
client's own retries with back-off on 429 and 5xx; a service that stays down becomes one
`ModelUnavailable` with a clear message instead of a traceback.

`KB_MODEL_TOOLS` says whether the tool schemas are sent: `on` always, `off` never, `auto` (the
default) sends them and, when the server rejects the `tools` field, asks again without it and
remembers that for the process. Without tools, search results that reached the conversation as
tool messages are given to the model as user messages with the same quoted-data framing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from agent.models import Evidence, ModelReply, ModelUnavailable, TokenCallback, ToolCall
from agent.prompts import NO_TOOLS_SYSTEM_PROMPT, SEARCH_RESULTS_MESSAGE, SYSTEM_PROMPT
from kb.settings import Settings, reveal

log = logging.getLogger(__name__)
_NO_TOOLS: set[tuple[str, str]] = set()  # (base URL, model) of servers that rejected the tools field
_NO_TOOLS_LOCK = threading.Lock()


class OpenAIChat:
    """A Chat Completions model: it reads the conversation's text only (tool results as rendered by
    `agent.render`), so the `evidence` the graph passes along is not used here."""

    backend = "openai"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.name = settings.agent.model
        self._client = client

    @property
    def _key(self) -> tuple[str, str]:
        return (self._where, self.settings.agent.model)

    def sends_tools(self) -> bool:
        """Whether tool schemas go to this model (off, or auto after the server rejected them: no)."""
        if self.settings.agent.model_tools == "off":
            return False
        with _NO_TOOLS_LOCK:
            return self.settings.agent.model_tools == "on" or self._key not in _NO_TOOLS

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                api_key=reveal(self.settings.agent.openai_api_key) or "not-needed",
                base_url=self.settings.agent.openai_base_url or None,
                timeout=self.settings.agent.request_timeout_s,
                max_retries=self.settings.agent.max_retries,
            )
        return self._client

    def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None,
        on_token: TokenCallback | None = None, evidence: Evidence | None = None,
    ) -> ModelReply:
        import openai

        send = bool(tools) and self.sends_tools()
        try:
            return self._complete(messages, tools if send else None, on_token)
        except openai.APIStatusError as exc:
            if not (send and self.settings.agent.model_tools == "auto" and _rejects_tools(exc)):
                raise ModelUnavailable(f"the model service at {self._where} answered {exc.status_code}: {_short(exc)}") from None
            with _NO_TOOLS_LOCK:
                _NO_TOOLS.add(self._key)
            log.warning("the model service at %s rejected the tools field (%s %s); asking without tools from now on",
                        self._where, exc.status_code, _short(exc))
        try:
            return self._complete(messages, None, on_token)
        except openai.APIStatusError as exc:
            raise ModelUnavailable(f"the model service at {self._where} answered {exc.status_code}: {_short(exc)}") from None

    def _complete(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None,
                  on_token: TokenCallback | None) -> ModelReply:
        import openai

        plain = not self.sends_tools()
        kwargs: dict[str, Any] = {"model": self.settings.agent.model,
                                  "messages": without_tool_messages(messages) if plain else _wire(messages)}
        if tools:
            kwargs["tools"] = list(tools)
        try:
            if on_token is None:
                return _from_response(self.client.chat.completions.create(**kwargs))
            stream = self.client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs)
            try:
                return self._counted(_from_stream(stream, on_token), kwargs["messages"])
            finally:
                stream.close()  # also when the callback cancels the answer mid-stream
        except openai.APIConnectionError as exc:
            raise ModelUnavailable(f"cannot reach the model service at {self._where}: {_short(exc)}") from None

    def _counted(self, reply: ModelReply, messages: Sequence[dict[str, Any]]) -> ModelReply:
        """Usage for a stream whose server sends none (llama.cpp ignores `include_usage`): counted
        with the token counter (tiktoken, or its estimate) instead of reported as zero."""
        if reply.prompt_tokens or reply.completion_tokens:
            return reply
        from agent.budget import get_counter

        counter = get_counter(self.settings.agent.model, load_timeout=self.settings.agent.tokenizer_timeout_s)
        reply.prompt_tokens = sum(counter.count(str(m.get("content") or "")) + 4 for m in messages)
        reply.completion_tokens = counter.count(reply.content) + sum(counter.count(c.arguments) for c in reply.tool_calls)
        return reply

    @property
    def _where(self) -> str:
        return str(self.client.base_url).rstrip("/")


_TOOLS_TROUBLE = re.compile(r"tool|template|role|content|validation", re.IGNORECASE)


def _rejects_tools(exc: Any) -> bool:
    """A server that cannot take the `tools` field or tool messages answers 400/422, or fails with an
    error about tools, roles or its chat template (llama.cpp: "'dict object' has no attribute 'content'")."""
    return exc.status_code in (400, 422) or (exc.status_code >= 500 and bool(_TOOLS_TROUBLE.search(_short(exc))))


def _wire(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as every server takes them: an assistant tool call without text has empty `content`,
    not null (llama.cpp's server rejects a null, and its chat templates read `content` of every message)."""
    return [{**m, "content": ""} if m.get("tool_calls") and m.get("content") is None else dict(m) for m in messages]


def without_tool_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation for a model that takes no tools: tool results become user messages with the
    quoted-data framing, tool-call requests are left out, and the system prompt says passages come
    with the question instead of from a tool."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.get("role") == "system" and m.get("content") == SYSTEM_PROMPT:
            out.append({"role": "system", "content": NO_TOOLS_SYSTEM_PROMPT})
        elif m.get("role") == "tool":
            out.append({"role": "user", "content": SEARCH_RESULTS_MESSAGE.format(results=m.get("content") or "")})
        elif m.get("role") == "assistant" and m.get("tool_calls"):
            if m.get("content"):
                out.append({"role": "assistant", "content": m["content"]})
        else:
            out.append(dict(m))
    merged: list[dict[str, Any]] = []  # one user message per turn: some chat templates insist on alternation
    for m in out:
        if merged and m["role"] == "user" == merged[-1]["role"]:
            merged[-1] = {"role": "user", "content": f"{merged[-1]['content']}\n\n{m['content']}"}
        else:
            merged.append(m)
    return merged


def _short(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else str(err)
        if msg:
            return str(msg)[:200]
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _from_response(resp: Any) -> ModelReply:
    choice = resp.choices[0].message
    calls = [ToolCall(c.id, c.function.name, c.function.arguments or "") for c in (choice.tool_calls or [])]
    usage = resp.usage
    return ModelReply(
        content=choice.content or "", tool_calls=calls,
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0, completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
    )


def _from_stream(stream: Any, on_token: TokenCallback) -> ModelReply:
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    reply = ModelReply()
    for chunk in stream:
        if getattr(chunk, "usage", None):
            reply.prompt_tokens = chunk.usage.prompt_tokens or 0
            reply.completion_tokens = chunk.usage.completion_tokens or 0
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta.content:
                text.append(delta.content)
                on_token(delta.content)
            for tc in delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
    reply.content = "".join(text)
    reply.tool_calls = [ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"]) for i, c in sorted(calls.items())]
    return reply
