"""Shared fixtures: isolated KB_HOME folders, the deterministic test embedder, and (once per run)
the bundled corpus ingested with the real default model for end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's KB_* or OpenAI variables, or writes to ~/.kb."""
    for key in list(os.environ):
        if key.startswith("KB_") or key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KB_HOME", str(tmp_path / "kb-home"))


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
