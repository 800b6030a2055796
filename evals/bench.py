"""Speed benchmarks that print figures (not timed tests): `kb bench ingest|search|startup|answer|load|scale|all`.

- ingest: ingest throughput (chunks/s) with the ONNX backend and with sentence-transformers, side
  by side in one run on the same chunks, each beside the raw throughput of embedding those chunks;
  on the bundled corpus and on a generated corpus `--scale` times larger;
- search: warm hybrid search latency p50/p95 on both;
- startup: wall time of `kb --help`, `kb sources`, `kb search` and `kb ask` in fresh processes,
  beside a bare `import sentence_transformers` in the same run;
- answer: offline warm answer latency p50/p95;
- load: concurrent `answer()` calls against the fake Chat Completions server (evals/bench_load.py);
- scale: N synthetic chunks with precomputed vectors (evals/bench_scale.py).

Every figure is printed with the machine's 1-minute load average beside it: on a shared machine
a figure measured under load is not comparable with one measured on a quiet machine. The bench
works in a temporary folder, which it removes on exit, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evals.metrics import percentile
from kb.exit_codes import EXIT_OK
from kb.settings import Settings, child_environment

# rough rates on the reference machine (2 cores, quiet), only for the up-front estimate
_EST_CHUNKS_PER_S = {"onnx": 45.0, "torch": 30.0}

def bench_questions(category: str | None = None) -> list[str]:
    """Queries for the speed figures: the dev gold questions of the bundled corpus (evals/gold/dev.jsonl,
    evals/gold/kb.jsonl), so no question is written into the code."""
    from evals.gold_file import load_gold

    gold = Path(__file__).with_name("gold")
    out: list[str] = []
    for name in ("dev.jsonl", "kb.jsonl"):
        questions, _ = load_gold(gold / name)
        out += [q.question for q in questions if q.answerable and (category is None or q.category == category)]
    return out


QUERIES = bench_questions()


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


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def corpus_texts(corpus: Path | None, settings: Settings) -> list[str]:
    """The texts ingest embeds for the corpus (title + chunk text), chunked as ingest chunks them."""
    from ingest.chunking import chunk_document, embedding_text
    from ingest.loaders import load_document
    from ingest.pipeline import bundled_corpus, expand_paths
    from kb.embeddings import get_embedder

    embedder = get_embedder(settings)
    files, _ = expand_paths([corpus or bundled_corpus()])
    max_tokens = min(settings.chunking.tokens, embedder.max_tokens)
    return [embedding_text(c.title, c.text) for f in files
            for c in chunk_document(load_document(f), embedder.count_tokens, max_tokens, settings.chunking.overlap_tokens)]


def bench_ingest(corpus: Path | None, settings: Settings, label: str) -> dict[str, float]:
    """Raw embedding, then a full ingest, of the same chunks with one backend (settings.embedding.backend)."""
    from ingest.pipeline import bundled_corpus, ingest
    from kb.embeddings import get_embedder

    # the chunks' embedding, as before sentence vectors were kept: `kb ingest` prints the time of the
    # sentence pass ("embedding sentences") on its own
    settings = settings.replace(embedding_sentence_vectors=False)
    embedder = get_embedder(settings)
    embedder.embed(["warm up the model"])
    texts = corpus_texts(corpus, settings)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), settings.embedding.batch_size):
        embedder.embed(texts[i : i + settings.embedding.batch_size])
    raw, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    report = ingest([corpus or bundled_corpus()], settings=settings, embedder=embedder, progress=False)
    full, full_cpu = time.perf_counter() - t0, time.process_time() - c0
    again = ingest([corpus or bundled_corpus()], settings=settings, embedder=embedder, progress=False)
    row = {
        "chunks": len(texts), "raw_embed_s": raw, "ingest_s": full,
        "raw_chunks_per_s": len(texts) / raw, "ingest_chunks_per_s": report.chunks_added / full,
        "raw_chunks_per_cpu_s": len(texts) / raw_cpu, "ingest_chunks_per_cpu_s": report.chunks_added / full_cpu,
        "ratio": (report.chunks_added / full) / (len(texts) / raw), "reingest_s": again.seconds,
    }
    print(f"ingest [{label}, {settings.embedding.backend}]: {row['chunks']} chunks; raw embedding "
          f"{row['raw_chunks_per_s']:.1f} chunks/s ({row['raw_chunks_per_cpu_s']:.1f} per CPU-s), ingest "
          f"{row['ingest_chunks_per_s']:.1f} chunks/s ({row['ingest_chunks_per_cpu_s']:.1f} per CPU-s) "
          f"= {row['ratio'] * 100:.0f}% of raw; unchanged re-ingest {row['reingest_s']:.2f} s ({_load()})", flush=True)
    return row


def bench_ingest_pair(corpus: Path | None, settings: Settings, work: Path, label: str) -> dict[str, dict[str, float]]:
    """ONNX and sentence-transformers on the same chunks, one after the other, each into its own index."""
    rows = {b: bench_ingest(corpus, settings.replace(home=work / f"{label}-{b}", embedding_backend=b), label)
            for b in ("onnx", "torch")}
    def ratio(key: str) -> float:
        return rows["onnx"][key] / rows["torch"][key]

    print(f"ingest [{label}]: ONNX / sentence-transformers = {ratio('ingest_chunks_per_s'):.2f}x ingest chunks/s "
          f"({ratio('ingest_chunks_per_cpu_s'):.2f}x per CPU-s), {ratio('raw_chunks_per_s'):.2f}x raw embedding "
          f"({ratio('raw_chunks_per_cpu_s'):.2f}x per CPU-s) (target >= 1.3x) ({_load()})", flush=True)
    return rows


def bench_search(settings: Settings, label: str, rounds: int = 5) -> dict[str, float]:
    from kb.retrieval import Retriever

    retriever = Retriever(settings)
    retriever.search("warm up", k=5)
    times, cpu = [], []
    for _ in range(rounds):
        for q in QUERIES:
            t0, c0 = time.perf_counter(), time.process_time()
            retriever.search(q, k=5)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    row = {"n": len(times), "p50_ms": (percentile(times, 0.5) or 0.0) * 1000, "p95_ms": (percentile(times, 0.95) or 0.0) * 1000,
           "cpu_p50_ms": (percentile(cpu, 0.5) or 0.0) * 1000, "cpu_p95_ms": (percentile(cpu, 0.95) or 0.0) * 1000}
    print(f"search [{label}]: warm hybrid search over {row['n']} queries: p50 {row['p50_ms']:.1f} ms, "
          f"p95 {row['p95_ms']:.1f} ms (CPU p50 {row['cpu_p50_ms']:.1f} ms, p95 {row['cpu_p95_ms']:.1f} ms) ({_load()})", flush=True)
    return row


def _wall(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


STARTUP_KEYS = ("help", "sources", "search", "ask")


def startup_commands(baseline: Path | None = None) -> dict[str, tuple[list[str], Path]]:
    """The cold-start commands (name -> argv, the folder whose code runs); with `baseline`, the same
    `kb` commands run again from that checkout's code (key suffix `_base`)."""
    root = Path(__file__).resolve().parent.parent
    kb = [sys.executable, "-m", "interfaces.cli"]
    argv = {"help": ["--help"], "sources": ["sources"], "search": ["search", QUERIES[0]], "ask": ["ask", QUERIES[0]]}
    commands = {k: ([*kb, *a], root) for k, a in argv.items()}
    if baseline is not None:
        commands |= {f"{k}_base": ([*kb, *a], baseline.resolve()) for k, a in argv.items()}
    commands["import_st"] = ([sys.executable, "-c", "import sentence_transformers"], root)
    return commands


