"""The notebooks as a reader opens them: JupyterLab on 127.0.0.1, notebook 02 in headless Chromium
(Debian's chromium and chromium-driver, driven by Selenium; no browser is downloaded). The stored
figures must render, and Run All must complete through the `emtlib` kernel.

The server runs on a copy of the notebook (Run All would otherwise save over the stored one) with
EMTLIB_CACHE_ONLY=1, so the kernel replays the committed records exactly as nbval does.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_incomplete_setting.ipynb"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
REQUIRED = os.environ.get("CI", "").lower() == "true"  # CI installs the browser: never skip there


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not (CHROMIUM and CHROMEDRIVER):
        return "Debian's chromium and chromium-driver are not installed"
    if not (Path(sys.executable).parent / "jupyter-lab").exists():
        return "jupyterlab is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = _missing()
    if why:
        if REQUIRED:
            pytest.fail(f"the browser test cannot run on CI: {why}")
        pytest.skip(why)
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port, token = _free_port(), "emtlib-test"
    settings = root / ".settings"  # every cell in the page (no windowing), no news prompt
    for name, value in {"notebook-extension/tracker": {"windowingMode": "none"},
                        "apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {**os.environ, "EMTLIB_CACHE_ONLY": "1", "JUPYTER_CONFIG_DIR": str(root / ".cfg"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", "--ip", "127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--allow-root", "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 60 s")
    yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}", root
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def _stored_images() -> int:
    nb = json.loads(NOTEBOOK.read_text())
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code"
               for o in c.get("outputs", []))


def _wait(driver, condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition(driver)
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_notebook_02_renders_its_figures_and_runs_all_through_the_emtlib_kernel(lab, browser):
    from selenium.webdriver.common.by import By

    url, root = lab
    t0 = time.time()
    browser.get(url)
    css = browser.find_elements
    _wait(browser, lambda d: css(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), 90, "the notebook")
    want = _stored_images()
    assert want >= 2
    images = _wait(browser, lambda d: [i for i in css(By.CSS_SELECTOR, ".jp-RenderedImage img")
                                       if d.execute_script("return arguments[0].naturalWidth", i)]
                   if len(css(By.CSS_SELECTOR, ".jp-RenderedImage img")) >= want else None,
                   60, f"{want} rendered figures")
    assert len(images) >= want
    _wait(browser, lambda d: "Python (emtlib)" in d.execute_script(
        "return document.body.innerText"), 60, "the emtlib kernel in the toolbar")
    _wait(browser, lambda d: "Idle" in d.execute_script("return document.body.innerText"), 60,
          "an idle kernel")
    # Run > Run All Cells, as a reader does
    browser.find_element(By.XPATH, "//li[contains(@class,'lm-MenuBar-item')]"
                                   "[.//div[text()='Run']]").click()
    browser.find_element(By.XPATH, "//li[contains(@class,'lm-Menu-item')]"
                                   "[.//div[text()='Run All Cells']]").click()
    n_code = sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text())["cells"])

    def finished(d):
        prompts = d.execute_script(
            "return [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
            ".map(e => e.innerText.trim())")
        return len(prompts) == n_code and all(p not in ("[*]:", "[ ]:", "") for p in prompts)

    def settled(d):  # every cell ran, or an error stopped Run All
        text = d.execute_script("return document.body.innerText")
        return finished(d) or ("Traceback" in text and "Idle" in text)

    _wait(browser, settled, 240, "Run All to complete")
    text = browser.execute_script("return document.body.innerText")
    assert "Traceback" not in text and finished(browser), text[-3000:]
    images = css(By.CSS_SELECTOR, ".jp-RenderedImage img")
    assert len(images) >= want
    # what the reader would save: every code cell executed, in order, without an error output
    browser.find_element(By.XPATH, "//li[contains(@class,'lm-MenuBar-item')]"
                                   "[.//div[text()='File']]").click()
    browser.find_element(By.XPATH, "//li[contains(@class,'lm-Menu-item')]"
                                   "[.//div[text()='Save Notebook']]").click()
    saved = root / NOTEBOOK.name

    def counts(_):
        cells = [c for c in json.loads(saved.read_text())["cells"] if c["cell_type"] == "code"]
        got = [c.get("execution_count") for c in cells]
        return got if all(got) else None

    got = _wait(browser, counts, 30, "the saved notebook")
    assert got == list(range(1, n_code + 1))
    nb = json.loads(saved.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    print(f"\nbrowser test: {time.time() - t0:.1f} s from opening the page to Run All done")
