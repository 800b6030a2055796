"""Every kind of bad input is reported with the file and the reason; the rest still ingests and
nothing already stored is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from interfaces.cli import main
from kb.settings import Settings
from kb.store import Store

BAD_FILES = {
    "empty.txt": (b"", "empty file"),
    "blank.txt": (b"  \n\n", "empty file"),
    "image.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    "latin1.txt": ("caf\u00e9 au lait".encode("latin-1"), "not UTF-8"),
    "backwards.txt": (b"[00:10] one\n[00:20] two\n[00:15] three\n", "line 3: timestamp [00:15] goes backwards"),
    "badstamp.txt": (b"[00:10] one\n[00:20] two\n[00:7x] three\n[00:30] four\n", "line 3: not a timestamp"),
    "bad-seconds.txt": (b"[00:10] one\n[00:99] two\n", "line 2: not a timestamp"),
    "slides.pdf": (b"%PDF-1.4", "unsupported file type '.pdf'"),
    "backwards.srt": (b"1\n00:00:05,000 --> 00:00:06,000\nlater\n\n2\n00:00:01,000 --> 00:00:02,000\nearlier\n", "goes backwards"),
    "broken.vtt": (b"not a webvtt file\n", "not a valid WebVTT"),
}


@pytest.fixture
def messy(tmp_path: Path) -> list[Path]:
    d = tmp_path / "messy"
    d.mkdir()
    paths = []
    for name, (data, _) in BAD_FILES.items():
        (d / name).write_bytes(data)
        paths.append(d / name)
    good = d / "good.txt"
    good.write_text("[00:01] A good line about GPUs.\n[00:05] Another good line.\n")
    return [*paths, good, tmp_path / "missing.txt"]


def test_each_bad_file_is_reported_and_the_rest_ingests(messy: list[Path], fast_settings: Settings) -> None:
    report = ingest(messy, settings=fast_settings, progress=False)
    reasons = {Path(e["file"]).name: e["reason"] for e in report.errors}
    for name, (_, expected) in BAD_FILES.items():
        assert expected in reasons[name], (name, reasons.get(name))
    assert reasons["missing.txt"] == "no such file or directory"
    assert report.files_ingested == 1 and report.files_failed == len(BAD_FILES) + 1
    assert {s.source for s in Store(fast_settings).sources()} == {"good"}


def test_nothing_stored_is_lost_when_a_file_turns_bad(tmp_path: Path, fast_settings: Settings) -> None:
    doc = tmp_path / "talk.txt"
    doc.write_text("[00:01] Compute is scarce.\n[00:05] Power is the bottleneck.\n")
    first = ingest([doc], settings=fast_settings, progress=False)
    doc.write_bytes(b"[00:01] Compute\n[00:00] goes backwards\n")
    second = ingest([doc], settings=fast_settings, progress=False)
    assert second.files_failed == 1 and second.chunks_deleted == 0
    assert Store(fast_settings).count() == first.chunks_total


def test_cli_exit_status_and_json_summary(messy: list[Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["--home", str(tmp_path / "h"), "--embedding-model", "hashing", "ingest", "--json", *map(str, messy)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert set(out) >= {"files_seen", "files_ingested", "files_skipped", "files_failed", "chunks_added",
                        "chunks_deleted", "chunks_total", "errors"}
    assert out["files_failed"] == len(BAD_FILES) + 1 and out["files_ingested"] == 1
    assert all(set(e) == {"file", "reason"} for e in out["errors"])


def test_chroma_server_down_is_one_clear_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["--home", str(tmp_path / "h"), "--embedding-model", "hashing", "--chroma-url", f"http://127.0.0.1:{port}", "sources"])
    err = capsys.readouterr().err
    assert code == 3
    assert f"cannot reach the Chroma server at http://127.0.0.1:{port}" in err and "Traceback" not in err
