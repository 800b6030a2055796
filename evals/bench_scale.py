"""`kb bench scale --chunks N`: the store and the lexical index at N synthetic chunks.

Chunks are generated (Zipf-distributed words from a synthetic vocabulary, ~8 timed sentences of
~12 words each, 50 chunks per document) with precomputed random unit vectors, so the embedding
model is not what is measured. Written through `Store.add` like ingest writes; then the BM25
index is built and saved as the ingester does (`Store.refresh_lexical`); then, in a fresh
process, the index is loaded and searched; then warm hybrid searches are timed.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import percentile
from kb.settings import Settings, child_environment

DIM = 384  # all-MiniLM-L6-v2's width
VOCAB = 60_000
WORDS_PER_SENTENCE = 12
SENTENCES_PER_CHUNK = 8
CHUNKS_PER_DOC = 50


class RandomEmbedder:
    """Query vectors without a model: deterministic random unit vectors of the model's width."""

    name = "hashing-scale"
    max_tokens = 256

    def __init__(self, seed: int = 7) -> None:
        import numpy as np

        self._rng = np.random.default_rng(seed)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return _unit(self._rng, len(texts)).tolist()


def _unit(rng: Any, n: int) -> Any:
    import numpy as np

    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _vocabulary() -> list[str]:
    import numpy as np

    rng = np.random.default_rng(1)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(4, 10, VOCAB)
    return sorted({"".join(rng.choice(letters, n)) for n in lengths})


