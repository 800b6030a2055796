"""SubRip (`.srt`, via the `srt` library) and WebVTT (`.vtt`, via `webvtt-py`) subtitle files.

Cues become caption fragments and are re-flowed into sentences like any transcript. A video URL
in a WebVTT `NOTE` (or an SRT cue) links citations to the video.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from ingest.errors import IngestError
from ingest.loaders import humanize_stem, source_id
from ingest.reflow import Fragment, reflow
from kb.links import find_video_url
from kb.types import Document

_MARKUP = re.compile(r"</?(?:i|b|u|font)\b[^>]*>|\{\\[^}]*\}", re.IGNORECASE)  # <i>, <font color=..>, {\an8}


def _fragments_in_order(path: Path, cues: list[tuple[float, str, int]]) -> list[Fragment]:
    fragments: list[Fragment] = []
    prev = None
    for start, text, number in cues:
        if prev is not None and start < prev:
            raise IngestError(path, f"cue {number}: start time {start:g} s goes backwards (previous cue at {prev:g} s)")
        prev = start
        for line in (t for t in text.splitlines() if t.strip()):
            line = line.strip()
            new_speaker = line.startswith(("-", ">>"))
            line = line.lstrip("->").strip()
            if line:
                fragments.append(Fragment(start, line, new_speaker))
    return fragments


def parse_srt(path: Path, text: str) -> Document:
    import srt

    try:
        subs = list(srt.parse(text))
    except (srt.SRTParseError, ValueError) as exc:
        raise IngestError(path, f"not a valid SubRip file: {exc}") from None
    cues = [(s.start.total_seconds(), _MARKUP.sub("", s.content), s.index) for s in subs]
    url = next((u for u in (find_video_url(c) for _, c, _ in cues) if u), None)
    cues = [(t, c, n) for t, c, n in cues if find_video_url(c) != c.strip()]
    return _document(path, cues, url, "srt")


def parse_vtt(path: Path, text: str) -> Document:
    import webvtt
    from webvtt.errors import MalformedFileError

    try:
        captions = webvtt.from_buffer(io.StringIO(text)).captions
    except (MalformedFileError, ValueError) as exc:
        raise IngestError(path, f"not a valid WebVTT file: {exc}") from None
    cues = [(c.start_in_seconds + c.start_time.milliseconds / 1000, c.text, i) for i, c in enumerate(captions, 1)]
    url = find_video_url(text.split("\n\n", 2)[0]) or find_video_url(text)
    return _document(path, cues, url, "vtt")


def _document(path: Path, cues: list[tuple[float, str, int]], url: str | None, kind: str) -> Document:
    fragments = _fragments_in_order(path, cues)
    return Document(
        source=source_id(path),
        title=humanize_stem(path.stem),
        path=str(path),
        sentences=tuple(reflow(fragments)),
        url=url,
        kind=kind,
    )
