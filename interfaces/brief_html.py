"""A brief as one self-contained HTML page: no external scripts, styles or fonts; every time is a
link that opens the video at that second."""

from __future__ import annotations

import html
from typing import Any

from agent.brief.markdown import _value

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
a.t{font-family:ui-monospace,monospace;text-decoration:none;background:#eef3ff;border-radius:4px;padding:0 .3rem}
ol li,ul li{margin:.3rem 0}table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #eee;padding:.3rem .4rem;text-align:left;vertical-align:top}
tr.group td{background:#f6f6f6;font-weight:600}.kind{color:#666;font-size:.85rem}.q{font-weight:600}
"""


def _e(text: Any) -> str:
    return html.escape(str(text if text is not None else ""))


def time_link(item: dict[str, Any]) -> str:
    """`<a class="t" href="...&t=631">10:31</a>` (plain text for untimed documents without a URL)."""
    if item.get("url"):
        return f'<a class="t" href="{_e(item["url"])}">{_e(item["at"])}</a>'
    return f'<span class="t">{_e(item["at"])}</span>'


def _cited(text: str, citations: list[dict[str, Any]]) -> str:
    from agent.markers import CITE, marker_links

    out, last = [], 0
    for m in CITE.finditer(text):
        out.append(_e(text[last:m.start()]))
        links = [f'<a class="t" href="{_e(url)}">{_e(item)}</a>' if url else _e(item)
                 for item, url in marker_links(m.group(1), citations)]
        out.append(" ".join(links))
        last = m.end()
    out.append(_e(text[last:]))
    return "".join(out).replace("\n", "<br>")


def render(b: dict[str, Any]) -> str:
    """The page for one brief."""
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(b['title'])}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{_e(b['title'])}</h1>"]
    if b.get("url"):
        parts.append(f'<p><a href="{_e(b["url"])}">{_e(b["url"])}</a></p>')
    parts += ["<h2>TL;DR</h2>", f"<p>{_cited(b['tldr']['text'], b['tldr']['citations'])}</p>", "<h2>Key moments</h2><ol>"]
    parts += [f"<li>{time_link(m)} {_e(m['text'])}</li>" for m in b["moments"]]
    parts.append("</ol><h2>Chapters</h2><ul>")
    for c in b["chapters"]:
        inner = "".join(f"<li>{time_link(m)} {_e(m['text'])}</li>" for m in c["moments"])
        parts.append(f"<li>{time_link(c)} <strong>{_e(c['title'])}</strong><ul>{inner}</ul></li>")
    parts.append("</ul>")
    if b["figures"]:
        parts.append("<h2>Figures</h2><table><tr><th>value</th><th>unit</th><th>about</th><th>time</th><th>sentence</th></tr>")
        group = None
        for f in b["figures"]:
            if f["what"] != group:
                group = f["what"]
                parts.append(f'<tr class="group"><td colspan=5>{_e(group)}</td></tr>')
            parts.append(f"<tr><td>{_e(_value(f))}</td><td>{_e(f['unit'])}</td><td>{_e(f['about'])}</td>"
                         f"<td>{time_link(f)}</td><td>{_e(f['quote'])}</td></tr>")
        parts.append("</table>")
    parts += _list_section("Mentioned", b["mentioned"], _mention_item)
    parts += _list_section("Questions this episode answers", b["questions"],
                           lambda q: f"<li><div class=q>{_e(q['question'])}</div>{_cited(q['answer'], q['citations'])}</li>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _list_section(title: str, items: list[dict[str, Any]], item_html: Any) -> list[str]:
    """A heading and a list of `items` (each rendered by `item_html`), or nothing when there are none."""
    return [f"<h2>{title}</h2><ul>", *(item_html(i) for i in items), "</ul>"] if items else []


def _mention_item(m: dict[str, Any]) -> str:
    desc = f" — {_e(m['description'])}" if m.get("description") else ""
    return (f"<li><strong>{_e(m['name'])}</strong> <span class=kind>{_e(m['kind'])}, "
            f"{m['count']}×, first</span> {time_link(m)}{desc}</li>")
