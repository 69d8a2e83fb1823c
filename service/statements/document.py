"""A printable document as plain parts (title, header fields, sections of sentences and tables),
and its three renderings: HTML (Jinja2 template, package data), PDF (WeasyPrint, CJK fonts
embedded) and plain text.

Statements and the 公示 notice are worded into a `Document` (`service.statements.wording`,
`service.statements.notice`), so every format says exactly the same sentences: a test that reads
the text out of the PDF compares it with the HTML's.
"""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, select_autoescape

PDF_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK", "WenQuanYi Micro Hei", "Source Han Sans SC")
"""The CJK fonts the PDF asks for, in order (Debian: fonts-noto-cjk or fonts-wqy-microhei)."""


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    table: Table | None = None
    small: bool = False  # printed smaller (the rule record)
    level: int = 2


@dataclass(frozen=True)
class Document:
    lang: str  # the html lang attribute: zh-CN or en
    title: str
    fields: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    footer: tuple[str, ...] = field(default=())


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("service.statements", "templates"),
        autoescape=select_autoescape(("html",)),
        keep_trailing_newline=True,
    )


def to_html(doc: Document) -> str:
    """The document as one self-contained HTML page (styles inline, no external resources)."""
    return _environment().get_template("document.html").render(doc=doc, fonts=PDF_FONTS)


def to_pdf(doc: Document) -> bytes:
    """The HTML rendered by WeasyPrint into a PDF with the CJK font subset embedded.

    No base URL, so the page can load nothing from disk or network; the same document gives the
    same bytes (WeasyPrint writes no creation date unless the HTML names one). A rendering leaves
    ~100 MB of cyclic garbage (font tables, layout boxes): collected here, so that a server answering
    PDFs, or a folder of them being written, stays at one document's peak."""
    from weasyprint import HTML  # imported here: pango is needed only by those who ask for PDF

    pdf = HTML(string=to_html(doc)).write_pdf()
    gc.collect()
    return pdf


def to_text(doc: Document) -> str:
    """The document as plain text: headings underlined, tables as aligned columns."""
    out = [doc.title, "=" * _width(doc.title), ""]
    out += [f"{label}: {value}" for label, value in doc.fields]
    for s in doc.sections:
        out += ["", s.heading, ("-" if s.level == 2 else "~") * _width(s.heading)]
        out += list(s.paragraphs)
        if s.table is not None:
            out += _text_table(s.table)
    if doc.footer:
        out += ["", *doc.footer]
    return "\n".join(out) + "\n"


def _width(text: str) -> int:
    """Columns the text takes in a terminal: CJK characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _text_table(table: Table) -> list[str]:
    rows = [table.headers, *table.rows]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(table.headers))]
    return [
        "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
