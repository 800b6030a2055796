"""The source catalogue (kb/catalogue.py) on a real Chroma in a temp folder: `kb sources` from it
prints exactly what the store gives, a stale or unreadable one is never used, and with a Chroma
server there is none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from interfaces.cli import main
from kb import catalogue
from kb.settings import Settings, child_environment
from kb.store import Store
from kb.types import Chapter

ROOT = Path(__file__).resolve().parent.parent
INFO = {
    "id": "xyzXYZ98765", "title": "Sharpening Hand Planes", "channel": "Bench Notes", "upload_date": "20260402",
    "webpage_url": "https://www.youtube.com/watch?v=xyzXYZ98765", "extractor_key": "Youtube",
    "subtitles": {"en": [{"ext": "vtt"}]},
    "chapters": [{"start_time": 0.0, "title": "Flattening the back"}, {"start_time": 75.5, "title": "The micro bevel"}],
}
VTT = "WEBVTT\n\n00:00:02.000 --> 00:00:05.000\nA flat back comes first.\n\n" \
      "00:01:16.000 --> 00:01:20.000\nA two degree micro bevel is quick to renew.\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    (d / "videos").mkdir(parents=True)
    (d / "videos" / "Sharpening Hand Planes [xyzXYZ98765].info.json").write_text(json.dumps(INFO))
    (d / "videos" / "Sharpening Hand Planes [xyzXYZ98765].en.vtt").write_text(VTT)
    (d / "kilns.md").write_text("# Kilns\n\nA kiln dries oak in 40 days. Ash takes about 25 days.\n")
    (d / "glue.txt").write_text("[00:10] Hide glue sets in a minute.\n[01:30] It can be undone with heat.\n")
    return d


@pytest.fixture
def cli_env(fast_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kb` reads the same settings as `fast_settings` (its home is KB_HOME already)."""
    monkeypatch.setenv("KB_EMBEDDING_MODEL", fast_settings.embedding.model)
    monkeypatch.setenv("KB_CHUNK_TOKENS", str(fast_settings.chunking.tokens))
    monkeypatch.setenv("KB_CHUNK_OVERLAP_TOKENS", str(fast_settings.chunking.overlap_tokens))


