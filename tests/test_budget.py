"""Tests for agent.budget: packing with a real, offline tiktoken Encoding, and the fallback."""

from __future__ import annotations

import logging
import random
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
import tiktoken

from agent import budget
from agent.budget import (
    EstimateCounter,
    TiktokenCounter,
    TokenizerFallbackWarning,
    count_tokens,
    estimate_tokens,
    get_counter,
    pack,
)


def byte_encoding() -> tiktoken.Encoding:
    """A real tiktoken Encoding built in-process: one token per UTF-8 byte, plus one merge."""
    ranks = {bytes([i]): i for i in range(256)}
    ranks[b"ab"] = 256  # a real BPE merge: "ab" is one token
    return tiktoken.Encoding(
        name="test-bytes",
        pat_str=r"""\S+|\s+""",
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 257},
    )


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    budget.clear_cache()
    yield
    budget.clear_cache()


@pytest.fixture(scope="module")
def enc() -> tiktoken.Encoding:
    return byte_encoding()


def test_tiktoken_counter_counts_tokens(enc: tiktoken.Encoding) -> None:
    counter = TiktokenCounter(enc)
    assert counter.count("") == 0
    assert counter.count("hello world") == 11
    assert counter.count("ab ab") == 3  # the merge applies
    assert counter.count("é") == 2  # two UTF-8 bytes
    # special-token text is counted as ordinary text instead of raising
    assert counter.count("<|endoftext|>") == len("<|endoftext|>")


def test_count_tokens_accepts_an_encoding_or_a_counter(enc: tiktoken.Encoding) -> None:
    assert count_tokens(enc, "hello") == 5
    assert count_tokens(EstimateCounter(), "x" * 8) == 2


def test_pack_keeps_relevance_order_and_fits(enc: tiktoken.Encoding) -> None:
    items = ["a" * 10, "b" * 10, "c" * 10]
    assert pack(items, 30, enc) == [0, 1, 2]
    assert pack(items, 29, enc) == [0, 1]
    assert pack(items, 25, enc, reserve=5) == [0, 1]
    assert pack(items, 25, enc, reserve=6) == [0]


def test_pack_skips_a_too_large_item_and_tries_smaller_ones(enc: tiktoken.Encoding) -> None:
    items = ["x" * 40, "y" * 50, "z" * 5, "w" * 30, "v" * 4]
    assert pack(items, 50, enc) == [0, 2, 4]
    assert pack(items, 10, enc) == [2, 4]


def test_pack_with_no_room_returns_nothing(enc: tiktoken.Encoding) -> None:
    assert pack(["abc"], 0, enc) == []
    assert pack(["abc"], 10, enc, reserve=10) == []
    assert pack(["abc"], 5, enc, reserve=50) == []
    assert pack([], 100, enc) == []
    assert pack(["x" * 100], 10, enc) == []


def test_pack_per_item_overhead(enc: tiktoken.Encoding) -> None:
    items = ["a" * 10, "b" * 10]
    assert pack(items, 20, enc) == [0, 1]
    assert pack(items, 20, enc, per_item=2) == [0]
    assert pack(items, 24, enc, per_item=2) == [0, 1]


def test_pack_never_exceeds_the_budget_and_is_greedy(enc: tiktoken.Encoding) -> None:
    rng = random.Random(7)
    words = ["ab", "grid", "token", "é", "the", "transcript", " ", "\n"]
    for _ in range(200):
        items = [" ".join(rng.choices(words, k=rng.randint(0, 12))) for _ in range(rng.randint(0, 8))]
        limit, reserve = rng.randint(0, 60), rng.randint(0, 20)
        chosen = pack(items, limit, enc, reserve=reserve)
        costs = [len(enc.encode(t)) for t in items]
        assert chosen == sorted(chosen)
        assert sum(costs[i] for i in chosen) <= max(limit - reserve, 0)
        used = 0
        for i, cost in enumerate(costs):  # each skipped item really did not fit at its turn
            if i in chosen:
                used += cost
            elif limit - reserve - used > 0:
                assert cost > limit - reserve - used


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 2  # one word: ceil(1.3)
    assert estimate_tokens("abcdefghijkl") == 3  # 12 chars / 4
    assert estimate_tokens("a b c d e f g h i j") == 13  # 10 words * 1.3 beats 19 chars / 4
    assert estimate_tokens("x" * 400) == 100


def test_get_counter_uses_the_loader_and_caches(enc: tiktoken.Encoding) -> None:
    loads: list[str] = []

    def loader(model: str) -> tiktoken.Encoding:
        loads.append(model)
        return enc

    first = get_counter("gpt-4o-mini", loader=loader)
    assert isinstance(first, TiktokenCounter)
    assert first.count("hello") == 5
    assert get_counter("gpt-4o-mini", loader=loader) is first
    assert loads == ["gpt-4o-mini"]


def test_fallback_warns_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    def offline(model: str) -> tiktoken.Encoding:
        raise ConnectionError("no network")

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")  # so any de-duplication is ours, not Python's
        counters = [get_counter(m, loader=offline) for m in ("gpt-4o-mini", "gpt-4o", "other")]
        counters.append(get_counter("gpt-4o-mini", loader=offline))

    assert all(isinstance(c, EstimateCounter) for c in counters)
    assert counters[0].count("x" * 40) == 10
    ours = [w for w in caught if issubclass(w.category, TokenizerFallbackWarning)]
    assert len(ours) == 1
    assert "no network" in str(ours[0].message) and "estimate" in str(ours[0].message)
    assert len([r for r in caplog.records if r.name == "agent.budget"]) == 1
    # packing still works on the estimate
    assert pack(["x" * 40, "y" * 400, "z" * 8], 12, counters[0]) == [0, 2]


def test_a_hanging_loader_times_out_to_the_estimate() -> None:
    release = threading.Event()

    def hanging(model: str) -> tiktoken.Encoding:
        release.wait(10)
        raise ConnectionError("gave up")

    start = time.monotonic()
    with pytest.warns(TokenizerFallbackWarning, match="TimeoutError"):
        counter = get_counter("gpt-4o-mini", loader=hanging, load_timeout=0.05)
    release.set()
    assert time.monotonic() - start < 2
    assert isinstance(counter, EstimateCounter)


def test_after_a_failed_default_load_other_models_skip_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[str] = []

    def offline(model: str) -> tiktoken.Encoding:
        attempts.append(model)
        raise OSError("Name or service not known")

    monkeypatch.setattr(budget, "_tiktoken_loader", offline)
    with pytest.warns(TokenizerFallbackWarning) as record:
        first = get_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise here
        second = get_counter("gpt-4o")
    assert isinstance(first, EstimateCounter) and isinstance(second, EstimateCounter)
    assert attempts == ["gpt-4o-mini"]
    assert len([w for w in record if issubclass(w.category, TokenizerFallbackWarning)]) == 1
