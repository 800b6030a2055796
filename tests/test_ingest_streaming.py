"""Big inputs: linear parsing of long transcripts, streaming writes that survive a SIGKILL, the
check of every file before the model loads, skipped unsupported files, progress and timings."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest import progress as progress_mod
from ingest.loaders import load_document
from ingest.pipeline import ingest
from ingest.progress import Progress, pick_mode
from ingest.transcripts import parse_transcript
from interfaces.cli import main
from kb.embeddings import HashingEmbedder
from kb.retrieval import Retriever
from kb.settings import Settings
from kb.store import Store
from kb.timecode import TimecodeError, parse_timecode, split_stamp

ROOT = Path(__file__).resolve().parent.parent


def stamp(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def long_transcript(lines: int, verb: str = "mentions", start_s: int = 100 * 3600 - 100) -> str:
    """Caption lines a second apart from 99:58:20 on: past 100 hours after 100 lines."""
    body = "".join(f"[{stamp(start_s + i)}] Caption {i} {verb} the reactor item {i % 89}\n" for i in range(lines))
    return "# Marathon recording\nhttps://www.youtube.com/watch?v=marathon1\n" + body


# --- timestamps and linear parsing ---------------------------------------------------------------
def test_timestamps_with_long_hours_parse() -> None:
    assert parse_timecode("100:00:00") == 360000.0
    assert parse_timecode("[1234:05:06]") == 1234 * 3600 + 5 * 60 + 6
    assert parse_timecode("75:10") == 75 * 60 + 10  # minutes past the hour without an hour field
    assert split_stamp("  [100:00:01] >> hello there") == ("100:00:01", ">> hello there")
    assert split_stamp("[12:7x] garbled") == ("12:7x", "garbled")  # meant as a stamp: reported by the parser
    assert split_stamp("[note] not a stamp") is None and split_stamp("plain words") is None
    with pytest.raises(TimecodeError):
        parse_timecode("100:61:00")


def test_stamps_past_a_hundred_hours_are_timed_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text(long_transcript(400))
    doc = load_document(path)
    assert doc.kind == "transcript" and doc.title == "Marathon recording"
    assert doc.sentences[0].start_s == 359900 and doc.sentences[-1].start_s >= 360000 + 290
    assert all(s.start_s is not None for s in doc.sentences) and doc.sentences[-1].marks, "each caption keeps its second"


def _parse_timed(text: str) -> tuple[float, object]:
    t0 = time.process_time()
    doc = parse_transcript(Path("x.txt"), text)
    return time.process_time() - t0, doc


@pytest.mark.slow
def test_a_200k_line_transcript_parses_in_linear_time() -> None:
    t_small, _ = _parse_timed(long_transcript(20_000))
    t_big, doc = _parse_timed(long_transcript(200_000))
    sentences = doc.sentences  # type: ignore[attr-defined]
    assert sentences[0].start_s == 359900 and sentences[-1].start_s >= 359900 + 199_000
    # 10x the lines: about 10x the work when linear, about 100x when quadratic. Generous bound.
    assert t_big < 30 * t_small + 2.0, (t_small, t_big)


def test_untimed_continuation_lines_are_joined_once() -> None:
    text = "[00:01] start of a very long caption\n" + "".join(f"more words number {i}\n" for i in range(100_000))
    t0 = time.process_time()
    doc = parse_transcript(Path("glued.txt"), text)
    assert time.process_time() - t0 < 60, "gluing each line onto a growing string is quadratic"
    assert doc.sentences[0].start_s == 1.0 and "more words number 99999" in doc.sentences[-1].text


# --- SIGKILL and resume --------------------------------------------------------------------------
CHILD = """
import os, signal, sys
from pathlib import Path
from ingest.loaders import load_document
from ingest.pipeline import ingest
from kb.embeddings import HashingEmbedder
from kb.settings import Settings

class DiesAfter(HashingEmbedder):
    def __init__(self, batches):
        super().__init__()
        self.left = batches
    def embed(self, texts):
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        self.left -= 1
        return super().embed(texts)

