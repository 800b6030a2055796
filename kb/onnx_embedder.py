"""A sentence-transformers model run with onnxruntime and tokenizers only (no torch at run time).

It computes what the sentence-transformers pipeline Transformer -> mean Pooling -> Normalize does:
texts are stripped, tokenized with the model's tokenizer.json (special tokens added, truncated to
the model's max_seq_length), run through the exported transformer, mean-pooled over the
attention mask and L2-normalised. The export itself is made once by kb/onnx_export.py; the
session runs the optimised copy beside it (made on first use) with graph optimisation off, or the
export itself, optimised as it loads, where that copy cannot be made or read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


class OnnxEmbedder:
    """The embedder interface of kb.embeddings over an ONNX export of a model folder."""

    def __init__(self, name: str, model_dir: Path, onnx_path: Path, max_tokens: int, batch_size: int = 64) -> None:
        self.name = name
        self.model_dir = model_dir
        self.onnx_path = onnx_path
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=self.max_tokens)
            session = self._open_session(ort)
            self._inputs = {i.name for i in session.get_inputs()}
            self._tokenizer, self._session = tokenizer, session

    def _open_session(self, ort: Any) -> Any:
        """A session on the optimised copy of the export (made here the first time), else on the export."""
        from kb.onnx_export import optimize, optimized_path

        fast = optimized_path(self.onnx_path, ort.__version__)
        try:
            if not fast.is_file():
                optimize(self.onnx_path, fast)
        except Exception as exc:  # a read-only cache, a full disk: the export itself still runs
            _log.debug("no optimised copy of %s: %s", self.onnx_path, exc)
        else:
            try:
                return ort.InferenceSession(str(fast), _options(ort, optimised=True), providers=["CPUExecutionProvider"])
            except Exception as exc:  # a damaged copy
                _log.warning("kb: cannot load %s (%s); using the export itself (delete that folder to have it remade)",
                             fast.parent, str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__)
        return ort.InferenceSession(str(self.onnx_path), _options(ort, optimised=False), providers=["CPUExecutionProvider"])

    def _load_counter(self) -> Any:
        """The untruncated tokenizer count_tokens uses, loaded on first use (searching never counts)."""
        with self._lock:
            if self._counter is None:
                from tokenizers import Tokenizer

                counter = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                counter.no_padding()
                counter.no_truncation()
                self._counter = counter
            return self._counter

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, special tokens included, without truncation."""
        counter = self._counter or self._load_counter()
        return len(counter.encode(text, add_special_tokens=True).ids)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        self._load()
        import numpy as np

        encodings = self._tokenizer.encode_batch([str(t).strip() for t in texts], add_special_tokens=True)
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))  # like encode(): less padding
        out = np.zeros((len(encodings), 0), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = [encodings[i] for i in order[start : start + self.batch_size]]
            vectors = self._run(batch)
            if out.shape[1] == 0:
                out = np.zeros((len(encodings), vectors.shape[1]), dtype=np.float32)
            out[order[start : start + self.batch_size]] = vectors
        return out.tolist()

    def _run(self, batch: list[Any]) -> Any:
        import numpy as np

        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64)
        for row, e in enumerate(batch):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = 1
            types[row, :n] = e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)


def _options(ort: Any, optimised: bool) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # no busy-waiting between ops: on a shared or busy machine spinning threads only steal CPU
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if optimised:  # the graph was optimised when the copy was saved: loading skips that work
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options
