"""`kb chat`: the REPL in-process (prompt_toolkit pipe input, plain streams) with a small fake agent,
the real offline agent on a tiny corpus (threads), piped stdin through the CLI, and once end to end
in a real pseudo-terminal."""

from __future__ import annotations

import _thread
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from agent.answer import Agent, Answer
from agent.models import ModelUnavailable
from interfaces import render
from interfaces.log import rows
from interfaces.repl import Repl, run_repl, saved_threads
from kb.settings import Settings
from kb.types import Passage

ROOT = Path(__file__).resolve().parent.parent
URL = "https://www.youtube.com/watch?v=4k53z3Ysjg0"
CITATION = {"source": "talk", "title": "T", "at": "10:31", "seconds": 631.0, "url": f"{URL}&t=631",
            "quote": "A gigawatt is about half a million GPUs."}
PASSAGE = Passage(chunk_id="talk:0", source="talk", title="T", text="Welcome. A gigawatt is about half a million GPUs.",
                  score=0.5, url=URL, start_s=620.0, end_s=660.0, at_s=631.0,
                  best_sentence="A gigawatt is about half a million GPUs.")
TOKENS = ["A gigawatt ", "is about half ", "a million GPUs ", "[10:31]."]
TINY = ("# Compute talk\nhttps://www.youtube.com/watch?v=4k53z3Ysjg0\n\n"
        "[00:05] A gigawatt of capacity is about half a million GPUs.\n"
        "[00:09] CPUs are making a comeback because agents run lots of tool calls on general purpose computing.\n"
        "[00:14] Memory and networking are also part of the compute supply chain.\n")


class FakeAgent:
    """Answers every question with the same cited answer, streaming it token by token."""

    backend = "openai"

    def __init__(self, settings: Settings, error: Exception | None = None) -> None:
        self.settings = settings
        self.error = error
        self.calls: list[tuple[str, str | None]] = []
        self.threads: dict[str, list[dict[str, Any]]] = {}

    def ask(self, question: str, thread_id: str | None = None, on_token: Any = None, on_event: Any = None) -> Answer:
        self.calls.append((question, thread_id))
        if self.error is not None:
            raise self.error
        if on_event:
            on_event("thinking", {"round": 0})
            on_event("tool", {"name": "search_knowledge_base"})
        for t in TOKENS if on_token else ():
            on_token(t)
        text = "".join(TOKENS)
        self.threads.setdefault(thread_id or "", []).extend(
            [{"role": "user", "content": question}, {"role": "assistant", "content": text}])
        return Answer(answer=text, citations=[dict(CITATION)],
                      retrieved=[{"source": "talk", "start_s": 620.0, "end_s": 660.0, "score": 0.5, "at": "10:31"}],
                      tool_calls=[], abstained=False, usage={"prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.0},
                      latency_s=0.01, backend=self.backend, thread_id=thread_id or "t0", question=question,
                      passages=[PASSAGE])

    def history(self, thread_id: str) -> list[dict[str, Any]]:
        return self.threads.get(thread_id, [])


def _term() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120, color_system="truecolor"), buf


def _chat(agent: Any, keys: str, settings: Settings | None = None, **kw: Any) -> tuple[int, str]:
    """Run the interactive REPL with `keys` typed into prompt_toolkit; returns (status, rich output)."""
    console, buf = _term()
    with create_pipe_input() as inp:
        inp.send_text(keys)
        code = run_repl(agent, input=inp, prompt_output=DummyOutput(), output=console, settings=settings, **kw)
    return code, buf.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", embedding_model="hashing")


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("tiny")
    (root / "talk.txt").write_text(TINY)
    report = ingest([root / "talk.txt"], settings=Settings(home=root / "home", embedding_model="hashing"), progress=False)
    assert report.files_failed == 0 and report.chunks_total > 0
    return root / "home"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return {**env, "KB_HOME": str(home), "KB_EMBEDDING_MODEL": "hashing", "KB_BACKEND": "offline",
            "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color"}


def test_citation_markers_become_links() -> None:
    cites = [CITATION, {**CITATION, "at": "44:00", "url": f"{URL}&t=2640"},
             {"source": "notes", "title": "N", "at": "¶3", "seconds": None, "url": None, "quote": "q"}]
    md = render.link_markers("GPUs [10:31]. Both [talk 10:31, 44:00]. Notes [notes ¶3]. Unknown [59:59].", cites)
    assert f"\\[[10:31](<{URL}&t=631>)\\]" in md
    assert f"\\[[talk 10:31](<{URL}&t=631>), [44:00](<{URL}&t=2640>)\\]" in md
    assert "\\[notes ¶3\\]" in md and "\\[59:59\\]" in md
    console, buf = _term()
    console.print(render.render_answer(FakeAgent(Settings()).ask("q", "t1")))
    out = buf.getvalue()
    assert "\x1b]8;id=" in out and f";{URL}&t=631\x1b\\" in out  # an OSC 8 hyperlink to the second
    assert "10:31" in out and "Sources" in out


