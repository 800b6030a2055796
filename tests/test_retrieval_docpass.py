"""The document pass of `Retriever.search`: document scores from the ranked lists, and a search
that stays the same inside one source and ranks whole documents over the whole index."""

from __future__ import annotations

from pathlib import Path

from kb.retrieval import DOC_WEIGHT, Retriever, document_scores
from kb.settings import Settings
from tests.fakes.transcripts import indexed_transcripts


def test_document_scores_fuse_each_documents_best_rank() -> None:
    lists = {"dense": ["a1", "b1", "a2", "c1"], "bm25": ["b1", "b2", "a1"]}
    owner = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "c1": "C"}
    scores = document_scores(lists, owner, rrf_k=60)
    assert scores["A"] == 1 / 61 + 1 / 62 and scores["B"] == 1 / 62 + 1 / 61
    assert scores["C"] == 1 / 63
    assert document_scores({"dense": ["x"]}, {}, 60) == {}  # a chunk with no known document counts for none


_DOCS = {
    "orchard": ["Pruning the apple trees happens in late winter.", "The pear trees need netting against birds.",
                "Apple scab shows as dark spots on the leaves."],
    "workshop": ["The lathe needs a new drive belt.", "Sharpen the chisels before the apple box class.",
                 "Sweep the sawdust every evening."],
}


def test_the_pass_is_off_by_default_and_never_changes_a_scoped_search(fast_settings: Settings, tmp_path: Path) -> None:
    settings = indexed_transcripts(fast_settings, tmp_path / "docs", _DOCS)
    assert DOC_WEIGHT == 0.0
    plain, ranked = Retriever(settings), Retriever(settings, doc_weight=1.0)
    question = "When are apple trees pruned?"
    inside = [p.chunk_id for p in plain.search(question, k=3, source="orchard")]
    assert inside == [p.chunk_id for p in ranked.search(question, k=3, source="orchard")]
    whole = ranked.search(question, k=3)
    assert whole and whole[0].source == "orchard"
    assert [p.score for p in whole] == sorted((p.score for p in whole), reverse=True)
