"""The live YouTube path through yt-dlp's own API: yt-dlp runs for real (format selection, caption
choice, writing the info file and captions, downloading them over HTTP from 127.0.0.1), with fake
extractors standing in for YouTube's pages, so no test touches the internet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import yt_dlp
from yt_dlp.extractor.common import InfoExtractor

from ingest.sync import ingest_url, sync
from ingest.youtube import is_companion
from kb.settings import Settings
from kb.store import Store
from kb.types import Chapter
from tests.fakes.podcast_host import PodcastHost

pytestmark = pytest.mark.slow


def vtt(text: str, at: str = "00:00:04.000") -> str:
    return f"WEBVTT\n\n{at} --> 00:00:09.000\n{text}\n"


class FakeVideoIE(InfoExtractor):
    IE_NAME = "fakeyoutube"
    _VALID_URL = r"https://www\.youtube\.com/watch\?v=(?P<id>[\w-]{11})"
    videos: ClassVar[dict[str, dict[str, Any]]] = {}
    calls: ClassVar[list[str]] = []

    def _real_extract(self, url: str) -> dict[str, Any]:
        vid = self._match_id(url)
        self.calls.append(vid)
        return {"id": vid, "webpage_url": url, "formats": [], "extractor_key": "Youtube", **self.videos[vid]}


class FakePlaylistIE(InfoExtractor):
    IE_NAME = "fakeyoutube:playlist"
    _VALID_URL = r"https://www\.youtube\.com/playlist\?list=(?P<id>\w+)"
    entries: ClassVar[list[str]] = []

    def _real_extract(self, url: str) -> dict[str, Any]:
        return self.playlist_result(
            [self.url_result(f"https://www.youtube.com/watch?v={v}", FakeVideoIE, v) for v in self.entries],
            self._match_id(url), "Workshop playlist")


def factory(params: dict[str, Any]) -> yt_dlp.YoutubeDL:
    ydl = yt_dlp.YoutubeDL(params, auto_init=False)
    ydl.add_info_extractor(FakeVideoIE())
    ydl.add_info_extractor(FakePlaylistIE())
    return ydl


@pytest.fixture
def host() -> Iterator[PodcastHost]:
    with PodcastHost() as h:
        def subs(name: str, text: str, at: str = "00:00:04.000") -> list[dict[str, str]]:
            return [{"ext": "vtt", "url": h.serve(f"/subs/{name}.vtt", vtt(text, at), "text/vtt")}]

        FakeVideoIE.calls = []
        FakeVideoIE.videos = {
            "manualVid01": {"title": "Sharpening chisels", "channel": "Bench Notes", "upload_date": "20260102",
                            "chapters": [{"start_time": 0, "end_time": 30, "title": "Grinding"},
                                         {"start_time": 30, "end_time": 90, "title": "Honing"}],
                            "subtitles": {"en": subs("manual", "A hand-written caption about honing steel.", "00:10:31.000")},
                            "automatic_captions": {"en": subs("auto1", "an automatic caption nobody wrote")}},
            "autoOnly002": {"title": "Gluing dovetails", "channel": "Bench Notes", "upload_date": "20260109",
                            "automatic_captions": {"en": subs("auto2", "hide glue sets as it cools"),
                                                   "de": subs("auto2de", "Hautleim bindet beim Abkuehlen")}},
            "noCaption03": {"title": "Silent timelapse", "channel": "Bench Notes", "upload_date": "20260116",
                            "automatic_captions": {"de": subs("auto3de", "nur Deutsch")}},
            "newVideo004": {"title": "Oiling a workbench", "channel": "Bench Notes", "upload_date": "20260123",
                            "subtitles": {"en": subs("new", "Linseed oil soaks into the beech top.")}},
        }
        FakeVideoIE.videos["brokenSub05"] = {"title": "Broken captions", "channel": "Bench Notes",
                                             "subtitles": {"en": [{"ext": "vtt", "url": h.url("/subs/missing.vtt")}]}}
        FakePlaylistIE.entries = ["manualVid01", "autoOnly002", "noCaption03"]
        yield h


def test_playlist_captions_chapters_and_sync(host: PodcastHost, fast_settings: Settings) -> None:
    url = "https://www.youtube.com/playlist?list=PLbench"
    seen: list[str] = []
    report = ingest_url(url, fast_settings, ydl_factory=factory, on_item=lambda i: seen.append(i.line()))
    status = {i.item: (i.status, i.reason) for i in report.items}
    assert status["Sharpening chisels"][0] == status["Gluing dovetails"][0] == "ingested"
    failed = status["https://www.youtube.com/watch?v=noCaption03"]
    assert failed == ("failed", "no 'en' captions, manual or automatic (KB_CAPTION_LANGUAGE=en)") and report.failed == 1
    assert not any(p.suffix in (".mp4", ".webm", ".m4a") for p in fast_settings.sources_path.rglob("*")), "no media"

    infos = {s.source: s for s in Store(fast_settings).sources()}
    chisels = infos["manualVid01"]
    assert chisels.url == "https://www.youtube.com/watch?v=manualVid01" and chisels.feed == "Bench Notes"
    assert chisels.published == "2026-01-02" and chisels.chapters == (Chapter(0, "Grinding"), Chapter(30, "Honing"))
    texts = " ".join(Store(fast_settings).all_chunks()[1])
    assert "hand-written caption" in texts and "automatic caption nobody wrote" not in texts  # manual before automatic
    assert "hide glue" in texts and "Hautleim" not in texts  # automatic, in KB_CAPTION_LANGUAGE

    from kb.retrieval import Retriever

    (hit,) = Retriever(fast_settings).search("honing steel caption", k=1)
    assert hit.link == "https://www.youtube.com/watch?v=manualVid01&t=631"

    FakePlaylistIE.entries.append("newVideo004")
    FakeVideoIE.calls.clear()
    again = sync(fast_settings, ydl_factory=factory)
    assert [i.item for i in again.items if i.status == "ingested"] == ["Oiling a workbench"]
    assert "manualVid01" not in FakeVideoIE.calls and "autoOnly002" not in FakeVideoIE.calls


def test_written_folder_is_what_ytdlp_writes(host: PodcastHost, fast_settings: Settings) -> None:
    report = ingest_url("https://www.youtube.com/watch?v=manualVid01", fast_settings, ydl_factory=factory)
    assert report.failed == 0, report.items
    (info,) = fast_settings.sources_path.rglob("*.info.json")
    subs = [p for p in info.parent.iterdir() if p != info]
    assert info.name == "manualVid01.info.json" and [p.name for p in subs] == ["manualVid01.en.vtt"]
    assert is_companion(subs[0]) and json.loads(info.read_text())["title"] == "Sharpening chisels"


def test_non_http_youtube_like_url_is_refused(fast_settings: Settings) -> None:
    report = ingest_url("file:///www.youtube.com/watch", fast_settings, ydl_factory=factory)
    (item,) = report.items
    assert item.status == "failed" and "only http and https" in item.reason
    assert not (fast_settings.sources_path / "sources.json").read_text().count("file://")


def test_a_caption_download_that_fails_is_reported(host: PodcastHost, fast_settings: Settings) -> None:
    report = ingest_url("https://www.youtube.com/watch?v=brokenSub05", fast_settings, ydl_factory=factory)
    (item,) = report.items
    assert item.status == "failed" and "Unable to download video subtitles" in item.reason and "404" in item.reason
    unsupported = ingest_url("https://www.youtube.com/feed/nothing-matches", fast_settings, ydl_factory=factory)
    assert unsupported.items[0].status == "failed" and unsupported.items[0].item == ""
