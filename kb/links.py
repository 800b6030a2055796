"""Video links: recognise YouTube URLs and make ones that open at a given second."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "www.youtu.be"}
URL_RE = re.compile(r"https?://[^\s<>\"')\]]+")


def is_youtube(url: str) -> bool:
    return urlparse(url).netloc.lower() in _YOUTUBE_HOSTS


def find_video_url(text: str) -> str | None:
    """The first YouTube URL in `text`, else None."""
    for m in URL_RE.finditer(text):
        if is_youtube(m.group(0)):
            return m.group(0).rstrip(".,;")
    return None


def with_time(url: str, seconds: float) -> str:
    """`https://www.youtube.com/watch?v=ID` + 631 -> `...watch?v=ID&t=631`; other URLs get `#t=631`."""
    t = int(seconds)
    parts = urlparse(url)
    if parts.netloc.lower() in _YOUTUBE_HOSTS:
        query = {k: v[-1] for k, v in parse_qs(parts.query).items() if k != "t"}
        query["t"] = str(t)
        return urlunparse(parts._replace(query=urlencode(query)))
    return urlunparse(parts._replace(fragment=f"t={t}"))
