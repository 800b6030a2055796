"""Tests for the evaluation metrics (evals/metrics.py) on hand-made answers."""

from __future__ import annotations

from typing import Any

import pytest

from evals.gold_file import GoldCitation, GoldQuestion
from evals.metrics import (
    citation_matches,
    compare_summaries,
    flips,
    keyword_match,
    numeric_match,
    parse_numbers,
    retrieved_covers,
    same_source,
    score_question,
    summarize,
)

SRC = "podcast-compute-scaling-insights"


def _question(**overrides: Any) -> GoldQuestion:
    fields: dict[str, Any] = dict(
        id="q01", category="lookup", question="How much?", turns=(), reference="$420 billion",
        keywords=(), numeric_value=None, numeric_rel_tol=0.02, citations=(), answerable=True,
        line=1,
    )
    fields.update(overrides)
    return GoldQuestion(**fields)


def _cite(at: str | None, seconds: float | None, source: str = SRC) -> dict[str, Any]:
    return {"source": source, "title": "Compute", "at": at, "seconds": seconds, "url": None,
            "quote": "..."}


def _passage(start: float | None, end: float | None, source: str = SRC) -> dict[str, Any]:
    return {"source": source, "start_s": start, "end_s": end, "score": 0.5}


# --------------------------------------------------------------------------- numbers

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$420,000", [420_000]),
        ("800k", [800_000]),
        ("$1.2 trillion", [1.2e12]),
        ("5 million", [5e6]),
        ("27x", [27]),
        ("27×", [27]),
        ("7.5%", [7.5]),
        ("2e6", [2e6]),
        ("half a million", [500_000]),
        ("$70 billion", [7e10]),
        ("2,000 GW", [2000]),
        ("1.5B", [1.5e9]),
        ("150K", [150_000]),
        ("5 Million", [5e6]),
        ("$3bn and $4 bn", [3e9, 4e9]),
        ("$5m", [5e6]),
        ("a quarter of a million", [250_000]),
        ("one and a half million", [1.5e6]),
        ("two billion", [2e9]),
        ("1-2 million", [1e6, 2e6]),
        ("$5 to $7 billion", [5e9, 7e9]),
        ("It fell -5% to 3.25", [-5, 3.25]),
        ("Spend went from $70 billion [10:31] to 7.5% of GDP [1:02:03].", [7e10, 7.5]),
    ],
)
def test_parse_numbers(text: str, expected: list[float]) -> None:
    assert parse_numbers(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "At [10:31] the host says so.",
        "as discussed at 10:31 and again at 1:02:03",
        "see [3] and [4, 5] and [^2]",
        "the memo [handbook ¶3] says ¶12",
        "[podcast-compute 12:00]",
        "no numbers here, just millions of words",
        "H100 chips",
        "",
    ],
)
def test_parse_numbers_ignores_timestamps_and_markers(text: str) -> None:
    assert parse_numbers(text) == []


def test_parse_numbers_units_are_not_scales() -> None:
    # Attached letters followed by more letters are units, not scale words.
    assert parse_numbers("5km, 3TB, 5m, 800kW") == [5, 3, 5, 800]


def test_numeric_match_tolerance() -> None:
    assert numeric_match("Roughly $420 billion [10:31].", 420e9, 0.02)
    assert numeric_match("about $428 billion", 420e9, 0.02)  # 1.9% off
    assert not numeric_match("about $430 billion", 420e9, 0.02)  # 2.4% off
    assert not numeric_match("at 10:31 it was discussed", 631, 0.02)
    assert numeric_match("It was 27× faster", 27, 0.0)


def test_numeric_match_zero_uses_absolute_tolerance() -> None:
    assert numeric_match("growth was 0.01%", 0, 0.02)
    assert not numeric_match("growth was 0.5%", 0, 0.02)


# --------------------------------------------------------------------------- keywords

