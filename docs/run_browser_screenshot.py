"""Take docs/run_browser.png: a page of the run browser in headless chromium (Debian's chromium
and chromedriver, as in tests/test_serve_browser.py).

    python docs/run_browser_screenshot.py RUNS_DIR /run/PATH/OF/A/RUN docs/run_browser.png

The screenshot in docs/ shows a copy of the makeable PMO benchmark's graph_ga run on drd2
(seed 0): /run/makeable_graph_ga_v2/runs/drd2_s0.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from makeable.serve import create_app


def main(root: str, page: str, out: str, width: int = 1400, height: int = 1000) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(Path(root)), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}{page}")
        deadline = time.monotonic() + 30  # until the visible molecule pictures have loaded
        while time.monotonic() < deadline and not driver.execute_script(
            "return Array.from(document.images).slice(0, 10)"
            ".every(i => i.complete && i.naturalWidth > 0)"
        ):
            time.sleep(0.2)
        driver.save_screenshot(out)
    finally:
        driver.quit()
        server.should_exit = True


if __name__ == "__main__":
    main(*sys.argv[1:4])
