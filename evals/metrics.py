"""Scoring answers against gold questions: number and keyword matching, citation and retrieval
checks, per-question verdicts, run summaries and run-to-run comparison. Pure functions, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from evals.gold_file import GoldCitation, GoldQuestion
from kb.numbers import parse_numbers
from kb.timecode import TimecodeError, format_timecode, parse_timecode

__all__ = ["citation_matches", "compare_summaries", "first_citation_in_span", "flips", "keyword_match",
           "missing_keywords", "numeric_match", "parse_numbers", "percentile", "retrieved_covers", "same_source",
           "score_question", "summarize"]

# --------------------------------------------------------------------------- numbers

def _tolerance_matches(number: float, value: float, rel_tol: float) -> bool:
    if value == 0:
        return abs(number) <= rel_tol
    return abs(number - value) <= rel_tol * abs(value) * (1 + 1e-12)


def numeric_match(answer: str, value: float, rel_tol: float) -> bool:
    """True when some number in `answer` is within `rel_tol` (relative) of `value`.

    For `value == 0`, `rel_tol` is used as an absolute tolerance instead.
    """
    return any(_tolerance_matches(n, value, rel_tol) for n in parse_numbers(answer))


# --------------------------------------------------------------------------- keywords

_DASHES_RE = re.compile(r"[-\u2010-\u2015\u2212_]+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _normalize(text: str) -> str:
    text = _DASHES_RE.sub(" ", text.translate(_QUOTES).casefold())
    return " ".join(text.split())


def _alternative_pattern(alternative: str) -> re.Pattern[str] | None:
    alt = _normalize(alternative)
    if not alt:
        return None
    pattern = re.escape(alt).replace(r"\ ", " ")
    if alt[0].isalnum():
        pattern = r"(?<![^\W_])" + pattern
    if alt[-1].isdigit():
        pattern += r"(?!\d)"
    elif alt[-1].isalnum() and len(alt) <= 3:
        pattern += r"(?:e?s)?(?![^\W_])"
    return re.compile(pattern)


def _entry_matches(text: str, entry: str) -> bool:
    patterns = [p for p in map(_alternative_pattern, entry.split("|")) if p is not None]
    return not patterns or any(p.search(text) for p in patterns)


def missing_keywords(answer: str, keywords: Sequence[str]) -> list[str]:
    """The entries of `keywords` that `answer` does not satisfy (rule: see keyword_match)."""
    text = _normalize(answer)
    return [entry for entry in keywords if not _entry_matches(text, entry)]


def keyword_match(answer: str, keywords: Sequence[str]) -> bool:
    """True when every entry of `keywords` appears in `answer`.

    Matching rule: case-insensitive; hyphens, dashes and underscores count as spaces and runs
    of whitespace as one space; an entry "a|b" is satisfied by either alternative. A keyword
    that starts with a letter or digit must start a word (not follow another letter or digit).
    At its end:
      - a keyword ending in a digit must not run on into more digits ("GPT-4" is not "GPT-40");
      - a short keyword (3 characters or fewer) must end the word, allowing a plural "s"/"es":
        "CPU" matches "CPUs", "AI" matches "AI's" but not "aim" or "said";
      - a longer keyword matches as a word prefix: "agent" matches "agents" and "agentic",
        "rate" matches "rates" but not "accelerate".
    """
    return not missing_keywords(answer, keywords)


# --------------------------------------------------------------------------- citations

def _source_key(source: str) -> str:
    return PurePosixPath(source.strip().replace("\\", "/")).name.casefold()


def same_source(a: str, b: str) -> bool:
    """Two source names denote the same file: equal up to case, folder and one extension."""
    ka, kb = _source_key(a), _source_key(b)
    if not ka or not kb:
        return False
    return ka == kb or PurePosixPath(ka).stem == kb or ka == PurePosixPath(kb).stem


# A gold time range (an annotated span) is matched by a cited second inside it, give or take
# SPAN_TOL_S: a sentence cited at the second its span's first turn starts, or one that began a
# moment before the span and runs into it, still counts.
SPAN_TOL_S = 5.0


def citation_matches(cited_source: str, cited_seconds: float | None, gold: GoldCitation,
                     tol_s: float = 30.0) -> bool:
    """A cited item matches a gold citation: same source and, where the gold gives a time, a
    cited time within ±`tol_s` seconds of it (for a gold range `at`..`end`: inside the range
    ±SPAN_TOL_S). An untimed citation never matches a timed gold."""
    if not same_source(cited_source, gold.source):
        return False
    if gold.at_s is None:
        return True
    if cited_seconds is None:
        return False
    if gold.end_s is not None:
        return gold.at_s - SPAN_TOL_S - 1e-9 <= cited_seconds <= gold.end_s + SPAN_TOL_S + 1e-9
    return abs(cited_seconds - gold.at_s) <= tol_s + 1e-9


def retrieved_covers(source: str, start_s: float | None, end_s: float | None, gold: GoldCitation,
                     tol_s: float = 30.0) -> bool:
    """A retrieved passage covers a gold citation: same source and, where the gold gives a time,
    that time lies in [start_s - tol_s, end_s + tol_s]; for a gold range `at`..`end`, the passage
    overlaps the range widened by `tol_s` on each side (with `tol_s=0`, by more than an instant:
    a passage that ends where the span starts does not cover it). The same ±30 s as for a gold
    second: a passage is context, and one that ends just before the span still leads the reader
    to it. An untimed passage covers only untimed gold citations."""
    if not same_source(source, gold.source):
        return False
    if gold.at_s is None:
        return True
    lo = start_s if start_s is not None else end_s
    hi = end_s if end_s is not None else start_s
    if lo is None or hi is None:
        return False
    if gold.end_s is not None:
        if hi > lo:
            return lo < gold.end_s + tol_s and hi > gold.at_s - tol_s
        return gold.at_s - tol_s <= lo <= gold.end_s + tol_s
    return lo - tol_s - 1e-9 <= gold.at_s <= hi + tol_s + 1e-9


def first_citation_in_span(citations: Sequence[Mapping[str, Any]], gold: Sequence[GoldCitation]) -> bool:
    """The first cited item lies inside one of the gold ranges (±SPAN_TOL_S)."""
    if not citations:
        return False
    first = citations[0]
    return any(citation_matches(str(first.get("source") or ""), _cited_seconds(first), g) for g in gold)


# --------------------------------------------------------------------------- per question

def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _cited_seconds(cite: Mapping[str, Any]) -> float | None:
    """The cited time: `seconds`, else the `at` label when it is a timestamp, else None."""
    seconds = _num(cite.get("seconds"))
    if seconds is not None:
        return seconds
    at = cite.get("at")
    if isinstance(at, str):
        try:
            return parse_timecode(at)
        except TimecodeError:
            return None
    return None


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _describe_cited(cite: Mapping[str, Any], seconds: float | None) -> str:
    at = cite.get("at")
    if isinstance(at, str) and at.strip():
        label = at.strip()
    else:
        label = format_timecode(seconds) if seconds is not None else ""
    source = str(cite.get("source") or "?")
    return f"citation [{label}] of {source}" if label else f"citation of {source}"


def _describe_gold(gold: GoldCitation) -> str:
    return f"{gold.source} [{format_timecode(gold.at_s)}]" if gold.at_s is not None else gold.source


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, (list, tuple)):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _answer_verdicts(q: GoldQuestion, answer: str, abstained: bool,
                     reasons: list[str]) -> tuple[bool | None, bool | None, bool]:
    """(keyword_ok, numeric_ok, answer_correct) of one answer; each failure's reason is appended."""
    keyword_ok: bool | None = None
    if q.answerable and q.keywords:
        missing = missing_keywords(answer, q.keywords)
        keyword_ok = not missing
        reasons.extend(f"missing keyword {entry!r}" for entry in missing)
    numeric_ok: bool | None = None
    if q.answerable and q.numeric_value is not None:
        numeric_ok = numeric_match(answer, q.numeric_value, q.numeric_rel_tol)
        if not numeric_ok:
            tol = f"{q.numeric_rel_tol * 100:g}%" if q.numeric_value else f"±{q.numeric_rel_tol:g}"
            reasons.append(f"no number within {tol} of {_format_number(q.numeric_value)} in answer")
    if q.answerable:
        answer_correct = not abstained and keyword_ok is not False and numeric_ok is not False
        if abstained:
            reasons.append("abstained on an answerable question")
    else:
        answer_correct = abstained
        if not abstained:
            reasons.append("answered an unanswerable question instead of abstaining")
    return keyword_ok, numeric_ok, answer_correct


