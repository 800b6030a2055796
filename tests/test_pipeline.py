"""Ingest into a real Chroma in a temp folder: idempotent re-ingest, change, prune, a killed ingest,
collections named by embedding settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import ingest
from kb.embeddings import HashingEmbedder
from kb.retrieval import Retriever
from kb.settings import Settings
from kb.store import Store, collection_name

TALK = "# Talk\nhttps://www.youtube.com/watch?v=abc\n" + "".join(
    f"[{m:02d}:{s:02d}] Sentence number {m * 60 + s} talks about topic {m} in detail.\n" for m in range(0, 20) for s in (0, 30)
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "talk.txt").write_text(TALK)
    (d / "notes.md").write_text("# Notes\n\nGigawatts cost money. A gigawatt is half a million GPUs.\n\nSecond paragraph.\n")
    return d


def ids_of(store: Store) -> list[str]:
    return store.all_chunks()[0]


def test_ingest_twice_adds_nothing(corpus: Path, fast_settings: Settings) -> None:
    first = ingest([corpus], settings=fast_settings, progress=False)
    assert first.files_ingested == 2 and first.chunks_added == first.chunks_total > 2
    second = ingest([corpus], settings=fast_settings, progress=False)
    assert (second.chunks_added, second.chunks_deleted, second.files_skipped) == (0, 0, 2)
    assert second.chunks_total == first.chunks_total


def test_changed_file_replaces_stale_chunks(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    store = Store(fast_settings, HashingEmbedder())
    before = set(store.stored("talk").chunk_hashes)
    (corpus / "talk.txt").write_text(TALK.replace("topic 19", "the final topic"))
    report = ingest([corpus], settings=fast_settings, progress=False)
    after = set(store.stored("talk").chunk_hashes)
    assert report.files_ingested == 1 and report.files_skipped == 1
    assert report.chunks_added >= 1 and report.chunks_deleted >= 1
    assert before & after, "unchanged chunks are kept, not re-embedded"
    texts = " ".join(store.all_chunks()[1])
    assert "the final topic" in texts and "topic 19 " not in texts
    assert len(ids_of(store)) == len(set(ids_of(store))) == report.chunks_total


def test_prune_drops_documents_whose_files_are_gone(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    (corpus / "notes.md").unlink()
    kept = ingest([corpus], settings=fast_settings, progress=False)
    assert "notes" in {s.source for s in Store(fast_settings).sources()}, "without --prune nothing is dropped"
    pruned = ingest([corpus], settings=fast_settings, prune=True, progress=False)
    assert pruned.chunks_deleted > 0 and pruned.chunks_total < kept.chunks_total
    assert {s.source for s in Store(fast_settings).sources()} == {"talk"}


class DiesAfterFirstAdd(Store):
    """A store whose process 'dies' after writing the first document's new chunks."""

    def delete(self, ids):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt("killed")


