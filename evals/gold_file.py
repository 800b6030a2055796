"""The gold question file: JSON Lines, one question per line, loaded and validated line by line.

Each line is an object like::

    {"id": "q01", "category": "lookup", "question": "...", "turns": ["earlier question"],
     "reference": "the answer a person would accept", "keywords": ["CPU", "agent|agentic"],
     "numeric": {"value": 420000000000, "rel_tol": 0.02},
     "citations": [{"source": "<file stem>", "at": "10:31"}, {"source": "<file stem>"}],
     "answerable": true, "source": "<file stem>"}

Required: `id` (non-empty, unique), `category`, `question` (non-empty), `reference` (may be empty),
`answerable`. Optional: `turns`, `keywords` (each entry non-empty; `|` separates alternatives),
`numeric` (`value` required, `rel_tol` >= 0 defaulting to 0.02), `citations` (`source` required,
`at` optional as `mm:ss` or `h:mm:ss`; `end` optional, after `at`: the citation is then a time
range `at`..`end`, such as an annotated span of turns), `source` (a file stem: the question is
asked of that document only). Unknown keys are ignored. A bad line is reported as a
`GoldError` naming its line and field; the other lines still load. Blank lines are skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.timecode import TimecodeError, parse_timecode

DEFAULT_REL_TOL = 0.02


@dataclass(frozen=True)
class GoldCitation:
    """A passage the answer should cite: a source (file stem) and, for timed media, its time (s)."""

    source: str
    at_s: float | None
    end_s: float | None = None


@dataclass(frozen=True)
class GoldQuestion:
    """One validated gold question; `line` is its 1-based line in the gold file."""

    id: str
    category: str
    question: str
    turns: tuple[str, ...]
    reference: str
    keywords: tuple[str, ...]
    numeric_value: float | None
    numeric_rel_tol: float
    citations: tuple[GoldCitation, ...]
    answerable: bool
    line: int
    source: str | None = None


@dataclass
class GoldError:
    """A gold line that did not load: `str()` gives `file:line: field 'x': reason`."""

    line: int
    field: str
    reason: str
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else f"line {self.line}"
        return f"{where}: field '{self.field}': {self.reason}"


class _LineInvalid(Exception):
    """Internal: the first problem found on a line."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _string(obj: dict[str, Any], key: str, *, allow_empty: bool = True,
            where: str | None = None) -> str:
    """A required string field."""
    name = where or key
    if key not in obj:
        raise _LineInvalid(name, "missing")
    value = obj[key]
    if not isinstance(value, str):
        raise _LineInvalid(name, f"expected a string, got {_type_name(value)}")
    if not allow_empty and not value.strip():
        raise _LineInvalid(name, "must not be empty")
    return value


def _string_list(obj: dict[str, Any], key: str, *, allow_empty_items: bool) -> tuple[str, ...]:
    if key not in obj or obj[key] is None:
        return ()
    value = obj[key]
    if not isinstance(value, list):
        raise _LineInvalid(key, f"expected an array of strings, got {_type_name(value)}")
    items: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _LineInvalid(f"{key}[{i}]", f"expected a string, got {_type_name(item)}")
        if not allow_empty_items and not item.strip(" |"):
            raise _LineInvalid(f"{key}[{i}]", "must not be empty")
        items.append(item)
    return tuple(items)


def _finite_number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _LineInvalid(field, f"expected a number, got {_type_name(value)}")
    if not math.isfinite(value):
        raise _LineInvalid(field, "must be a finite number")
    return float(value)


def _numeric(obj: dict[str, Any]) -> tuple[float | None, float]:
    spec = obj.get("numeric")
    if spec is None:
        return None, DEFAULT_REL_TOL
    if not isinstance(spec, dict):
        raise _LineInvalid("numeric", f"expected an object, got {_type_name(spec)}")
    if "value" not in spec:
        raise _LineInvalid("numeric.value", "missing")
    value = _finite_number(spec["value"], "numeric.value")
    rel_tol = DEFAULT_REL_TOL
    if spec.get("rel_tol") is not None:
        rel_tol = _finite_number(spec["rel_tol"], "numeric.rel_tol")
        if rel_tol < 0:
            raise _LineInvalid("numeric.rel_tol", f"must not be negative, got {spec['rel_tol']}")
    return value, rel_tol


