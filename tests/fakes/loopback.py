"""The lifecycle the fake servers share: a ThreadingHTTPServer on 127.0.0.1 (random port) in a
daemon thread, used as a context manager."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Subclasses set `handler` (a BaseHTTPRequestHandler class); handlers reach the fake as `self.fake`."""

    handler: type[BaseHTTPRequestHandler]
    _httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("_Handler", (self.handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def url(self, path: str) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running (use it as a context manager)")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"
