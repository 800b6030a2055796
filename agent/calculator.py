"""The `calculate(expression)` tool: unit-aware arithmetic with pint, parsed safely.

An expression is numbers, unit names, `+ - * / **`, unary minus and parentheses, e.g.
`70e9 USD/GW / (0.5e6 GPU/GW)` -> 140,000 USD/GPU. Juxtaposition multiplies and binds
tighter than `*` and `/` (so `400e3 token / 500 ms` means `(400e3 token) / (500 ms)`), but
looser than `**` (`10 m**2` is `10 * m**2`). `$` means USD, `%` means percent; `k` and the scale
words of the lexicon (`thousand`, `million`, `bn`, ...) are plain multipliers, and so are the scale
letters glued to a number (`$70B`, `800k`): numbers, scale words and letters are `kb.numbers`'.

Nothing is ever `eval`-ed: a small tokenizer makes the implicit multiplication explicit,
Python's `ast` parses the result and `_evaluate` walks the tree, allowing only number
constants, unit names and the arithmetic operators. Exponents, magnitudes and the
expression length are bounded, so `9**9**9` fails at once instead of hanging.

Units come from a private pint `UnitRegistry` (created lazily, once) that adds the currency
`USD` (alias `dollar`, `$`) and the countable units `GPU`, `token` and `person` (`people`,
`human`) as base dimensions of their own.
"""

from __future__ import annotations

import ast
import math
import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from kb.numbers import DIGITS, SCALE_LETTERS, scale_words

if TYPE_CHECKING:
    import pint

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000.0  # |exponent| of a dimensionless power
MAX_UNIT_EXPONENT = 12.0  # |exponent| of a power of something with units
MAX_MAGNITUDE = 1e150  # |value| of any intermediate or final result

_DEFINITIONS = (
    "USD = [currency] = _ = dollar = usd",
    "GPU = [gpu] = _ = gpu",
    "token = [token] = _ = tok",
    "person = [person] = _ = people = human = humans",
)
# Units whose pint abbreviation reads badly ("a" for year) keep their name.
_SYMBOL_OVERRIDES = {"year": "year", "month": "month", "week": "week", "day": "day", "minute": "min", "percent": "%"}
COUNT_UNITS = {"GPU": "GPUs", "token": "tokens", "person": "people"}
_PLURAL_TIME = {"year", "month", "week", "day"}

_TOKEN = re.compile(
    rf"\s*(?:(?P<number>\d+\.(?!\d)(?:[eE][+-]?\d+)?|{DIGITS})"  # "5." too
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>\*\*|[-+*/()%$]))"
)
_TRANSLATE = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-"})


