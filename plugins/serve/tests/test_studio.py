"""The web studio in a real headless Chromium (selenium): load, type, generate, hear, screenshot. Bounded (< 90 s
of browser time) and skipped, with the reason, where chromium, chromedriver, selenium or gradio is missing."""

from __future__ import annotations

import os
import shutil
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
NEEDS_BROWSER = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                   reason="chromium and chromedriver are missing: apt-get install -y chromium chromium-driver")


@pytest.fixture(scope="module")
def studio_url(tiny_model_dir):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    pytest.importorskip("gradio", reason="gradio is missing: pip install 'bark-omni-serve[studio]'")
    from bark_omni.host import Host
    from bark_omni.models import load_models
    from bark_omni_serve.server import free_port
    from bark_omni_serve.studio import build

    host = Host()
    load_models("tiny", host, "cpu")  # loaded before the browser's clock starts
    page = build("tiny", "cpu", host=host, max_duration_s=0.15)
    page.queue(default_concurrency_limit=1)
    port = free_port()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    page.close()


@NEEDS_BROWSER
def test_generate_in_the_browser(studio_url, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is missing: pip install selenium")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    started = time.monotonic()
    try:
        driver.set_page_load_timeout(60)
        driver.get(studio_url)
        wait = WebDriverWait(driver, 85)
        box = wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, "#text textarea")))
        box.send_keys("Hello from the studio.")
        driver.find_element(By.CSS_SELECTOR, "#generate").click()
        link = wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#downloads a")))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result audio, #result [data-testid='waveform-x']")
                   or d.find_elements(By.CSS_SELECTOR, "#result button"))
        names = [a.get_attribute("href") or "" for a in driver.find_elements(By.CSS_SELECTOR, "#downloads a")]
        time.sleep(1.0)  # let the plots paint before the screenshot
        shot = tmp_path / "studio.png"
        driver.save_screenshot(str(shot))
        if os.environ.get("BARK_OMNI_STUDIO_SCREENSHOT"):
            shutil.copy(shot, os.environ["BARK_OMNI_STUDIO_SCREENSHOT"])
        assert link is not None and any(n.endswith(".manifest.json") for n in names), names
        assert any(n.endswith(".wav") for n in names), names
        assert shot.stat().st_size > 10_000
        errors = driver.find_elements(By.CSS_SELECTOR, ".toast-body.error")
        assert not errors, [e.text for e in errors]
    finally:
        driver.quit()
    assert time.monotonic() - started < 90


def test_timeline_rows_become_control_events():
    from bark_omni.errors import InvalidInputError
    from bark_omni_serve.studio import _events

    rows = [[0.5, "beat", "1"], [None, "", ""], ["1.25", "sfx", "clap"]]
    assert _events(rows) == [{"time_s": 0.5, "kind": "beat", "value": 1.0},
                             {"time_s": 1.25, "kind": "sfx", "value": "clap"}]
    assert _events([[None, None, None]]) is None
    with pytest.raises(InvalidInputError, match="must be a number"):
        _events([["soon", "beat", ""]])


def test_studio_refuses_a_public_address():
    from bark_omni.errors import InvalidInputError
    from bark_omni_serve.studio import launch

    with pytest.raises(InvalidInputError, match="no login"):
        launch("tiny", host="0.0.0.0", block=False)
