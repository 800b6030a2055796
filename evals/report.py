"""Writing an evaluation run: report.json, report.md (summary, per category, failures with their
reasons, and what changed since an earlier run) and metrics.png (metrics per category)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import compare_summaries, flips

RATE_KEYS = ("answer_accuracy", "keyword_accuracy", "numeric_accuracy", "citation_precision", "citation_recall",
             "retrieval_recall_at_5", "retrieval_mrr", "abstention_accuracy", "false_abstention_rate",
             "unanswerable_abstained", "first_citation_in_span")
TABLE_KEYS = ("n", "errors", *RATE_KEYS, "latency_p50_s", "latency_p95_s")


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def comparison(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "old": old.get("created"), "old_git_commit": old.get("git_commit"),
        "deltas": compare_summaries(old["summary"], new["summary"]),
        "flips": flips(old["questions"], new["questions"]),
    }


def markdown(report: Mapping[str, Any]) -> str:
    s = report["summary"]
    lines = [f"# Evaluation: {Path(report['gold']).name}", "",
             f"backend `{report['backend']}` · retriever `{report['retriever']}` · commit `{(report.get('git_commit') or '?')[:10]}` · "
             f"corpus `{report['corpus_fingerprint']}` · {report['created']}", "", "## Summary", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(s.get(k))} |" for k in (*TABLE_KEYS, "prompt_tokens", "completion_tokens", "cost_usd",
                                                        "judge_correct", "judge_faithful") if k in s]
    if report.get("judge"):
        lines += ["", f"Judge cost (apart from the answers): ${report['judge'].get('cost_usd', 0):.4f}"]
    cats = report["by_category"]
    keys = [k for k in TABLE_KEYS if k not in ("latency_p50_s",)]
    lines += ["", "## By category", "", "| category | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    lines += [f"| {c} | " + " | ".join(_fmt(v.get(k)) for k in keys) + " |" for c, v in cats.items()]
    failures = [q for q in report["questions"] if q.get("error") or not q["verdicts"].get("answer_correct")
                or q["verdicts"].get("reasons")]
    lines += ["", f"## Failures ({len(failures)})", ""]
    for q in failures:
        reasons = ([q["error"]] if q.get("error") else []) + list(q["verdicts"].get("reasons") or [])
        lines.append(f"- **{q['id']}** ({q['category']}) {q['question']}")
        for r in reasons:
            lines.append(f"  - {r}")
        if q.get("answer"):
            lines.append(f"  - answer: {q['answer'][:300].replace(chr(10), ' ')}")
    if report.get("compare"):
        cmp = report["compare"]
        lines += ["", f"## Changes since {cmp.get('old')} (commit `{(cmp.get('old_git_commit') or '?')[:10]}`)", "",
                  "| metric | delta |", "|---|---|"]
        lines += [f"| {k} | {v:+.3f} |" for k, v in cmp["deltas"].items()]
        lines += ["", "Questions that flipped:" if cmp["flips"] else "No question flipped."]
        lines += [f"- {f['id']}: {'pass' if f['before'] else 'fail'} → {'pass' if f['after'] else 'fail'}" for f in cmp["flips"]]
    if report.get("gold_errors"):
        lines += ["", "## Invalid gold lines (skipped)", ""] + [f"- {e}" for e in report["gold_errors"]]
    lines += ["", "![metrics per category](metrics.png)", ""]
    return "\n".join(lines)


def chart(report: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cats = list(report["by_category"])
    keys = [k for k in ("answer_accuracy", "citation_precision", "retrieval_recall_at_5", "abstention_accuracy")]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cats) + 2), 4))
    width = 0.8 / len(keys)
    for i, k in enumerate(keys):
        vals = [report["by_category"][c].get(k) or 0 for c in cats]
        ax.bar([x + i * width for x in range(len(cats))], vals, width, label=k)
    ax.set_xticks([x + width * (len(keys) - 1) / 2 for x in range(len(cats))], cats)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(f"{Path(report['gold']).name} · {report['backend']} · {report['retriever']}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(report: Mapping[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    (out_dir / "report.md").write_text(markdown(report))
    chart(report, out_dir / "metrics.png")


def retriever_table(rows: Sequence[Mapping[str, Any]]) -> str:
    keys: tuple[str, ...] = ("answer_accuracy", "citation_precision", "retrieval_recall_at_5", "retrieval_mrr",
                             "abstention_accuracy", "latency_p50_s")
    if any(r.get("scoped") for r in rows):
        keys = keys[:-1] + ("first_citation_in_span", "false_abstention_rate", "unanswerable_abstained", "latency_p50_s")
    out = ["| retriever | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    out += [f"| {r['retriever']} | " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(out)
