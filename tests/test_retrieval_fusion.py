"""How `Retriever.search` fuses its dense and BM25 lists: reciprocal ranks (the default), or
standardised scores, each candidate scored by both retrievers (`KB_FUSION=score`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kb.retrieval import BM25_WEIGHT, SCORE_BM25_SHARE, Retriever, score_fusion
from kb.settings import Settings
from kb.tokens import tokenize
from tests.fakes.transcripts import indexed_transcripts


def test_score_fusion_keeps_the_margin_that_ranks_throw_away() -> None:
    sims = {"standout": 0.50, "even": 0.52, "middling": 0.51, "weak": 0.40}
    bm25 = {"standout": 9.0, "even": 1.0, "middling": 1.2, "weak": 0.5}
    fused = score_fusion(sims, bm25, 0.5)
    assert max(fused, key=fused.__getitem__) == "standout"  # first by far in one list, close in the other
    assert min(fused, key=fused.__getitem__) == "weak"
    assert sum(fused.values()) == pytest.approx(0.0)  # z-scores: the scale of neither list decides


def test_score_fusion_weighs_the_lists_by_the_share_and_ignores_a_flat_one() -> None:
    sims = {"a": 0.9, "b": 0.1}
    bm25 = {"a": 0.0, "b": 4.0}
    assert score_fusion(sims, bm25, 0.8)["b"] > score_fusion(sims, bm25, 0.8)["a"]
    assert score_fusion(sims, bm25, 0.2)["a"] > score_fusion(sims, bm25, 0.2)["b"]
    flat = score_fusion(sims, {"a": 2.0, "b": 2.0}, 0.5)  # no spread: that list says nothing
    assert flat["a"] > flat["b"] and flat["a"] == pytest.approx(0.5)


_DOCS = {
    "kiln": ["The kiln reached cone six after nine hours.", "Glaze crawling comes from dust on bisque ware.",
             "Wedging clay removes air pockets before throwing."],
    "loom": ["The warp threads need even tension on the loom.", "A floating selvedge keeps the edges straight.",
             "Weft density decides how the cloth drapes."],
}


def _indexed(fast_settings: Settings, tmp_path: Path, **changes: object) -> Settings:
    return indexed_transcripts(fast_settings, tmp_path / "docs", _DOCS, **changes)


def test_a_candidate_only_one_list_found_is_scored_by_the_other_too(fast_settings: Settings, tmp_path: Path) -> None:
    """With one candidate from each list, both candidates get a similarity and a BM25 score, and
    the fused score is score_fusion of those, computed here from the stored vectors and the index."""
    settings = _indexed(fast_settings, tmp_path, candidates=1, fusion="score")
    retriever = Retriever(settings)
    query = "air pockets before the threads"
    found = retriever.search(query, k=5)
    lex = retriever.lexical()
    column = lex.scores(tokenize(query))
    q = np.asarray(retriever.embedder.embed([query])[0], dtype=np.float32)
    ids, _, vectors, _ = retriever.store.records(lex.ids)
    sims = {c: float(np.dot(v, q) / (np.linalg.norm(v) * np.linalg.norm(q))) for c, v in zip(ids, vectors)}
    bm25 = {c: float(column[i]) for i, c in enumerate(lex.ids)}
    candidates = {max(sims, key=sims.__getitem__), max(bm25, key=bm25.__getitem__)}
    assert len(candidates) == 2, "the corpus should make the two lists disagree"
    expected = score_fusion({c: sims[c] for c in candidates}, {c: bm25[c] for c in candidates}, SCORE_BM25_SHARE)
    assert {p.chunk_id: p.score for p in found} == pytest.approx(expected, abs=1e-5)


def test_rank_fusion_adds_weighted_reciprocal_ranks(fast_settings: Settings, tmp_path: Path) -> None:
    settings = _indexed(fast_settings, tmp_path)
    assert settings.retrieval.fusion == "rank"  # the default
    found = Retriever(settings).search("even tension on the warp threads", k=5)
    k = settings.retrieval.rrf_k
    for p in found:
        expected = sum((BM25_WEIGHT if name == "bm25" else 1.0) / (k + rank) for name, rank in p.ranks.items())
        assert math.isclose(p.score, expected)
    assert found[0].source == "loom"


def test_the_fusion_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KB_FUSION", "score")
    assert Settings.from_env(home=tmp_path).retrieval.fusion == "score"
    monkeypatch.setenv("KB_FUSION", "votes")
    with pytest.raises(ValueError, match="(?i)fusion"):
        Settings.from_env(home=tmp_path)


def test_kb_search_takes_the_fusion_as_a_flag(fast_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from interfaces.cli import main

    settings = _indexed(fast_settings, tmp_path)
    monkeypatch.setenv("KB_CHUNK_TOKENS", str(settings.chunking.tokens))  # the index's collection
    monkeypatch.setenv("KB_CHUNK_OVERLAP_TOKENS", str(settings.chunking.overlap_tokens))
    ranked = {}
    for fusion in ("rank", "score"):
        code = main(["--home", str(settings.home), "--embedding-model", "hashing", "search",
                     "even tension on the warp threads", "--fusion", fusion, "--json"])
        assert code == 0
        ranked[fusion] = json.loads(capsys.readouterr().out)
    assert ranked["rank"][0]["source"] == ranked["score"][0]["source"] == "loom"
    assert ranked["rank"][0]["score"] < (1 + BM25_WEIGHT) / settings.retrieval.rrf_k  # a sum of reciprocal ranks
    assert ranked["score"][0]["score"] == pytest.approx(1.0)  # two candidates: z-scores +1 and -1, both lists agree
