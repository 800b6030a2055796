"""`kb eval`: run every gold question through the same `answer()` path the other interfaces use
(a fresh thread per question, its `turns` first), score it, and write report.json, report.md and a
chart under the output folder."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import inspect
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.gold_file import GoldError, GoldQuestion, load_gold
from evals.metrics import score_question, summarize
from kb.settings import Settings

RETRIEVERS = ("hybrid", "dense", "bm25", "naive")


@dataclass
class EvalRun:
    out_dir: Path
    report: dict[str, Any]
    gold_errors: list[GoldError] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return self.report["summary"]


def git_commit(root: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root or Path(__file__).parent, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def corpus_fingerprint(sources: Sequence[Any]) -> str:
    """Which documents, in which versions, the index held (the same for every retriever)."""
    infos = sorted((s.source, s.content_hash) for s in sources)
    return hashlib.sha256(json.dumps(infos).encode()).hexdigest()[:16]


class ScopedRetriever:
    """A retriever whose searches stay inside `scope` (a source id) while it is set: how eval asks a
    gold question of its own document when `Agent.ask` has no `source` parameter."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.scope: str | None = None

    def search(self, query: str, k: int | None = None, source: str | None = None, mode: str = "hybrid") -> Any:
        return self.inner.search(query, k=k, source=self.scope or source, mode=mode)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def make_agent(settings: Settings, retriever: str, sources: Sequence[Any] = ()) -> Any:
    """An agent whose conversations live in memory: eval threads do not fill the user's thread store.
    `sources` (the main index's documents) tell the naive peer which files to read. Its retriever
    is wrapped in a ScopedRetriever, so scoped gold questions work with any `Agent.ask`."""
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.answer import Agent
    from kb.retrieval import Retriever

    if retriever == "naive":
        from evals.naive import NaiveRetriever

        paths = [Path(s.path) for s in sources if s.path and Path(s.path).exists()]
        if not paths:
            from ingest.pipeline import bundled_corpus

            paths = sorted(bundled_corpus().glob("*.txt"))
        inner: Any = NaiveRetriever(settings, paths, corpus_fingerprint(sources))
    else:
        inner = Retriever(settings)
    scoped = ScopedRetriever(inner)
    return Agent(settings, retriever=scoped, checkpointer=InMemorySaver(),  # type: ignore[arg-type]
                 retrieval_mode="hybrid" if retriever == "naive" else retriever)


def ask_kwargs(agent: Any, source: str | None) -> dict[str, Any]:
    """`source=` for `Agent.ask` when it takes one; otherwise the scope is set on the retriever."""
    if source is None:
        return {}
    if "source" in inspect.signature(agent.ask).parameters:
        return {"source": source}
    return {}


def ensure_index(settings: Settings) -> None:
    """Ingest the bundled corpus when the index is empty, as the README's main command does."""
    from kb.store import Store

    store = Store(settings)
    if not store.exists() or store.count() == 0:
        from ingest.pipeline import ingest

        ingest(settings=settings, progress=False)


def run_question(agent: Any, q: GoldQuestion) -> dict[str, Any]:
    """Ask one gold question (its `turns` first) in a fresh thread, inside its `source` if it names one."""
    thread = None
    kwargs = ask_kwargs(agent, q.source)
    scoped = getattr(agent, "retriever", None)
    if isinstance(scoped, ScopedRetriever):
        scoped.scope = q.source if not kwargs else None
    try:
        for turn in q.turns:
            thread = agent.ask(turn, thread_id=thread, **kwargs).thread_id
        result = agent.ask(q.question, thread_id=thread, **kwargs).to_json()
        error = None
    except Exception as exc:  # one failing question must not stop the run; it is reported
        result, error = {}, f"{type(exc).__name__}: {exc}"
    finally:
        if isinstance(scoped, ScopedRetriever):
            scoped.scope = None
    verdicts = score_question(q, result)
    return {
        "id": q.id, "category": q.category, "source": q.source, "question": q.question, "turns": list(q.turns),
        "answer": result.get("answer"), "citations": result.get("citations", []),
        "retrieved": result.get("retrieved", []), "tool_calls": result.get("tool_calls", []),
        "abstained": result.get("abstained"), "latency_s": result.get("latency_s"),
        "usage": result.get("usage", {}), "error": error, "verdicts": verdicts, **_flatten(verdicts),
    }


def retrieve_question(retriever: Any, q: GoldQuestion, settings: Settings, mode: str) -> dict[str, Any]:
    """Only the retrieval stage: the top-k passages for the question (inside its source, if any),
    scored for retrieval recall and MRR; answer metrics do not apply."""
    started = time.perf_counter()
    try:
        passages = retriever.search(q.question, k=settings.retrieval.top_k, source=q.source, mode=mode)
        result: dict[str, Any] = {"retrieved": [{"source": p.source, "start_s": p.start_s, "end_s": p.end_s,
                                                 "score": round(p.score, 6), "at": p.at} for p in passages]}
        error = None
    except Exception as exc:  # reported per question, like a failed answer
        result, error = {}, f"{type(exc).__name__}: {exc}"
    verdicts = score_question(q, result)
    return {"id": q.id, "category": q.category, "source": q.source, "question": q.question, "turns": list(q.turns),
            "answer": None, "citations": [], "retrieved": result.get("retrieved", []), "tool_calls": [],
            "abstained": None, "latency_s": round(time.perf_counter() - started, 4), "usage": {}, "error": error,
            "verdicts": verdicts, **_flatten(verdicts)}


