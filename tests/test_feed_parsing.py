"""Feed parsing without a network: Podcasting 2.0 tags, which transcript is chosen, formats."""

from __future__ import annotations

import pytest

from ingest.feeds import Transcript, choose_transcript, html_to_text, parse_feed, sniff_format
from ingest.fetch import Fetched, FetchError

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Show</title>
<item><title>One</title><guid>g1</guid>
 <podcast:transcript url="https://h/1.html" type="text/html"/>
 <podcast:transcript url="https://h/1.fr.vtt" type="text/vtt" language="fr"/>
 <podcast:transcript url="https://h/1.en.vtt" type="text/vtt" language="en-US"/>
 <podcast:transcript url="https://h/1.json" type="application/json" language="en"/>
</item>
<item><title>Two</title><guid>g2</guid><podcast:transcript url="https://h/2.txt" type="text/plain"/></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:podcast="https://podcastindex.org/namespace/1.0">
<title>Atom show</title><entry><title>First</title><id>urn:a1</id><updated>2026-05-04T00:00:00Z</updated>
<link rel="enclosure" href="https://h/a1.mp3" type="audio/mpeg"/>
<podcast:transcript url="https://h/a1.srt" type="application/x-subrip"/></entry></feed>"""


def test_every_transcript_tag_is_read_and_the_best_chosen() -> None:
    feed = parse_feed("https://h/feed", RSS)
    one, two = feed.episodes
    assert [t.url for t in one.transcripts] == ["https://h/1.html", "https://h/1.fr.vtt", "https://h/1.en.vtt", "https://h/1.json"]
    assert choose_transcript(one, "en").url == "https://h/1.en.vtt"  # a subtitle format, in the language
    assert choose_transcript(one, "fr").url == "https://h/1.fr.vtt"
    assert choose_transcript(two, "en").format == "txt"


def test_atom_feed_with_enclosure_and_date() -> None:
    (ep,) = parse_feed("https://h/atom", ATOM).episodes
    assert (ep.title, ep.media, ep.published, ep.link) == ("First", "https://h/a1.mp3", "2026-05-04", "https://h/a1.mp3")
    assert ep.transcripts[0].format == "srt"


@pytest.mark.parametrize("content", [b"<html><body>not a feed</body></html>", b"just words", b"<rss><channel><item>"])
def test_not_a_feed(content: bytes) -> None:
    with pytest.raises(FetchError, match="not an RSS or Atom feed"):
        parse_feed("https://h/x", content)


def test_format_sniffing_and_html_transcripts() -> None:
    def got(data: bytes, kind: str = "application/octet-stream") -> Fetched:
        return Fetched("https://h/x", data, kind)

    assert sniff_format(got(b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi"), "srt") == "vtt"  # the content wins
    assert sniff_format(got(b"1\n00:00:01,000 --> 00:00:02,000\nhi\n"), None) == "srt"
    assert sniff_format(got(b'{"segments": []}'), None) == "json"
    assert sniff_format(got(b"%PDF-1.7"), None) is None
    assert Transcript("https://h/t.VTT?x=1").format == "vtt" and Transcript("https://h/t", "application/pdf").format is None
    text = html_to_text(b"<html><head><style>p{}</style></head><body><p>00:05 Hello &amp; welcome.</p>"
                        b"<p>01:10 Second part.</p><script>x()</script></body></html>")
    assert text == "[00:05] Hello & welcome.\n[01:10] Second part."


def test_only_web_links_are_kept_for_citations() -> None:
    rss = (b'<rss version="2.0"><channel><title>S</title><item><title>E</title><guid>g</guid>'
           b'<link>javascript:alert(1)</link><enclosure url="file:///etc/passwd" type="audio/mpeg"/></item>'
           b'<item><title>F</title><guid>h</guid><link>/episodes/f</link></item></channel></rss>')
    bad, relative = parse_feed("https://h/feed.xml", rss).episodes
    assert (bad.page, bad.media, bad.link) == (None, None, None)
    assert relative.link == "https://h/episodes/f"
