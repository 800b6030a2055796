"""Build an episode's brief from the index: the extractive core, offline and deterministic, with
the model's wording on top when one is configured (see agent.brief.wording).

The brief is plain JSON data (the `kb brief --json` schema):
`{source, title, url, tldr: {text, citations}, moments: [{text, at, seconds, url, quote}],
chapters: [{title, at, seconds, url, moments}], figures: [{value, unit, what, about, at, seconds,
url, quote}], mentioned: [{name, kind, at, seconds, url, count, description}],
questions: [{question, answer, citations}]}`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.brief import cache
from agent.brief.document import Episode, doc_hash, load_episode, resolve_source
from agent.brief.text import clean_quote, title_from
from kb.settings import Settings
from kb.store import Store

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from agent.brief.moments import Scored

TLDR_SENTENCES = 2


def get_brief(source: str, settings: Settings | None = None, refresh: bool = False, store: Store | None = None,
              embedder: Any = None, answer_fn: Callable[..., Any] | None = None) -> dict[str, Any]:
    """The brief of `source`: from the cache when the document is unchanged, else built (and cached).
    Raises IndexEmpty on an empty index and UnknownSource (listing close matches) for an unknown id."""
    settings = settings or Settings.from_env()
    if not refresh and store is None:
        hit = cache.fast_read(settings, source)
        if hit is not None:
            return hit
    store = store or Store(settings, embedder)
    store.require_documents()
    source = resolve_source(store, source)
    version = doc_hash(store, source) or ""
    if not refresh:
        hit = cache.read(settings, source, version)
        if hit is not None:
            return hit
    episode = load_episode(store, source)
    brief = build_brief(episode, settings, store=store, embedder=embedder, answer_fn=answer_fn)
    cache.write(settings, source, version, episode.path, brief)
    return brief


def build_brief(episode: Episode, settings: Settings, store: Store | None = None, embedder: Any = None,
                answer_fn: Callable[..., Any] | None = None, check_questions: bool = True) -> dict[str, Any]:
    """The brief of one episode (no cache)."""
    # imported here, so that serving a cached brief loads neither numpy nor the model
    from concurrent.futures.process import BrokenProcessPool

    from agent.brief.chapters import boundaries, chapter_count, sentence_ranges
    from agent.brief.figures_table import figures
    from agent.brief.mentioned import mentions
    from agent.brief.moments import central_blocks, moment_count, score, select
    from agent.brief.questions import check, offline_questions
    from agent.brief.text import distinctive_terms

    if embedder is None:
        from kb.embeddings import get_embedder

        embedder = get_embedder(settings)
    sents = episode.sentences
    names = mentions(sents)
    table = _side_pool().submit(figures, sents, [m.name for m in names])  # read while the model embeds
    scored = score(sents, embedder.embed, central_blocks(episode.blocks))
    try:
        figs = table.result()
    except (OSError, RuntimeError, BrokenProcessPool):  # no second process here: read them in this one
        figs = figures(sents, [m.name for m in names])
    picked = select(sents, scored, moment_count(sents, len(scored.index)))
    starts = boundaries(episode.blocks, chapter_count(len(episode.blocks), episode.duration_s))
    ranges = sentence_ranges(episode.blocks, starts, len(sents))
    terms = distinctive_terms([[sents[i].text for i in range(a, b + 1)] for a, b in ranges])
    brief: dict[str, Any] = {
        "source": episode.source, "title": episode.title, "url": episode.url,
        "tldr": tldr(episode, scored, picked),
        "moments": [moment(episode, i) for i in picked],
        "chapters": [chapter(episode, scored, picked, r, t, n) for n, (r, t) in enumerate(zip(ranges, terms))],
        "figures": [figure_record(episode, f) for f in figs],
        "mentioned": [mention_record(episode, m) for m in names],
        "questions": [],
    }
    candidates = offline_questions(terms)
    if settings.resolved_backend == "openai":
        from agent.brief.wording import reword

        brief, candidates = reword(brief, episode, settings, candidates)
    if check_questions:
        brief["questions"] = check(candidates, episode.source, settings, answer_fn=answer_fn, store=store)
    return brief


_POOL: list[Executor] = []
_POOL_LOCK = threading.Lock()


def _side_pool() -> Executor:
    """The process-wide one-worker process pool the quantities are read in (spawned, so no state of
    this process is copied; kept, so its quantity reader stays loaded), or a thread pool where
    processes cannot be started."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    with _POOL_LOCK:
        if not _POOL:
            try:
                _POOL.append(ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")))
            except (OSError, ValueError, NotImplementedError):
                _POOL.append(ThreadPoolExecutor(max_workers=1))
        return _POOL[0]


def moment(episode: Episode, i: int) -> dict[str, Any]:
    at, seconds, url = episode.at(i)
    quote = clean_quote(episode.sentences[i].text)
    return {"text": quote, "at": at, "seconds": seconds, "url": url, "quote": quote}


def citation(episode: Episode, i: int) -> dict[str, Any]:
    at, seconds, url = episode.at(i)
    return {"source": episode.source, "title": episode.title, "at": at, "seconds": seconds, "url": url,
            "quote": episode.sentences[i].text}


def tldr(episode: Episode, scored: Scored, picked: list[int]) -> dict[str, Any]:
    """The most central of the moments (one or two), in episode order, each cited."""
    from agent.brief.moments import leans_on_previous

    rank = {i: float(scored.centrality[j]) for j, i in enumerate(scored.index)}
    standalone = [i for i in picked if not leans_on_previous(episode.sentences[i].text)] or picked
    top = sorted(sorted(standalone, key=lambda i: -rank.get(i, 0.0))[:TLDR_SENTENCES])
    parts = []
    for i in top:
        text = clean_quote(episode.sentences[i].text).rstrip()
        parts.append(f"{text} [{episode.at(i)[0]}]")
    return {"text": " ".join(parts), "citations": [citation(episode, i) for i in top]}


def chapter(episode: Episode, scored: Scored, picked: list[int], span: tuple[int, int], terms: list[str],
            n: int) -> dict[str, Any]:
    from agent.brief.moments import most_central

    lo, hi = span
    inside = [i for i in picked if lo <= i <= hi]
    if not inside:
        best = most_central(scored, lo, hi)
        inside = [best] if best is not None else []
    at, seconds, url = episode.at(lo)
    return {"title": title_from(terms) or f"Part {n + 1}", "at": at, "seconds": seconds, "url": url,
            "moments": [moment(episode, i) for i in inside]}


def figure_record(episode: Episode, f: Any) -> dict[str, Any]:
    at, seconds, url = episode.at(f.sentence, f.seconds)
    return {"value": f.quantity.value, "unit": f.quantity.unit, "what": f.what, "about": f.about,
            "at": at, "seconds": seconds, "url": url, "quote": f.quote}


def mention_record(episode: Episode, m: Any) -> dict[str, Any]:
    from agent.brief.mentioned import kind_of

    s = episode.sentences[m.first_sentence]
    at, seconds, url = episode.at(m.first_sentence, s.time_at(m.first_offset))
    return {"name": m.name, "kind": kind_of(m), "at": at, "seconds": seconds, "url": url, "count": m.count,
            "description": m.description}
