"""The ONNX backend computes the sentence-transformers vectors: same vectors (cosine >= 0.9999,
including texts longer than the model's 256 tokens), same token counts, same top-5 passages on
the calibration questions; and `kb search` does not import torch when an export exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import bundled_corpus
from kb.embeddings import SentenceTransformerEmbedder, get_embedder, onnx_embedder
from kb.errors import EmbeddingUnavailable
from kb.onnx_embedder import OnnxEmbedder
from kb.retrieval import Retriever
from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def _varied_texts() -> list[str]:
    lines = [ln.strip() for f in sorted(bundled_corpus().glob("*.txt"))
             for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    step = max(1, len(lines) // 220)
    texts = lines[::step][:220]
    texts += [" ".join(lines[i : i + 40]) for i in range(0, 40 * 30, 40)]  # far over 256 tokens: truncated
    texts += ["", "   ", "a", "GPU", "3.5 GW at $70bn/GW ≈ $245bn", "naïve café — Zürich 東京 🚀",
              "  padded with spaces  ", "UPPER case and lower case", "[01:02:03] a stamped line", "x " * 300]
    return texts


@pytest.mark.slow
def test_onnx_vectors_equal_sentence_transformers(torch_embedder: SentenceTransformerEmbedder) -> None:
    onnx = get_embedder(Settings())
    assert isinstance(onnx, OnnxEmbedder)
    texts = _varied_texts()
    assert len(texts) >= 250 and max(torch_embedder.count_tokens(t) for t in texts) > 256
    a = np.asarray(onnx.embed(texts))
    b = np.asarray(torch_embedder.embed(texts))
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosine.min() >= 0.9999, texts[int(cosine.argmin())][:80]
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert [onnx.count_tokens(t) for t in texts[::7]] == [torch_embedder.count_tokens(t) for t in texts[::7]]
    assert onnx.max_tokens == torch_embedder.max_tokens == 256


@pytest.mark.slow
def test_same_top5_on_calibration_questions(corpus_settings: Settings, torch_embedder: SentenceTransformerEmbedder) -> None:
    """The corpus index was written by the default (ONNX) backend; the torch backend reads it too."""
    questions = [json.loads(line)["question"] for line in (ROOT / "evals/gold/dev.jsonl").read_text().splitlines() if line.strip()]
    by_onnx = Retriever(corpus_settings)
    by_torch = Retriever(corpus_settings, embedder=torch_embedder)
    assert isinstance(by_onnx.embedder, OnnxEmbedder)
    for q in questions:
        for mode in ("dense", "hybrid"):
            assert [p.chunk_id for p in by_onnx.search(q, k=5, mode=mode)] == \
                   [p.chunk_id for p in by_torch.search(q, k=5, mode=mode)], (q, mode)


@pytest.mark.slow
def test_kb_search_does_not_import_torch(corpus_settings: Settings) -> None:
    onnx = get_embedder(corpus_settings)
    assert isinstance(onnx, OnnxEmbedder) and onnx.onnx_path.is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_HOME=str(corpus_settings.home), KB_MODEL_CACHE=str(onnx.onnx_path.parent.parent),
               PYTHONPATH=str(ROOT))
    code = ("import sys; from interfaces.cli import main; rc = main(['search', 'gigawatt GPUs']); "
            "print('HEAVY', sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)); "
            "sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout and "1. [" in out.stdout


def test_backend_setting_chooses_and_explains(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="KB_EMBEDDING_BACKEND"):
        Settings(embedding_backend="tensorflow")
    folder = tmp_path / "cls-model"
    folder.mkdir()
    (folder / "tokenizer.json").write_text("{}")
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    with pytest.raises(EmbeddingUnavailable, match="not mean pooling"):
        onnx_embedder(str(folder), tmp_path / "cache")
    with pytest.raises(EmbeddingUnavailable, match="local model folder"):
        onnx_embedder("some-org/some-hub-model", tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").glob("*/model.onnx"))


def _tiny_model(path: Path) -> Path:
    """A one-MatMul graph with a weight big enough to go to the external-data file."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(32 * 16, dtype=np.float32).reshape(32, 16) / 100, "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 16])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_optimised_copy_is_made_once_beside_the_export(tmp_path: Path) -> None:
    import onnxruntime as ort

    from kb.onnx_export import optimize, optimized_path

    (tmp_path / "tiny-abc").mkdir()
    src = _tiny_model(tmp_path / "tiny-abc" / "model.onnx")
    dest = optimized_path(src, "1.2.3+cpu")
    assert dest == tmp_path / "tiny-abc" / "ort-1.2.3-cpu" / "model.onnx"
    assert optimize(src, dest) == dest and (dest.parent / "model.onnx.data").stat().st_size >= 32 * 16 * 4
    stamp = dest.stat().st_mtime_ns
    optimize(src, dest)  # another process's copy already there: kept, no temporary folder left behind
    assert dest.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (tmp_path / "tiny-abc").iterdir()) == ["model.onnx", "ort-1.2.3-cpu"]
    x = np.ones((3, 32), dtype=np.float32)
    a = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    b = ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.array_equal(a, b)


@pytest.mark.slow
def test_an_older_export_gets_its_optimised_copy_and_a_damaged_copy_falls_back(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import onnxruntime as ort

    from kb import onnx_export

    made = get_embedder(Settings())
    assert isinstance(made, OnnxEmbedder)
    old = tmp_path / made.onnx_path.parent.name / "model.onnx"  # an export as the code before the copy left it
    old.parent.mkdir()
    old.symlink_to(made.onnx_path)
    texts = ["an export made before optimised copies existed", "x " * 300, ""]
    first = OnnxEmbedder(made.name, made.model_dir, old, made.max_tokens)
    vectors = np.asarray(first.embed(texts))
    copy = onnx_export.optimized_path(old, ort.__version__)
    assert copy.is_file() and (copy.parent / "model.onnx.data").is_file()
    assert np.array_equal(vectors, np.asarray(made.embed(texts)))
    copy.write_bytes(b"not a graph")
    with caplog.at_level("WARNING", logger="kb.onnx_embedder"):
        damaged = np.asarray(OnnxEmbedder(made.name, made.model_dir, old, made.max_tokens).embed(texts))
    assert "cannot load" in caplog.text and str(copy.parent) in caplog.text
    assert np.abs(damaged - vectors).max() < 1e-6
