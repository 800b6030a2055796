"""A fake OpenAI Chat Completions server over real HTTP on 127.0.0.1, driven by a script.

    with FakeOpenAI([tool_call("search", {"q": "gpus"}), reply("42 [00:10]")]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        assert server.calls == 2 and server.requests[1]["messages"][-1]["role"] == "tool"

Each `POST /v1/chat/completions` consumes the next step of the script (or asks a callable
`script(request_json, call_index) -> Step`). Steps: `reply(text)`, `tool_call(name, args)`,
`tool_calls(...)` (several at once), `error(status)`. With `"stream": true` the answer is sent
as Server-Sent Events in OpenAI's chunk format (text and tool arguments split over several
deltas, a usage chunk when `stream_options.include_usage` is set, then `data: [DONE]`).
A script that runs out answers 500 with `x-should-retry: false`, so the client fails at once
with a message that says so. `lookup_model(mode)` is a script that behaves like the models people
run: it answers from the search results in the conversation with the sentence that shares most words
with the question (or states the figure of a calculation result it was given, citing the sentences
listed in its `from`), and in mode `tools` (calls tools when it has no results), `no_tools` (ignores
the `tools` field), `reject_tools` (answers 400 to a request with `tools`, like servers without
function calling) or `no_markers` (writes the answer without citation markers). `GET /v1/models` lists a few models. Token usage is a
deterministic estimate (characters / 4), not a real tokenizer.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer

__all__ = [
    "Error",
    "FakeOpenAI",
    "Reply",
    "Script",
    "Step",
    "ToolCall",
    "error",
    "lookup_model",
    "reply",
    "tool_call",
    "tool_calls",
]

# Retry quickly: the openai client honours `retry-after-ms` (a plain `Retry-After: 0` is ignored
# by openai 3.x, which then backs off 0.5 s, 1 s, ...).
FAST_RETRY_HEADERS: dict[str, str] = {"retry-after-ms": "1", "retry-after": "0"}
MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")


@dataclass(frozen=True)
class ToolCall:
    """One function call the fake model asks for; `arguments` is the raw JSON string sent."""

    name: str
    arguments: str
    id: str


@dataclass(frozen=True)
class Reply:
    """An assistant message: text, tool calls, or both."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None  # default: "tool_calls" if any tool call, else "stop"
    delay: float = 0.0  # seconds to wait before answering

    @property
    def finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


@dataclass(frozen=True)
class Error:
    """An HTTP error answer (e.g. 429, 500) with an OpenAI-shaped JSON body."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Step = Reply | Error
Script = Sequence[Step] | Callable[[dict[str, Any], int], Step]

_call_ids = itertools.count(1)


def _new_call_id() -> str:
    return f"call_fake{next(_call_ids):04d}"


def _as_call(name: str, arguments: dict[str, Any] | str, id: str | None = None) -> ToolCall:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(name=name, arguments=raw, id=id or _new_call_id())


def reply(text: str, *, finish_reason: str | None = None, delay: float = 0.0) -> Reply:
    """An assistant text answer (finish_reason "stop" unless given, e.g. "length")."""
    return Reply(text=text, finish_reason=finish_reason, delay=delay)


def tool_call(
    name: str,
    arguments: dict[str, Any] | str,
    id: str | None = None,
    *,
    text: str | None = None,
    delay: float = 0.0,
) -> Reply:
    """One tool call; a `str` `arguments` is sent verbatim (so it may be malformed JSON)."""
    return Reply(text=text, tool_calls=(_as_call(name, arguments, id),), delay=delay)


def tool_calls(
    *calls: ToolCall | tuple[str, dict[str, Any] | str] | tuple[str, dict[str, Any] | str, str],
    text: str | None = None,
    delay: float = 0.0,
) -> Reply:
    """Several parallel tool calls: each a `ToolCall` or a `(name, arguments[, id])` tuple."""
    built = tuple(c if isinstance(c, ToolCall) else _as_call(*c) for c in calls)
    if not built:
        raise ValueError("tool_calls() needs at least one call")
    return Reply(text=text, tool_calls=built, delay=delay)


def error(
    status: int,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    *,
    delay: float = 0.0,
) -> Error:
    """An HTTP error; headers default to `FAST_RETRY_HEADERS` so client retries are instant."""
    return Error(
        status=status,
        body=body,
        headers=dict(FAST_RETRY_HEADERS if headers is None else headers),
        delay=delay,
    )


def _error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kinds = {
        400: ("invalid_request_error", None),
        401: ("invalid_request_error", "invalid_api_key"),
        404: ("invalid_request_error", "not_found"),
        429: ("requests", "rate_limit_exceeded"),
    }
    kind, code = kinds.get(status, ("server_error", None))
    return {
        "error": {
            "message": message or f"Fake OpenAI error {status}",
            "type": kind,
            "param": None,
            "code": code,
        }
    }


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def _split_text(text: str) -> list[str]:
    """Word-sized pieces (leading whitespace kept), like a model's token deltas."""
    return re.findall(r"\s*\S+|\s+", text) or ([text] if text else [])


