"""The Slack bot end to end over HTTP on 127.0.0.1: the real Bolt app behind uvicorn, signed event
payloads, and the fake Slack Web API (tests/fakes/slack_api.py) recording what the bot posts."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from slack_sdk import WebClient

from agent.answer import Answer
from interfaces import log
from interfaces.slack_bot import (
    MARKDOWN_LIMIT,
    MAX_BLOCKS,
    MESSAGE_TEXT_LIMIT,
    PLACEHOLDER,
    RATE_LIMIT_RETRIES,
    answer_markdown,
    asgi_app,
    build_app,
    main,
    render_answer,
)
from kb.settings import Settings
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
URL = "https://www.youtube.com/watch?v=4k53z3Ysjg0&t=631"
LINK = f"[\\[10:31\\]]({URL})"  # a citation in a markdown block: a link that opens the video at the second
QUESTION = "What number of GPUs does one gigawatt feed?"
CITATION = {"source": "talk", "title": "Infrastructure capstone", "at": "10:31", "seconds": 631.0, "url": URL,
            "quote": "A gigawatt of data center power runs about half a million GPUs."}
_TS = itertools.count(1)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- helpers ------------------------------------------------------------------------------------


class FakeAgent:
    """Stands in for `agent.answer.answer`: records (question, thread_id); can fail once or wait for a gate."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.scopes: list[str | None] = []
        self.fail: Exception | None = None
        self.gate: threading.Event | None = None
        self.text = "A gigawatt feeds about **half a million** GPUs [10:31]."

    def __call__(self, question: str, thread_id: str | None = None, settings: Settings | None = None,
                 **scope: Any) -> Answer:
        assert settings is not None and thread_id
        self.calls.append((question, thread_id))
        self.scopes.append(scope.get("source"))
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail is not None:
            exc, self.fail = self.fail, None
            raise exc
        return Answer(answer=self.text, citations=[dict(CITATION)], retrieved=[{"source": "talk", "start_s": 620.0}],
                      tool_calls=[], abstained=False, usage={"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
                      latency_s=0.01, backend="fake", thread_id=thread_id, question=question)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a Bolt app with uvicorn (as `kb slack` does) in a thread on a free 127.0.0.1 port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi_app(app), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def sign(body: str, ts: str, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()


def send(url: str, payload: dict[str, Any], *, form: bool = False, secret: str = SECRET, age_s: int = 0,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    """POST a payload to /slack/events signed like Slack does (JSON events; form-encoded interactions)."""
    body = urlencode({"payload": json.dumps(payload)}) if form else json.dumps(payload)
    ts = str(int(time.time()) - age_s)
    req = urllib.request.Request(f"{url}/slack/events", data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts, secret), **(headers or {})})
    try:
        with _NO_PROXY.open(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def event(text: str = f"<@{BOT_USER_ID}> {QUESTION}", *, type: str = "app_mention",
          channel: str = "C1", thread_ts: str | None = None, event_id: str | None = None, user: str | None = "U1",
          **extra: Any) -> dict[str, Any]:
    """An Events API envelope around one event with a fresh ts and event id."""
    n = next(_TS)
    ts = f"1800000000.{n:06d}"
    ev: dict[str, Any] = {"type": type, "text": text, "ts": ts, "channel": channel, "event_ts": ts, **extra}
    if user:
        ev["user"] = user
    if thread_ts:
        ev["thread_ts"] = thread_ts
    return {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id or f"Ev{n:08d}", "event_time": int(time.time()), "event": ev,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}]}


def answers(slack: FakeSlack, n: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The first `n` final answers: the placeholder edited with chat.update."""
    return slack.wait_for("chat.update", n, timeout=timeout)[:n]


def markdown(message: dict[str, Any]) -> str:
    """The text of a posted message's `markdown` blocks."""
    return "\n\n".join(b["text"] for b in message.get("blocks") or [] if b["type"] == "markdown")


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(key, raising=False)
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "kb-home")


def make_app(settings: Settings, slack: FakeSlack, agent: FakeAgent) -> Any:
    return build_app(settings, answer_fn=agent, client=WebClient(token=TOKEN, base_url=slack.base_url),
                     signing_secret=SECRET)


