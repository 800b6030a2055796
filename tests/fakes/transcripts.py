"""Small timestamped transcripts written for a test: one `.txt` per document, a sentence every 10 s,
and the same ingested in small chunks (several per document) for retrieval tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_transcripts(folder: Path, docs: dict[str, list[str]]) -> Path:
    """`folder/<stem>.txt` for each document (titled by its stem), its sentences at 00:00, 00:10, …"""
    folder.mkdir()
    for stem, sentences in docs.items():
        body = "\n".join(f"[00:{10 * i:02d}] {s}" for i, s in enumerate(sentences))
        (folder / f"{stem}.txt").write_text(f"# {stem}\n{body}\n")
    return folder


def indexed_transcripts(settings: Any, folder: Path, docs: dict[str, list[str]], **changes: object) -> Any:
    """`docs` written under `folder` and ingested with 32-token chunks and no overlap (and `changes`
    to the settings); the settings used."""
    from ingest.pipeline import ingest

    small = settings.with_(chunk_tokens=32, chunk_overlap_tokens=0, **changes)
    ingest([write_transcripts(folder, docs)], settings=small, progress=False)
    return small
