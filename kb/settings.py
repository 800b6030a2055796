"""One settings object for the whole project: defaults, then environment variables, then flags.

`Settings` is a pydantic-settings model in sections (`settings.retrieval.top_k`,
`settings.agent.model`, `settings.embedding.model`, `settings.slack.bot_token`, …). Every field
has one environment variable named after its *flat name*: `KB_` + the flat name in capitals
(`top_k` -> `KB_TOP_K`, `embedding_model` -> `KB_EMBEDDING_MODEL`); a few also answer to the
names other tools use (`OPENAI_API_KEY`, `SLACK_BOT_TOKEN`, …), listed with `AliasChoices`.

- `Settings(...)` is the defaults and its arguments; it reads no environment.
  `Settings.from_env(env=None, **overrides)` reads the environment (or `env`) first.
- Arguments may use flat names (`Settings(home=h, top_k=3)`, `settings.with_(model="m")`) or
  sections (`Settings(retrieval={"top_k": 3})`).
- A value that cannot be used raises `SettingsError` (a ValueError) naming the variable:
  `KB_TOP_K=0: must be at least 1`.
- Secrets are `SecretStr`: `repr(settings)` shows `**********`; `reveal()` gives the text.

This module is the only one that reads or writes `os.environ`: other code gets its settings
passed down, and calls `quiet_model_libraries()` / `child_environment()` for the variables
third-party libraries and child processes read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
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

NO_ENV = {"env": False}  # json_schema_extra of a field no variable sets
_PREFIX = "KB_"


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names the variable."""


def reveal(secret: SecretStr | None) -> str | None:
    """The text of a secret setting, or None when it is unset or blank."""
    text = secret.get_secret_value().strip() if secret is not None else ""
    return text or None


def _shown(default: str) -> dict[str, Any]:
    """json_schema_extra for a field whose default the README shows in words."""
    return {"shown_default": default}


def _alias(name: str, *env: str) -> AliasChoices:
    """The field's own name, then its environment variables in order of precedence."""
    return AliasChoices(name, *env)


