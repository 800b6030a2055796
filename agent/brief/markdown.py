"""A brief (or a digest) as Markdown: every time a link to its second."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _at(item: dict[str, Any]) -> str:
    return f"[{item['at']}]({item['url']})" if item.get("url") else f"[{item['at']}]"


def _value(f: dict[str, Any]) -> str:
    v = f["value"]
    if v >= 1e12 and v % 1e11 == 0:
        text = f"{v / 1e12:g} trillion"
    elif v >= 1e9 and v % 1e8 == 0:
        text = f"{v / 1e9:g} billion"
    elif v >= 1e6 and v % 1e5 == 0:
        text = f"{v / 1e6:g} million"
    else:
        text = f"{v:,.6g}"
    return text


def brief_markdown(b: dict[str, Any]) -> str:
    """The whole brief: title, TL;DR, moments, chapters, figures, mentioned, questions."""
    out = [f"# {b['title']}", ""]
    if b.get("url"):
        out += [b["url"], ""]
    out += ["## TL;DR", "", _linked(b["tldr"]["text"], b["tldr"]["citations"]), "", "## Key moments", ""]
    out += [f"{n}. {_at(m)} {m['text']}" for n, m in enumerate(b["moments"], 1)]
    out += ["", "## Chapters", ""]
    for c in b["chapters"]:
        out.append(f"- {_at(c)} **{c['title']}**")
        out += [f"  - {_at(m)} {m['text']}" for m in c["moments"]]
    if b["figures"]:
        out += ["", "## Figures", "", "| value | unit | what | about | time | sentence |", "|---|---|---|---|---|---|"]
        out += [f"| {_value(f)} | {f['unit']} | {f['what']} | {f['about']} | {_at(f)} | {_cell(f['quote'])} |"
                for f in b["figures"]]
    if b["mentioned"]:
        out += ["", "## Mentioned", ""]
        for m in b["mentioned"]:
            desc = f" — {m['description']}" if m.get("description") else ""
            out.append(f"- **{m['name']}** ({m['kind']}) first {_at(m)}, {m['count']}×{desc}")
    if b["questions"]:
        out += ["", "## Questions this episode answers", ""]
        for q in b["questions"]:
            out += [f"- **{q['question']}**", f"  {_linked(q['answer'], q['citations'])}".replace("\n", "\n  ")]
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _linked(text: str, citations: Sequence[dict[str, Any]]) -> str:
    """Citation markers `[10:31]` in `text` as Markdown links to their second."""
    from agent.markers import CITE, marker_links

    def link(m: Any) -> str:
        items = marker_links(m.group(1), citations)
        return "[" + ", ".join(f"[{item}]({url})" if url else item for item, url in items) + "]"

    return CITE.sub(link, text)


def digest_markdown(items: Sequence[dict[str, Any]], since: str) -> str:
    if not items:
        return f"No documents ingested in the last {since}.\n"
    out = [f"# Top moments, last {since}", ""]
    for n, it in enumerate(items, 1):
        out.append(f"{n}. {it['text']} — *{it['title']}* {_at(it)}")
    return "\n".join(out) + "\n"
