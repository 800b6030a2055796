"""Saved conversations are listed through LangGraph's checkpointer API: most recently used first,
each thread once, at most `limit`, from the agent's checkpointer or read-only from the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.sqlite import SqliteSaver

from interfaces.threads import saved_threads, thread_exists


def _save_turns(path: Path, threads: list[str]) -> SqliteSaver:
    """One checkpoint per turn, in this order (a thread may come back later)."""
    saver = SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
    for tid in threads:
        config = {"configurable": {"thread_id": tid, "checkpoint_ns": ""}}
        saver.put(config, empty_checkpoint(), {"source": "loop", "step": 0}, {})
    return saver


def test_most_recently_used_first_each_once_and_limited(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    saver = _save_turns(path, ["a", "b", "a", "c", "b", "d"])
    assert saved_threads(path) == ["d", "b", "c", "a"]  # "a" was used before the last "b"
    assert saved_threads(saver, limit=2) == ["d", "b"]
    assert saved_threads(saver) == saved_threads(path)
    assert thread_exists(path, "c") and thread_exists(saver, "a") and not thread_exists(path, "nobody")
    saver.put({"configurable": {"thread_id": "e", "checkpoint_ns": ""}}, empty_checkpoint(), {}, {})
    assert saved_threads(path, limit=1) == ["e"]  # the listing left the saver usable (its lock released)
    saver.conn.close()


def test_no_database_or_no_tables_is_no_threads(tmp_path: Path) -> None:
    assert saved_threads(tmp_path / "none.sqlite") == [] and not thread_exists(tmp_path / "none.sqlite", "a")
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(str(empty)).close()
    assert saved_threads(empty) == [] and not thread_exists(empty, "a")
    assert not empty.with_suffix(".sqlite-wal").exists()  # read-only: nothing written
