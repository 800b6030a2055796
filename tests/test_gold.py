"""Tests for loading and validating gold question files (evals/gold.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals.gold_file import DEFAULT_REL_TOL, GoldCitation, GoldError, GoldQuestion, load_gold


def _q(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "q01",
        "category": "lookup",
        "question": "How big is the AI capex?",
        "reference": "About $420 billion.",
        "answerable": True,
    }
    base.update(overrides)
    return base


def _write(tmp_path: Path, lines: list[object]) -> Path:
    path = tmp_path / "gold.jsonl"
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_full_question_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, [_q(
        turns=["What did they say about capex?"],
        keywords=["CPU", "agent|agentic"],
        numeric={"value": 420000000000, "rel_tol": 0.05},
        citations=[
            {"source": "podcast-compute", "at": "10:31"},
            {"source": "blog", "at": "1:02:03"},
            {"source": "notes"},
        ],
        extra_field="ignored",
    )])
    questions, errors = load_gold(path)
    assert errors == []
    assert questions == [GoldQuestion(
        id="q01", category="lookup", question="How big is the AI capex?",
        turns=("What did they say about capex?",), reference="About $420 billion.",
        keywords=("CPU", "agent|agentic"), numeric_value=420e9, numeric_rel_tol=0.05,
        citations=(GoldCitation("podcast-compute", 631.0), GoldCitation("blog", 3723.0),
                   GoldCitation("notes", None)),
        answerable=True, line=1,
    )]


def test_optional_fields_default(tmp_path: Path) -> None:
    path = _write(tmp_path, [_q(numeric={"value": 7.5}), _q(id="q02", answerable=False)])
    questions, errors = load_gold(path)
    assert errors == []
    first, second = questions
    assert first.numeric_value == 7.5
    assert first.numeric_rel_tol == DEFAULT_REL_TOL == 0.02
    assert first.turns == () and first.keywords == () and first.citations == ()
    assert second.numeric_value is None
    assert second.answerable is False


def test_invalid_lines_are_reported_and_valid_lines_still_load(tmp_path: Path) -> None:
    bad_question = _q(id="q03")
    del bad_question["question"]
    path = _write(tmp_path, [
        _q(id="q01"),
        '{"id": "q02", "question": ',
        bad_question,
        _q(id="q04", citations=[{"source": "talk", "at": "10:71"}]),
        _q(id="q05"),
    ])
    questions, errors = load_gold(path)
    assert [q.id for q in questions] == ["q01", "q05"]
    assert [q.line for q in questions] == [1, 5]
    assert [(e.line, e.field) for e in errors] == [
        (2, "json"), (3, "question"), (4, "citations[0].at"),
    ]
    assert "invalid JSON" in errors[0].reason
    assert errors[1].reason == "missing"
    assert "not a timestamp" in errors[2].reason
    assert str(errors[2]).startswith(f"{path}:4: field 'citations[0].at': not a timestamp")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (_q(id=""), "id"),
        (_q(id=7), "id"),
        (_q(category=None), "category"),
        (_q(question="   "), "question"),
        (_q(reference=3), "reference"),
        (_q(answerable="yes"), "answerable"),
        (_q(turns="just one"), "turns"),
        (_q(keywords=["ok", 3]), "keywords[1]"),
        (_q(keywords=["ok", " | "]), "keywords[1]"),
        (_q(numeric=5), "numeric"),
        (_q(numeric={"rel_tol": 0.1}), "numeric.value"),
        (_q(numeric={"value": True}), "numeric.value"),
        (_q(numeric={"value": "420"}), "numeric.value"),
        (_q(numeric={"value": 1, "rel_tol": -0.01}), "numeric.rel_tol"),
        (_q(citations={"source": "x"}), "citations"),
        (_q(citations=["x"]), "citations[0]"),
        (_q(citations=[{"at": "1:00"}]), "citations[0].source"),
        (_q(citations=[{"source": "x"}, {"source": "y", "at": 631}]), "citations[1].at"),
        (_q(citations=[{"source": "y", "at": "1031"}]), "citations[0].at"),
        ([1, 2], "json"),
    ],
)
def test_wrong_fields_are_named(tmp_path: Path, line: object, field: str) -> None:
    questions, errors = load_gold(_write(tmp_path, [line]))
    assert questions == []
    assert [(e.line, e.field) for e in errors] == [(1, field)]


def test_missing_answerable_is_an_error(tmp_path: Path) -> None:
    line = _q()
    del line["answerable"]
    _, errors = load_gold(_write(tmp_path, [line]))
    assert [(e.line, e.field, e.reason) for e in errors] == [(1, "answerable", "missing")]


def test_duplicate_id_reported_on_later_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [_q(id="q01"), _q(id="q02"), _q(id="q01")])
    questions, errors = load_gold(path)
    assert [q.id for q in questions] == ["q01", "q02"]
    assert len(errors) == 1
    assert (errors[0].line, errors[0].field) == (3, "id")
    assert "first on line 1" in errors[0].reason


def test_blank_lines_skipped_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n" + json.dumps(_q()) + "\n   \n\n" + json.dumps(_q(id="q02")) + "\n",
                    encoding="utf-8")
    questions, errors = load_gold(path)
    assert errors == []
    assert [(q.id, q.line) for q in questions] == [("q01", 2), ("q02", 5)]


def test_crlf_and_bom_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_bytes(("\ufeff" + json.dumps(_q()) + "\r\n" + json.dumps(_q(id="q02")) + "\r\n")
                     .encode("utf-8"))
    questions, errors = load_gold(path)
    assert errors == []
    assert [q.id for q in questions] == ["q01", "q02"]


def test_missing_file_raises_with_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load_gold(path)


def test_error_str_without_file() -> None:
    assert str(GoldError(7, "question", "missing")) == "line 7: field 'question': missing"
    assert str(GoldError(7, "id", "x", file="gold.jsonl")) == "gold.jsonl:7: field 'id': x"


# --------------------------------------------------------------------------- the project's gold files

GOLD_DIR = Path(__file__).resolve().parent.parent / "evals" / "gold"


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?")


def test_project_gold_files_load_and_cite_real_moments() -> None:
    from ingest.pipeline import bundled_corpus

    corpus = bundled_corpus()
    stems = {p.stem: p.read_text(encoding="utf-8") for p in corpus.glob("*.txt")}
    seen: set[str] = set()
    for name in ("kb.jsonl", "dev.jsonl", "report.jsonl", "fresh.jsonl", "fresh2.jsonl"):
        questions, errors = load_gold(GOLD_DIR / name)
        assert not errors and questions, name
        for q in questions:
            assert _norm(q.question) not in seen, f"{name}: {q.id} repeats a question of another gold file"
            seen.add(_norm(q.question))
            for c in q.citations:
                assert c.source in stems, f"{name}: {q.id} cites unknown source {c.source}"
                if c.at_s is not None:
                    from kb.timecode import format_timecode

                    assert f"[{format_timecode(c.at_s)}]" in stems[c.source], f"{name}: {q.id} cites no line at {c.at_s}"


def test_no_test_quotes_a_gold_question() -> None:
    """Gold questions measure what no code was tuned on, and unit tests ask in their own words: no
    test may contain a question (or a turn) of any gold file."""
    tests_text = " ".join(" ".join(p.read_text(encoding="utf-8").lower().split())
                          for p in Path(__file__).resolve().parent.rglob("*.py"))
    quoted = []
    for path in sorted(GOLD_DIR.glob("*.jsonl")):
        questions, _ = load_gold(path)
        quoted += [f"{path.name}:{q.id}" for q in questions
                   if _norm(q.question) in tests_text or any(_norm(t) in tests_text for t in q.turns)]
    assert not quoted


QUOTE_WORDS = 6  # a run of this many words shared with a transcript is a quote, not a general example
_WORD = re.compile(r"[a-z0-9']+")


def _runs(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(re.sub(r"https?://\S+", " ", text.lower()))  # a link's host is no quote
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def test_no_code_quotes_the_bundled_corpus() -> None:
    """The code is judged on transcripts it has never seen: no module of agent/, kb/ or ingest/
    (code, comment or docstring) carries a run of words of a bundled document, so nothing there is
    shaped after one of its sentences."""
    from ingest.pipeline import bundled_corpus

    corpus: set[tuple[str, ...]] = set()
    for doc in bundled_corpus().glob("*.txt"):
        corpus |= _runs(doc.read_text(encoding="utf-8"), QUOTE_WORDS)
    root = Path(__file__).resolve().parent.parent
    quoted = {f"{p.relative_to(root)}: {' '.join(run)}"
              for pkg in ("agent", "kb", "ingest") for p in (root / pkg).rglob("*.py")
              for run in _runs(p.read_text(encoding="utf-8"), QUOTE_WORDS) & corpus}
    assert not quoted, sorted(quoted)