def unscope(questions: Sequence[GoldQuestion]) -> list[GoldQuestion]:
    """The questions asked of the whole index: `source` dropped, and the unanswerable questions that
    are unanswerable only inside their source (a question of another document) left out."""
    return [dataclasses.replace(q, source=None) for q in questions if q.answerable or q.source is None]


def _flatten(verdicts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in verdicts.items() if k not in ("id", "category")}


class EvalInputError(ValueError):
    """A gold file, compare folder or option that cannot be used; raised before anything runs."""

    def __init__(self, message: str, gold_errors: Sequence[GoldError] = ()) -> None:
        super().__init__(message)
        self.gold_errors = list(gold_errors)


def check_retrievers(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in RETRIEVERS]
    if unknown or not names:
        raise EvalInputError(f"unknown retriever {', '.join(map(repr, unknown)) or '(none)'} (one of {', '.join(RETRIEVERS)})")


def load_report(folder: Path) -> dict[str, Any]:
    path = folder / "report.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EvalInputError(f"--compare: no report.json in {folder}") from None
    except ValueError as exc:
        raise EvalInputError(f"--compare: {path} is not a report: {exc}") from None


def run_eval(
    gold: Path, out_dir: Path | None = None, settings: Settings | None = None, retriever: str = "hybrid",
    judge: bool = False, compare: Path | None = None, progress: bool | None = None, limit: int | None = None,
    unscoped: bool = False, retrieval_only: bool = False,
) -> EvalRun:
    """Score every gold question; `unscoped` asks scoped questions of the whole index (see unscope),
    `retrieval_only` runs only the retrieval stage (recall and MRR; no answers)."""
    from tqdm import tqdm

    from evals import report as report_mod

    settings = settings or Settings.from_env()
    check_retrievers([retriever])
    if judge:
        from evals.judge import check_judge

        check_judge(settings)
    old = load_report(compare) if compare else None  # before the run: a wrong folder fails at once
    questions, errors = load_gold(gold)
    if not questions:
        raise EvalInputError(f"{gold}: no valid question" + (f" ({len(errors)} invalid lines)" if errors else " (empty file)"),
                             errors)
    questions = unscope(questions) if unscoped else questions
    questions = questions[:limit] if limit else questions
    ensure_index(settings)
    from kb.store import Store

    sources = Store(settings).sources()
    agent = make_agent(settings, retriever, sources)
    agent.warm()  # latency figures measure answering, not loading the model, BM25 or the calculator's units
    rows = []
    show = sys.stderr.isatty() if progress is None else progress
    for q in tqdm(questions, desc=f"eval {gold.name} [{retriever}]", unit="q", disable=not show, file=sys.stderr):
        if retrieval_only:
            rows.append(retrieve_question(agent.retriever, q, settings, "hybrid" if retriever == "naive" else retriever))
        else:
            rows.append(run_question(agent, q))
    judge_summary = None
    if judge:
        from evals.judge import judge_rows

        judge_summary = judge_rows(rows, questions, settings)
    report = {
        **_summaries(rows, judge_summary), "questions": rows, "judge": judge_summary,
        "gold": str(gold), "gold_errors": [str(e) for e in errors],
        "backend": agent.backend, "model": settings.agent.model if agent.backend == "openai" else None,
        "retriever": retriever, "unscoped": unscoped, "retrieval_only": retrieval_only, "git_commit": git_commit(), "corpus_fingerprint": corpus_fingerprint(sources),
        "settings": {k: v for k, v in settings.flat().items() if k != "prices"},
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }
    if old is not None:
        report["compare"] = report_mod.comparison(old, report)
    out_dir = out_dir or settings.home / "evals" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    report_mod.write(report, out_dir)
    return EvalRun(out_dir, report, errors)


def _summaries(rows: list[dict[str, Any]], judge_summary: dict[str, Any] | None) -> dict[str, Any]:
    """The run's summary (with the judge's figures, if it ran) and one summary per category."""
    summary = summarize(rows)
    if judge_summary:
        summary.update({k: judge_summary[k] for k in ("judge_correct", "judge_faithful")})
    by_category = {cat: summarize([r for r in rows if r["category"] == cat]) for cat in sorted({r["category"] for r in rows})}
    return {"summary": summary, "by_category": by_category}


def below_thresholds(summary: dict[str, Any], minimums: dict[str, float | None]) -> list[str]:
    """Metrics under their `--min-*` threshold, as messages."""
    out = []
    for key, minimum in minimums.items():
        if minimum is None:
            continue
        value = summary.get(key)
        if value is None or value < minimum:
            out.append(f"{key} {value if value is None else round(value, 3)} is below {minimum}")
    return out


def compare_retrievers(gold: Path, retrievers: Sequence[str], settings: Settings, out_root: Path,
                       unscoped: bool = False, retrieval_only: bool = False) -> list[dict[str, Any]]:
    check_retrievers(retrievers)
    table = []
    for name in retrievers:
        run = run_eval(gold, out_root / name, settings=settings, retriever=name, progress=False, unscoped=unscoped,
                       retrieval_only=retrieval_only)
        table.append({"retriever": name, **run.summary})
    return table
