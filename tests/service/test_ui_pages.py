"""The HR page as served (no browser needed): the security headers /ui has, no inline event
handler, nothing loaded from elsewhere, and the page's words complete in both languages.

The browser test (tests/service/test_hr_ui_browser.py) drives the page; this one keeps the
dictionaries honest on machines without Chromium too.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def _texts(html: str, lang: str) -> set[str]:
    """The keys of one language's dictionary in the page's TEXTS."""
    block = re.search(rf'"{re.escape(lang)}": \{{(.*?)\n  \}},', html, re.S)
    assert block, lang
    return set(re.findall(r'"([\w.]+)":', block.group(1)))


def test_the_hr_page_is_served_like_the_managers_page(app_client: TestClient) -> None:
    hr, ui = app_client.get("/ui/hr"), app_client.get("/ui")
    assert hr.status_code == 200 and hr.headers["content-type"].startswith("text/html")
    for header in ("x-content-type-options", "referrer-policy", "cache-control"):
        assert hr.headers[header] == ui.headers[header]
    csp = hr.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "unsafe-inline" not in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp and "frame-src blob:" in csp
    assert "frame-src" not in ui.headers["content-security-policy"]  # only the HR page shows documents
    assert "http://" not in hr.text and "https://" not in hr.text
    markup = hr.text.split("<script>")[0]
    assert not re.search(r"\son[a-z]+\s*=", markup)  # no inline handlers: the policy would block them
    assert "innerHTML" not in hr.text and "insertAdjacentHTML" not in hr.text  # values go in as text


def test_every_word_of_the_hr_page_is_in_both_languages(app_client: TestClient) -> None:
    html = app_client.get("/ui/hr").text
    zh, en = _texts(html, "zh-CN"), _texts(html, "en")
    assert zh == en and len(zh) > 40
    used = set(re.findall(r'data-t="([\w.]+)"', html)) | set(re.findall(r'\bt\("([\w.]+\w)"', html))
    assert used - zh == set(), used - zh
    states = {"draft", "published", "finalized", "superseded"}
    assert {f"status.{s}" for s in states} <= zh  # every RunState has words
    assert {"objection.open", "objection.accepted", "objection.rejected"} <= zh
    assert {f"role.{r}" for r in ("hr", "manager", "rep", "payroll")} <= zh  # who raised an objection
