"""`python -m evals.bench_modes`: a gold file through each kind of model, beside the offline backend.

Each kind is the project's fake Chat Completions server (tests/fakes/openai_server.py,
`lookup_model(mode)`) on 127.0.0.1: `tools` (calls `search_knowledge_base` when the passages it
was given do not answer), `no_tools` (ignores the `tools` field), `reject_tools` (answers 400 to a
request with `tools`) and `no_markers` (writes no `[mm:ss]`). For each, `kb eval` runs in a fresh
process with `OPENAI_BASE_URL` pointing at the server — the path a user's model takes — and the
offline backend runs the same way with no model configured. The table shows the metrics side by
side, the model calls per question, and whether each mode's citation precision is at least the
offline backend's (issue 16's target).

Then the latency of one simple lookup with a tool-capable model: every model call waits
`--delay` seconds, the question is asked once to warm up and then timed; the target is at most
1.2x one call's delay (kb searches before the first call, so no call is spent asking for a search).

    python -m evals.bench_modes --gold evals/gold/kb.jsonl [--modes offline,tools,...] [--delay 1.0]

KB_HOME names the index (the bundled corpus is ingested first if it is empty, as `kb eval` does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kb.exit_codes import EXIT_OK
from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MODES = ("offline", "tools", "no_tools", "reject_tools", "no_markers")
COLUMNS = ("answer_accuracy", "citation_precision", "citation_recall", "retrieval_recall_at_5", "abstention_accuracy",
           "false_abstention_rate", "latency_p50_s")


def _load() -> float:
    return os.getloadavg()[0]


def mode_env(settings: Settings, base_url: str | None) -> dict[str, str]:
    """The environment of the `kb eval` process: this index and the caller's other KB_ settings; the
    fake server as the model, or none."""
    from kb.settings import child_environment

    env = child_environment(ROOT, inherit_kb=True, home=settings.home, embedding_model=settings.embedding.model,
                            model_cache=settings.model_cache_path, backend=None, openai_api_key=None, openai_base_url=None)
    if base_url is None:
        env["KB_BACKEND"] = "offline"
    else:
        env.update(KB_BACKEND="openai", OPENAI_BASE_URL=base_url, OPENAI_API_KEY="fake-bench", KB_MAX_RETRIES="0")
    return env


def eval_mode(mode: str, gold: Path, settings: Settings, out: Path, delay: float = 0.0,
              extra: Sequence[str] = ()) -> dict[str, Any]:
    """`kb eval` of `gold` in a fresh process, the model being the fake server in `mode` (or none)."""
    from tests.fakes.openai_server import FakeOpenAI, lookup_model

    cmd = [sys.executable, "-m", "interfaces.cli", "eval", "--gold", str(gold), "--out", str(out / mode), *extra]
    started = time.perf_counter()
    if mode == "offline":
        proc = subprocess.run(cmd, cwd=ROOT, env=mode_env(settings, None), capture_output=True, text=True)
        calls = 0
    else:
        with FakeOpenAI(lookup_model(mode, delay=delay)) as server:
            proc = subprocess.run(cmd, cwd=ROOT, env=mode_env(settings, server.base_url), capture_output=True, text=True)
            calls = server.calls
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"kb eval [{mode}] exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    report = json.loads((out / mode / "report.json").read_text())
    summary = dict(report["summary"])
    summary.update(mode=mode, backend=report.get("backend"), model_calls=calls,
                   calls_per_question=calls / max(summary["n"], 1), wall_s=time.perf_counter() - started, load=_load())
    return summary


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: one row per mode, and whether its citation precision is at least the offline one's."""
    base = next((r.get("citation_precision") for r in rows if r["mode"] == "offline"), None)
    head = ["mode", *COLUMNS, "model calls / question", "errors", "load", "citation precision ≥ offline"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cp = r.get("citation_precision")
        verdict = "" if r["mode"] == "offline" or base is None else ("yes" if cp is not None and cp >= base else "**no**")
        cells = [r["mode"], *(_fmt(r.get(k)) for k in COLUMNS), f"{r['calls_per_question']:.2f}", str(r.get("errors", 0)),
                 f"{r['load']:.1f}", verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lookup_latency(settings: Settings, question: str, delay: float = 1.0, runs: int = 3) -> dict[str, Any]:
    """One simple lookup with a tool-capable model whose every call takes `delay` s: its latency
    (median of `runs`, after a warm-up) over the delay, and the model calls it made."""
    import statistics

    from agent.answer import Agent
    from tests.fakes.openai_server import FakeOpenAI, lookup_model

    with FakeOpenAI(lookup_model("tools", delay=delay)) as server:
        online = settings.with_(backend="openai", openai_base_url=server.base_url, openai_api_key="fake-bench",
                                max_retries=0)
        agent = Agent(online)
        agent.ask(question)  # warm up: model, index, BM25
        times, calls, cited = [], [], []
        for _ in range(runs):
            before = server.calls
            t0 = time.perf_counter()
            result = agent.ask(question)
            times.append(time.perf_counter() - t0)
            calls.append(server.calls - before)
            cited.append(sorted({c["at"] for c in result.citations}))
    took = statistics.median(times)
    row = {"delay_s": delay, "latency_s": took, "ratio": took / delay, "calls": calls, "cited": cited, "load": _load()}
    print(f"simple lookup, tool-capable model at {delay:.2f} s per call: {took:.2f} s (median of {runs}) = "
          f"{row['ratio']:.2f}x one model call (target <= 1.2x); model calls {calls}; cited {cited[0]} "
          f"(load {row['load']:.2f})", flush=True)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_modes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", default=str(ROOT / "evals" / "gold" / "kb.jsonl"))
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per model call in the lookup-latency check")
    parser.add_argument("--eval-delay", type=float, default=0.0, help="seconds per model call during the evals")
    parser.add_argument("--lookup", help="the simple lookup to time (default: the gold file's first lookup)")
    parser.add_argument("--no-latency", action="store_true", help="skip the lookup-latency check")
    parser.add_argument("--out", help="keep each mode's report under this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode {', '.join(unknown)} (one of {', '.join(MODES)})")
    import warnings

    from kb.errors import TokenizerFallbackWarning

    warnings.simplefilter("ignore", TokenizerFallbackWarning)  # logged once already, as in the CLI
    settings = Settings.from_env()
    gold = Path(args.gold)
    from evals.harness import ensure_index

    ensure_index(settings)
    print(f"bench modes: {gold} through {', '.join(modes)}, each a `kb eval` process; index {settings.home} "
          f"(load {_load():.2f})", flush=True)
    with tempfile.TemporaryDirectory(prefix="kb-bench-modes-") as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        rows = []
        for mode in modes:
            row = eval_mode(mode, gold, settings, out, delay=args.eval_delay)
            print(f"  {mode}: citation_precision {_fmt(row.get('citation_precision'))}, answer_accuracy "
                  f"{_fmt(row.get('answer_accuracy'))}, {row['calls_per_question']:.2f} model calls per question, "
                  f"{row['wall_s']:.0f} s (load {row['load']:.2f})", flush=True)
            rows.append(row)
    print(table(rows), flush=True)
    if not args.no_latency:
        question = args.lookup or _first_lookup(gold)
        lookup_latency(settings, question, delay=args.delay)
    return EXIT_OK


def _first_lookup(gold: Path) -> str:
    from evals.gold_file import load_gold

    questions, _ = load_gold(gold)
    return next(q.question for q in questions if q.answerable and q.category == "lookup" and not q.turns)


if __name__ == "__main__":
    sys.exit(main())