def test_killed_ingest_leaves_no_duplicates_and_next_run_completes(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    (corpus / "talk.txt").write_text(TALK.replace("topic 3 ", "topic three "))
    with pytest.raises(KeyboardInterrupt):
        ingest([corpus], settings=fast_settings, store=DiesAfterFirstAdd(fast_settings, HashingEmbedder()), progress=False)
    report = ingest([corpus], settings=fast_settings, progress=False)
    assert report.files_ingested == 1 and report.chunks_added == 0 and report.chunks_deleted >= 1
    store = Store(fast_settings)
    ids, texts, _ = store.all_chunks()
    assert len(ids) == len(set(ids)) == len(set(texts))
    again = ingest([corpus], settings=fast_settings, progress=False)
    assert again.chunks_added == 0 and again.files_skipped == 2


def test_embedding_settings_name_the_collection(corpus: Path, fast_settings: Settings) -> None:
    other = fast_settings.with_(chunk_tokens=60)
    assert collection_name(other) != collection_name(fast_settings)
    a = ingest([corpus], settings=fast_settings, progress=False)
    b = ingest([corpus], settings=other, progress=False)
    assert b.chunks_added == b.chunks_total and b.chunks_total > a.chunks_total
    assert Store(fast_settings).count() == a.chunks_total, "the first index is untouched"
    assert "all-minilm-l6-v2" in collection_name(Settings())


def test_bm25_follows_the_collection(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    retriever = Retriever(fast_settings)
    assert retriever.search("zeppelin", mode="bm25") == []
    (corpus / "extra.txt").write_text("A zeppelin is a rigid airship.\n")
    ingest([corpus], settings=fast_settings, progress=False)  # another writer changes the collection
    hits = retriever.search("zeppelin", mode="bm25")
    assert hits and hits[0].source == "extra"


def test_search_modes_source_filter_and_citation_time(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    r = Retriever(fast_settings)
    for mode in ("hybrid", "dense", "bm25"):
        hits = r.search("sentence number 631 topic 10", k=3, mode=mode)
        assert hits, mode
    top = r.search("sentence number 630 talks about topic 10", k=3, mode="bm25")[0]
    assert top.source == "talk" and top.at_s == 630 and top.at == "10:30"
    assert top.link == "https://www.youtube.com/watch?v=abc&t=630"
    only = r.search("gigawatt GPUs", k=5, source="notes")
    assert only and {p.source for p in only} == {"notes"} and only[0].at == "¶1"


def test_a_moved_file_keeps_its_chunks_and_is_not_pruned(tmp_path: Path, fast_settings: Settings) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "okapi.txt").write_text("An okapi is a forest giraffe.\n")
    first = ingest([old], settings=fast_settings, progress=False)
    (old / "okapi.txt").rename(new / "okapi.txt")
    moved = ingest([new], settings=fast_settings, prune=True, progress=False)
    assert (moved.files_skipped, moved.chunks_added, moved.chunks_deleted) == (1, 0, 0)
    assert moved.chunks_total == first.chunks_total
    assert Store(fast_settings).sources()[0].path == str(new / "okapi.txt")


def test_prune_only_touches_the_paths_given(tmp_path: Path, fast_settings: Settings) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d, name in ((a, "one.txt"), (b, "two.txt")):
        d.mkdir()
        (d / name).write_text(f"Text of {name}.\n")
    ingest([a, b], settings=fast_settings, progress=False)
    (b / "two.txt").unlink()
    ingest([a], settings=fast_settings, prune=True, progress=False)
    assert {s.source for s in Store(fast_settings).sources()} == {"one", "two"}, "b was not named: kept"
    ingest([b], settings=fast_settings, prune=True, progress=False)
    assert {s.source for s in Store(fast_settings).sources()} == {"one"}


def test_the_same_stem_from_another_file_is_refused(tmp_path: Path, fast_settings: Settings) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "dup.txt").write_text(f"Written in {d.name}.\n")
    ingest([a], settings=fast_settings, progress=False)
    second = ingest([b], settings=fast_settings, progress=False)
    assert second.files_failed == 1 and "already used by" in second.errors[0]["reason"]
    assert "Written in a." in Store(fast_settings).all_chunks()[1][0]


def test_a_file_reached_twice_is_ingested_once(tmp_path: Path, fast_settings: Settings) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "real.txt").write_text("Real text.\n")
    (d / "link.txt").symlink_to(d / "real.txt")
    report = ingest([d, d / "real.txt"], settings=fast_settings, progress=False)
    assert report.files_failed == 0 and report.files_ingested == 1 and report.chunks_total == 1


def test_a_sentence_at_zero_keeps_its_time(tmp_path: Path, fast_settings: Settings) -> None:
    doc = tmp_path / "t.txt"
    doc.write_text("[00:00] Welcome to the talk about gigawatts.\n[00:05] Next line.\n")
    ingest([doc], settings=fast_settings, progress=False)
    hit = Retriever(fast_settings).search("welcome gigawatts", k=1, mode="bm25")[0]
    assert hit.at_s == 0.0 and hit.at == "00:00" and hit.start_s == 0.0
