"""`python -m evals.bench_breakdown "QUESTION"`: where a cold offline `kb ask` spends its CPU.

Run it in a fresh process (it imports what `kb ask` imports, in that order, then answers once):
each line is the CPU seconds (user + system, `time.process_time`) of one stage — the libraries'
imports, building the agent, opening the store, loading the model, the first search and the
answer. CPU time, not wall time: on a shared machine it is the figure a rerun reproduces.
KB_HOME names the index.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from kb.exit_codes import EXIT_OK, EXIT_USAGE


def stages(question: str) -> list[tuple[str, float]]:
    """(stage, CPU seconds) in order; the first stages are imports, so call this in a new process."""
    out: list[tuple[str, float]] = []
    clock = [time.process_time()]

    def mark(label: str) -> None:
        now = time.process_time()
        out.append((label, now - clock[0]))
        clock[0] = now

    steps: list[tuple[str, Callable[[], object]]] = [
        ("kb's CLI and settings (argparse, pydantic)", lambda: __import__("interfaces.cli") and __import__("kb.store")),
        ("numpy", lambda: __import__("numpy")),
        ("chromadb", lambda: __import__("chromadb")),
        ("langchain_core.tracers and langsmith (langgraph imports them)", lambda: __import__("langchain_core.tracers.schemas")),
        ("langgraph", lambda: __import__("langgraph.graph") and __import__("langgraph.checkpoint.sqlite")),
        ("onnxruntime, tokenizers", lambda: __import__("onnxruntime") and __import__("tokenizers")),
        ("kb's agent modules, rich", lambda: [__import__(m) for m in ("agent.answer", "agent.backends.offline",
                                                                     "interfaces.render", "rich.console", "interfaces.log")]),
    ]
    for label, step in steps:
        step()
        mark(label)
    from agent.answer import Agent
    from kb.settings import Settings

    agent = Agent(Settings.from_env())
    mark("Agent(): compile the graph, open the thread store")
    agent.retriever.store.require_documents()
    mark("Chroma client, count")
    agent.retriever.embedder.embed(["warm up"])
    mark("embedding model: ONNX session, tokenizer")
    agent.retriever.search(question)
    mark("first search: the query's embedding, BM25 load, Chroma query")
    agent.ask(question)
    mark("offline answer: the retrieved sentences embedded and chosen, the checkpoint written")
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print('usage: python -m evals.bench_breakdown "QUESTION"', file=sys.stderr)
        return EXIT_USAGE
    import os

    rows = stages(args[0])
    for label, cpu in rows:
        print(f"{cpu:6.3f} CPU-s  {label}")
    print(f"{sum(c for _, c in rows):6.3f} CPU-s  in all (the interpreter's own start-up not included) "
          f"(load {os.getloadavg()[0]:.2f})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
