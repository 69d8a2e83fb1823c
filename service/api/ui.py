"""`GET /ui`: the what-if simulator page, one self-contained HTML file shipped as package data.

The page needs no token to load (it holds no data); it asks for the user's bearer token and then
calls the API (`/simulations/...`) like any other client. It loads nothing from elsewhere (the
machine may be offline), and the Content-Security-Policy allows only this page's own inline
script and style (by hash), API calls to this origin, and blob: images for the fetched charts.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Response

router = APIRouter(tags=["ui"])

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


@lru_cache(maxsize=1)
def page() -> tuple[bytes, str]:
    """The page's bytes and its Content-Security-Policy (hashes of its inline script and style)."""
    html = resources.files("service.ui").joinpath("index.html").read_text(encoding="utf-8")
    scripts = [_hash(body) for tag, body in _INLINE.findall(html) if tag == "script"]
    styles = [_hash(body) for tag, body in _INLINE.findall(html) if tag == "style"]
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(scripts)}",
            f"style-src {' '.join(styles)}",
            "img-src 'self' blob: data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html.encode("utf-8"), csp


@router.get("/ui", include_in_schema=False)
def ui() -> Response:
    body, csp = page()
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
