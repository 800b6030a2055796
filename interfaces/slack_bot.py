"""The Slack bot: answers @mentions in channels and direct messages, in the thread, citing timestamps.

Built on `slack_bolt`. `kb slack --port 3000` serves the Events API (and the 👍/👎 buttons) at
`/slack/events` through uvicorn; `kb slack --socket` uses Socket Mode instead. Each Slack thread is
one agent conversation (`thread_id = slack-{team}-{channel}-{thread_ts}`), so a follow-up in the
thread sees the earlier questions.

Slack wants an answer to every event within 3 seconds and retries otherwise, so the bot acknowledges
at once and answers on a worker thread (Bolt's listener executor), marking the question with an
hourglass reaction and a placeholder message that becomes the answer. Retries (`X-Slack-Retry-Num`)
are dropped and event ids are remembered in SQLite under KB_HOME (`slack.sqlite`), so no event is
answered twice, even across restarts. Bad or stale signatures are rejected by Bolt with 401.
A message that names a document as `source:ID` is answered from that document only. Answers run on
a pool of `KB_SLACK_WORKERS` threads (default 8): questions from different threads are answered at
the same time.
"""

from __future__ import annotations

import html
import logging
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, DividerBlock, MarkdownBlock, PlainTextObject

from agent.citations import marker_links
from agent.prompts import APOLOGY
from kb.exit_codes import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from kb.settings import Settings, reveal

logger = logging.getLogger("kb.slack")

DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
PLACEHOLDER = "Looking through the transcripts…"
WORKING_REACTION = "hourglass_flowing_sand"
EMPTY_QUESTION = "Ask me a question about the lectures and podcasts, e.g. _what did the speaker say about costs?_"
FEEDBACK_THANKS = {"up": "Thanks, noted 👍", "down": "Thanks, noted 👎 — this helps us fix bad answers."}
FEEDBACK_ACTIONS = {"feedback_up": "up", "feedback_down": "down"}

# Slack's limits: the text of all `markdown` blocks of one message together, blocks per message,
# a message's `text`.
MARKDOWN_LIMIT = 12_000
MAX_BLOCKS = 50
MESSAGE_TEXT_LIMIT = 40_000
# What one message of ours carries at most (headroom under the limits above).
_MESSAGE_BLOCKS = 40
_MESSAGE_MARKDOWN = 11_000
# A call answered 429 is retried this many times, after the Retry-After Slack sends.
RATE_LIMIT_RETRIES = 2
_EVENT_MEMORY_S = 7 * 24 * 3600

AnswerFn = Callable[..., Any]


class SlackConfigError(ValueError):
    """A missing or unusable Slack setting; the message says which variable to set."""


@dataclass(frozen=True)
class SlackConfig:
    """Slack credentials and endpoint, from the settings' `slack` section (`SLACK_*` variables)."""

    bot_token: str
    signing_secret: str
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, socket: bool = False) -> SlackConfig:
        """From the environment (or `env`), as `kb slack` reads them when it starts."""
        return cls.from_settings(Settings.from_env(env), socket=socket)

    @classmethod
    def from_settings(cls, settings: Settings, socket: bool = False) -> SlackConfig:
        """SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode), SLACK_APP_TOKEN (Socket Mode), SLACK_API_URL."""
        token = reveal(settings.slack.bot_token) or ""
        secret = reveal(settings.slack.signing_secret) or ""
        app_token = reveal(settings.slack.app_token)
        missing = []
        if not token:
            missing.append("SLACK_BOT_TOKEN (the app's Bot User OAuth Token, xoxb-…)")
        if not secret and not socket:
            missing.append("SLACK_SIGNING_SECRET (Basic Information > App Credentials)")
        if socket and not app_token:
            missing.append("SLACK_APP_TOKEN (an app-level token, xapp-…, with connections:write) for --socket")
        if missing:
            raise SlackConfigError("set " + " and ".join(missing) + "; see docs/slack.md")
        return cls(token, secret, app_token, api_url(settings))


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A Web API client that waits out rate limits: a 429 is retried after its Retry-After
    (`RATE_LIMIT_RETRIES` times), besides slack_sdk's default retry of connection errors."""
    return _retry_rate_limits(WebClient(token=token, base_url=base_url or api_url()))


def _retry_rate_limits(client: WebClient) -> WebClient:
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers = [*(client.retry_handlers or default_retry_handlers()),
                                 RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]
    return client


