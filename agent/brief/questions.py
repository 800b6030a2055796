"""Questions an episode answers, each checked by asking kb itself.

Offline, questions are made from the chapters' distinctive terms ("What is said about grid, power
and terawatt?"); with a model, the model writes them. Each is run through `agent.answer.answer()`
scoped to the episode (its `source=` argument, where that exists; otherwise unscoped, and only an
answer that cites the episode counts) and kept only when it answers — no abstention — with at
least one verified citation of the episode.
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


def _default() -> AnswerFn:
    from agent.answer import answer

    return answer


def scoped(answer_fn: AnswerFn) -> bool:
    """Whether `answer_fn` can be scoped to one document (a `source` parameter)."""
    try:
        return "source" in inspect.signature(answer_fn).parameters
    except (TypeError, ValueError):
        return False


def check(questions: Sequence[str], source: str, settings: Settings, answer_fn: AnswerFn | None = None,
          store: Any = None) -> list[dict[str, Any]]:
    """The questions kb answers from `source` with a verified citation: {question, answer, citations}."""
    if answer_fn is None:
        from agent.answer import answer as answer_fn
    kwargs: dict[str, Any] = {"settings": settings}
    if store is not None and answer_fn is not _default():
        kwargs["store"] = store
    if scoped(answer_fn):
        kwargs["source"] = source
    kept: list[dict[str, Any]] = []
    for q in questions:
        result = answer_fn(q, thread_id=f"brief-{uuid.uuid4().hex[:10]}", **kwargs)
        cites = [c for c in result.citations if c.get("source") == source]
        if result.abstained or not cites or any(k["citations"][0]["at"] == cites[0]["at"] for k in kept):
            continue  # no answer, or the same answer as an earlier question
        kept.append({"question": q, "answer": result.answer, "citations": cites})
        if len(kept) >= MAX_QUESTIONS:
            break
    return kept
