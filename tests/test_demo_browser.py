"""The demo end to end in a real browser: served on localhost, driven by headless Chromium.

Classifies a review typed into the page and takes a screenshot of every page. With
``SPARSE_EDGE_SCREENSHOTS=DIR`` the screenshots are also copied there (the README's pictures
come from ``SPARSE_EDGE_SCREENSHOTS=artifacts/demo``).
"""

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port, screenshot

pytest.importorskip("streamlit")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")


@pytest.fixture(scope="module")
def served():
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "sparse_edge" / "demo_app.py"),
                               "--server.port", str(port), "--server.headless", "true",
                               "--browser.gatherUsageStats", "false"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("the demo did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


def wait_for_text(driver, text: str, timeout: float = 90):
    WebDriverWait(driver, timeout).until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), text))


def show_page(driver, name: str):
    label = WebDriverWait(driver, 60).until(EC.element_to_be_clickable(
        (By.XPATH, f"//section[@data-testid='stSidebar']//label[.//p[text()='{name}']]")))
    label.click()


def test_a_review_typed_into_the_page_is_classified_and_every_page_renders(served, browser, tmp_path):
    browser.get(served)
    wait_for_text(browser, "Classify a review")
    box = WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.TAG_NAME, "textarea")))
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    typed = "Dreadful. A boring, stupid film with awful acting and a terrible script. A waste of time."
    box.send_keys(typed)
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    # the page must show the typed review's own results, which differ from the default example's in every
    # figure checked (its label, its token count, its probabilities): the example's page cannot pass
    from edge_runtime import TextClassifier
    from sparse_edge.demo_app import EXAMPLES, shown_variants

    shipped = REPO / "artifacts" / "imdb-classifier" / "tflite"
    first, int8 = shown_variants()   # the shipped folder's dynamic and int8 files
    expected = {v: TextClassifier(shipped / f"{v}.tflite").classify(typed) for v in (first, int8)}
    example = TextClassifier(shipped / f"{first}.tflite").classify(next(iter(EXAMPLES.values())))
    assert example.label != expected[first].label and example.n_tokens != expected[first].n_tokens
    wait_for_text(browser, f"{expected[first].n_tokens} tokens;")
    values = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-testid='stMetricValue']")]
    deltas = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-testid='stMetricDelta']")]
    assert values == [expected[first].label, expected[int8].label] == ["negative", "negative"]
    assert [d.split("\n")[-1] for d in deltas] == [f"{r.score:.1%} confident" for r in expected.values()]
    body = browser.find_element(By.TAG_NAME, "body").text
    for result in expected.values():
        assert f"negative: {result.probabilities[0]:.1%}" in body
    assert "Traceback" not in body
    assert screenshot(browser, tmp_path, "classify").stat().st_size > 10_000
    for page, marker in [("Attention", "Attention patterns"), ("Parity", "What quantization cost"),
                         ("Generate", "Generate a review")]:
        show_page(browser, page)
        wait_for_text(browser, marker)
        if page == "Attention":   # the words the decision leans on and the weights, drawn with TensorFlow
            wait_for_text(browser, "What the decision leans on")
        if page == "Generate":
            button = WebDriverWait(browser, 60).until(EC.element_to_be_clickable(
                (By.XPATH, "//button[.//p[text()='Generate']]")))
            button.click()
            wait_for_text(browser, "new tokens")
        assert "Traceback" not in browser.find_element(By.TAG_NAME, "body").text
        assert screenshot(browser, tmp_path, page.lower()).stat().st_size > 10_000