def api_url(settings: Settings | None = None) -> str:
    """The Web API base URL: SLACK_API_URL or Slack's, always ending in `/` (slack_sdk joins method names)."""
    return (settings or Settings.from_env()).slack.api_url


# -- remembering events ----------------------------------------------------------------------


class EventLedger:
    """Event ids already handled, in SQLite, so a redelivered event is recognised even after a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS slack_events (event_id TEXT PRIMARY KEY, received_at REAL NOT NULL)")
            conn.execute("DELETE FROM slack_events WHERE received_at < ?", (time.time() - _EVENT_MEMORY_S,))

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), timeout=10)

    def first_time(self, key: str) -> bool:
        """Record `key`; True if it was not seen before."""
        with self._lock, closing(self._connect()) as conn, conn:
            cur = conn.execute("INSERT OR IGNORE INTO slack_events (event_id, received_at) VALUES (?, ?)",
                               (key, time.time()))
            return cur.rowcount == 1


# -- text: Slack in ----------------------------------------------------------------------------


def clean_question(text: str, bot_user_id: str | None = None) -> str:
    """A message's text as a question: the bot's mention removed, Slack links and escapes undone."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"<[@#!]([^|>]+)\|([^>]+)>", r"@\2", text)
    text = re.sub(r"<([@#])([^>]+)>", r"\1\2", text)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip().lstrip(":,").strip()


_SOURCE = re.compile(r"(?<!\S)source:\s*([\w.-]+)", re.IGNORECASE)


def split_source(question: str) -> tuple[str, str | None]:
    """(the question without its scope, the document id) for "source:ID how many …"; (question, None)
    when the message names no document."""
    m = _SOURCE.search(question)
    if not m:
        return question, None
    rest = (question[: m.start()] + " " + question[m.end() :]).strip()
    return re.sub(r"\s+", " ", rest).strip(" ,:"), m.group(1)


def _escape(text: str) -> str:
    """Text for a message's plain `text` field, which Slack reads as mrkdwn: `&`, `<`, `>` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- Markdown out: Slack's `markdown` block ----------------------------------------------------
# Answers are standard Markdown, which the `markdown` block renders as it is: no conversion to
# mrkdwn. What is done here is only what Slack cannot know: a citation marker becomes a link to
# its second, and text cannot become a Slack mention or link (`<!everyone>`, `<@U123>`).

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!<>|~])")
_MODEL_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")  # a link the model wrote
_ANY_LINK = re.compile(r"\[((?:\\.|[^\]\\\n])*)\]\([^)\s]*\)")
_MD_UNESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+!<>|~.-])")
_STASHED = re.compile(r"\x00(\d+)\x00")


def _md_escape(text: str) -> str:
    """Text from a transcript (a title, a quote) shown as itself in Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_link(url: str, label: str) -> str:
    """`[label](url)` with a URL that stays one link destination (no space, parenthesis or `<>`)."""
    for ch, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(ch, code)
    return f"[{label}]({url})"


def _cite_links(body: str, citations: list[dict[str, Any]]) -> str:
    r"""`10:31` -> `[\[10:31\]](url)`; `10:31, 12:02` -> two links; an item without a URL stays text."""
    return " ".join(_md_link(url, _md_escape(f"[{item}]")) if url else _md_escape(f"[{item}]")
                    for item, url in marker_links(body, citations))


def answer_markdown(text: str, citations: list[dict[str, Any]] | None = None) -> str:
    """The model's Markdown for a `markdown` block: each citation marker (`[10:31]`, `[doc ¶3]`)
    a link that opens the video at that second, links the model wrote kept with a safe URL, and
    every `<` escaped, so nothing becomes a Slack mention or link."""
    from agent.citations import CITE

    citations = list(citations or [])
    links: list[str] = []

    def stash(s: str) -> str:
        links.append(s)
        return f"\x00{len(links) - 1}\x00"

    text = text.replace("\x00", "")
    text = _MODEL_LINK.sub(lambda m: stash(_md_link(m.group(2), m.group(1).replace("<", "\\<"))), text)
    text = CITE.sub(lambda m: stash(_cite_links(m.group(1), citations)), text)
    text = text.replace("<", "\\<")
    return _STASHED.sub(lambda m: links[int(m.group(1))], text)


def plain_text(markdown: str) -> str:
    """A message's fallback `text` (notifications, clients without blocks): links as their labels,
    Markdown escapes undone, then escaped for the mrkdwn `text` field."""
    return _escape(_MD_UNESCAPE.sub(r"\1", _ANY_LINK.sub(r"\1", markdown)))


def split_markdown(text: str, limit: int = _MESSAGE_MARKDOWN) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, line, sentence or word: the
    project's text splitter (`langchain_text_splitters`, as evals/naive.py uses)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=limit, chunk_overlap=0, keep_separator="end",
                                              separators=["\n\n", "\n", ". ", " ", ""])
    return splitter.split_text(text.strip())


