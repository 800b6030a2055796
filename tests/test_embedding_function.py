"""The project's embedding function is the one Chroma uses: our store always passes it, and it is
persisted in the collection's configuration, so a client that asks Chroma to use the stored
function (`embedding_function=None`) gets ours too. Chroma's own default (which downloads an ONNX
model) never runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import ingest
from kb.embeddings import KBEmbeddingFunction
from kb.settings import Settings
from kb.store import Store


def test_collection_uses_the_registered_kb_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import chromadb
    from chromadb.utils import embedding_functions

    def refuse(self: object, input: object) -> None:
        raise AssertionError("Chroma's default embedding function must never run")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", refuse)
    doc = tmp_path / "a.txt"
    doc.write_text("Power is the bottleneck. A gigawatt is half a million GPUs.\n")
    settings = Settings(home=tmp_path / "home", embedding_model="hashing")
    ingest([doc], settings=settings, progress=False)

    from chromadb.config import Settings as ChromaSettings

    other = chromadb.PersistentClient(path=str(settings.chroma_path), settings=ChromaSettings(anonymized_telemetry=False))
    assert isinstance(Store(settings).collection._embedding_function, KBEmbeddingFunction)
    col = other.get_collection(Store(settings).name, embedding_function=None)  # rebuilt from the stored config
    stored = col.configuration["embedding_function"]
    assert isinstance(stored, KBEmbeddingFunction) and stored.get_config() == {"model": "hashing", "device": "auto"}
    hits = col.query(query_texts=["gigawatt GPUs"], n_results=1)  # embeds the text with our function
    assert hits["documents"][0][0].startswith("Power is the bottleneck")
