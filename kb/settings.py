"""One settings object for the whole project: defaults, `KB_*` environment variables, then flags.

Every core function takes a `Settings` (or builds the default one with `Settings.from_env()`),
so interfaces pass configuration down explicitly instead of reading the environment themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# USD per million tokens (prompt, completion); used to report cost_usd.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
}


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names the variable."""


def _default_home() -> Path:
    return Path.home() / ".kb"


@dataclass(frozen=True)
class Settings:
    """Configuration, read from `KB_<FIELD>` environment variables (e.g. `KB_HOME`, `KB_TOP_K`)."""

    home: Path = field(default_factory=_default_home)
    chroma_url: str | None = None
    chroma_timeout_s: float = 10.0  # how long a Chroma server may take to answer the first request
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_device: str = "auto"
    embedding_backend: str = "auto"  # auto | onnx | torch (see kb/embeddings.py)
    model_cache: Path | None = None  # where ONNX exports of embedding models live (default KB_HOME/models)
    embedding_batch_size: int = 64
    chunk_tokens: int = 200  # capped at the model's own limit (256 for MiniLM); title prefix included
    chunk_overlap_tokens: int = 32  # whole sentences carried into the next window
    collection_prefix: str = "kb"
    top_k: int = 5
    candidates: int = 30  # per retriever, before fusion
    rrf_k: int = 60
    # agent
    backend: str = "auto"  # auto | offline | openai
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    model: str = "gpt-4o-mini"
    request_timeout_s: float = 60.0
    max_retries: int = 3
    max_tool_rounds: int = 4
    max_history_turns: int = 6  # earlier turns of a thread sent with each question
    context_token_budget: int = 3000
    abstain_threshold: float = 0.42  # best claim sentence's semantic similarity below which kb abstains (agent.abstention)
    min_coverage: float = 0.22  # share of the question's content words one sentence and its neighbours must contain
    lexicon_file: str | None = None  # extra domain words merged over kb/data/lexicon.json
    model_tools: str = "auto"  # auto | on | off: send the tool schemas to an OpenAI-compatible model
    attribution_threshold: float = 0.55  # cosine a passage sentence needs to support an uncited claim (dev set: recall 0.91, 3% false)
    slack_workers: int = 8  # Slack answers in flight at once (remote models spend most of it waiting)
    prices: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    # podcast feeds and YouTube (ingest/fetch.py, ingest/feeds.py, ingest/youtube.py)
    fetch_timeout_s: float = 20.0  # connect and read timeout per request
    fetch_max_bytes: int = 50_000_000  # largest download (feed, transcript, chapters)
    fetch_retries: int = 3  # retries on 429 and 5xx, with back-off
    caption_language: str = "en"  # YouTube captions and preferred feed transcript language
    # interfaces
    log_level: str = "WARNING"  # KB_LOG_LEVEL: DEBUG, INFO, WARNING, ERROR (servers log to stderr)
    mcp_token: str | None = None  # KB_MCP_TOKEN: `kb mcp --http` requires `Authorization: Bearer <token>`
    mcp_host: str = "127.0.0.1"  # KB_MCP_HOST
    mcp_port: int = 8765  # KB_MCP_PORT

    def __post_init__(self) -> None:
        if not isinstance(self.home, Path):
            object.__setattr__(self, "home", Path(self.home).expanduser())
        limits = {"top_k": 1, "candidates": 1, "embedding_batch_size": 1, "chunk_tokens": 32, "chunk_overlap_tokens": 0,
                  "max_tool_rounds": 0, "max_history_turns": 0, "max_retries": 0, "context_token_budget": 100,
                  "fetch_max_bytes": 1, "fetch_retries": 0}
        for name, low in limits.items():
            if getattr(self, name) < low:
                raise SettingsError(f"KB_{name.upper()}={getattr(self, name)}: must be at least {low}")
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise SettingsError(f"KB_CHUNK_OVERLAP_TOKENS={self.chunk_overlap_tokens}: must be below KB_CHUNK_TOKENS={self.chunk_tokens}")
        if self.embedding_backend not in ("auto", "onnx", "torch"):
            raise SettingsError(f"KB_EMBEDDING_BACKEND={self.embedding_backend!r}: one of auto, onnx, torch")
        if self.model_cache is not None and not isinstance(self.model_cache, Path):
            object.__setattr__(self, "model_cache", Path(self.model_cache).expanduser())
        for name in ("request_timeout_s", "chroma_timeout_s", "fetch_timeout_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"KB_{name.upper()}={getattr(self, name)}: must be positive")
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(f"KB_LOG_LEVEL={self.log_level!r}: must be one of {', '.join(LOG_LEVELS)}")
        if not 0 < self.mcp_port < 65536:
            raise SettingsError(f"KB_MCP_PORT={self.mcp_port}: must be a TCP port (1-65535)")

    @property
    def model_cache_path(self) -> Path:
        return self.model_cache or self.home / "models"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def threads_path(self) -> Path:
        return self.home / "threads.sqlite"

    @property
    def log_path(self) -> Path:
        return self.home / "log.sqlite"

    @property
    def sources_path(self) -> Path:
        """Feeds and playlists ingested by URL (for `kb sync`) and their downloaded transcripts."""
        return self.home / "sources"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `KB_*` variables (and OPENAI_API_KEY / OPENAI_BASE_URL), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "prices":
                continue
            raw = env.get(f"KB_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw, f.type)
        if "openai_api_key" not in values and env.get("OPENAI_API_KEY"):
            values["openai_api_key"] = env["OPENAI_API_KEY"]
        if "openai_base_url" not in values and env.get("OPENAI_BASE_URL"):
            values["openai_base_url"] = env["OPENAI_BASE_URL"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "home" in values:
            values["home"] = Path(values["home"]).expanduser()
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def resolved_backend(self) -> str:
        """`openai` when a key or base URL is configured, else `offline` (unless forced)."""
        if self.backend in ("offline", "openai"):
            return self.backend
        if self.backend != "auto":
            raise SettingsError(f"KB_BACKEND: unknown backend {self.backend!r} (auto, offline, openai)")
        return "openai" if (self.openai_api_key or self.openai_base_url) else "offline"


def _coerce(name: str, raw: str, typ: Any) -> Any:
    typ = str(typ)
    try:
        if typ.startswith("int"):
            return int(raw)
        if typ.startswith("float"):
            return float(raw)
        if typ.startswith("Path"):
            return Path(raw).expanduser()
    except ValueError as exc:
        raise SettingsError(f"KB_{name.upper()}={raw!r}: {exc}") from None
    return raw
