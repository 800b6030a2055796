"""Access control for `kb mcp --http`: a static bearer token and the rule about where to listen.

`BearerTokenMiddleware` wraps the MCP server's ASGI app: with a token configured, every HTTP
request must carry `Authorization: Bearer <token>` (compared in constant time), otherwise it gets
401 with a `WWW-Authenticate: Bearer` header and a one-line JSON reason. `check_bind` refuses to
listen on anything but a loopback address without a token.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

Scope = dict[str, Any]
ASGIApp = Any


class BindRefused(ValueError):
    """Listening on a non-loopback address without a token; the message says what to do."""


def is_loopback(host: str) -> bool:
    """Whether `host` is only reachable from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Raise BindRefused when `host` is reachable from other machines and no token is set."""
    if not token and not is_loopback(host):
        raise BindRefused(
            f"refusing to serve MCP on {host} without a token: anyone who can reach it could query the "
            "knowledge base. Set KB_MCP_TOKEN (or --token), or listen on 127.0.0.1 behind a proxy that authenticates"
        )


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class BearerTokenMiddleware:
    """ASGI middleware: HTTP requests without the right bearer token are answered 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("BearerTokenMiddleware needs a non-empty token")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":  # lifespan events pass through
            await self.app(scope, receive, send)
            return
        given = bearer_token(scope)
        if given is None:
            await _unauthorized(send, "missing Authorization: Bearer <token> header")
        elif not hmac.compare_digest(given.encode(), self._token):
            await _unauthorized(send, "wrong bearer token")
        else:
            await self.app(scope, receive, send)


async def _unauthorized(send: Any, reason: str) -> None:
    body = json.dumps({"error": "invalid_token", "error_description": reason}).encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b'Bearer error="invalid_token"'),
    ]})
    await send({"type": "http.response.body", "body": body})
