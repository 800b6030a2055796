"""The timestamped transcript format of the corpus.

    # Title
    https://www.youtube.com/watch?v=ID
    [00:09] Hello everybody.
    [20:43] >> so the compute graph is now a lot more

A `[mm:ss]` or `[h:mm:ss]` prefix per line, `>>` marks a change of speaker, a `# Title` first line
and a video URL line. Lines without a timestamp after the first one continue the previous line.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.errors import IngestError
from ingest.loaders import humanize_stem, source_id
from ingest.reflow import Fragment, reflow
from kb.links import find_video_url
from kb.timecode import TimecodeError, parse_timecode
from kb.types import Document

_STAMP = re.compile(r"^\s*\[([^\]]{1,12})\]\s?(.*)$")
_LOOKS_TIMED = re.compile(r"^\s*\[\d{1,2}:\d")


def looks_like_transcript(text: str) -> bool:
    """True when at least a third of the non-empty lines (and at least 2) start with `[mm:ss]`."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    timed = sum(1 for ln in lines if _LOOKS_TIMED.match(ln))
    return timed >= 2 and timed * 3 >= len(lines)


def parse_transcript(path: Path, text: str) -> Document:
    title: str | None = None
    url: str | None = None
    fragments: list[Fragment] = []
    prev: tuple[float, int] | None = None
    pending: tuple[float, bool] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        m = _STAMP.match(line)
        if m and _LOOKS_TIMED.match(line):
            label, body = m.groups()
            try:
                t = parse_timecode(label)
            except TimecodeError as exc:
                raise IngestError(path, f"line {lineno}: {exc}") from None
            if prev is not None and t < prev[0]:
                raise IngestError(
                    path,
                    f"line {lineno}: timestamp [{label}] goes backwards "
                    f"(line {prev[1]} was at {prev[0]:g} s)",
                )
            prev = (t, lineno)
            body = body.strip()
            new_speaker = body.startswith(">>")
            body = body.lstrip(">").strip()
            if body:
                fragments.append(Fragment(t, body, new_speaker))
            else:  # "[00:01]" alone: its text is on the next line
                pending = (t, new_speaker)
            continue
        if pending is not None:
            fragments.append(Fragment(pending[0], line.lstrip(">").strip(), pending[1] or line.startswith(">>")))
            pending = None
            continue
        if not fragments:
            if line.startswith("#") and title is None:
                title = line.lstrip("#").strip()
            elif url is None and find_video_url(line):
                url = find_video_url(line)
            elif title is None:
                title = line
            continue
        last = fragments[-1]
        fragments[-1] = Fragment(last.start_s, f"{last.text} {line}", last.new_speaker)
    sentences = tuple(reflow(fragments))
    return Document(
        source=source_id(path),
        title=title or humanize_stem(path.stem),
        path=str(path),
        sentences=sentences,
        url=url,
        kind="transcript",
    )
