"""Small timestamped transcripts written for a test: one `.txt` per document, a sentence every 10 s."""

from __future__ import annotations

from pathlib import Path


def write_transcripts(folder: Path, docs: dict[str, list[str]]) -> Path:
    """`folder/<stem>.txt` for each document (titled by its stem), its sentences at 00:00, 00:10, …"""
    folder.mkdir()
    for stem, sentences in docs.items():
        body = "\n".join(f"[00:{10 * i:02d}] {s}" for i, s in enumerate(sentences))
        (folder / f"{stem}.txt").write_text(f"# {stem}\n{body}\n")
    return folder