def _citation_verdicts(cited: Sequence[Mapping[str, Any]], gold: Sequence[GoldCitation],
                       reasons: list[str]) -> tuple[int, list[bool]]:
    """How many cited items match a gold citation, and which gold citations some cited item matches."""
    cited_matched = 0
    gold_hit = [False] * len(gold)
    for cite in cited:
        seconds = _cited_seconds(cite)
        hits = [i for i, g in enumerate(gold) if citation_matches(str(cite.get("source") or ""), seconds, g)]
        for i in hits:
            gold_hit[i] = True
        if hits:
            cited_matched += 1
        elif gold:
            reasons.append(f"{_describe_cited(cite, seconds)} matches no gold citation")
    if gold and not any(gold_hit):
        expected = ", ".join(_describe_gold(g) for g in gold)
        reasons.append(f"no citation matches a gold citation (expected {expected})")
    return cited_matched, gold_hit


def _retrieval_rank(retrieved: Sequence[Mapping[str, Any]], gold: Sequence[GoldCitation],
                    reasons: list[str]) -> int | None:
    """The rank (from 1) of the first retrieved passage covering a gold citation, None when none does."""
    for rank, passage in enumerate(retrieved, start=1):
        start_s, end_s = _num(passage.get("start_s")), _num(passage.get("end_s"))
        if any(retrieved_covers(str(passage.get("source") or ""), start_s, end_s, g) for g in gold):
            if rank > 5:
                reasons.append(f"first retrieved passage covering a gold citation is at rank {rank}")
            return rank
    reasons.append("no retrieved passage covers a gold citation")
    return None


