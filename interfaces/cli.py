"""The `kb` command: subcommands over the knowledge base and the agent.

Heavy libraries (torch, chromadb, langgraph) are imported inside the handlers, so `kb --help`
starts fast. Exit status: 0 success, 1 some input failed (e.g. a file that could not be ingested),
2 usage error, 3 the store or model service is unavailable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


def _settings(args: argparse.Namespace) -> Any:
    from kb.settings import Settings

    return Settings.from_env(
        home=getattr(args, "home", None),
        chroma_url=getattr(args, "chroma_url", None),
        embedding_model=getattr(args, "embedding_model", None),
        backend=getattr(args, "backend", None),
        model=getattr(args, "model", None),
    )


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.pipeline import ingest

    settings = _settings(args)
    quiet = args.json or args.quiet

    def on_file(path: str, status: str) -> None:
        if not quiet:
            print(f"  {Path(path).name}: {status}", file=sys.stderr)

    report = ingest([Path(p) for p in args.paths] or None, settings=settings, prune=args.prune,
                    progress=None if not quiet else False, on_file=on_file)
    if args.json:
        data = report.to_json()
        _print_json({k: data[k] for k in ("files_seen", "files_ingested", "files_skipped", "files_failed",
                                          "chunks_added", "chunks_deleted", "chunks_total", "errors", "seconds")})
    else:
        for err in report.errors:
            print(f"error: {err['file']}: {err['reason']}", file=sys.stderr)
        print(report.summary_line())
    return EXIT_INPUT if report.files_failed else EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from kb.retrieval import Retriever

    passages = Retriever(_settings(args)).search(args.query, k=args.k, source=args.source, mode=args.mode)
    if args.json:
        _print_json([p.to_json() for p in passages])
        return EXIT_OK
    if not passages:
        print("No passages found (is the index empty? run `kb ingest`).")
    for n, p in enumerate(passages, 1):
        span = ""
        if p.start_s is not None:
            from kb.timecode import format_timecode

            span = f" (passage {format_timecode(p.start_s)}–{format_timecode(p.end_s or p.start_s)})"
        print(f"{n}. [{p.at}] {p.title} — {p.source}  score {p.score:.4f}{span}")
        print(f"   \u201c{p.best_sentence}\u201d")
        if p.link:
            print(f"   {p.link}")
    return EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    import datetime as dt

    from kb.store import Store

    store = Store(_settings(args))
    if args.count:
        print(store.count() if store.exists() else 0)
        return EXIT_OK
    infos = store.sources() if store.exists() else []
    if args.json:
        _print_json([info.__dict__ for info in infos])
        return EXIT_OK
    if not infos:
        print(f"The index at {store.where} is empty. Run `kb ingest` to add the bundled corpus.")
    for info in infos:
        when = dt.datetime.fromtimestamp(info.ingested_at).strftime("%Y-%m-%d %H:%M")
        print(f"{info.source}  {info.chunks} chunks  ingested {when}\n    {info.title}")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from evals.bench import main as bench_main

    return bench_main(args.what, scale=args.scale, settings=_settings(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kb", description="Ask questions of a knowledge base of lecture and podcast transcripts; answers cite the exact second.")
    parser.add_argument("--home", help="where the index, threads and logs live (env KB_HOME, default ~/.kb)")
    parser.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000 (env KB_CHROMA_URL)")
    parser.add_argument("--embedding-model", help="sentence-transformers model name or path (env KB_EMBEDDING_MODEL)")
    parser.add_argument("--backend", choices=["auto", "offline", "openai"], help="answering backend (env KB_BACKEND)")
    parser.add_argument("--model", help="chat model name for the OpenAI backend (env KB_MODEL)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="add files to the index (default: the bundled corpus)")
    p.add_argument("paths", nargs="*", help="files or directories (.txt .md .srt .vtt)")
    p.add_argument("--prune", action="store_true", help="drop documents whose files are gone")
    p.add_argument("--json", action="store_true", help="print one summary object")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="ranked passages for a query, with the second to cite")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--source", help="only this document (its file stem)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("sources", help="what is in the index")
    p.add_argument("--json", action="store_true")
    p.add_argument("--count", action="store_true", help="print only the number of chunks")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("bench", help="print speed figures (ingest, search, startup, answer)")
    p.add_argument("what", choices=["ingest", "search", "startup", "answer", "all"])
    p.add_argument("--scale", type=int, default=100, help="size of the generated large corpus, in copies of the bundled one")
    p.set_defaults(func=cmd_bench)

    for extra in EXTRA_COMMANDS:
        extra(sub)
    return parser


EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from kb.settings import SettingsError
    from kb.store import StoreUnavailable

    try:
        return int(args.func(args) or 0)
    except StoreUnavailable as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except SettingsError as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
