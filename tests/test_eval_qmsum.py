"""The QMSum converter on a tiny synthetic file of the same shape: times from word counts, spans
as time ranges, the unanswerable rule and the dev/report split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.datasets import qmsum
from evals.gold_file import load_gold
from ingest.transcripts import looks_like_transcript, parse_transcript
from interfaces.cli import main


def _turn(speaker: str, words: str) -> dict[str, str]:
    return {"speaker": speaker, "content": words}


def _bakery(n: int) -> dict:
    turns = [
        _turn("Baker", "Good morning {vocalsound} . We open the shop at seven ."),          # 10 words -> 0:00
        _turn("Clerk", " ".join(["flour"] * 150)),                                          # starts 0:04 (8 words)
        _turn("Baker", "The oven temperature stays at two hundred degrees today ."),        # starts 1:04
        _turn("Clerk", "Sourdough loaves sell out before noon , do n't they ?"),
    ]
    return {"meeting_transcripts": turns, "topic_list": [],
            "general_query_list": [{"query": "Summarize the whole meeting.", "answer": "Bread and ovens."}],
            "specific_query_list": [
                {"query": f"What did the baker say about the oven temperature (day {n})?", "answer": "200 degrees.",
                 "relevant_text_span": [["2", "2"]]},
                {"query": "What was said about flour?", "answer": "Lots.", "relevant_text_span": [["1", "2"], ["3", "3"]]},
            ]}


def _council() -> dict:
    turns = [_turn("Councillor Jones", "The bridge repairs need a larger budget this year ."),
             _turn("Mayor Smith", "Residents asked for safer cycling lanes near the school .")]
    return {"meeting_transcripts": turns, "specific_query_list": [
        {"query": "Why did Councillor Jones want more money for bridge repairs?", "answer": "Costs.",
         "relevant_text_span": [["0", "0"]]}]}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl"
    rows = [_bakery(1), _bakery(2), _council()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_lines_are_timed_by_the_words_spoken_before_them(dataset: Path) -> None:
    m = qmsum.read_meetings(dataset, wpm=150)[0]
    assert m.id == "qmsum-tiny-01"
    assert m.starts[:3] == [0.0, 8 * 60 / 150, (8 + 150) * 60 / 150]
    text = qmsum.transcript_text(m)
    assert "[00:00] >> Baker: Good morning." in text  # annotation dropped, spacing closed
    assert "[01:03] >> Baker: The oven temperature" in text
    assert "don't they?" in text and "{" not in text
    assert m.title.startswith("QMSum meeting 01: Clerk, Baker")  # who speaks most first
    doc = parse_transcript(Path(f"{m.id}.txt"), text)
    assert looks_like_transcript(text) and doc.title == m.title
    assert doc.sentences[0].start_s == 0.0
    # a long turn is cut into lines, each at its own second
    assert any(s.start_s == 0.0 for s in doc.sentences) and max(s.start_s or 0 for s in doc.sentences) >= 63


def test_speaking_rate_scales_every_time(dataset: Path) -> None:
    slow = qmsum.read_meetings(dataset, wpm=75)[0]
    fast = qmsum.read_meetings(dataset, wpm=150)[0]
    assert slow.starts[2] == pytest.approx(2 * fast.starts[2])


def test_spans_become_time_ranges_of_their_turns(dataset: Path) -> None:
    m = qmsum.read_meetings(dataset)[0]
    cites = qmsum.span_citations(m, [["1", "2"], ["3", "3"]], "x")
    assert cites[0] == {"source": m.id, "at": "00:03", "end": "01:06"}  # (8 + 150 + 9) words / 150 wpm
    assert cites[1]["at"] == "01:06"
    with pytest.raises(qmsum.DatasetError, match="outside the 4 turns"):
        qmsum.span_citations(m, [["2", "9"]], "x")


def test_unanswerable_questions_come_from_other_kinds_of_meeting(dataset: Path) -> None:
    meetings = qmsum.read_meetings(dataset)
    neg = qmsum.unanswerable_questions(meetings, per_meeting=3)
    # the two bakery meetings share speaker labels: neither lends the other a question
    assert all(origin == "qmsum-tiny-03" for _, origin in neg["qmsum-tiny-01"])
    assert [q for q, _ in neg["qmsum-tiny-01"]] == ["Why did Councillor Jones want more money for bridge repairs?"]
    # the council meeting mentions no oven or flour
    assert {o for _, o in neg["qmsum-tiny-03"]} <= {"qmsum-tiny-01", "qmsum-tiny-02"}
    assert any("oven" in q for q, _ in neg["qmsum-tiny-03"])
    assert len({q for q, _ in neg["qmsum-tiny-03"]}) == len(neg["qmsum-tiny-03"])  # no repeats


def test_a_question_whose_words_the_meeting_uses_is_not_unanswerable(tmp_path: Path) -> None:
    council = _council()
    council["meeting_transcripts"].append(_turn("Mayor Smith", "The bakery oven temperature was raised in the review ."))
    fillers = [{"meeting_transcripts": [_turn(f"Teacher {c}", f"Lesson plans for class {c} are ready .")],
                "specific_query_list": []} for c in "XYZ"]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [_bakery(1), council, *fillers]))
    neg = qmsum.unanswerable_questions(qmsum.read_meetings(path), per_meeting=3)
    assert neg["qmsum-t-02"] == []  # "oven" and "temperature" occur in the council meeting now
    assert any("oven" in q for q, _ in neg["qmsum-t-03"])


def test_convert_writes_corpus_and_split_gold_files(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    counts = qmsum.convert(dataset, out)
    assert sorted(p.name for p in (out / "corpus").iterdir()) == [f"qmsum-tiny-0{i}.txt" for i in (1, 2, 3)]
    dev, errs1 = load_gold(out / "gold-dev.jsonl")
    rep, errs2 = load_gold(out / "gold-report.jsonl")
    assert not errs1 and not errs2 and len(dev) + len(rep) == counts["dev_questions"] + counts["report_questions"]
    both = dev + rep
    assert {q.source for q in dev}.isdisjoint({q.source for q in rep})  # split by meeting
    assert all(qmsum.is_dev(q.source) for q in dev) and not any(qmsum.is_dev(q.source) for q in rep)
    answerable = [q for q in both if q.answerable]
    assert len(answerable) == 5 and all(c.end_s is not None for q in answerable for c in q.citations)
    assert any(not q.answerable and not q.citations for q in both)
    general = [q for name in ("general-dev", "general-report") for q in load_gold(out / f"gold-{name}.jsonl")[0]]
    assert counts["general_questions"] == len(general) == 2  # the two bakery meetings ask one each
    assert all(q.category == "qmsum_general" and q.answerable and q.citations[0].source == q.source
               and q.citations[0].at_s is None for q in general)
    first = (out / "gold-dev.jsonl").read_bytes() + (out / "gold-report.jsonl").read_bytes()
    qmsum.convert(dataset, tmp_path / "again")
    assert first == (tmp_path / "again" / "gold-dev.jsonl").read_bytes() + (tmp_path / "again" / "gold-report.jsonl").read_bytes()


def test_split_rule_is_a_stable_hash_of_the_id() -> None:
    ids = [f"qmsum-val-{i:02d}" for i in range(1, 61)]
    dev = [i for i in ids if qmsum.is_dev(i)]
    assert dev == [i for i in ids if qmsum.is_dev(i)]
    assert 10 <= len(dev) <= 30


def test_cli_converts_and_reports_a_bad_line(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "qmsum", str(dataset), str(tmp_path / "o"), "--wpm", "120"]) == 0
    assert "3 meetings" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_council()) + "\n{\"meeting_transcripts\": 3}\n")
    assert main(["dataset", "qmsum", str(bad), str(tmp_path / "o2")]) == 1
    assert "bad.jsonl:2: field 'meeting_transcripts'" in capsys.readouterr().err
