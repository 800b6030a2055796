"""Sentence vectors kept at ingest for answer scoring (kb/vector_cache.py, kb/speakers.py): which
texts are embedded, that ingest stores them once, and that answer scoring reads them instead of
embedding again. The embedder here is the hashing stand-in told to count as a model of meaning, so
the cache is used; it counts what it is asked to embed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.evidence import SentenceEncoder
from ingest.pipeline import ingest
from kb.embeddings import HashingEmbedder
from kb.settings import Settings
from kb.speakers import document_texts, scored_texts
from kb.vector_cache import VectorCache, for_settings


class CountingEmbedder(HashingEmbedder):
    semantic = True

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.seen: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.seen += list(texts)
        return super().embed(texts)


def test_a_turns_later_sentences_are_embedded_with_its_speaker() -> None:
    texts, last = scored_texts(["Ada: The pump failed twice.", "We replaced the seal.", "Ben: Did that fix it?"])
    assert texts == ["Ada: The pump failed twice.", "Ada: We replaced the seal.", "Ben: Did that fix it?", "Did that fix it?"]
    assert last == "Ben"


def test_a_chunk_is_embedded_alone_and_after_the_chunk_before_it() -> None:
    texts = document_texts([["Ada: The pump failed twice."], ["We replaced the seal."]])
    assert texts == ["Ada: The pump failed twice.", "We replaced the seal.", "Ada: We replaced the seal."]


def test_the_cache_keeps_vectors_per_model_and_text(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite"
    cache = VectorCache(path, "model-a")
    assert cache.get(["anything"]) == {} and not path.exists()  # reading makes no file
    cache.put({"the pump failed": [0.5, 0.25]})
    assert cache.get(["the pump failed"])["the pump failed"].tolist() == [0.5, 0.25]
    assert cache.missing(["the pump failed", "the seal held"]) == ["the seal held"]
    assert VectorCache(path, "model-b").get(["the pump failed"]) == {}  # another model's vector is never used
    cache.mark_document("pumps", "v1")
    assert cache.has_document("pumps", "v1") and not cache.has_document("pumps", "v2")
    cache.mark_document("pumps", "v2")
    assert cache.has_document("pumps", "v2") and not cache.has_document("pumps", "v1")


def test_scoring_reads_stored_vectors_and_keeps_the_ones_it_embeds(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "v.sqlite", "m")
    model = CountingEmbedder()
    cache.put(dict(zip(["The pump failed twice."], model.embed(["The pump failed twice."]))))
    model.seen.clear()
    encoder = SentenceEncoder(model, cache)
    sims = encoder.similarities("why did the pump fail?", ["The pump failed twice.", "The seal held."])
    assert sorted(model.seen) == ["The seal held.", "why did the pump fail?"]  # the stored sentence is not embedded again
    assert sims == pytest.approx(SentenceEncoder(CountingEmbedder()).similarities(
        "why did the pump fail?", ["The pump failed twice.", "The seal held."]))
    assert cache.missing(["The seal held.", "why did the pump fail?"]) == ["why did the pump fail?"]


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pumps.txt").write_text("[00:01] Ada: The pump failed twice last winter.\n"
                                      "[00:06] We replaced the seal and it held.\n"
                                      "[00:12] Ben: Did the new seal cost much?\n[00:15] Ada: About forty dollars.\n")
    return folder


def test_ingest_stores_each_documents_sentence_vectors_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedding_model="hashing")
    folder, model = _corpus(tmp_path), CountingEmbedder()
    report = ingest([folder], settings=settings, embedder=model, progress=False)
    assert report.sentences_embedded > 0
    cache = for_settings(settings, model)
    assert cache is not None and cache.get(["Ada: We replaced the seal and it held."])
    model.seen.clear()
    again = ingest([folder], settings=settings, embedder=model, progress=False)
    assert again.sentences_embedded == 0 and model.seen == []  # unchanged: nothing embedded


def test_an_index_made_before_sentence_vectors_gets_them_on_the_next_ingest(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedding_model="hashing")
    folder, model = _corpus(tmp_path), CountingEmbedder()
    ingest([folder], settings=settings, embedder=model, progress=False)
    for f in settings.home.glob("sentence-vectors.sqlite*"):
        f.unlink()
    report = ingest([folder], settings=settings, embedder=model, progress=False)
    assert report.files_skipped == 1 and report.chunks_added == 0 and report.sentences_embedded > 0


def test_sentence_vectors_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedding_model="hashing", embedding_sentence_vectors=False)
    report = ingest([_corpus(tmp_path)], settings=settings, embedder=CountingEmbedder(), progress=False)
    assert report.sentences_embedded == 0 and not settings.sentence_vectors_path.exists()
    assert for_settings(settings, CountingEmbedder()) is None
    assert for_settings(settings.with_(embedding_sentence_vectors=True), HashingEmbedder()) is None  # no meaning: unused


def test_an_unchanged_corpus_with_its_vectors_stored_does_not_load_the_model(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedding_model="hashing")
    folder = _corpus(tmp_path)
    ingest([folder], settings=settings, embedder=CountingEmbedder(), progress=False)

    class NoModel(CountingEmbedder):
        @property
        def max_tokens(self) -> int:  # type: ignore[override]
            raise AssertionError("the embedding model was loaded")

        @max_tokens.setter
        def max_tokens(self, value: int) -> None:
            pass

    again = ingest([folder], settings=settings, embedder=NoModel(), progress=False)
    assert (again.files_skipped, again.model_loaded, again.sentences_embedded) == (1, False, 0)


def test_stored_vectors_give_the_same_answers_as_embedding_at_answer_time(corpus_settings: Settings) -> None:
    from agent.answer import Agent

    assert corpus_settings.sentence_vectors_path.exists()  # the real model's ingest kept them
    questions = ["Why do CPUs matter again for AI workloads?", "How much power does one accelerator draw?"]
    stored = Agent(corpus_settings)
    fresh = Agent(corpus_settings.with_(embedding_sentence_vectors=False))
    assert fresh.retriever is not stored.retriever
    for q in questions:
        a, b = stored.ask(q), fresh.ask(q)
        assert a.answer == b.answer and [c["at"] for c in a.citations] == [c["at"] for c in b.citations]


def test_a_cache_file_that_is_no_database_turns_the_cache_off_and_answers_go_on(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    cache = VectorCache(path, "m")
    model = CountingEmbedder()
    sims = SentenceEncoder(model, cache).similarities("pump?", ["The pump failed."])
    assert len(sims) == 1 and cache.broken and str(path) in cache.broken
    cache.put({"x": [1.0]})  # ignored, no error
    assert cache.get(["x"]) == {} and not cache.has_document("s", "h")
    assert path.read_bytes().startswith(b"this is not a database")  # nothing of the user's is overwritten


def test_an_unusable_cache_file_is_reported_and_not_embedded_for_on_every_ingest(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedding_model="hashing")
    folder = _corpus(tmp_path)
    ingest([folder], settings=settings, embedder=CountingEmbedder(), progress=False)
    for f in settings.home.glob("sentence-vectors.sqlite*"):
        f.unlink()
    settings.sentence_vectors_path.write_bytes(b"not a database" * 200)
    model = CountingEmbedder()
    report = ingest([folder], settings=settings, embedder=model, progress=False)
    assert report.sentences_embedded == 0 and not report.model_loaded and model.seen == []
    assert str(settings.sentence_vectors_path) in (report.sentence_vectors_off or "")
    assert "no sentence vectors kept" in report.summary_line()


def test_a_stored_vector_of_another_length_is_never_used(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "v.sqlite", "m")
    cache.put({"The pump failed.": [1.0, 0.0, 0.0]})  # written by a model of another size under the same name
    model = CountingEmbedder()
    sims = SentenceEncoder(model, cache).similarities("pump?", ["The pump failed."])
    assert len(sims) == 1 and "The pump failed." in model.seen


def test_a_cache_in_a_folder_that_cannot_be_written_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    path = tmp_path / "v.sqlite"
    cache = VectorCache(path, "m")
    model = CountingEmbedder()
    cache.put(dict(zip(["The pump failed."], model.embed(["The pump failed."]))))
    cache.close()

    def no_write(self: VectorCache) -> None:  # what SQLite says where it cannot make its -shm file
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(VectorCache, "_open", no_write)
    reader = VectorCache(path, "m")
    assert "The pump failed." in reader.get(["The pump failed."]) and reader.read_only
    reader.put({"x": [1.0]})  # skipped, no error
    assert not reader.broken and reader.get(["x"]) == {}


def test_retain_keeps_only_the_given_texts_and_documents(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "v.sqlite", "m")
    cache.put({"kept sentence": [1.0, 0.0], "old sentence": [0.0, 1.0]})
    cache.mark_document("kept", "v1")
    cache.mark_document("gone", "v1")
    VectorCache(tmp_path / "v.sqlite", "other-model").mark_document("kept", "v1")
    assert cache.retain(["kept sentence"], ["kept"]) == 1
    assert list(cache.get(["kept sentence", "old sentence"])) == ["kept sentence"]
    assert cache.has_document("kept", "v1") and not cache.has_document("gone", "v1")
    assert not VectorCache(tmp_path / "v.sqlite", "other-model").has_document("kept", "v1")  # its vectors went too
    assert cache.retain(["kept sentence"], ["kept"]) == 0


def test_prune_drops_the_vectors_of_removed_and_changed_documents(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedding_model="hashing")
    folder, model = _corpus(tmp_path), CountingEmbedder()
    (folder / "boilers.txt").write_text("[00:02] Cy: The boiler needs a new valve.\n[00:07] It leaks at night.\n")
    ingest([folder], settings=settings, embedder=model, progress=False)
    cache = for_settings(settings, model)
    assert cache is not None and cache.get(["Cy: It leaks at night."])
    (folder / "boilers.txt").unlink()
    pumps = folder / "pumps.txt"
    pumps.write_text(pumps.read_text().replace("About forty dollars.", "About fifty dollars."))
    kept = document_texts([["Ada: The pump failed twice last winter.", "We replaced the seal and it held.",
                            "Ben: Did the new seal cost much?", "Ada: About fifty dollars."]])
    assert ingest([folder], settings=settings, embedder=model, progress=False).sentence_vectors_dropped == 0  # no --prune
    report = ingest([folder], settings=settings, embedder=model, progress=False, prune=True)
    assert report.sentence_vectors_dropped > 0 and report.chunks_deleted > 0
    assert f"(and {report.sentence_vectors_dropped} sentence vectors no document needs)" in report.summary_line()
    assert not cache.get(["Cy: It leaks at night.", "Ada: About forty dollars."])
    assert set(cache.get(kept)) == set(kept)  # what the remaining document needs is all still there
    assert cache.has_document("pumps", report_hash(settings, "pumps"))  # its mark stays: not embedded again


def report_hash(settings: Settings, source: str) -> str:
    from kb.store import Store

    meta = Store(settings, HashingEmbedder()).peek({"source": source})
    assert meta is not None
    return str(meta["doc_hash"])


def test_retain_while_another_process_reads_drops_and_keeps_the_cache_on(tmp_path: Path) -> None:
    import sqlite3

    cache = VectorCache(tmp_path / "v.sqlite", "m")
    cache.put({"kept": [1.0], "old": [2.0]})
    reader = sqlite3.connect(tmp_path / "v.sqlite", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM vectors").fetchone() == (2,)  # a read in progress elsewhere
    assert cache.retain(["kept"], []) == 1 and cache.broken is None
    reader.execute("COMMIT")
    assert list(cache.get(["kept", "old"])) == ["kept"]
    reader.close()
