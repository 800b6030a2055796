"""`kb bench load`: concurrent `answer()` calls against the project's fake Chat Completions server.

Every model call waits a fixed delay (a remote model's latency) and follows one script: a call
whose conversation ends with search results answers citing a passage's time, any other asks for
`search_knowledge_base`. kb searches before the first call and hands the results over in it, so a
question costs one call; the calls actually made are counted and printed. One question alone is
timed first, then `concurrency` at once; the figures are wall time, throughput and per-question
p50/p95, model calls per question, and the number of errors (expected 0).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evals.metrics import percentile
from kb.settings import Settings


def _script(delay: float) -> Any:
    from tests.fakes.openai_server import reply, tool_call

    def step(body: dict[str, Any], index: int) -> Any:
        messages = body.get("messages") or []
        if messages and messages[-1].get("role") == "tool":
            return reply("The passage says so [00:10].", delay=delay)
        question = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "") or ""
        return tool_call("search_knowledge_base", {"query": str(question)[:200], "k": 5}, delay=delay)

    return step


def bench_load(settings: Settings, concurrency: int = 16, delay: float = 0.5, questions: list[str] | None = None) -> dict[str, Any]:
    """`settings` name an ingested index; the OpenAI backend is pointed at a local fake server."""
    from agent.answer import answer
    from evals.bench import QUERIES
    from tests.fakes.openai_server import FakeOpenAI

    qs = questions or QUERIES[:3]
    print(f"load: {concurrency} concurrent answer() calls, every model call taking {delay:.2f} s on a local fake "
          f"Chat Completions server (load {os.getloadavg()[0]:.2f})", flush=True)
    with FakeOpenAI(_script(delay)) as server:
        online = settings.with_(backend="openai", openai_base_url=server.base_url, openai_api_key="bench", max_retries=0,
                                request_timeout_s=max(30.0, delay * 8 * concurrency))
        answer("warm up", settings=online)
        before = server.calls
        t0 = time.perf_counter()
        answer(qs[0], settings=online)
        single = time.perf_counter() - t0
        single_calls = server.calls - before
        errors: list[str] = []

        def one(i: int) -> float:
            t = time.perf_counter()
            try:
                answer(f"{qs[i % len(qs)]} (#{i})", settings=online)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
            return time.perf_counter() - t

        t0 = time.perf_counter()
        before = server.calls
        with ThreadPoolExecutor(concurrency) as pool:
            times = list(pool.map(one, range(concurrency)))
        wall = time.perf_counter() - t0
        calls = (server.calls - before) / concurrency
    row = {"concurrency": concurrency, "delay_s": delay, "single_s": single, "wall_s": wall,
           "throughput_qps": concurrency / wall, "p50_s": percentile(times, 0.5), "p95_s": percentile(times, 0.95),
           "errors": len(errors), "speedup_vs_serial": single * concurrency / wall,
           "single_calls": single_calls, "calls_per_question": calls}
    print(f"load: one question {single:.2f} s ({single_calls} model call(s)); {concurrency} at once: all done in {wall:.2f} s = "
          f"{row['throughput_qps']:.2f} questions/s ({row['speedup_vs_serial']:.1f}x serial), per question p50 "
          f"{row['p50_s']:.2f} s, p95 {row['p95_s']:.2f} s, {calls:.2f} model calls per question; errors {len(errors)} (load {os.getloadavg()[0]:.2f})", flush=True)
    for err in errors[:3]:
        print(f"  error: {err}", flush=True)
    return row