def test_keyword_alternatives_and_case() -> None:
    answer = "The AGENTIC workloads run on CPUs, not GPUs."
    assert keyword_match(answer, ["cpu", "agent|agentic"])
    assert keyword_match(answer, ["robot|Agentic"])
    assert not keyword_match(answer, ["cpu", "robot|humanoid"])
    assert keyword_match(answer, [])


def test_keyword_short_words_are_whole_words() -> None:
    assert keyword_match("More CPUs were added.", ["CPU"])
    assert keyword_match("AI's share grew.", ["AI"])
    assert not keyword_match("She said the aim was clear.", ["AI"])
    assert not keyword_match("The explanation", ["AI"])
    assert not keyword_match("Cepu", ["CPU"])


def test_keyword_longer_words_match_as_prefixes() -> None:
    assert keyword_match("Agents everywhere.", ["agent"])
    assert keyword_match("Interest rates rose.", ["rate"])
    assert not keyword_match("Growth will accelerate.", ["rate"])


def test_keyword_phrases_and_digits() -> None:
    assert keyword_match("Build data-centers now.", ["data center"])
    assert keyword_match("GPT-4 was used", ["gpt 4"])
    assert not keyword_match("GPT-40 was used", ["GPT-4"])


# --------------------------------------------------------------------------- citations

def test_citation_window_boundaries() -> None:
    gold = GoldCitation(SRC, 631.0)
    assert citation_matches(SRC, 631.0, gold)
    assert citation_matches(SRC, 661.0, gold)  # 30 s later: in
    assert citation_matches(SRC, 601.0, gold)  # 30 s earlier: in
    assert not citation_matches(SRC, 662.0, gold)  # 31 s: out
    assert not citation_matches(SRC, 600.0, gold)
    assert not citation_matches("other-source", 631.0, gold)
    assert not citation_matches(SRC, None, gold)  # untimed never matches a timed gold


def test_citation_without_gold_time_needs_only_source() -> None:
    gold = GoldCitation("handbook", None)
    assert citation_matches("handbook", None, gold)
    assert citation_matches("handbook", 12.0, gold)
    assert citation_matches("corpus/Handbook.txt", None, gold)
    assert not citation_matches("handbook-2", None, gold)


def test_same_source() -> None:
    assert same_source(SRC, f"kb/corpus/{SRC}.txt")
    assert not same_source(SRC, "")
    assert not same_source("a", "b")


def test_retrieved_covers_window() -> None:
    gold = GoldCitation(SRC, 631.0)
    assert retrieved_covers(SRC, 600.0, 620.0, gold)
    assert retrieved_covers(SRC, 661.0, 700.0, gold)  # starts 30 s after: in
    assert not retrieved_covers(SRC, 662.0, 700.0, gold)  # 31 s: out
    assert retrieved_covers(SRC, 500.0, 601.0, gold)
    assert not retrieved_covers(SRC, 500.0, 600.0, gold)
    assert not retrieved_covers(SRC, None, None, gold)
    assert not retrieved_covers("other", 600.0, 700.0, gold)
    assert retrieved_covers("handbook", None, None, GoldCitation("handbook", None))


# --------------------------------------------------------------------------- score_question

def test_score_correct_answer_with_citations() -> None:
    q = _question(keywords=("capex", "GPU|accelerator"), numeric_value=420e9,
                  citations=(GoldCitation(SRC, 631.0), GoldCitation("handbook", None)))
    result = {
        "answer": "Capex hits $420 billion, mostly GPUs [10:31].",
        "citations": [_cite("10:31", 631.0), _cite("12:00", 720.0)],
        "retrieved": [_passage(0, 60), _passage(None, None, "blog"), _passage(600, 640)],
        "abstained": False,
    }
    v = score_question(q, result)
    assert v["answer_correct"] is True
    assert v["keyword_ok"] is True and v["numeric_ok"] is True
    assert v["citation_precision"] == 0.5
    assert v["citation_recall"] == 0.5
    assert v["citation_hit"] is True
    assert v["retrieval_hit_at_5"] is True
    assert v["retrieval_rr"] == pytest.approx(1 / 3)
    assert v["abstention_ok"] is True and v["false_abstention"] is False
    assert v["reasons"] == [f"citation [12:00] of {SRC} matches no gold citation"]


