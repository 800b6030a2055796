"""Timestamps: parse `mm:ss` / `h:mm:ss` labels to seconds, format seconds back to labels, and
find them in text — the one place that knows what a timestamp looks like.

Hours have any number of digits (`[100:00:00]` is 100 hours); without hours, minutes may exceed
59 (`[75:10]`); a fraction of a second follows a `.` or `,` (`01:02.5`, SRT's `00:01:02,500`).
`split_stamp` finds a `[label]` prefix on a transcript line, in one pass. For text: `TIME_PATTERN`
(regex source of a label, for patterns built on it such as citation markers), `CLOCK` (a label
standing alone in running text), `STAMP` (a bracketed label), `find_stamps` (the seconds of every
bracketed label) and `bracket_line_stamps` ("00:12 text" lines -> "[00:12] text").
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"^(?:(\d+):(\d{1,2})|(\d+)):(\d{2})(?:[.,](\d+))?$")
# "[" digits ":" digit ... "]" at the start of a line: a line that means to carry a timestamp.
_PREFIX = re.compile(r"\s*\[(\d+:\d[^\]\n]{0,14})\]")

# A label in running text: "10:31", "1:02:03", "100:00:00", "01:02.5". A comma fraction must not
# run into another label ("[10:31,44:00]" is two).
TIME_PATTERN = r"\d+:\d{2}(?::\d{2})?(?:[.,]\d+(?![\d:]))?"
CLOCK = re.compile(rf"(?<![\d:]){TIME_PATTERN}(?![\d:])")
STAMP = re.compile(rf"\[\s*({TIME_PATTERN})\s*\]")
_LINE_START = re.compile(rf"^({TIME_PATTERN})\s+", re.MULTILINE)


class TimecodeError(ValueError):
    """A timestamp label that does not parse."""


def parse_timecode(label: str) -> float:
    """`"10:31"` -> 631.0, `"1:02:03"` -> 3723.0, `"100:00:00"` -> 360000.0; TimecodeError otherwise."""
    m = _LABEL.match(label.strip().strip("[]"))
    if not m:
        raise TimecodeError(f"not a timestamp: {label!r} (expected mm:ss or h:mm:ss)")
    hours, minutes_after_hours, minutes_alone, seconds, frac = m.groups()
    minutes = minutes_after_hours if hours is not None else minutes_alone
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise TimecodeError(f"not a timestamp: {label!r} (minutes/seconds must be below 60)")
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if frac:
        value += float("0." + frac)
    return float(value)


def split_stamp(line: str) -> tuple[str, str] | None:
    """`"[1:02:03] text"` -> `("1:02:03", "text")`: the label of a line's timestamp prefix and the
    rest, or None when the line does not start with one. The label may still fail
    `parse_timecode` (`[12:75]`): the line meant a timestamp, and the caller reports it."""
    m = _PREFIX.match(line)
    if not m:
        return None
    return m.group(1), line[m.end():].lstrip()


def format_timecode(seconds: float) -> str:
    """631 -> `"10:31"`, 3723 -> `"1:02:03"` (whole seconds, rounded down)."""
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def find_stamps(text: str) -> list[float]:
    """The seconds of every bracketed timestamp in `text` that parses, in order: `"[00:05] a [1:00] b"`
    -> [5.0, 60.0]."""
    out = []
    for m in STAMP.finditer(text):
        try:
            out.append(parse_timecode(m.group(1)))
        except TimecodeError:
            continue
    return out


def bracket_line_stamps(text: str) -> str:
    """Lines that start with a bare timestamp get brackets: `"00:12 text"` -> `"[00:12] text"`."""
    return _LINE_START.sub(r"[\1] ", text)
