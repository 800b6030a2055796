"""A fake Slack Web API over real HTTP on 127.0.0.1, for `slack_sdk.WebClient(base_url=...)`.

    with FakeSlack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="hi", thread_ts="1.000001")
        assert slack.wait_for("chat.postMessage", 1)[0]["text"] == "hi"

Answers `auth.test` as bot UBOT/BBOT in team T1; records `chat.postMessage` (fresh increasing
"ts"), `chat.update`, `chat.postEphemeral`, `reactions.add`/`reactions.remove`; serves
`conversations.replies` from the messages posted (or seeded with `add_message`) in that
thread; any other method answers `{"ok": true}`. Form-encoded, JSON and query-string params
are all accepted (slack_sdk uses each); form values stay strings except `blocks`,
`attachments` and `metadata`, which are JSON-decoded. `fail_next(method, error)` makes the
next call of a method answer `{"ok": false, "error": ...}`; `rate_limit_next(method, times)` makes
the next `times` calls answer HTTP 429 `ratelimited` with `Retry-After: 0`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.loopback import LoopbackServer

__all__ = ["BOT_ID", "BOT_USER_ID", "TEAM_ID", "FakeSlack"]

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
_JSON_FIELDS = ("blocks", "attachments", "metadata")


class FakeSlack(LoopbackServer):
    """Context manager running the fake Slack API in a daemon thread on a random free port."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._messages: list[dict[str, Any]] = []
        self._failures: dict[str, deque[str]] = defaultdict(deque)
        self._rate_limited: dict[str, int] = defaultdict(int)
        self._ts = itertools.count(1)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.url("/api/")

    # -- inspection and setup ---------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Params of every recorded call of `method` (all methods if None), oldest first."""
        with self._cond:
            return [dict(p) for m, p in self._calls if method is None or m == method]

    def methods(self) -> list[str]:
        """The method names called so far, in order."""
        with self._cond:
            return [m for m, _ in self._calls]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` calls of `method` arrived; return them, or raise AssertionError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [dict(p) for m, p in self._calls if m == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m for m, _ in self._calls]
                    raise AssertionError(
                        f"FakeSlack: waited {timeout}s for {count} {method} call(s), "
                        f"got {len(found)}; calls so far: {seen}"
                    )
                self._cond.wait(left)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U1",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Seed a (user) message so `conversations.replies` returns it; returns its ts."""
        msg: dict[str, Any] = {"type": "message", "user": user, "text": text}
        with self._cond:
            msg["ts"] = ts or self._new_ts()
            if thread_ts:
                msg["thread_ts"] = thread_ts
            self._messages.append({"channel": channel, **msg})
        return msg["ts"]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """All stored messages (posted or seeded), each with its `channel`."""
        with self._cond:
            return [dict(m) for m in self._messages if channel in (None, m["channel"])]

    def fail_next(self, method: str, error: str = "internal_error") -> None:
        """Make the next call of `method` answer `{"ok": false, "error": error}`."""
        with self._cond:
            self._failures[method].append(error)

    def rate_limit_next(self, method: str, times: int = 1) -> None:
        """Make the next `times` calls of `method` answer HTTP 429 (`Retry-After: 0`), as Slack does
        when a method's rate limit is hit; the calls are recorded all the same."""
        with self._cond:
            self._rate_limited[method] += times

    # -- request handling (called from server threads) --------------------------------------

    def _new_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._cond:
            self._calls.append((method, params))
            self._cond.notify_all()
            if self._rate_limited.get(method):
                self._rate_limited[method] -= 1
                return 429, {"ok": False, "error": "ratelimited"}
            if self._failures.get(method):
                return 200, {"ok": False, "error": self._failures[method].popleft()}
            return 200, self._answer(method, params)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "kb",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
        if method == "chat.postMessage":
            msg: dict[str, Any] = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": params.get("text", ""),
                "ts": self._new_ts(),
            }
            for key in ("thread_ts", "blocks"):
                if params.get(key):
                    msg[key] = params[key]
            self._messages.append({"channel": channel, **msg})
            return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}
        if method == "chat.update":
            for stored in self._messages:
                if stored["channel"] == channel and stored["ts"] == params.get("ts"):
                    stored["text"] = params.get("text", stored["text"])
                    if "blocks" in params:
                        stored["blocks"] = params["blocks"]
                    break
            else:
                return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": channel, "ts": params["ts"], "text": stored["text"]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._new_ts()}
        if method == "conversations.replies":
            root = str(params.get("ts", ""))
            thread = [
                {k: v for k, v in m.items() if k != "channel"}
                for m in self._messages
                if m["channel"] == channel and root in (m["ts"], m.get("thread_ts"))
            ]
            thread.sort(key=lambda m: float(m["ts"]))
            if not thread:
                return {"ok": False, "error": "thread_not_found"}
            return {"ok": True, "messages": thread, "has_more": False}
        return {"ok": True}


def _decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    params: dict[str, Any] = dict(pairs)
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass
    return params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeSlack  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not url.path.startswith("/api/"):
            self._send(404, {"ok": False, "error": "unknown_path"})
            return
        method = url.path[len("/api/") :].strip("/")
        params = _decode_form(parse_qsl(url.query, keep_blank_values=True))
        ctype = (self.headers.get("Content-Type") or "").lower()
        try:
            if raw and "json" in ctype:
                body = json.loads(raw)
                if isinstance(body, dict):
                    params.update(body)
            elif raw and "x-www-form-urlencoded" in ctype:
                pairs = parse_qsl(raw.decode(), keep_blank_values=True)
                params.update(_decode_form(pairs))
        except ValueError:
            self._send(200, {"ok": False, "error": "invalid_json"})
            return
        status, payload = self.fake._handle(method, params)
        self._send(status, payload)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _dispatch
    do_POST = _dispatch


FakeSlack.handler = _Handler
