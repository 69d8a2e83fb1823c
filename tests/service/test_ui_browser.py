"""The /ui page in a real headless Chromium, against the real server (uvicorn on a loopback port).

A manager of East pastes their token, sets tier 2 ("advanced") to 1.8% and runs Q3 on the shipped
example facts. The expected numbers are worked out by hand (see test_service_simulations.py for
the full table): East's tier-2 month lines are R001 July 832000 and August 840000, R004 July and
September 336000 each, R005 July 260000 and August 500000, R010 July 280000 - 7 lines, actuals
3,384,000 in all - so the delta is -0.002 x 3,384,000 = -6,768.00: R001 -3,344.00, R005
-1,520.00, R004 -1,344.00, R010 -560.00. Nobody changes tier, so the migration matrix has only
its diagonal, with 7 month lines staying in "advanced".

Skipped only when no Chromium binary or chromedriver is installed (`apt-get install chromium
chromium-driver`); Selenium Manager is never asked to download anything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from service_testkit import REPO, Clock, make_tokens, policy_text, serve_in_thread

from service.api import create_app

if TYPE_CHECKING:  # selenium is imported by the tests themselves, after the skip check
    from selenium.webdriver import Chrome

EXAMPLE = REPO / "examples" / "facts-2026-Q3.csv"
ADV_RATE = "commission.tiers[advanced].rate"


def _first(*candidates: str | None) -> str | None:
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


CHROMIUM = _first(
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    shutil.which("chromium"),
    shutil.which("chromium-browser"),
    shutil.which("google-chrome"),
)
CHROMEDRIVER = _first("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver", shutil.which("chromedriver"))

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs a Chromium binary and chromedriver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def browser() -> Iterator[Chrome]:
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--window-size=1300,2200",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_manager_runs_a_what_if_and_a_sweep_in_the_browser(database_url: str, clock: Clock, browser: Chrome) -> None:
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
        imp = api.post(
            "/fact-imports", files={"file": ("facts-2026-Q3.csv", EXAMPLE.read_bytes(), "text/csv")}, headers=hr
        )
        assert imp.status_code == 201, imp.text
        # managers simulate only on figures a published run showed them
        body = {"policy_id": "sales-incentive", "period": "2026-Q3", "fact_import_id": imp.json()["id"]}
        run = api.post("/runs", json=body, headers=hr)
        assert run.status_code == 201, run.text
        assert api.post(f"/runs/{run.json()['id']}/publish", headers=hr).status_code == 200

        wait = WebDriverWait(driver, 60)
        driver.get(base + "/ui")
        find = driver.find_element
        find(By.ID, "token").send_keys(tokens.values["manager_east"])
        find(By.ID, "connect").click()

        rate = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'input[data-path="{ADV_RATE}"]'))
        assert find(By.ID, "who").text == "manager · regions East"
        assert find(By.ID, "period").get_attribute("value") == "2026-Q3"  # suggested from the import's months
        assert Select(find(By.ID, "facts")).first_selected_option.get_attribute("value") == str(imp.json()["id"])
        assert rate.get_attribute("value") == "0.02"

        rate.clear()
        rate.send_keys("0.018")
        find(By.ID, "run").click()
        delta = wait.until(lambda d: d.find_element(By.ID, "total-delta").get_attribute("data-value") or None)
        assert delta == "-6768.00"
        assert find(By.ID, "total-delta").text == "-6,768.00 CNY"
        assert "set commission.tiers[advanced].rate=0.018" in find(By.ID, "changes").text

        # the tier migration matrix: rows baseline, columns scenario; only the diagonal is filled
        header = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#migration thead th")]
        assert header == ["from \\ to", "basic", "advanced", "sprint", "none"]
        rows = {
            tr.find_element(By.TAG_NAME, "th").text: [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#migration tbody tr")
        }
        assert rows["advanced"] == ["0", "7", "0", "0"]
        assert driver.find_elements(By.CSS_SELECTOR, "#migration td.moved") == []

        # the per-rep table, largest change first
        reps = [
            (tr.get_attribute("data-rep"), tr.find_elements(By.TAG_NAME, "td")[5].text)
            for tr in driver.find_elements(By.CSS_SELECTOR, "#reps tbody tr[data-rep]")
        ]
        assert reps == [("R001", "-3,344.00"), ("R005", "-1,520.00"), ("R004", "-1,344.00"), ("R010", "-560.00")]

        # a sweep of the same rate: its table and its SVG chart, fetched with the token
        Select(find(By.ID, "sweep-param")).select_by_value(ADV_RATE)
        find(By.ID, "sweep-values").send_keys("0.018,0.02")
        find(By.ID, "run-sweep").click()
        wait.until(lambda d: (d.find_element(By.ID, "sweep-chart").get_attribute("src") or "").startswith("blob:"))
        chart = find(By.ID, "sweep-chart")
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", chart))
        points = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")[:3]]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#sweep-table tbody tr")
        ]
        assert [(p[0], p[2]) for p in points] == [("0.018", "-6,768.00"), ("0.02", "0.00")]
        svg = api.get(
            f"/simulations/{chart.get_attribute('data-simulation')}/chart.svg", headers=tokens["manager_east"]
        )
        assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content

        # no Content-Security-Policy violation or script error so far
        logs = driver.get_log("browser")
        assert [e for e in logs if e["level"] == "SEVERE"] == [], logs

        # a refused scenario: the problem detail is shown, with the field the linter names
        rate.clear()
        rate.send_keys("1.5")
        find(By.ID, "run").click()
        wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
        error = find(By.ID, "error")
        assert "Unprocessable Content (422)" in error.text
        assert "commission.tiers[1].rate" in error.text and "between 0 and 1" in error.text
        # ... and a quota change on a region that is not East is refused (403)
        rate.clear()
        rate.send_keys("0.02")
        find(By.ID, "add-quota").click()
        quota = driver.find_elements(By.CSS_SELECTOR, "#quotas .quota-row input")
        quota[0].send_keys("South")
        find(By.ID, "run").click()
        wait.until(lambda d: "Forbidden (403)" in d.find_element(By.ID, "error").text)
        assert "South" in find(By.ID, "error").text

        # the simulations the page ran are stored under the manager's scope
        listed = api.get("/simulations", headers=tokens["manager_east"]).json()["simulations"]
        assert [(s["kind"], s["scope"]["regions"]) for s in listed] == [("simulation", ["East"]), ("sweep", ["East"])]
