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
    """Paragraphs: blank-line separated blocks. Inside a block, hard-wrapped lines (short, not ending
    a sentence) are folded together; otherwise each line is a paragraph (line-per-paragraph files)."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line.strip())
        elif blocks[-1]:
            blocks.append([])
    out: list[str] = []
    for lines in blocks:
        if not lines:
            continue
        wrapped = all(len(ln) <= 100 and not ln.endswith(_ENDS_SENTENCE) for ln in lines[:-1])
        if len(lines) > 1 and not wrapped:
            out.extend(lines)
        else:
            out.append(" ".join(lines))
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