home, path, batches, size = sys.argv[1:]
settings = Settings(home=Path(home), embedding_model="hashing", chunk_tokens=120, chunk_overlap_tokens=16)
ingest([Path(path)], settings=settings, embedder=DiesAfter(int(batches)), progress=False, write_batch=int(size))
"""


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed(texts)


def kill_during_ingest(tmp_path: Path, settings: Settings, path: Path, batches: int, size: int) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script), str(settings.home), str(path), str(batches), str(size)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]


def staging(settings: Settings) -> Store:
    return Store(settings.with_(collection_prefix=f"{settings.collection_prefix}-staging"), HashingEmbedder())


@pytest.mark.slow
def test_a_killed_first_ingest_resumes_with_exactly_the_missing_chunks(tmp_path: Path, fast_settings: Settings) -> None:
    doc = tmp_path / "marathon.txt"
    doc.write_text(long_transcript(3000))
    kill_during_ingest(tmp_path, fast_settings, doc, batches=3, size=40)
    store = Store(fast_settings, HashingEmbedder())
    assert store.count() == 3 * 40, "each embedded batch was written before the kill"

    embedder = CountingEmbedder()
    report = ingest([doc], settings=fast_settings, embedder=embedder, progress=False, write_batch=40)
    assert embedder.embedded == report.chunks_added == report.chunks_total - 3 * 40
    ids = store.all_chunks()[0]
    assert len(ids) == len(set(ids)) == report.chunks_total
    again = ingest([doc], settings=fast_settings, embedder=CountingEmbedder(), progress=False)
    assert (again.files_skipped, again.chunks_added, again.model_loaded) == (1, 0, False)


@pytest.mark.slow
def test_a_killed_replacement_keeps_the_old_version_searchable_and_resumes(tmp_path: Path, fast_settings: Settings) -> None:
    doc = tmp_path / "marathon.txt"
    doc.write_text(long_transcript(2000))
    first = ingest([doc], settings=fast_settings, progress=False)
    store = Store(fast_settings, HashingEmbedder())
    old_ids = set(store.all_chunks()[0])

    doc.write_text(long_transcript(2000, verb="describes"))  # every chunk changes
    kill_during_ingest(tmp_path, fast_settings, doc, batches=3, size=40)
    assert set(store.all_chunks()[0]) == old_ids, "search sees the old version, whole, and nothing of the new"
    assert Retriever(fast_settings).search("describes", mode="bm25") == []
    assert staging(fast_settings).count() == 3 * 40

    embedder = CountingEmbedder()
    report = ingest([doc], settings=fast_settings, embedder=embedder, progress=False, write_batch=40)
    assert report.chunks_resumed == 3 * 40 and embedder.embedded == report.chunks_added - 3 * 40
    assert report.chunks_deleted == first.chunks_total
    ids, texts, _ = store.all_chunks()
    assert len(ids) == len(set(ids)) == report.chunks_total and not set(ids) & old_ids
    assert all("describes" in t for t in texts)
    assert staging(fast_settings).count() == 0


# --- check first, model only when needed, errors once ----------------------------------------------
class NoModel:
    """An embedder that fails the test if anything needs the model (it stands in for the hashing
    model the index was made with, which keeps no sentence vectors)."""

    name = "hashing"
    semantic = False

    @property
    def max_tokens(self) -> int:
        raise AssertionError("the embedding model was loaded")

    def count_tokens(self, text: str) -> int:
        raise AssertionError("the embedding model was loaded")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("the embedding model was loaded")


class RecordsLoad:
    """The test embedder, noting when something first asks for the model's limits (loads it)."""

    name = "hashing"

    def __init__(self, events: list[str]) -> None:
        self.inner = HashingEmbedder()
        self.events = events

    @property
    def max_tokens(self) -> int:
        self.events.append("model")
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed(texts)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "reactor.txt").write_text(long_transcript(60))
    (d / "memo.md").write_text("# Memo\n\nThe pump room floods in spring.\n")
    return d


def test_an_unchanged_corpus_is_checked_without_the_model(corpus: Path, tmp_path: Path, fast_settings: Settings) -> None:
    first = ingest([corpus], settings=fast_settings, progress=False)
    assert first.model_loaded and {"parsing", "chunking", "embedding", "writing"} <= set(first.timings)
    bad = tmp_path / "bad.txt"
    bad.write_text("[00:20] later\n[00:10] earlier\n")
    again = ingest([corpus, bad], settings=fast_settings, embedder=NoModel(), progress=False)  # type: ignore[arg-type]
    assert (again.files_skipped, again.files_failed, again.chunks_added, again.model_loaded) == (2, 1, 0, False)
    assert "loading the model" not in again.timings and "embedding" not in again.timings
    assert "goes backwards" in again.errors[0]["reason"]


