"""Timestamps: parse `mm:ss` / `h:mm:ss` labels to seconds and format seconds back to labels."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d+))?$")


class TimecodeError(ValueError):
    """A timestamp label that does not parse."""


def parse_timecode(label: str) -> float:
    """`"10:31"` -> 631.0, `"1:02:03"` -> 3723.0; raises TimecodeError on anything else."""
    m = _LABEL.match(label.strip().strip("[]"))
    if not m:
        raise TimecodeError(f"not a timestamp: {label!r} (expected mm:ss or h:mm:ss)")
    hours, minutes, seconds, frac = m.groups()
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise TimecodeError(f"not a timestamp: {label!r} (minutes/seconds must be below 60)")
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if frac:
        value += float("0." + frac)
    return float(value)


def format_timecode(seconds: float) -> str:
    """631 -> `"10:31"`, 3723 -> `"1:02:03"` (whole seconds, rounded down)."""
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