class CalcError(ValueError):
    """An expression that cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class CalcResult:
    """The outcome of `calculate`: the value in `unit`, and `text` for people ("$140,000 per GPU")."""

    expression: str
    value: float
    unit: str
    text: str


_REGISTRY_LOCK = threading.Lock()


def _registry() -> pint.UnitRegistry:
    """The one registry (quantities of two registries do not combine): a warm-up thread and the
    first question may ask for it at once."""
    with _REGISTRY_LOCK:
        return _new_registry()


@cache
def _new_registry() -> pint.UnitRegistry:
    import pint

    ureg = pint.UnitRegistry(cache_folder=None)
    for line in _DEFINITIONS:
        ureg.define(line)
    return ureg


def _tokenize(expression: str) -> list[tuple[str, str]]:
    """Split into ("num"|"name"|"op", text) tokens; `$` -> USD, `%` -> percent, `^` -> `**`."""
    text = expression.replace("^", "**").translate(_TRANSLATE)
    tokens: list[tuple[str, str]] = []
    pos = 0
    number_end = -1
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            bad = text[pos:].lstrip()[:1]
            raise CalcError(f"unexpected character {bad!r} at position {len(text) - len(text[pos:].lstrip())}")
        start, pos = m.start(), m.end()
        if m.group("number") is not None:
            tokens.append(("num", m.group("number").replace(",", "")))
            number_end = pos
        elif m.group("name") is not None and m.group("name") in SCALE_LETTERS and start == number_end:
            # "$70B", "5M", "800k": a scale letter glued to a number, not bytes, molar or tesla
            tokens[-1] = ("num", repr(float(tokens[-1][1]) * SCALE_LETTERS[m.group("name")]))
        elif m.group("name") is not None:
            tokens.append(("name", m.group("name")))
        else:
            op = m.group("op")
            if op == "$":
                tokens.append(("name", "USD"))
            elif op == "%":
                tokens.append(("name", "percent"))
            else:
                tokens.append(("op", op))
    return tokens


def _make_explicit(tokens: list[tuple[str, str]]) -> str:
    """Python source with implicit multiplication made explicit: `400e3 token / 500 ms` -> `(400e3*token)/(500*ms)`."""
    source, pos = _sequence(tokens, 0)
    if pos != len(tokens):
        raise CalcError("unbalanced parentheses: unexpected ')'")
    if not source:
        raise CalcError("empty expression")
    return source


def _sequence(tokens: list[tuple[str, str]], pos: int) -> tuple[str, int]:
    parts: list[str] = []
    run: list[str] = []
    expect_operand = True

    def flush() -> None:
        if run:
            parts.append(run[0] if len(run) == 1 else "(" + "*".join(run) + ")")
            run.clear()

    while pos < len(tokens):
        kind, text = tokens[pos]
        if text == ")" and kind == "op":
            break
        if expect_operand:
            if kind == "op" and text in "+-":
                parts.append(text)
                pos += 1
                continue
            factor, pos = _factor(tokens, pos)
            run.append(factor)
            expect_operand = False
        elif kind in ("num", "name") or text == "(":
            factor, pos = _factor(tokens, pos)
            run.append(factor)
        elif text in ("+", "-", "*", "/"):
            flush()
            parts.append(text)
            expect_operand = True
            pos += 1
        else:
            raise CalcError(f"unexpected {text!r}")
    if expect_operand and parts:
        raise CalcError("expression ends with an operator")
    flush()
    return "".join(parts), pos


def _factor(tokens: list[tuple[str, str]], pos: int) -> tuple[str, int]:
    kind, text = tokens[pos]
    if kind == "num":
        factor = text
        pos += 1
    elif kind == "name":
        if text.startswith("_"):
            raise CalcError(f"unknown unit or name {text!r}")
        factor = text
        pos += 1
    elif text == "(":
        inner, pos = _sequence(tokens, pos + 1)
        if pos >= len(tokens):
            raise CalcError("unbalanced parentheses: missing ')'")
        if not inner:
            raise CalcError("empty parentheses")
        factor = f"({inner})"
        pos += 1
    else:
        raise CalcError(f"unexpected {text!r}")
    if pos < len(tokens) and tokens[pos] == ("op", "**"):
        pos += 1
        signs = ""
        while pos < len(tokens) and tokens[pos][0] == "op" and tokens[pos][1] in "+-":
            signs += tokens[pos][1]
            pos += 1
        if pos >= len(tokens):
            raise CalcError("missing exponent after '**'")
        exponent, pos = _factor(tokens, pos)
        factor = f"{factor}**{signs}{exponent}"
    return factor, pos


def _name(name: str, ureg: pint.UnitRegistry) -> Any:
    scale = 1e3 if name.lower() == "k" else scale_words().get(name.lower())  # "k", "million", "bn", ...
    if scale is not None:
        return ureg.Quantity(scale)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise CalcError(f"unknown unit or name {name!r}")
    import pint

    try:
        unit = ureg.Unit(name)
    except (pint.errors.PintError, AttributeError, ValueError, TypeError, KeyError) as exc:
        raise CalcError(f"unknown unit or name {name!r}") from exc
    return ureg.Quantity(1.0, unit)


def _checked(q: Any) -> Any:
    mag = q.magnitude
    if isinstance(mag, complex) or not isinstance(mag, int | float):
        raise CalcError("result is not a real number")
    if not math.isfinite(mag) or abs(mag) > MAX_MAGNITUDE:
        raise CalcError(f"result too large (limit {MAX_MAGNITUDE:g})")
    return q


def _power(base: Any, exponent: Any, ureg: pint.UnitRegistry) -> Any:
    import pint

    try:
        exp = float(exponent.to("dimensionless").magnitude)
    except pint.errors.DimensionalityError as exc:
        raise CalcError(f"exponent must be a plain number, not {_unit_text(exponent)}") from exc
    if not math.isfinite(exp) or abs(exp) > MAX_EXPONENT:
        raise CalcError(f"exponent {exp:g} too large (limit {MAX_EXPONENT:g})")
    if not base.dimensionless:
        if abs(exp) > MAX_UNIT_EXPONENT:
            raise CalcError(f"exponent {exp:g} too large for a quantity with units (limit {MAX_UNIT_EXPONENT:g})")
    else:
        base = base.to("dimensionless")
    mag = float(base.magnitude)
    if mag == 0 and exp < 0:
        raise CalcError("division by zero (zero to a negative power)")
    if mag < 0 and not exp.is_integer():
        raise CalcError("a negative number to a fractional power is not a real number")
    if mag != 0 and exp * math.log10(abs(mag)) > math.log10(MAX_MAGNITUDE):
        raise CalcError(f"result too large (limit {MAX_MAGNITUDE:g})")
    try:
        return _checked(base**exp)
    except (OverflowError, ZeroDivisionError, pint.errors.PintError) as exc:
        raise CalcError(f"cannot raise to the power {exp:g}: {exc}") from exc


def _evaluate(node: ast.AST, ureg: pint.UnitRegistry) -> Any:
    import pint

    if isinstance(node, ast.Expression):
        return _evaluate(node.body, ureg)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalcError(f"unsupported constant {node.value!r}")
        try:
            return _checked(ureg.Quantity(float(node.value)))
        except OverflowError as exc:
            raise CalcError("number too large") from exc
    if isinstance(node, ast.Name):
        return _name(node.id, ureg)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, ureg)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, ureg)
        right = _evaluate(node.right, ureg)
        if isinstance(node.op, ast.Pow):
            return _power(left, right, ureg)
        if isinstance(node.op, ast.Add | ast.Sub) and _percent_and_plain(left, right):
            raise CalcError("ambiguous: a number plus or minus a percentage; write 100 * (1 - 10%) for a change "
                            "by a percentage, or 100 - 10")
        try:
            if isinstance(node.op, ast.Add):
                return _checked(left + right)
            if isinstance(node.op, ast.Sub):
                return _checked(left - right)
            if isinstance(node.op, ast.Mult):
                return _checked(left * right)
            if isinstance(node.op, ast.Div):
                if right.magnitude == 0:
                    raise CalcError("division by zero")
                return _checked(left / right)
        except pint.errors.DimensionalityError as exc:
            sign = "+" if isinstance(node.op, ast.Add) else "-"
            raise CalcError(
                f"cannot combine {_unit_text(left) or 'a plain number'} {sign} "
                f"{_unit_text(right) or 'a plain number'}: different dimensions"
            ) from exc
        except (pint.errors.PintError, OverflowError, ZeroDivisionError) as exc:
            raise CalcError(str(exc)) from exc
    raise CalcError(f"unsupported syntax: {type(node).__name__}")


def _percent_and_plain(a: Any, b: Any) -> bool:
    def is_percent(q: Any) -> bool:
        return str(q.units) == "percent"

    def plain_not_one(q: Any) -> bool:  # "1 - 10%" is a clear multiplier (0.9); "100 - 10%" is not
        return q.dimensionless and not is_percent(q) and float(q.to("dimensionless").magnitude) != 1

    return (is_percent(a) and plain_not_one(b)) or (is_percent(b) and plain_not_one(a))


def _parse(expression: str, ureg: pint.UnitRegistry) -> Any:
    if not isinstance(expression, str):
        raise CalcError("expression must be a string")
    if not expression.strip():
        raise CalcError("empty expression")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression too long ({len(expression)} characters, limit {MAX_EXPRESSION_CHARS})")
    source = _make_explicit(_tokenize(expression))
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalcError(f"could not parse {_short(expression)}") from exc
    try:
        return _evaluate(tree, ureg)
    except RecursionError as exc:
        raise CalcError("expression nested too deeply") from exc


def _short(expression: str, limit: int = 60) -> str:
    return repr(expression if len(expression) <= limit else expression[:limit] + "…")


def _unit_text(q: Any) -> str:
    """Compact, re-parseable unit text: `USD/GPU`, `token/s`, `kW*person`, `1/s`, `%`, `` for none."""
    ureg = _registry()
    num: list[str] = []
    den: list[str] = []
    for name, exp in q.unit_items():
        symbol = _SYMBOL_OVERRIDES.get(name) or ureg.get_symbol(name)
        power = abs(exp)
        text = symbol if power == 1 else f"{symbol}**{power:g}"
        (num if exp > 0 else den).append(text)
    top = "*".join(num) or ("1" if den else "")
    if not den:
        return top
    bottom = den[0] if len(den) == 1 else "(" + "*".join(den) + ")"
    return f"{top}/{bottom}"


def _normalize(q: Any) -> Any:
    """Drop stray percent and unit ratios: `GW/%` -> GW, `GW/MW` -> plain number; pure `%` stays."""
    units = dict(q.unit_items())
    if q.dimensionless:
        return q if units == {"percent": 1} else q.to("dimensionless")
    if "percent" in units:
        ureg = _registry()
        return q.to(q.units / ureg.Unit("percent") ** units["percent"])
    return q


def _readable(q: Any) -> Any:
    """Power and energy in no unit asked for, with the prefix that reads best: 10,000 kW -> 10 MW."""
    if not (q.check("[power]") or q.check("[energy]")) or "watt" not in str(q.units) or not q.magnitude:
        return q  # joules, horsepower and the like stay as written
    ureg = _registry()
    base = ureg.Unit("W") if q.check("[power]") else ureg.Unit("Wh")
    for prefix in ("T", "G", "M", "k", ""):
        unit = ureg.Unit(f"{prefix}{base}")
        if abs(q.to(unit).magnitude) >= 1:
            return q.to(unit)
    return q.to(base)


def _round_value(value: float) -> float:
    """Remove float noise such as 7.499999999999999 -> 7.5 (12 significant digits)."""
    return float(f"{value:.12g}")


def unit_dimensions(unit: str) -> dict[str, float]:
    """The dimensions of a unit expression, e.g. `USD/GW` -> {'[currency]': 1, '[mass]': -1, ...}."""
    ureg = _registry()
    q = _parse(unit, ureg) if unit.strip() else ureg.Quantity(1.0)
    return {k: float(v) for k, v in dict(q.dimensionality).items()}


def calculate(expression: str, to: str | None = None) -> CalcResult:
    """Evaluate `expression` safely, optionally converted to the unit `to`; raises CalcError."""
    import pint

    ureg = _registry()
    q = _parse(expression, ureg)
    if to is not None and to.strip():
        target = _parse(to, ureg)
        if abs(float(target.magnitude) - 1.0) > 1e-12:
            raise CalcError(f"target unit {to!r} must be a unit, not a quantity")
        try:
            q = _checked(q.to(target.units))
        except pint.errors.DimensionalityError as exc:
            have = _unit_text(q) or "a plain number"
            raise CalcError(
                f"cannot express {have} in {to!r}: dimensions differ ({q.dimensionality} vs {target.dimensionality})"
            ) from exc
    else:
        q = _readable(_normalize(q))
    value = _round_value(float(q.magnitude))
    unit = _unit_text(q)
    return CalcResult(expression=expression, value=value, unit=unit, text=format_quantity(value, unit))


def _format_number(value: float) -> str:
    """420e9 -> '420 billion', 140000 -> '140,000', 7.5 -> '7.5', 0.000002 -> '0.000002'."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v >= 1e15:
        return sign + f"{v:.4g}".replace("e+", "e")
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if v >= scale:
            return f"{sign}{_sig(v / scale)} {word}"
    if v >= 1000:
        return f"{sign}{round(v):,}"
    if v < 1e-9:
        return sign + f"{v:.4g}"
    return sign + _sig(v)


