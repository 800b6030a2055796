"""Token budgets: count tokens with tiktoken and pack retrieved passages into a prompt budget.

`get_counter(model)` returns a cached `TokenCounter` backed by tiktoken's encoding for the
model (unknown models use `o200k_base`). tiktoken downloads its BPE file on first use
(`https://openaipublic.blob.core.windows.net/encodings/...`) into `TIKTOKEN_CACHE_DIR`
(else `DATA_GYM_CACHE_DIR`, else `<tmp>/data-gym-cache`). When that cannot happen, e.g.
offline, the counter falls back to an estimate (see `estimate_tokens`) and ONE warning is
emitted per process (`warnings.warn` with `TokenizerFallbackWarning`, plus a log record).

Not hanging offline: tiktoken 0.14 fetches with `requests.get(url)` and no timeout. Where DNS
fails (measured in this sandbox) it raises `requests.ConnectionError` in ~0.05 s, but on a
network that silently drops packets it would block for the OS connect timeout (minutes).
So the encoding is loaded in a daemon thread and waited for at most `load_timeout` seconds
(default 10, env `KB_TOKENIZER_TIMEOUT`); a cached BPE file loads in well under a second.
To run offline with exact counts, pre-seed the cache dir (`TIKTOKEN_CACHE_DIR`) with the file.

`pack(items, budget, counter, reserve)` takes passages in relevance order and greedily keeps
every one that still fits into `budget - reserve` tokens, skipping too-large ones.
Anything with `.count(text)` or a tiktoken `Encoding` (via `.encode`) works as a counter.
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from kb.errors import TokenizerFallbackWarning

__all__ = [
    "EstimateCounter",
    "TiktokenCounter",
    "TokenCounter",
    "TokenizerFallbackWarning",
    "clear_cache",
    "count_tokens",
    "estimate_tokens",
    "get_counter",
    "pack",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
FALLBACK_ENCODING = "o200k_base"
DEFAULT_LOAD_TIMEOUT = 10.0


@runtime_checkable
class TokenCounter(Protocol):
    """Anything that counts the tokens of a text."""

    def count(self, text: str) -> int: ...


class _Encoder(Protocol):
    """A tiktoken `Encoding`-like object."""

    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...


def estimate_tokens(text: str) -> int:
    """Offline estimate: `max(ceil(chars / 4), ceil(words * 1.3))`.

    ~4 characters per token is OpenAI's rule of thumb for English; the words * 1.3 term keeps
    short-word and punctuation-heavy text from being under-counted. Both lean high, which is
    the safe side for a budget (o200k_base averages ~4.5 chars per English token).
    """
    if not text:
        return 0
    return max(math.ceil(len(text) / 4), math.ceil(len(text.split()) * 1.3))


class EstimateCounter:
    """The fallback counter: `estimate_tokens`, no tokenizer needed."""

    name = "estimate"

    def count(self, text: str) -> int:
        return estimate_tokens(text)

    def __repr__(self) -> str:
        return "EstimateCounter()"


class TiktokenCounter:
    """Exact counts with a tiktoken `Encoding`; special-token text counts as plain text."""

    def __init__(self, encoding: _Encoder) -> None:
        self.encoding = encoding
        self.name = str(getattr(encoding, "name", "tiktoken"))

    def count(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=())) if text else 0

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.name!r})"


def count_tokens(counter: TokenCounter | _Encoder, text: str) -> int:
    """Count with a `TokenCounter` or a tiktoken `Encoding`."""
    if isinstance(counter, TokenCounter):
        return counter.count(text)
    return TiktokenCounter(counter).count(text)


def _tiktoken_loader(model: str) -> _Encoder:
    import tiktoken

    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:  # a model tiktoken does not know: use the current default encoding
        return tiktoken.get_encoding(FALLBACK_ENCODING)


def _load_with_timeout(loader: Callable[[str], _Encoder], model: str, timeout: float) -> _Encoder:
    """Run `loader(model)` in a daemon thread; raise TimeoutError if it takes too long."""
    result: list[_Encoder] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(loader(model))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name=f"tiktoken-load-{model}", daemon=True)
    thread.start()
    thread.join(timeout)
    if failure:
        raise failure[0]
    if not result:
        raise TimeoutError(f"loading the tokenizer took more than {timeout:g}s")
    return result[0]


_lock = threading.Lock()
_counters: dict[str, TokenCounter] = {}
_warned = False
_tiktoken_failed = False  # after one failed default load, don't try the network again


def _warn_once(model: str, exc: BaseException) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    message = (
        f"tiktoken encoding for {model!r} unavailable ({type(exc).__name__}: {str(exc)[:200]}); "
        "token counts are estimates (max(chars/4, words*1.3)). Pre-seed TIKTOKEN_CACHE_DIR "
        "with the BPE file for exact counts."
    )
    log.warning(message)
    warnings.warn(message, TokenizerFallbackWarning, stacklevel=3)


def get_counter(
    model: str = DEFAULT_MODEL,
    *,
    loader: Callable[[str], _Encoder] | None = None,
    load_timeout: float | None = None,
) -> TokenCounter:
    """The cached token counter for `model`, or the estimate if tiktoken cannot load.

    `loader(model) -> Encoding` replaces the tiktoken lookup (tests use one that raises).
    Counters are cached per model for the process; `clear_cache()` forgets them. Once the
    default tiktoken load has failed, other models go straight to the estimate too, so an
    offline process pays the (bounded) load attempt only once.
    """
    global _tiktoken_failed
    with _lock:
        cached = _counters.get(model)
        if cached is not None:
            return cached
        if load_timeout is None:
            load_timeout = DEFAULT_LOAD_TIMEOUT  # callers pass settings.agent.tokenizer_timeout_s (KB_TOKENIZER_TIMEOUT)
        counter: TokenCounter
        if loader is None and _tiktoken_failed:
            counter = EstimateCounter()
        else:
            try:
                encoding = _load_with_timeout(loader or _tiktoken_loader, model, load_timeout)
                counter = TiktokenCounter(encoding)
            except Exception as exc:  # noqa: BLE001 - any failure (network, hash, timeout)
                _tiktoken_failed = _tiktoken_failed or loader is None
                _warn_once(model, exc)
                counter = EstimateCounter()
        _counters[model] = counter
        return counter


def clear_cache() -> None:
    """Forget cached counters and re-arm the one-time fallback warning (for tests)."""
    global _warned, _tiktoken_failed
    with _lock:
        _counters.clear()
        _warned = False
        _tiktoken_failed = False


def pack(
    items: Sequence[str],
    budget: int,
    counter: TokenCounter | _Encoder,
    reserve: int = 0,
    *,
    per_item: int = 0,
) -> list[int]:
    """Indices (ascending) of the items that fit into `budget - reserve` tokens.

    Items are in relevance order; each is kept if its count (+ `per_item` overhead for
    separators/headers) still fits, otherwise skipped so later, smaller ones can fill the
    room. The total never exceeds the budget; no room means an empty list.
    """
    room = budget - reserve
    chosen: list[int] = []
    for index, text in enumerate(items):
        if room <= 0:
            break
        cost = count_tokens(counter, text) + per_item
        if cost <= room:
            chosen.append(index)
            room -= cost
    return chosen
