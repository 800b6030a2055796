"""The BM25 index persists under KB_HOME keyed by the collection fingerprint: the ingester saves it,
a new process loads it instead of reading every chunk, a change of the collection (also by another
process through a shared Chroma server) makes it rebuild."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from kb.lexical import LexicalIndex, index_folder
from kb.retrieval import Retriever
from kb.settings import Settings
from kb.store import Store
from tests.test_server_mode import chroma_server  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parent.parent


def test_saved_index_searches_like_the_built_one(tmp_path: Path) -> None:
    ids = ["a", "b", "c", "d"]
    texts = ["Solar panels convert sunlight.", "Wind turbines spin in the wind.", "", "Sunlight and wind power the grid."]
    built = LexicalIndex(ids, texts, ["s1", "s1", "s2", "s2"])
    built.save(tmp_path / "idx")
    loaded = LexicalIndex.load(tmp_path / "idx")
    for query in ("sunlight", "wind power", "turbines grid", "nothing matches"):
        assert loaded.search(query, 3) == built.search(query, 3)
    assert loaded.search("sunlight wind", 5, source="s2") == [("d", pytest.approx(built.search("sunlight wind", 5)[0][1]))]
    assert loaded.search("wind", 5, source="unknown") == []
    assert loaded.idf("wind") == built.idf("wind") and loaded.doc_freq("wind") == 2 and loaded.doc_freq("zebra") == 0
    assert loaded.ids == ids and loaded.n == 4
    empty = LexicalIndex([], [])
    empty.save(tmp_path / "empty")
    assert LexicalIndex.load(tmp_path / "empty").search("wind", 3) == []


def _doc(folder: Path, name: str, line: str) -> Path:
    path = folder / f"{name}.txt"
    path.write_text(f"# {name}\n[00:01] {line}\n")
    return path


def test_ingest_saves_it_and_a_new_process_loads_it(fast_settings: Settings, tmp_path: Path) -> None:
    ingest([_doc(tmp_path, "first", "Batteries store energy for the evening peak.")], settings=fast_settings, progress=False)
    base = index_folder(fast_settings, Store(fast_settings).name)
    assert len([p for p in base.iterdir() if not p.name.startswith(".")]) == 1
    fresh = Retriever(fast_settings)
    assert fresh.search("batteries evening")[0].source == "first" and fresh.lexical_origin == "loaded"
    ingest([_doc(tmp_path, "second", "Hydrogen electrolysers need cheap power.")], settings=fast_settings, progress=False)
    assert fresh.search("hydrogen electrolysers", mode="bm25")[0].source == "second"  # fingerprint changed: reloaded
    assert fresh.lexical_origin == "loaded"
    assert len([p for p in base.iterdir() if not p.name.startswith(".")]) == 1  # the older one is gone


def test_a_collection_without_fingerprint_is_built_not_saved(fast_settings: Settings, tmp_path: Path) -> None:
    from kb.embeddings import get_embedder
    from kb.types import Chunk

    store = Store(fast_settings)
    chunk = Chunk(id="x1", source="s", title="t", text="Tidal power is predictable.", ordinal=0, sentences=())
    store.add([chunk], get_embedder(fast_settings).embed([chunk.text]), "h", "p", "text")
    r = Retriever(fast_settings, store=store)
    assert r.search("tidal", mode="bm25")[0].chunk_id == "x1" and r.lexical_origin == "built"
    assert not index_folder(fast_settings, store.name).exists()


def _run(code: str, home: Path, url: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_HOME=str(home), KB_CHROMA_URL=url, KB_EMBEDDING_MODEL="hashing", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


_SEARCH = ("from kb.retrieval import Retriever; r = Retriever(); hits = r.search({q!r}, mode='bm25'); "
           "print(hits[0].source if hits else None, r.lexical_origin)")
_INGEST = "from ingest.pipeline import ingest; print(ingest([__import__('pathlib').Path({p!r})], progress=False).chunks_added)"


@pytest.mark.slow
def test_two_processes_share_one_chroma_server(chroma_server: str, tmp_path: Path) -> None:  # noqa: F811
    writer, reader = tmp_path / "writer-home", tmp_path / "reader-home"
    assert _run(_INGEST.format(p=str(_doc(tmp_path, "geo", "Geothermal wells reach hot rock."))), writer, chroma_server).strip() == "1"
    assert _run(_SEARCH.format(q="geothermal rock"), writer, chroma_server).split() == ["geo", "loaded"]  # saved by the ingester
    assert _run(_SEARCH.format(q="geothermal rock"), reader, chroma_server).split() == ["geo", "built"]  # its own copy, once
    assert _run(_SEARCH.format(q="geothermal rock"), reader, chroma_server).split() == ["geo", "loaded"]
    _run(_INGEST.format(p=str(_doc(tmp_path, "nuclear", "Small modular reactors run for decades."))), writer, chroma_server)
    assert _run(_SEARCH.format(q="modular reactors"), reader, chroma_server).split() == ["nuclear", "built"]  # seen, synced
    assert _run(_SEARCH.format(q="modular reactors"), reader, chroma_server).split() == ["nuclear", "loaded"]


def test_a_damaged_saved_index_is_rebuilt_and_replaced(fast_settings: Settings, tmp_path: Path) -> None:
    ingest([_doc(tmp_path, "wave", "Wave energy converters bob on the swell.")], settings=fast_settings, progress=False)
    (saved,) = [p for p in index_folder(fast_settings, Store(fast_settings).name).iterdir() if not p.name.startswith(".")]
    (saved / "data.npy").unlink()
    first = Retriever(fast_settings)
    assert first.search("wave swell", mode="bm25")[0].source == "wave" and first.lexical_origin == "built"
    second = Retriever(fast_settings)
    assert second.search("wave swell", mode="bm25")[0].source == "wave" and second.lexical_origin == "loaded"


def test_scores_equal_bm25s() -> None:
    import bm25s
    import numpy as np

    from kb.tokens import tokenize

    texts = [f"chunk {i} about {'solar ' * (i % 3)}panels and {'wind ' * (i % 5)}turbines, grid number {i % 7}" for i in range(60)]
    texts += ["", "wind wind wind wind", "a completely different sentence on tidal lagoons"]
    ours = LexicalIndex([str(i) for i in range(len(texts))], texts)
    ref = bm25s.BM25()
    ref.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
    for query in ("solar panels", "wind", "grid 3 turbines", "tidal lagoons"):
        terms = [t for t in tokenize(query) if t in ref.vocab_dict]
        assert np.allclose(ours.scores(terms), ref.get_scores(terms), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_search_scores_only_posting_lists_but_ranks_like_a_full_scan() -> None:
    import numpy as np

    from evals.bench_scale import queries, synthetic_batches
    from kb.tokens import tokenize

    chunks = [c for batch, _ in synthetic_batches(600, batch=200) for c in batch]
    index = LexicalIndex([c.id for c in chunks], [c.text for c in chunks], [c.source for c in chunks])

    def full_scan(query: str, n: int, source: str | None = None) -> list[str]:
        scores = index.scores([t for t in tokenize(query) if index.doc_freq(t)])
        if source is not None:
            scores = np.where(index._codes == index._sources.index(source), scores, 0.0)
        return [index.ids[i] for i in np.argsort(-scores, kind="stable")[:n] if scores[i] > 0]

    for query in queries(40) + [c.text[:50] for c in chunks[:10]]:
        assert [cid for cid, _ in index.search(query, 30)] == full_scan(query, 30)
        assert [cid for cid, _ in index.search(query, 5, source="doc000002")] == full_scan(query, 5, "doc000002")


def test_the_index_knows_each_chunks_row_and_source(tmp_path: Path) -> None:
    index = LexicalIndex(["c1", "c2", "c3"], ["kiln glaze", "loom warp", "kiln cone"], ["pottery", "weaving", "pottery"])
    assert index.rows() == {"c1": 0, "c2": 1, "c3": 2} and index.ids == ["c1", "c2", "c3"]
    assert index.sources_of(["c3", "c2", "gone"]) == {"c3": "pottery", "c2": "weaving"}
    index.save(tmp_path / "saved")
    loaded = LexicalIndex.load(tmp_path / "saved")
    assert loaded.rows() == index.rows() and loaded.sources_of(["c1"]) == {"c1": "pottery"}
    column = loaded.scores(["kiln"])
    assert column[loaded.rows()["c3"]] > 0 and column[loaded.rows()["c2"]] == 0
