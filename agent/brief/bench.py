"""Brief timing: `python -m agent.brief.bench [SOURCE] [--runs N] [--before DIR]` prints how long
`kb brief` takes cold (a new process, the cache bypassed with --refresh, the model loaded from
disk) and from the cache (a new process, and in process), beside a cold `kb search` in the same run
as the machine's yardstick. Each figure is wall time and CPU time (user + system, of the command
and every process it started): on a shared machine the wall time says how busy it was, the CPU
time what the command costs (on 2 idle cores a command's wall time is at most its CPU time).

`--before DIR` times another checkout of kb (e.g. `git archive main | tar -x -C DIR`) in the same
run, interleaved with this one, on the same index, so before and after are measured side by side.
Uses the index KB_HOME names (run `kb ingest` first)."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kb.exit_codes import EXIT_OK

HERE = Path(__file__).resolve().parents[2]  # the checkout this module belongs to


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def line(self, label: str) -> str:
        med = statistics.median
        runs = ", ".join(f"{w:.2f}" for w in self.wall)
        return f"  {label:34s} wall {med(self.wall):6.2f} s  cpu {med(self.cpu):6.2f} s  (wall runs {runs})"


def _longest_source() -> str:
    """The document with the most chunks in the index KB_HOME names (the default to time)."""
    from kb.settings import Settings
    from kb.store import Store

    sources = Store(Settings.from_env()).sources()
    if not sources:
        raise SystemExit("the index is empty: run `kb ingest` first")
    return max(sources, key=lambda s: s.chunks).source


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_kb(args: list[str], code: Path = HERE, into: Timings | None = None) -> float:
    """Run `kb ARGS` from the checkout `code` in a new process; its wall time (and CPU into `into`)."""
    from kb.settings import child_environment

    env = child_environment(code, inherit_kb=True)
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "interfaces.cli", *args], capture_output=True, text=True,
                          cwd=code, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kb {' '.join(args)} ({code}) failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    if into is not None:
        into.wall.append(wall)
        into.cpu.append(_children_cpu() - cpu)
    return wall


def _load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"
    except OSError:
        return "load average unknown"


def in_process_ms(source: str, repeats: int = 20) -> float:
    """Median time of a cached `get_brief` in this process (after one call), in ms."""
    from agent.brief.build import get_brief
    from kb.settings import Settings

    settings = Settings.from_env()
    get_brief(source, settings)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        get_brief(source, settings)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agent.brief.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("source", nargs="?", help="document id (default: the one with the most chunks)")
    p.add_argument("runs_pos", nargs="?", type=int, help=argparse.SUPPRESS)  # the old `bench SOURCE RUNS`
    p.add_argument("--runs", type=int, default=3, help="runs of each cold/cached command (default 3)")
    p.add_argument("--before", type=Path, help="another checkout of kb to time in the same run, interleaved")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    source = args.source or _longest_source()
    runs = args.runs_pos or args.runs
    variants = [("after (this checkout)", HERE)] + ([("before", args.before.resolve())] if args.before else [])
    timings = {label: {k: Timings() for k in ("cold", "cached", "search")} for label, _ in variants}
    print(f"kb brief {source}: {runs} runs each; at start: {_load()}", flush=True)
    for _ in range(runs):  # interleaved, so that the machine's load falls on every variant alike
        for label, code in variants:
            run_kb(["brief", source, "--refresh", "--json"], code, timings[label]["cold"])
            run_kb(["search", "what did they say about the cost", "--json"], code, timings[label]["search"])
            run_kb(["brief", source, "--json"], code, timings[label]["cached"])
    for label, _ in variants:
        t = timings[label]
        ratio = statistics.median(t["cold"].wall) / statistics.median(t["search"].wall)
        print(f"{label}:")
        print(t["cold"].line("cold brief (new process, --refresh)"))
        print(t["cached"].line("cached brief (new process)"))
        print(t["search"].line("yardstick: cold kb search"))
        print(f"  cold brief = {ratio:.1f}x a cold search (wall)")
    if args.before:
        after, before = timings[variants[0][0]]["cold"], timings["before"]["cold"]
        med = statistics.median
        print(f"cold brief before/after: wall {med(before.wall) / med(after.wall):.1f}x, "
              f"cpu {med(before.cpu) / med(after.cpu):.1f}x faster")
    print(f"cached brief in process (get_brief, this checkout): median {in_process_ms(source):.1f} ms")
    print(f"at end: {_load()}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
