"""Calibrate `KB_ATTRIBUTION_THRESHOLD` (agent.citations.attribute) on a gold file's answerable
questions: how similar is a claim that a retrieved sentence supports, and one it does not?

For each question: its passages (the hybrid search, top 5); supported claims are the sentences of
its reference answer, scored against the gold-cited sentences (or all retrieved sentences when none
is cited within 30 s); unsupported claims are reference sentences of questions about other
documents, scored against this question's sentences. Prints, for each threshold, the share of
supported claims kept and of unsupported claims accepted.

    python -m evals.calibrate_attribution evals/gold/dev.jsonl [KB_HOME]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from agent.evidence import SentenceEncoder
from kb.exit_codes import EXIT_OK
from kb.retrieval import Retriever
from kb.settings import Settings
from kb.timecode import parse_timecode


def _claims(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]


def calibrate(gold: Path, settings: Settings) -> tuple[list[float], list[float]]:
    retriever = Retriever(settings)
    encoder = SentenceEncoder(retriever.embedder)
    items = [json.loads(line) for line in gold.read_text().splitlines() if line.strip()]
    answerable = [g for g in items if g.get("answerable") and g.get("reference")]
    supported, unsupported = [], []
    for g in answerable:
        sentences = [(p, s) for p in retriever.search(g["question"], k=5) for s in p.sentences]
        texts = [s.text for _, s in sentences]
        cited = [c for c in g.get("citations", []) if c.get("at")]
        near = [s.text for p, s in sentences if any(p.source == c["source"] and s.start_s is not None
                                                   and abs(s.start_s - parse_timecode(c["at"])) <= 30 for c in cited)]
        for claim in _claims(g["reference"]):
            supported.append(max(encoder.similarities(claim, near or texts)))
        sources = {c["source"] for c in g.get("citations", [])}
        for other in answerable:
            if other is not g and not sources & {c["source"] for c in other.get("citations", [])}:
                for claim in _claims(other["reference"])[:1]:
                    unsupported.append(max(encoder.similarities(claim, texts)))
    return supported, unsupported


def main(argv: list[str]) -> int:
    gold = Path(argv[0] if argv else "evals/gold/dev.jsonl")
    settings = Settings.from_env(home=argv[1] if len(argv) > 1 else None)
    supported, unsupported = calibrate(gold, settings)
    print(f"{len(supported)} supported claims, {len(unsupported)} unsupported")
    for t in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        kept = sum(x >= t for x in supported) / max(len(supported), 1)
        accepted = sum(x >= t for x in unsupported) / max(len(unsupported), 1)
        print(f"threshold {t:.2f}: supported kept {kept:.2f}, unsupported accepted {accepted:.2f}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
