"""Retrieval side by side on one gold file: recall@5 and MRR for each retrieval mode, hybrid with
both fusions (score and rank, kb.retrieval), with and without the document pass, and the naive peer — only the retrieval stage, so a
whole QMSum split takes seconds once the index is built.

    python -m evals.recall_table --gold OUT/gold-dev.jsonl [--unscoped] [--home KB_HOME]

`--unscoped` asks every question of the whole index (as `kb eval --unscoped`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.gold_file import load_gold
from evals.harness import retrieve_question, unscope
from evals.metrics import summarize
from kb.exit_codes import EXIT_OK
from kb.settings import Settings

TRIED_DOC_WEIGHT = 1.0  # the weight measured on QMSum dev (kb.retrieval's document pass)
# (mode, document pass, fusion of a hybrid search)
VARIANTS = (("hybrid", True, "rank"), ("hybrid", False, "rank"), ("hybrid", True, "score"), ("hybrid", False, "score"),
            ("dense", True, "rank"), ("dense", False, "rank"), ("bm25", True, "rank"), ("bm25", False, "rank"))


def table(gold: Path, settings: Settings, unscoped: bool = False, naive: bool = True,
          variants: Sequence[tuple[str, bool, str]] = VARIANTS) -> list[dict[str, Any]]:
    """One row per (mode, document pass, fusion) and one for the naive peer: n, recall@5, MRR."""
    from kb.retrieval import Retriever
    from kb.store import Store

    questions, _ = load_gold(gold)
    questions = [q for q in (unscope(questions) if unscoped else questions) if q.citations]
    if any(q.source for q in questions):  # the document pass never applies inside one source
        variants = [v for v in variants if not v[1]]
    rows = []
    for mode, doc_pass, fusion in variants:
        fused = settings.with_(fusion=fusion)
        retriever = Retriever(fused, doc_weight=TRIED_DOC_WEIGHT if doc_pass else 0.0)
        s = summarize([retrieve_question(retriever, q, fused, mode) for q in questions])
        name = f"hybrid ({fusion} fusion)" if mode == "hybrid" else mode
        rows.append({"retriever": name, "document pass": "yes" if doc_pass else "no", **s})
    if naive:
        from evals.harness import corpus_fingerprint
        from evals.naive import NaiveRetriever

        sources = Store(settings).sources()
        peer = NaiveRetriever(settings, [Path(s.path) for s in sources if s.path and Path(s.path).exists()],
                              corpus_fingerprint(sources))
        s = summarize([retrieve_question(peer, q, settings, "naive") for q in questions])
        rows.append({"retriever": "naive (top 4)", "document pass": "–", **s})
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    out = ["| retriever | document pass | n | retrieval_recall_at_5 | retrieval_mrr |", "|---|---|---|---|---|"]
    out += [f"| {r['retriever']} | {r['document pass']} | {r['n']} | {r['retrieval_recall_at_5']:.3f} | {r['retrieval_mrr']:.3f} |"
            for r in rows]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.recall_table", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", required=True)
    parser.add_argument("--home", help="KB_HOME of the index to search")
    parser.add_argument("--unscoped", action="store_true")
    parser.add_argument("--no-naive", action="store_true", help="leave out the naive peer (it builds its own index)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(home=args.home)
    print(markdown(table(Path(args.gold), settings, unscoped=args.unscoped, naive=not args.no_naive)))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
