"""Rendering an `Answer` for a terminal: rich Markdown whose citation markers (`[10:31]`,
`[doc-id ¶3]`) are hyperlinks that open the video at that second, a compact sources list, and the
passages behind an answer. Plain-text twins of each serve output that is not a terminal.

Used by the chat REPL (`kb chat`) and usable by `kb ask`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.text import Text

from agent.citations import CITE, marker_links, sources_block


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]()#+!<>|])", r"\\\1", text)


def link_markers(text: str, citations: Sequence[dict[str, Any]]) -> str:
    """`text` as Markdown with each citation marker item that names a citation with a URL turned
    into a link to it: `[10:31, 44:00]` becomes `\\[[10:31](<url1>), [44:00](<url2>)\\]`."""

    def group(m: re.Match[str]) -> str:
        parts = [f"[{_md_escape(item)}](<{url}>)" if url else _md_escape(item) for item, url in marker_links(m.group(1), citations)]
        return "\\[" + ", ".join(parts) + "\\]"

    return CITE.sub(group, text)


def answer_markdown(result: Any) -> Markdown:
    """The answer text as Markdown with clickable citations."""
    return Markdown(link_markers(result.answer, result.citations), hyperlinks=True)


def sources_text(citations: Sequence[dict[str, Any]]) -> Text:
    """One line per citation: `[10:31] Title (source)  URL`, the label and title linking to the video."""
    out = Text()
    for n, c in enumerate(citations):
        if n:
            out.append("\n")
        url = c.get("url")
        link = f"link {url}" if url else ""
        out.append("  ")
        out.append(f"[{c['at']}]", style=f"bold cyan {link}".strip())
        out.append(" ")
        out.append(str(c.get("title") or c["source"]), style=link or None)
        out.append(f" ({c['source']})", style="dim")
        if url:
            out.append("  ")
            out.append(url, style=f"dim {link}")
    return out


def footer_text(result: Any) -> Text:
    """A dim line: thread, backend, latency and any citation fixes."""
    bits = [f"thread {result.thread_id}", result.backend, f"{result.latency_s:.2f} s"]
    if getattr(result, "citations_corrected", 0):
        bits.append(f"{result.citations_corrected} citation(s) corrected")
    if getattr(result, "citations_dropped", 0):
        bits.append(f"{result.citations_dropped} citation(s) dropped")
    cost = (result.usage or {}).get("cost_usd") or 0.0
    if cost:
        bits.append(f"${cost:.4f}")
    return Text(" · ".join(bits), style="dim")


def render_answer(result: Any, footer: bool = True) -> RenderableType:
    """The whole answer: Markdown with linked citations, then its sources, then a footer line."""
    parts: list[RenderableType] = [answer_markdown(result)]
    if result.citations:
        parts += [Text(""), Text("Sources", style="bold"), sources_text(result.citations)]
    if footer:
        parts.append(footer_text(result))
    return Group(*parts)


def plain_answer(result: Any) -> str:
    """The answer as plain text (no ANSI codes): the text, then its sources with links."""
    out = result.answer
    if result.citations:
        out += "\n\nSources:\n" + "\n".join("  " + line for line in sources_block(result.citations).splitlines())
    return out


def _span(p: Any) -> str:
    from kb.timecode import format_timecode

    if p.start_s is None:
        return ""
    return f"passage {format_timecode(p.start_s)}–{format_timecode(p.end_s if p.end_s is not None else p.start_s)}"


def render_passages(passages: Sequence[Any]) -> RenderableType:
    """The passages behind an answer: label, title, source, span, score, best sentence and link."""
    if not passages:
        return Text("No passages: ask a question first (or nothing was retrieved).", style="dim")
    rows: list[RenderableType] = []
    for n, p in enumerate(passages, 1):
        link = f"link {p.link}" if p.link else ""
        head = Text(f"{n}. ")
        head.append(f"[{p.at}]" if p.at else "[–]", style=f"bold cyan {link}".strip())
        head.append(" ")
        head.append(p.title or p.source, style=link or None)
        head.append(f" — {p.source}", style="dim")
        span = _span(p)
        head.append(f"  score {p.score:.4f}" + (f" ({span})" if span else ""), style="dim")
        rows.append(head)
        rows.append(Text(f"   \u201c{p.best_sentence or p.text}\u201d", style="italic"))
        if p.link:
            rows.append(Text("   ").append(p.link, style=f"blue {link}"))
    return Group(*rows)


def plain_passages(passages: Sequence[Any]) -> str:
    """`render_passages` as plain text."""
    if not passages:
        return "No passages: ask a question first (or nothing was retrieved)."
    lines = []
    for n, p in enumerate(passages, 1):
        span = _span(p)
        lines.append(f"{n}. [{p.at or '–'}] {p.title or p.source} — {p.source}  score {p.score:.4f}"
                     + (f" ({span})" if span else ""))
        lines.append(f"   \u201c{p.best_sentence or p.text}\u201d")
        if p.link:
            lines.append(f"   {p.link}")
    return "\n".join(lines)


class Tail:
    """Streamed text shown live: only its last lines that fit the terminal, so a long answer scrolls."""

    def __init__(self, text: str, reserve: int = 2) -> None:
        self.text = text
        self.reserve = reserve

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = Text(self.text).wrap(console, options.max_width)
        keep = max(1, (options.height or console.height) - self.reserve)
        yield from list(lines)[-keep:]


def print_answer(console: Console, result: Any) -> None:
    """Print an answer: rich when `console` is a terminal, plain text otherwise."""
    if console.is_terminal:
        console.print(render_answer(result))
    else:
        console.print(plain_answer(result), markup=False, highlight=False, soft_wrap=True)


__all__ = ["Tail", "answer_markdown", "footer_text", "link_markers", "plain_answer",
           "plain_passages", "print_answer", "render_answer", "render_passages", "sources_text"]