@pytest.fixture
def bot(settings: Settings, slack: FakeSlack, agent: FakeAgent) -> Iterator[str]:
    with serve(make_app(settings, slack, agent)) as url:
        yield url


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_url_verification_echoes_the_challenge(bot: str) -> None:
    status, body = send(bot, {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                              "type": "url_verification"})
    assert status == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in body


@pytest.mark.slow
def test_a_mention_gets_one_threaded_reply_with_a_citation_link(bot: str, slack: FakeSlack, agent: FakeAgent,
                                                                 settings: Settings) -> None:
    agent.gate = threading.Event()  # the agent is slow: the event must still be acknowledged at once
    payload = event()
    started = time.monotonic()
    status, _ = send(bot, payload)
    assert status == 200 and time.monotonic() - started < 3
    ts = payload["event"]["ts"]
    placeholder = slack.wait_for("chat.postMessage", 1)[0]
    assert placeholder["text"] == PLACEHOLDER and placeholder["thread_ts"] == ts
    assert slack.wait_for("reactions.add", 1)[0]["timestamp"] == ts
    agent.gate.set()

    final = answers(slack)[0]
    blocks = final["blocks"]
    assert blocks[0]["type"] == "markdown" and LINK in blocks[0]["text"] and "**half a million**" in blocks[0]["text"]
    # the fallback text (notifications) is the answer without the links' Markdown
    assert final["text"].startswith("A gigawatt feeds about **half a million** GPUs [10:31].") and "](" not in final["text"]
    assert len(slack.calls("chat.postMessage")) == 1  # one reply: the placeholder, edited into the answer
    assert agent.calls == [(QUESTION, f"slack-{TEAM_ID}-C1-{ts}")]
    reply = [m for m in slack.messages("C1") if m.get("thread_ts") == ts]
    assert len(reply) == 1 and reply[0]["text"] == final["text"] and reply[0]["ts"] == final["ts"]
    assert any(b["type"] == "markdown" and "**Sources**" in b["text"] and LINK in b["text"]
               and "Infrastructure capstone" in b["text"] for b in blocks)
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in buttons] == ["feedback_up", "feedback_down"]
    assert slack.wait_for("reactions.remove", 1)[0]["name"] == "hourglass_flowing_sand"
    logged = log.rows(settings)
    assert [(r["interface"], r["ref"], r["thread_id"]) for r in logged] == [
        ("slack", f"C1:{final['ts']}", f"slack-{TEAM_ID}-C1-{ts}")]


@pytest.mark.slow
def test_retries_and_redeliveries_are_not_answered_again(bot: str, slack: FakeSlack, agent: FakeAgent) -> None:
    first = event()
    assert send(bot, first)[0] == 200
    answers(slack)
    status, _ = send(bot, first, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200
    assert send(bot, first)[0] == 200  # the same event id again, without the retry header
    # a retry whose first delivery never got through (the bot was down) is answered, once
    lost = event("<@UBOT> a question whose first delivery was lost")
    assert send(bot, lost, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})[0] == 200
    assert send(bot, lost, headers={"X-Slack-Retry-Num": "3", "X-Slack-Retry-Reason": "http_error"})[0] == 200
    send(bot, event("<@UBOT> and the next question"))
    answers(slack, 3)
    assert [q for q, _ in agent.calls] == [QUESTION, "a question whose first delivery was lost",
                                           "and the next question"]
    assert len(slack.calls("chat.postMessage")) == 3


@pytest.mark.slow
def test_the_same_event_after_a_restart_is_not_answered_again(settings: Settings, slack: FakeSlack,
                                                                agent: FakeAgent) -> None:
    payload = event()
    with serve(make_app(settings, slack, agent)) as url:
        assert send(url, payload)[0] == 200
        answers(slack)
    with serve(make_app(settings, slack, agent)) as url:  # a new process would open the same KB_HOME
        assert send(url, payload)[0] == 200
        send(url, event("<@UBOT> a new question"))
        answers(slack, 2)
    assert [q for q, _ in agent.calls] == [QUESTION, "a new question"]
    assert len(slack.calls("chat.postMessage")) == 2


