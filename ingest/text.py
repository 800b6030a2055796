"""Plain `.txt` and Markdown `.md` documents without timestamps.

Paragraphs are separated by blank lines (or are single lines in line-per-paragraph files). Each
sentence carries a locator `¶N` (its paragraph number), which is what a citation shows instead of
a time. A `# Title` first line gives the title.
"""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import humanize_stem, source_id
from ingest.reflow import split_sentences
from kb.links import find_video_url
from kb.types import Document, Sentence

_ENDS_SENTENCE = (".", "?", "!", ":", '"', "”", ")")


def paragraphs(text: str) -> list[str]:
    """Paragraphs: a line joins the one before it unless that one ends a sentence (so hard-wrapped
    prose is folded and line-per-paragraph files keep their lines); blank lines and Markdown
    headings always end a paragraph, and a heading is a paragraph of its own."""
    out: list[str] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # a blank line or a Markdown heading ends a paragraph
            if current:
                out.append(" ".join(current))
                current = []
            if line:
                out.append(line)
            continue
        if current and current[-1].endswith(_ENDS_SENTENCE):
            out.append(" ".join(current))
            current = []
        current.append(line)
    if current:
        out.append(" ".join(current))
    return out


def parse_plain(path: Path, text: str) -> Document:
    blocks = paragraphs(text)
    title = None
    if blocks and blocks[0].startswith("# "):
        title = blocks.pop(0).lstrip("#").strip()
    url = find_video_url(text)
    sentences: list[Sentence] = []
    for n, block in enumerate(blocks, start=1):
        block = block.lstrip("#").strip()
        for s in split_sentences(block):
            sentences.append(Sentence(text=s, locator=f"¶{n}"))
    return Document(
        source=source_id(path),
        title=title or humanize_stem(path.stem),
        path=str(path),
        sentences=tuple(sentences),
        url=url,
        kind="text",
    )