def _citations(obj: dict[str, Any]) -> tuple[GoldCitation, ...]:
    value = obj.get("citations")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _LineInvalid("citations", f"expected an array, got {_type_name(value)}")
    out: list[GoldCitation] = []
    for i, item in enumerate(value):
        where = f"citations[{i}]"
        if not isinstance(item, dict):
            raise _LineInvalid(where, f"expected an object, got {_type_name(item)}")
        source = _string(item, "source", allow_empty=False, where=f"{where}.source")
        at_s = _time(item, "at", where)
        end_s = _time(item, "end", where)
        if end_s is not None and (at_s is None or end_s < at_s):
            raise _LineInvalid(f"{where}.end", "needs an `at` and must not be before it")
        out.append(GoldCitation(source=source.strip(), at_s=at_s, end_s=end_s))
    return tuple(out)


def _time(item: dict[str, Any], key: str, where: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _LineInvalid(f"{where}.{key}", f'expected a string like "10:31", got {_type_name(value)}')
    try:
        return parse_timecode(value)
    except TimecodeError as exc:
        raise _LineInvalid(f"{where}.{key}", str(exc)) from None


def _source(obj: dict[str, Any]) -> str | None:
    if obj.get("source") is None:
        return None
    return _string(obj, "source", allow_empty=False).strip()


def _question(obj: dict[str, Any], line: int) -> GoldQuestion:
    qid = _string(obj, "id", allow_empty=False)
    category = _string(obj, "category")
    question = _string(obj, "question", allow_empty=False)
    reference = _string(obj, "reference")
    if "answerable" not in obj:
        raise _LineInvalid("answerable", "missing")
    answerable = obj["answerable"]
    if not isinstance(answerable, bool):
        raise _LineInvalid("answerable", f"expected true or false, got {_type_name(answerable)}")
    turns = _string_list(obj, "turns", allow_empty_items=True)
    keywords = _string_list(obj, "keywords", allow_empty_items=False)
    numeric_value, rel_tol = _numeric(obj)
    citations = _citations(obj)
    return GoldQuestion(
        id=qid.strip(), category=category.strip(), question=question, turns=turns,
        reference=reference, keywords=keywords, numeric_value=numeric_value,
        numeric_rel_tol=rel_tol, citations=citations, answerable=answerable, line=line, source=_source(obj),
    )


def _parse_line(raw: bytes, lineno: int) -> GoldQuestion | None:
    """One physical line -> a question, None for a blank line; raises _LineInvalid."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _LineInvalid("json", f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if lineno == 1:
        text = text.lstrip("\ufeff")
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _LineInvalid("json", f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise _LineInvalid("json", f"expected a JSON object, got {_type_name(obj)}")
    return _question(obj, lineno)


def load_gold(path: Path) -> tuple[list[GoldQuestion], list[GoldError]]:
    """Load a gold JSONL file: the valid questions, and one error per invalid line.

    Field names in errors are JSON paths (`citations[0].at`, `numeric.rel_tol`); a line that is
    not a JSON object is reported under the field `json`. Raises FileNotFoundError (naming the
    path) when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"gold file not found: {path}")
    questions: list[GoldQuestion] = []
    errors: list[GoldError] = []
    first_line_of: dict[str, int] = {}
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            q = _parse_line(raw.rstrip(b"\r"), lineno)
        except _LineInvalid as exc:
            errors.append(GoldError(lineno, exc.field, exc.reason, file=str(path)))
            continue
        if q is None:
            continue
        if q.id in first_line_of:
            reason = f"duplicate id {q.id!r} (first on line {first_line_of[q.id]})"
            errors.append(GoldError(lineno, "id", reason, file=str(path)))
            continue
        first_line_of[q.id] = lineno
        questions.append(q)
    return questions, errors
