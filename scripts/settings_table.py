"""Write the README's settings table from the field descriptions in kb/settings.py.

    python scripts/settings_table.py           # rewrite the table between the markers in README.md
    python scripts/settings_table.py --check   # exit 1 if README.md is not current (tests/test_settings.py)

The table lies between `<!-- settings-table:start -->` and `<!-- settings-table:end -->`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.settings import Settings, Variable, variables  # noqa: E402

README = ROOT / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def _default(var: Variable, defaults: Settings) -> str:
    if var.shown_default:
        return f"`{var.shown_default}`"
    value: Any = var.get(defaults)
    if value is None or var.secret:
        return "unset"
    if isinstance(value, float):
        value = f"{value:g}"
    return f"`{value}`"


def table() -> str:
    """The Markdown table: one row per setting a variable can set."""
    defaults = Settings()
    rows = ["| variable | default | in code (`settings.…`) | meaning |", "|---|---|---|---|"]
    for var in variables():
        if not var.from_env:
            continue
        names = ", ".join(f"`{name}`" for name in var.env)  # in order of precedence
        meaning = (var.info.description or "").replace("|", "\\|")
        rows.append(f"| {names} | {_default(var, defaults)} | `{var.path}` | {meaning} |")
    return "\n".join(rows)


def render(text: str) -> str:
    """`text` (the README) with the table between the markers replaced by the current one."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{README}: the markers {START} and {END} are missing")
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the README's settings table from kb/settings.py.")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if README.md is not current")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print("README.md's settings table is not current: run python scripts/settings_table.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
        print("README.md: settings table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