def sources_markdown(citations: list[dict[str, Any]]) -> str:
    """The "Sources" list under an answer: one line per citation with its title and link."""
    lines, seen = ["**Sources**"], set()
    for c in citations:
        key = (c.get("source"), c.get("at"))
        if key in seen:
            continue
        seen.add(key)
        at = c.get("at") or ""
        label = _md_escape(f"[{at}]" if c.get("seconds") is not None or not c.get("source") else f"[{c['source']} {at}]")
        link = _md_link(c["url"], label) if c.get("url") else label
        title = _md_escape(str(c.get("title") or c.get("source") or ""))
        quote = " ".join(str(c.get("quote") or "").split())
        if len(quote) > 120:
            quote = quote[:117].rstrip() + "…"
        lines.append(f"- {link} {title}" + (f" — _“{_md_escape(quote)}”_" if quote else ""))
    return "\n".join(lines)


def feedback_block(ref: str) -> dict[str, Any]:
    """👍/👎 buttons; their value is the log reference of the answer."""
    return ActionsBlock(block_id="kb_feedback", elements=[
        ButtonElement(text=PlainTextObject(text="👍", emoji=True), action_id="feedback_up", value=ref),
        ButtonElement(text=PlainTextObject(text="👎", emoji=True), action_id="feedback_down", value=ref),
    ]).to_dict()


@dataclass
class SlackMessage:
    """One chat.postMessage / chat.update payload: fallback text and Block Kit blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def _markdown_blocks(markdown: str) -> list[dict[str, Any]]:
    return [MarkdownBlock(text=piece).to_dict() for piece in split_markdown(markdown)]


def markdown_messages(markdown: str) -> list[SlackMessage]:
    """Standard Markdown as Slack messages of `markdown` blocks, within Slack's limits."""
    return _pack(_markdown_blocks(markdown) or [MarkdownBlock(text="…").to_dict()])


def render_answer(result: Any, ref: str | None = None) -> list[SlackMessage]:
    """An `Answer` as Slack messages within Slack's limits: the answer, then Sources, then 👍/👎 (when `ref`)."""
    citations = list(getattr(result, "citations", None) or [])
    blocks = _markdown_blocks(answer_markdown(result.answer, citations)) or [MarkdownBlock(text="…").to_dict()]
    if citations:
        blocks.append(DividerBlock().to_dict())
        blocks += _markdown_blocks(sources_markdown(citations))
    if ref:
        blocks.append(feedback_block(ref))
    return _pack(blocks)


def _pack(blocks: list[dict[str, Any]]) -> list[SlackMessage]:
    """Blocks into messages: at most `_MESSAGE_BLOCKS` blocks and `_MESSAGE_MARKDOWN` characters of
    markdown blocks each (Slack's limit counts all the markdown blocks of a message together)."""
    messages: list[SlackMessage] = []
    current: list[dict[str, Any]] = []
    size = 0
    for block in blocks:
        n = len(block.get("text", "")) if block["type"] == "markdown" else 0
        if current and (len(current) >= _MESSAGE_BLOCKS or size + n > _MESSAGE_MARKDOWN):
            messages.append(_message(current))
            current, size = [], 0
        current.append(block)
        size += n
    messages.append(_message(current))
    return messages


def _message(blocks: list[dict[str, Any]]) -> SlackMessage:
    text = "\n\n".join(plain_text(b["text"]) for b in blocks if b["type"] == "markdown")
    return SlackMessage(text=text[:MESSAGE_TEXT_LIMIT], blocks=blocks)


