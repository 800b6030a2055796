"""A document's subject (the mean direction of its chunks' vectors, `Retriever.subject`) and its use
in evidence selection: a sentence that only restates what the whole document is about ranks below
one that says something in particular."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.evidence import SentenceEncoder, score
from kb.embeddings import HashingEmbedder
from kb.retrieval import Retriever
from kb.settings import Settings
from tests.fakes.transcripts import write_transcripts


class WordVectors(HashingEmbedder):
    semantic = True  # the hashing vectors taken as if they carried meaning


def _indexed(fast_settings: Settings, tmp_path: Path) -> Settings:
    from ingest.pipeline import ingest

    docs = {
        "bees": ["Our hive wintered well this year and the colony came out strong in March.",
                 "The queen was marked with a blue dot so we could find her on the frames.",
                 "Varroa counts stayed low after the autumn treatment with oxalic acid.",
                 "We added a second brood box in May when the bees filled the first one."],
        "boats": ["The hull was sanded back to bare wood over the whole winter in the shed.",
                  "Two coats of varnish went on the mast before we stepped it again in April.",
                  "The rudder pin needed a new bronze bushing because the old one had worn oval.",
                  "We replaced the standing rigging and the chainplates on both sides of the boat."],
    }
    settings = fast_settings.with_(chunk_tokens=32, chunk_overlap_tokens=0)
    ingest([write_transcripts(tmp_path / "docs", docs)], settings=settings, progress=False)
    return settings


def test_a_documents_subject_is_the_unit_mean_of_its_stored_chunk_vectors(fast_settings: Settings, tmp_path: Path) -> None:
    retriever = Retriever(_indexed(fast_settings, tmp_path))
    for source in ("bees", "boats"):
        vectors = np.asarray(retriever.store.vectors(source), dtype=np.float32)
        assert len(vectors) >= 2  # several chunks, so the mean is not one chunk's vector
        mean = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).mean(axis=0)
        subject = retriever.subject(source)
        assert subject is not None
        assert np.allclose(subject, mean / np.linalg.norm(mean), atol=1e-6)
        assert np.linalg.norm(subject) == pytest.approx(1.0)
    assert retriever.subject("no-such-document") is None
    assert not np.allclose(retriever.subject("bees"), retriever.subject("boats"))


def test_the_subject_is_read_again_once_the_collection_changes(fast_settings: Settings, tmp_path: Path) -> None:
    from ingest.pipeline import ingest

    settings = _indexed(fast_settings, tmp_path)
    retriever = Retriever(settings)
    retriever.search("varnish on the mast")
    before = retriever.subject("boats")
    doc = tmp_path / "docs" / "boats.txt"  # the file edited and ingested again: the document is replaced
    doc.write_text("# boats\n[00:00] Barnacles covered the keel below the waterline.\n"
                   "[00:10] We scraped the keel and painted antifouling.\n")
    ingest([tmp_path / "docs"], settings=settings, progress=False)
    retriever.search("the keel")
    after = retriever.subject("boats")
    assert not np.allclose(before, after)
    vectors = np.asarray(retriever.store.vectors("boats"), dtype=np.float32)
    mean = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).mean(axis=0)
    assert np.allclose(after, mean / np.linalg.norm(mean), atol=1e-6)


def _items(source: str, *texts: str) -> list[dict]:
    return [{"text": t, "passage": 0, "pos": i, "source": source} for i, t in enumerate(texts)]


def test_a_sentence_restating_the_documents_subject_ranks_below_a_particular_one() -> None:
    embedder = WordVectors()
    subject = np.asarray(embedder.embed(["garden club meeting garden plants club members"])[0], dtype=np.float32)
    question = "What was said about the shed roof?"
    general = "The garden club talked about the shed roof."
    particular = "The shed roof leaks about a cup of rain."
    items = _items("club", general, particular)

    plain = score(question, {"shed", "roof"}, items, SentenceEncoder(embedder), None)
    assert plain[0].score > plain[1].score  # by similarity alone the general line wins

    knowing = SentenceEncoder(embedder, subject=lambda source: subject if source == "club" else None)
    scored = score(question, {"shed", "roof"}, items, knowing, None)
    assert scored[1].score > scored[0].score
    # centred on the candidates: what one loses the other gains, the scale is kept
    assert sum(s.score for s in scored) == pytest.approx(sum(s.score for s in plain))


def test_no_subject_known_changes_nothing() -> None:
    embedder = WordVectors()
    items = _items("elsewhere", "The shed roof leaks.", "The garden club met on the roof.")
    plain = score("the shed roof", {"shed", "roof"}, items, SentenceEncoder(embedder), None)
    unknown = score("the shed roof", {"shed", "roof"}, items, SentenceEncoder(embedder, subject=lambda s: None), None)
    assert [s.score for s in plain] == [s.score for s in unknown]
    no_meaning = SentenceEncoder(HashingEmbedder(), subject=lambda s: np.ones(256, dtype=np.float32) / 16)
    assert no_meaning.generality(["The shed roof leaks."], ["elsewhere"]) == [None]
