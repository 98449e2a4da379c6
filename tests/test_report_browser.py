"""The report and the live dashboard in a real browser: Debian's chromium, headless, driven by selenium
through Debian's chromedriver (nothing downloaded). Without them these tests skip, saying why; with
CI=true a skip is a failure (conftest.py), and .ci/run installs them.

Each page must open with no console error and no request leaving the file (the report) or the server
(the dashboard), show one tile per KPI with the value and status worked out by hand (and given by
``kpi run --status``), a visible chart per KPI, and a screenshot that is not blank. Numbers:
tests/support/report_data.py. With ``KPI_ENGINE_SCREENSHOT=PATH`` the demo report's screenshot is
also saved to PATH (docs/report.png, the README's picture, is made so).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import kpi_engine

from kpi_engine.cli import main
from support.report_data import DEFINITIONS, FIXED_MONTH, FIXED_QUARTER, FIXED_TABLES, NAMES, RECENT_TILES, label, \
    recent_tables

TOKEN = "wall-token-5d1c9e7a3b8f2e6d4c0a"
#: read when the module is imported: the tests themselves run without any KPI_ variable (no_kpi_environment)
SCREENSHOT = os.environ.get("KPI_ENGINE_SCREENSHOT")


def _browser_binaries() -> tuple[str, str] | None:
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    found = _browser_binaries()
    if found is None:
        pytest.skip("no chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra has it)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-default-apps", "--window-size=1280,1000", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # the driver's log in a file of ours, closed here (selenium 4.11 leaves its own /dev/null handle open)
    log = open(tmp_path_factory.mktemp("chromedriver") / "chromedriver.log", "w")  # noqa: SIM115
    try:
        driver = webdriver.Chrome(service=Service(found[1], log_output=log), options=options)
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        log.close()


# ---------------------------------------------------------------------------------------------- helpers
def console_errors(driver) -> list[str]:
    """Console messages at error level since the last call (reading the log empties it)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requested(driver) -> list[str]:
    """The URLs the page asked for since the last call (Chrome's performance log, Network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith("data:"):  # inline data (the date input's own icon) is no request
                urls.append(url)
    return urls


def shown_tiles(driver) -> dict[str, tuple[str, str]]:
    """name -> (the value the tile shows, its data-status)."""
    tiles = driver.find_elements("css selector", "[data-kpi]")
    return {t.get_attribute("data-kpi"): (t.find_element("css selector", ".value").text, t.get_attribute("data-status"))
            for t in tiles}


def visible_charts(driver, names: list[str]) -> None:
    for name in names:
        chart = driver.find_element("css selector", f"#kpi-{name} svg.chart")
        assert chart.is_displayed() and chart.size["width"] > 200 and chart.size["height"] > 60, name
        assert chart.find_elements("css selector", "circle.dot"), name  # its points are drawn


VARIANCE = """
const done = arguments[arguments.length - 1];
const image = new Image();
image.onload = () => {
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0, sum = 0, squares = 0;
  for (let i = 0; i < data.length; i += 4 * 7) { const v = (data[i] + data[i + 1] + data[i + 2]) / 3; n++; sum += v; squares += v * v; }
  done([image.width, image.height, squares / n - (sum / n) ** 2]);
};
image.src = "data:image/png;base64," + arguments[0];
"""


def screenshot_variance(driver, png: bytes) -> tuple[int, int, float]:
    """The width, height and pixel variance of a PNG, measured by the browser itself on a blank page."""
    import base64

    driver.get("about:blank")
    return tuple(driver.execute_async_script(VARIANCE, base64.b64encode(png).decode()))


def wait(driver, condition, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


# ----------------------------------------------------------------------------------------------- report
def test_the_report_in_a_browser(browser, make_project, tmp_path):
    today = dt.datetime.now(dt.timezone.utc).date()
    project = make_project(DEFINITIONS, recent_tables(today))
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["--project", str(project.root), "report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    browser.get_log("browser"), browser.get_log("performance")  # start with empty logs
    browser.set_window_size(1280, 1000)
    browser.get(out.as_uri())
    assert browser.title == "test: KPIs"
    assert console_errors(browser) == []
    assert set(requested(browser)) == {out.as_uri()}  # the file itself, nothing else
    shown = shown_tiles(browser)
    assert list(shown) == NAMES
    raw = {"volume": 2, "solved_rate": 0.5, "solved": 1, "unsolved": 1, "score": 4.5}  # by hand, as RECENT_TILES
    for name, (back, value, status, _) in RECENT_TILES.items():
        assert shown[name] == (value, status), name
        # kpi run NAME --status: the same value and status in the same period (its own default range)
        run = CliRunner().invoke(main, ["--project", str(project.root), "run", name, "--status", "--format", "json"])
        row = next(r for r in json.loads(run.output) if r["period"] == label(today, back))
        assert row[name] == pytest.approx(raw[name]) and (row.get(f"{name}__status") or "none") == status
    visible_charts(browser, NAMES)
    word = browser.find_element("css selector", '[data-kpi="solved"] .status').text
    assert word == "bad"  # the status as a word, not only a colour
    assert browser.find_element("css selector", "#kpi-volume tr.partial").is_displayed()
    # a phone's width: nothing runs off the side
    browser.set_window_size(390, 844)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.set_window_size(1280, 1000)
    width, height, variance = screenshot_variance(browser, browser.get_screenshot_as_png())
    assert (width, height) > (0, 0) and variance > 100  # not a blank page


def test_the_demo_report_and_its_screenshot(browser, tmp_path):
    """The KPI library on the demo data: a tile per KPI, no console error; the README's picture."""
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "demo", "--rows", "3000"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report.html"
    assert out.is_file() and f"wrote {out}: open it in a browser" in result.output
    browser.get_log("browser"), browser.get_log("performance")
    browser.set_window_size(1280, 900)
    browser.get(out.as_uri())
    assert console_errors(browser) == [] and set(requested(browser)) == {out.as_uri()}
    shown = shown_tiles(browser)
    with kpi_engine.load(tmp_path) as project:
        visible = [k.name for k in project.kpis.values() if not k.hidden]
    assert list(shown) == visible and shown["first_contact_resolution"][1] in ("ok", "warn", "bad")
    png = browser.get_screenshot_as_png()
    if SCREENSHOT:
        Path(SCREENSHOT).write_bytes(png)
    assert screenshot_variance(browser, png)[2] > 100


