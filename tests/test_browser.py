"""The `ser serve` page in a real headless Chromium (Debian's chromium + chromium-driver, driven
by Selenium), against a real `ser serve` process: a fake microphone fed from a RAVDESS WAV
records through MediaRecorder and the page shows a label; a long upload shows the timeline.
Also the report's index.html (test_report's evaluated models): its provenance stays on screen.

Run with `make test-browser` (CI runs it; `make test` leaves these out). Set SER_SCREENSHOT=PATH
to save a screenshot of the page after the long upload (docs/serve.png is made that way).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_report import built, corpus, eda_dir  # noqa: F401  (fixtures: an evaluated report)

from ser.audio import decode
from ser.report import build_report
from ser.segment import join_clips
from ser.trust import provenance

pytestmark = [pytest.mark.browser, pytest.mark.ravdess]

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"
CHROMIUM = os.environ.get("SER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SER_CHROMEDRIVER", "/usr/bin/chromedriver")
MIC_CLIP = RAVDESS / "Actor_07" / "03-01-05-02-01-01-07.flac"
LABELS = {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    if not RAVDESS.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    tmp = tmp_path_factory.mktemp("browser")
    mic = tmp / "mic.wav"  # what the fake microphone plays, looped
    clip = decode(MIC_CLIP, 16000)
    sf.write(mic, np.concatenate([clip, np.zeros(8000, np.float32)]), 16000, subtype="PCM_16")
    clips = [decode(RAVDESS / f"Actor_0{a}" / n, 16000)
             for a, n in [(5, "03-01-02-02-01-01-05.flac"), (6, "03-01-07-02-01-01-06.flac"),
                          (7, "03-01-05-02-01-01-07.flac"), (8, "03-01-03-02-01-01-08.flac"),
                          (8, "03-01-04-02-01-01-08.flac")]]
    signal, _, _ = join_clips(clips, 16000, pause=1.0)
    long = tmp / "conversation.wav"
    sf.write(long, signal, 16000, subtype="PCM_16")
    big = tmp / "big.wav"
    sf.write(big, np.random.default_rng(0).normal(0, 0.1, 40 * 16000).astype(np.float32), 16000)
    return {"mic": mic, "long": long, "big": big}


@pytest.fixture(scope="module")
def browser(media):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium "
                    "chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ser-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1000,1100",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={media['mic']}",
                "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition, timeout: float = 90.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text.strip()


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: "features egemaps" in text(d, "model"), 30)


def test_recording_from_the_microphone_shows_a_label(browser, ser_server) -> None:
    open_page(browser, ser_server)
    browser.find_element("id", "segment").click()  # whole clip: one label for the recording
    browser.find_element("id", "record").click()
    wait_for(browser, lambda d: "recording" in text(d, "timer"), 20)
    time.sleep(3.5)
    browser.find_element("id", "record").click()
    wait_for(browser, lambda d: text(d, "label") or text(d, "error"))
    assert text(browser, "error") == ""
    assert text(browser, "label") in LABELS
    assert "recording.webm" in text(browser, "status")
    bars = browser.find_elements("css selector", "#bars .bar")
    assert {b.get_attribute("data-label") for b in bars} == LABELS
    browser.find_element("id", "segment").click()


def test_a_long_upload_shows_the_timeline_and_uncertain(browser, ser_server, media) -> None:
    open_page(browser, ser_server)
    threshold = browser.find_element("id", "threshold")
    threshold.clear()
    threshold.send_keys("0.99")
    browser.find_element("id", "file").send_keys(str(media["long"]))
    wait_for(browser, lambda d: text(d, "label") or text(d, "error"))
    assert text(browser, "label") in LABELS
    assert browser.find_element("id", "uncertain").is_displayed()
    assert browser.find_element("id", "timeline-box").is_displayed()
    segments = browser.find_elements("css selector", "#timeline g.segment")
    assert len(segments) == 5
    assert {s.get_attribute("data-label") for s in segments} <= LABELS
    assert "share of speech time" in text(browser, "share")
    shot = os.environ.get("SER_SCREENSHOT")
    if shot:
        threshold.clear()
        threshold.send_keys("0.5")
        upload = browser.find_element("id", "file")
        browser.execute_script("arguments[0].value = '';", upload)  # so that change fires
        upload.send_keys(str(media["long"]))
        wait_for(browser, lambda d: text(d, "label") and "classified in" in text(d, "status"))
        browser.save_screenshot(shot)


def test_the_page_shows_what_ser_predict_warns_about(browser, ser_server, tmp_path) -> None:
    """A recording unlike the training clips (3 s of a hum with noise, clipped): the page lists
    the same warnings and outside-training reasons as the API's JSON, and the input's quality."""
    import httpx

    t = np.arange(3 * 16000) / 16000
    rng = np.random.default_rng(0)
    hum = np.clip(1.4 * np.sin(2 * np.pi * 120 * t) + 0.05 * rng.normal(size=t.size), -1, 1)
    path = tmp_path / "hum.wav"
    sf.write(path, hum.astype(np.float32), 16000, subtype="PCM_16")
    with open(path, "rb") as fh:
        doc = httpx.post(f"{ser_server}/predict", files={"file": ("hum.wav", fh)},
                         data={"segment": "false"}, timeout=60).json()
    f = doc["files"][0]
    want = [*doc["warnings"], *(f"outside the training data: {r}"
                               for r in f.get("outside_training", []))]
    assert want  # the test means something only if there is something to show
    open_page(browser, ser_server)
    browser.find_element("id", "segment").click()  # whole file, as posted above
    browser.find_element("id", "file").send_keys(str(path))
    wait_for(browser, lambda d: text(d, "label") or text(d, "error"))
    shown = [li.text.strip() for li in browser.find_elements("css selector", "#warnings li")]
    assert shown == want
    assert browser.find_element("id", "warnings").is_displayed()
    assert "estimated SNR" in text(browser, "quality") and "clipped" in text(browser, "quality")
    assert not browser.find_element("id", "model-warning").is_displayed()  # real speech model


def test_a_model_of_the_synthetic_demo_corpus_says_so_on_the_page(browser, ravdess_model,
                                                                  tmp_path, media) -> None:
    """A bundle whose corpus record says synthetic (as every demo bundle's does; here a copy of
    the real-speech fold bundle with that record): the page says so before any upload, and the
    result lists the API's synthetic-corpus warning."""
    import json

    from conftest import running_ser_serve

    bundle = tmp_path / "models" / "demo" / "logreg"
    shutil.copytree(ravdess_model / "fold0", bundle)
    doc = json.loads((bundle / "bundle.json").read_text())
    doc["train_info"]["corpus"] = {"dataset": "demo", "format": "ravdess", "synthetic": True}
    (bundle / "bundle.json").write_text(json.dumps(doc))
    with running_ser_serve(bundle, timeout=120) as url:
        open_page(browser, url)
        banner = browser.find_element("id", "model-warning")
        assert banner.is_displayed() and "synthetic demo corpus" in banner.text
        browser.find_element("id", "segment").click()
        browser.find_element("id", "file").send_keys(str(media["mic"]))
        wait_for(browser, lambda d: text(d, "label") or text(d, "error"))
        shown = [li.text for li in browser.find_elements("css selector", "#warnings li")]
        assert any("SYNTHETIC demo corpus" in w for w in shown), shown


