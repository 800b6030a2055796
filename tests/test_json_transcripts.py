"""Podcasting 2.0 and Whisper JSON transcripts, and yt-dlp output folders (NAME.info.json + captions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.loaders import load_document
from ingest.pipeline import expand_paths, ingest
from kb.settings import Settings
from kb.store import Store
from kb.types import Chapter

PODCASTING20 = {"version": "1.0.0", "segments": [
    {"speaker": "Ada", "startTime": 0.5, "endTime": 3.0, "body": "Welcome to the workshop on tidal turbines."},
    {"speaker": "Ada", "startTime": 3.0, "endTime": 6.0, "body": "Each rotor spins slowly under water."},
    {"speaker": "Grace", "startTime": 65.2, "endTime": 70.0, "body": "Barnacles cost the operators a lot of money."},
]}
WHISPER = {"text": " The kiln runs at night. Glazes melt at high heat.", "language": "en", "segments": [
    {"id": 0, "start": 0.0, "end": 2.4, "text": " The kiln runs at night."},
    {"id": 1, "start": 125.0, "end": 128.0, "text": " Glazes melt at high heat.", "speaker": "SPEAKER_01"},
]}


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_podcasting20_json_keeps_times_and_speakers(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path / "turbines.json", PODCASTING20))
    assert doc.source == "turbines" and doc.kind == "json" and doc.content_hash
    assert [s.start_s for s in doc.sentences] == [0.5, 3.0, 65.2]
    assert doc.sentences[0].text.startswith("Ada: Welcome") and doc.sentences[2].text.startswith("Grace: Barnacles")


def test_whisper_json(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path / "pottery.json", WHISPER))
    assert [(s.start_s, s.text) for s in doc.sentences] == [(0.0, "The kiln runs at night."),
                                                              (125.0, "SPEAKER_01: Glazes melt at high heat.")]


@pytest.mark.parametrize(("data", "reason"), [
    ("{not json", "not valid JSON (line 1"),
    ([1, 2], "JSON list at the top"),
    ({"chapters": []}, "JSON without a transcript"),
    ({"segments": [{"start": 5, "text": "a"}, {"start": 2, "text": "b"}]}, "segment 2: start time 2 s goes backwards"),
    ({"segments": [{"text": "no time"}]}, "segment 1: no numeric start time"),
    ({"segments": []}, "no text found"),
])
def test_bad_json_transcripts_name_the_reason(tmp_path: Path, data: object, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(IngestError) as err:
        load_document(path)
    assert err.value.path == str(path) and reason in err.value.reason


INFO = {
    "id": "abcDEF12345", "title": "Restoring a Wooden Boat", "channel": "Harbour Workshop",
    "upload_date": "20260314", "webpage_url": "https://www.youtube.com/watch?v=abcDEF12345",
    "extractor_key": "Youtube", "subtitles": {"en": [{"ext": "vtt"}]},
    "chapters": [{"start_time": 0.0, "end_time": 60.0, "title": "Stripping the hull"},
                 {"start_time": 60.0, "end_time": 200.0, "title": "Steaming new ribs"}],
}
VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
We start by stripping the old varnish off the hull.

00:01:05.000 --> 00:01:09.000
Oak ribs bend easily after an hour in the steam box.
"""


def ytdlp_folder(root: Path) -> Path:
    folder = root / "downloads"
    folder.mkdir()
    (folder / "Restoring a Wooden Boat [abcDEF12345].info.json").write_text(json.dumps(INFO))
    (folder / "Restoring a Wooden Boat [abcDEF12345].en.vtt").write_text(VTT)
    (folder / "Restoring a Wooden Boat [abcDEF12345].live_chat.json").write_text("{}")
    return folder


def test_ytdlp_folder_is_one_document_with_link_and_chapters(tmp_path: Path) -> None:
    folder = ytdlp_folder(tmp_path)
    files, errors = expand_paths([folder])
    assert [f.name for f in files] == ["Restoring a Wooden Boat [abcDEF12345].info.json"] and not errors
    doc = load_document(files[0])
    assert doc.source == "Restoring a Wooden Boat [abcDEF12345]" and doc.title == "Restoring a Wooden Boat"
    assert doc.url == INFO["webpage_url"] and doc.published == "2026-03-14" and doc.feed == "Harbour Workshop"
    assert doc.chapters == (Chapter(0.0, "Stripping the hull"), Chapter(60.0, "Steaming new ribs"))
    assert [s.start_s for s in doc.sentences] == [1.0, 65.0]


def test_info_json_without_captions_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.info.json"
    path.write_text(json.dumps(INFO))
    with pytest.raises(IngestError, match="no captions beside it"):
        load_document(path)


def test_ytdlp_folder_ingests_and_stores_chapters(tmp_path: Path, fast_settings: Settings) -> None:
    folder = ytdlp_folder(tmp_path)
    report = ingest([folder], settings=fast_settings, progress=False)
    assert (report.files_seen, report.files_ingested, report.files_failed) == (1, 1, 0)
    (info,) = Store(fast_settings).sources()
    assert info.chapters == (Chapter(0.0, "Stripping the hull"), Chapter(60.0, "Steaming new ribs"))
    assert (info.published, info.feed, info.url) == ("2026-03-14", "Harbour Workshop", INFO["webpage_url"])
    # a changed chapter list alone reaches the stored chunks too
    data = dict(INFO, chapters=[{"start_time": 0, "title": "Hull"}])
    (folder / "Restoring a Wooden Boat [abcDEF12345].info.json").write_text(json.dumps(data))
    assert ingest([folder], settings=fast_settings, progress=False).files_ingested == 1
    assert Store(fast_settings).sources()[0].chapters == (Chapter(0.0, "Hull"),)


def test_sources_shows_chapters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from interfaces.cli import main

    home = tmp_path / "home"
    ingest([ytdlp_folder(tmp_path)], settings=Settings(home=home, embedding_model="hashing"), progress=False)
    assert main(["--home", str(home), "--embedding-model", "hashing", "sources"]) == 0
    out = capsys.readouterr().out
    assert "chapters: 00:00 Stripping the hull · 01:00 Steaming new ribs" in out
    assert "Harbour Workshop · published 2026-03-14" in out


def test_automatic_captions_are_not_repeated(tmp_path: Path) -> None:
    rolling = ("WEBVTT\nKind: captions\n\n"
               "00:00:00.100 --> 00:00:02.000 align:start position:0%\n \nfresh<00:00:00.500><c> bread</c>\n\n"
               "00:00:02.000 --> 00:00:02.010 align:start position:0%\nfresh bread\n \n\n"
               "00:00:02.010 --> 00:00:04.000 align:start position:0%\nfresh bread\nneeds<00:00:02.500><c> time.</c>\n")
    (tmp_path / "loaf.info.json").write_text(json.dumps({"title": "Loaf", "webpage_url": "https://youtu.be/abcdefghijk"}))
    (tmp_path / "loaf.en.vtt").write_text(rolling)
    doc = load_document(tmp_path / "loaf.info.json")
    assert [(s.start_s, s.text) for s in doc.sentences] == [(0.1, "fresh bread needs time.")]
