"""`kb mcp` driven by the official MCP SDK client: in-process over a small index (fast), then the real
`kb mcp` over stdio and over Streamable HTTP with a bearer token, on the bundled corpus (slow)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from agent.prompts import NOT_IN_KB
from interfaces import mcp_tools
from interfaces.cli import main as cli_main
from interfaces.mcp_auth import check_bind, is_loopback
from interfaces.mcp_server import build_server
from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CAPSTONE = "stanford-mse435-2026-infrastructure-capstone-transcript"
READ_TOOLS = {"search", "ask", "list_sources", "get_transcript", "brief"}

TALK = """# Cooling the racks
https://www.youtube.com/watch?v=abc123XYZ00
[00:04] Welcome to a short talk about liquid cooling.
[00:12] A single rack of accelerators can draw one hundred and twenty kilowatts.
[00:21] Air cannot carry that much heat away, so the water loop goes right to the chips.
[01:05] The chillers on the roof reject the heat to the outside air.
[02:30] That is all for today, thanks for listening.
"""
NOTES = "# Field notes\n\nThe pumps were replaced in spring.\n\nThe loop runs at thirty degrees.\n"


def run(fn: Any) -> Any:
    return anyio.run(fn)


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


@pytest.fixture
def small_kb(fast_settings: Settings, tmp_path: Path) -> Settings:
    from ingest.pipeline import ingest

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cooling-talk.txt").write_text(TALK)
    (tmp_path / "docs" / "field-notes.md").write_text(NOTES)
    report = ingest([tmp_path / "docs"], settings=fast_settings, progress=False)
    assert report.files_ingested == 2
    return fast_settings


# --- in-process: the tools, resources and prompt --------------------------------------------------
def test_tools_listed_and_ingest_only_when_allowed(small_kb: Settings) -> None:
    async def names(allow: bool) -> set[str]:
        async with Client(build_server(small_kb, allow_ingest=allow)) as c:
            tools = (await c.list_tools()).tools
            assert all(t.description and t.output_schema for t in tools)
            return {t.name for t in tools}

    assert run(lambda: names(False)) == READ_TOOLS
    assert run(lambda: names(True)) == READ_TOOLS | {"ingest"}


def test_search_gives_passages_with_time_links(small_kb: Settings) -> None:
    async def go() -> Any:
        async with Client(build_server(small_kb)) as c:
            return await c.call_tool("search", {"query": "how much power does a rack of accelerators draw", "k": 2})

    r = run(go)
    assert not r.is_error
    hits = r.structured_content["passages"]
    assert 1 <= len(hits) <= 2
    top = next(h for h in hits if h["source"] == "cooling-talk")
    assert top["at"] == "00:12" and top["seconds"] == 12
    assert top["url"] == "https://www.youtube.com/watch?v=abc123XYZ00&t=12"
    assert "kilowatts" in top["best_sentence"] and "[00:12]" in text(r)


def test_bad_requests_are_tool_errors_and_the_session_goes_on(small_kb: Settings) -> None:
    async def go() -> list[Any]:
        async with Client(build_server(small_kb)) as c:
            return [await c.call_tool("search", {"query": "chillers", "source": "cooling-tak"}),
                    await c.call_tool("get_transcript", {"source": "no-such-doc"}),
                    await c.call_tool("search", {"query": "chillers", "k": 0}),
                    await c.call_tool("search", {"query": "  "}),
                    await c.call_tool("get_transcript", {"source": "cooling-talk", "start": "soon"}),
                    await c.call_tool("get_transcript", {"source": "field-notes", "start": "00:10"}),
                    await c.call_tool("no_such_tool", {}),
                    await c.call_tool("list_sources", {})]

    *bad, ok = run(go)
    assert all(r.is_error for r in bad)
    assert "no document 'cooling-tak' in the index (did you mean 'cooling-talk'?)" in text(bad[0])
    assert "no document 'no-such-doc'" in text(bad[1])
    assert "the query is empty" in text(bad[3])
    assert "not a time" in text(bad[4]) and "no timestamps" in text(bad[5])
    assert not ok.is_error and {s["source"] for s in ok.structured_content["sources"]} == {"cooling-talk", "field-notes"}


def test_concurrent_calls_on_a_warmed_server(small_kb: Settings) -> None:
    kb = mcp_tools.KBTools(small_kb)
    kb.warm()
    calls = [("list_sources", {}), ("search", {"query": "chillers on the roof"}), ("get_transcript", {"source": "cooling-talk"}),
             ("search", {"query": "water loop", "source": "cooling-talk"}), ("get_transcript", {"source": "field-notes"})] * 2
    results: dict[int, Any] = {}

    async def go() -> None:
        async with Client(build_server(small_kb, tools=kb)) as c:
            async def one(i: int, name: str, args: dict[str, Any]) -> None:
                results[i] = await c.call_tool(name, args)

            async with anyio.create_task_group() as tg:
                for i, (name, args) in enumerate(calls):
                    tg.start_soon(one, i, name, args)

    run(go)
    assert len(results) == len(calls) and not any(r.is_error for r in results.values())


def test_empty_index_says_run_kb_ingest(fast_settings: Settings) -> None:
    async def go() -> list[Any]:
        async with Client(build_server(fast_settings)) as c:
            return [await c.call_tool("search", {"query": "anything"}),
                    await c.call_tool("ask", {"question": "anything at all?"}),
                    await c.call_tool("list_sources", {})]

    search, ask, listing = run(go)
    assert search.is_error and ask.is_error
    assert "run `kb ingest`" in text(search) and "run `kb ingest`" in text(ask)
    assert not listing.is_error and listing.structured_content["sources"] == [] and "kb ingest" in text(listing)


def test_chroma_server_down_is_a_tool_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(home=tmp_path / "h", embedding_model="hashing", chroma_url=f"http://127.0.0.1:{port}")

    async def go() -> list[Any]:
        async with Client(build_server(settings)) as c:
            return [await c.call_tool("list_sources", {}), await c.call_tool("search", {"query": "x"})]

    for r in run(go):
        assert r.is_error and f"cannot reach the Chroma server at http://127.0.0.1:{port}" in text(r)


def test_list_sources_and_transcript_window(small_kb: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> list[Any]:
        async with Client(build_server(small_kb)) as c:
            return [await c.call_tool("list_sources", {}),
                    await c.call_tool("get_transcript", {"source": "cooling-talk", "start": "00:15", "end": 70}),
                    await c.call_tool("get_transcript", {"source": "cooling-talk"})]

    monkeypatch.setattr(mcp_tools, "TRANSCRIPT_MAX_LINES", 3)
    listing, window, capped = run(go)
    talk = next(s for s in listing.structured_content["sources"] if s["source"] == "cooling-talk")
    assert talk["duration"] == "02:30" and talk["resource"] == "kb://sources/cooling-talk"
    assert talk["url"] == "https://www.youtube.com/watch?v=abc123XYZ00"
    lines = window.structured_content["lines"]
    # the sentence already running at 00:15 starts the window; 02:30 is past its end
    assert [ln["at"] for ln in lines] == ["00:12", "00:21", "01:05"]
    assert lines[2]["url"].endswith("&t=65") and "[00:21] Air cannot" in text(window)
    assert capped.structured_content["truncated"] and capped.structured_content["next_start"] == "01:05"
    assert len(capped.structured_content["lines"]) == 3


def test_resources_and_prompt(small_kb: Settings) -> None:
    async def go() -> tuple[Any, ...]:
        async with Client(build_server(small_kb)) as c:
            listed = await c.list_resources()
            templates = await c.list_resource_templates()
            doc = await c.read_resource("kb://sources/cooling-talk")
            prompt = await c.get_prompt("cite-from-kb", {"question": "Why water?"})
            try:
                await c.read_resource("kb://sources/nothing-here")
                missing = None
            except Exception as exc:  # an MCP error response, not a crash
                missing = exc
            tools_after = await c.list_tools()
            return listed, templates, doc, prompt, missing, tools_after

    listed, templates, doc, prompt, missing, tools_after = run(go)
    assert {str(r.uri) for r in listed.resources} == {"kb://sources/cooling-talk", "kb://sources/field-notes"}
    assert [t.uri_template for t in templates.resource_templates] == ["kb://sources/{source}"]
    body = doc.contents[0].text
    assert body.startswith("# Cooling the racks\nhttps://www.youtube.com/watch?v=abc123XYZ00")
    assert "[01:05] The chillers on the roof" in body
    said = prompt.messages[0].content.text
    assert "search" in said and "[mm:ss]" in said and NOT_IN_KB in said and "Why water?" in said
    assert missing is not None and "nothing-here" in str(missing)
    assert {t.name for t in tools_after.tools} == READ_TOOLS


def test_ingest_tool_adds_a_document(small_kb: Settings, tmp_path: Path) -> None:
    new = tmp_path / "pump-talk.txt"
    new.write_text("# Pumps\nhttps://youtu.be/pumpPUMP001\n[00:03] The impeller spins at three thousand rpm.\n"
                   "[00:09] Seals wear out first.\n[00:15] We keep a spare pump on site.\n")

    async def go() -> list[Any]:
        async with Client(build_server(small_kb, allow_ingest=True)) as c:
            return [await c.call_tool("ingest", {"path_or_url": str(new)}),
                    await c.call_tool("search", {"query": "impeller rpm", "source": "pump-talk"}),
                    await c.call_tool("ingest", {"path_or_url": str(tmp_path / "missing.txt")}),
                    await c.call_tool("ingest", {"path_or_url": "file:///srv/talks/feed.xml"})]

    added, found, missing, url = run(go)
    assert not added.is_error and added.structured_content["files_ingested"] == 1
    assert found.structured_content["passages"][0]["url"] == "https://youtu.be/pumpPUMP001?t=3"
    assert missing.is_error and "no such file" in text(missing)
    assert url.is_error and "only http and https URLs are fetched" in text(url)


def test_scoped_ask_without_agent_support_is_a_tool_error(small_kb: Settings) -> None:
    if mcp_tools.answer_takes_source():
        pytest.skip("agent.answer.answer accepts source=: covered by the corpus test")

    async def go() -> Any:
        async with Client(build_server(small_kb)) as c:
            return await c.call_tool("ask", {"question": "What do the chillers do?", "source": "cooling-talk"})

    r = run(go)
    assert r.is_error and "not available" in text(r)


def test_binding_beyond_loopback_needs_a_token(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20") and not is_loopback("kb.example.com")
    check_bind("0.0.0.0", "secret")  # with a token it may listen anywhere
    code = cli_main(["--home", str(tmp_path / "h"), "mcp", "--http", "--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert code == 2 and "refusing to serve MCP on 0.0.0.0 without a token" in err and "KB_MCP_TOKEN" in err


# --- the real `kb mcp`, over stdio and HTTP, on the bundled corpus --------------------------------
GPU_QUESTION = "At the guest's GPUs per gigawatt, how many GPUs are in 10 GW?"
UNCOVERED = "What PUE do the guest's data centres achieve?"


def _kb_command() -> list[str]:
    exe = Path(sys.executable).parent / "kb"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "interfaces.cli"]


def _server_env(home: Path, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "KB_HOME": str(home), "KB_BACKEND": "offline", "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", **extra}


def _check_gpu_answer(r: Any) -> None:
    assert not r.is_error, text(r)
    out = r.structured_content
    assert "5 million" in out["answer"] and not out["abstained"] and out["thread_id"]
    cite = next(c for c in out["citations"] if c["at"] == "10:31")
    assert cite["source"] == CAPSTONE and cite["url"].endswith("&t=631") and cite["quote"]
    assert "[10:31]" in text(r) and "t=631" in text(r)


def _check_abstains(r: Any) -> None:
    assert not r.is_error, text(r)
    assert r.structured_content["abstained"] and r.structured_content["answer"] == NOT_IN_KB
    assert r.structured_content["citations"] == []


@pytest.mark.slow
def test_stdio_server_end_to_end(corpus_home: Path) -> None:
    cmd = _kb_command()
    params = StdioServerParameters(command=cmd[0], args=[*cmd[1:], "mcp"], env=_server_env(corpus_home), cwd=str(ROOT))

    async def go() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=180) as c:
            out: dict[str, Any] = {"tools": {t.name for t in (await c.list_tools()).tools}}
            out["gpu"] = await c.call_tool("ask", {"question": GPU_QUESTION})
            out["follow_up"] = await c.call_tool("ask", {"question": "And at 3 GW?", "thread_id": out["gpu"].structured_content["thread_id"]})
            out["uncovered"] = await c.call_tool("ask", {"question": UNCOVERED})
            out["bad"] = await c.call_tool("search", {"query": "gigawatt", "source": "no-such-talk"})
            out["invalid"] = await c.call_tool("get_transcript", {})
            out["search"] = await c.call_tool("search", {"query": "GPUs in a gigawatt", "k": 3, "source": CAPSTONE})
            out["sources"] = await c.call_tool("list_sources", {})
            out["transcript"] = await c.call_tool("get_transcript", {"source": CAPSTONE, "start": "10:25", "end": "10:40"})
            return out

    out = run(go)
    assert out["tools"] == READ_TOOLS
    _check_gpu_answer(out["gpu"])
    assert not out["follow_up"].is_error and out["follow_up"].structured_content["thread_id"] == out["gpu"].structured_content["thread_id"]
    _check_abstains(out["uncovered"])
    assert out["bad"].is_error and "no document 'no-such-talk'" in text(out["bad"])
    assert out["invalid"].is_error  # missing argument: an error result, and the session goes on
    hits = out["search"].structured_content["passages"]
    assert hits and all(h["source"] == CAPSTONE and "t=" in h["url"] for h in hits)
    assert any(h["at"] == "10:31" and h["url"].endswith("&t=631") for h in hits)
    capstone = next(s for s in out["sources"].structured_content["sources"] if s["source"] == CAPSTONE)
    assert capstone["chunks"] > 0 and capstone["duration_s"] > 600 and "youtube.com" in capstone["url"]
    lines = out["transcript"].structured_content["lines"]
    assert any(ln["at"] == "10:31" and ln["url"].endswith("&t=631") and "half a million" in ln["text"] for ln in lines)


@pytest.fixture(scope="module")
def http_server(corpus_home: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "test-token-" + os.urandom(6).hex()
    env = {**os.environ, **_server_env(corpus_home, KB_MCP_TOKEN=token)}
    proc = subprocess.Popen([*_kb_command(), "mcp", "--http", "--port", str(port)], env=env, cwd=str(ROOT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"kb mcp --http exited: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("kb mcp --http did not start")
    yield url, token
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.slow
def test_http_server_requires_the_token(http_server: tuple[str, str]) -> None:
    url, token = http_server
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    accept = {"Accept": "application/json, text/event-stream"}
    missing = httpx.post(url, json=hello, headers=accept, timeout=30)
    wrong = httpx.post(url, json=hello, headers={**accept, "Authorization": "Bearer not-the-token"}, timeout=30)
    assert missing.status_code == 401 and "missing" in missing.json()["error_description"]
    assert wrong.status_code == 401 and wrong.json()["error_description"] == "wrong bearer token"
    assert missing.headers["www-authenticate"].startswith("Bearer")

    async def go() -> dict[str, Any]:
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
            async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=180) as c:
                return {"tools": {t.name for t in (await c.list_tools()).tools},
                        "gpu": await c.call_tool("ask", {"question": GPU_QUESTION}),
                        "uncovered": await c.call_tool("ask", {"question": UNCOVERED}),
                        "bad": await c.call_tool("get_transcript", {"source": "no-such-talk"}),
                        "sources": await c.call_tool("list_sources", {})}

    out = run(go)
    assert out["tools"] == READ_TOOLS
    _check_gpu_answer(out["gpu"])
    _check_abstains(out["uncovered"])
    assert out["bad"].is_error and not out["sources"].is_error


@pytest.mark.slow
def test_scoped_ask(corpus_settings: Settings) -> None:
    if not mcp_tools.answer_takes_source():
        pytest.skip("agent.answer.answer has no source= parameter yet (scoped ask returns a tool error meanwhile)")

    async def go() -> Any:
        async with Client(build_server(corpus_settings.with_(backend="offline"))) as c:
            return await c.call_tool("ask", {"question": GPU_QUESTION, "source": CAPSTONE})

    r = run(go)
    assert not r.is_error, text(r)
    assert r.structured_content["citations"] and all(c["source"] == CAPSTONE for c in r.structured_content["citations"])


@pytest.mark.slow
def test_brief_tool_gives_cited_moments_and_an_error_for_an_unknown_source(small_kb: Settings) -> None:
    async def go() -> tuple[Any, Any]:
        async with Client(build_server(small_kb)) as c:
            sources = (await c.call_tool("list_sources", {})).structured_content["sources"]
            good = await c.call_tool("brief", {"source": sources[0]["source"]})
            bad = await c.call_tool("brief", {"source": "no-such-episode"})
            return good, bad

    good, bad = run(go)
    assert not good.is_error and good.structured_content["moments"]
    assert all(m["at"] for m in good.structured_content["moments"])
    assert bad.is_error and "no-such-episode" in bad.content[0].text
