"""The checked fetcher against a real HTTP server on 127.0.0.1: schemes, redirects, size, retries."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ingest.fetch import FetchError, fetch
from kb.settings import Settings
from tests.fakes.podcast_host import PodcastHost

pytestmark = pytest.mark.slow


@pytest.fixture
def host() -> Iterator[PodcastHost]:
    with PodcastHost() as h:
        yield h


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, fetch_timeout_s=5, fetch_max_bytes=1000, fetch_retries=2)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.srt", "/etc/passwd", "http:///nohost"])
def test_only_http_urls_are_fetched(url: str, settings: Settings) -> None:
    with pytest.raises(FetchError) as err:
        fetch(url, settings)
    assert err.value.url == url and ("only http and https" in err.value.reason or "no host" in err.value.reason)


def test_redirects_are_followed_and_checked(host: PodcastHost, settings: Settings) -> None:
    final = host.serve("/final.txt", "hello")
    host.redirect("/one", "/final.txt")
    got = fetch(host.url("/one"), settings)
    assert got.content == b"hello" and got.url == final and got.content_type == "text/plain"

    for n in range(7):  # a chain of 7 redirects is more than 5
        host.redirect(f"/hop{n}", f"/hop{n + 1}")
    host.serve("/hop7", "too far")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(host.url("/hop0"), settings)

    host.redirect("/sneaky", "file:///etc/passwd")
    with pytest.raises(FetchError) as err:
        fetch(host.url("/sneaky"), settings)
    assert err.value.url == "file:///etc/passwd" and "only http and https" in err.value.reason


def test_http_errors_and_size_limit(host: PodcastHost, settings: Settings) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(host.url("/missing"), settings)
    host.serve("/big", b"x" * 5000)
    with pytest.raises(FetchError, match="too large: 5,000 bytes"):
        fetch(host.url("/big"), settings)
    host.serve("/streamed", b"y" * 1500, headers={"Content-Length": "-"})  # no length: read until the limit
    with pytest.raises(FetchError, match="more than 1,000 bytes"):
        fetch(host.url("/streamed"), settings)


def test_retries_on_429_and_5xx_then_gives_up(host: PodcastHost, settings: Settings) -> None:
    host.serve("/busy", "slow down", status=503)
    with pytest.raises(FetchError, match="HTTP 503"):
        fetch(host.url("/busy"), settings, backoff_s=0)
    assert host.hits.count("/busy") == 3  # the first try and 2 retries

    host.serve("/limited", "later", status=429, headers={"Retry-After": "0"})
    with pytest.raises(FetchError, match="HTTP 429"):
        fetch(host.url("/limited"), settings, backoff_s=0)
    assert host.hits.count("/limited") == 3


def test_unreachable_host_is_one_error(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(FetchError) as err:
        fetch(f"http://127.0.0.1:{port}/feed.xml", settings)
    assert "cannot connect" in err.value.reason