def _sig(v: float, digits: int = 4) -> str:
    """`v` to `digits` significant digits in fixed notation, trailing zeros trimmed."""
    decimals = max(0, digits - 1 - math.floor(math.log10(v)))
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _count_word(unit: str, value: float) -> str:
    return unit if abs(value) == 1 else COUNT_UNITS.get(unit, unit)


def format_quantity(value: float, unit: str) -> str:
    """Human text: "$420 billion", "$140,000 per GPU", "5 million GPUs", "800,000 tokens/s", "7.5%", "27×"."""
    unit = (unit or "").strip()
    number = _format_number(value)
    if unit in ("", "dimensionless"):
        return f"{number}×"
    if unit in ("%", "percent"):
        return f"{number}%"
    top, _, bottom = unit.partition("/")
    if top in ("USD", "$"):
        money = f"-${number[1:]}" if number.startswith("-") else f"${number}"
        return f"{money} per {bottom}" if bottom else money
    if top in COUNT_UNITS:
        word = _count_word(top, value)
        return f"{number} {word}/{bottom}" if bottom else f"{number} {word}"
    if top == "1" and bottom:
        return f"{number} per {bottom}"
    if unit in _PLURAL_TIME and abs(value) != 1:
        return f"{number} {unit}s"
    return f"{number} {unit}"