def _span_verdict(cited: Sequence[Mapping[str, Any]], gold: Sequence[GoldCitation], reasons: list[str]) -> bool | None:
    """Whether the first citation lies in an annotated span (gold time ranges); None without ranges."""
    ranges = [g for g in gold if g.end_s is not None]
    if not ranges:
        return None
    in_span = first_citation_in_span(cited, ranges)
    if not in_span:
        reasons.append("the first citation is outside every annotated span")
    return in_span


def score_question(q: GoldQuestion, result: Mapping[str, Any]) -> dict[str, Any]:
    """Per-metric verdicts for one answer (the `--json` answer dict) to one gold question.

    Keys: id, category, answerable, abstained, answer_correct, keyword_ok, numeric_ok,
    citation_precision, citation_recall, citation_hit, retrieval_hit_at_5, retrieval_rank,
    retrieval_rr, abstention_ok, false_abstention, unanswerable_abstained, first_citation_in_span,
    scoped, cited_n, cited_matched, gold_citations_n, gold_citations_matched, reasons (one short
    string per failure).

    A metric that does not apply is None: keyword_ok / numeric_ok for unanswerable questions or
    without keywords / a number; citation and retrieval metrics without gold citations
    (citation_precision also when nothing was cited); false_abstention for unanswerable ones,
    unanswerable_abstained for answerable ones; first_citation_in_span applies to answered
    (not abstained) answerable questions whose gold citations are time ranges.
    An answerable question is answered correctly when the agent did not abstain, every keyword
    entry appears and the gold number (if any) is within tolerance; an unanswerable one when
    the agent abstained. Score a failed run with `result={}`: it then counts as wrong.
    """
    answer = result.get("answer")
    answer = answer if isinstance(answer, str) else ""
    abstained = bool(result.get("abstained"))
    reasons: list[str] = []
    keyword_ok, numeric_ok, answer_correct = _answer_verdicts(q, answer, abstained, reasons)
    gold = q.citations
    cited = _mappings(result.get("citations"))
    cited_matched, gold_hit = _citation_verdicts(cited, gold, reasons)
    retrieval_rank = _retrieval_rank(_mappings(result.get("retrieved")), gold, reasons) if gold else None
    in_span = _span_verdict(cited, gold, reasons) if q.answerable and not abstained else None
    return {
        "id": q.id,
        "category": q.category,
        "answerable": q.answerable,
        "scoped": q.source is not None,
        "abstained": abstained,
        "answer_correct": answer_correct,
        "keyword_ok": keyword_ok,
        "numeric_ok": numeric_ok,
        "citation_precision": cited_matched / len(cited) if gold and cited else None,
        "citation_recall": sum(gold_hit) / len(gold) if gold else None,
        "citation_hit": any(gold_hit) if gold else None,
        "retrieval_hit_at_5": (retrieval_rank is not None and retrieval_rank <= 5)
        if gold else None,
        "retrieval_rank": retrieval_rank,
        "retrieval_rr": (1.0 / retrieval_rank if retrieval_rank else 0.0) if gold else None,
        "abstention_ok": abstained != q.answerable,
        "false_abstention": abstained if q.answerable else None,
        "unanswerable_abstained": None if q.answerable else abstained,
        "first_citation_in_span": in_span,
        "cited_n": len(cited) if gold else 0,
        "cited_matched": cited_matched,
        "gold_citations_n": len(gold),
        "gold_citations_matched": sum(gold_hit),
        "reasons": reasons,
    }


