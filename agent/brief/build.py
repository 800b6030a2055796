"""Build an episode's brief from the index: the extractive core, offline and deterministic, with
the model's wording on top when one is configured (see agent.brief.wording).

The brief is plain JSON data (the `kb brief --json` schema):
`{source, title, url, tldr: {text, citations}, moments: [{text, at, seconds, url, quote}],
chapters: [{title, at, seconds, url, moments}], figures: [{value, unit, what, about, at, seconds,
url, quote}], mentioned: [{name, kind, at, seconds, url, count, description}],
questions: [{question, answer, citations}]}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.brief import cache, side
from kb.settings import Settings

if TYPE_CHECKING:  # the cached path imports none of these (nor numpy, Chroma or the model)
    from concurrent.futures import Future

    from agent.brief.document import Episode
    from agent.brief.moments import Scored
    from kb.store import Store

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
    from agent.brief.document import doc_hash, load_episode, resolve_source
    from kb.store import Store

    if refresh:
        side.start()  # a build for sure: the side process loads the quantity reader meanwhile
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
    from agent.brief.chapters import boundaries, chapter_count, sentence_ranges
    from agent.brief.figures_table import figures
    from agent.brief.memo import memo_for
    from agent.brief.mentioned import mentions
    from agent.brief.moments import central_blocks, moment_count, score, select
    from agent.brief.questions import check, offline_questions
    from agent.brief.text import distinctive_terms

    side.start()
    if embedder is None:
        from kb.embeddings import get_embedder

        embedder = get_embedder(settings)
    embedder = memo_for(embedder)  # each sentence embedded once, for the moments and the checks alike
    sents = episode.sentences
    names = mentions(sents)
    table = side.submit(figures, sents, [m.name for m in names])  # read while this process embeds
    scored = score(sents, embedder.embed, central_blocks(episode.blocks))
    picked = select(sents, scored, moment_count(sents, len(scored.index)))
    starts = boundaries(episode.blocks, chapter_count(len(episode.blocks), episode.duration_s))
    ranges = sentence_ranges(episode.blocks, starts, len(sents))
    terms = distinctive_terms([[sents[i].text for i in range(a, b + 1)] for a, b in ranges])
    brief: dict[str, Any] = {
        "source": episode.source, "title": episode.title, "url": episode.url,
        "tldr": tldr(episode, scored, picked),
        "moments": [moment(episode, i) for i in picked],
        "chapters": [chapter(episode, scored, picked, r, t, n) for n, (r, t) in enumerate(zip(ranges, terms))],
        "figures": [],  # filled in below, when the side process has read them
        "mentioned": [mention_record(episode, m) for m in names],
        "questions": [],
    }
    candidates = offline_questions(terms)
    if settings.resolved_backend == "openai":
        from agent.brief.wording import reword

        brief["figures"] = _figures_of(table, episode, names)  # the model words from them
        brief, candidates = reword(brief, episode, settings, candidates)
    if check_questions:
        brief["questions"] = check(candidates, episode.source, settings, answer_fn=answer_fn, store=store,
                                   embedder=embedder)
    if settings.resolved_backend != "openai":
        brief["figures"] = _figures_of(table, episode, names)
    return brief


def _figures_of(table: Future[Any], episode: Episode, names: list[Any]) -> list[dict[str, Any]]:
    """The figures table's records, once the side process has read them (read here where it could not)."""
    from concurrent.futures.process import BrokenProcessPool

    from agent.brief.figures_table import figures

    try:
        figs = table.result()
    except (OSError, RuntimeError, BrokenProcessPool):  # no second process here: read them in this one
        figs = figures(episode.sentences, [m.name for m in names])
    return [figure_record(episode, f) for f in figs]


def moment(episode: Episode, i: int) -> dict[str, Any]:
    from agent.brief.text import clean_quote

    at, seconds, url = episode.at(i)
    quote = clean_quote(episode.sentences[i].text)
    return {"text": quote, "at": at, "seconds": seconds, "url": url, "quote": quote}


def citation(episode: Episode, i: int) -> dict[str, Any]:
    at, seconds, url = episode.at(i)
    return {"source": episode.source, "title": episode.title, "at": at, "seconds": seconds, "url": url,
            "quote": episode.sentences[i].text}


def tldr_of(episode: Episode, scored: Scored, picked: list[int]) -> list[int]:
    """The most central of the moments that stand alone (one or two), in episode order."""
    from agent.brief.moments import leans_on_previous

    rank = {i: float(scored.centrality[j]) for j, i in enumerate(scored.index)}
    standalone = [i for i in picked if not leans_on_previous(episode.sentences[i].text)] or picked
    return sorted(sorted(standalone, key=lambda i: -rank.get(i, 0.0))[:TLDR_SENTENCES])


def tldr(episode: Episode, scored: Scored, picked: list[int]) -> dict[str, Any]:
    """The TL;DR moments as one cited text."""
    from agent.brief.text import clean_quote

    top = tldr_of(episode, scored, picked)
    parts = []
    for i in top:
        text = clean_quote(episode.sentences[i].text).rstrip()
        parts.append(f"{text} [{episode.at(i)[0]}]")
    return {"text": " ".join(parts), "citations": [citation(episode, i) for i in top]}


def chapter(episode: Episode, scored: Scored, picked: list[int], span: tuple[int, int], terms: list[str],
            n: int) -> dict[str, Any]:
    from agent.brief.moments import most_central
    from agent.brief.text import title_from

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