def test_score_wrong_answer_reasons() -> None:
    q = _question(keywords=("CPU", "agent|agentic"), numeric_value=420e9,
                  citations=(GoldCitation(SRC, 631.0),))
    result = {"answer": "It costs $500 billion for CPUs.", "citations": [],
              "retrieved": [_passage(0, 10)] * 6 + [_passage(620, 640)], "abstained": False}
    v = score_question(q, result)
    assert v["answer_correct"] is False
    assert v["keyword_ok"] is False and v["numeric_ok"] is False
    assert v["citation_precision"] is None and v["citation_hit"] is False
    assert v["retrieval_hit_at_5"] is False and v["retrieval_rr"] == pytest.approx(1 / 7)
    assert "missing keyword 'agent|agentic'" in v["reasons"]
    assert "no number within 2% of 420000000000 in answer" in v["reasons"]
    assert any(r.startswith("no citation matches a gold citation") for r in v["reasons"])


def test_score_abstention_on_answerable_question() -> None:
    q = _question(keywords=("capex",))
    v = score_question(q, {"answer": "I can't find capex in the sources.", "abstained": True})
    assert v["answer_correct"] is False
    assert v["abstention_ok"] is False
    assert v["false_abstention"] is True
    assert "abstained on an answerable question" in v["reasons"]


def test_score_unanswerable_question_both_ways() -> None:
    q = _question(answerable=False, keywords=("capex",), numeric_value=1.0)
    abstain = score_question(q, {"answer": "Not in the sources.", "abstained": True})
    assert abstain["answer_correct"] is True and abstain["abstention_ok"] is True
    assert abstain["keyword_ok"] is None and abstain["numeric_ok"] is None
    assert abstain["false_abstention"] is None
    assert abstain["reasons"] == []
    answered = score_question(q, {"answer": "Capex was 1.", "abstained": False})
    assert answered["answer_correct"] is False and answered["abstention_ok"] is False
    assert answered["reasons"] == ["answered an unanswerable question instead of abstaining"]


def test_score_untimed_citations_and_empty_result() -> None:
    q = _question(citations=(GoldCitation("handbook", None), GoldCitation(SRC, 631.0)))
    result = {"answer": "x", "citations": [_cite("¶3", None, "handbook"), _cite("¶4", None)],
              "retrieved": [_passage(None, None, "handbook")], "abstained": False}
    v = score_question(q, result)
    assert v["citation_precision"] == 0.5
    assert v["retrieval_rr"] == 1.0
    assert f"citation [¶4] of {SRC} matches no gold citation" in v["reasons"]
    empty = score_question(q, {})
    assert empty["answer_correct"] is True  # no keywords, no number, did not abstain
    assert empty["citation_hit"] is False and empty["retrieval_rr"] == 0.0


def test_score_no_gold_citations_gives_none() -> None:
    v = score_question(_question(), {"answer": "x", "citations": [_cite("1:00", 60.0)]})
    assert v["citation_precision"] is None and v["citation_hit"] is None
    assert v["retrieval_hit_at_5"] is None and v["retrieval_rr"] is None


# --------------------------------------------------------------------------- runs

def _row(verdict: dict[str, Any], latency: float, error: str | None = None,
         tokens: tuple[int, int, float] = (100, 20, 0.001)) -> dict[str, Any]:
    prompt, completion, cost = tokens
    return {**verdict, "latency_s": latency, "error": error,
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "cost_usd": cost}}


