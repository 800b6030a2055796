"""The `kb` command: subcommands over the knowledge base and the agent.

Heavy libraries (torch, chromadb, langgraph) are imported inside the handlers, so `kb --help`
starts fast. Exit status: 0 success, 1 some input failed (e.g. a file that could not be ingested),
2 usage error, 3 the store or model service is unavailable (kb/exit_codes.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kb.exit_codes import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE


def _settings(args: argparse.Namespace) -> Any:
    from kb.settings import Settings

    return Settings.from_env(
        home=getattr(args, "home", None),
        chroma_url=getattr(args, "chroma_url", None),
        embedding_model=getattr(args, "embedding_model", None),
        backend=getattr(args, "backend", None),
        model=getattr(args, "model", None),
        fusion=getattr(args, "fusion", None),
    )


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.errors import IngestError
    from ingest.pipeline import IngestReport, ingest
    from ingest.sync import is_url

    settings = _settings(args)
    quiet = args.json or args.quiet
    urls = [a for a in args.paths if is_url(a)]
    paths = [Path(a) for a in args.paths if not is_url(a)]

    def on_file(path: str, status: str) -> None:
        if status.startswith("failed: "):  # each error once, as it is found (the check comes first)
            if not args.json:
                print(f"error: {path}: {status.removeprefix('failed: ')}", file=sys.stderr)
        elif not quiet:
            print(f"  {Path(path).name}: {status}", file=sys.stderr)

    report = IngestReport()
    if paths or not urls:
        report = ingest(paths or None, settings=settings, prune=args.prune,
                        progress=False if args.quiet else None, on_file=on_file)
    try:
        sources = _ingest_urls(urls, settings, args.prune, quiet) if urls else None
    except IngestError as exc:  # the list of feeds in KB_HOME cannot be read
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        data = report.to_json()
        out = {k: data[k] for k in ("files_seen", "files_ingested", "files_skipped", "files_failed",
                                    "files_unsupported", "chunks_added", "chunks_resumed", "chunks_deleted",
                                    "chunks_total", "errors", "unsupported", "model_loaded", "seconds", "timings")}
        if sources is not None:  # URLs: their episodes count as files; a failed one is an error naming its URL
            out["sources"] = sources.to_json()["items"]
            for key in ("files_seen", "files_ingested", "files_skipped", "chunks_added", "chunks_deleted"):
                out[key] += getattr(sources.ingest, key)
            out["files_failed"] += sources.failed
            out["errors"] += [{"file": i.url or i.source_url, "reason": i.reason} for i in sources.items if i.status == "failed"]
            out["chunks_total"] = sources.ingest.chunks_total
        _print_json(out)
    else:  # errors were printed once, as they were found
        if paths or not urls:
            print(report.summary_line())
        if sources is not None:
            print(sources.summary_line())
    failed = report.files_failed + (sources.failed if sources is not None else 0)
    return EXIT_INPUT if failed else EXIT_OK


def _ingest_urls(urls: Sequence[str], settings: Any, prune: bool, quiet: bool, sync_all: bool = False) -> Any:
    """Feeds and YouTube URLs (ingest.sync); one line per episode on stderr unless quiet."""
    from ingest.sync import SyncReport, ingest_url, sync

    def on_item(item: Any) -> None:
        if item.status == "failed":
            print(f"error: {item.line()}", file=sys.stderr)
        elif not quiet and not item.repeat:
            print(f"  {item.line()}", file=sys.stderr)

    if sync_all:
        return sync(settings, prune=prune, on_item=on_item)
    total = SyncReport()
    for url in urls:
        part = ingest_url(url, settings, prune=prune, on_item=on_item)
        total.items += part.items
        for name in ("files_seen", "files_ingested", "files_skipped", "files_failed", "chunks_added", "chunks_deleted"):
            setattr(total.ingest, name, getattr(total.ingest, name) + getattr(part.ingest, name))
        total.ingest.chunks_total = part.ingest.chunks_total
    return total


def cmd_sync(args: argparse.Namespace) -> int:
    from ingest.errors import IngestError
    from ingest.sync import feeds_summary

    settings = _settings(args)
    try:
        if not feeds_summary(settings):
            print("No feeds or playlists yet: `kb ingest URL` adds one (a podcast feed, a YouTube video or playlist).")
            return EXIT_OK
        report = _ingest_urls([], settings, args.prune, args.json or args.quiet, sync_all=True)
    except IngestError as exc:  # the list of feeds in KB_HOME cannot be read
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.summary_line())
    return EXIT_INPUT if report.failed else EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from kb.retrieval import Retriever

    if not args.query.strip():
        print("kb: the query is empty", file=sys.stderr)
        return EXIT_USAGE
    retriever = Retriever(_settings(args))
    retriever.store.require_documents()
    if args.source and args.source not in {s.source for s in retriever.store.sources()}:
        print(f"kb: no document {args.source!r} in the index (`kb sources` lists them)", file=sys.stderr)
        return EXIT_INPUT
    passages = retriever.search(args.query, k=args.k, source=args.source, mode=args.mode)
    if args.json:
        _print_json([p.to_json() for p in passages])
        return EXIT_OK
    if not passages:
        print("No passages found.")
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
    from dataclasses import asdict

    from kb.catalogue import listed, load
    from kb.store import Store

    settings = _settings(args)
    if args.feeds:
        return _print_feeds(settings, args.json)
    store = Store(settings)
    if args.count:
        known = load(settings, store.name)  # the catalogue, when current: no need to open the index
        print(sum(i.chunks for i in known) if known is not None else store.count() if store.exists() else 0)
        return EXIT_OK
    infos = listed(store)  # from the catalogue when it is current, else from the store
    if args.json:
        _print_json([asdict(info) for info in infos])
        return EXIT_OK
    if not infos:
        print(f"The index at {store.where} is empty. Run `kb ingest` to add the bundled corpus.")
    from kb.timecode import format_timecode

    for info in infos:
        when = dt.datetime.fromtimestamp(info.ingested_at).strftime("%Y-%m-%d %H:%M")
        print(f"{info.source}  {info.chunks} chunks  ingested {when}\n    {info.title}")
        extra = " · ".join(x for x in (info.feed, info.published and f"published {info.published}", info.url) if x)
        if extra and (info.feed or info.published):
            print(f"    {extra}")
        if info.chapters:
            print("    chapters: " + " · ".join(f"{format_timecode(c.start_s)} {c.title}" for c in info.chapters))
    return EXIT_OK


def _print_feeds(settings: Any, as_json: bool) -> int:
    import datetime as dt

    from ingest.errors import IngestError
    from ingest.sync import feeds_summary

    try:
        feeds = feeds_summary(settings)
    except IngestError as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if as_json:
        _print_json(feeds)
        return EXIT_OK
    if not feeds:
        print("No feeds or playlists yet: `kb ingest URL` adds one.")
    for f in feeds:
        when = dt.datetime.fromtimestamp(f["synced_at"]).strftime("%Y-%m-%d %H:%M") if f.get("synced_at") else "never"
        counts = ", ".join(f"{n} {status}" for status, n in sorted(f["episodes"].items())) or "no episodes"
        print(f"{f['url']}  ({f['kind']})  synced {when}  {counts}\n    {f.get('title') or ''}")
        if f.get("last_error"):
            print(f"    last error: {f['last_error']}")
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    from agent.answer import answer
    from agent.models import ModelUnavailable
    from kb.errors import UnknownSource

    settings = _settings(args)
    if not args.question.strip():
        print("kb: the question is empty", file=sys.stderr)
        return EXIT_USAGE
    _require_model(settings)
    from interfaces.threads import thread_exists

    new_thread = not args.thread or not thread_exists(settings.threads_path, args.thread)
    if args.thread and new_thread:
        print(f"kb: no conversation {args.thread!r} yet: starting a new one with that id", file=sys.stderr)
    try:
        result = answer(args.question, thread_id=args.thread, settings=settings, source=args.source)
    except ModelUnavailable as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except UnknownSource as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_INPUT
    from interfaces.log import record

    record(settings, "ask", result)
    if args.json:
        _print_json({**result.to_json(), "new_thread": new_thread})
    else:
        from rich.console import Console

        from interfaces.render import print_answer

        print_answer(Console(), result)
        if not sys.stdout.isatty():
            print(f"\n(thread {result.thread_id} · {result.backend} · {result.latency_s:.2f} s)", file=sys.stderr)
    return EXIT_OK


def _require_model(settings: Any) -> None:
    """The OpenAI backend, chosen with no model configured, is a usage error that says what to set."""
    from kb.settings import SettingsError, reveal

    if settings.resolved_backend == "openai" and not (reveal(settings.agent.openai_api_key) or settings.agent.openai_base_url):
        raise SettingsError("the openai backend needs a model, but neither OPENAI_API_KEY (OpenAI) nor "
                            "OPENAI_BASE_URL (an OpenAI-compatible server) is set")


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.harness import EvalInputError, below_thresholds, compare_retrievers, run_eval
    from evals.judge import JudgeUnavailable
    from evals.report import retriever_table

    settings = _settings(args)
    _require_model(settings)
    gold = Path(args.gold)
    if not gold.exists():
        print(f"kb: gold file not found: {gold}", file=sys.stderr)
        return EXIT_USAGE
    minimums = {"answer_accuracy": args.min_answer_accuracy, "numeric_accuracy": args.min_numeric_accuracy,
                "citation_precision": args.min_citation_precision, "retrieval_recall_at_5": args.min_retrieval_recall,
                "abstention_accuracy": args.min_abstention_accuracy}
    try:
        if args.retrievers:
            import datetime as dt

            out_root = Path(args.out) if args.out else settings.home / "evals" / dt.datetime.now().strftime("%Y%m%d-%H%M%S-retrievers")
            table = compare_retrievers(gold, [r.strip() for r in args.retrievers.split(",") if r.strip()], settings, out_root,
                                       unscoped=args.unscoped, retrieval_only=args.retrieval_only)
            print(retriever_table(table))
            print(f"\nreports in {out_root}/<retriever>/")
            failed = [f"{row['retriever']}: {msg}" for row in table for msg in below_thresholds(row, minimums)]
        else:
            run = run_eval(gold, Path(args.out) if args.out else None, settings=settings, retriever=args.retriever,
                           judge=args.judge, compare=Path(args.compare) if args.compare else None,
                           unscoped=args.unscoped, retrieval_only=args.retrieval_only)
            for err in run.gold_errors:
                print(f"warning: {err}", file=sys.stderr)
            s = run.summary
            keys = ("n", "errors", "answer_accuracy", "numeric_accuracy", "citation_precision", "citation_recall",
                    "retrieval_recall_at_5", "retrieval_mrr", "abstention_accuracy", "latency_p95_s")
            if s.get("scoped"):  # questions asked of one document: where the answer's first citation falls
                keys += ("scoped", "first_citation_in_span", "false_abstention_rate", "unanswerable_abstained")
            print("  ".join(f"{k}={s[k]:.3f}" if isinstance(s.get(k), float) else f"{k}={s.get(k)}" for k in keys))
            print(f"report: {run.out_dir}/report.md  (also report.json, metrics.png)")
            failed = below_thresholds(s, minimums)
    except (EvalInputError, JudgeUnavailable) as exc:
        for err in getattr(exc, "gold_errors", []):
            print(f"warning: {err}", file=sys.stderr)
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for msg in failed:
        print(f"below threshold: {msg}", file=sys.stderr)
    return EXIT_INPUT if failed else EXIT_OK


def cmd_dataset(args: argparse.Namespace) -> int:
    from evals.datasets.qmsum import DatasetError, convert

    try:
        counts = convert(Path(args.path), Path(args.out), wpm=args.wpm, unanswerable_per_meeting=args.unanswerable)
    except DatasetError as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(f"{counts['meetings']} meetings ({counts['dev_meetings']} dev) -> {counts['corpus']}; "
          f"{counts['answerable']} answerable + {counts['unanswerable']} unanswerable questions: "
          f"{args.out}/gold-dev.jsonl ({counts['dev_questions']}), {args.out}/gold-report.jsonl ({counts['report_questions']}); "
          f"{counts['general_questions']} questions about a whole meeting: {args.out}/gold-general-{{dev,report}}.jsonl")
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from interfaces.repl import main as chat_main

    settings = _settings(args)
    _require_model(settings)
    return chat_main(settings, thread_id=args.thread, source=args.source)


def cmd_slack(args: argparse.Namespace) -> int:
    from interfaces.slack_bot import main as slack_main

    return slack_main(_settings(args), host=args.host, port=args.port, socket=args.socket)


def cmd_mcp(args: argparse.Namespace) -> int:
    from interfaces.mcp_server import main as mcp_main

    return mcp_main(_settings(args), http=args.http, host=args.host, port=args.port, token=args.token,
                    allow_ingest=args.allow_ingest)


def cmd_log(args: argparse.Namespace) -> int:
    from interfaces import log

    settings = _settings(args)
    if args.export_gold:
        entries = log.rows(settings, feedback=None if args.all else "up")
        lines = list(log.gold_lines(entries))
        Path(args.export_gold).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
        print(f"wrote {len(lines)} questions to {args.export_gold} ({'all' if args.all else 'those rated 👍'}); review them before use")
        return EXIT_OK
    entries = log.rows(settings, limit=args.limit)
    if args.json:
        _print_json(entries)
        return EXIT_OK
    if not entries:
        print("No questions logged yet.")
    import datetime as dt

    for e in entries:
        when = dt.datetime.fromtimestamp(e["time"]).strftime("%Y-%m-%d %H:%M")
        mark = {"up": " 👍", "down": " 👎"}.get(e.get("feedback") or "", "")
        print(f"{when}  {e['interface']:<5} {e['thread_id']}  {e['question']}{mark}")
        first = (e["answer"].splitlines() or [""])[0]
        print(f"    {first[:110]}{'…' if len(first) > 110 else ''}  ({e['backend']}, {e['latency_s']:.2f} s)")
    return EXIT_OK


def cmd_brief(args: argparse.Namespace) -> int:
    from agent.brief import cache
    from kb.errors import UnknownSource

    settings = _settings(args)
    # A cached brief of an unchanged file is served before the builder (and its imports) load.
    brief = None if args.refresh else cache.fast_read(settings, args.source)
    try:
        if brief is None:
            from agent.brief.build import get_brief

            brief = get_brief(args.source, settings, refresh=args.refresh)
    except UnknownSource as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.html:
        from interfaces.brief_html import render

        Path(args.html).write_text(render(brief), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        _print_json(brief)
    elif args.md or not args.html:
        from agent.brief.markdown import brief_markdown

        print(brief_markdown(brief), end="")
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    from agent.brief.digest import digest, parse_window
    from agent.brief.markdown import digest_markdown

    settings = _settings(args)
    try:
        window = parse_window(args.since)
    except ValueError as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_USAGE
    items = digest(settings, since_s=window, top=args.top)
    text = digest_markdown(items, args.since)
    if args.slack_channel:
        failed = _post_digest(text, args.slack_channel, settings)
        if failed:
            print(f"kb: {failed}", file=sys.stderr)
            return EXIT_UNAVAILABLE
    if args.json:
        _print_json(items)
    else:
        print(text, end="")
    return EXIT_OK


def _post_digest(markdown: str, channel: str, settings: Any) -> str | None:
    """Post the digest to a Slack channel with the bot's token, as `markdown` blocks; the reason it
    failed, if it did."""
    from slack_sdk.errors import SlackApiError

    from interfaces.slack_bot import api_url, make_client, markdown_messages
    from kb.settings import reveal

    token = reveal(settings.slack.bot_token)
    if not token:
        return "set SLACK_BOT_TOKEN (the app's Bot User OAuth Token, xoxb-…) to post the digest"
    client = make_client(token, api_url(settings))
    try:
        for msg in markdown_messages(markdown):
            client.chat_postMessage(channel=channel, text=msg.text, blocks=msg.blocks, unfurl_links=False)
    except SlackApiError as exc:
        return f"Slack refused the digest for {channel}: {exc.response.get('error', exc)}"
    except OSError as exc:
        return f"cannot reach Slack at {api_url(settings)}: {exc}"
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    from evals.bench import main as bench_main

    return bench_main(args.what, scale=args.scale, settings=_settings(args), chunks=args.chunks,
                      concurrency=args.concurrency, delay=args.delay, bm25_only=args.bm25_only)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--home", default=default, help="where the index, threads and logs live (env KB_HOME, default ~/.kb)")
    parser.add_argument("--chroma-url", default=default, help="use a Chroma server, e.g. http://127.0.0.1:8000 (env KB_CHROMA_URL)")
    parser.add_argument("--embedding-model", default=default, help="sentence-transformers model name or path (env KB_EMBEDDING_MODEL)")
    parser.add_argument("--backend", default=default, choices=["auto", "offline", "openai"], help="answering backend (env KB_BACKEND)")
    parser.add_argument("--model", default=default, help="chat model name for the OpenAI backend (env KB_MODEL)")


Subparsers = Any  # argparse's _SubParsersAction


def build_parser() -> argparse.ArgumentParser:
    """The `kb` parser; each group of subcommands is added by its own function below."""
    parser = argparse.ArgumentParser(prog="kb", description="Ask questions of a knowledge base of lecture and podcast transcripts; answers cite the exact second.")
    _global_options(parser, argparse.SUPPRESS)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)  # the same options after the subcommand too
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _index_commands(sub, common)
    _answer_commands(sub, common)
    _server_commands(sub, common)
    _evaluation_commands(sub, common)
    _brief_commands(sub, common)
    _dataset_commands(sub, common)
    return parser


def _index_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """What goes into the index and what is in it: ingest, search, sources, sync."""
    p = sub.add_parser("ingest", parents=[common], help="add files, folders or URLs to the index (default: the bundled corpus)")
    p.add_argument("paths", nargs="*", help="files or directories (.txt .md .srt .vtt .json, yt-dlp .info.json), "
                                            "podcast feed URLs, YouTube video or playlist URLs")
    p.add_argument("--prune", action="store_true", help="drop documents whose files are gone (for a URL: episodes gone from it)")
    p.add_argument("--json", action="store_true", help="print one summary object")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", parents=[common], help="ranked passages for a query, with the second to cite")
    p.add_argument("query")
    p.add_argument("-k", type=_positive_int, help="passages to return (default: KB_TOP_K, 5)")
    p.add_argument("--source", help="only this document (its file stem)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--fusion", choices=["rank", "score"],
                   help="how a hybrid search fuses its two lists (default: KB_FUSION, rank)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("sources", parents=[common], help="what is in the index")
    p.add_argument("--json", action="store_true")
    p.add_argument("--count", action="store_true", help="print only the number of chunks")
    p.add_argument("--feeds", action="store_true", help="the feeds and playlists `kb sync` re-reads, with counts")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("sync", parents=[common], help="re-read every feed and playlist ingested by URL; add new episodes")
    p.add_argument("--prune", action="store_true", help="drop episodes gone from their feed or playlist")
    p.add_argument("--json", action="store_true", help="print one summary object")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_sync)


def _answer_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """Questions from a terminal: ask, chat."""
    p = sub.add_parser("ask", parents=[common], help="answer a question with cited timestamps")
    p.add_argument("question")
    p.add_argument("--thread", help="continue this conversation (its id is printed after each answer)")
    p.add_argument("--source", help="ask only this document (its id, as `kb sources` lists it)")
    p.add_argument("--json", action="store_true", help="print the structured answer")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[common], help="terminal chat (REPL) with citations, /sources, /threads")
    p.add_argument("--thread", help="resume this conversation")
    p.add_argument("--source", help="ask only this document (change it in the chat with /source ID)")
    p.set_defaults(func=cmd_chat)


def _server_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The agent for other programs: the Slack bot, the MCP server."""
    p = sub.add_parser("slack", parents=[common], help="run the Slack bot (HTTP Events API, or --socket for Socket Mode)")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (HTTP mode)")
    p.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    p.set_defaults(func=cmd_slack)

    p = sub.add_parser("mcp", parents=[common], help="serve the knowledge base to MCP clients (Claude, ChatGPT, agents): stdio, or --http")
    p.add_argument("--http", action="store_true", help="Streamable HTTP at /mcp instead of stdio")
    p.add_argument("--host", help="HTTP address to listen on (env KB_MCP_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (env KB_MCP_PORT, default 8765)")
    p.add_argument("--token", help="require Authorization: Bearer TOKEN (env KB_MCP_TOKEN; the variable keeps it out of `ps`)")
    p.add_argument("--allow-ingest", action="store_true", help="add the ingest tool (clients may then write to the index)")
    p.set_defaults(func=cmd_mcp)


