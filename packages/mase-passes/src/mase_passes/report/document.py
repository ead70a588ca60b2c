"""A tiny document model rendered twice, to Markdown and to a standalone HTML page.

The report is built once as a list of blocks; ``to_markdown`` and ``to_html`` render the
same blocks, so report.md and report.html cannot say different things. Inline markup is
the Markdown subset ``code`` and **bold**, which the HTML renderer translates after
escaping.

The HTML page is self-contained: ``to_html(doc, figures)`` embeds each figure whose bytes
it is given as a ``data:`` URI (base64), so report.html can be mailed or attached alone and
still shows every figure. The Markdown links the PNG files beside it.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath


@dataclass
class Document:
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("ul", list(items)))

    def table(self, headers: list[str], rows: list[list]) -> None:
        self.blocks.append(("table", list(headers), [[_cell(c) for c in r] for r in rows]))

    def image(self, path: str, caption: str) -> None:
        self.blocks.append(("img", path, caption))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))


def _cell(c) -> str:
    return "" if c is None else str(c)


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            out += ["#" * b[1] + " " + b[2], ""]
        elif kind == "p":
            out += [b[1], ""]
        elif kind == "ul":
            out += [f"- {item}" for item in b[1]] + [""]
        elif kind == "table":
            headers, rows = b[1], b[2]
            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + "---|" * len(headers))
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            out.append("")
        elif kind == "img":
            out += [f"![{b[2]}]({b[1]})", "", f"*{b[2]}*", ""]
        elif kind == "code":
            out += ["```", b[1].rstrip("\n"), "```", ""]
    return "\n".join(out)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.45}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left}
th{background:#eee}code,pre{background:#f4f4f4}pre{padding:.6em;overflow-x:auto}img{max-width:100%}
figcaption{font-style:italic;color:#444}"""


def _inline(text: str) -> str:
    s = html.escape(text, quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)


_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def data_uri(name: str, data: bytes) -> str:
    """``data:<mime>;base64,<data>`` for a figure file called ``name`` (its suffix gives the type)."""
    mime = _MIME.get(PurePath(name).suffix.lower())
    if mime is None:
        raise ValueError(f"report: cannot embed figure {name!r}: not one of {', '.join(sorted(_MIME))}")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def to_html(doc: Document, figures: Mapping[str, bytes] | None = None) -> str:
    """The page; a figure named in ``figures`` is embedded, any other one is linked by name."""
    figures = figures or {}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(doc.title)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>{_inline(doc.title)}</h1>"]
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"<h{b[1]}>{_inline(b[2])}</h{b[1]}>")
        elif kind == "p":
            out.append(f"<p>{_inline(b[1])}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(h)}</th>" for h in b[1])
            body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in b[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            src = data_uri(b[1], figures[b[1]]) if b[1] in figures else b[1]
            out.append(f'<figure><img src="{html.escape(src)}" alt="{html.escape(b[2])}">'
                       f"<figcaption>{_inline(b[2])}</figcaption></figure>")
        elif kind == "code":
            out.append(f"<pre><code>{html.escape(b[1])}</code></pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
