"""Settings: every variable that worked keeps working, values are checked with messages that name
the variable, secrets stay out of reprs and keys, and the README's table is the generated one."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

from kb.settings import (
    FLAT_NAMES,
    SECTIONS,
    RetrievalSettings,
    Settings,
    SettingsError,
    child_environment,
    quiet_model_libraries,
    reveal,
    variables,
)

ROOT = Path(__file__).resolve().parent.parent

# (variable, value, where it lands, the value read) — the variables users set before the sections.
KNOWN = [
    ("KB_HOME", "/tmp/kb-somewhere", "home", Path("/tmp/kb-somewhere")),
    ("KB_CHROMA_URL", "http://127.0.0.1:8000", "chroma_url", "http://127.0.0.1:8000"),
    ("KB_CHROMA_TIMEOUT_S", "2.5", "chroma_timeout_s", 2.5),
    ("KB_COLLECTION_PREFIX", "mine", "collection_prefix", "mine"),
    ("KB_LEXICON_FILE", "words.json", "lexicon_file", "words.json"),
    ("KB_LOG_LEVEL", "info", "log_level", "INFO"),
    ("KB_EMBEDDING_MODEL", "hashing", "embedding.model", "hashing"),
    ("KB_EMBEDDING_DEVICE", "cpu", "embedding.device", "cpu"),
    ("KB_EMBEDDING_BACKEND", "onnx", "embedding.backend", "onnx"),
    ("KB_EMBEDDING_BATCH_SIZE", "16", "embedding.batch_size", 16),
    ("KB_MODEL_CACHE", "/tmp/models", "embedding.model_cache", Path("/tmp/models")),
    ("KB_CHUNK_TOKENS", "120", "chunking.tokens", 120),
    ("KB_CHUNK_OVERLAP_TOKENS", "8", "chunking.overlap_tokens", 8),
    ("KB_TOP_K", "7", "retrieval.top_k", 7),
    ("KB_CANDIDATES", "12", "retrieval.candidates", 12),
    ("KB_RRF_K", "10", "retrieval.rrf_k", 10),
    ("KB_BACKEND", "offline", "agent.backend", "offline"),
    ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1", "agent.openai_base_url", "http://127.0.0.1:1/v1"),
    ("KB_OPENAI_BASE_URL", "http://127.0.0.1:2/v1", "agent.openai_base_url", "http://127.0.0.1:2/v1"),
    ("KB_MODEL", "llama3.1", "agent.model", "llama3.1"),
    ("KB_MODEL_TOOLS", "off", "agent.model_tools", "off"),
    ("KB_REQUEST_TIMEOUT_S", "5", "agent.request_timeout_s", 5.0),
    ("KB_MAX_RETRIES", "0", "agent.max_retries", 0),
    ("KB_MAX_TOOL_ROUNDS", "2", "agent.max_tool_rounds", 2),
    ("KB_MAX_HISTORY_TURNS", "1", "agent.max_history_turns", 1),
    ("KB_CONTEXT_TOKEN_BUDGET", "500", "agent.context_token_budget", 500),
    ("KB_ABSTAIN_THRESHOLD", "0.3", "agent.abstain_threshold", 0.3),
    ("KB_MIN_COVERAGE", "0.1", "agent.min_coverage", 0.1),
    ("KB_ATTRIBUTION_THRESHOLD", "0.6", "agent.attribution_threshold", 0.6),
    ("KB_TOKENIZER_TIMEOUT", "0.001", "agent.tokenizer_timeout_s", 0.001),
    ("KB_FETCH_TIMEOUT_S", "3", "fetch.timeout_s", 3.0),
    ("KB_FETCH_MAX_BYTES", "5000", "fetch.max_bytes", 5000),
    ("KB_FETCH_RETRIES", "1", "fetch.retries", 1),
    ("KB_CAPTION_LANGUAGE", "de", "fetch.caption_language", "de"),
    ("KB_SLACK_WORKERS", "3", "slack.workers", 3),
    ("SLACK_API_URL", "http://127.0.0.1:9/api", "slack.api_url", "http://127.0.0.1:9/api/"),
    ("KB_MCP_HOST", "0.0.0.0", "mcp.host", "0.0.0.0"),
    ("KB_MCP_PORT", "9000", "mcp.port", 9000),
]
SECRETS = [("OPENAI_API_KEY", "agent.openai_api_key"), ("KB_OPENAI_API_KEY", "agent.openai_api_key"),
           ("SLACK_BOT_TOKEN", "slack.bot_token"), ("SLACK_SIGNING_SECRET", "slack.signing_secret"),
           ("SLACK_APP_TOKEN", "slack.app_token"), ("KB_MCP_TOKEN", "mcp.token")]


def at(settings: Settings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("var", "raw", "path", "expected"), KNOWN, ids=[k[0] for k in KNOWN])
def test_every_variable_keeps_its_name(var: str, raw: str, path: str, expected: object) -> None:
    assert at(Settings.from_env({var: raw}), path) == expected
    assert at(Settings(), path) != expected


@pytest.mark.parametrize(("var", "path"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_variables_are_read_and_hidden(var: str, path: str) -> None:
    settings = Settings.from_env({var: "s3cr3t-value"})
    assert reveal(at(settings, path)) == "s3cr3t-value"  # type: ignore[arg-type]
    for text in (repr(settings), str(settings), str(settings.flat()), settings.cache_key(), settings.model_dump_json()):
        assert "s3cr3t-value" not in text


def test_the_kb_name_wins_and_blank_values_are_unset() -> None:
    both = Settings.from_env({"OPENAI_API_KEY": "plain", "KB_OPENAI_API_KEY": "prefixed"})
    assert reveal(both.agent.openai_api_key) == "prefixed"
    blank = Settings.from_env({"KB_TOP_K": "", "OPENAI_API_KEY": " ", "KB_OPENAI_API_KEY": ""})
    assert blank.retrieval.top_k == 5 and blank.agent.openai_api_key is None and blank.resolved_backend == "offline"
    assert Settings.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}).resolved_backend == "openai"


def test_only_from_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KB_TOP_K", "9")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    assert Settings().retrieval.top_k == 5 and Settings().slack.bot_token is None
    from_env = Settings.from_env(top_k=None, home=tmp_path)
    assert from_env.retrieval.top_k == 9 and reveal(from_env.slack.bot_token) == "xoxb-env" and from_env.home == tmp_path
    assert Settings.from_env(top_k=3).retrieval.top_k == 3  # arguments over the environment


def test_flat_and_section_keywords(tmp_path: Path) -> None:
    flat = Settings(home=tmp_path, top_k=3, embedding_model="hashing", chunk_tokens=120, chunk_overlap_tokens=16,
                    openai_api_key="k", slack_workers=2, mcp_port=9999)
    nested = Settings(home=tmp_path, retrieval={"top_k": 3}, embedding={"model": "hashing"},
                      chunking={"tokens": 120, "overlap_tokens": 16}, agent={"openai_api_key": "k"}, slack={"workers": 2},
                      mcp={"port": 9999})
    assert flat == nested and flat.cache_key() == nested.cache_key()
    assert set(FLAT_NAMES) == {v.flat for v in variables() if v.section}
    changed = flat.with_(top_k=4, model="m", chroma_url=None)
    assert (changed.retrieval.top_k, changed.agent.model, changed.embedding.model) == (4, "m", "hashing")
    assert changed.chunking == flat.chunking and flat.retrieval.top_k == 3  # a copy; the original is frozen
    assert flat.with_(chroma_url="http://x").replace(chroma_url=None).chroma_url is None
    assert flat.with_(candidates=9).replace(retrieval={"top_k": 6}).retrieval == RetrievalSettings(top_k=6, candidates=9)
    assert Settings.from_env({"KB_CANDIDATES": "9"}, retrieval={"top_k": 6}).retrieval == RetrievalSettings(top_k=6, candidates=9)
    assert Settings(home="~/kb-x", model_cache="~/m").home == Path.home() / "kb-x"
    assert Settings(model_cache="~/m").model_cache_path == Path.home() / "m"
    assert Settings(home=tmp_path).model_cache_path == tmp_path / "models"


@pytest.mark.parametrize(("given", "message"), [
    ({"top_k": 0}, "KB_TOP_K=0: must be at least 1"),
    ({"chunk_tokens": 64, "chunk_overlap_tokens": 64}, "KB_CHUNK_OVERLAP_TOKENS=64: must be below KB_CHUNK_TOKENS=64"),
    ({"model_tools": "sometimes"}, "KB_MODEL_TOOLS='sometimes': must be one of auto, on or off"),
    ({"backend": "magic"}, "KB_BACKEND='magic': must be one of auto, offline or openai"),
    ({"embedding_backend": "tpu"}, "KB_EMBEDDING_BACKEND='tpu'"),
    ({"request_timeout_s": 0}, "KB_REQUEST_TIMEOUT_S=0: must be positive"),
    ({"mcp_port": 70000}, "KB_MCP_PORT=70000: must be at most 65535"),
    ({"log_level": "loud"}, "KB_LOG_LEVEL='loud': must be one of DEBUG"),
    ({"min_coverage": 2}, "KB_MIN_COVERAGE=2: must be at most 1"),
    ({"no_such_setting": 1}, "unknown setting 'no_such_setting'"),
])
def test_bad_values_name_the_variable(given: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings(**given)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_environment_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^KB_EMBEDDING_BATCH_SIZE=0: must be at least 1$"):
        Settings.from_env({"KB_EMBEDDING_BATCH_SIZE": "0"})
    with pytest.raises(SettingsError, match=r"^KB_TOP_K='many': input should be a valid integer"):
        Settings.from_env({"KB_TOP_K": "many"})
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"KB_TOP_K": "0", "KB_FETCH_RETRIES": "-1"})
    assert "KB_TOP_K=0" in str(info.value) and "KB_FETCH_RETRIES=-1" in str(info.value)


def test_cache_key_tells_secrets_apart_without_showing_them() -> None:
    a, b = Settings(openai_api_key="key-a"), Settings(openai_api_key="key-b")
    assert a.cache_key() != b.cache_key() and a.cache_key() == Settings(openai_api_key="key-a").cache_key()
    assert "key-a" not in a.cache_key() and "openai_api_key" not in a.flat()


def test_child_environment_and_quiet_libraries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KB_TOP_K", "9")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = child_environment(tmp_path, home=tmp_path / "h", embedding_model="hashing", backend="offline")
    assert "KB_TOP_K" not in env and env["KB_HOME"] == str(tmp_path / "h") and env["KB_EMBEDDING_MODEL"] == "hashing"
    assert env["KB_BACKEND"] == "offline" and env["PYTHONPATH"] == os.pathsep.join([str(tmp_path), "/elsewhere"])
    assert Settings.from_env(env).embedding.model == "hashing"
    with pytest.raises(SettingsError, match="unknown setting"):
        child_environment(no_such_setting=1)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent")
    monkeypatch.setenv("KB_BACKEND", "openai")
    assert "OPENAI_API_KEY" not in child_environment(openai_api_key=None)
    kept = child_environment(inherit_kb=True, backend="offline", openai_api_key="sk-child")
    assert (kept["KB_TOP_K"], kept["KB_BACKEND"], kept["KB_OPENAI_API_KEY"]) == ("9", "offline", "sk-child")
    assert "OPENAI_API_KEY" not in kept
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    quiet_model_libraries(offline=False)
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


def test_every_setting_has_a_description_and_the_readme_table_is_current() -> None:
    assert all(v.info.description for v in variables()), [v.path for v in variables() if not v.info.description]
    spec = importlib.util.spec_from_file_location("settings_table", ROOT / "scripts" / "settings_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module.render(readme) == readme, "README.md's settings table is stale: run python scripts/settings_table.py"


def _sources(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def test_only_the_settings_module_reads_the_environment() -> None:
    found = [str(p.relative_to(ROOT)) for p in _sources("kb", "ingest", "agent", "evals", "interfaces")
             if "os.environ" in p.read_text(encoding="utf-8") or "getenv(" in p.read_text(encoding="utf-8")]
    assert found == ["kb/settings.py"]


def test_no_code_reads_a_setting_by_its_flat_name() -> None:
    """Settings are read through their sections (`settings.retrieval.top_k`); a flat name after
    `settings.` is an old call site: /work/wt/settings_codemod.py (branch `settings`) rewrites it."""
    fields = "|".join(sorted(FLAT_NAMES, key=len, reverse=True))
    flat = re.compile(rf"(?<!\w)(\w*settings|Settings(?:\.from_env)?\([^()]*\))\.({fields})\b")
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
            for p in _sources("kb", "ingest", "agent", "evals", "interfaces", "tests", "scripts") if p.name != "settings.py"
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if (m := flat.search(line)) and m.group(1) != "chroma_settings"]
    assert not hits, "\n".join(hits)
    assert set(SECTIONS) == {v.section for v in variables() if v.section}