# --- sections -------------------------------------------------------------------------------------
class Section(BaseModel):
    """A group of settings; a field's variable is `prefix` + its name in capitals unless its
    `validation_alias` lists variables (capitalised entries of AliasChoices)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
    prefix: ClassVar[str] = _PREFIX


class EmbeddingSettings(Section):
    """The embedding model (kb/embeddings.py): `KB_EMBEDDING_*` and `KB_MODEL_CACHE`."""

    prefix: ClassVar[str] = "KB_EMBEDDING_"
    model: str = Field(DEFAULT_EMBEDDING_MODEL, min_length=1, description=(
        "any sentence-transformers model name or path (another name needs a model hub or a local copy)"))
    device: str = Field("auto", min_length=1, description="`cpu`, `cuda`, `mps`, or `auto`")
    backend: Literal["auto", "onnx", "torch"] = Field("auto", description=(
        "`onnx` (onnxruntime + tokenizers, no torch at run time), `torch` (sentence-transformers), or `auto`: ONNX for "
        "a local model folder of transformer + mean pooling on the CPU, else sentence-transformers. Both give the same "
        "vectors, so either reads an index the other wrote"))
    batch_size: int = Field(64, ge=1, description="texts embedded per model call")
    sentence_vectors: bool = Field(True, description=(
        "embed each document's sentences at ingest and keep the vectors in KB_HOME/sentence-vectors.sqlite, so an "
        "answer does not embed the sentences it scores (a cache: deleting it costs only time)"))
    model_cache: Path | None = Field(None, validation_alias=_alias("model_cache", "KB_MODEL_CACHE"),
                                     json_schema_extra=_shown("KB_HOME/models"), description=(
        "where the ONNX export of the embedding model is kept (made once, on first use, in about 20 s; keyed by the "
        "model files' hash)"))

    @field_validator("model_cache")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class ChunkingSettings(Section):
    """How documents are cut into passages (ingest/chunking.py): `KB_CHUNK_*`."""

    prefix: ClassVar[str] = "KB_CHUNK_"
    tokens: int = Field(200, ge=32, description=(
        "chunk window in model tokens (capped at the model's limit, title included)"))
    overlap_tokens: int = Field(32, ge=0, description="whole sentences carried into the next window, in model tokens")

    @model_validator(mode="after")
    def _overlap_below_window(self) -> ChunkingSettings:
        if self.overlap_tokens >= self.tokens:
            raise ValueError(f"KB_CHUNK_OVERLAP_TOKENS={self.overlap_tokens}: must be below KB_CHUNK_TOKENS={self.tokens}")
        return self


class RetrievalSettings(Section):
    """Search (kb/retrieval.py)."""

    top_k: int = Field(5, ge=1, description="passages per search (`kb search -k` overrides it)")
    candidates: int = Field(30, ge=1, description="candidates each retriever (dense, BM25) ranks before fusion")
    rrf_k: int = Field(60, ge=0, description="the constant of reciprocal rank fusion")
    fusion: Literal["rank", "score"] = Field("rank", description=(
        "how the dense and BM25 lists are fused: `rank` (reciprocal rank fusion) or `score` (each "
        "candidate scored by both, the scores standardised, then averaged: better retrieval on the "
        "dev sets, no better offline answers; BENCHMARKS.md ¹²)"))


class AgentSettings(Section):
    """The answering agent and its model (agent/)."""

    backend: Literal["auto", "offline", "openai"] = Field("auto", description=(
        "`offline`, `openai`, or `auto` (OpenAI when a key or base URL is set)"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_alias(
        "openai_api_key", "KB_OPENAI_API_KEY", "OPENAI_API_KEY"), description="the OpenAI (or compatible server's) API key")
    openai_base_url: str | None = Field(None, validation_alias=_alias(
        "openai_base_url", "KB_OPENAI_BASE_URL", "OPENAI_BASE_URL"), description=(
        "an OpenAI-compatible server (Ollama, llama.cpp, vLLM, …)"))
    model: str = Field("gpt-4o-mini", min_length=1, description="the model's name")
    model_tools: Literal["auto", "on", "off"] = Field("auto", description=(
        "offer the tools to the model: `auto` (fall back without them when the server rejects them), `on`, `off`"))
    request_timeout_s: float = Field(60.0, gt=0, description="seconds a model call may take")
    max_retries: int = Field(3, ge=0, description="retries of a model call on 429 and 5xx, with back-off")
    max_tool_rounds: int = Field(4, ge=0, description="tool-call rounds before the model is asked to answer")
    max_history_turns: int = Field(6, ge=0, description="earlier turns of a conversation sent with each question")
    context_token_budget: int = Field(3000, ge=100, description="tokens of passages per search result sent to the model")
    passage_view: Literal["focused", "whole"] = Field("focused", description=(
        "what a language model reads of each passage: `focused`, the sentences that bear on the query with their "
        "neighbours (agent/focus.py), or `whole`"))
    abstain_threshold: float = Field(0.42, ge=-1, le=1, description=(
        "abstention: similarity the best claim sentence needs (cosine with the embedding model; calibrated on the dev "
        "questions)"))
    min_coverage: float = Field(0.22, ge=0, le=1, description=(
        "abstention: share of the question's content words one sentence and its neighbours must contain"))
    attribution_threshold: float = Field(0.55, ge=-1, le=1, description=(
        "similarity a passage sentence needs to support a claim written without a citation (calibrated on the dev set)"))
    tokenizer_timeout_s: float = Field(10.0, gt=0, validation_alias=_alias(
        "tokenizer_timeout_s", "KB_TOKENIZER_TIMEOUT_S", "KB_TOKENIZER_TIMEOUT"),
                                       description="seconds tiktoken may take to load its encoding before token counts are estimated")
    prices: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES), json_schema_extra=NO_ENV,
                                                  description="USD per million tokens (prompt, completion) by model")


class FetchSettings(Section):
    """Podcast feeds and YouTube (ingest/fetch.py, ingest/feeds.py, ingest/youtube.py)."""

    prefix: ClassVar[str] = "KB_FETCH_"
    timeout_s: float = Field(20.0, gt=0, description="downloading feeds, transcripts and chapters: connect and read timeout")
    max_bytes: int = Field(50_000_000, ge=1, description="the largest download (feed, transcript, chapters)")
    retries: int = Field(3, ge=0, description="retries of a download on 429 and 5xx, with back-off")
    caption_language: str = Field("en", min_length=1, validation_alias=_alias("caption_language", "KB_CAPTION_LANGUAGE"),
                                  description=(
        "YouTube captions to fetch; the preferred language when a feed offers several transcripts"))


class SlackSettings(Section):
    """The Slack bot (interfaces/slack_bot.py; docs/slack.md)."""

    prefix: ClassVar[str] = "KB_SLACK_"
    workers: int = Field(8, ge=1, description="Slack questions answered at once")
    bot_token: SecretStr | None = Field(None, validation_alias=_alias("bot_token", "KB_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
                                        description="the app's Bot User OAuth Token (`xoxb-…`; [docs/slack.md](docs/slack.md))")
    signing_secret: SecretStr | None = Field(None, validation_alias=_alias(
        "signing_secret", "KB_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"), description=(
        "the app's signing secret (HTTP mode)"))
    app_token: SecretStr | None = Field(None, validation_alias=_alias("app_token", "KB_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"),
                                        description="an app-level token (`xapp-…`, `connections:write`) for Socket Mode")
    api_url: str = Field(DEFAULT_SLACK_API_URL, validation_alias=_alias("api_url", "KB_SLACK_API_URL", "SLACK_API_URL"),
                         description="the Slack Web API's base URL")

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:  # slack_sdk joins method names onto it
        value = value.strip() or DEFAULT_SLACK_API_URL
        return value if value.endswith("/") else value + "/"


class McpSettings(Section):
    """`kb mcp --http` (interfaces/mcp_server.py)."""

    prefix: ClassVar[str] = "KB_MCP_"
    token: SecretStr | None = Field(None, description=(
        "the bearer token `kb mcp --http` requires ([MCP](#mcp-claude-chatgpt-and-other-agents))"))
    host: str = Field("127.0.0.1", min_length=1, description="the address `kb mcp --http` listens on")
    port: int = Field(8765, ge=1, le=65535, description="the TCP port `kb mcp --http` listens on")


SECTIONS: dict[str, type[Section]] = {
    "embedding": EmbeddingSettings, "chunking": ChunkingSettings, "retrieval": RetrievalSettings,
    "agent": AgentSettings, "fetch": FetchSettings, "slack": SlackSettings, "mcp": McpSettings,
}


def _default_home() -> Path:
    return Path.home() / ".kb"


class Settings(BaseSettings):
    """Configuration; see the module docstring and the README's settings table."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, frozen=True, extra="forbid", validate_default=True,
                                      hide_input_in_errors=True)

    home: Path = Field(default_factory=_default_home, json_schema_extra=_shown("~/.kb"), description=(
        "the index, conversation threads, the question log, eval runs"))
    chroma_url: str | None = Field(None, description=(
        "use a Chroma server (`chroma run --host 127.0.0.1 --port 8000`) instead of the embedded store, so several users "
        "and the Slack bot share one index"))
    chroma_timeout_s: float = Field(10.0, gt=0, description=(
        "how long the Chroma server may take to answer before kb says it did not (naming the URL)"))
    collection_prefix: str = Field("kb", min_length=1, description=(
        "the start of the Chroma collection's name (the embedding model and chunk sizes make the rest)"))
    lexicon_file: str | None = Field(None, description=(
        "a JSON file of extra unit words and misheard spellings, merged over `kb/data/lexicon.json`"))
    log_level: str = Field("WARNING", description="what servers (`kb mcp`) log to stderr: DEBUG, INFO, WARNING, ERROR")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: the environment is read by `from_env` (through `EnvironmentSource`)."""
        return (init_settings,)

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_names(cls, data: Any) -> Any:
        return nest(data) if isinstance(data, dict) else data

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"KB_LOG_LEVEL={value!r}: must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    # --- building -------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then the environment (`env`, or os.environ), then `overrides` (flat or section
        names; None values are ignored)."""
        values = EnvironmentSource(cls, os.environ if env is None else env)()
        return cls(**_merge(values, nest({k: v for k, v in overrides.items() if v is not None})))

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (flat or section names); None values are ignored."""
        return self.replace(**{k: v for k, v in changes.items() if v is not None})

    def replace(self, **changes: Any) -> Settings:
        """A copy with these settings (flat or section names) set, None included; validated again."""
        current: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**_merge(current, nest(changes)))

    # --- derived values ---------------------------------------------------------------------------
    @property
    def model_cache_path(self) -> Path:
        return self.embedding.model_cache or self.home / "models"

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
    def sentence_vectors_path(self) -> Path:
        return self.home / "sentence-vectors.sqlite"

    @property
    def sources_path(self) -> Path:
        """Feeds and playlists ingested by URL (for `kb sync`) and their downloaded transcripts."""
        return self.home / "sources"

    @property
    def resolved_backend(self) -> str:
        """`openai` when a key or base URL is configured, else `offline` (unless forced)."""
        if self.agent.backend != "auto":
            return self.agent.backend
        return "openai" if (reveal(self.agent.openai_api_key) or self.agent.openai_base_url) else "offline"

    # --- views ------------------------------------------------------------------------------------
    def flat(self, secrets: bool = False) -> dict[str, Any]:
        """Every setting by flat name (Paths as text); secrets left out unless `secrets`, and then revealed."""
        out: dict[str, Any] = {}
        for var in variables():
            value = var.get(self)
            if isinstance(value, SecretStr) or var.secret:
                if not secrets:
                    continue
                value = reveal(value)
            out[var.flat] = str(value) if isinstance(value, Path) else value
        return out

    def cache_key(self) -> str:
        """A key naming these settings, for process-wide caches: every value, secrets as digests."""
        values = self.flat()
        for var in variables():
            if var.secret:
                secret = reveal(var.get(self))
                values[var.flat] = hashlib.sha256(secret.encode()).hexdigest() if secret else None
        return json.dumps(values, sort_keys=True, default=str)


# --- flat names and variables -----------------------------------------------------------------------
class Variable:
    """One setting: its section ('' for top-level), field name, flat name and environment variables."""

    def __init__(self, section: str, name: str, info: FieldInfo, prefix: str) -> None:
        self.section, self.name, self.info = section, name, info
        alias = info.validation_alias
        listed = [c for c in alias.choices if isinstance(c, str) and c.isupper()] if isinstance(alias, AliasChoices) else []
        self.env: tuple[str, ...] = tuple(listed) or (f"{prefix}{name.upper()}",)
        primary = next((e for e in self.env if e.startswith(_PREFIX)), self.env[0])
        self.flat = primary[len(_PREFIX):].lower() if primary.startswith(_PREFIX) else primary.lower()
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        self.from_env = extra.get("env", True) is not False
        self.shown_default = extra.get("shown_default")
        self.secret = info.annotation in (SecretStr, SecretStr | None)

    @property
    def path(self) -> str:
        """How code reads it: `retrieval.top_k`, `home`."""
        return f"{self.section}.{self.name}" if self.section else self.name

    def get(self, settings: Settings) -> Any:
        owner = getattr(settings, self.section) if self.section else settings
        return getattr(owner, self.name)


def _variables() -> Iterator[Variable]:
    for name, info in Settings.model_fields.items():
        if name not in SECTIONS:
            yield Variable("", name, info, _PREFIX)
    for section, cls in SECTIONS.items():
        for name, info in cls.model_fields.items():
            yield Variable(section, name, info, cls.prefix)


VARIABLES: tuple[Variable, ...] = tuple(_variables())


def variables() -> tuple[Variable, ...]:
    """Every setting, in the order of the README's table."""
    return VARIABLES