# --------------------------------------------------------------------------- runs

def _mean(values: Iterable[Any]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linearly interpolated percentile (numpy's default method); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _correct(row: Mapping[str, Any]) -> bool:
    return not row.get("error") and bool(row.get("answer_correct"))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate scored rows (score_question's dict plus `latency_s`, `usage`, `error`).

    Rates lie in [0, 1] and average over the rows where the metric applies (None where none
    does). Rows with an error count as wrong answers; their other verdicts are used as given
    (score them with `result={}` so they count as wrong everywhere). citation_precision and
    citation_recall are micro-averages over questions with gold citations: matched cited items
    / cited items, and matched gold citations / gold citations. citation_hit_rate is the share
    of those questions with at least one matching citation. unanswerable_abstained is the share
    of unanswerable questions abstained on, first_citation_in_span the share of answered
    questions with span gold whose first citation lies in a span; `scoped` counts questions asked
    of one document. Latency percentiles are linearly
    interpolated; token counts and cost are totals.
    """
    latencies = [x for x in (_num(r.get("latency_s")) for r in rows) if x is not None]
    prompt_tokens = completion_tokens = 0
    cost = 0.0
    for r in rows:
        usage = r.get("usage")
        if isinstance(usage, Mapping):
            prompt_tokens += int(_num(usage.get("prompt_tokens")) or 0)
            completion_tokens += int(_num(usage.get("completion_tokens")) or 0)
            cost += _num(usage.get("cost_usd")) or 0.0
    with_gold = [r for r in rows if (r.get("gold_citations_n") or 0) > 0]
    return {
        "n": len(rows),
        "errors": sum(1 for r in rows if r.get("error")),
        "answer_accuracy": _mean(_correct(r) for r in rows),
        "keyword_accuracy": _mean(r.get("keyword_ok") for r in rows),
        "numeric_accuracy": _mean(r.get("numeric_ok") for r in rows),
        "citation_precision": _ratio(sum(r.get("cited_matched") or 0 for r in with_gold),
                                     sum(r.get("cited_n") or 0 for r in with_gold)),
        "citation_recall": _ratio(sum(r.get("gold_citations_matched") or 0 for r in with_gold),
                                  sum(r.get("gold_citations_n") or 0 for r in with_gold)),
        "citation_hit_rate": _mean(r.get("citation_hit") for r in rows),
        "retrieval_recall_at_5": _mean(r.get("retrieval_hit_at_5") for r in rows),
        "retrieval_mrr": _mean(r.get("retrieval_rr") for r in rows),
        "abstention_accuracy": _mean(r.get("abstention_ok") for r in rows),
        "false_abstention_rate": _mean(r.get("false_abstention") for r in rows),
        "unanswerable_abstained": _mean(r.get("unanswerable_abstained") for r in rows),
        "first_citation_in_span": _mean(r.get("first_citation_in_span") for r in rows),
        "scoped": sum(1 for r in rows if r.get("scoped")),
        "latency_p50_s": percentile(latencies, 0.50),
        "latency_p95_s": percentile(latencies, 0.95),
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost,
    }


def compare_summaries(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, float]:
    """`new - old` for each metric that is a number (not None) in both summaries."""
    deltas: dict[str, float] = {}
    for key, after in new.items():
        a, b = _num(old.get(key)), _num(after)
        if a is not None and b is not None:
            deltas[key] = b - a
    return deltas


def flips(old_rows: Sequence[Mapping[str, Any]],
          new_rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Questions (matched by id, in the new run's order) whose answer_correct changed.

    Each item is {id, before, after}; a row with an error counts as not correct.
    """
    before_by_id = {r.get("id"): _correct(r) for r in old_rows if r.get("id") is not None}
    out: list[dict[str, Any]] = []
    for r in new_rows:
        qid = r.get("id")
        if qid in before_by_id and before_by_id[qid] != _correct(r):
            out.append({"id": qid, "before": before_by_id[qid], "after": _correct(r)})
    return out