def apology(exc: BaseException) -> str:
    """The short message a thread gets when the agent fails."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if len(reason) > 300:
        reason = reason[:297] + "…"
    return APOLOGY.format(reason=reason)


# -- the app ----------------------------------------------------------------------------------


def _default_answer(question: str, thread_id: str | None = None, settings: Settings | None = None,
                    source: str | None = None) -> Any:
    from agent.answer import answer

    return answer(question, thread_id=thread_id, settings=settings, source=source)


def thread_id_for(team: str, channel: str, thread_ts: str) -> str:
    """The agent conversation of a Slack thread."""
    return f"slack-{team}-{channel}-{thread_ts}"


def brief_slack_markdown(brief: dict[str, Any]) -> str:
    """An episode's brief for Slack: the TL;DR, the key moments, the chapters and a link, times as links."""
    def at(item: dict[str, Any]) -> str:
        return _md_link(item["url"], _md_escape(item["at"])) if item.get("url") else _md_escape(f"[{item['at']}]")

    lines = [f"**{_md_escape(brief['title'])}**", "",
             f"**TL;DR** {answer_markdown(brief['tldr']['text'], brief['tldr']['citations'])}", "", "**Key moments**"]
    lines += [f"{n}. {at(m)} {_md_escape(m['text'])}" for n, m in enumerate(brief["moments"], 1)]
    lines += ["", "**Chapters**"] + [f"- {at(c)} {_md_escape(c['title'])}" for c in brief["chapters"]]
    if brief.get("url"):
        lines += ["", _md_link(brief["url"], "Watch the episode")]
    return "\n".join(lines)


def post_brief(bot: SlackBot, client: WebClient, channel: str, thread_ts: str, episode: str) -> None:
    """Answer "@kb brief <episode>" in the thread (an apology naming close matches if unknown)."""
    from agent.brief.build import get_brief

    try:
        messages = markdown_messages(brief_slack_markdown(get_brief(episode, bot.settings)))
    except Exception as exc:  # an unknown episode, an empty index: one line in the thread
        messages = [SlackMessage(_escape(apology(exc)))]
    for msg in messages:
        bot._call(client.chat_postMessage, channel=channel, thread_ts=thread_ts, text=msg.text,
                  **_blocks(msg), unfurl_links=False, unfurl_media=False)


def _blocks(msg: SlackMessage) -> dict[str, Any]:
    return {"blocks": msg.blocks} if msg.blocks else {}


