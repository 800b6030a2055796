"""Gold time ranges and scoped questions: the span metrics, the gold fields that carry them, and
eval asking a question of one document only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.gold_file import GoldCitation, GoldQuestion, load_gold
from evals.metrics import (
    SPAN_TOL_S,
    citation_matches,
    first_citation_in_span,
    retrieved_covers,
    score_question,
    summarize,
)
from kb.settings import Settings

SPAN = GoldCitation("meeting-a", 120.0, 180.0)


def _q(**kw: Any) -> GoldQuestion:
    fields: dict[str, Any] = dict(id="s1", category="span", question="What was decided about the budget?", turns=(),
                                  reference="", keywords=(), numeric_value=None, numeric_rel_tol=0.02,
                                  citations=(SPAN,), answerable=True, line=1, source="meeting-a")
    fields.update(kw)
    return GoldQuestion(**fields)


def _cite(seconds: float, source: str = "meeting-a") -> dict[str, Any]:
    return {"source": source, "seconds": seconds, "at": None}


def test_a_cited_second_matches_a_range_with_a_small_tolerance() -> None:
    assert citation_matches("meeting-a", 150.0, SPAN)
    assert citation_matches("meeting-a", 120.0 - SPAN_TOL_S, SPAN) and citation_matches("meeting-a", 180.0 + SPAN_TOL_S, SPAN)
    assert not citation_matches("meeting-a", 120.0 - SPAN_TOL_S - 1, SPAN)
    assert not citation_matches("meeting-b", 150.0, SPAN)


def test_a_passage_covers_a_range_when_they_overlap() -> None:
    assert retrieved_covers("meeting-a", 100.0, 130.0, SPAN, tol_s=0)
    assert retrieved_covers("meeting-a", 170.0, 260.0, SPAN, tol_s=0)
    assert retrieved_covers("meeting-a", 130.0, 140.0, SPAN, tol_s=0)
    assert not retrieved_covers("meeting-a", 60.0, 120.0, SPAN, tol_s=0)  # ends where the span starts
    assert not retrieved_covers("meeting-a", 180.0, 240.0, SPAN, tol_s=0)
    assert not retrieved_covers("meeting-b", 130.0, 140.0, SPAN, tol_s=0)
    # by default the range is widened by 30 s, as a gold second is
    assert retrieved_covers("meeting-a", 60.0, 100.0, SPAN) and retrieved_covers("meeting-a", 200.0, 240.0, SPAN)
    assert not retrieved_covers("meeting-a", 20.0, 85.0, SPAN) and not retrieved_covers("meeting-a", 215.0, 240.0, SPAN)


def test_first_citation_decides_in_span() -> None:
    assert first_citation_in_span([_cite(150.0), _cite(10.0)], [SPAN])
    assert not first_citation_in_span([_cite(10.0), _cite(150.0)], [SPAN])
    assert not first_citation_in_span([], [SPAN])


def test_span_verdicts_and_their_summary() -> None:
    inside = score_question(_q(), {"answer": "x", "citations": [_cite(130.0)], "abstained": False,
                                   "retrieved": [{"source": "meeting-a", "start_s": 100.0, "end_s": 140.0}]})
    outside = score_question(_q(id="s2"), {"answer": "x", "citations": [_cite(400.0)], "abstained": False,
                                           "retrieved": [{"source": "meeting-a", "start_s": 390.0, "end_s": 420.0}]})  # 210 s after
    refused = score_question(_q(id="s3"), {"answer": "no", "citations": [], "abstained": True, "retrieved": []})
    absent = score_question(_q(id="u1", answerable=False, citations=()), {"answer": "no", "abstained": True})
    answered = score_question(_q(id="u2", answerable=False, citations=()), {"answer": "y", "abstained": False})
    assert inside["first_citation_in_span"] is True and inside["retrieval_hit_at_5"] is True and inside["scoped"]
    assert outside["first_citation_in_span"] is False and outside["retrieval_hit_at_5"] is False
    assert "outside every annotated span" in " ".join(outside["reasons"])
    assert refused["first_citation_in_span"] is None and refused["false_abstention"] is True
    assert absent["unanswerable_abstained"] is True and answered["unanswerable_abstained"] is False
    s = summarize([inside, outside, refused, absent, answered])
    assert s["first_citation_in_span"] == 0.5 and s["unanswerable_abstained"] == 0.5
    assert s["false_abstention_rate"] == pytest.approx(1 / 3) and s["scoped"] == 5


def test_gold_lines_carry_a_source_and_time_ranges(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    lines = [
        {"id": "a", "category": "c", "question": "q?", "reference": "", "answerable": True, "source": "meeting-a",
         "citations": [{"source": "meeting-a", "at": "02:00", "end": "1:03:00"}]},
        {"id": "b", "category": "c", "question": "q?", "reference": "", "answerable": True,
         "citations": [{"source": "m", "at": "03:00", "end": "02:00"}]},
        {"id": "c", "category": "c", "question": "q?", "reference": "", "answerable": True,
         "citations": [{"source": "m", "end": "02:00"}]},
        {"id": "d", "category": "c", "question": "q?", "reference": "", "answerable": True, "source": ""},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    questions, errors = load_gold(path)
    assert [q.id for q in questions] == ["a"]
    assert questions[0].source == "meeting-a" and questions[0].citations[0] == GoldCitation("meeting-a", 120.0, 3780.0)
    assert [(e.line, e.field) for e in errors] == [(2, "citations[0].end"), (3, "citations[0].end"), (4, "source")]


def _transcripts(folder: Path) -> Path:
    folder.mkdir()
    (folder / "garden-club.txt").write_text(
        "# Garden club\n[00:00] >> Ann: The tomato seedlings need repotting before the frost arrives.\n"
        "[00:10] >> Bob: Tomato seedlings tomato seedlings repotting frost tomato.\n")
    (folder / "book-club.txt").write_text(
        "# Book club\n[00:00] >> Cy: We finished the novel about the lighthouse keeper.\n"
        "[00:08] >> Di: Next month someone mentioned tomato seedlings once.\n")
    return folder


def test_a_scoped_gold_question_retrieves_only_its_document(fast_settings: Settings, tmp_path: Path) -> None:
    from evals.harness import run_eval
    from ingest.pipeline import ingest

    ingest([_transcripts(tmp_path / "docs")], settings=fast_settings, progress=False)
    gold = tmp_path / "g.jsonl"
    rows = [{"id": "x1", "category": "c", "question": "Who mentioned tomato seedlings?", "reference": "", "answerable": True,
             "source": "book-club", "citations": [{"source": "book-club", "at": "00:05", "end": "00:20"}]},
            {"id": "x2", "category": "c", "question": "Who mentioned tomato seedlings?", "reference": "", "answerable": True,
             "citations": [{"source": "garden-club", "at": "00:00"}]}]
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_eval(gold, tmp_path / "out", settings=fast_settings.with_(backend="offline"), progress=False)
    scoped, free = run.report["questions"]
    assert scoped["retrieved"] and {p["source"] for p in scoped["retrieved"]} == {"book-club"}
    assert scoped["source"] == "book-club" and scoped["retrieval_hit_at_5"] is True
    assert "garden-club" in {p["source"] for p in free["retrieved"]}
    assert run.summary["scoped"] == 1


def test_unscoped_and_retrieval_only_runs(fast_settings: Settings, tmp_path: Path) -> None:
    from evals.harness import run_eval
    from ingest.pipeline import ingest

    ingest([_transcripts(tmp_path / "docs")], settings=fast_settings, progress=False)
    gold = tmp_path / "g.jsonl"
    rows = [{"id": "a", "category": "c", "question": "Who finished the novel about the lighthouse keeper?", "reference": "",
             "answerable": True, "source": "book-club", "citations": [{"source": "book-club", "at": "00:00", "end": "00:07"}]},
            {"id": "u", "category": "c", "question": "What did the choir rehearse?", "reference": "", "answerable": False,
             "source": "book-club", "citations": []}]
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_eval(gold, tmp_path / "o", settings=fast_settings.with_(backend="offline"), progress=False,
                   unscoped=True, retrieval_only=True)
    assert [r["id"] for r in run.report["questions"]] == ["a"]  # unanswerable only inside its source: left out
    row = run.report["questions"][0]
    assert row["source"] is None and row["answer"] is None and row["retrieval_rank"] == 1
    assert run.summary["retrieval_recall_at_5"] == 1.0 and run.summary["scoped"] == 0
    assert run.report["unscoped"] and run.report["retrieval_only"]
