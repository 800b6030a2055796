"""The record of questions: every answered question (REPL, Slack, `ask`) is logged to SQLite under
KB_HOME with its answer, citations, retrieved ids, backend, latency, tokens and feedback.

Safe under concurrent use: each call opens its own connection (so threads share none), the
database is in WAL mode (readers do not block the writer) and a busy database is waited for."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from kb.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    interface TEXT NOT NULL,
    thread_id TEXT,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    citations TEXT NOT NULL,
    retrieved TEXT NOT NULL,
    backend TEXT,
    latency_s REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cost_usd REAL,
    feedback TEXT,
    ref TEXT
);
CREATE INDEX IF NOT EXISTS questions_ref ON questions(ref);
"""


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    conn.row_factory = sqlite3.Row
    return conn


def record(settings: Settings, interface: str, result: Any, ref: str | None = None) -> int:
    """Log one answered question; returns its row id. `ref` links it to e.g. a Slack message."""
    with closing(_connect(settings.log_path)) as conn, conn:
        cur = conn.execute(
            "INSERT INTO questions (time, interface, thread_id, question, answer, abstained, citations, retrieved, "
            "backend, latency_s, prompt_tokens, completion_tokens, cost_usd, ref) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (time.time(), interface, result.thread_id, result.question, result.answer, int(result.abstained),
             json.dumps(result.citations, ensure_ascii=False),
             json.dumps([f"{r['source']}@{r.get('start_s')}" for r in result.retrieved]),
             result.backend, result.latency_s, result.usage.get("prompt_tokens", 0),
             result.usage.get("completion_tokens", 0), result.usage.get("cost_usd", 0.0), ref),
        )
        return int(cur.lastrowid or 0)


def set_feedback(settings: Settings, feedback: str, row_id: int | None = None, ref: str | None = None) -> bool:
    """Record 👍/👎 (`up`/`down`) for a logged answer, by row id or by reference."""
    with closing(_connect(settings.log_path)) as conn, conn:
        if row_id is not None:
            cur = conn.execute("UPDATE questions SET feedback=? WHERE id=?", (feedback, row_id))
        else:
            cur = conn.execute("UPDATE questions SET feedback=? WHERE ref=?", (feedback, ref))
        return cur.rowcount > 0


def rows(settings: Settings, limit: int | None = None, feedback: str | None = None) -> list[dict[str, Any]]:
    if not settings.log_path.exists():
        return []
    sql = "SELECT * FROM questions" + (" WHERE feedback=?" if feedback else "") + " ORDER BY id DESC"
    params: list[Any] = [feedback] if feedback else []
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    with closing(_connect(settings.log_path)) as conn:
        out = []
        for r in conn.execute(sql, params):
            d = dict(r)
            d["citations"] = json.loads(d["citations"])
            d["retrieved"] = json.loads(d["retrieved"])
            d["abstained"] = bool(d["abstained"])
            out.append(d)
        return out


def gold_lines(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Logged questions as gold-file lines for review (answers become references to check)."""
    for n, r in enumerate(reversed(entries), start=1):
        cites = [{"source": c["source"], **({"at": c["at"]} if c.get("seconds") is not None else {})} for c in r["citations"]]
        yield {
            "id": f"log{r['id']:04d}" if r.get("id") else f"log{n:04d}", "category": "from_log", "question": r["question"],
            "reference": r["answer"], "keywords": [], "citations": cites, "answerable": not r["abstained"],
        }
