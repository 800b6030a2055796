"""The OpenAI Chat Completions backend; also any OpenAI-compatible server (Ollama, vLLM,
llama.cpp) through `OPENAI_BASE_URL`. Tool calling, streamed tokens, request timeouts, and the
client's own retries with back-off on 429 and 5xx; a service that stays down becomes one
`ModelUnavailable` with a clear message instead of a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.models import ModelReply, ModelUnavailable, TokenCallback, ToolCall
from kb.settings import Settings


class OpenAIChat:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.name = settings.model
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                api_key=self.settings.openai_api_key or "not-needed",
                base_url=self.settings.openai_base_url or None,
                timeout=self.settings.request_timeout_s,
                max_retries=self.settings.max_retries,
            )
        return self._client

    def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None,
        on_token: TokenCallback | None = None,
    ) -> ModelReply:
        import openai

        kwargs: dict[str, Any] = {"model": self.settings.model, "messages": list(messages)}
        if tools:
            kwargs["tools"] = list(tools)
        try:
            if on_token is None:
                return _from_response(self.client.chat.completions.create(**kwargs))
            stream = self.client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs)
            try:
                return _from_stream(stream, on_token)
            finally:
                stream.close()  # also when the callback cancels the answer mid-stream
        except openai.APIStatusError as exc:
            raise ModelUnavailable(f"the model service at {self._where} answered {exc.status_code}: {_short(exc)}") from None
        except openai.APIConnectionError as exc:
            raise ModelUnavailable(f"cannot reach the model service at {self._where}: {_short(exc)}") from None

    @property
    def _where(self) -> str:
        return str(self.client.base_url).rstrip("/")


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