def _evaluation_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """How good the answers are: log, eval."""
    p = sub.add_parser("log", parents=[common], help="the record of answered questions")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument("--export-gold", metavar="FILE", help="write questions rated 👍 as gold-file lines")
    p.add_argument("--all", action="store_true", help="with --export-gold: every logged question")
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("eval", parents=[common], help="score answers against a gold question file")
    p.add_argument("--gold", required=True, help="gold questions, JSON Lines (e.g. evals/gold/kb.jsonl)")
    p.add_argument("--out", help="output folder (default: a new timestamped folder under KB_HOME/evals/)")
    p.add_argument("--retriever", choices=["hybrid", "dense", "bm25", "naive"], default="hybrid")
    p.add_argument("--retrievers", help="comma-separated retrievers to compare side by side, e.g. hybrid,naive,bm25")
    p.add_argument("--compare", help="an earlier run's folder: report what changed")
    p.add_argument("--judge", action="store_true", help="also score with an LLM judge (needs a model)")
    p.add_argument("--unscoped", action="store_true",
                   help="ask questions that name a source of the whole index (drops those unanswerable only inside it)")
    p.add_argument("--retrieval-only", action="store_true", help="score only the retrieval stage (recall@5, MRR): fast")
    for metric in ("answer-accuracy", "numeric-accuracy", "citation-precision", "retrieval-recall", "abstention-accuracy"):
        p.add_argument(f"--min-{metric}", type=float, help=f"exit 1 when {metric.replace('-', '_')} is below this")
    p.set_defaults(func=cmd_eval)