def _split_fixed(text: str, size: int = 6) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class FakeOpenAI(LoopbackServer):
    """Context manager running the fake server in a daemon thread on a random free port."""

    def __init__(self, script: Script, *, model: str | None = None) -> None:
        self._script = script
        self._model = model
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []

    # -- lifecycle --------------------------------------------------------------------------

    # -- inspection -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.url("/v1")

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of every chat-completions request so far (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self._requests)

    # -- scripting --------------------------------------------------------------------------

    def _next_step(self, body: dict[str, Any]) -> Step:
        with self._lock:
            index = len(self._requests)
            self._requests.append(body)
        if callable(self._script):
            try:
                return self._script(body, index)
            except Exception:  # noqa: BLE001 - surfaced to the client as a clear 500
                message = "FakeOpenAI: script callable raised:\n" + traceback.format_exc()
                return Error(500, _error_body(500, message), {"x-should-retry": "false"})
        if index >= len(self._script):
            message = (
                f"FakeOpenAI: script exhausted: request #{index + 1} but only {len(self._script)} step(s) were scripted"
            )
            return Error(500, _error_body(500, message), {"x-should-retry": "false"})
        return self._script[index]

    def _model_for(self, body: dict[str, Any]) -> str:
        return self._model or str(body.get("model") or "gpt-4o-mini")


def _usage(body: dict[str, Any], step: Reply) -> dict[str, int]:
    prompt = sum(_estimate_tokens(json.dumps(m.get("content"))) + 4 for m in body["messages"])
    completion = _estimate_tokens(step.text or "") + sum(
        _estimate_tokens(c.name + c.arguments) + 3 for c in step.tool_calls
    )
    completion = max(completion, 1)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _message(step: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.text, "refusal": None}
    if step.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in step.tool_calls
        ]
    return message