def kb_out(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_ingest_writes_a_catalogue_that_lists_what_the_store_lists(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    store = Store(fast_settings)
    from_store = store.sources()
    assert len(from_store) == 3 and catalogue.path(fast_settings, store.name).is_file()
    assert catalogue.load(fast_settings, store.name) == from_store  # chapters, feed, published, url included
    video = next(s for s in from_store if s.feed)
    assert video.chapters == (Chapter(0.0, "Flattening the back"), Chapter(75.5, "The micro bevel"))


def test_kb_sources_prints_the_same_from_the_catalogue_and_from_the_store(
        corpus: Path, fast_settings: Settings, cli_env: None, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    store = Store(fast_settings)
    assert catalogue.load(fast_settings, store.name) is not None
    with monkeypatch.context() as m:  # the fast path opens no store
        for name in ("exists", "sources", "count"):
            m.setattr(Store, name, lambda *a, **k: pytest.fail("the store was read"))
        fast = [kb_out(capsys, "sources", *flags) for flags in ([], ["--json"], ["--count"])]
    catalogue.path(fast_settings, store.name).unlink()
    slow = [kb_out(capsys, "sources", *flags) for flags in ([], ["--json"], ["--count"])]
    assert fast == slow
    assert "chapters: 00:00 Flattening the back · 01:15 The micro bevel" in fast[0]
    assert len(json.loads(fast[1])) == 3 and int(fast[2]) == store.count()
    # the store's listing wrote a current catalogue again
    assert catalogue.load(fast_settings, store.name) == store.sources()


def test_a_stale_catalogue_is_not_used(corpus: Path, fast_settings: Settings, cli_env: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    store = Store(fast_settings)
    old = catalogue.load(fast_settings, store.name)
    assert old is not None and len(old) == 3
    # another writer changes the collection and records a new fingerprint, without a catalogue
    store.delete(store.ids({"source": "glue"}))
    store.bump_fingerprint()
    assert catalogue.load(fast_settings, store.name) is None
    listed = json.loads(kb_out(capsys, "sources", "--json"))
    assert sorted(s["source"] for s in listed) == ["Sharpening Hand Planes [xyzXYZ98765]", "kilns"]
    assert kb_out(capsys, "sources", "--count").strip() == str(store.count())
    # and the next ingest keeps it current
    (corpus / "glue.txt").write_text("[00:10] Hide glue sets in a minute, and again.\n")
    ingest([corpus], settings=fast_settings, progress=False)
    assert catalogue.load(fast_settings, Store(fast_settings).name) == Store(fast_settings).sources()
    assert len(Store(fast_settings).sources()) == 3


def test_a_write_removes_the_catalogue_and_a_moved_file_is_listed_at_its_new_path(
        corpus: Path, fast_settings: Settings, tmp_path: Path) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    store = Store(fast_settings)
    file = catalogue.path(fast_settings, store.name)
    assert file.is_file()
    store.delete(store.ids({"source": "kilns"}))  # e.g. an ingest killed before its new fingerprint
    assert not file.exists() and catalogue.load(fast_settings, store.name) is None
    assert "kilns" not in {s.source for s in catalogue.listed(store)} and file.is_file()

    moved = tmp_path / "moved"
    (corpus / "glue.txt").rename(moved.with_suffix(".txt"))
    moved.mkdir()
    moved.with_suffix(".txt").rename(moved / "glue.txt")
    report = ingest([moved], settings=fast_settings, progress=False)
    assert report.files_skipped == 1 and report.chunks_added == 0
    (glue,) = [s for s in catalogue.load(fast_settings, store.name) or [] if s.source == "glue"]
    assert glue.path == str(moved / "glue.txt") and glue == next(s for s in store.sources() if s.source == "glue")


def test_an_edited_or_foreign_catalogue_is_not_used(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    store = Store(fast_settings)
    file = catalogue.path(fast_settings, store.name)
    data = json.loads(file.read_text())
    for change in ({"fingerprint": "1.0-3"}, {"collection": "another"}, {"format": 0}, {"fields": ["source"]},
                   {"sources": [{"source": "x"}]}):
        file.write_text(json.dumps({**data, **change}))
        assert catalogue.load(fast_settings, store.name) is None, change
    file.write_text("{not json")
    assert catalogue.load(fast_settings, store.name) is None


def test_no_catalogue_without_a_readable_embedded_store(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    name = Store(fast_settings).name
    infos = Store(fast_settings).sources()
    fingerprint = catalogue.stored_fingerprint(fast_settings, name)
    assert fingerprint and fingerprint == Store(fast_settings).fingerprint()
    assert catalogue.stored_fingerprint(fast_settings, "no-such-collection") is None
    # a store that is not (or no longer) Chroma's SQLite file
    other = fast_settings.with_(home=fast_settings.home.parent / "other-home")
    other.chroma_path.mkdir(parents=True)
    (other.chroma_path / "chroma.sqlite3").write_text("not a database")
    catalogue.save(other, name, fingerprint, infos)
    assert catalogue.path(other, name).is_file() and catalogue.load(other, name) is None


def test_with_a_chroma_server_there_is_no_catalogue(corpus: Path, fast_settings: Settings) -> None:
    """Other clients write to a server: its listing is always read from it (never from a local file)."""
    ingest([corpus], settings=fast_settings, progress=False)
    store = Store(fast_settings)
    infos, fingerprint = store.sources(), store.fingerprint()
    served = fast_settings.with_(chroma_url="http://127.0.0.1:9")
    file = catalogue.path(served, store.name)
    file.unlink()
    catalogue.save(served, store.name, fingerprint, infos)
    assert not file.exists()
    catalogue.save(fast_settings, store.name, fingerprint, infos)  # the same file, written for the local store
    assert catalogue.path(served, store.name) == file and file.is_file()
    assert catalogue.load(served, store.name) is None


@pytest.mark.slow
def test_kb_sources_from_the_catalogue_does_not_import_chroma(corpus: Path, fast_settings: Settings) -> None:
    ingest([corpus], settings=fast_settings, progress=False)
    env = child_environment(ROOT, home=fast_settings.home, embedding_model=fast_settings.embedding.model,
                            chunk_tokens=fast_settings.chunking.tokens,
                            chunk_overlap_tokens=fast_settings.chunking.overlap_tokens)
    code = ("import sys; from interfaces.cli import main; code = main(['sources']); "
            "print('chromadb' in sys.modules, file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False" and "Sharpening Hand Planes" in done.stdout
