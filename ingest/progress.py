"""Progress of an ingest: a bar on a terminal, a line every few seconds elsewhere (CI logs, nohup).

One `Progress` shows one phase at a time (`checking` files by bytes, then `embedding` chunks),
with counts, a rate and an ETA, and a detail such as the file being chunked. A background thread
keeps the display moving while one long step (parsing a 50 MB file) runs. Lines mode prints
nothing for an ingest that is over before its first interval, so short runs stay quiet.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

MODES = ("bar", "lines", "off")
LINE_INTERVAL_S = 5.0  # seconds between two progress lines off a terminal


def pick_mode(progress: bool | str | None, stream: TextIO) -> str:
    """None: a bar on a terminal, lines otherwise; False: off; True: a bar; or a mode by name."""
    if progress is None:
        return "bar" if _isatty(stream) else "lines"
    if progress is True:
        return "bar"
    if progress is False:
        return "off"
    if progress not in MODES:
        raise ValueError(f"unknown progress mode {progress!r} (one of {', '.join(MODES)})")
    return str(progress)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def human_count(n: float, unit: str) -> str:
    if unit == "B":
        for step, name in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")):
            if n >= step:
                return f"{n / step:.1f} {name}"
        return f"{int(n)} B"
    return f"{int(n):,} {unit}"


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """Counts for the current phase, drawn as a tqdm bar or printed as periodic lines."""

    def __init__(self, mode: str = "off", stream: TextIO | None = None, interval: float | None = None,
                 clock: Any = time.monotonic) -> None:
        self.mode = mode
        self.stream = stream or sys.stderr
        self.interval = LINE_INTERVAL_S if interval is None else interval
        self._clock = clock
        self._lock = threading.Lock()
        self._bar: Any = None
        self._phase = ""
        self._unit = ""
        self._total: float | None = None
        self._done = 0.0
        self._detail = ""
        self._started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if mode != "off":
            self._thread = threading.Thread(target=self._tick, name="kb-ingest-progress", daemon=True)
            self._thread.start()

    # --- what the pipeline reports -------------------------------------------------------------
    def phase(self, name: str, total: float | None, unit: str) -> None:
        """Start a phase (closing the previous one): `name` counts `unit`s up to `total` (None: unknown)."""
        with self._lock:
            self._close_bar()
            self._phase, self._unit, self._total, self._done, self._detail = name, unit, total, 0.0, ""
            self._started = self._clock()
            if self.mode == "bar":
                from tqdm import tqdm

                scale = unit == "B"
                self._bar = tqdm(total=total, desc=name, unit=unit, unit_scale=scale, unit_divisor=1024 if scale else 1000,
                                 file=self.stream, leave=False, dynamic_ncols=True, mininterval=0.5)

    def update(self, n: float = 1) -> None:
        with self._lock:
            self._done += n
            if self._bar is not None:
                self._bar.update(n)

    def set_total(self, total: float | None) -> None:
        """A better estimate of the phase's total (e.g. once another file has been chunked)."""
        with self._lock:
            self._total = total
            if self._bar is not None:
                self._bar.total = total
                self._bar.refresh()

    def detail(self, text: str) -> None:
        """What is happening now, shown beside the counts ("chunking talk.txt")."""
        with self._lock:
            self._detail = text
            if self._bar is not None:
                self._bar.set_postfix_str(text[:60], refresh=True)

    @contextlib.contextmanager
    def outside(self) -> Iterator[None]:
        """Print something (a per-file status line) without breaking the bar."""
        if self._bar is None:
            yield
            return
        from tqdm import tqdm

        with tqdm.external_write_mode(file=self.stream):
            yield

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._close_bar()

    # --- drawing -------------------------------------------------------------------------------
    def line(self) -> str:
        """The progress line lines mode prints, e.g. `embedding: 1,200/63,817 chunks (2%), 24.1 chunks/s, ETA 43m12s`."""
        with self._lock:
            elapsed = max(self._clock() - self._started, 1e-9)
            done, total, unit = self._done, self._total, self._unit
            if total:
                first = human_count(done, unit) if unit == "B" else f"{int(done):,}"
                text = f"{self._phase}: {first}/{human_count(total, unit)} ({min(done / total, 1.0):.0%})"
            else:
                text = f"{self._phase}: {human_count(done, unit)}"
            rate = done / elapsed
            if done:
                text += f", {human_count(rate, unit) if unit == 'B' else f'{rate:.1f} {unit}'}/s"
                if total and total > done:
                    text += f", ETA {human_duration((total - done) / rate)}"
            text += f", {human_duration(elapsed)} elapsed"
            if self._detail:
                text += f" · {self._detail}"
            return text

    def _tick(self) -> None:
        step = self.interval if self.mode == "lines" else 1.0
        while not self._stop.wait(step):
            if not self._phase:
                continue
            if self.mode == "lines":
                print(f"kb ingest: {self.line()}", file=self.stream, flush=True)
            else:
                with self._lock:
                    if self._bar is not None:
                        self._bar.refresh()  # keeps the elapsed time moving during one long step

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
