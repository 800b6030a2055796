"""`kb mcp`: the knowledge base as a Model Context Protocol server, on the official `mcp` SDK.

Over stdio (what Claude Desktop and Claude Code launch) or, with `--http`, Streamable HTTP at
`/mcp` (ChatGPT connectors, a team server), optionally behind a bearer token. Tools: `search`,
`ask`, `list_sources`, `get_transcript`, and `ingest` only when started with `--allow-ingest`;
each document is a resource `kb://sources/{id}`; the prompt `cite-from-kb` tells a client model to
answer from `search` and keep kb's `[mm:ss]` links. Logs go to stderr at `KB_LOG_LEVEL`.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, Resource, TextContent, ToolAnnotations
from pydantic import Field

from agent.prompts import NOT_IN_KB
from interfaces.mcp_auth import BearerTokenMiddleware, BindRefused, check_bind
from interfaces.mcp_tools import (
    MAX_K,
    AskResult,
    BriefResult,
    IngestResult,
    KBTools,
    SearchResult,
    SourcesResult,
    TranscriptResult,
)
from kb.exit_codes import EXIT_OK, EXIT_USAGE
from kb.settings import Settings, reveal

logger = logging.getLogger("kb.mcp")

MCP_PATH = "/mcp"
SERVER_INSTRUCTIONS = (
    "kb answers questions from a knowledge base of lecture and podcast transcripts and cites the exact "
    "second: [mm:ss] markers whose links open the video there. Use `ask` for kb's own verified answer, "
    "or `search` to read the passages yourself; `list_sources` lists the documents and `get_transcript` "
    "reads around a citation. When kb abstains, the transcripts do not cover the question."
)
CITE_FROM_KB_PROMPT = (
    "Answer the question below only from passages returned by the kb `search` tool: call it (again with "
    "other words if the first results miss), and read around a passage with `get_transcript` when you need "
    "context. After every claim put the [mm:ss] marker of the passage it comes from, as a Markdown link to "
    "that passage's `url`, which opens the video at that second, e.g. [10:31](https://…&t=631). Compute any "
    "figure from the numbers the passages state and show the arithmetic. Do not use outside knowledge. If "
    "the passages do not answer the question, reply exactly: {not_in_kb}\n\nQuestion: {question}"
)

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
Source = Annotated[str | None, Field(description="only this document: its id from list_sources (file stem)")]
Time = Annotated[float | str | None, Field(description="a time as mm:ss, h:mm:ss or seconds")]


def _result(out: Any) -> CallToolResult:
    """Text for the client model plus the structured output."""
    return CallToolResult(content=[TextContent(type="text", text=out.as_text())],
                          structured_content=out.model_dump(mode="json"))


class KBServer(MCPServer):
    """MCPServer that also lists every document in the index as a concrete resource."""

    def __init__(self, tools: KBTools, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kb = tools

    async def list_resources(self) -> list[Resource]:
        import anyio

        listed = await super().list_resources()
        try:
            sources = await anyio.to_thread.run_sync(lambda: self.kb.store.sources() if self.kb.store.exists() else [])
        except Exception as exc:  # the store is down: the templates still work once it is back
            logger.warning("cannot list documents: %s", exc)
            return listed
        return listed + [Resource(uri=f"kb://sources/{s.source}", name=s.source, title=s.title,
                                  description=f"transcript with [mm:ss] times ({s.chunks} chunks)",
                                  mime_type="text/markdown") for s in sources]


def build_server(settings: Settings, allow_ingest: bool = False, tools: KBTools | None = None) -> KBServer:
    """The MCP server over one knowledge base (`tools` lets a test share a warm one)."""
    kb = tools or KBTools(settings)
    server = KBServer(kb, name="kb", title="kb — cited answers from transcripts", instructions=SERVER_INSTRUCTIONS,
                      log_level=settings.log_level.upper())  # type: ignore[arg-type]

    _add_reading_tools(server, kb)
    if allow_ingest:
        _add_ingest_tool(server, kb)
    _add_resource_and_prompt(server, kb)
    return server


def _add_reading_tools(server: KBServer, kb: KBTools) -> None:
    """search, ask, list_sources, get_transcript and brief: the tools that change nothing."""

    @server.tool(annotations=READ_ONLY)
    def search(query: Annotated[str, Field(description="what to look for, in plain words")],
               k: Annotated[int, Field(ge=1, le=MAX_K, description="how many passages")] = 5,
               source: Source = None) -> Annotated[CallToolResult, SearchResult]:
        """Search the transcripts: the best passages for a query (hybrid dense + BM25), each with its
        source, title, `at` (mm:ss of the sentence that best matches), seconds, that sentence, the
        passage text and a `url` that opens the video at that second. Cite a passage as [at](url)."""
        return _result(kb.search(query, k=k, source=source))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False, idempotent_hint=False))
    def ask(question: Annotated[str, Field(description="the question, in plain words")],
            source: Source = None,
            thread_id: Annotated[str | None, Field(description="continue this conversation (from an earlier ask)")] = None,
            ) -> Annotated[CallToolResult, AskResult]:
        """Ask kb itself: a short answer whose every claim cites a checked [mm:ss] moment, with figures
        computed by a calculator, the citations (source, at, url, quote), `abstained` (true when the
        transcripts do not cover the question: do not answer it from elsewhere) and a `thread_id` to
        ask a follow-up. Keep the [mm:ss] links when you quote the answer."""
        return _result(kb.ask(question, source=source, thread_id=thread_id))

    @server.tool(annotations=READ_ONLY)
    def list_sources() -> Annotated[CallToolResult, SourcesResult]:
        """The documents in the knowledge base: id (use it as `source`), title, link, chunk count,
        duration, kind, and the `kb://sources/{id}` resource with the whole transcript."""
        return _result(kb.list_sources())

    @server.tool(annotations=READ_ONLY)
    def get_transcript(source: Annotated[str, Field(description="the document id from list_sources")],
                       start: Time = None, end: Time = None) -> Annotated[CallToolResult, TranscriptResult]:
        """Read a document's sentences between two times (e.g. a minute either side of a citation),
        each with its mm:ss and a link to that second. At most 120 sentences per call; when
        `truncated`, call again with `start` = `next_start`."""
        return _result(kb.get_transcript(source, start=start, end=end))

    @server.tool(annotations=READ_ONLY)
    def brief(source: Annotated[str, Field(description="the document id from list_sources (a unique part is enough)")],
              ) -> Annotated[CallToolResult, BriefResult]:
        """What one episode is about before you know what to ask: a TL;DR, 5-7 key moments, chapters,
        a table of the figures stated, the names mentioned and questions it answers — every line with
        its [mm:ss] and a link to that second."""
        return _result(kb.brief(source))


def _add_ingest_tool(server: KBServer, kb: KBTools) -> None:
    """ingest (only with --allow-ingest): the one tool that writes to the knowledge base."""

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                                             open_world_hint=False))
    def ingest(path_or_url: Annotated[str, Field(description="a file or folder on the server (.txt .srt .vtt .md), "
                                                             "or a podcast feed / YouTube video or playlist URL")],
               ) -> Annotated[CallToolResult, IngestResult]:
        """Add documents to the knowledge base: a transcript file or folder on the server's disk, or a
        podcast feed or YouTube URL (its transcripts or captions). Unchanged documents are skipped,
        a changed one replaces its old version."""
        return _result(kb.ingest(path_or_url))


def _add_resource_and_prompt(server: KBServer, kb: KBTools) -> None:
    """Each document as the `kb://sources/{id}` resource, and the cite-from-kb prompt."""

    @server.resource("kb://sources/{source}", mime_type="text/markdown",
                     description="a document of the knowledge base: title, link and transcript with [mm:ss] times")
    def source_resource(source: str) -> str:
        try:
            return kb.document_text(source)
        except ToolError as exc:
            if "no document" in str(exc):
                raise ResourceNotFoundError(str(exc)) from None
            raise ResourceError(str(exc)) from None

    @server.prompt(name="cite-from-kb", title="Answer from kb with citations",
                   description="Answer a question only from kb's search results, keeping its [mm:ss] links")
    def cite_from_kb(question: str) -> str:
        return CITE_FROM_KB_PROMPT.format(question=question, not_in_kb=NOT_IN_KB)


def http_app(server: MCPServer, host: str, token: str | None) -> Any:
    """The Streamable HTTP ASGI app at /mcp, behind the bearer token when one is set. With a token,
    the token is the protection, so the Host check (DNS rebinding) is left to a proxy in front."""
    from mcp.server.transport_security import TransportSecuritySettings

    security = TransportSecuritySettings(enable_dns_rebinding_protection=False) if token else None
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host, transport_security=security)
    return BearerTokenMiddleware(app, token) if token else app


def configure_logging(level: str) -> None:
    """All logs to stderr (on stdio, stdout is the transport), at `level`, libraries included."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level.upper())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def main(settings: Settings, http: bool = False, host: str | None = None, port: int | None = None,
         token: str | None = None, allow_ingest: bool = False) -> int:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP). Returns the exit status."""
    host = host or settings.mcp.host
    port = settings.mcp.port if port is None else port
    token = token or reveal(settings.mcp.token)
    if http:
        try:
            check_bind(host, token)
        except BindRefused as exc:
            print(f"kb: {exc}", file=sys.stderr)
            return EXIT_USAGE
    configure_logging(settings.log_level)
    kb = KBTools(settings)
    kb.warm()
    server = build_server(settings, allow_ingest=allow_ingest, tools=kb)
    logger.info("kb mcp over %s, index at %s", "HTTP" if http else "stdio", settings.chroma_url or settings.chroma_path)
    if not http:
        server.run("stdio")
        return EXIT_OK
    import uvicorn

    print(f"kb mcp: serving http://{host}:{port}{MCP_PATH}" + (" (bearer token required)" if token else ""), file=sys.stderr)
    config = uvicorn.Config(http_app(server, host, token), host=host, port=port, log_level=settings.log_level.lower())
    uvicorn.Server(config).run()
    return EXIT_OK
