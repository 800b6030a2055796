"""A fake podcast host on 127.0.0.1: serves whatever `routes` holds ({path: (status, headers, body)})
and records every request path in `hits`, so tests can change a feed between syncs."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


class _Handler(BaseHTTPRequestHandler):
    fake: Any

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.fake.hits.append(self.path)
        status, headers, body = self.fake.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"not found"))
        self.send_response(status)
        for key, value in headers.items():
            if value != "-":  # "-": leave the header out
                self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class PodcastHost(LoopbackServer):
    handler = _Handler

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: list[str] = []

    def serve(self, path: str, body: bytes | str, content_type: str = "text/plain", status: int = 200,
              headers: dict[str, str] | None = None) -> str:
        """Serve `body` at `path`; returns its full URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = (status, {"Content-Type": content_type, **(headers or {})}, data)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = (status, {"Location": location}, b"")
        return self.url(path)