def test_ask_streams_then_renders_links_and_sources(settings: Settings) -> None:
    agent = FakeAgent(settings)
    code, out = _chat(agent, "What number of GPUs does one gigawatt feed?\n/sources\n/quit\n", settings)
    assert code == 0 and agent.calls[0][0] == "What number of GPUs does one gigawatt feed?"
    assert "a million GPUs [10:31]." in out  # the tokens, shown live as they came
    assert "a million GPUs [\x1b]8;id=" in out and f"{URL}&t=631" in out  # then the final answer, its citation a link
    answer_at = out.index("Sources")
    assert out.index("[10:31]", answer_at) > answer_at  # the compact sources list
    passages = out[out.rindex("1. "):]  # /sources: the passage with its time span, sentence and link
    assert "talk" in passages and "passage 10:20–11:00" in passages and "half a million GPUs" in passages
    assert f"{URL}&t=631" in passages
    logged = rows(settings)
    assert len(logged) == 1 and logged[0]["interface"] == "chat" and logged[0]["question"] == "What number of GPUs does one gigawatt feed?"


def test_new_and_thread_commands_switch_threads(settings: Settings) -> None:
    agent = FakeAgent(settings)
    code, out = _chat(agent, "first\n/new\nsecond\n/thread abc123\nthird\n/thread\n/quit\n", settings, thread_id="start1")
    assert code == 0
    threads = [t for _, t in agent.calls]
    assert threads[0] == "start1" and threads[1] not in ("start1", None) and threads[2] == "abc123"
    assert f"new thread {threads[1]}" in out and "current thread abc123" in out
    code, out = _chat(agent, "fourth\n/quit\n", settings, thread_id="start1")  # resume with --thread
    assert agent.calls[-1] == ("fourth", "start1") and "resumed thread start1: 1 earlier question(s), last: first" in out


def test_help_ctrl_c_at_prompt_and_ctrl_d(settings: Settings) -> None:
    agent = FakeAgent(settings)
    code, out = _chat(agent, "/help\nhalf typed\x03/nope\n\x04", settings)
    assert code == 0 and agent.calls == []  # Ctrl-C cleared the line, Ctrl-D left
    for cmd in ("/sources", "/new", "/threads", "/thread ID", "/help", "/quit"):
        assert cmd in out
    assert "unknown command /nope" in out


