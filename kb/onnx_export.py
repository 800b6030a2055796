"""Export a sentence-transformers model folder's transformer to ONNX, once, into KB_HOME.

The export needs torch and transformers (installed with sentence-transformers); running the
exported model needs only onnxruntime and tokenizers (see kb/onnx_embedder.py). An export is
keyed by a hash of the model folder's files, so a changed model gets a new export, and it is
written to a temporary file and renamed into place, so a process never sees half of one.

Beside the export, `optimize` keeps the graph onnxruntime itself optimises (its extended level:
the same fused operators, the same arithmetic) for the installed onnxruntime version, with the
weights in a separate file: a session then loads that copy with graph optimisation off and
memory-maps the weights instead of parsing and copying them (session creation ≈ 0.05 instead of
≈ 0.17 CPU-s). It is made with onnxruntime alone, on first use, so an export made before it
existed gets its copy without torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from kb.settings import quiet_model_libraries

# files whose content defines what the exported graph and its tokenizer compute
_MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
                "sentence_bert_config.json", "modules.json", "1_Pooling/config.json")


class UnsupportedModel(ValueError):
    """The model folder is not a plain transformer + mean pooling (+ normalize) pipeline."""


def check_pipeline(model_dir: Path) -> int:
    """Raise UnsupportedModel unless the folder is transformer + mean pooling; returns max_seq_length."""
    if not (model_dir / "tokenizer.json").is_file():
        raise UnsupportedModel(f"{model_dir}: no tokenizer.json")
    modules = json.loads((model_dir / "modules.json").read_text()) if (model_dir / "modules.json").is_file() else []
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        raise UnsupportedModel(f"{model_dir}: modules {kinds} are not Transformer, Pooling[, Normalize]")
    pooling = json.loads((model_dir / modules[1].get("path", "1_Pooling") / "config.json").read_text())
    others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and k != "pooling_mode_mean_tokens"]
    if not pooling.get("pooling_mode_mean_tokens") or others:
        raise UnsupportedModel(f"{model_dir}: pooling is not mean pooling only")
    st_config = model_dir / "sentence_bert_config.json"
    config = json.loads(st_config.read_text()) if st_config.is_file() else {}
    if config.get("do_lower_case"):
        raise UnsupportedModel(f"{model_dir}: do_lower_case is not supported")
    return int(config.get("max_seq_length") or 512)


def model_hash(model_dir: Path, cache: Path) -> str:
    """A content hash of the model's files, remembered by (path, size, mtime) so it is computed once."""
    parts = [(name, model_dir / name) for name in _MODEL_FILES if (model_dir / name).is_file()]
    stamp = json.dumps([(n, p.stat().st_size, p.stat().st_mtime_ns) for n, p in parts] + [str(model_dir.resolve())])
    memo = cache / "hashes.json"
    known: dict[str, str] = {}
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        pass
    if stamp in known:
        return known[stamp]
    h = hashlib.blake2b(digest_size=12)
    for name, path in parts:
        h.update(name.encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()
    known[stamp] = digest
    cache.mkdir(parents=True, exist_ok=True)
    _atomic_write(memo, json.dumps(known).encode())
    return digest


def export_path(model_dir: Path, cache: Path, name: str = "") -> Path:
    """Where the export of this model (by content) lives: <cache>/<name>-<hash>/model.onnx."""
    base = (name or model_dir.name).rstrip("/").split("/")[-1].lower()
    slug = "".join(c if c.isalnum() else "-" for c in base)[:40]
    return cache / f"{slug}-{model_hash(model_dir, cache)}" / "model.onnx"


def export(model_dir: Path, dest: Path) -> Path:
    """Export the transformer (input_ids, attention_mask, token_type_ids -> last_hidden_state)."""
    import warnings

    quiet_model_libraries(offline=True)
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=dest.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Hidden(), (ids, ids, torch.zeros_like(ids)), tmp, input_names=names,
                              output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def optimized_path(onnx_path: Path, runtime_version: str) -> Path:
    """Where the optimised copy of an export lives for one onnxruntime version:
    <export folder>/ort-<version>/model.onnx, its weights beside it in model.onnx.data."""
    version = "".join(c if c.isalnum() or c in ".-" else "-" for c in runtime_version)
    return onnx_path.parent / f"ort-{version}" / onnx_path.name


def optimize(onnx_path: Path, dest: Path) -> Path:
    """Save onnxruntime's extended-level optimisation of `onnx_path` at `dest` (weights in
    `dest`.data). Both files are written into a temporary folder renamed into place, so a process
    sees the pair or nothing; when another process got there first, its copy is kept."""
    import onnxruntime as ort

    dest.parent.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".optimize-", dir=dest.parent.parent))
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # extended, not all: the saved graph holds no layout choices specific to this CPU
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(work / dest.name)
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", dest.name + ".data")
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        if not (work / dest.name).is_file():
            raise OSError(f"{onnx_path}: onnxruntime saved no optimised graph")
        try:
            os.replace(work, dest.parent)
        except OSError:
            if not dest.is_file():  # not a copy another process made first: a real failure
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