def _brief_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """What an episode is about: brief, digest."""
    p = sub.add_parser("brief", parents=[common], help="an episode's TL;DR, key moments, chapters, figures, names and questions")
    p.add_argument("source", help="the document id (file stem; a unique part of it is enough)")
    p.add_argument("--json", action="store_true", help="print the brief as JSON")
    p.add_argument("--md", action="store_true", help="print Markdown (the default output)")
    p.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML page")
    p.add_argument("--refresh", action="store_true", help="rebuild instead of reading the cache")
    p.set_defaults(func=cmd_brief)

    p = sub.add_parser("digest", parents=[common], help="the top moments of the documents ingested recently")
    p.add_argument("--since", default="24h", help="window: 24h, 7d, 90m (default 24h)")
    p.add_argument("--top", type=_positive_int, default=5, help="moments to list (default 5)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--md", action="store_true", help="Markdown (the default)")
    p.add_argument("--slack-channel", metavar="C…", help="also post it to this Slack channel (SLACK_BOT_TOKEN)")
    p.set_defaults(func=cmd_digest)


def _dataset_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """Corpora and figures to measure with: dataset, bench."""
    p = sub.add_parser("dataset", parents=[common], help="convert a benchmark into a transcript corpus and gold files")
    p.add_argument("name", choices=["qmsum"])
    p.add_argument("path", help="the dataset file, e.g. QMSum's val.jsonl")
    p.add_argument("out", help="output folder: corpus/*.txt, gold-dev.jsonl, gold-report.jsonl")
    p.add_argument("--wpm", type=float, default=150.0, help="speaking rate that gives each line its time (words/minute)")
    p.add_argument("--unanswerable", type=int, default=3, help="unanswerable questions per meeting")
    p.set_defaults(func=cmd_dataset)

    p = sub.add_parser("bench", parents=[common], help="print speed figures (ingest, search, startup, answer, load, scale)")
    p.add_argument("what", choices=["ingest", "search", "startup", "answer", "load", "scale", "all"])
    p.add_argument("--scale", type=_positive_int, default=5, help="size of the generated large corpus, in copies of the bundled one (default 5: about a minute)")
    p.add_argument("--chunks", type=_positive_int, default=10_000, help="scale: number of synthetic chunks (e.g. 10000, 100000, 1000000)")
    p.add_argument("--bm25-only", action="store_true", help="scale: only the lexical index (no Chroma), e.g. at 1,000,000 chunks")
    p.add_argument("--concurrency", type=_positive_int, default=16, help="load: questions asked at once")
    p.add_argument("--delay", type=float, default=0.5, help="load: seconds each fake model call takes")
    p.set_defaults(func=cmd_bench)


def main(argv: Sequence[str] | None = None) -> int:
    rc = _main(argv)
    if argv is None:  # this process's own command line (the `kb` script): the process ends next
        import gc

        # Its objects are left to the OS instead of being walked by the interpreter's last garbage
        # collection: ≈ 0.3–0.4 CPU-s of a cold `kb ask` (python -m evals.bench startup).
        gc.freeze()
    return rc


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    import warnings

    from kb.errors import EmbeddingUnavailable, StoreUnavailable, TokenizerFallbackWarning
    from kb.settings import SettingsError

    # The tiktoken fallback is also logged (once, plain); its Python warning would repeat it.
    warnings.simplefilter("ignore", TokenizerFallbackWarning)
    try:
        return int(args.func(args) or 0)
    except (StoreUnavailable, EmbeddingUnavailable) as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except SettingsError as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
