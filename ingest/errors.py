"""The one error type ingestion raises for a bad file: it names the file and the reason."""

from __future__ import annotations

from pathlib import Path


class IngestError(Exception):
    """A file that cannot be ingested. `str()` gives `path: reason`."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
