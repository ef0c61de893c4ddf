"""The browser page (``sparse-edge web``): MediaPipe Tasks classifies in headless Chromium, offline.

The page's labels and probabilities must equal edge_runtime's on the same file (typed reviews and
the committed hostile texts: the model was trained with MediaPipe's tokenizer rules), every
request it makes goes to its own server (no CDN), and a file without MediaPipe metadata gets a
message in the page. With ``SPARSE_EDGE_SCREENSHOTS=artifacts/web`` the README's picture is saved.
"""

import threading
from pathlib import Path

import pytest

from tests.conftest import screenshot

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "artifacts" / "imdb-classifier-mediapipe" / "mediapipe" / "dynamic.tflite"
TEXTS = ["A wonderful, moving film. The cast is superb and the ending stayed with me for days.",
         "Dull, predictable and far too long. I checked my watch every ten minutes.",
         "Some good moments and a strong lead, but the plot falls apart in the second half.",
         "i loved it"]


def serve(model: Path):
    from convert.web_page import WebSetupError, make_server

    try:
        server = make_server(model, 0)
    except WebSetupError as error:   # npm or the registry missing: CI installs npm, so a skip fails CI
        pytest.skip(str(error))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture(scope="module")
def page():
    server, url = serve(MODEL)
    yield url
    server.shutdown()
    server.server_close()


def classify_in_page(browser, text: str) -> dict[str, float]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    button = WebDriverWait(browser, 120).until(EC.element_to_be_clickable((By.ID, "classify")))
    browser.execute_script("document.getElementById('text').value = arguments[0];"
                           "document.getElementById('status').textContent = '';", text)
    button.click()
    WebDriverWait(browser, 60).until(EC.text_to_be_present_in_element((By.ID, "status"), "Classified."))
    rows = browser.find_elements(By.CSS_SELECTOR, "#bars .row")
    return {row.get_attribute("data-label"): float(row.get_attribute("data-score")) for row in rows}


def test_the_page_shows_edge_runtimes_labels_and_probabilities(page, browser, tmp_path):
    from edge_runtime import TextClassifier

    ours = TextClassifier(MODEL)
    browser.get(page)
    for text in TEXTS:
        shown = classify_in_page(browser, text)
        expected = ours.classify(text)
        assert list(shown) == sorted(ours.labels, key=lambda label: -expected.probabilities[ours.labels.index(label)])
        for label, probability in zip(ours.labels, expected.probabilities):
            assert shown[label] == pytest.approx(probability, abs=1e-3), (text, label)
        assert browser.find_element("id", "label").text == expected.label
    # nothing leaves the browser: every resource the page loaded came from its own server
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(url.startswith(page) for url in urls), urls
    browser.set_window_size(1000, 760)
    assert screenshot(browser, tmp_path, "web").stat().st_size > 10_000