class SlackBot:
    """What the Bolt listeners do: turn an event into an answer in its thread, and record feedback."""

    def __init__(self, settings: Settings, answer_fn: AnswerFn, ledger: EventLedger) -> None:
        self.settings = settings
        self.answer_fn = answer_fn
        self.ledger = ledger
        # answers run here, not on Bolt's listener threads, so button clicks are acknowledged at once
        # sized for remote models, which spend most of an answer waiting (KB_SLACK_WORKERS)
        self.pool = ThreadPoolExecutor(max_workers=settings.slack.workers, thread_name_prefix="kb-slack-answer")

    # events ------------------------------------------------------------------------------

    def on_event(self, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: Any) -> None:
        if event.get("bot_id") or event.get("subtype") or event.get("user") in (None, context.bot_user_id):
            return  # bots (ourselves included), edits, joins, deletions
        if event.get("type") == "message" and event.get("channel_type") != "im":
            return  # in channels the bot answers mentions (app_mention), not every message
        channel, ts = event.get("channel"), event.get("ts")
        if not channel or not ts:
            return
        team = body.get("team_id") or event.get("team") or context.team_id or "T"
        if not self.ledger.first_time(f"msg:{team}:{channel}:{ts}"):
            return  # the same message delivered as another event type
        thread_ts = event.get("thread_ts") or ts
        self.answer(client, team, channel, ts, thread_ts, clean_question(event.get("text") or "", context.bot_user_id))

    def answer(self, client: WebClient, team: str, channel: str, ts: str, thread_ts: str, question: str) -> None:
        """Mark the question as being worked on (reaction, placeholder), then answer it on the answer pool."""
        if not question:
            self._call(client.chat_postMessage, channel=channel, thread_ts=thread_ts, text=EMPTY_QUESTION)
            return
        if re.match(r"(?i)brief\s+\S", question):  # "@kb brief <episode>"
            self.pool.submit(post_brief, self, client, channel, thread_ts, question.split(None, 1)[1].strip())
            return
        self._call(client.reactions_add, channel=channel, timestamp=ts, name=WORKING_REACTION)
        placeholder = self._call(client.chat_postMessage, channel=channel, thread_ts=thread_ts, text=PLACEHOLDER)
        placeholder_ts = placeholder.get("ts") if placeholder else None
        self.pool.submit(self._answer, client, channel, ts, thread_ts, placeholder_ts, question,
                         thread_id_for(team, channel, thread_ts))

    def _answer(self, client: WebClient, channel: str, ts: str, thread_ts: str, placeholder_ts: str | None,
                question: str, thread_id: str) -> None:
        """Run the agent; the placeholder becomes the answer, or an apology when the agent fails."""
        try:
            question, source = split_source(question)
            scope = {"source": source} if source else {}
            try:
                result = self.answer_fn(question, thread_id=thread_id, settings=self.settings, **scope)
            except Exception as exc:
                logger.exception("could not answer %r in thread %s", question, thread_id)
                self._deliver(client, channel, thread_ts, placeholder_ts, [SlackMessage(_escape(apology(exc)))])
                return
            self._deliver_answer(client, channel, thread_ts, placeholder_ts, result)
        except Exception:
            logger.exception("could not deliver the answer in thread %s", thread_id)
        finally:
            self._call(client.reactions_remove, channel=channel, timestamp=ts, name=WORKING_REACTION)

    def _deliver_answer(self, client: WebClient, channel: str, thread_ts: str, anchor: str | None, result: Any) -> None:
        if anchor is None:  # no placeholder: post the first part now, to know the answer's ts
            first = render_answer(result)[0]
            posted = self._call(client.chat_postMessage, channel=channel, thread_ts=thread_ts, text=first.text,
                                blocks=first.blocks, unfurl_links=False, unfurl_media=False)
            anchor = posted.get("ts") if posted else None
            if anchor is None:
                return
        ref = f"{channel}:{anchor}"
        try:
            from interfaces.log import record

            record(self.settings, "slack", result, ref=ref)  # before the buttons exist, so a click finds the row
        except Exception:
            logger.exception("could not log the answer %s", ref)
        self._deliver(client, channel, thread_ts, anchor, render_answer(result, ref=ref))

    def _deliver(self, client: WebClient, channel: str, thread_ts: str, anchor: str | None,
                 messages: list[SlackMessage]) -> None:
        """The first message replaces the placeholder (`anchor`); the rest follow in the thread."""
        for n, msg in enumerate(messages):
            if n == 0 and anchor is not None:
                done = self._call(client.chat_update, channel=channel, ts=anchor, text=msg.text, **_blocks(msg))
                if done is not None:
                    continue  # else (not found, still rate limited): post it instead
            self._call(client.chat_postMessage, channel=channel, thread_ts=thread_ts, text=msg.text, **_blocks(msg),
                       unfurl_links=False, unfurl_media=False)

    @staticmethod
    def _call(method: Callable[..., Any], **kwargs: Any) -> dict[str, Any] | None:
        """A Web API call; None when it failed, which is logged, so the bot keeps serving. A call
        answered 429 was already retried by the client's RateLimitErrorRetryHandler after Slack's
        Retry-After; one still rate limited after that is logged as an error."""
        name = getattr(method, "__name__", "call")
        try:
            return dict(method(**kwargs).data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                logger.error("Slack %s: still rate limited after %d retries; this call is dropped", name,
                             RATE_LIMIT_RETRIES)
            else:
                logger.warning("Slack %s failed: %s", name, exc.response.get("error") or exc)
            return None
        except Exception as exc:  # Slack unreachable (after slack_sdk's retries of connection errors)
            logger.warning("Slack %s failed: %s", name, exc)
            return None

    # feedback ----------------------------------------------------------------------------

    def on_feedback(self, ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        feedback = FEEDBACK_ACTIONS.get(action.get("action_id", ""))
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        ref = action.get("value") or f"{channel}:{(body.get('container') or {}).get('message_ts')}"
        if feedback is None:
            return
        from interfaces.log import set_feedback

        try:
            found = set_feedback(self.settings, feedback, ref=ref)
        except Exception:
            logger.exception("could not record feedback for %s", ref)
            found = False
        if not found:
            logger.warning("feedback %s for %s: no logged answer with that reference", feedback, ref)
        user = (body.get("user") or {}).get("id")
        if channel and user:
            thread_ts = ((body.get("message") or {}).get("thread_ts")) or None
            text = FEEDBACK_THANKS[feedback] if found else "Thanks — but I could not find that answer in the log."
            self._call(client.chat_postEphemeral, channel=channel, user=user, text=text, thread_ts=thread_ts)


class _QuietClientWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when a client is given; ours is built from that token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_QUIET_CLIENT_WARNING = _QuietClientWarning()


def build_app(settings: Settings, answer_fn: AnswerFn | None = None, client: WebClient | None = None, *,
              token: str | None = None, signing_secret: str | None = None) -> App:
    """The Bolt app. Credentials default to SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET (SlackConfigError if
    missing) and the Web API to SLACK_API_URL; `answer_fn(question, thread_id=, settings=)` defaults to
    `agent.answer.answer`. Calls `auth.test` once, to learn the bot's own ids. The client retries
    rate-limited calls (`make_client`)."""
    if client is None:
        token = token or reveal(settings.slack.bot_token)
        if not token:
            raise SlackConfigError("set SLACK_BOT_TOKEN (the app's Bot User OAuth Token, xoxb-…)")
        client = make_client(token, api_url(settings))
    _retry_rate_limits(client)
    if signing_secret is None:
        signing_secret = reveal(settings.slack.signing_secret) or ""
    bolt_logger = logging.getLogger("slack_bolt.App")
    if _QUIET_CLIENT_WARNING not in bolt_logger.filters:
        bolt_logger.addFilter(_QUIET_CLIENT_WARNING)
    bot = SlackBot(settings, answer_fn or _default_answer, EventLedger(settings.home / "slack.sqlite"))
    app = App(client=client, signing_secret=signing_secret, process_before_response=False, name="kb",
              listener_executor=ThreadPoolExecutor(max_workers=8, thread_name_prefix="kb-slack"))

    @app.middleware
    def drop_redeliveries(request: Any, body: dict[str, Any], next: Callable[[], Any]) -> Any:
        # Retries (X-Slack-Retry-Num) and repeated event ids are recognised by the event id, recorded
        # in SQLite: a retry of an event already handled is dropped, while a retry whose first
        # delivery never reached the bot (it was down) is answered, once.
        event_id = body.get("event_id")
        retry = request.headers.get("x-slack-retry-num")
        if event_id and not bot.ledger.first_time(str(event_id)):
            logger.info("dropped event %s: already handled%s", event_id, f" (retry {retry})" if retry else "")
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"} if retry else {})
        return next()

    app.event("app_mention")(bot.on_event)
    app.event("message")(bot.on_event)
    app.action("feedback_up")(bot.on_feedback)
    app.action("feedback_down")(bot.on_feedback)
    return app


def asgi_app(app: App, path: str = EVENTS_PATH) -> Any:
    """A Starlette ASGI app: POST `path` goes to Bolt (dispatched off the event loop); GET /healthz says ok."""
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def events(request: Request) -> Response:
        body = await request.body()
        resp = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(resp)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route(path, events, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])])


