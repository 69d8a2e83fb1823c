"""`GET /ui` (the what-if simulator) and `GET /ui/hr` (HR's runs page): self-contained HTML files
shipped as package data.

A page needs no token to load (it holds no data); it asks for the user's bearer token (kept in
the tab's sessionStorage only) and then calls the API like any other client. It loads nothing from
elsewhere (the machine may be offline), and the Content-Security-Policy allows only the page's
own inline script and style (by hash), API calls to this origin, and blob: images for fetched
charts. The HR page also shows statements and the 公示 notice, fetched with the token, in a
sandboxed blob: frame: a blob: document inherits this page's policy, so the policy also allows the
documents' own stylesheet (by hash) and blob: frames, and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Response

from service.statements.document import Document, to_html

router = APIRouter(tags=["ui"])

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def _styles(html: str) -> list[str]:
    return [_hash(body) for tag, body in _INLINE.findall(html) if tag == "style"]


COMMON = "// merit:common.js"
"""Where a page's inline script takes what both pages share (`service/ui/common.js`: the API's
problems, getJson/postJson, the DOM helpers), so each page stays one self-contained file."""


def _source(name: str) -> str:
    folder = resources.files("service.ui")
    html = folder.joinpath(name).read_text(encoding="utf-8")
    line = next((ln for ln in html.splitlines(keepends=True) if ln.startswith(COMMON)), None)
    if line is None:
        return html
    return html.replace(line, folder.joinpath("common.js").read_text(encoding="utf-8"), 1)


@lru_cache(maxsize=2)
def page(name: str = "index.html") -> tuple[bytes, str]:
    """The page's bytes and its Content-Security-Policy (hashes of its inline script and style)."""
    html = _source(name)
    scripts = [_hash(body) for tag, body in _INLINE.findall(html) if tag == "script"]
    styles = _styles(html)
    frames = []
    if name == "hr.html":  # statements and notices shown in a blob: frame, with their own stylesheet
        styles += [s for s in _styles(to_html(Document("en", "", (), ()))) if s not in styles]
        frames = ["frame-src blob:"]
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(scripts)}",
            f"style-src {' '.join(styles)}",
            "img-src 'self' blob: data:",
            "connect-src 'self'",
            *frames,
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html.encode("utf-8"), csp


def _answer(name: str) -> Response:
    body, csp = page(name)
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/ui", include_in_schema=False)
def ui() -> Response:
    """The managers' (and HR's) what-if simulator."""
    return _answer("index.html")


@router.get("/ui/hr", include_in_schema=False)
def hr_ui() -> Response:
    """HR's page: runs and their states, publish, objections, finalize, statements, the 公示 notice."""
    return _answer("hr.html")
