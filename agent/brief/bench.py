"""Brief timing: `python -m agent.brief.bench [SOURCE]` prints how long `kb brief` takes cold (a new
process, the cache bypassed with --refresh, the model loaded from disk) and from the cache (a new
process, and in-process), beside a cold `kb search` in the same run as the machine's yardstick.
Uses the index KB_HOME names (run `kb ingest` first)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def _longest_source() -> str:
    """The document with the most chunks in the index KB_HOME names (the default to time)."""
    from kb.settings import Settings
    from kb.store import Store

    sources = Store(Settings.from_env()).sources()
    if not sources:
        raise SystemExit("the index is empty: run `kb ingest` first")
    return max(sources, key=lambda s: s.chunks).source


def _wall(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "interfaces.cli", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kb {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    source = argv[0] if argv else _longest_source()
    runs = int(argv[1]) if len(argv) > 1 else 2
    cold = [_wall(["brief", source, "--refresh", "--json"]) for _ in range(runs)]
    search = [_wall(["search", "what did they say about the cost", "--json"]) for _ in range(runs)]
    cached = [_wall(["brief", source, "--json"]) for _ in range(runs)]
    from agent.brief.build import get_brief
    from kb.settings import Settings

    settings = Settings.from_env()
    get_brief(source, settings)
    inproc = []
    for _ in range(20):
        started = time.perf_counter()
        get_brief(source, settings)
        inproc.append(time.perf_counter() - started)
    med = statistics.median
    print(f"kb brief {source}")
    print(f"  cold (new process, --refresh):   median {med(cold):6.2f} s  runs {', '.join(f'{x:.2f}' for x in cold)}")
    print(f"  cached (new process):            median {med(cached):6.2f} s")
    print(f"  cached (in process, get_brief):  median {med(inproc) * 1000:6.1f} ms")
    print(f"  yardstick: kb search cold        median {med(search):6.2f} s  (cold brief = {med(cold) / med(search):.1f}x a cold search)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