def test_an_oversized_upload_says_so_on_the_page(browser, ser_server, media) -> None:
    open_page(browser, ser_server)
    browser.find_element("id", "file").send_keys(str(media["big"]))
    wait_for(browser, lambda d: text(d, "error"))
    assert "HTTP 413" in text(browser, "error") and "limit is 1 MB" in text(browser, "error")


def test_the_reports_provenance_is_on_screen(browser, built, tmp_path) -> None:  # noqa: F811
    """The provenance block with this checkout's real package list (one long line): every value,
    the date included, lies inside the window and the section is no wider than it (the values
    once sat right-aligned in an unwrapped column, off screen)."""
    out = tmp_path / "report"
    build_report(built["eval_dirs"], [], out, provenance=provenance({"seed": 7}))
    browser.get((out / "index.html").as_uri())
    cells = browser.find_elements("css selector", "#provenance td")
    assert len(cells) == 8  # date, command, git commit, package versions: name and value
    width = browser.execute_script("return document.documentElement.clientWidth")
    for cell in cells:
        browser.execute_script("arguments[0].scrollIntoView()", cell)
        box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", cell)
        assert 0 <= box["left"] and box["right"] <= width + 1, (cell.text[:60], box, width)
        assert cell.text.strip()
    assert "numpy" in cells[-1].text and "scikit-learn" in cells[-1].text
    section = browser.find_element("id", "provenance")
    assert browser.execute_script("return arguments[0].scrollWidth", section) <= width + 1
    # the page never scrolls sideways in a 1000 px window: a table wider than the window (the
    # leaderboard's cells do not wrap) scrolls inside its own box
    page = browser.execute_script("return document.documentElement.scrollWidth")
    assert page <= width + 1, (page, width)
    boxes = browser.find_elements("css selector", "div.tbl")
    assert boxes and all(b.size["width"] <= width for b in boxes)
