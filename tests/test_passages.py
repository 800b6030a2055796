"""Touching hits of one document become one passage (kb/passages.py), so the top k shows k places."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kb.passages import MERGE_MAX, group_hits, merged_passage
from kb.settings import Settings


def _meta(source: str, ordinal: int, start: float, texts: list[str]) -> dict[str, Any]:
    sentences = [{"text": t, "start_s": start + 5 * i} for i, t in enumerate(texts)]
    return {"source": source, "title": source, "ordinal": ordinal, "start_s": start, "end_s": start + 5 * len(texts),
            "sentences": json.dumps(sentences)}


STORE = {
    "a0": ("s0. s1.", _meta("a", 0, 0, ["s0.", "s1."])),
    "a1": ("s1. s2.", _meta("a", 1, 5, ["s1.", "s2."])),  # repeats a0's last sentence (chunk overlap)
    "a2": ("s2. s3.", _meta("a", 2, 10, ["s2.", "s3."])),
    "a5": ("s5.", _meta("a", 5, 50, ["s5."])),
    "b1": ("t1.", _meta("b", 1, 5, ["t1."])),
}


def _fetch(ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {i: STORE[i] for i in ids if i in STORE}


def test_a_neighbour_joins_the_passage_it_touches_and_frees_a_slot() -> None:
    groups = group_hits(["a1", "a0", "b1", "a5"], _fetch, k=3, window=2)
    assert [[cid for cid, _, _ in g] for g in groups] == [["a1", "a0"], ["b1"], ["a5"]]


def test_only_the_same_document_and_adjacent_chunks_join_and_a_passage_stays_bounded() -> None:
    groups = group_hits(["a0", "b1", "a2", "a1"], _fetch, k=5, window=10)
    ids = [[cid for cid, _, _ in g] for g in groups]
    # b's chunk 1 does not join a's chunk 0; a2 is two chunks from a0 and so a place of its own
    assert ids == [["a0", "a1"], ["b1"], ["a2"]]
    assert MERGE_MAX == 2 and group_hits(["a1", "a0", "a2"], _fetch, k=5, window=10)[1][0][0] == "a2"  # bounded


def test_unknown_ids_are_skipped_and_k_bounds_the_places() -> None:
    groups = group_hits(["gone", "a5", "b1", "a0"], _fetch, k=2, window=1)
    assert [[cid for cid, _, _ in g] for g in groups] == [["a5"], ["b1"]]


def test_a_merged_passage_reads_in_document_order_with_each_sentence_once() -> None:
    p = merged_passage([("a1", *STORE["a1"]), ("a0", *STORE["a0"])], score=0.5)
    assert p.chunk_id == "a1" and p.score == 0.5  # the best chunk's identity
    assert [s.text for s in p.sentences] == ["s0.", "s1.", "s2."]
    assert p.text == "s0. s1. s2."
    assert (p.start_s, p.end_s) == (0, 15)


def test_search_shows_more_of_a_document_in_the_same_k(fast_settings: Settings, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import kb.passages
    from ingest.pipeline import ingest
    from kb.retrieval import Retriever

    folder = tmp_path / "docs"
    folder.mkdir()
    lines = [f"[{i // 2:02d}:{30 * (i % 2):02d}] The kiln firing schedule step {i} needs the kiln vent open." for i in range(8)]
    lines += [f"[{10 + i:02d}:00] Glazes are mixed on {day}." for i, day in enumerate(["Monday", "Tuesday", "Friday"])]
    (folder / "pottery.txt").write_text("# pottery\n" + "\n".join(lines) + "\n")
    settings = fast_settings.with_(chunk_tokens=40, chunk_overlap_tokens=16)
    ingest([folder], settings=settings, progress=False)

    def covered() -> tuple[int, list[Any]]:
        hits = Retriever(settings).search("kiln firing schedule vent", k=3, source="pottery")
        return len({s.text for p in hits for s in p.sentences}), hits

    grouped, hits = covered()
    monkeypatch.setattr(kb.passages, "MERGE_MAX", 1)
    plain, _ = covered()
    assert grouped > plain
    assert all(len({s.text for s in p.sentences}) == len(p.sentences) for p in hits)  # no sentence twice in one
