"""The fakes, checked with the real clients: `openai.OpenAI` and `slack_sdk.WebClient`."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import openai
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.openai_server import (
    FakeOpenAI,
    Reply,
    error,
    reply,
    tool_call,
    tool_calls,
)
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.slow  # every test starts a fake server

MESSAGES: list[Any] = [{"role": "user", "content": "How much compute?"}]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search transcripts.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


def client_for(server: FakeOpenAI, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=max_retries, timeout=5)


# -- FakeOpenAI ----------------------------------------------------------------------------


def test_tool_call_then_answer() -> None:
    script = [tool_call("search", {"query": "compute"}, id="call_1"), reply("About 10x [00:31].")]
    with FakeOpenAI(script) as server:
        client = client_for(server)
        first = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS)
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        call = choice.message.tool_calls[0]
        assert (call.id, call.type, call.function.name) == ("call_1", "function", "search")
        assert json.loads(call.function.arguments) == {"query": "compute"}
        assert first.object == "chat.completion" and first.model == "gpt-4o-mini"
        assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens

        history = [
            *MESSAGES,
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "call_1", "content": "passage"},
        ]
        second = client.chat.completions.create(model="gpt-4o-mini", messages=history, tools=TOOLS)
        assert second.choices[0].finish_reason == "stop"
        assert second.choices[0].message.content == "About 10x [00:31]."

        assert server.calls == 2
        assert server.requests[0]["tools"][0]["function"]["name"] == "search"
        assert server.requests[1]["messages"][-1] == {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": "passage",
        }


def test_parallel_tool_calls_and_malformed_arguments_pass_through() -> None:
    script = [tool_calls(("search", {"query": "a"}), ("search", '{"query": "b"'))]
    with FakeOpenAI(script) as server:
        result = client_for(server).chat.completions.create(model="m", messages=MESSAGES)
    calls = result.choices[0].message.tool_calls
    assert [c.function.arguments for c in calls] == ['{"query": "a"}', '{"query": "b"']
    assert calls[0].id != calls[1].id
    with pytest.raises(json.JSONDecodeError):
        json.loads(calls[1].function.arguments)


def test_streamed_text_arrives_in_several_deltas() -> None:
    text = "Compute grew about ten times between 2020 and 2024 [12:05]."
    with FakeOpenAI([reply(text)]) as server:
        stream = client_for(server).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 3
    assert "".join(deltas) == text
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_streamed_tool_call_arguments_reassemble() -> None:
    args = {"query": "datacenter power", "k": 5}
    script = [tool_calls(("search", args, "call_a"), ("search", "{not json", "call_b"))]
    with FakeOpenAI(script) as server:
        stream = client_for(server).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS, stream=True
        )
        calls: dict[int, dict[str, str]] = {}
        pieces = 0
        finish = None
        for chunk in stream:
            assert chunk.usage is None  # no usage chunk unless asked for
            choice = chunk.choices[0]
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                slot = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                if delta.id:
                    assert delta.type == "function" and delta.function.name == "search"
                    slot["id"], slot["name"] = delta.id, delta.function.name
                slot["arguments"] += delta.function.arguments or ""
                pieces += 1
        assert server.requests[0]["stream"] is True
    assert finish == "tool_calls"
    assert pieces > 4
    assert calls[0]["id"] == "call_a" and json.loads(calls[0]["arguments"]) == args
    assert calls[1] == {"id": "call_b", "name": "search", "arguments": "{not json"}


def test_rate_limit_then_success_is_retried() -> None:
    script = [error(429), reply("ok")]
    with FakeOpenAI(script) as server:
        start = time.monotonic()
        result = client_for(server, max_retries=2).chat.completions.create(model="m", messages=MESSAGES)
        assert time.monotonic() - start < 1.0  # retry-after-ms: 1, not the 0.5 s default backoff
        assert result.choices[0].message.content == "ok"
        assert server.calls == 2


def test_rate_limit_without_retries_raises() -> None:
    with FakeOpenAI([error(429)]) as server, pytest.raises(openai.RateLimitError) as info:
        client_for(server).chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 429
    assert info.value.code == "rate_limit_exceeded"


def test_server_error_that_never_recovers_raises_after_retries() -> None:
    with FakeOpenAI([error(500)] * 3) as server:
        with pytest.raises(openai.InternalServerError):
            client_for(server, max_retries=2).chat.completions.create(model="m", messages=MESSAGES)
        assert server.calls == 3


def test_exhausted_script_fails_fast_with_a_clear_message() -> None:
    with FakeOpenAI([reply("one")]) as server:
        client = client_for(server, max_retries=3)
        client.chat.completions.create(model="m", messages=MESSAGES)
        with pytest.raises(openai.InternalServerError, match="script exhausted"):
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert server.calls == 2  # x-should-retry: false, so no retries


def test_callable_script_can_loop_forever() -> None:
    def always_search(request: dict[str, Any], index: int) -> Reply:
        return tool_call("search", {"query": f"try {index}"})

    with FakeOpenAI(always_search) as server:
        client = client_for(server)
        for i in range(5):
            result = client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS)
            assert json.loads(result.choices[0].message.tool_calls[0].function.arguments) == {"query": f"try {i}"}
        assert server.calls == 5


def test_models_and_concurrent_requests() -> None:
    with FakeOpenAI(lambda body, i: reply(body["messages"][0]["content"])) as server:
        client = client_for(server)
        assert "gpt-4o-mini" in [m.id for m in client.models.list()]
        answers: list[str] = []

        def ask(n: int) -> None:
            messages: list[Any] = [{"role": "user", "content": f"q{n}"}]
            result = client.chat.completions.create(model="m", messages=messages)
            answers.append(result.choices[0].message.content or "")

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) == sorted(f"q{n}" for n in range(8))
        assert server.calls == 8


# -- FakeSlack -----------------------------------------------------------------------------


def test_slack_auth_post_update_and_reactions() -> None:
    with FakeSlack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        auth = client.auth_test()
        assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", "T1")

        first = client.chat_postMessage(channel="C1", text="thinking…", thread_ts="1.5")
        second = client.chat_postMessage(channel="C1", text="more", blocks=[{"type": "divider"}])
        assert float(second["ts"]) > float(first["ts"])
        client.chat_update(channel="C1", ts=first["ts"], text="The answer [00:10]")
        client.reactions_add(channel="C1", name="eyes", timestamp="1.5")
        client.reactions_remove(channel="C1", name="eyes", timestamp="1.5")
        client.chat_postEphemeral(channel="C1", user="U1", text="only you")
        client.api_call("users.info", params={"user": "U1"})

        posted = slack.calls("chat.postMessage")
        assert posted[0] == {"channel": "C1", "text": "thinking…", "thread_ts": "1.5"}
        assert posted[1]["blocks"] == [{"type": "divider"}]
        assert slack.calls("chat.update")[0]["text"] == "The answer [00:10]"
        # reactions.* go form-encoded: values stay strings
        assert slack.calls("reactions.add") == [{"channel": "C1", "name": "eyes", "timestamp": "1.5"}]
        assert len(slack.calls("reactions.remove")) == 1
        assert slack.calls("chat.postEphemeral")[0]["user"] == "U1"
        assert slack.calls("users.info") == [{"user": "U1"}]
        assert slack.methods()[0] == "auth.test"


def test_slack_conversations_replies_returns_the_thread() -> None:
    with FakeSlack() as slack:
        root = slack.add_message("C1", "<@UBOT> how much compute?", user="U1")
        slack.add_message("C2", "other channel", thread_ts=root)
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        reply_ts = client.chat_postMessage(channel="C1", text="answer", thread_ts=root)["ts"]
        client.chat_postMessage(channel="C1", text="not in the thread")

        thread = client.conversations_replies(channel="C1", ts=root)["messages"]
        assert [m["text"] for m in thread] == ["<@UBOT> how much compute?", "answer"]
        assert thread[1]["ts"] == reply_ts and thread[1]["bot_id"] == "BBOT"
        assert slack.calls("conversations.replies") == [{"channel": "C1", "ts": root}]


def test_slack_wait_for_background_calls_and_errors() -> None:
    with FakeSlack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)

        def bot() -> None:
            time.sleep(0.05)
            for n in range(3):
                client.chat_postMessage(channel="C1", text=f"part {n}")

        threading.Thread(target=bot, daemon=True).start()
        calls = slack.wait_for("chat.postMessage", 3, timeout=5.0)
        assert [c["text"] for c in calls] == ["part 0", "part 1", "part 2"]
        with pytest.raises(AssertionError, match="got 0"):
            slack.wait_for("chat.update", 1, timeout=0.05)

        slack.fail_next("chat.update", "message_not_found")
        with pytest.raises(SlackApiError) as info:
            client.chat_update(channel="C1", ts="1.0", text="x")
        assert info.value.response["error"] == "message_not_found"


def test_lookup_model_reads_every_result_block_of_a_merged_user_message() -> None:
    from agent.backends.openai_chat import without_tool_messages
    from tests.fakes.openai_server import lookup_model

    def result(line: str) -> str:
        return json.dumps({"note": "quoted data", "passages": [{"sentences": [line]}]})

    messages = [{"role": "user", "content": "How tall is the north tower?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "a"}, {"id": "b"}]},
                {"role": "tool", "tool_call_id": "a", "content": result("[00:04] The bridge spans a river.")},
                {"role": "tool", "tool_call_id": "b", "content": result("[00:09] The north tower is tall, at 90 metres.")}]
    step = lookup_model("no_tools")({"messages": without_tool_messages(messages)}, 0)
    assert isinstance(step, Reply) and step.text == "The north tower is tall, at 90 metres [00:09]."