def _rows() -> list[dict[str, Any]]:
    gold = (GoldCitation(SRC, 631.0),)
    good = score_question(
        _question(id="a", keywords=("capex",), citations=gold),
        {"answer": "capex [10:31]", "citations": [_cite("10:31", 631.0), _cite("20:00", 1200.0)],
         "retrieved": [_passage(600, 650)], "abstained": False},
    )
    bad = score_question(
        _question(id="b", keywords=("capex",), citations=gold),
        {"answer": "no idea", "citations": [], "retrieved": [_passage(0, 5), _passage(620, 640)],
         "abstained": True},
    )
    unanswerable = score_question(_question(id="c", answerable=False), {"abstained": True})
    errored = score_question(_question(id="d", numeric_value=5.0), {})
    return [_row(good, 1.0), _row(bad, 2.0), _row(unanswerable, 3.0),
            _row(errored, 10.0, error="timeout", tokens=(0, 0, 0.0))]


def test_summarize() -> None:
    s = summarize(_rows())
    assert s["n"] == 4 and s["errors"] == 1
    assert s["answer_accuracy"] == 0.5  # a and c right; b abstained; d errored
    assert s["keyword_accuracy"] == 0.5
    assert s["numeric_accuracy"] == 0.0
    assert s["citation_precision"] == 0.5  # 1 matched of 2 cited over a and b
    assert s["citation_recall"] == 0.5  # 1 of 2 gold citations found
    assert s["citation_hit_rate"] == 0.5
    assert s["retrieval_recall_at_5"] == 1.0
    assert s["retrieval_mrr"] == pytest.approx(0.75)
    assert s["abstention_accuracy"] == 0.75
    assert s["false_abstention_rate"] == pytest.approx(1 / 3)
    assert s["latency_p50_s"] == 2.5
    assert s["latency_p95_s"] == pytest.approx(8.95)
    assert (s["prompt_tokens"], s["completion_tokens"]) == (300, 60)
    assert s["cost_usd"] == pytest.approx(0.003)
    for key, value in s.items():
        if key.endswith(("_accuracy", "_rate", "_precision", "_recall", "_mrr", "_at_5")):
            assert 0.0 <= value <= 1.0, key


def test_error_row_counts_as_wrong_even_if_marked_correct() -> None:
    row = _row(score_question(_question(), {"answer": "x"}), 1.0, error="crashed")
    assert row["answer_correct"] is True
    assert summarize([row])["answer_accuracy"] == 0.0


def test_summarize_empty_and_inapplicable() -> None:
    s = summarize([])
    assert s["n"] == 0 and s["answer_accuracy"] is None and s["latency_p50_s"] is None
    only_plain = summarize([_row(score_question(_question(), {"answer": "x"}), 1.0)])
    assert only_plain["keyword_accuracy"] is None
    assert only_plain["citation_precision"] is None and only_plain["retrieval_mrr"] is None
    assert only_plain["latency_p95_s"] == 1.0


def test_compare_summaries_and_flips() -> None:
    old_rows = _rows()
    new_rows = [dict(r) for r in old_rows]
    new_rows[1]["answer_correct"] = True  # b now right
    new_rows[2]["answer_correct"] = False  # c now wrong
    new_rows[3]["error"] = None
    new_rows[3]["answer_correct"] = False  # d still wrong: no flip
    old, new = summarize(old_rows), summarize(new_rows)
    deltas = compare_summaries(old, new)
    assert deltas["answer_accuracy"] == 0.0
    assert deltas["errors"] == -1
    assert deltas["n"] == 0
    assert "citation_precision" in deltas
    assert compare_summaries({"answer_accuracy": None}, {"answer_accuracy": 0.5}) == {}
    assert flips(old_rows, new_rows) == [
        {"id": "b", "before": False, "after": True},
        {"id": "c", "before": True, "after": False},
    ]
    assert flips(old_rows, [{"id": "zzz", "answer_correct": True}]) == []
