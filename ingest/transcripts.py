"""The timestamped transcript format of the corpus.

    # Title
    https://www.youtube.com/watch?v=ID
    [00:09] Hello everybody.
    [20:43] >> and the second speaker starts here

A `[mm:ss]` or `[h:mm:ss]` prefix per line (any number of hour digits: `[100:00:00]`), `>>` marks
a change of speaker, a `# Title` first line and a video URL line. Lines without a timestamp after
the first one continue the previous line. Parsing is one pass over the lines: continuation lines
are collected and joined once, never glued onto a growing string line by line.
"""

from __future__ import annotations

from pathlib import Path

from ingest.errors import IngestError
from ingest.loaders import humanize_stem, source_id
from ingest.reflow import Fragment, reflow
from kb.links import find_video_url
from kb.timecode import TimecodeError, parse_timecode, split_stamp
from kb.types import Document


def looks_like_transcript(text: str) -> bool:
    """True when at least a third of the non-empty lines (and at least 2) start with `[mm:ss]`."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    timed = sum(1 for ln in lines if split_stamp(ln) is not None)
    return timed >= 2 and timed * 3 >= len(lines)


class _Fragments:
    """The fragments read so far; the last one's text is kept in parts until the next one starts."""

    def __init__(self) -> None:
        self.done: list[Fragment] = []
        self._start: float = 0.0
        self._speaker = False
        self._parts: list[str] | None = None

    def __bool__(self) -> bool:
        return self._parts is not None or bool(self.done)

    def start(self, t: float, text: str, new_speaker: bool) -> None:
        self._close()
        self._start, self._speaker, self._parts = t, new_speaker, [text]

    def extend(self, text: str) -> None:
        assert self._parts is not None
        self._parts.append(text)

    def finish(self) -> list[Fragment]:
        self._close()
        return self.done

    def _close(self) -> None:
        if self._parts is not None:
            self.done.append(Fragment(self._start, " ".join(self._parts), self._speaker))
            self._parts = None


def parse_transcript(path: Path, text: str) -> Document:
    title: str | None = None
    url: str | None = None
    fragments = _Fragments()
    prev: tuple[float, int] | None = None
    pending: tuple[float, bool] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        stamp = split_stamp(line)
        if stamp is not None:
            label, body = stamp
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
                fragments.start(t, body, new_speaker)
            else:  # "[00:01]" alone: its text is on the next line
                pending = (t, new_speaker)
            continue
        if pending is not None:
            fragments.start(pending[0], line.lstrip(">").strip(), pending[1] or line.startswith(">>"))
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
        fragments.extend(line)
    sentences = tuple(reflow(fragments.finish()))
    return Document(
        source=source_id(path),
        title=title or humanize_stem(path.stem),
        path=str(path),
        sentences=sentences,
        url=url,
        kind="transcript",
    )
