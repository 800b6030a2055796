"""Timestamps in text (kb/timecode.py): the one pattern the citation guard, the metrics, the
figures planner, the naive retriever and feed parsing use."""

from __future__ import annotations

from kb.timecode import CLOCK, bracket_line_stamps, find_stamps


def test_clock_finds_labels_of_any_hour_count() -> None:
    text = "from 7:05 to 100:00:00, ratio 16:9, SRT 00:01:02,500 and [3:04,5:06]"
    assert [m.group(0) for m in CLOCK.finditer(text)] == ["7:05", "100:00:00", "00:01:02,500", "3:04", "5:06"]


def test_find_stamps_keeps_the_ones_that_parse() -> None:
    assert find_stamps("[00:05] one [ 1:00:02 ] two [12:75] three [4] four") == [5.0, 3602.0]


def test_bracket_line_stamps() -> None:
    assert bracket_line_stamps("00:12 hello\nnot 00:13 here\n1:02:03.5 later") == "[00:12] hello\nnot 00:13 here\n[1:02:03.5] later"


def test_citation_markers_accept_long_hours() -> None:
    from agent.citations import CITE

    assert CITE.findall("as said [101:00:05] and [talk 1:02:03, 1:05:00]") == ["101:00:05", "talk 1:02:03, 1:05:00"]


def test_naive_retriever_reads_line_stamps_with_the_transcript_parser() -> None:
    from evals.naive import _sentences

    first, bad = _sentences("  [01:05] hello there\n[12:75] not a time")
    assert (first.text, first.start_s) == ("hello there", 65.0)
    assert (bad.start_s, bad.locator) == (None, "line 2")