def _stream_chunks(
    step: Reply, *, completion_id: str, created: int, model: str, usage: dict[str, int] | None
) -> Iterator[dict[str, Any]]:
    """OpenAI `chat.completion.chunk` objects for one reply, in wire order."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            out["usage"] = None
        return out

    first: dict[str, Any] = {"role": "assistant", "content": "" if step.text else None}
    yield chunk(first)
    for piece in _split_text(step.text or ""):
        yield chunk({"content": piece})
    for index, call in enumerate(step.tool_calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in _split_fixed(call.arguments):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, step.finish)
    if usage is not None:
        yield {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": usage,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    # -- helpers ----------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_fake_{time.monotonic_ns()}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._read_body()
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in MODELS]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_json(404, _error_body(404, f"FakeOpenAI: no route GET {self.path}"))

    def do_POST(self) -> None:
        raw = self._read_body()
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            self._send_json(404, _error_body(404, f"FakeOpenAI: no route POST {self.path}"))
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._send_json(400, _error_body(400, "FakeOpenAI: request body is not JSON"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            msg = "FakeOpenAI: body must be an object with a 'messages' list"
            self._send_json(400, _error_body(400, msg), {"x-should-retry": "false"})
            return

        step = self.fake._next_step(body)
        if step.delay:
            time.sleep(step.delay)
        if isinstance(step, Error):
            self._send_json(step.status, step.body or _error_body(step.status), step.headers)
            return

        completion_id = f"chatcmpl-fake{self.fake.calls:04d}"
        created = int(time.time())
        model = self.fake._model_for(body)
        usage = _usage(body, step)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = _stream_chunks(
                step,
                completion_id=completion_id,
                created=created,
                model=model,
                usage=usage if include_usage else None,
            )
            self._send_stream(chunks)
            return
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": _message(step),
                        "logprobs": None,
                        "finish_reason": step.finish,
                    }
                ],
                "usage": usage,
            },
        )

    def _send_stream(self, chunks: Iterator[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = (f"data: {json.dumps(c)}\n\n" for c in chunks)
        for event in itertools.chain(events, ["data: [DONE]\n\n"]):
            data = event.encode()
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


FakeOpenAI.handler = _Handler


# -- models that answer from what they are given ------------------------------------------------

LOOKUP_MODES = ("tools", "no_tools", "reject_tools", "no_markers")
_RESULTS = re.compile(r"\{\s*\"note\"")
_CALCULATION = re.compile(r"\{\s*\"expression\"")


def _words(text: str) -> set[str]:
    from kb.tokens import tokenize

    return set(tokenize(text))


def _results(content: str, opening: re.Pattern[str]) -> Iterator[dict[str, Any]]:
    """Each JSON object of a message's content that starts where `opening` matches (a message may
    carry several: a server without tools gets every result merged into one user message)."""
    decoder = json.JSONDecoder()
    for hit in opening.finditer(content):
        try:
            payload, _ = decoder.raw_decode(content, hit.start())
        except ValueError:
            continue
        if isinstance(payload, dict):
            yield payload


def _content(m: dict[str, Any]) -> str:
    return m["content"] if isinstance(m.get("content"), str) else ""


def _passages_in(messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """(the question, every "[handle] text" line of the search results in the conversation), whether
    results came as tool messages or inside a user message (several results in one message too)."""
    question, lines = "", []
    for m in messages:
        content = _content(m)
        if m.get("role") == "user":
            first = _RESULTS.search(content)
            question = (content[: first.start()] if first else content).split("\n\nSearch results")[0].strip() or question
        if m.get("role") in ("tool", "user"):
            lines += [line for payload in _results(content, _RESULTS) for p in payload.get("passages", [])
                      for line in p.get("sentences", [])]
    return question, lines


def _calculation_in(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last calculation result in the conversation (a tool message, or inside a user message)."""
    found = [payload for m in messages if m.get("role") in ("tool", "user") for payload in _results(_content(m), _CALCULATION)]
    return found[-1] if found and found[-1].get("text") else None


def lookup_model(mode: str = "tools", delay: float = 0.0) -> Callable[[dict[str, Any], int], Step]:
    """A script (see module docstring) answering a lookup from the passages it was given."""
    from agent.prompts import NOT_IN_KB

    if mode not in LOOKUP_MODES:
        raise ValueError(f"mode must be one of {LOOKUP_MODES}")

    def script(body: dict[str, Any], index: int) -> Step:
        if mode == "reject_tools" and "tools" in body:
            return error(400, _error_body(400, "tools are not supported by this model"), {"x-should-retry": "false"})
        question, lines = _passages_in(body["messages"])
        calc = _calculation_in(body["messages"])
        if calc is not None:  # a figure it was given: stated, with the sentences it came from
            quoted = [line.partition("] ") for line in calc.get("from", [])]
            if mode == "no_markers":
                said = " ".join(f"The speaker says that {t[0].lower()}{t[1:]}" for _, _, t in quoted)
                return reply(f"It comes to {calc['text']}. {said}".strip(), delay=delay)
            cites = " ".join(f"{t.rstrip('.')} {h}]." for h, _, t in quoted)
            return reply(f"It comes to **{calc['text']}**, computed as `{calc['expression']}`. {cites}".strip(), delay=delay)
        asked = _words(question)
        scored = [(len(asked & _words(line)), line) for line in lines]
        best = max(scored, default=(0, ""), key=lambda x: x[0])
        if best[0] < 2:
            if mode == "tools" and body.get("tools"):
                return tool_call("search_knowledge_base", {"query": question}, delay=delay)
            return reply(NOT_IN_KB, delay=delay)
        handle, _, text = best[1].partition("] ")
        if mode == "no_markers":
            return reply(f"The speaker says that {text[0].lower()}{text[1:]}", delay=delay)
        return reply(f"{text.rstrip('.')} {handle}].", delay=delay)

    return script
