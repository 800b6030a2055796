"""The record of questions: `kb ask` logs, feedback is stored, `kb log` shows it and exports gold lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.gold_file import load_gold
from ingest.pipeline import ingest
from interfaces import log
from interfaces.cli import main
from kb.settings import Settings


@pytest.fixture
def home(tmp_path: Path) -> Path:
    doc = tmp_path / "talk.txt"
    doc.write_text("# T\nhttps://youtu.be/abc\n[00:05] Power is the real bottleneck for data centers.\n"
                   "[00:09] A gigawatt is half a million GPUs.\n")
    ingest([doc], settings=Settings(home=tmp_path / "home", embedding_model="hashing"), progress=False)
    return tmp_path / "home"


def cli(home: Path, *args: str) -> int:
    return main(["--home", str(home), "--embedding-model", "hashing", "--backend", "offline", *args])


def test_ask_is_logged_and_feedback_exports_gold(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(home, "ask", "How many GPUs fit in one gigawatt?") == 0
    assert cli(home, "ask", "What is the bottleneck for data centers?") == 0
    capsys.readouterr()
    settings = Settings(home=home, embedding_model="hashing")
    entries = log.rows(settings)
    assert [e["question"] for e in entries] == ["What is the bottleneck for data centers?", "How many GPUs fit in one gigawatt?"]
    first = entries[1]
    assert first["interface"] == "ask" and first["backend"] == "offline" and first["citations"][0]["at"] == "00:09"
    assert first["retrieved"] and first["latency_s"] > 0 and first["prompt_tokens"] == 0

    assert log.set_feedback(settings, "up", row_id=first["id"])
    assert cli(home, "log", "--json", "--limit", "1") == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown) == 1 and shown[0]["question"] == "What is the bottleneck for data centers?"
    assert cli(home, "log") == 0
    assert "👍" in capsys.readouterr().out

    rated = tmp_path / "rated.jsonl"
    assert cli(home, "log", "--export-gold", str(rated)) == 0
    questions, errors = load_gold(rated)
    assert not errors and [q.question for q in questions] == ["How many GPUs fit in one gigawatt?"]
    assert questions[0].citations[0].source == "talk" and questions[0].citations[0].at_s == 9.0
    everything = tmp_path / "all.jsonl"
    assert cli(home, "log", "--export-gold", str(everything), "--all") == 0
    assert len(load_gold(everything)[0]) == 2


def test_asking_an_empty_index_says_to_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--home", str(tmp_path / "empty"), "--embedding-model", "hashing", "--backend", "offline", "ask", "Anything?"])
    err = capsys.readouterr().err
    assert code == 3 and "is empty: run `kb ingest` first" in err and "Traceback" not in err
