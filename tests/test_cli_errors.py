"""Bad options and inputs get one clear message and the documented exit status, before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from interfaces.cli import main
from kb.settings import Settings, SettingsError


@pytest.fixture
def home(tmp_path: Path) -> Path:
    doc = tmp_path / "talk.txt"
    doc.write_text("[00:05] A gigawatt is half a million GPUs.\n[00:09] Power is the bottleneck.\n")
    ingest([doc], settings=Settings(home=tmp_path / "home", embedding_model="hashing"), progress=False)
    return tmp_path / "home"


def run(home: Path, *args: str) -> int:
    return main(["--home", str(home), "--embedding-model", "hashing", "--backend", "offline", *args])


def test_eval_refuses_bad_inputs_before_running(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    invalid = tmp_path / "invalid.jsonl"
    invalid.write_text('{"id": "x"}\nnot json\n')
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "g", "category": "lookup", "question": "How many GPUs fit in one gigawatt?",
                                "reference": "half a million", "answerable": True}) + "\n")
    cases = [
        (["eval", "--gold", str(empty)], "no valid question (empty file)"),
        (["eval", "--gold", str(invalid)], "no valid question (2 invalid lines)"),
        (["eval", "--gold", str(good), "--compare", str(tmp_path)], "no report.json in"),
        (["eval", "--gold", str(good), "--retrievers", "hybrid,bogus"], "unknown retriever 'bogus'"),
        (["eval", "--gold", str(good), "--judge"], "--judge needs a model"),
    ]
    for args, message in cases:
        assert run(home, *args) == 2, args
        assert message in capsys.readouterr().err, args
    assert not (home / "evals").exists(), "nothing ran"


def test_retriever_table_applies_thresholds(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "g", "category": "lookup", "question": "What is the capital of France?",
                                "reference": "", "answerable": True, "keywords": ["Paris"]}) + "\n")
    assert run(home, "eval", "--gold", str(good), "--retrievers", "hybrid,bm25", "--out", str(tmp_path / "o"),
               "--min-answer-accuracy", "0.5") == 1
    assert "hybrid: answer_accuracy 0.0 is below 0.5" in capsys.readouterr().err


def test_search_errors(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(home, "search", "gpus", "--source", "nosuch") == 1
    assert "no document 'nosuch' in the index" in capsys.readouterr().err
    assert run(tmp_path / "empty-home", "search", "gpus") == 3
    assert "is empty: run `kb ingest` first" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(home, "search", "gpus", "-k", "0")


def test_settings_are_range_checked(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SettingsError, match="KB_TOP_K=0"):
        Settings(top_k=0)
    with pytest.raises(SettingsError, match="KB_CHUNK_OVERLAP_TOKENS"):
        Settings(chunk_tokens=64, chunk_overlap_tokens=64)
    monkeypatch.setenv("KB_EMBEDDING_BATCH_SIZE", "0")
    assert main(["sources"]) == 2 and "KB_EMBEDDING_BATCH_SIZE=0: must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_an_embedding_model_that_cannot_load_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("Some text.\n")
    assert main(["--home", str(tmp_path / "h"), "--embedding-model", str(tmp_path / "no-model"), "ingest", str(doc)]) == 3
    err = capsys.readouterr().err
    assert "cannot load the embedding model" in err and "Traceback" not in err
