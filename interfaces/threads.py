"""Saved conversations, read through LangGraph's checkpointer API (`list`, `get_tuple`), never
through its tables: which threads exist, most recently used first, for `/threads` and `kb ask --thread`.

Each function takes the agent's checkpointer, or the path of the checkpoint database
(`settings.threads_path`), which is then opened read-only for the call.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def _saver(where: Any) -> Iterator[Any]:
    """The checkpointer itself, a read-only SqliteSaver on a database path, or None when there is none."""
    if not isinstance(where, (str, Path)):
        yield where
        return
    path = Path(where)
    if not path.exists():
        yield None
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)) as conn:
        yield SqliteSaver(conn)


def saved_threads(where: Any, limit: int = 20) -> list[str]:
    """Distinct thread ids with a saved turn, most recently used first (the checkpointer lists the
    newest checkpoints first), at most `limit`."""
    ids: list[str] = []
    try:
        with _saver(where) as saver:
            if saver is None:
                return []
            with closing(saver.list(None)) as checkpoints:  # closing releases the saver's lock
                for item in checkpoints:
                    thread_id = str(item.config["configurable"]["thread_id"])
                    if thread_id not in ids:
                        ids.append(thread_id)
                        if len(ids) >= limit:
                            break
    except sqlite3.Error:  # no checkpoint tables yet, or a database another version wrote
        return ids
    return ids


def thread_exists(where: Any, thread_id: str) -> bool:
    """Whether a conversation with this id was ever saved."""
    try:
        with _saver(where) as saver:
            return saver is not None and saver.get_tuple({"configurable": {"thread_id": thread_id}}) is not None
    except sqlite3.Error:
        return False


__all__ = ["saved_threads", "thread_exists"]