# -------------------------------------------------------------------------------------------- dashboard
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(make_project):
    """``kpi serve`` on a loopback port, over the first half of 2025, with a token."""
    config = f"serve:\n  tokens:\n    - name: wall\n      token: {TOKEN}\n"
    project = make_project(DEFINITIONS, FIXED_TABLES, extra_config=config)
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "kpi_engine", "--project", str(project.root), "serve",
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "kpi serve did not answer within 30 s"
                time.sleep(0.2)
        yield base, project
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert TOKEN not in output


def loaded(driver, after: str | None):
    """Wait until the page has drawn a newer answer than ``after``; return its stamp."""
    return wait(driver, lambda d: (d.find_element("tag name", "body").get_attribute("data-loaded") or None)
                if d.find_element("tag name", "body").get_attribute("data-loaded") != after else False)


def test_the_live_dashboard_in_a_browser(browser, server):
    from selenium.webdriver.support.ui import Select

    base, project = server
    browser.get_log("browser"), browser.get_log("performance")
    browser.set_window_size(1280, 1000)
    browser.get(f"{base}/")
    # no token yet: the page says what to do (the 401 answers are console errors of their own)
    wait(browser, lambda d: "token" in d.find_element("id", "message").text)
    assert shown_tiles(browser) == {}
    console_errors(browser)
    browser.find_element("id", "token").send_keys(TOKEN)
    browser.find_element("id", "apply").click()
    stamp = loaded(browser, None)
    assert console_errors(browser) == []
    assert browser.execute_script("return sessionStorage.getItem('kpi_engine.token')") == TOKEN
    assert shown_tiles(browser) == {name: FIXED_MONTH[name] for name in NAMES}
    # kpi run --all --status: the same statuses in June
    run = CliRunner().invoke(main, ["--project", str(project.root), "run", "--all", "--status", "--format", "json"])
    june = json.loads(run.output)[-1]
    assert june["period"] == "2025-06-01"
    assert {n: june.get(f"{n}__status") or "none" for n in NAMES} == {n: s for n, (_, s) in FIXED_MONTH.items()}
    visible_charts(browser, NAMES)
    about = browser.find_element("css selector", "#kpi-unsolved .about").text
    assert "volume - solved" in about  # its formula, and the KPIs it is built from, linked
    assert [a.get_attribute("href").split("#")[1] for a in browser.find_elements("css selector", "#kpi-unsolved .about a")] \
        == ["kpi-volume", "kpi-solved"]
    # the quarter: the numbers change to the quarterly ones
    Select(browser.find_element("id", "grain")).select_by_value("quarter")
    stamp = loaded(browser, stamp)
    assert shown_tiles(browser) == {name: FIXED_QUARTER[name] for name in NAMES}
    assert browser.find_element("css selector", '[data-kpi="volume"] .period').text == "2025-Q2"
    # a breakdown by region, from the dimensions the server lists for this token
    Select(browser.find_element("id", "by")).select_by_value("region")
    loaded(browser, stamp)
    rows = browser.find_elements("css selector", "#kpi-volume .breakdown-values tbody tr")
    # Q1: north 3 (Jan, Feb, Mar 1 each), south 3 (Jan 2, Mar 1); Q2: north 4 (Apr 2, May 1, Jun 1), south 3
    assert [r.text.split() for r in rows] == [["north", "3", "4"], ["south", "3", "3"]]
    assert console_errors(browser) == []
    urls = requested(browser)
    assert all(url.startswith(base + "/") for url in urls), urls  # nothing from anywhere else
    width, height, variance = screenshot_variance(browser, browser.get_screenshot_as_png())
    assert variance > 100
