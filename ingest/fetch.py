"""Download one URL safely: http/https only, timeouts, a size limit, at most 5 redirects, retries.

Every redirect target is checked like the first URL, so a feed cannot send kb to a local file or
any other scheme. 429 and 5xx answers are retried with exponential back-off (a `Retry-After` of a
few seconds is honoured). Every failure is a `FetchError` naming the URL and the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import httpx

from kb.settings import Settings

MAX_REDIRECTS = 5
_USER_AGENT = "kb/0.1 (+podcast transcripts)"


class FetchError(Exception):
    """A URL that could not be fetched. `str()` gives `url: reason`."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    url: str  # where the content came from, after redirects
    content: bytes
    content_type: str  # media type only, lower case, e.g. "application/x-subrip"


def check_url(url: str) -> None:
    """Raise FetchError unless `url` is an absolute http(s) URL with a host."""
    parts = urlparse(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(url, f"only http and https URLs are fetched, not {parts.scheme or 'a relative path'!r}")
    if not parts.hostname:
        raise FetchError(url, "no host in the URL")


def fetch(url: str, settings: Settings, client: httpx.Client | None = None, backoff_s: float = 0.5) -> Fetched:
    """GET `url` following up to 5 checked redirects; FetchError on any failure."""
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(settings.fetch.timeout_s), follow_redirects=False,
                                    headers={"User-Agent": _USER_AGENT})
    try:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current)
            status, location, fetched = _get(client, current, settings, backoff_s)
            if location is None:
                return fetched  # type: ignore[return-value]
            current = urljoin(current, location)
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")
    finally:
        if own:
            client.close()


def _get(client: httpx.Client, url: str, settings: Settings, backoff_s: float) -> tuple[int, str | None, Fetched | None]:
    """One URL with retries: (status, redirect location or None, content when not a redirect)."""
    for attempt in range(settings.fetch.retries + 1):
        try:
            with client.stream("GET", url) as resp:
                if resp.is_redirect:
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(url, f"HTTP {resp.status_code} redirect without a Location")
                    return resp.status_code, location, None
                if (resp.status_code == 429 or resp.status_code >= 500) and attempt < settings.fetch.retries:
                    time.sleep(_delay(resp, attempt, backoff_s))
                    continue
                if resp.status_code >= 400:
                    raise FetchError(url, f"HTTP {resp.status_code} {resp.reason_phrase}".strip())
                content = _read_limited(resp, url, settings.fetch.max_bytes)
                kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                return resp.status_code, None, Fetched(str(resp.url), content, kind)
        except httpx.TimeoutException:
            reason = f"no answer within {settings.fetch.timeout_s:g} s"
        except httpx.TransportError as exc:
            reason = f"cannot connect ({_first_line(exc)})"
        except httpx.HTTPError as exc:
            reason = _first_line(exc)
        raise FetchError(url, reason)
    raise FetchError(url, "gave up after retries")  # not reached: the last attempt raises or returns


def _delay(resp: httpx.Response, attempt: int, backoff_s: float) -> float:
    wait = backoff_s * (2**attempt)
    retry_after = resp.headers.get("retry-after", "")
    if retry_after.isdigit():
        wait = max(wait, min(float(retry_after), 10.0))
    return wait


def _read_limited(resp: httpx.Response, url: str, limit: int) -> bytes:
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(url, f"too large: {int(declared):,} bytes (limit KB_FETCH_MAX_BYTES={limit:,})")
    data = bytearray()
    for part in resp.iter_bytes():
        data += part
        if len(data) > limit:
            raise FetchError(url, f"too large: more than {limit:,} bytes (limit KB_FETCH_MAX_BYTES={limit:,})")
    return bytes(data)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
