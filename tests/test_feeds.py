"""Podcast feeds end to end through the `kb` command, against a feed host on 127.0.0.1:
`kb ingest FEED_URL`, `kb sync` after the feed gains an episode, `--prune`, `kb sources --feeds`,
and feeds that are broken in each of the ways the README lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from interfaces.cli import main
from tests.fakes.podcast_host import PodcastHost

pytestmark = pytest.mark.slow

SRT = """1
00:00:02,000 --> 00:00:06,000
Salt marshes store carbon in their mud for centuries.

2
00:10:31,000 --> 00:10:36,000
A hectare of marsh buries about two tonnes of carbon a year.
"""
VTT = """WEBVTT

00:00:01.000 --> 00:00:05.000
Beekeepers check each hive for the queen every week.

00:03:20.000 --> 00:03:24.000
A strong colony holds around fifty thousand bees in summer.
"""
P20 = {"version": "1.0.0", "segments": [
    {"speaker": "Mira", "startTime": 0.0, "endTime": 4.0, "body": "Glaciers flow downhill like very slow rivers."},
    {"speaker": "Tom", "startTime": 95.5, "endTime": 99.0, "body": "Crevasses open where the ice bends over bedrock."},
]}
CHAPTERS = {"version": "1.2.0", "chapters": [{"startTime": 0, "title": "How ice moves"}, {"startTime": 90, "title": "Crevasses"}]}
NEW_SRT = """1
00:00:03,000 --> 00:00:07,000
Lighthouse keepers once trimmed the lamp wicks every four hours.
"""


def item(n: int, title: str, *tags: str, enclosure: bool = True) -> str:
    enc = f'<enclosure url="{{base}}/audio/ep{n}.mp3" type="audio/mpeg" length="1000"/>' if enclosure else ""
    return (f"<item><title>{title}</title><guid isPermaLink=\"false\">ep-{n}</guid><link>{{base}}/episodes/{n}</link>"
            f"<pubDate>Mon, 0{n} Nov 2026 10:00:00 GMT</pubDate>{enc}{''.join(tags)}</item>")


def transcript(path: str, kind: str, lang: str = "en") -> str:
    return f'<podcast:transcript url="{{base}}{path}" type="{kind}" language="{lang}"/>'


ITEMS = [
    item(1, "Marsh carbon", transcript("/t/1.html", "text/html"), transcript("/t/1.srt", "application/x-subrip")),
    item(2, "Hive inspections", transcript("/t/2.vtt", "text/vtt")),
    item(3, "Moving ice", transcript("/t/3.json", "application/json"),
         '<podcast:chapters url="{base}/t/3.chapters.json" type="application/json+chapters"/>', enclosure=False),
    item(4, "Listener mailbag"),
    item(5, "Lost episode", transcript("/t/gone.srt", "application/x-subrip")),
    item(6, "Wandering episode", transcript("/t/elsewhere.srt", "application/x-subrip")),
]
NEW_ITEM = item(7, "Lighthouse lamps", transcript("/t/7.srt", "application/srt"))


def feed(items: list[str], base: str, title: str = "Field Notes") -> str:
    body = "".join(items).replace("{base}", base)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
            f"<title>{title}</title><link>{base}/</link>{body}</channel></rss>")


@pytest.fixture
def host() -> Iterator[PodcastHost]:
    with PodcastHost() as h:
        base = h.url("")
        h.serve("/feed.xml", feed(ITEMS, base), "application/rss+xml")
        h.serve("/t/1.srt", SRT, "application/x-subrip")
        h.serve("/t/1.html", "<p>should not be chosen</p>", "text/html")
        h.serve("/t/2.vtt", VTT, "text/vtt")
        h.serve("/t/3.json", json.dumps(P20), "application/json")
        h.serve("/t/3.chapters.json", json.dumps(CHAPTERS), "application/json+chapters")
        h.redirect("/t/elsewhere.srt", "file:///etc/passwd")
        h.serve("/t/7.srt", NEW_SRT, "application/x-subrip")
        yield h


def kb(home: Path, *args: str) -> int:
    return main(["--home", str(home), "--embedding-model", "hashing", "--backend", "offline", *args])


def test_feed_ingest_then_sync_then_prune(host: PodcastHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home, url = tmp_path / "home", host.url("/feed.xml")
    assert kb(home, "ingest", url) == 1  # two episodes failed
    err = capsys.readouterr().err
    assert "'Marsh carbon': ingested" in err and "'Hive inspections': ingested" in err and "'Moving ice': ingested" in err
    assert "'Listener mailbag': skipped (no podcast:transcript in the item)" in err
    assert f"error: {host.url('/t/gone.srt')}: HTTP 404 Not Found (episode 'Lost episode')" in err
    assert "error: file:///etc/passwd: only http and https URLs are fetched, not 'file' (episode 'Wandering episode')" in err
    assert "/t/1.html" not in host.hits  # SRT preferred over HTML

    assert kb(home, "sources", "--json") == 0
    sources = {s["title"]: s for s in json.loads(capsys.readouterr().out)}
    assert set(sources) == {"Marsh carbon", "Hive inspections", "Moving ice"}
    marsh, ice = sources["Marsh carbon"], sources["Moving ice"]
    assert marsh["url"] == host.url("/audio/ep1.mp3") and marsh["published"] == "2026-11-01" and marsh["feed"] == "Field Notes"
    assert ice["url"] == host.url("/episodes/3")  # no enclosure: the episode page
    assert ice["chapters"] == [{"start_s": 0.0, "title": "How ice moves"}, {"start_s": 90.0, "title": "Crevasses"}]

    assert kb(home, "search", "how much carbon does a hectare of marsh bury", "--json", "-k", "1") == 0
    (hit,) = json.loads(capsys.readouterr().out)
    assert hit["title"] == "Marsh carbon" and hit["at"] == "10:31" and hit["url"] == host.url("/audio/ep1.mp3") + "#t=631"

    assert kb(home, "ask", "How much carbon does a hectare of salt marsh bury each year?", "--json") == 0
    answer = json.loads(capsys.readouterr().out)
    assert not answer["abstained"], answer["answer"]
    assert any(c["url"] == host.url("/audio/ep1.mp3") + "#t=631" for c in answer["citations"]), answer["citations"]

    # the feed gains an episode: sync fetches and ingests exactly that one
    host.serve("/feed.xml", feed([*ITEMS, NEW_ITEM], host.url("")), "application/rss+xml")
    host.hits.clear()
    assert kb(home, "sync", "--json") == 1  # the two broken episodes are tried again, and fail again
    report = json.loads(capsys.readouterr().out)
    by_status = {}
    for it in report["items"]:
        by_status.setdefault(it["status"], []).append(it["item"])
    assert by_status["ingested"] == ["Lighthouse lamps"] and report["files_ingested"] == 1
    assert sorted(by_status["unchanged"]) == ["Hive inspections", "Marsh carbon", "Moving ice"]
    assert not {"/t/1.srt", "/t/2.vtt", "/t/3.json"} & set(host.hits), "unchanged episodes are not downloaded again"

    assert kb(home, "sources", "--feeds", "--json") == 0
    (info,) = json.loads(capsys.readouterr().out)
    assert info["url"] == url and info["title"] == "Field Notes" and info["synced_at"]
    assert info["episodes"] == {"ingested": 4, "skipped": 1, "failed": 2}

    # an episode leaves the feed: kept without --prune, dropped with it
    host.serve("/feed.xml", feed([ITEMS[1], ITEMS[2], NEW_ITEM], host.url("")), "application/rss+xml")
    assert kb(home, "sync") == 0
    assert "3 unchanged" in capsys.readouterr().out
    assert kb(home, "sources", "--json") == 0
    assert "Marsh carbon" in {s["title"] for s in json.loads(capsys.readouterr().out)}
    assert kb(home, "sync", "--prune") == 0
    assert "'Marsh carbon': pruned" in capsys.readouterr().err
    assert kb(home, "sources", "--json") == 0
    assert {s["title"] for s in json.loads(capsys.readouterr().out)} == {"Hive inspections", "Moving ice", "Lighthouse lamps"}


def test_broken_feeds_are_reported_and_lose_nothing(host: PodcastHost, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home, base = tmp_path / "home", host.url("")
    assert kb(home, "ingest", host.url("/feed.xml"), "--json") == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["files_ingested"], summary["files_failed"]) == (3, 2)
    assert {"file": host.url("/t/gone.srt"), "reason": "HTTP 404 Not Found"} in summary["errors"]
    assert kb(home, "sources", "--count") == 0
    chunks = int(capsys.readouterr().out.split()[-1])

    host.serve("/broken.xml", "<rss><channel><item><title>unclosed", "application/rss+xml")
    host.serve("/none.xml", feed([item(1, "Quiet one"), item(2, "Quiet two")], base), "application/rss+xml")
    host.serve("/odd.xml", feed([item(1, "Slides only", transcript("/t/slides.pdf", "application/pdf")),
                                 item(2, "Too long", transcript("/t/huge.srt", "application/x-subrip")),
                                 item(3, "Web page only", transcript("/t/page.html", "text/html"))], base, "Odd"),
               "application/rss+xml")
    host.serve("/t/slides.pdf", b"%PDF-1.7 \x00\x01binary", "application/pdf")
    host.serve("/t/huge.srt", SRT * 200, "application/x-subrip")
    host.serve("/t/page.html", "<html><body><p>00:04 Otters crack shells on flat stones.</p>"
                               "<p>02:15 They keep a favourite stone.</p></body></html>", "text/html")
    monkeypatch.setenv("KB_FETCH_MAX_BYTES", "5000")
    cases = {
        host.url("/broken.xml"): "not an RSS or Atom feed: invalid XML",
        host.url("/nothing-here.xml"): "HTTP 404 Not Found",
        "http://127.0.0.1:9/feed.xml": "cannot connect",
        "file:///etc/passwd": "only http and https URLs are fetched",
        host.url("/odd.xml"): "unknown transcript format (type 'application/pdf'",
    }
    for url, reason in cases.items():
        assert kb(home, "ingest", url) == 1, url
        err = capsys.readouterr().err
        assert f"error: {url if 'odd' not in url else host.url('/t/slides.pdf')}: {reason}" in err, err
    assert f"error: {host.url('/t/huge.srt')}: too large" in err and "'Web page only': ingested" in err
    assert kb(home, "ingest", host.url("/none.xml")) == 1
    assert f"error: {host.url('/none.xml')}: none of its 2 episodes has a transcript" in capsys.readouterr().err
    assert kb(home, "sources", "--count") == 0
    assert int(capsys.readouterr().out.split()[-1]) == chunks + 1, "nothing already in the index is lost"
    assert kb(home, "sources", "--feeds", "--json") == 0
    remembered = {f["url"] for f in json.loads(capsys.readouterr().out)}
    assert host.url("/broken.xml") not in remembered and "file:///etc/passwd" not in remembered


def test_sync_with_no_feeds_and_with_an_unreadable_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert kb(home, "sync") == 0
    assert "No feeds or playlists yet" in capsys.readouterr().out
    (home / "sources").mkdir(parents=True)
    (home / "sources" / "sources.json").write_text("{broken")
    assert kb(home, "sync") == 1
    assert "sources.json: cannot read the list of feeds" in capsys.readouterr().err
    assert kb(home, "sources", "--feeds") == 1


def test_changed_episode_replaces_its_document(host: PodcastHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home, base = tmp_path / "home", host.url("")
    host.serve("/small.xml", feed(ITEMS[:2], base), "application/rss+xml")
    assert kb(home, "ingest", host.url("/small.xml"), "-q") == 0
    assert "2 ingested" in capsys.readouterr().out
    assert kb(home, "sources", "--json") == 0
    before = {s["title"]: s["source"] for s in json.loads(capsys.readouterr().out)}

    fixed = "1\n00:00:02,000 --> 00:00:06,000\nSalt marshes also shelter young fish from predators.\n"
    host.serve("/t/1b.srt", fixed, "application/x-subrip")
    renamed = ITEMS[0].replace("Marsh carbon", "Marsh carbon (corrected)").replace("/t/1.srt", "/t/1b.srt")
    host.serve("/small.xml", feed([renamed, ITEMS[1]], base), "application/rss+xml")
    assert kb(home, "sync", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [(i["item"], i["status"]) for i in report["items"]] == [("Marsh carbon (corrected)", "ingested"),
                                                                    ("Hive inspections", "unchanged")]
    assert kb(home, "sources", "--json") == 0
    after = {s["title"]: s["source"] for s in json.loads(capsys.readouterr().out)}
    assert after == {"Marsh carbon (corrected)": before["Marsh carbon"], "Hive inspections": before["Hive inspections"]}
    assert kb(home, "search", "young fish predators", "--json", "-k", "5") == 0
    texts = " ".join(p["text"] for p in json.loads(capsys.readouterr().out))
    assert "young fish" in texts and "two tonnes" not in texts


def test_sync_prune_drops_the_sentence_vectors_of_episodes_gone_from_the_feed(host: PodcastHost, tmp_path: Path) -> None:
    from ingest.sync import ingest_url, sync
    from kb.settings import Settings
    from kb.vector_cache import for_settings
    from tests.test_sentence_vectors import CountingEmbedder

    settings, model, url = Settings(home=tmp_path / "home", embedding_model="hashing"), CountingEmbedder(), host.url("/feed.xml")
    ingest_url(url, settings, embedder=model)
    cache = for_settings(settings, model)
    marsh = "A hectare of marsh buries about two tonnes of carbon a year."
    assert cache is not None and cache.get([marsh])
    host.serve("/feed.xml", feed([ITEMS[1], ITEMS[2]], host.url("")), "application/rss+xml")
    report = sync(settings, embedder=model, prune=True)
    assert "Marsh carbon" in {i.item for i in report.items if i.status == "pruned"}
    assert report.ingest.sentence_vectors_dropped > 0
    assert not cache.get([marsh])
    assert cache.get(["Beekeepers check each hive for the queen every week."])  # a remaining episode's stay
