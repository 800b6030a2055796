"""The domain lexicon: unit words, misheard spellings, count units and document-type words.

It is data, not code (`kb/data/lexicon.json`), so the same words apply to every corpus and a user
extends it with `KB_LEXICON_FILE` — a JSON file of the same shape whose entries are merged over the
bundled ones. The figures reader, the calculator, the number reader (kb.numbers: the scale words) and
the tokenizer all read it from here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

BUNDLED = Path(__file__).with_name("data") / "lexicon.json"


class LexiconError(ValueError):
    """A lexicon file that cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class Lexicon:
    word_units: dict[str, str]  # "terawatts" -> "TW" (misheard forms included)
    symbols: dict[str, str]  # case-sensitive symbols: "GW" -> "GW"
    misheard: dict[str, str]  # a misheard spelling -> the unit word meant
    count_units: dict[str, str]  # "GPU" -> "GPUs"
    scales: dict[str, float]
    document_words: frozenset[str]
    role_words: frozenset[str] = frozenset()  # the document words that name a person's role ("guest", "host")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LexiconError(f"{path}: cannot read the lexicon ({exc})") from None
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: a lexicon is a JSON object")
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            merged = dict(out[key])
            for k, v in value.items():
                merged[k] = sorted(set(merged.get(k, [])) | set(v)) if isinstance(v, list) else v
            out[key] = merged
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = sorted(set(out[key]) | set(value))
        else:
            out[key] = value
    return out


@lru_cache(maxsize=8)
def load_lexicon(extra: str | None = None) -> Lexicon:
    """The bundled lexicon, with the entries of the file `extra` (KB_LEXICON_FILE) merged over it."""
    data = _read(BUNDLED)
    if extra:
        data = _merge(data, _read(Path(extra).expanduser()))
    misheard = {k.lower(): v.lower() for k, v in data.get("misheard", {}).items()}
    word_units: dict[str, str] = {}
    for unit, words in data.get("units", {}).items():
        for w in words:
            word_units[w.lower()] = unit
    for wrong, right in misheard.items():
        if right in word_units:
            word_units[wrong] = word_units[right]
    return Lexicon(
        word_units=word_units,
        symbols=dict(data.get("symbols", {})),
        misheard=misheard,
        count_units=dict(data.get("count_units", {})),
        scales={k.lower(): float(v) for k, v in data.get("scales", {}).items()},
        document_words=frozenset(w.lower() for w in data.get("document_words", [])),
        role_words=frozenset(w.lower() for w in data.get("role_words", [])),
    )


def listed(word: str, words: frozenset[str]) -> bool:
    """Whether a word of a text is one of `words` (a lexicon's list), as written or as its plural
    or possessive ("meetings", "the podcast's", "summaries"): compared as words, not stems, so a
    verb ("we meet", "she noted") is not the noun listed."""
    w = re.sub(r"['’]s?$", "", word.lower())
    return w in words or (w.endswith("s") and w[:-1] in words) or (w.endswith("ies") and w[:-3] + "y" in words)


def lexicon() -> Lexicon:
    """The lexicon in use (`KB_LEXICON_FILE` is read once, through the settings)."""
    from kb.settings import Settings

    return load_lexicon(Settings.from_env().lexicon_file)
