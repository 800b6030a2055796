"""The same code ingests and searches through a real `chroma run` server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from interfaces.cli import main
from kb.retrieval import Retriever
from kb.settings import Settings

pytestmark = pytest.mark.slow  # starts `chroma run`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("chroma run exited")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma run did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_search_through_a_chroma_server(chroma_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "talk.txt"
    doc.write_text("# Talk\nhttps://youtu.be/xyz\n[00:05] Power is the bottleneck for data centers.\n[00:09] A gigawatt is half a million GPUs.\n")
    settings = Settings(home=tmp_path / "home", chroma_url=chroma_server, embedding_model="hashing")
    first = ingest([doc], settings=settings, progress=False)
    assert first.chunks_added >= 1 and not (tmp_path / "home" / "chroma").exists()
    assert ingest([doc], settings=settings, progress=False).chunks_added == 0
    # a second client (another process, another user) sees the same index
    hits = Retriever(Settings(home=tmp_path / "other", chroma_url=chroma_server, embedding_model="hashing")).search("gigawatt GPUs")
    assert hits[0].source == "talk" and hits[0].at == "00:09" and hits[0].link == "https://youtu.be/xyz?t=9"
    assert main(["--home", str(tmp_path / "h3"), "--embedding-model", "hashing", "--chroma-url", chroma_server, "sources"]) == 0
    assert "talk  1 chunks" in capsys.readouterr().out



def test_sources_through_a_server_are_always_read_from_it(chroma_server: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """No source list is kept for a server: another client's ingest shows at once, and the list an
    embedded store of the same collection keeps in the same KB_HOME is neither used nor touched."""
    from kb import catalogue
    from kb.store import Store

    monkeypatch.setenv("KB_COLLECTION_PREFIX", "listing")  # a collection of this test's own on the server
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("[00:03] Kilns dry oak slowly.\n")
    two.write_text("[00:04] Ash dries faster than oak.\n")
    home = tmp_path / "home"
    local = Settings(home=home, embedding_model="hashing", collection_prefix="listing")
    served = local.with_(chroma_url=chroma_server)
    ingest([one], settings=local, progress=False)  # the embedded store, with its list
    name = Store(local).name
    ingest([two], settings=served, progress=False)
    ingest([one], settings=served.with_(home=tmp_path / "other"), progress=False)  # another client
    assert [s.source for s in catalogue.load(local, name) or []] == ["one"]
    assert catalogue.load(served, name) is None
    assert main(["--home", str(home), "--embedding-model", "hashing", "--chroma-url", chroma_server, "sources", "--json"]) == 0
    assert sorted(s["source"] for s in json.loads(capsys.readouterr().out)) == ["one", "two"]
