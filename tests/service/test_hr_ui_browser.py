"""The HR page (/ui/hr) in a real headless Chromium with CJK fonts, against the real server.

HR pastes their token, publishes the Q3 run of the shipped example facts, rejects the East
manager's objection about R001, is refused finalizing inside the objection window (the policy's
`objection_days: 3`, the test clock at 2026-09-05 09:00 UTC), finalizes once the clock is 3 days
and a second later, and opens R001's statement and the 公示 notice. What is checked is the
rendered text (Chinese labels 发布 / 定稿 / 异议, English after the switch), not pixels; the
screenshots are saved in the test's tmp dir for people to look at.

One rep's name in the facts is `<img src=x onerror=alert(1)>`: the page and the statement show it
as text, no element is made of it and no script runs.

Skipped only when no Chromium binary or chromedriver is installed (as tests/service/test_ui_browser.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from service_testkit import REPO, Clock, make_tokens, policy_text, serve_in_thread
from test_ui_browser import browser, pytestmark  # noqa: F401  (the fixture and the skip when no Chromium)

from service.api import create_app

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

EXAMPLE = REPO / "examples" / "facts-2026-Q3.csv"
HOSTILE = "<img src=x onerror=alert(1)>"


def _facts() -> bytes:
    """The example facts with R002's name (李娜) replaced by markup."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count(",李娜,") == 3  # July, August, September
    return text.replace(",李娜,", f",{HOSTILE},").encode("utf-8")


