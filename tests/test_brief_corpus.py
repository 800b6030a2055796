"""Briefs of the bundled documents (the real embedding model): quotes are transcript sentences at
their time, the capstone brief has what a new user expects, the digest, and the HTML page in a
real headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.brief.build import get_brief
from ingest.pipeline import bundled_corpus
from tests.test_brief import assert_quotes_in_transcript

pytestmark = pytest.mark.slow
CAPSTONE = "stanford-mse435-2026-infrastructure-capstone-transcript"


@pytest.mark.parametrize("path", sorted(bundled_corpus().glob("*.txt")), ids=lambda p: p.stem)
def test_every_quote_is_in_its_document(corpus_settings, path: Path):
    brief = get_brief(path.stem, corpus_settings)
    assert brief["moments"] and brief["chapters"]
    assert_quotes_in_transcript(brief, path)


def test_capstone_brief_as_a_new_user_sees_it(corpus_settings):
    b = get_brief(CAPSTONE, corpus_settings)
    assert b["tldr"]["text"] and b["tldr"]["citations"]
    seconds = [m["seconds"] for m in b["moments"]]
    assert 5 <= len(seconds) <= 7 and max(seconds) - min(seconds) > 0.5 * 2900  # spread over the episode
    assert len(b["chapters"]) >= 3
    figures = {(f["value"], f["unit"], f["at"]) for f in b["figures"]}
    assert (70e9, "USD", "43:46") in figures
    assert {(5e5, "GPU", "10:31"), (5e5, "GPU", "44:00")} & figures
    per_gw = [f for f in b["figures"] if f["what"].endswith("per gigawatt")]
    assert len({f["unit"] for f in per_gw}) >= 2  # cost and GPU count per gigawatt sit together
    whats = [f["what"] for f in b["figures"]]
    assert all(whats.index(w) + whats.count(w) - 1 == len(whats) - 1 - whats[::-1].index(w) for w in set(whats))
    assert len(b["questions"]) == 3
    for q in b["questions"]:
        assert q["citations"] and all(c["source"] == CAPSTONE and c["url"] for c in q["citations"])
    assert any(m["name"] == "OpenAI" for m in b["mentioned"])


def test_digest_lists_moments_of_the_bundled_documents(corpus_settings):
    from agent.brief.digest import digest

    items = digest(corpus_settings, since_s=10 * 365 * 86400, top=5)
    assert len(items) == 5
    assert len({i["source"] for i in items}) == 4  # one per document first, then a second
    assert all(i["url"] or i["seconds"] is None for i in items)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_html_page_in_headless_chromium(corpus_settings, tmp_path: Path):
    from interfaces.brief_html import render

    b = get_brief(CAPSTONE, corpus_settings)
    page = tmp_path / "brief.html"
    page.write_text(render(b), encoding="utf-8")
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
            "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "CONSOLE" not in dom.stderr and "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    from html.parser import HTMLParser

    class Times(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.links: list[str] = []
            self.plain_times = 0
            self._in: str | None = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if attrs.get("class") == "t":
                self._in = tag
                if tag == "a":
                    self.links.append(attrs.get("href", ""))
                else:
                    self.plain_times += 1

    times = Times()
    times.feed(dom.stdout)
    expected = (len(b["moments"]) + len(b["chapters"]) + sum(len(c["moments"]) for c in b["chapters"])
                + len(b["figures"]) + len(b["mentioned"]) + len(b["tldr"]["citations"]))
    assert len(times.links) >= expected and times.plain_times == 0
    assert all("t=" in href for href in times.links)
    out = tmp_path / "shot.png"
    run = subprocess.run([*base, f"--screenshot={out}", "--window-size=1200,2400", "--hide-scrollbars", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and out.exists() and out.stat().st_size > 20_000, run.stderr[-2000:]
    assert json.dumps(b)  # the brief itself stays plain JSON