FLAT_NAMES: dict[str, tuple[str, str]] = {v.flat: (v.section, v.name) for v in VARIABLES if v.section}
"""Flat name -> (section, field) for the settings in sections: `top_k` -> ('retrieval', 'top_k')."""


def variable(flat: str) -> Variable:
    """The setting with this flat name (`embedding_model`: `embedding.model`, KB_EMBEDDING_MODEL)."""
    for var in variables():
        if var.flat == flat:
            return var
    raise SettingsError(f"unknown setting {flat!r}")


def nest(data: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments by flat name moved into their sections: {'top_k': 3} -> {'retrieval': {'top_k': 3}}."""
    out = dict(data)
    for flat in [k for k in out if k in FLAT_NAMES]:
        section, name = FLAT_NAMES[flat]
        current = out.get(section)
        merged = dict(current) if current is not None else {}  # a dict, or a section model (its fields)
        merged[name] = out.pop(flat)
        out[section] = merged
    return out


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` over it; a section given as a dict changes only the fields it names."""
    out = dict(base)
    for key, value in changes.items():
        if key in SECTIONS and isinstance(value, dict) and out.get(key) is not None:
            out[key] = {**dict(out[key]), **value}
        else:
            out[key] = value
    return out


class EnvironmentSource(PydanticBaseSettingsSource):
    """The settings found in an environment mapping: each field's variables in order, blank ones ignored."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        var = next(v for v in variables() if v.name == field_name and not v.section)
        found = self._lookup(var)
        return (found[1] if found else None), (found[0] if found else field_name), False

    def _lookup(self, var: Variable) -> tuple[str, str] | None:
        if not var.from_env:
            return None
        for name in var.env:
            raw = self.env.get(name)
            if raw is not None and raw.strip() != "":
                return name, raw
        return None

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for var in variables():
            found = self._lookup(var)
            if found is None:
                continue
            if var.section:
                values.setdefault(var.section, {})[var.name] = found[1]
            else:
                values[var.name] = found[1]
        return values


# --- messages -------------------------------------------------------------------------------------
def _describe(exc: ValidationError) -> str:
    """One line per problem, each naming the variable: `KB_TOP_K=0: must be at least 1`."""
    return "; ".join(_one(error) for error in exc.errors(include_url=False))


def _one(error: Any) -> str:
    message = str(error.get("msg", "invalid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
        if message.startswith(_PREFIX):
            return message
    loc = [str(part) for part in error.get("loc", ())]
    var = _variable_at(loc)
    if error.get("type") == "extra_forbidden":
        return f"unknown setting {'.'.join(loc)!r}"
    if var is None:
        return f"{'.'.join(loc) or 'settings'}: {message}"
    value = "***" if var.secret else _show(error.get("input"))
    return f"{var.env[0]}={value}: {_reason(error, message)}"


def _variable_at(loc: list[str]) -> Variable | None:
    for var in variables():
        if (var.section and loc[:2] == [var.section, var.name]) or (not var.section and loc[:1] == [var.name]):
            return var
    return None


def _show(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        try:
            float(value)
            return value
        except ValueError:
            return repr(value)
    return repr(value)


def _reason(error: Any, message: str) -> str:
    ctx = error.get("ctx") or {}
    kind = error.get("type")
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "greater_than":
        return "must be positive" if ctx.get("gt") == 0 else f"must be above {ctx['gt']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "")
    return message[:1].lower() + message[1:]


# --- the environment of libraries and child processes --------------------------------------------
def quiet_model_libraries(offline: bool = True) -> None:
    """Quiet Hugging Face / transformers / tokenizers before they are imported (progress bars,
    advisory warnings, fork warnings); with `offline`, never ask a model hub. Variables the user
    set are kept."""
    quiet = {"TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error",
             "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
    if offline:
        quiet["HF_HUB_OFFLINE"] = "1"
    for key, value in quiet.items():
        os.environ.setdefault(key, value)


def child_environment(pythonpath: str | Path | None = None, inherit_kb: bool = False, **settings: Any) -> dict[str, str]:
    """The environment for running kb in a child process: this one's, without its `KB_*` variables
    unless `inherit_kb`; each given setting (by flat name: `home=`, `embedding_model=`, …) as its
    variable, or with all its variables removed when given None (`openai_api_key=None` drops
    OPENAI_API_KEY too); and `pythonpath` first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if inherit_kb or not k.startswith(_PREFIX)}
    for flat, value in settings.items():
        var = variable(flat)
        for name in var.env:
            env.pop(name, None)
        if value is not None:
            env[var.env[0]] = (reveal(value) or "") if isinstance(value, SecretStr) else str(value)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p)
    return env
