"""`kb eval` end to end: a small gold file against the offline backend on the bundled corpus, an
invalid line, --compare, thresholds, the naive retriever, and a judged run against the fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from interfaces.cli import main
from kb.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, reply, tool_call

pytestmark = pytest.mark.slow  # the bundled corpus with the real model, and a fake model server

TALK = "stanford-mse435-2026-infrastructure-capstone-transcript"
GOLD = [
    {"id": "t1", "category": "lookup", "question": "Why are CPUs in demand again?", "reference": "Agents use CPUs.",
     "keywords": ["CPU", "agent"], "citations": [{"source": TALK, "at": "02:01"}], "answerable": True},
    {"id": "t2", "category": "compute", "question": "At $70 billion per gigawatt, what do 6 gigawatts cost?",
     "reference": "$420 billion", "keywords": [], "numeric": {"value": 420e9, "rel_tol": 0.02}, "citations": [], "answerable": True},
    {"id": "t3", "category": "followup", "turns": ["How is OpenAI using its models in chip design?"],
     "question": "And how long does that take?", "reference": "3 years", "keywords": ["3 years"],
     "citations": [{"source": TALK, "at": "36:02"}], "answerable": True},
    {"id": "t4", "category": "abstain", "question": "Which football club does the guest support?",
     "reference": "", "keywords": [], "citations": [], "answerable": False},
]


def write_gold(path: Path, extra_lines: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(g) for g in GOLD] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_offline_run_writes_three_files(corpus_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = write_gold(tmp_path / "small.jsonl", ('{"id": "bad", "category": "lookup"}',))
    out = tmp_path / "run1"
    code = main(["eval", "--gold", str(gold), "--out", str(out), "--backend", "offline", "--home", str(corpus_home)])
    assert code == 0
    printed = capsys.readouterr()
    assert "answer_accuracy=" in printed.out and "small.jsonl:5" in printed.err
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.md", "metrics.png"}
    report = json.loads((out / "report.json").read_text())
    s = report["summary"]
    assert s["n"] == 4 and s["errors"] == 0
    assert s["answer_accuracy"] == 1.0 and s["abstention_accuracy"] == 1.0 and s["numeric_accuracy"] == 1.0
    assert s["retrieval_recall_at_5"] == 1.0 and s["citation_recall"] == 1.0
    assert set(report["by_category"]) == {"lookup", "compute", "followup", "abstain"}
    row = report["questions"][0]
    assert {"id", "category", "question", "answer", "citations", "retrieved", "verdicts", "latency_s", "usage", "error"} <= set(row)
    assert report["backend"] == "offline" and report["corpus_fingerprint"] and "settings" in report
    assert "line 5" in " ".join(report["gold_errors"]) or "small.jsonl:5" in " ".join(report["gold_errors"])
    md = (out / "report.md").read_text()
    assert "## Summary" in md and "## By category" in md and "## Failures" in md
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"

    # a second run compared with the first; thresholds turn scores into an exit status
    code = main(["--home", str(corpus_home), "--backend", "offline", "eval", "--gold", str(gold), "--out", str(tmp_path / "run2"),
                 "--compare", str(out), "--min-answer-accuracy", "0.9"])
    assert code == 0
    md2 = (tmp_path / "run2" / "report.md").read_text()
    assert "## Changes since" in md2 and "No question flipped." in md2
    assert main(["--home", str(corpus_home), "--backend", "offline", "eval", "--gold", str(gold), "--out",
                 str(tmp_path / "run3"), "--min-answer-accuracy", "1.01"]) == 1


def test_naive_retriever_runs_the_same_questions(corpus_home: Path, tmp_path: Path) -> None:
    from evals.harness import run_eval

    run = run_eval(write_gold(tmp_path / "g.jsonl"), tmp_path / "naive", settings=Settings(home=corpus_home, backend="offline"),
                   retriever="naive", progress=False)
    assert run.summary["n"] == 4 and run.report["retriever"] == "naive"
    lookup = run.report["questions"][0]
    assert 0 < len(lookup["retrieved"]) <= 4  # the tutorial retriever's top 4
    from evals.harness import corpus_fingerprint
    from kb.store import Store

    # the report names the corpus, not the peer's own collection, so runs of all retrievers compare
    assert run.report["corpus_fingerprint"] == corpus_fingerprint(Store(Settings(home=corpus_home)).sources())


def test_judged_run_against_the_fake_openai_server(tmp_path: Path) -> None:
    from evals.harness import run_eval
    from ingest.pipeline import ingest

    doc = tmp_path / "talk.txt"
    doc.write_text("# T\nhttps://youtu.be/abc\n[00:05] Power is the bottleneck.\n[00:09] A gigawatt is half a million GPUs.\n")
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps({"id": "j1", "category": "lookup", "question": "What does one gigawatt hold, in GPUs?",
                                "reference": "Half a million", "keywords": ["half a million"],
                                "citations": [{"source": "talk", "at": "00:09"}], "answerable": True}) + "\n")

    def script(body: dict[str, Any], index: int) -> Any:
        if "tools" not in body:
            return reply('{"correct": true, "faithful": true, "reason": "matches"}')
        if body["messages"][-1]["role"] == "user":
            return tool_call("search_knowledge_base", {"query": "gigawatt GPUs"})
        return reply("A gigawatt is half a million GPUs [00:09].")

    with FakeOpenAI(script) as server:
        settings = Settings(home=tmp_path / "home", embedding_model="hashing", backend="openai", openai_base_url=server.base_url,
                            openai_api_key="test", abstain_threshold=0.0, max_retries=0)
        ingest([doc], settings=settings, progress=False)
        run = run_eval(gold, tmp_path / "out", settings=settings, judge=True, progress=False)
        assert server.calls == 2  # kb searches before the first call: one answer call, then the judge
    s = run.summary
    assert s["answer_accuracy"] == 1.0 and s["citation_precision"] == 1.0 and s["judge_correct"] == 1.0 and s["judge_faithful"] == 1.0
    assert s["prompt_tokens"] > 0 and s["cost_usd"] > 0
    assert run.report["judge"]["prompt_tokens"] > 0 and "cost_usd" in run.report["judge"]
    assert "Judge cost" in (tmp_path / "out" / "report.md").read_text()