def bench_startup(settings: Settings, runs: int = 3, baseline: Path | None = None) -> dict[str, float]:
    """Fresh processes, interleaved (so a burst of load hits all alike); the median of `runs` each.

    CPU time is printed beside wall time: on a busy machine it is the steadier of the two. With
    `baseline` (another checkout, e.g. the previous commit), its `kb` commands are timed in the same
    rounds, so before and after are compared side by side. One untimed round first writes every
    command's bytecode cache (see `_env`): cold means a new process, not a first run after install."""
    commands = startup_commands(baseline)
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    loads: list[float] = []
    for cmd, root in commands.values():  # untimed: writes every command's bytecode cache
        _wall(cmd, _env(settings, root), cwd=root)
    for _ in range(runs):
        for key, (cmd, root) in commands.items():
            wall, cpu = _wall(cmd, _env(settings, root), cwd=root)
            walls[key].append(wall)
            cpus[key].append(cpu)
            loads.append(os.getloadavg()[0])
    row = {f"{k}_s": statistics.median(v) for k, v in walls.items()} | {f"{k}_cpu_s": statistics.median(v) for k, v in cpus.items()}
    row["load_min"], row["load_max"] = min(loads), max(loads)
    for suffix in ("", "_base") if baseline is not None else ("",):
        row[f"ask{suffix}_vs_import_st"] = row[f"ask{suffix}_s"] / row["import_st_s"]
        row[f"ask{suffix}_vs_import_st_cpu"] = row[f"ask{suffix}_cpu_s"] / row["import_st_cpu_s"]

    def fig(key: str) -> str:
        return f"{row[key + '_s']:.2f} s (CPU {row[key + '_cpu_s']:.2f} s)"

    load = f"load {row['load_min']:.2f}–{row['load_max']:.2f}"
    print(f"startup (fresh processes, bytecode cached, median of {runs}): `kb --help` {fig('help')}, `kb sources` {fig('sources')} "
          f"(target < 1 s), `kb search` {fig('search')} (target <= 2 s), `kb ask` {fig('ask')} (target <= 2.5 s) "
          f"vs bare `import sentence_transformers` {fig('import_st')}: ratio {row['ask_vs_import_st']:.2f}x wall, "
          f"{row['ask_vs_import_st_cpu']:.2f}x CPU (target <= 0.35x) ({load})", flush=True)
    if baseline is not None:
        print(f"startup, baseline {baseline} (same rounds): `kb --help` {fig('help_base')}, `kb sources` "
              f"{fig('sources_base')}, `kb search` {fig('search_base')}, `kb ask` {fig('ask_base')}: ratio "
              f"{row['ask_base_vs_import_st']:.2f}x wall, {row['ask_base_vs_import_st_cpu']:.2f}x CPU; this code / "
              f"baseline, CPU: " + ", ".join(f"{k} {row[k + '_cpu_s'] / row[k + '_base_cpu_s']:.2f}x" for k in STARTUP_KEYS)
              + f" ({load})", flush=True)
    return row


