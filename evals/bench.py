"""Speed benchmarks that print figures (not timed tests): `kb bench ingest|search|startup|answer|all`.

- ingest: ingest throughput (chunks/s) against the raw throughput of embedding the same chunks,
  measured in the same run, on the bundled corpus and on a generated corpus N times larger;
- search: warm hybrid search latency p50/p95 on both;
- startup: wall time of `kb --help` and `kb sources` in fresh processes;
- answer: offline warm answer latency p50/p95, and cold `kb ask` beside the cold import of the
  embedding stack.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from evals.metrics import percentile
from kb.settings import Settings

QUERIES = [
    "how many GPUs is a gigawatt", "why are CPUs making a comeback", "what does a gigawatt cost",
    "what is the bottleneck for compute", "how much compute did DeepSeek V3 pre-training use",
    "what is continual learning", "pruning reduces model size", "share of compute used for inference",
    "how do chips throttle with power fluctuations", "time to compute rather than amount of compute",
    "open weight models catch up", "TSMC wafer allocation", "what is RLVR", "a country of geniuses in a data center",
    "Stargate", "memory architectures medium to long term", "grid blackout data center", "AlphaGo compute budget",
    "DoorDash menu extraction", "Cursor Composer model",
]


def make_large_corpus(dest: Path, copies: int) -> Path:
    """`copies` copies of the bundled corpus, each under new file stems and with a distinct line."""
    from ingest.pipeline import bundled_corpus

    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(bundled_corpus().glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for i in range(copies):
            marker = f"Copy {i} of {path.stem}."
            body = text.replace("Thank you.", f"Thank you. {marker}", 1) if "Thank you." in text else f"{text}\n{marker}\n"
            (dest / f"{path.stem}-copy{i:03d}.txt").write_text(body, encoding="utf-8")
    return dest


def bench_ingest(corpus: Path | None, settings: Settings, label: str) -> dict[str, float]:
    from ingest.chunking import chunk_document, embedding_text
    from ingest.loaders import load_document
    from ingest.pipeline import bundled_corpus, expand_paths, ingest
    from kb.embeddings import get_embedder

    embedder = get_embedder(settings)
    embedder.embed(["warm up the model"])
    files, _ = expand_paths([corpus or bundled_corpus()])
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    texts = [embedding_text(c.title, c.text) for f in files
             for c in chunk_document(load_document(f), embedder.count_tokens, max_tokens, settings.chunk_overlap_tokens)]
    t0 = time.perf_counter()
    for i in range(0, len(texts), settings.embedding_batch_size):
        embedder.embed(texts[i : i + settings.embedding_batch_size])
    raw = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = ingest([corpus or bundled_corpus()], settings=settings, embedder=embedder, progress=False)
    full = time.perf_counter() - t0
    again = ingest([corpus or bundled_corpus()], settings=settings, embedder=embedder, progress=False)
    row = {
        "chunks": len(texts), "raw_embed_s": raw, "ingest_s": full,
        "raw_chunks_per_s": len(texts) / raw, "ingest_chunks_per_s": report.chunks_added / full,
        "ratio": (report.chunks_added / full) / (len(texts) / raw), "reingest_s": again.seconds,
    }
    print(f"ingest [{label}]: {row['chunks']} chunks; raw embedding {row['raw_chunks_per_s']:.1f} chunks/s, "
          f"ingest {row['ingest_chunks_per_s']:.1f} chunks/s = {row['ratio'] * 100:.0f}% of raw "
          f"(target >= 85%); unchanged re-ingest {row['reingest_s']:.2f} s", flush=True)
    return row


def bench_search(settings: Settings, label: str, rounds: int = 5) -> dict[str, float]:
    from kb.retrieval import Retriever

    retriever = Retriever(settings)
    retriever.search("warm up", k=5)
    times = []
    for _ in range(rounds):
        for q in QUERIES:
            t0 = time.perf_counter()
            retriever.search(q, k=5)
            times.append(time.perf_counter() - t0)
    row = {"n": len(times), "p50_ms": (percentile(times, 0.5) or 0.0) * 1000, "p95_ms": (percentile(times, 0.95) or 0.0) * 1000}
    print(f"search [{label}]: warm hybrid search over {row['n']} queries: p50 {row['p50_ms']:.1f} ms, "
          f"p95 {row['p95_ms']:.1f} ms", flush=True)
    return row


def _wall(cmd: list[str], runs: int = 3, env: dict[str, str] | None = None) -> float:
    best = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        best.append(time.perf_counter() - t0)
    return statistics.median(best)


def bench_startup(settings: Settings) -> dict[str, float]:

    kb = [sys.executable, "-m", "interfaces.cli"]
    env = _env(settings)
    row = {"help_s": _wall([*kb, "--help"], env=env), "sources_s": _wall([*kb, "sources"], env=env)}
    print(f"startup: `kb --help` {row['help_s']:.2f} s, `kb sources` {row['sources_s']:.2f} s (target < 1 s)", flush=True)
    return row


def bench_answer(settings: Settings, rounds: int = 3) -> dict[str, float]:

    from agent.answer import answer

    questions = QUERIES[:10] + ["At $70 billion per gigawatt, what do 6 gigawatts cost?",
                                "How many GPUs would 10 GW be, at the capstone guest's GPUs per gigawatt?"]
    offline = settings.with_(backend="offline")
    answer("warm up", settings=offline)
    times = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            answer(q, settings=offline)
            times.append(time.perf_counter() - t0)
    env = _env(settings)
    cold_ask = _wall([sys.executable, "-m", "interfaces.cli", "ask", "how many GPUs is a gigawatt"], runs=2, env=env)
    cold_import = _wall([sys.executable, "-c", "from sentence_transformers import SentenceTransformer; import chromadb"], runs=2)
    row = {"p50_ms": (percentile(times, 0.5) or 0.0) * 1000, "p95_ms": (percentile(times, 0.95) or 0.0) * 1000,
           "cold_ask_s": cold_ask, "cold_import_s": cold_import, "cold_ratio": cold_ask / cold_import}
    print(f"answer: offline warm p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms (target <= 300 ms); "
          f"cold `kb ask` {cold_ask:.2f} s vs importing the embedding stack {cold_import:.2f} s "
          f"= {row['cold_ratio']:.2f}x (target <= 1.3x)", flush=True)
    return row


def _env(settings: Settings) -> dict[str, str]:
    """The environment for timing `kb` in a fresh process: the bench's own home and model."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "KB_CHROMA_URL"}
    env.update(KB_HOME=str(settings.home), KB_EMBEDDING_MODEL=settings.embedding_model, KB_BACKEND="offline")
    return env


def main(what: str, scale: int = 100, settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        # always a private embedded store: never write the generated corpus into a shared server
        small = dataclasses.replace(settings, home=work / "small", chroma_url=None)
        steps: list[Callable[[], object]] = []
        if what in ("ingest", "search", "answer", "all"):
            steps.append(lambda: bench_ingest(None, small, "bundled corpus"))
        if what in ("search", "all"):
            steps.append(lambda: bench_search(small, "bundled corpus"))
        if what in ("startup", "all"):
            steps.append(lambda: bench_startup(small))
        if what in ("answer", "all"):
            steps.append(lambda: bench_answer(small))
        if what in ("ingest", "search", "all") and scale > 1:
            big = dataclasses.replace(settings, home=work / "large", chroma_url=None)
            corpus = make_large_corpus(work / "large-corpus", scale)
            steps.append(lambda: bench_ingest(corpus, big, f"{scale}x corpus"))
            if what in ("search", "all"):
                steps.append(lambda: bench_search(big, f"{scale}x corpus"))
        for step in steps:
            step()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "all", int(sys.argv[2]) if len(sys.argv) > 2 else 100))