def test_hr_publishes_resolves_finalizes_and_reads_a_statement_in_the_browser(
    database_url: str,
    clock: Clock,
    browser: Chrome,  # noqa: F811  (the fixture imported from test_ui_browser)
    tmp_path: Path,
) -> None:
    from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = browser
    tokens = make_tokens(database_url)
    app = create_app(database_url, clock=clock)
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as api:
        hr = tokens["hr"]
        put = api.put(
            "/policies/sales-incentive/versions/2026-Q3",
            content=policy_text().encode("utf-8"),
            headers={**hr, "Content-Type": "application/yaml"},
        )
        assert put.status_code == 201, put.text
        imp = api.post("/fact-imports", files={"file": ("facts-2026-Q3.csv", _facts(), "text/csv")}, headers=hr)
        assert imp.status_code == 201, imp.text
        body = {"policy_id": "sales-incentive", "period": "2026-Q3", "fact_import_id": imp.json()["id"]}
        run = api.post("/runs", json=body, headers=hr)
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]

        page = api.get("/ui/hr")
        csp = page.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "frame-src blob:" in csp and "frame-ancestors 'none'" in csp

        wait = WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException])  # tables are redrawn
        find = driver.find_element

        def body_text() -> str:
            return find(By.TAG_NAME, "body").text

        def state_of_run() -> str:
            cell = find(By.CSS_SELECTOR, f'#runs tr[data-run="{run_id}"] .state')
            return cell.get_attribute("data-state") or ""

        def shot(name: str) -> None:
            assert driver.save_screenshot(str(tmp_path / name))

        # log in: the runs table, in Chinese
        driver.get(base + "/ui/hr")
        assert driver.execute_script("return document.documentElement.lang") == "zh-CN"
        find(By.ID, "token").send_keys(tokens.values["hr"])
        find(By.ID, "connect").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#runs tr[data-run="{run_id}"]'))
        assert "核算批次" in body_text() and "草稿" in body_text()
        find(By.CSS_SELECTOR, f'button[data-open="{run_id}"]').click()
        wait.until(lambda d: d.find_element(By.ID, "publish").is_displayed())
        assert find(By.ID, "publish").text == "发布"
        assert "异议" in body_text() and "本批次没有异议。" in body_text()
        shot("hr-draft-zh.png")

        # publish
        find(By.ID, "publish").click()
        wait.until(lambda d: f"批次 #{run_id} 已发布" in d.find_element(By.ID, "done").text)  # shown last
        assert state_of_run() == "published" and "已发布（异议期）" in body_text()
        assert find(By.ID, "finalize").is_displayed() and find(By.ID, "finalize").text == "定稿"
        assert not find(By.ID, "publish").is_displayed()

        # the East manager objects to R001's line (as they would, through the API)
        objection = api.post(
            f"/runs/{run_id}/objections",
            json={"rep_id": "R001", "reason": "8月回款未计入"},
            headers=tokens["manager_east"],
        )
        assert objection.status_code == 201, objection.text
        oid = objection.json()["id"]

        # finalizing inside the objection window is refused; the page shows the server's problem
        find(By.ID, "refresh").click()
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'#objections tr[data-objection="{oid}"]'))
        assert "R001 张伟" in row.text and "8月回款未计入" in row.text and "待处理" in row.text
        assert "王经理 (经理)" in row.text  # the East manager's token is named 王经理
        shot("hr-objection-zh.png")
        find(By.ID, "finalize").click()
        wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
        assert "(409)" in find(By.ID, "error").text

        # resolve: rejected, with a note
        row = find(By.CSS_SELECTOR, f'#objections tr[data-objection="{oid}"]')
        Select(row.find_element(By.CSS_SELECTOR, "select.decision")).select_by_value("rejected")
        row.find_element(By.CSS_SELECTOR, "input.note").send_keys("回款已计入9月")
        find(By.CSS_SELECTOR, f'button[data-resolve="{oid}"]').click()
        wait.until(lambda d: f"异议 #{oid} 已处理：已驳回。" in d.find_element(By.ID, "done").text)
        resolved = find(By.CSS_SELECTOR, f'#objections tr[data-objection="{oid}"]').text
        assert "已驳回" in resolved and "回款已计入9月" in resolved
        assert api.get(f"/objections/{oid}", headers=hr).json()["status"] == "rejected"

        # after the window (3 days from publication at the clock's 09:00): finalize
        clock.advance(days=3, seconds=1)
        find(By.ID, "finalize").click()
        wait.until(lambda d: f"批次 #{run_id} 已定稿" in d.find_element(By.ID, "done").text)
        assert state_of_run() == "finalized" and "已定稿" in body_text()
        assert api.get(f"/runs/{run_id}", headers=hr).json()["status"] == "finalized"

        # R001's statement, in a sandboxed frame
        Select(find(By.ID, "rep")).select_by_value("R001")
        find(By.ID, "open-statement").click()
        wait.until(lambda d: d.find_element(By.ID, "document").get_attribute("data-kind") == "statement")
        driver.switch_to.frame(find(By.ID, "document"))
        wait.until(lambda d: "张伟" in d.find_element(By.TAG_NAME, "body").text)
        statement_zh = find(By.TAG_NAME, "body").text
        assert "提成确认单" in statement_zh and "R001" in statement_zh
        driver.switch_to.default_content()
        shot("hr-statement-zh.png")

        # ... and as a PDF download, named by the server (pdftotext reads the CJK name back)
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        find(By.ID, "statement-pdf").click()
        pdf = downloads / f"statement-{run_id}-R001-2026-Q3.pdf"
        wait.until(lambda d: pdf.is_file() and pdf.read_bytes().rstrip().endswith(b"%%EOF"))
        assert pdf.read_bytes().startswith(b"%PDF")
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
            assert "张伟" in text and "R001" in text

        # English: the page's words and the statement switch together
        find(By.ID, "lang-en").click()
        assert driver.execute_script("return document.documentElement.lang") == "en"
        text = body_text()
        for words in ("HR: runs, publication and payroll", "Objections", "Show statement", "finalized", "rejected"):
            assert words in text, words
        for chinese in ("异议", "定稿", "发布", "已驳回"):
            assert chinese not in text, chinese
        driver.switch_to.frame(find(By.ID, "document"))
        wait.until(lambda d: "statement" in d.find_element(By.TAG_NAME, "body").text.lower())
        assert "R001" in find(By.TAG_NAME, "body").text
        driver.switch_to.default_content()
        shot("hr-statement-en.png")

        # the 公示 notice
        find(By.ID, "open-notice").click()
        wait.until(lambda d: d.find_element(By.ID, "document").get_attribute("data-kind") == "notice")
        driver.switch_to.frame(find(By.ID, "document"))
        wait.until(lambda d: "R001" in d.find_element(By.TAG_NAME, "body").text)
        notice = find(By.TAG_NAME, "body").text
        assert "张伟" in notice and HOSTILE in notice and not driver.find_elements(By.TAG_NAME, "img")
        driver.switch_to.default_content()
        shot("hr-notice-en.png")

        # the hostile name is text everywhere: in the rep list and in R002's statement
        find(By.ID, "lang-zh").click()
        options = [o.text for o in Select(find(By.ID, "rep")).options]
        assert f"R002 {HOSTILE}" in options
        Select(find(By.ID, "rep")).select_by_value("R002")
        find(By.ID, "open-statement").click()
        wait.until(lambda d: d.find_element(By.ID, "document").get_attribute("data-kind") == "statement")
        driver.switch_to.frame(find(By.ID, "document"))
        wait.until(lambda d: HOSTILE in d.find_element(By.TAG_NAME, "body").text)
        assert not driver.find_elements(By.TAG_NAME, "img")
        driver.switch_to.default_content()
        assert not driver.find_elements(By.TAG_NAME, "img")
        try:
            driver.switch_to.alert.dismiss()
            raise AssertionError("a script ran: an alert is open")
        except NoAlertPresentException:
            pass
        shot("hr-hostile-name-zh.png")

        # no Content-Security-Policy violation (the frames' stylesheet is allowed) and no script error
        logs = driver.get_log("browser")
        assert [e for e in logs if e["level"] == "SEVERE" and "/finalize" not in e["message"]] == [], logs