def bench_answer(settings: Settings, rounds: int = 3) -> dict[str, float]:
    from agent.answer import answer

    questions = QUERIES[:10] + bench_questions("compute")[:2]
    offline = settings.with_(backend="offline")
    answer("warm up", settings=offline)
    times = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            answer(q, settings=offline)
            times.append(time.perf_counter() - t0)
    row = {"p50_ms": (percentile(times, 0.5) or 0.0) * 1000, "p95_ms": (percentile(times, 0.95) or 0.0) * 1000}
    print(f"answer: offline warm p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms (target <= 300 ms) ({_load()})", flush=True)
    return row


def _env(settings: Settings, code: Path | None = None) -> dict[str, str]:
    """The environment for timing `kb` in a fresh process: the bench's own home, model and model cache,
    and no model configured; `code` is the checkout whose code runs (default this one). Bytecode is
    cached as an installed kb and sentence-transformers have it (PYTHONDONTWRITEBYTECODE, where set,
    would make every run compile kb's modules from source): under the bench's folder, for every
    command alike, so nothing is written into a checkout."""
    env = child_environment(code or Path(__file__).resolve().parent.parent, home=settings.home,
                            embedding_model=settings.embedding.model, backend="offline",
                            model_cache=settings.model_cache_path, openai_api_key=None, openai_base_url=None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(settings.home.parent / "bytecode")
    return env


@contextmanager
def temporary_folder() -> Iterator[Path]:
    """A temporary folder removed on exit, on Ctrl-C and on SIGTERM (which is turned into an exit)."""
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield work
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(work, ignore_errors=True)


def _duration(seconds: float) -> str:
    return f"{max(seconds, 10):.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def plan(what: str, scale: int, chunks: int, bundled_chunks: int, bm25_only: bool = False) -> str:
    """What the bench will build, and about how long that takes, said before it starts."""
    parts, seconds = [], 0.0
    per = sum(1 / r for r in _EST_CHUNKS_PER_S.values())  # both backends embed every chunk twice (raw + ingest)
    if what in ("search", "answer", "startup", "load"):
        per = 1 / _EST_CHUNKS_PER_S["onnx"]
    if what in ("ingest", "search", "answer", "startup", "load", "all"):
        parts.append(f"the bundled corpus ({bundled_chunks} chunks)")
        seconds += bundled_chunks * 2 * per
    if what in ("ingest", "search", "all") and scale > 1:
        parts.append(f"a generated corpus of {scale} copies ({scale * bundled_chunks:,} chunks; --scale N for more)")
        seconds += scale * bundled_chunks * 2 * per
    if what in ("startup", "all"):
        seconds += 15 * 8
    if what in ("load", "all"):
        seconds += 20
    if what == "scale":
        parts.append(f"{chunks:,} synthetic chunks with precomputed vectors (--chunks N), nothing embedded")
        seconds += chunks / 4000 if bm25_only else chunks / 400 + chunks / 3000
    built = ", ".join(parts) or "nothing"
    backends = {"search": "the ONNX backend", "answer": "the ONNX backend", "startup": "the ONNX backend",
                "load": "the ONNX backend", "scale": ""}.get(
        what, "the ONNX and sentence-transformers backends")
    return (f"bench {what}: builds {built}{', embedded with ' + backends if backends else ''}; about {_duration(seconds)}–{_duration(seconds * 2)} on a quiet 2-core machine "
            f"(longer under load) ({_load()})")


def main(what: str, scale: int = 5, settings: Settings | None = None, chunks: int = 10_000,
         concurrency: int = 16, delay: float = 0.5, bm25_only: bool = False, baseline: Path | None = None,
         runs: int = 3) -> int:
    settings = settings or Settings.from_env()
    with temporary_folder() as work:
        # always private embedded stores: never write the generated corpus into a shared server;
        # the ONNX export is kept in the user's model cache, so it is made once, not timed
        small = settings.replace(home=work / "small", chroma_url=None, model_cache=settings.model_cache_path)
        bundled = 0 if what == "scale" else len(corpus_texts(None, small))
        print(plan(what, scale, chunks, bundled, bm25_only), flush=True)
        print(f"working in {work} (removed at the end, on Ctrl-C or SIGTERM)", flush=True)
        steps: list[Callable[[], object]] = []
        home = work / "small-onnx"  # the bundled corpus ingested by the ONNX backend (by the default backend)
        on_small = small.replace(home=home)
        onnx = small.replace(embedding_backend="onnx")
        if what in ("ingest", "all"):
            steps.append(lambda: bench_ingest_pair(None, small, work, "small"))
        elif what in ("search", "answer", "startup", "load"):
            steps.append(lambda: bench_ingest(None, onnx.replace(home=home), "small"))
        if what in ("search", "all"):
            steps.append(lambda: bench_search(on_small, "bundled corpus"))
        if what in ("startup", "all"):
            steps.append(lambda: bench_startup(on_small, runs=runs, baseline=baseline))
        if what in ("answer", "all"):
            steps.append(lambda: bench_answer(on_small))
        if what in ("load", "all"):
            from evals.bench_load import bench_load

            steps.append(lambda: bench_load(on_small, concurrency=concurrency, delay=delay))
        if what in ("ingest", "search", "all") and scale > 1:
            corpus = work / "large-corpus"
            steps.append(lambda: make_large_corpus(corpus, scale))
            if what == "search":
                steps.append(lambda: bench_ingest(corpus, onnx.replace(home=work / f"{scale}x-onnx"), f"{scale}x"))
            else:
                steps.append(lambda: bench_ingest_pair(corpus, small, work, f"{scale}x"))
            if what in ("search", "all"):
                steps.append(lambda: bench_search(small.replace(home=work / f"{scale}x-onnx"), f"{scale}x corpus"))
        if what == "scale":
            from evals.bench_scale import bench_bm25, bench_scale

            steps.append(lambda: bench_bm25(chunks, work) if bm25_only else bench_scale(chunks, work))
        for step in steps:
            step()
    return EXIT_OK


def _cli(argv: list[str] | None = None) -> int:
    """`python -m evals.bench WHAT [SCALE] [--baseline DIR] [--runs N]`: what `kb bench` runs, plus
    `--baseline`: another checkout whose cold start is timed in the same rounds (before / after)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m evals.bench")
    parser.add_argument("what", nargs="?", default="all")
    parser.add_argument("scale", nargs="?", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="startup: a checkout (e.g. `git archive` of the previous commit)")
    parser.add_argument("--runs", type=int, default=3, help="startup: rounds (the median is printed)")
    args = parser.parse_args(argv)
    import warnings

    from kb.errors import TokenizerFallbackWarning

    warnings.simplefilter("ignore", TokenizerFallbackWarning)  # logged once already, as `kb bench` does
    return main(args.what, args.scale, baseline=args.baseline, runs=args.runs)


if __name__ == "__main__":
    sys.exit(_cli())
