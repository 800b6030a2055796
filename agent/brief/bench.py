"""Brief timing: `python -m agent.brief.bench [SOURCE] [--runs N] [--before DIR]` prints how long
`kb brief` takes cold (a new process, the cache bypassed with --refresh, the model loaded from
disk) and from the cache (a new process, and in process), beside a cold `kb search` in the same run
as the machine's yardstick. Each figure is wall time and CPU time (user + system, of the command
and every process it started): on a shared machine the wall time says how busy it was, the CPU
time what the command costs (on 2 idle cores a command's wall time is at most its CPU time).

`--before DIR` times another checkout of kb (e.g. `git archive main | tar -x -C DIR`) in the same
run, interleaved with this one, on the same index, so before and after are measured side by side.
`--cached-only` times only the cached brief (after one build, when none is cached), so it can be run
many times cheaply. `--bytecode` keeps the commands' compiled bytecode in a temporary folder, as an
installed kb has it, where the environment says not to write it (PYTHONDONTWRITEBYTECODE: then
every process compiles each kb module from source); the bench prints which applied.
Uses the index KB_HOME names (run `kb ingest` first)."""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
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
        return f"  {label:40s} wall {med(self.wall):6.2f} s  cpu {med(self.cpu):6.2f} s  (wall runs {runs})"


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


def run_kb(args: list[str], code: Path = HERE, into: Timings | None = None, bytecode: Path | None = None) -> float:
    """Run `kb ARGS` from the checkout `code` in a new process; its wall time (and CPU into `into`).
    With `bytecode`, compiled modules are written to and read from that folder."""
    return run_python(["-m", "interfaces.cli", *args], code, into, bytecode)


def run_python(args: list[str], code: Path = HERE, into: Timings | None = None, bytecode: Path | None = None) -> float:
    """Run `python ARGS` as `run_kb` runs kb."""
    from kb.settings import child_environment

    env = child_environment(code, inherit_kb=True)
    if bytecode is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode / hashlib.sha1(str(code).encode()).hexdigest()[:8])
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=code, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} ({code}) failed ({done.returncode}): {done.stderr.strip()[-300:]}")
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


def _bytecode(folder: Path | None) -> str:
    if folder is not None:
        return "kept (in a temporary folder, warmed by one run of each command)"
    if sys.flags.dont_write_bytecode:  # PYTHONDONTWRITEBYTECODE, or -B
        return "not written (PYTHONDONTWRITEBYTECODE: each process compiles every kb module it imports)"
    return "as Python keeps it (__pycache__)"


def _measure(source: str, runs: int, variants: list[tuple[str, Path]], cached_only: bool,
             bytecode: Path | None) -> dict[str, dict[str, Timings]]:
    """Every command of every variant `runs` times, interleaved, so that the machine's load falls on
    every variant alike. A cached brief is made first where the cache holds none."""
    timings = {label: {k: Timings() for k in ("cold", "cached", "cached_md", "search", "floor")} for label, _ in variants}
    for _, code in variants:
        run_kb(["brief", source, "--json"], code, bytecode=bytecode)  # builds it, once, if not cached; warms bytecode
    for _ in range(runs):
        for label, code in variants:
            if not cached_only:
                run_kb(["brief", source, "--refresh", "--json"], code, timings[label]["cold"], bytecode)
                run_kb(["search", "what did they say about the cost", "--json"], code, timings[label]["search"], bytecode)
            run_kb(["brief", source, "--json"], code, timings[label]["cached"], bytecode)
            run_kb(["brief", source], code, timings[label]["cached_md"], bytecode)
        run_python(["-c", "import pydantic_settings"], HERE, timings[variants[0][0]]["floor"], bytecode)
    return timings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agent.brief.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("source", nargs="?", help="document id (default: the one with the most chunks)")
    p.add_argument("runs_pos", nargs="?", type=int, help=argparse.SUPPRESS)  # the old `bench SOURCE RUNS`
    p.add_argument("--runs", type=int, default=3, help="runs of each cold/cached command (default 3)")
    p.add_argument("--before", type=Path, help="another checkout of kb to time in the same run, interleaved")
    p.add_argument("--cached-only", action="store_true", help="time only the cached brief (no cold builds, no search)")
    p.add_argument("--bytecode", action="store_true", help="keep compiled bytecode (in a temporary folder), as an install does")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    source = args.source or _longest_source()
    runs = args.runs_pos or args.runs
    variants = [("after (this checkout)", HERE)] + ([("before", args.before.resolve())] if args.before else [])
    with tempfile.TemporaryDirectory(prefix="kb-bytecode-") as folder:
        bytecode = Path(folder) if args.bytecode else None
        print(f"kb brief {source}: {runs} runs each; bytecode {_bytecode(bytecode)}; at start: {_load()}", flush=True)
        timings = _measure(source, runs, variants, args.cached_only, bytecode)
    for label, _ in variants:
        t = timings[label]
        print(f"{label}:")
        if not args.cached_only:
            print(t["cold"].line("cold brief (new process, --refresh)"))
        print(t["cached"].line("cached brief (new process, --json)"))
        print(t["cached_md"].line("cached brief (new process, Markdown)"))
        if t["floor"].wall:
            print(t["floor"].line("yardstick: import pydantic_settings"))
        if not args.cached_only:
            ratio = statistics.median(t["cold"].wall) / statistics.median(t["search"].wall)
            print(t["search"].line("yardstick: cold kb search"))
            print(f"  cold brief = {ratio:.1f}x a cold search (wall)")
    if args.before:
        med = statistics.median
        for key, what in (("cached", "--json"), ("cached_md", "Markdown")):
            after, before = timings[variants[0][0]][key], timings["before"][key]
            print(f"cached brief ({what}) before/after: wall {med(before.wall) / med(after.wall):.2f}x, "
                  f"cpu {med(before.cpu) / med(after.cpu):.2f}x")
    if args.before and not args.cached_only:
        after, before = timings[variants[0][0]]["cold"], timings["before"]["cold"]
        med = statistics.median
        print(f"cold brief before/after: wall {med(before.wall) / med(after.wall):.1f}x, "
              f"cpu {med(before.cpu) / med(after.cpu):.1f}x faster")
    print(f"cached brief in process (get_brief, this checkout): median {in_process_ms(source):.1f} ms")
    print(f"at end: {_load()}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
