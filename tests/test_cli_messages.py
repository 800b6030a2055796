"""Messages a new user meets: each says what is wrong and what to set, once, with the documented
exit status."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from interfaces.cli import main
from kb.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, reply

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path: Path) -> Path:
    doc = tmp_path / "pumps.txt"
    doc.write_text("[00:03] The pump room floods every spring.\n[00:08] Sandbags keep the water out.\n")
    ingest([doc], settings=Settings(home=tmp_path / "home", embedding_model="hashing"), progress=False)
    return tmp_path / "home"


def kb(home: Path, *args: str) -> int:
    return main(["--home", str(home), "--embedding-model", "hashing", *args])


def test_the_openai_backend_without_a_key_or_url_says_what_to_set(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kb(home, "--backend", "openai", "ask", "why does the pump room flood?") == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "OPENAI_BASE_URL" in err and "cannot reach" not in err
    assert err.count("\n") == 1, "one line"


@pytest.mark.parametrize("query", ["", "   \t"])
def test_an_empty_search_is_a_usage_error(home: Path, query: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert kb(home, "search", query) == 2
    captured = capsys.readouterr()
    assert "the query is empty" in captured.err and captured.out == ""


def test_an_unseen_thread_id_is_announced_as_new(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kb(home, "--backend", "offline", "ask", "why does the pump room flood?", "--thread", "floods-1", "--json") == 0
    captured = capsys.readouterr()
    assert "no conversation 'floods-1' yet" in captured.err
    assert json.loads(captured.out)["new_thread"] is True
    assert kb(home, "--backend", "offline", "ask", "and what keeps it out?", "--thread", "floods-1", "--json") == 0
    captured = capsys.readouterr()
    assert "no conversation" not in captured.err and json.loads(captured.out)["new_thread"] is False


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.slow
def test_a_chroma_server_that_never_answers_is_named_with_the_wait(silent_server: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KB_CHROMA_TIMEOUT_S", "0.5")
    assert kb(tmp_path / "h", "--chroma-url", silent_server, "--backend", "offline", "ask", "pumps?") == 3
    err = capsys.readouterr().err
    assert f"the Chroma server at {silent_server} did not answer within 0.5 s" in err
    assert "Traceback" not in err and "ValueError" not in err


@pytest.mark.slow
def test_the_tiktoken_fallback_is_reported_once(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KB_TOKENIZER_TIMEOUT": "0.001",
           "TIKTOKEN_CACHE_DIR": str(tmp_path / "no-bpe-files"), "OPENAI_API_KEY": "test"}
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(key, None)
    with FakeOpenAI([reply("The knowledge base does not cover this.")]) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        done = subprocess.run([sys.executable, "-m", "interfaces.cli", "--home", str(home), "--embedding-model", "hashing",
                               "ask", "why does the pump room flood?"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("tiktoken encoding") == 1, done.stderr


def test_slack_sign_in_failure_is_one_message_without_sdk_retry_noise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from interfaces.slack_bot import main as slack_main

    with socket.socket() as s:  # a closed loopback port: connection refused, which slack_sdk retries
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{port}/api/")
    caplog.set_level(logging.DEBUG)
    assert slack_main(Settings(home=tmp_path / "h")) == 3
    assert "could not sign in to Slack" in capsys.readouterr().err
    assert not [r for r in caplog.records if r.name.startswith("slack_sdk")], [r.getMessage() for r in caplog.records]


def test_only_the_programs_own_command_line_leaves_its_objects_to_the_os(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    gc.unfreeze()
    assert kb(home, "sources") == 0 and gc.get_freeze_count() == 0  # called in-process: nothing frozen
    monkeypatch.setattr(sys, "argv", ["kb", "--home", str(home), "--embedding-model", "hashing", "sources"])
    try:
        assert main() == 0 and gc.get_freeze_count() > 0  # the `kb` script: the process ends next
    finally:
        gc.unfreeze()
    assert "pumps" in capsys.readouterr().out
