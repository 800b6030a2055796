"""`python -m evals.bench_modes`: a gold file through the fake model's modes over HTTP, beside the
offline backend, in fresh `kb eval` processes; the table says whether each mode keeps the offline
citation precision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench_modes import main, mode_env, table
from kb.settings import Settings


def test_table_marks_a_mode_below_the_offline_precision() -> None:
    rows = [
        {"mode": "offline", "citation_precision": 0.70, "calls_per_question": 0.0, "load": 1.0},
        {"mode": "tools", "citation_precision": 0.75, "calls_per_question": 1.0, "load": 1.0},
        {"mode": "no_markers", "citation_precision": 0.50, "calls_per_question": 1.0, "load": 1.0},
    ]
    lines = table(rows).splitlines()
    assert lines[0].startswith("| mode |") and len(lines) == 5
    assert lines[3].endswith("| yes |") and lines[4].endswith("| **no** |")


def test_each_mode_process_gets_the_index_and_only_its_own_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-must-not-leak")
    monkeypatch.setenv("KB_BACKEND", "openai")
    monkeypatch.setenv("KB_TOP_K", "3")
    settings = Settings(home=tmp_path / "home", embedding_model="hashing")
    offline = mode_env(settings, None)
    assert offline["KB_BACKEND"] == "offline" and "OPENAI_API_KEY" not in offline and offline["KB_TOP_K"] == "3"
    fake = mode_env(settings, "http://127.0.0.1:9/v1")
    assert fake["OPENAI_BASE_URL"] == "http://127.0.0.1:9/v1" and fake["OPENAI_API_KEY"] == "fake-bench"
    assert fake["KB_HOME"] == str(tmp_path / "home") and fake["KB_BACKEND"] == "openai"


@pytest.mark.slow
def test_modes_run_a_gold_file_through_the_fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from ingest.pipeline import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "reactor.txt").write_text(
        "[00:04] Our cooling loop moves forty litres of water every minute.\n"
        "[00:11] The reactor hall was painted green last spring.\n"
        "[00:19] Each pump in the loop draws about three kilowatts.\n")
    monkeypatch.setenv("KB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KB_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KB_ABSTAIN_THRESHOLD", "0")
    monkeypatch.setenv("KB_MIN_COVERAGE", "0")
    ingest([docs], settings=Settings.from_env(), progress=False)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(g) for g in [
        {"id": "a", "category": "lookup", "question": "How much water does the cooling loop move each minute?",
         "reference": "forty litres", "keywords": ["forty"], "citations": [{"source": "reactor", "at": "00:04"}],
         "answerable": True},
        {"id": "b", "category": "lookup", "question": "What colour was the reactor hall painted?",
         "reference": "green", "keywords": ["green"], "citations": [{"source": "reactor", "at": "00:11"}],
         "answerable": True},
    ]) + "\n")
    code = main(["--gold", str(gold), "--modes", "offline,no_tools,no_markers", "--lookup",
                 "How much water does the cooling loop move each minute?", "--delay", "0.2"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith(("| offline", "| no_tools", "| no_markers"))]
    assert len(rows) == 3
    cells = {r.split(" | ")[0][2:]: [c.strip() for c in r.split("|")] for r in rows}
    assert cells["offline"][-2] == "" and cells["no_tools"][-2] in ("yes", "**no**")  # the verdict column
    assert cells["no_tools"][-4] == "0" and cells["no_markers"][-4] == "0"  # errors
    assert float(cells["no_tools"][-5]) >= 1.0  # model calls per question
    assert "simple lookup, tool-capable model at 0.20 s per call" in out and "model calls [1, 1, 1]" in out