def _warm_up(settings: Settings) -> None:
    """Load the agent (model, index, BM25) before the first question; a failure shows up when asked."""
    try:
        from agent.answer import get_agent

        get_agent(settings).warm()
        logger.info("agent ready")
    except Exception as exc:
        logger.warning("the agent is not ready yet (%s); questions will get an apology until it is", exc)


def main(settings: Settings, host: str = "0.0.0.0", port: int = 3000, socket: bool = False) -> int:
    """`kb slack`: run the bot until interrupted. Exit status 2 for missing credentials, 3 if Slack is unreachable
    or the port is taken."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = SlackConfig.from_env(socket=socket)
    except SlackConfigError as exc:
        print(f"kb slack: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sdk_log = logging.getLogger("slack_sdk")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)  # its retry lines would only precede the one message below
    try:
        app = build_app(settings, client=make_client(config.bot_token, config.api_url),
                        signing_secret=config.signing_secret)
    except Exception as exc:  # auth.test failed: a bad token, or Slack unreachable
        from slack_bolt.error import BoltError

        print(f"kb slack: could not sign in to Slack at {config.api_url}: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, BoltError) else EXIT_UNAVAILABLE
    finally:
        sdk_log.setLevel(level)
    threading.Thread(target=_warm_up, args=(settings,), name="kb-warm-up", daemon=True).start()
    if socket:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        logger.info("Socket Mode: connecting to Slack")
        SocketModeHandler(app, config.app_token).start()
        return EXIT_OK
    import uvicorn

    logger.info("listening on http://%s:%d%s", host, port, EVENTS_PATH)
    server = uvicorn.Server(uvicorn.Config(asgi_app(app), host=host, port=port, log_level="info"))
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind
        server.started = False
    if not server.started:
        print(f"kb slack: could not listen on {host}:{port} (in use? try --port)", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return EXIT_OK


__all__ = ["EventLedger", "SlackBot", "SlackConfig", "SlackConfigError", "SlackMessage", "answer_markdown", "apology",
           "asgi_app", "build_app", "clean_question", "main", "make_client", "markdown_messages", "plain_text",
           "render_answer", "sources_markdown", "split_markdown", "split_source"]
