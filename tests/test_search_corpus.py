"""Search on the bundled corpus with the real default model, as a user runs it."""

from __future__ import annotations

import json

import pytest

from interfaces.cli import main
from kb.settings import Settings

pytestmark = pytest.mark.slow  # the bundled corpus with the real model


def test_gigawatt_query_points_at_the_second(corpus_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(corpus_settings.home), "search", "how many GPUs fit in one gigawatt", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 5
    for h in hits:
        assert {"source", "title", "start_s", "end_s", "at", "text", "score", "url"} <= set(h)
    top = [(h["source"], h["at"]) for h in hits[:3]]
    talk = "stanford-mse435-2026-infrastructure-capstone-transcript"
    assert (talk, "10:31") in top or (talk, "44:00") in top, top
    cited = next(h for h in hits if h["at"] in ("10:31", "44:00"))
    assert cited["url"].endswith(("t=631", "t=2640")) and "youtube.com/watch?v=4k53z3Ysjg0" in cited["url"]


def test_untimed_documents_cite_a_paragraph(corpus_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--home", str(corpus_settings.home), "search", "pruning reduces model size", "-k", "3",
          "--source", "podcast-compute-scaling-insights"])
    out = capsys.readouterr().out
    assert out.startswith("1. [¶") and "pruning" in out
