"""Quantities stated in text — "$40 billion", "a quarter million servers", "3.5 million GPU hours" —
read with quantulum3 and corrected for the ways speech and tech talk trip it up.

`extract_quantities(text)` returns `Quantity(value, unit, text, span, kind, unit_name, qualifier)`
for every number with its unit (a bare number gets unit ""). Domain units quantulum3 lacks (GPU,
token, GPU hour, ...) and the readings to reject come from a data file, `kb/data/units.json`; a user
adds units by editing it or by passing more files (`extra_units=`), never by changing code:
- `units` / `entities`: quantulum3 unit and entity records (plurals are added automatically);
- `ambiguous_symbols`: symbols that, after a number, are not units in talk ("16M" is 16 million,
  not 16 metres; "a million G" is a false start, not gauss);
- `scale_suffixes`: letters that multiply a number written right before them ("400k", "16M");
- `aliases`: more misheard unit words, on top of the domain lexicon's (kb/data/lexicon.json).
Model-like names between a number and its unit ("1.2 million A40 hours") are kept as the
quantity's `qualifier` instead of being read as unit exponents.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from kb.numbers import DIGITS, mentions_number

DEFAULT_UNITS_FILE = Path(__file__).resolve().parent / "data" / "units.json"

# A name with letters then digits ("H800", "V3", "GPT-4", "H100e"): a model or product, not a unit.
_NAME_WITH_DIGITS = re.compile(r"(?<![\w$])[A-Za-z][A-Za-z]*-?\d[\w.]*(?![\w])")
_HALF_A = re.compile(r"^\s*half\s+an?\s+", re.I)
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Quantity:
    """One quantity in a text.

    value: the number, scales applied (`$40 billion` -> 4e10); ranges ("five to ten") give the mean.
    unit: a short unit ("USD", "GW", "GPU", "USD/h", "%"), "" for a bare number.
    text: the words as written (`text[span[0]:span[1]]` of the input).
    kind: what it measures, e.g. "currency", "power", "count", "time", "dimensionless".
    unit_name: quantulum3's name ("terawatt", "dollar per hour").
    qualifier: a name written between the number and the unit ("A40" in "1.2 million A40 hours").
    """

    value: float
    unit: str
    text: str
    span: tuple[int, int]
    kind: str
    unit_name: str
    qualifier: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "text": self.text, "span": list(self.span), "kind": self.kind,
                "unit_name": self.unit_name, "qualifier": self.qualifier}


@dataclass(frozen=True)
class UnitData:
    """The merged contents of the unit data files."""

    units: dict[str, dict[str, Any]]
    entities: dict[str, dict[str, Any]]
    ambiguous_symbols: frozenset[str]
    scale_suffixes: dict[str, float]
    prefer: dict[str, str]
    aliases: dict[str, str]
    display: dict[str, str]


def load_unit_data(paths: Sequence[Path] = ()) -> UnitData:
    """The default data file merged with `paths` (later files add to and override earlier ones)."""
    units: dict[str, dict[str, Any]] = {}
    entities: dict[str, dict[str, Any]] = {}
    ambiguous: set[str] = set()
    scales: dict[str, float] = {}
    prefer: dict[str, str] = {}
    aliases: dict[str, str] = {}
    display: dict[str, str] = {}
    for path in (DEFAULT_UNITS_FILE, *paths):
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read unit data: {exc}") from None
        units.update(data.get("units", {}))
        entities.update(data.get("entities", {}))
        ambiguous.update(data.get("ambiguous_symbols", []))
        scales.update({k: float(v) for k, v in data.get("scale_suffixes", {}).items()})
        prefer.update(data.get("prefer_units", {}))
        aliases.update({k.lower(): v for k, v in data.get("aliases", {}).items()})
        display.update(data.get("display", {}))
    return UnitData(units, entities, frozenset(ambiguous), scales, prefer, aliases, display)


@lru_cache(maxsize=4)
def _parser(paths: tuple[str, ...]) -> tuple[Any, UnitData]:
    """quantulum3's parser with the data file's units registered (loaded once per set of files)."""
    data = load_unit_data([Path(p) for p in paths])
    from quantulum3 import classifier, load, parser

    classifier.USE_CLF = False  # the bundled classifier does not load with current scikit-learn; rules suffice
    for name, record in data.entities.items():
        load.add_custom_entity(name, **{"dimensions": [], **record})
    for name, record in data.units.items():
        load.add_custom_unit(name, **{"dimensions": [], "symbols": [], "URI": name, **record})
    return parser, data


def extract_quantities(text: str, extra_units: Iterable[Path] = ()) -> list[Quantity]:
    """Every quantity in `text`, in order. `extra_units`: more unit data files (same format)."""
    if not text or not mentions_number(text):
        return []
    parser, data = _parser(tuple(str(p) for p in extra_units))
    masked, index, names = _mask_names(text, {**_misheard(), **data.aliases})
    with _LOCK:  # quantulum3 keeps module-level caches
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            raw = parser.parse(masked)
        finally:  # quantulum3 calls logging.basicConfig() on every parse: undo it
            for h in root.handlers[:]:
                if h not in handlers:
                    root.removeHandler(h)
    out = []
    for q in raw:
        start, end = q.span
        span = (index[start], index[end - 1] + 1 if end > start else index[start])
        fixed = _correct(q, span, text, names, data)
        if fixed is not None:
            out.append(fixed)
    return out


def _misheard() -> dict[str, str]:
    """Words speech recognition writes for a unit word ("terrawatt"), from the domain lexicon (kb.lexicon)."""
    from kb.lexicon import lexicon

    return lexicon().misheard


def _mask_names(text: str, aliases: dict[str, str]) -> tuple[str, list[int], list[tuple[int, int, str]]]:
    """`text` without model-like names (and the space after each) and with unit aliases replaced,
    the index in `text` of every character of the result (plus its end), and the names removed."""
    names = [(m.start(), m.end(), m.group(0)) for m in _NAME_WITH_DIGITS.finditer(text)]
    drop = set()
    for start, end, _ in names:
        drop.update(range(start, end + 1 if end < len(text) and text[end] == " " else end))
    swaps = {m.start(): (m.end(), aliases[m.group(0).lower()]) for m in re.finditer(r"[A-Za-z]+", text)
             if m.group(0).lower() in aliases}
    out: list[str] = []
    index: list[int] = []
    i = 0
    while i < len(text):
        if i in swaps:
            end, word = swaps[i]
            out.extend(word)
            index.extend(i + min(k, end - i - 1) for k in range(len(word)))
            i = end
            continue
        if i not in drop:
            out.append(text[i])
            index.append(i)
        i += 1
    return "".join(out), index + [len(text)], names


def _correct(q: Any, span: tuple[int, int], text: str, names: list[tuple[int, int, str]], data: UnitData) -> Quantity | None:
    start, end = span
    value = float(q.value)
    surface = text[start:end]
    if value < 0 and start > 0 and not text[start - 1].isspace() and surface.lstrip().startswith("-"):
        value = -value  # "Hours-2.5 million": a hyphen glued to a word is not a minus sign
    if _HALF_A.match(surface) and value > 1:  # quantulum3 reads "half a million" as 1.5 million
        value = value / 1.5 * 0.5
    parts = [dict(d) for d in (q.unit.dimensions or []) if d.get("base") not in (None, "dimensionless")]
    kept: list[dict[str, Any]] = []
    scaled: list[dict[str, Any]] = []
    number_end = _number_end(surface)
    for n, part in enumerate(parts):
        sym = str(part.get("surface") or _last_word(surface)).strip()
        if n > 0 and part.get("power", 1) > 0 and _kind(part["base"]) == "count":
            continue  # "a 2 kW GPU": the GPU is what the kW is about, not part of the unit
        if sym in data.scale_suffixes and surface[number_end:].startswith(sym):
            value *= data.scale_suffixes[sym]  # "400k", "16M": a scale, not kelvin or metres
            scaled.append(part)
            continue
        if sym in data.ambiguous_symbols or part.get("base") in data.prefer:
            if part.get("base") in data.prefer:
                part["base"] = data.prefer[part["base"]]
                kept.append(part)
            continue
        kept.append(part)
    if parts and not kept and not scaled:
        return None  # "two million T three million": a number cut off by a stray letter is a false start
    if len(kept) + len(scaled) != len(parts):
        end = _trim_end(text, start, end, parts, kept + scaled)
    qualifier = " ".join(n for s, e, n in names if start <= s and e <= end + 1)
    unit, unit_name, kind = _unit_label(kept, q, len(kept) == len(parts), data.display)
    return Quantity(value=value, unit=unit, text=text[start:end].strip(), span=(start, end), kind=kind,
                    unit_name=unit_name, qualifier=qualifier)


def _last_word(surface: str) -> str:
    """The unit word of a one-unit surface: its last word, without the digits glued before it ("16M" -> "M")."""
    words = surface.split()
    return re.sub(rf"^[$€£¥]?(?:{DIGITS})", "", words[-1]) if words else ""


def _kind(base: str) -> str:
    from quantulum3 import load

    unit = load.units("en_US").names.get(base)
    return unit.entity.name if unit is not None else ""


def _number_end(surface: str) -> int:
    m = re.match(rf"\s*[$€£¥]?\s*(?:{DIGITS})", surface)
    return m.end() if m else 0


def _trim_end(text: str, start: int, end: int, parts: list[dict[str, Any]], kept: list[dict[str, Any]]) -> int:
    """Shorten the surface when trailing unit words were rejected ("a million G" -> "a million")."""
    dropped = [p for p in parts if p not in kept]
    surface = text[start:end]
    for p in reversed(dropped):
        sym = str(p.get("surface", ""))
        sym = sym or _last_word(surface)
        if sym and surface.rstrip().endswith(sym) and len(surface.rstrip()) > len(sym):
            surface = surface.rstrip()[: -len(sym)].rstrip()
    return start + len(surface)


def _unit_label(kept: list[dict[str, Any]], q: Any, unchanged: bool, display: dict[str, str]) -> tuple[str, str, str]:
    """(short unit, unit name, kind) from the kept unit parts."""
    from quantulum3 import load

    if not kept:
        if unchanged and q.unit.name == "percentage":
            return "%", "percentage", "percentage"
        return "", "", "dimensionless"
    units = load.units("en_US")
    num, den = [], []
    names = []
    for part in kept:
        base = part["base"]
        unit = units.names.get(base)
        label = display.get(base) or _short(unit, base)
        (num if part.get("power", 1) > 0 else den).append(label)
        names.append(base if part.get("power", 1) > 0 else f"per {base}")
    label = "·".join(num) + ("/" + "/".join(den) if den else "")
    if len(kept) == 1:
        unit = units.names.get(kept[0]["base"])
        kind = unit.entity.name if unit is not None else "unknown"
        if kept[0]["base"] == "percentage":
            kind = "percentage"
        if kept[0].get("power", 1) < 0:
            kind = f"per {kind}"
    else:
        kinds = []
        for part in kept:
            unit = units.names.get(part["base"])
            kinds.append((unit.entity.name if unit is not None else part["base"]) if part.get("power", 1) > 0
                         else f"per {part['base']}")
        kind = " ".join(kinds)
    return label or "1", " ".join(names), kind


def _short(unit: Any, base: str) -> str:
    if unit is None:
        return base
    if unit.currency_code:
        return str(unit.currency_code)
    return base