@pytest.fixture
def default_sigint() -> Any:
    """Ctrl-C as in a fresh `kb chat`: Python's default SIGINT handler, which raises KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_cancels_the_answer_but_not_the_session(settings: Settings, default_sigint: Any) -> None:
    release, started = threading.Event(), threading.Event()

    class Slow(FakeAgent):
        def ask(self, question: str, thread_id: str | None = None, on_token: Any = None, on_event: Any = None) -> Answer:
            if question == "slow":
                started.set()
                release.wait(60)
            return super().ask(question, thread_id, on_token, on_event)

    console, buf = _term()
    repl = Repl(Slow(settings), console, settings=settings)

    def interrupt() -> None:
        """Ctrl-C once the answer is running, pressed again every second until the session says it
        cancelled (in a long test run an interrupt has been seen to go unnoticed)."""
        if not started.wait(60):
            return
        while not release.is_set() and "(cancelled)" not in buf.getvalue():
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread
            time.sleep(1.0)

    threading.Thread(target=interrupt, daemon=True).start()
    assert repl.ask("slow") is None
    release.set()
    assert "(cancelled)" in buf.getvalue() and repl.last is None
    assert repl.ask("fast") is not None and repl.handle("/quit") is False
    assert [r["question"] for r in rows(settings)] == ["fast"]


def test_unavailable_is_one_line_and_the_session_goes_on(settings: Settings) -> None:
    agent = FakeAgent(settings, error=ModelUnavailable("the model service at http://x failed: 503"))
    out, err = io.StringIO(), io.StringIO()
    code = run_repl(agent, input=io.StringIO("one\ntwo\n"), output=out, err=err, settings=settings)
    assert code == 3 and len(agent.calls) == 2 and out.getvalue() == ""
    assert err.getvalue().splitlines() == ["kb: the model service at http://x failed: 503"] * 2
    from kb.errors import StoreUnavailable

    agent.error = StoreUnavailable("cannot reach the Chroma server")
    code, shown = _chat(agent, "three\n/quit\n", settings)
    assert code == 0 and "error:\x1b[0m cannot reach the Chroma server\n" in shown
    agent.error = RuntimeError("boom")  # anything else: one line too, and exit status 1 when scripted
    err = io.StringIO()
    assert run_repl(agent, input=io.StringIO("four\n"), output=io.StringIO(), err=err, settings=settings) == 1
    assert err.getvalue() == "kb: RuntimeError: boom\n"


def test_plain_streams_have_no_ansi_and_a_function_works_as_agent(settings: Settings) -> None:
    agent = FakeAgent(settings)
    out = io.StringIO()
    code = run_repl(agent.ask, input=io.StringIO("How many GPUs?\n\n/sources\n/quit\nnot asked\n"), output=out,
                    settings=settings)
    text = out.getvalue()
    assert code == 0 and "\x1b" not in text and [q for q, _ in agent.calls] == ["How many GPUs?"]
    assert "A gigawatt is about half a million GPUs [10:31]." in text
    assert f"[10:31] T — {URL}&t=631" in text and f"   {URL}&t=631" in text  # sources, then /sources


def test_threads_lists_saved_conversations_of_the_real_agent(tiny_home: Path) -> None:
    settings = Settings(home=tiny_home, embedding_model="hashing", backend="offline")
    agent = Agent(settings)
    console, buf = _term()
    repl = Repl(agent, console, settings=settings, log=False)
    first = repl.ask("What is behind the comeback of CPUs?")
    assert first is not None and first.citations and not first.abstained
    repl.handle("/new")
    assert repl.ask("What number of GPUs does one gigawatt feed?") is not None
    ids = saved_threads(settings.threads_path)
    assert ids[:2] == [repl.thread_id, first.thread_id]
    repl.handle("/threads")
    out = buf.getvalue()
    assert first.thread_id in out and "What is behind the comeback of CPUs?" in out and "What number of GPUs does one gigawatt feed?" in out
    repl.handle(f"/thread {first.thread_id}")
    assert repl.thread_id == first.thread_id and "1 earlier question(s)" in buf.getvalue()


@pytest.mark.slow
def test_streams_a_configured_model_through_the_real_agent(tiny_home: Path) -> None:
    from tests.fakes.openai_server import FakeOpenAI, reply, tool_call

    text = "CPUs are making a comeback because agents run lots of tool calls [00:09]."
    base = Settings(home=tiny_home, embedding_model="hashing", backend="openai", openai_api_key="test", max_retries=0,
                    request_timeout_s=10.0, abstain_threshold=0.0)
    with FakeOpenAI([tool_call("search_knowledge_base", {"query": "CPUs comeback", "k": 3}), reply(text)]) as server:
        settings = base.with_(openai_base_url=server.base_url)
        console, buf = _term()
        repl = Repl(Agent(settings), console, settings=settings, log=False)
        result = repl.ask("What is behind the comeback of CPUs?")
        assert repl.ask("And what else?") is None  # the script ran out: the model is unavailable
    out = buf.getvalue()
    assert result is not None and result.backend == "openai" and result.answer == text
    streamed = out.index("tool calls [00:09].")  # the tokens as they came, then the checked answer with its link
    assert out.index("tool calls [\x1b]8;id=", streamed) > streamed and f"{URL}&t=9" in out
    assert "\x1b[31merror:\x1b[0m " in out[out.index(f"{URL}&t=9"):]


@pytest.mark.slow
def test_piped_stdin_answers_and_exits(tiny_home: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "interfaces.cli", "chat"], input="What is behind the comeback of CPUs?\n",
                          cwd=ROOT, env=_env(tiny_home), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "CPUs are making a comeback" in done.stdout and "[00:09]" in done.stdout
    assert f"{URL}&t=9" in done.stdout and "\x1b" not in done.stdout


@pytest.mark.slow
def test_end_to_end_in_a_pseudo_terminal(tiny_home: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "interfaces.cli", "chat"], cwd=str(ROOT), env=_env(tiny_home),
                          encoding="utf-8", timeout=30, dimensions=(40, 120))
    try:
        child.expect("kb>")
        child.sendline("What is behind the comeback of CPUs?")
        child.expect(r"\[(?:\x1b[^\x07\x1b]*\x1b\\)*(?:\x1b\[[\d;]*m)*00:0\d")  # the citation, hyperlinked
        child.expect(r"offline · \d+\.\d\d s")
        child.sendline("/sources")
        child.expect("talk")
        child.expect(r"4k53z3Ysjg0&t=\d")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_source_command_scopes_the_following_questions(settings: Settings) -> None:
    from kb.errors import UnknownSource

    class ScopedAgent(FakeAgent):
        def __init__(self, settings: Settings) -> None:
            super().__init__(settings)
            self.scopes: list[str | None] = []

        def check_source(self, source: str) -> None:
            if source != "talk":
                raise UnknownSource(f"no document {source!r} in the index")

        def ask(self, question: str, thread_id: str | None = None, on_token: Any = None, on_event: Any = None,
                source: str | None = None) -> Answer:
            self.scopes.append(source)
            return super().ask(question, thread_id, on_token, on_event)

    agent = ScopedAgent(settings)
    out, err = io.StringIO(), io.StringIO()
    code = run_repl(agent, input=io.StringIO("one\n/source talk\ntwo\n/source nope\nthree\n/source\nfour\n"),
                    output=out, err=err, settings=settings, interactive=False, log=False)
    assert code == 0 and agent.scopes == [None, "talk", "talk", None]
    assert "asking only talk" in out.getvalue() and "asking all documents again (was talk)" in out.getvalue()
    assert "no document 'nope'" in err.getvalue()
    out = io.StringIO()
    run_repl(agent, input=io.StringIO("five\n"), output=out, settings=settings, interactive=False, log=False, source="talk")
    assert agent.scopes[-1] == "talk"
