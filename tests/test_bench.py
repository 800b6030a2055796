"""The benchmarks run end to end on small sizes (figures are printed, never asserted on), say up
front what they build, and remove their temporary folder when terminated."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evals.bench_scale import bench_scale, synthetic_batches
from kb.settings import Settings

pytestmark = pytest.mark.slow  # benchmarks: subprocesses, servers, synthetic data by the thousand

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_HOME=str(tmp_path / "home"), KB_EMBEDDING_MODEL="hashing", PYTHONPATH=str(ROOT))
    return env


def test_bench_search_says_what_it_builds_and_cleans_up_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "interfaces.cli", "bench", "search", "--scale", "400"], cwd=ROOT,
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    plan = proc.stdout.readline()
    assert "builds the bundled corpus" in plan and "400 copies" in plan and re.search(r"about \d+ (s|min)–\d+ (s|min) on a quiet", plan)
    working = proc.stdout.readline()
    work = Path(re.search(r"working in (\S+)", working).group(1))  # type: ignore[union-attr]
    assert work.is_dir()
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0 and not work.exists()


def test_bench_load_answers_every_concurrent_question(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "interfaces.cli", "bench", "load", "--concurrency", "4", "--delay", "0.05"],
                         cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"4 at once: all done in [\d.]+ s", out.stdout) and "errors 0" in out.stdout


def test_synthetic_chunks_are_deterministic_and_shaped_like_ingested_ones() -> None:
    a = [c.text for chunks, _ in synthetic_batches(30, batch=10) for c in chunks]
    b = [c.text for chunks, _ in synthetic_batches(30, batch=10) for c in chunks]
    assert a == b and len(a) == 30 and len(set(a)) == 30
    chunks, vectors = next(synthetic_batches(5))
    assert vectors.shape == (5, 384) and chunks[0].sentences[0].start_s == 0.0 and chunks[0].url


def test_bench_scale_small(tmp_path: Path) -> None:
    row = bench_scale(300, tmp_path)
    assert row["chunks"] == 300 and row["origin"] == "loaded" and row["disk_bm25_mb"] > 0
    assert row["warm_p95_ms"] >= row["warm_p50_ms"] > 0
    assert Settings(home=tmp_path / "scale-300").chroma_path.is_dir()


@pytest.mark.slow
def test_bench_breakdown_prints_each_stage_of_a_cold_answer(tmp_path: Path) -> None:
    from ingest.pipeline import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pumps.txt").write_text("[00:03] Each pump in the cooling loop draws three kilowatts.\n")
    env = _env(tmp_path)
    ingest([docs], settings=Settings(home=tmp_path / "home", embedding_model="hashing"), progress=False)
    out = subprocess.run([sys.executable, "-m", "evals.bench_breakdown", "How much power does a pump draw?"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert len(lines) == 13 and all(re.match(r"\s*\d+\.\d{3} CPU-s  \S", line) for line in lines)
    assert "chromadb" in out.stdout and "in all" in lines[-1] and "(load " in lines[-1]
