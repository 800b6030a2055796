"""Shared fixtures: isolated KB_HOME folders, the deterministic test embedder, and (once per run)
the bundled corpus ingested with the real default model for end-to-end tests.

Two tiers. `slow` marks every test that loads the real embedding model, starts a server (the fakes
of tests/fakes included), spawns a process (building a brief does: its figures are read in a
worker) or takes seconds by itself; `./test.sh -m "not slow"` runs the others. A test
that uses `corpus_home` or `corpus_settings` (the real model) is marked slow here, and a module
marked slow as a whole (`pytestmark = pytest.mark.slow`) is not even imported when slow tests are
deselected, so the quick tier pays for neither.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_REAL_MODEL_FIXTURES = {"corpus_home", "corpus_settings"}
_SLOW_MODULE = re.compile(r"^pytestmark\s*=\s*\[?[^\]=]*?\bpytest\.mark\.slow\b", re.M)


def _deselects_slow(config: pytest.Config) -> bool:
    """Whether `-m` deselects a test marked slow (e.g. `-m "not slow"`)."""
    expr = config.getoption("markexpr", "") or ""
    if not expr:
        return False
    try:
        from _pytest.mark.expression import Expression

        return not Expression.compile(expr).evaluate(lambda name, **kwargs: name == "slow")
    except Exception:  # an expression pytest will report itself
        return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_") and _deselects_slow(config):
        if _SLOW_MODULE.search(collection_path.read_text(encoding="utf-8")):
            return True
    return None


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's KB_* or OpenAI variables, or writes to ~/.kb."""
    for key in list(os.environ):
        if key.startswith("KB_") or key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KB_HOME", str(tmp_path / "kb-home"))


@pytest.fixture(autouse=True)
def _close_stores(tmp_path: Path) -> Iterator[None]:
    """Close the Chroma stores a test opened under its own folder. Chroma keeps one client system per
    path for the life of the process (a dozen open files each): without this, hundreds of tests leave
    over a thousand descriptors open, and prompt_toolkit's `select()` then spins on a pipe numbered
    past 1024 (the chat tests stalled when they shared a process with the rest of the suite)."""
    yield
    if "chromadb" not in sys.modules:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    systems = SharedSystemClient._identifier_to_system
    for key in [k for k in systems if _inside(k, tmp_path)]:
        systems.pop(key).stop()


def _inside(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError):
        return False


@pytest.fixture
def fast_settings(tmp_path: Path) -> Settings:
    """Settings with the hashing embedder: a real Chroma store in a temp folder, no model to load."""
    return Settings(home=tmp_path / "kb-home", embedding_model="hashing", chunk_tokens=120, chunk_overlap_tokens=16)


@pytest.fixture(scope="session")
def corpus_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KB_HOME with the bundled corpus ingested with the real default model (done once)."""
    from ingest.pipeline import ingest

    home = tmp_path_factory.mktemp("corpus-home")
    report = ingest(settings=Settings(home=home), progress=False)
    assert report.files_failed == 0 and report.chunks_total > 0
    return home


@pytest.fixture
def corpus_settings(corpus_home: Path) -> Settings:
    return Settings(home=corpus_home)