@pytest.mark.slow
def test_forged_and_stale_signatures_are_rejected(bot: str, slack: FakeSlack, agent: FakeAgent) -> None:
    assert send(bot, event(), secret="not-the-secret")[0] == 401
    assert send(bot, event(), age_s=10 * 60)[0] == 401  # correctly signed, but replayed ten minutes later
    assert send(bot, {"type": "url_verification", "challenge": "x"}, secret="nope")[0] == 401
    send(bot, event("<@UBOT> a genuine one"))
    answers(slack)
    assert [q for q, _ in agent.calls] == ["a genuine one"]
    assert len(slack.calls("chat.postMessage")) == 1


@pytest.mark.slow
def test_a_follow_up_in_the_thread_continues_the_conversation(bot: str, slack: FakeSlack, agent: FakeAgent) -> None:
    first = event()
    root = first["event"]["ts"]
    send(bot, first)
    answers(slack)
    send(bot, event("<@UBOT> and what does one cost?", thread_ts=root))
    answers(slack, 2)
    assert [t for _, t in agent.calls] == [f"slack-{TEAM_ID}-C1-{root}"] * 2
    assert [m["thread_ts"] for m in slack.calls("chat.postMessage")] == [root, root]
    send(bot, event("<@UBOT> a new thread"))
    answers(slack, 3)
    assert agent.calls[2][1] != agent.calls[0][1]