def test_a_file_without_mediapipe_metadata_gets_a_message_in_the_page(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    server, url = serve(REPO / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite")
    try:
        browser.get(url)
        WebDriverWait(browser, 60).until(EC.text_to_be_present_in_element((By.ID, "status"), "no MediaPipe metadata"))
        status = browser.find_element(By.ID, "status")
        assert "sparse-edge convert MODEL_DIR --target mediapipe" in status.text
        assert "error" in status.get_attribute("class")
        assert browser.find_element(By.ID, "classify").get_attribute("disabled") is not None
    finally:
        server.shutdown()
        server.server_close()


def in_page_probe(browser, url: str):
    """texts -> the ids the page's MediaPipe fed a probe file (``convert/mediapipe_tokens.py``)."""
    from selenium.webdriver.support.ui import WebDriverWait

    from convert.mediapipe_tokens import ids_of_scores

    browser.get(url)
    WebDriverWait(browser, 120).until(lambda b: b.execute_script("return !!window.sparseEdge"))

    def probe(texts):
        rows = []
        for i in range(0, len(texts), 200):
            rows += browser.execute_script("return window.sparseEdge.scores(arguments[0])", texts[i:i + 200])
        return ids_of_scores(rows)
    return probe


@pytest.mark.slow
def test_the_page_splits_every_code_point_as_mediapipes_python_release_of_its_version(browser, tmp_path):
    """Every code point through MediaPipe in the browser (a probe file in the page): as the committed table,
    but for the 14 Unicode 16 punctuation marks its RE2 reads as letters (tests/test_mediapipe_tokens.py)."""
    from convert.mediapipe_tokens import classes, probe_file, scan_vocabulary
    from tests.test_mediapipe_tokens import expected_classes

    server, url = serve(probe_file(scan_vocabulary(), tmp_path / "probe.tflite"))
    try:
        measured = classes(probe=in_page_probe(browser, url))
    finally:
        server.shutdown()
        server.server_close()
    assert measured == expected_classes(elsewhere=True)


@pytest.mark.slow
def test_the_page_gives_edge_runtimes_labels_on_the_hostile_texts(page, browser):
    """Accents, zero-width and control characters, NUL, emoji, right-to-left and CJK text, HTML and very
    long inputs (convert/hostile_texts.json): MediaPipe in the browser labels each as edge_runtime does."""
    import json

    import numpy as np

    from edge_runtime import TextClassifier

    texts = json.loads((REPO / "convert" / "hostile_texts.json").read_text())["texts"]
    ours = TextClassifier(MODEL)
    expected = np.array([ours.classify(t).probabilities for t in texts])
    browser.get(page)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 120).until(lambda b: b.execute_script("return !!window.sparseEdge"))
    shown = np.array(browser.execute_script("return window.sparseEdge.scores(arguments[0])", texts))
    assert (shown.argmax(1) == expected.argmax(1)).all(), [t[:40] for t, a, b in zip(texts, shown, expected)
                                                            if a.argmax() != b.argmax()]
    np.testing.assert_allclose(shown, expected, atol=1e-3)


@pytest.mark.slow
def test_parity_runs_the_mediapipe_files_in_the_page_when_asked(tmp_path):
    """``sparse-edge parity --target mediapipe --mediapipe web``: the test split and the hostile texts through
    tasks-text in headless Chromium, judged like a Python release."""
    from convert.mediapipe_parity import run_mediapipe_parity
    from convert.web_page import TASKS_TEXT_VERSION

    report = run_mediapipe_parity(MODEL.parents[1], ["dynamic"], limit=8, progress=False, out_dir=tmp_path,
                                  mediapipe="web")
    row = report["variants"]["dynamic"]
    assert report["mediapipe"] == f"@mediapipe/tasks-text {TASKS_TEXT_VERSION} in headless Chromium"
    assert report["n"] == 8 and row["agreement"] == 1 and row["hostile_labels_that_differ"] == [] and row["met"]
    assert row["max_abs_prob_diff"] < 1e-3 and "headless Chromium" in (tmp_path / "parity.md").read_text()


@pytest.mark.slow
def test_pages_in_parallel_give_every_text_its_own_scores_in_order():
    """``page_scores`` shares the batches among browsers: the rows come back in the texts' order, equal to one
    page's and to edge_runtime's for the same texts."""
    import numpy as np

    from convert.mediapipe_parity import edge_probabilities, page_scores

    texts = [f"{word} film, {n} stars" for n, word in enumerate(["A dreadful", "A wonderful", "An awful",
                                                                  "A brilliant", "A boring", "A moving", "Dull"])]
    one = page_scores(MODEL, texts, progress=False, batch=2, pages=1)
    two = page_scores(MODEL, texts, progress=False, batch=2, pages=2)
    assert one.shape == (len(texts), 2) and np.array_equal(one, two)
    assert len({tuple(row) for row in one}) > 1     # the texts got scores of their own
    np.testing.assert_allclose(two, edge_probabilities(MODEL, texts, progress=False), atol=1e-3)