def synthetic_batches(n: int, batch: int = 2000, seed: int = 3) -> Iterator[tuple[list[Any], Any]]:
    """(chunks, vectors) batches of generated chunks; the same `n` and `seed` give the same chunks."""
    import numpy as np

    from kb.types import Chunk, Sentence

    rng = np.random.default_rng(seed)
    vocab = np.array(_vocabulary())
    per_chunk = WORDS_PER_SENTENCE * SENTENCES_PER_CHUNK
    for start in range(0, n, batch):
        size = min(batch, n - start)
        words = vocab[(rng.zipf(1.15, size * per_chunk) - 1) % len(vocab)].reshape(size, SENTENCES_PER_CHUNK, WORDS_PER_SENTENCE)
        chunks = []
        for j in range(size):
            i = start + j
            t0 = float((i % CHUNKS_PER_DOC) * 60)
            sentences = tuple(Sentence(" ".join(s).capitalize() + ".", start_s=t0 + 7 * k) for k, s in enumerate(words[j]))
            chunks.append(Chunk(id=f"syn{i:08d}", source=f"doc{i // CHUNKS_PER_DOC:06d}", title=f"Synthetic talk {i // CHUNKS_PER_DOC}",
                                text=" ".join(s.text for s in sentences), ordinal=i % CHUNKS_PER_DOC, sentences=sentences,
                                url=f"https://youtu.be/syn{i // CHUNKS_PER_DOC}", start_s=t0, end_s=t0 + 60))
        yield chunks, _unit(rng, size)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6 if path.exists() else 0.0


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def build(n: int, settings: Settings) -> dict[str, float]:
    """Write n synthetic chunks, then build and save the BM25 index; figures of both steps."""
    from kb.store import Store

    store = Store(settings, RandomEmbedder())
    t0, c0 = time.perf_counter(), time.process_time()
    done = 0
    for chunks, vectors in synthetic_batches(n):
        store.add(chunks, vectors, "synthetic", "synthetic", "transcript")
        done += len(chunks)
        if done % 100_000 == 0 or done == n:
            print(f"  ... {done:,} chunks written, {done / (time.perf_counter() - t0):,.0f}/s ({_load()})", file=sys.stderr, flush=True)
    add_s, add_cpu = time.perf_counter() - t0, time.process_time() - c0
    store.bump_fingerprint()
    t0, c0 = time.perf_counter(), time.process_time()
    origin = store.refresh_lexical()
    bm25_s, bm25_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert origin == "built", origin
    return {"chunks": n, "add_s": add_s, "add_per_s": n / add_s, "add_cpu_s": add_cpu,
            "bm25_build_s": bm25_s, "bm25_build_cpu_s": bm25_cpu,
            "writer_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from evals.bench_scale import RandomEmbedder, queries
from kb.retrieval import Retriever
from kb.settings import Settings
from evals.metrics import percentile
settings = Settings.from_env()
r = Retriever(settings, embedder=RandomEmbedder())
t1 = time.perf_counter()
r.lexical()
open_load = time.perf_counter() - t1
lex_origin = r.lexical_origin
t1 = time.perf_counter()
r.search("warm up the index", k=5)
first = time.perf_counter() - t1
times, cpu = [], []
for q in queries(int(sys.argv[1])):
    t, c = time.perf_counter(), time.process_time()
    r.search(q, k=5)
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
with open("/proc/self/status") as f:
    rss = next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmRSS:"))
print(json.dumps({"open_and_bm25_load_s": open_load, "first_search_s": first,
                  "origin": lex_origin, "warm_p50_ms": percentile(times, 0.5) * 1000, "warm_p95_ms": percentile(times, 0.95) * 1000,
                  "warm_cpu_p50_ms": percentile(cpu, 0.5) * 1000, "warm_cpu_p95_ms": percentile(cpu, 0.95) * 1000,
                  "searcher_rss_mb": rss}))
"""


def queries(n: int) -> list[str]:
    """Queries of 2–4 vocabulary words of middling frequency (as a user's content words are)."""
    import numpy as np

    rng = np.random.default_rng(11)
    vocab = _vocabulary()
    return [" ".join(vocab[int(i)] for i in rng.integers(20, 5000, int(rng.integers(2, 5)))) for _ in range(n)]


def search_fresh_process(settings: Settings, rounds: int = 200) -> dict[str, Any]:
    """Load the saved index and search in a new process (so nothing is warm but the OS page cache)."""
    root = str(Path(__file__).resolve().parent.parent)
    env = child_environment(root, home=settings.home, embedding_model=settings.embedding.model)
    out = subprocess.run([sys.executable, "-c", _PROBE, str(rounds)], env=env, capture_output=True, text=True, check=False, cwd=root)
    if out.returncode != 0:
        raise RuntimeError(f"search probe failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_scale(n: int, work: Path) -> dict[str, Any]:
    settings = Settings(home=work / f"scale-{n}", embedding_model="hashing-scale")
    print(f"scale: writing {n:,} synthetic chunks with precomputed vectors into {settings.home} "
          f"(Chroma takes about 300–700 chunks per CPU-second, fewer as N grows: {n / 700 / 60:.1f}–{n / 300 / 60:.1f} "
          f"CPU-min, more wall time on a busy machine) ({_load()})", flush=True)
    row: dict[str, Any] = build(n, settings)
    row["disk_chroma_mb"] = _du_mb(settings.chroma_path)
    row["disk_bm25_mb"] = _du_mb(settings.home / "lexical")
    row.update(search_fresh_process(settings))
    print(f"scale [{n:,} chunks]: add {row['add_per_s']:,.0f} chunks/s ({row['add_s']:.0f} s wall, "
          f"{row['add_cpu_s']:.0f} CPU-s incl. generating them); "
          f"disk: chroma {row['disk_chroma_mb']:,.0f} MB, bm25 {row['disk_bm25_mb']:,.0f} MB; "
          f"BM25 read+build+save {row['bm25_build_s']:.1f} s ({row['bm25_build_cpu_s']:.1f} CPU-s; writer peak RSS {row['writer_peak_rss_mb']:,.0f} MB); "
          f"new process: open store + BM25 {row['origin']} {row['open_and_bm25_load_s'] * 1000:.0f} ms, "
          f"then first search {row['first_search_s'] * 1000:.0f} ms, "
          f"warm hybrid p50 {row['warm_p50_ms']:.1f} ms, p95 {row['warm_p95_ms']:.1f} ms "
          f"(CPU p50 {row['warm_cpu_p50_ms']:.1f} ms, p95 {row['warm_cpu_p95_ms']:.1f} ms), "
          f"searcher RSS {row['searcher_rss_mb']:,.0f} MB ({_load()})", flush=True)
    return row


def bench_bm25(n: int, work: Path, rounds: int = 200) -> dict[str, Any]:
    """Only the lexical index at n synthetic chunks (no Chroma): build, save, load, search."""
    from kb.lexical import LexicalIndex

    print(f"scale (BM25 only): building the BM25 index of {n:,} synthetic chunks in {work} ({_load()})", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    index = LexicalIndex.from_batches([(c.id, c.text, c.source) for c in chunks] for chunks, _ in synthetic_batches(n))
    build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    index.save(work / "bm25")
    save_s = time.perf_counter() - t0
    del index
    t0 = time.perf_counter()
    loaded = LexicalIndex.load(work / "bm25")
    load_s = time.perf_counter() - t0
    times = []
    for q in queries(rounds):
        t = time.perf_counter()
        loaded.search(q, 30)
        times.append(time.perf_counter() - t)
    row = {"chunks": n, "build_s": build_s, "build_cpu_s": build_cpu, "save_s": save_s, "load_s": load_s,
           "disk_mb": _du_mb(work / "bm25"), "peak_rss_mb": peak,
           "search_p50_ms": percentile(times, 0.5) * 1000, "search_p95_ms": percentile(times, 0.95) * 1000}
    print(f"scale (BM25 only) [{n:,} chunks]: generate+tokenize+build {build_s:.0f} s ({build_cpu:.0f} CPU-s, peak RSS "
          f"{peak:,.0f} MB), save {save_s:.1f} s, {row['disk_mb']:,.0f} MB on disk; load (mmap) {load_s * 1000:.0f} ms; "
          f"BM25 top-30 p50 {row['search_p50_ms']:.1f} ms, p95 {row['search_p95_ms']:.1f} ms ({_load()})", flush=True)
    return row