@pytest.mark.slow
def test_an_agent_failure_apologises_and_the_bot_keeps_serving(bot: str, slack: FakeSlack, agent: FakeAgent,
                                                               settings: Settings,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    agent.fail = RuntimeError("the model server at http://127.0.0.1:9 is not reachable")
    with caplog.at_level(logging.ERROR, logger="kb.slack"):
        send(bot, event())
        sorry = answers(slack)[0]
    assert sorry["text"] == "Sorry, I could not answer that: the model server at http://127.0.0.1:9 is not reachable"
    assert any(r.name == "kb.slack" and r.levelno == logging.ERROR and r.exc_info for r in caplog.records)
    send(bot, event("<@UBOT> try again"))
    assert LINK in markdown(answers(slack, 2)[1])
    assert len(log.rows(settings)) == 1  # only the answered question is logged


@pytest.mark.slow
def test_a_rate_limited_call_is_retried_after_slacks_retry_after(bot: str, slack: FakeSlack) -> None:
    slack.rate_limit_next("chat.update")
    send(bot, event())
    first, retry = answers(slack, 2)  # the call answered 429, then the same call again
    assert first == retry and LINK in markdown(retry)
    assert len(slack.calls("chat.postMessage")) == 1  # the placeholder only: the update went through


@pytest.mark.slow
def test_a_call_still_rate_limited_is_logged_and_the_bot_keeps_serving(bot: str, slack: FakeSlack,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    slack.rate_limit_next("chat.update", times=1 + RATE_LIMIT_RETRIES)
    with caplog.at_level(logging.ERROR, logger="kb.slack"):
        send(bot, event())
        placeholder, posted = slack.wait_for("chat.postMessage", 2, timeout=10)  # the answer is posted instead
    assert placeholder["text"] == PLACEHOLDER and LINK in markdown(posted)
    assert len(slack.calls("chat.update")) == 1 + RATE_LIMIT_RETRIES
    assert [r.getMessage() for r in caplog.records if r.name == "kb.slack" and r.levelno == logging.ERROR] == [
        f"Slack chat_update: still rate limited after {RATE_LIMIT_RETRIES} retries; this call is dropped"]
    send(bot, event("<@UBOT> and the next one"))
    assert LINK in markdown(answers(slack, 2 + RATE_LIMIT_RETRIES)[-1])


@pytest.mark.slow
def test_bots_and_other_messages_are_ignored_but_direct_messages_answered(bot: str, slack: FakeSlack,
                                                                          agent: FakeAgent) -> None:
    send(bot, event("Looking through the transcripts…", type="message", channel="D1", channel_type="im",
                    user=BOT_USER_ID, bot_id=BOT_ID))  # our own placeholder, echoed back
    send(bot, event("beep", type="message", channel="D1", channel_type="im", user=None, bot_id="B999",
                    subtype="bot_message"))
    send(bot, event("<@UBOT> hello from a bot", user="U9", bot_id="B999"))
    send(bot, event("a channel message without a mention", type="message", channel="C1", channel_type="channel"))
    send(bot, event("edited", type="message", channel="D1", channel_type="im", subtype="message_changed"))
    dm = event(QUESTION, type="message", channel="D1", channel_type="im")
    send(bot, dm)
    final = answers(slack)[0]
    assert agent.calls == [(QUESTION, f"slack-{TEAM_ID}-D1-{dm['event']['ts']}")]
    assert [m["thread_ts"] for m in slack.calls("chat.postMessage")] == [dm["event"]["ts"]]
    assert LINK in markdown(final)


@pytest.mark.slow
def test_a_bare_mention_gets_a_hint_not_an_agent_call(bot: str, slack: FakeSlack, agent: FakeAgent) -> None:
    payload = event(f"<@{BOT_USER_ID}>  ")
    send(bot, payload)
    hint = slack.wait_for("chat.postMessage", 1)[0]
    assert "Ask me a question" in hint["text"] and hint["thread_ts"] == payload["event"]["ts"]
    assert agent.calls == []


@pytest.mark.slow
def test_the_feedback_buttons_record_feedback_in_the_log(bot: str, slack: FakeSlack, settings: Settings) -> None:
    payload = event()
    send(bot, payload)
    final = answers(slack)[0]
    ref = f"C1:{final['ts']}"
    button = next(e for b in final["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "feedback_down")
    action = {"type": "block_actions", "user": {"id": "U1"}, "api_app_id": "A1", "team": {"id": TEAM_ID},
              "trigger_id": "1.2.3", "channel": {"id": "C1"},
              "container": {"type": "message", "message_ts": final["ts"], "channel_id": "C1", "is_ephemeral": False},
              "message": {"ts": final["ts"], "thread_ts": payload["event"]["ts"], "text": final["text"]},
              "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "kb_feedback",
                           "value": button["value"], "action_ts": str(time.time())}]}
    assert send(bot, action, form=True)[0] == 200
    thanks = slack.wait_for("chat.postEphemeral", 1)[0]
    assert thanks["user"] == "U1" and "👎" in thanks["text"]
    assert [(r["ref"], r["feedback"]) for r in log.rows(settings)] == [(ref, "down")]
    assert send(bot, action, form=True, secret="forged")[0] == 401


def test_long_answers_are_split_within_slack_limits() -> None:
    sentence = "Power, not chips, is the **bottleneck** for new data centers [10:31]. "
    result = Answer(answer=(sentence * 12 + "\n\n") * 120, citations=[dict(CITATION)], retrieved=[], tool_calls=[],
                    abstained=False, usage={}, latency_s=0.0, backend="fake", thread_id="t", question="q")
    messages = render_answer(result, ref="C1:1.000001")
    assert len(messages) >= 3
    for msg in messages:
        assert len(msg.text) <= MESSAGE_TEXT_LIMIT and 0 < len(msg.blocks) <= MAX_BLOCKS
        md = [b["text"] for b in msg.blocks if b["type"] == "markdown"]
        assert sum(map(len, md)) <= MARKDOWN_LIMIT  # Slack's limit is for all markdown blocks of a message
        assert all(t.count("](") == t.count(LINK) for t in md)  # no link cut in half
    links = sum(b["text"].count(LINK) for m in messages for b in m.blocks if b["type"] == "markdown")
    assert links == 12 * 120 + 1  # every marker became a link (+1 in Sources), none was cut
    assert [any(b["type"] == "actions" for b in m.blocks) for m in messages] == [False] * (len(messages) - 1) + [True]


def test_answers_stay_markdown_with_citations_as_links() -> None:
    notes = {"source": "podcast-notes", "title": "Notes", "at": "¶3", "seconds": None, "url": None, "quote": "q"}
    two = dict(CITATION, at="12:02", seconds=722.0, url=URL.replace("631", "722"))
    text = answer_markdown("# Summary\n**Power** is *scarce* [10:31, 12:02]; see [podcast-notes ¶3] & <this>.\n- one",
                           [CITATION, two, notes])
    assert text == (f"# Summary\n**Power** is *scarce* {LINK} [\\[12:02\\]]({two['url']}); see \\[podcast-notes ¶3\\]"
                    " & \\<this>.\n- one")


@pytest.mark.slow
def test_missing_credentials_give_a_clear_error_and_exit_status_2(settings: Settings, slack: FakeSlack,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(settings) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    assert main(settings) == 2
    err = capsys.readouterr().err
    assert "SLACK_SIGNING_SECRET" in err and "Traceback" not in err
    assert main(settings, socket=True) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", slack.base_url)
    slack.fail_next("auth.test", "invalid_auth")
    assert main(settings) == 2
    assert "invalid_auth" in capsys.readouterr().err


TALK = """# Infrastructure capstone
https://www.youtube.com/watch?v=4k53z3Ysjg0
[10:20] Welcome back to the capstone on data center infrastructure.
[10:31] A gigawatt of data center power runs about half a million GPUs.
[10:45] Power, not chips, is now the bottleneck for new data centers.
[11:02] Cooling takes a large share of the energy budget as well.
"""


@pytest.mark.slow
def test_kb_slack_as_documented_answers_with_the_real_agent(tmp_path: Path, slack: FakeSlack) -> None:
    """`kb slack` in a subprocess, configured by environment variables as docs/slack.md says."""
    from ingest.pipeline import ingest

    doc = tmp_path / "talk.txt"
    doc.write_text(TALK)
    home = tmp_path / "home"
    assert ingest([doc], settings=Settings(home=home, embedding_model="hashing"), progress=False).files_failed == 0
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(KB_HOME=str(home), KB_EMBEDDING_MODEL="hashing", KB_BACKEND="offline", SLACK_BOT_TOKEN=TOKEN,
               SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.base_url)
    kb = shutil.which("kb", path=str(Path(sys.executable).parent)) or shutil.which("kb")
    assert kb, "the kb command is not installed (pip install -e .)"
    proc = subprocess.Popen([kb, "slack", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if _NO_PROXY.open(f"{url}/healthz", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            assert proc.poll() is None, f"kb slack exited {proc.returncode}"
            assert time.monotonic() < deadline, "kb slack did not start listening"
            time.sleep(0.1)
        payload = event("<@UBOT> How many GPUs does a gigawatt of data center power run?")
        assert send(url, payload)[0] == 200
        final = answers(slack, timeout=30)[0]
        assert LINK in markdown(final) and len(slack.calls("chat.postMessage")) == 1
        logged = log.rows(Settings(home=home))
        assert [(r["interface"], r["backend"], r["ref"]) for r in logged] == [("slack", "offline", f"C1:{final['ts']}")]
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Traceback" not in out, out


def test_no_text_becomes_a_mention_or_a_slack_link() -> None:
    out = answer_markdown("[here](https://a.b/>hi<!everyone>) and <!channel> <@U123> <https://x.y|z>")
    assert out == "[here](https://a.b/%3Ehi%3C!everyone%3E) and \\<!channel> \\<@U123> \\<https://x.y|z>"


@pytest.mark.slow
def test_a_message_naming_a_source_is_answered_from_it(bot: str, slack: FakeSlack, agent: FakeAgent) -> None:
    send(bot, event(f"<@{BOT_USER_ID}> source:capstone-talk {QUESTION.lower()}"))
    answers(slack)
    send(bot, event(f"<@{BOT_USER_ID}> {QUESTION}"))
    answers(slack, 2)
    assert [q for q, _ in agent.calls] == [QUESTION.lower(), QUESTION]
    assert agent.scopes == ["capstone-talk", None]


def test_split_source() -> None:
    from interfaces.slack_bot import split_source

    assert split_source("source:talk-1 what is said?") == ("what is said?", "talk-1")
    assert split_source("what is said, source: notes_2.md") == ("what is said", "notes_2.md")
    assert split_source("opensource:x y") == ("opensource:x y", None)
    assert split_source("no scope here") == ("no scope here", None)


def test_the_answer_pool_is_sized_by_the_setting(tmp_path: Path) -> None:
    from interfaces.slack_bot import EventLedger, SlackBot

    bot = SlackBot(Settings(home=tmp_path, slack_workers=12), lambda *a, **k: None, EventLedger(tmp_path / "s.sqlite"))
    assert bot.pool._max_workers == 12 and Settings().slack_workers >= 8
