"""The run browser end to end in a real headless browser: Debian's chromium, driven by Selenium
through Debian's chromedriver (no browser or driver is downloaded: Selenium Manager is kept
offline). Opens the run list, clicks into a run, and checks that the plot and the molecule
grid render and that sorting the grid reorders it.

Without chromium and chromium-driver the test is skipped with what to install, except where
MAKEABLE_REQUIRE_BROWSER=1 (CI, which installs them): there it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from makeable.serve import create_app  # noqa: E402
from tests.serve_toys import design_run, verdicts  # noqa: E402

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get install chromium chromium-driver"


def _browser_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver, or a skip (a failure where they are required)."""
    browser = next((p for p in CHROMIUM if Path(p).is_file()), None) or shutil.which("chromium")
    driver = CHROMEDRIVER if Path(CHROMEDRIVER).is_file() else shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if not path]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        message = f"the browser test needs {', '.join(missing)}: {INSTALL}"
        if os.environ.get("MAKEABLE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    assert browser is not None and driver is not None
    return browser, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "runs"
    design_run(root / "qed_graph_ga")
    verdicts(root / "qed_graph_ga")
    design_run(root / "bench" / "runs" / "qed_s1")
    port = _free_port()
    config = uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the run browser did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    browser, chromedriver = _browser_paths()
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager downloads nothing
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(chromedriver), options=options)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def test_open_the_list_click_a_run_see_plot_and_grid(server, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)
    driver.get(server + "/")
    table = wait.until(ec.presence_of_element_located((By.ID, "runs")))
    assert "qed_graph_ga" in table.text and "bench/runs/qed_s1" in table.text

    driver.find_element(By.LINK_TEXT, "qed_graph_ga").click()
    plot = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "svg#curve")))
    assert plot.size["width"] > 400 and plot.size["height"] > 200
    assert len(plot.find_elements(By.CSS_SELECTOR, "polyline.series")) == 2  # best, top-10
    assert len(plot.find_elements(By.CSS_SELECTOR, "circle")) >= 12

    cards = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "#molecules .mcard")))
    assert len(cards) == 10
    images = driver.find_elements(By.CSS_SELECTOR, "#molecules img.mol")
    wait.until(
        lambda d: d.execute_script(
            "return Array.from(arguments[0]).slice(0, 5)"
            ".every(i => i.complete && i.naturalWidth > 0)",
            images,
        )
    )
    assert "makeable" in cards[3].text and "no route" in cards[0].text

    def ranks() -> list[int]:
        return [
            int(c.get_attribute("data-rank"))
            for c in driver.find_elements(By.CSS_SELECTOR, "#molecules .mcard")
        ]

    assert ranks() == list(range(1, 11))
    driver.find_element(By.CSS_SELECTOR, ".sortbar button[data-key='mw']").click()
    weights = [
        float(c.get_attribute("data-mw"))
        for c in driver.find_elements(By.CSS_SELECTOR, "#molecules .mcard")
    ]
    assert weights == sorted(weights) and ranks() != list(range(1, 11))

    cards = driver.find_elements(By.CSS_SELECTOR, "#molecules .mcard")
    cards[0].find_element(By.CSS_SELECTOR, "a.rank").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "h2")))
    assert "Properties" in driver.page_source and "MW (g/mol)" in driver.page_source
