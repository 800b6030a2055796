"""Questions an episode answers, each checked by asking kb itself.

Offline, questions are made from the chapters' distinctive terms ("What is said about grid, power
and terawatt?"); with a model, the model writes them. Each is asked of the `agent.answer.Agent`
that `answer()` runs (one, kept for the process, over the brief's store and embedder), scoped to
the episode; a caller's own `answer_fn` is scoped through its `source=` argument where it has one
(otherwise unscoped, and only an answer that cites the episode counts). A question is kept only
when it answers — no abstention — with at least one verified citation of the episode.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from agent.brief.text import title_from
from kb.settings import Settings

MAX_QUESTIONS = 3  # the issue asks 3-5; each check is a full answer(), the largest part of a cold build
QUESTION_TEMPLATE = "What is said about {terms}?"

AnswerFn = Callable[..., Any]


def offline_questions(chapter_terms: Sequence[Sequence[str]], limit: int = MAX_QUESTIONS + 3) -> list[str]:
    """Candidate questions from each chapter's terms, in chapter order, no two alike."""
    out: list[str] = []
    for terms in chapter_terms:
        if not terms:
            continue
        q = QUESTION_TEMPLATE.format(terms=title_from(list(terms)).lower())
        if q not in out:
            out.append(q)
        if len(out) >= limit:
            break
    return out


def scoped(answer_fn: AnswerFn) -> bool:
    """Whether `answer_fn` can be scoped to one document (a `source` parameter)."""
    try:
        return "source" in inspect.signature(answer_fn).parameters
    except (TypeError, ValueError):
        return False


def checking_agent(settings: Settings, store: Any = None, embedder: Any = None) -> Any:
    """The `agent.answer.Agent` the checks ask (what `answer()` runs), one per settings, store and
    embedder in a process (`agent.answer.get_agent`): built once, its graph, index and term weights
    stay loaded. Its searches embed with `embedder` (a brief passes its memo, so sentences already
    embedded are not again)."""
    from agent.answer import get_agent

    return get_agent(settings, store=store, embedder=embedder)


def _ask_fn(settings: Settings, answer_fn: AnswerFn | None, store: Any, embedder: Any) -> tuple[AnswerFn, dict[str, Any]]:
    """What to call for each question, and its keyword arguments."""
    if answer_fn is None:
        return checking_agent(settings, store, embedder).ask, {}
    kwargs: dict[str, Any] = {"settings": settings}
    if store is not None:
        kwargs["store"] = store
    return answer_fn, kwargs


def check(questions: Sequence[str], source: str, settings: Settings, answer_fn: AnswerFn | None = None,
          store: Any = None, embedder: Any = None) -> list[dict[str, Any]]:
    """The questions kb answers from `source` with a verified citation: {question, answer, citations}.
    Without `answer_fn`, each is asked of one `checking_agent` (the Agent `answer()` runs), scoped."""
    ask, kwargs = _ask_fn(settings, answer_fn, store, embedder)
    if answer_fn is None or scoped(answer_fn):
        kwargs["source"] = source
    kept: list[dict[str, Any]] = []
    for q in questions:
        result = ask(q, thread_id=f"brief-{uuid.uuid4().hex[:10]}", **kwargs)
        cites = [c for c in result.citations if c.get("source") == source]
        if result.abstained or not cites or any(k["citations"][0]["at"] == cites[0]["at"] for k in kept):
            continue  # no answer, or the same answer as an earlier question
        kept.append({"question": q, "answer": result.answer, "citations": cites})
        if len(kept) >= MAX_QUESTIONS:
            break
    return kept