def test_every_file_is_checked_before_the_model_loads(tmp_path: Path, fast_settings: Settings) -> None:
    (tmp_path / "a-good.txt").write_text("A good first file about pumps.\n")
    (tmp_path / "z-bad.txt").write_bytes(b"\x00\x01binary")
    events: list[str] = []
    report = ingest([tmp_path / "a-good.txt", tmp_path / "z-bad.txt"], settings=fast_settings,
                    embedder=RecordsLoad(events), progress=False,  # type: ignore[arg-type]
                    on_file=lambda path, status: events.append(f"{Path(path).name}: {status}"))
    assert report.files_failed == 1 and report.files_ingested == 1
    assert events.index("z-bad.txt: failed: binary file (contains NUL bytes), not text") < events.index("model")


def test_each_error_is_printed_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("[00:20] later\n[00:10] earlier\n")
    good = tmp_path / "good.txt"
    good.write_text("Some good text.\n")
    assert main(["--home", str(tmp_path / "h"), "--embedding-model", "hashing", "ingest", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert err.count("goes backwards") == 1, err


# --- unsupported files in a folder -----------------------------------------------------------------
def test_a_folders_unsupported_files_are_reported_as_skipped(corpus: Path, fast_settings: Settings,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (corpus / "slides.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "LICENSE").write_text("no extension")
    (corpus / ".hidden.pdf").write_bytes(b"%PDF")  # hidden files stay out of it
    report = ingest([corpus], settings=fast_settings, progress=False)
    assert (report.files_seen, report.files_ingested, report.files_unsupported, report.files_failed) == (4, 2, 2, 0)
    reasons = {Path(u["file"]).name: u["reason"] for u in report.unsupported}
    assert set(reasons) == {"slides.pdf", "LICENSE"}
    assert reasons["slides.pdf"].startswith("unsupported file type '.pdf'")
    assert "2 skipped (unsupported type)" in report.summary_line()

    home = str(fast_settings.home)
    monkeypatch.setenv("KB_CHUNK_TOKENS", str(fast_settings.chunking.tokens))  # the same index as above
    monkeypatch.setenv("KB_CHUNK_OVERLAP_TOKENS", str(fast_settings.chunking.overlap_tokens))
    assert main(["--home", home, "--embedding-model", "hashing", "ingest", str(corpus), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files_unsupported"] == 2 and {Path(u["file"]).name for u in out["unsupported"]} == set(reasons)
    assert out["model_loaded"] is False and out["files_skipped"] == 2


# --- progress and timings --------------------------------------------------------------------------
def test_progress_mode_follows_the_terminal() -> None:
    assert pick_mode(None, io.StringIO()) == "lines"
    assert (pick_mode(True, io.StringIO()), pick_mode(False, io.StringIO()), pick_mode("bar", io.StringIO())) == ("bar", "off", "bar")


def test_progress_lines_show_counts_rate_and_eta() -> None:
    now = [100.0]
    p = Progress("off", clock=lambda: now[0])
    p.phase("embedding", 1000, "chunks")
    p.update(250)
    p.detail("embedding [1/2] marathon.txt")
    now[0] += 10
    assert p.line() == ("embedding: 250/1,000 chunks (25%), 25.0 chunks/s, ETA 30s, 10s elapsed"
                        " · embedding [1/2] marathon.txt")
    p.phase("checking 3 files", 3 << 20, "B")
    p.update(1 << 20)
    now[0] += 2
    assert p.line().startswith("checking 3 files: 1.0 MB/3.0 MB (33%), 512.0 kB/s, ETA 4s")


def test_a_long_ingest_prints_progress_lines_off_a_terminal(tmp_path: Path, fast_settings: Settings,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "marathon.txt"
    doc.write_text(long_transcript(1500))

    class Slow(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            time.sleep(0.05)
            return super().embed(texts)

    monkeypatch.setattr(progress_mod, "LINE_INTERVAL_S", 0.05)
    ingest([doc], settings=fast_settings, embedder=Slow(), progress=None, write_batch=20)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("kb ingest: embedding:")]
    assert lines and any("ETA" in ln and "chunks/s" in ln for ln in lines), lines[:3]
