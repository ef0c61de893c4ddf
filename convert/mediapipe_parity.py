"""``sparse-edge parity MODEL_DIR --target mediapipe``: the same file through MediaPipe and through edge_runtime.

Both runtimes run the one-signature file of ``MODEL_DIR/mediapipe/<variant>.tflite`` on every
test text and on the committed hostile texts (``convert/hostile_texts.json``: accents, zero-width
and control characters, NUL, emoji, right-to-left and CJK text, HTML, very long inputs):
MediaPipe's ``TextClassifier`` (in the mediapipe environment, its own BERT tokenizer from the
file's metadata) and ``edge_runtime.TextClassifier`` (this project's tokenizer, with the
``mediapipe`` rules that ``convert --target mediapipe`` requires). The weights are the same, so
what could differ is the tokenizer and the kernels. The report says: accuracy through each,
agreement, the largest probability difference, and the hostile texts whose labels differ.

Goal (the issue "The same answer on every runtime"): accuracy through MediaPipe within 0.3 pp of
edge_runtime's, at least 99.9% of the test labels the same, and every hostile text's label the same.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from convert.variants import RUNTIME_THRESHOLDS, runtimes_agree
from training.files import write_json_atomic, write_text_atomic
from training.saved import ModelFolder

SCRIPT = Path(__file__).with_name("mediapipe_metadata.py")
HOSTILE = Path(__file__).with_name("hostile_texts.json")
WEB = "web"   # ``mediapipe="web"``: the files run in the web page (sparse-edge web) instead of a Python release


def mediapipe_probabilities(path: Path, texts: list[str], n_labels: int, progress: bool = True,
                            version: str | None = None) -> np.ndarray:
    """(texts, labels) scores from MediaPipe's TextClassifier, run in the mediapipe environment (of
    ``version``, default the one that wrote the metadata)."""
    from tqdm import tqdm

    from convert.mediapipe_export import mediapipe_python

    python = mediapipe_python(version=version)
    out = np.zeros((len(texts), n_labels), np.float32)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as lines:
        lines.writelines(json.dumps({"text": t}) + "\n" for t in texts)
        lines.seek(0)
        process = subprocess.Popen([str(python), str(SCRIPT), "classify", str(path)], stdin=lines,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for i, line in enumerate(tqdm(process.stdout, total=len(texts), desc=f"mediapipe {path.stem}",
                                      unit="text", disable=not progress, leave=False)):
            out[i] = json.loads(line)["scores"]
        if process.wait() != 0 or i != len(texts) - 1:
            raise RuntimeError(f"MediaPipe's TextClassifier stopped after {i + 1} of {len(texts)} texts on {path}")
    return out


def edge_probabilities(path: Path, texts: list[str], progress: bool = True) -> np.ndarray:
    from tqdm import tqdm

    from edge_runtime import TextClassifier

    classifier = TextClassifier(path, num_threads=1)
    return np.array([classifier.classify(t).probabilities
                     for t in tqdm(texts, desc=f"edge_runtime {path.stem}", unit="text", disable=not progress,
                                   leave=False)], np.float32)


def run_mediapipe_parity(model_dir: str | Path, variants: list[str] | None = None, limit: int | None = None,
                         data_dir: str | None = None, manual_dir: str | None = None, progress: bool = True,
                         out_dir: str | Path | None = None, mediapipe: str | None = None,
                         files_dir: str | Path | None = None) -> dict:
    """Compare MediaPipe with edge_runtime on the folder's test split; write ``parity.json`` and ``parity.md``
    beside the MediaPipe files (or in ``out_dir``). ``mediapipe``: the release whose TextClassifier runs
    (default the one that wrote the metadata; another one gets its own environment; ``"web"``: the web page,
    ``@mediapipe/tasks-text`` in headless Chromium). ``files_dir``: where
    the MediaPipe files are, if not ``MODEL_DIR/mediapipe`` (a ``convert --target mediapipe --out``)."""
    from convert.mediapipe_export import MEDIAPIPE_VARIANTS, MEDIAPIPE_VERSION
    from training.sources import data_for_folder

    folder = ModelFolder(model_dir)
    directory = Path(files_dir) if files_dir else folder.mediapipe_dir
    variants = variants or [v for v in MEDIAPIPE_VARIANTS if (directory / f"{v}.tflite").exists()]
    missing = [v for v in variants if not (directory / f"{v}.tflite").exists()]
    if missing or not variants:
        raise ValueError(f"no {', '.join(missing) or 'MediaPipe'} .tflite in {directory}; run "
                         f"`sparse-edge convert {folder.path} --target mediapipe` first")
    test = data_for_folder(folder, data_dir, manual_dir).load("test", limit=limit)
    labels = folder.labels
    if mediapipe == WEB:
        from convert.web_page import TASKS_TEXT, TASKS_TEXT_VERSION

        runtime = f"{TASKS_TEXT} {TASKS_TEXT_VERSION} in headless Chromium"
    else:
        runtime = mediapipe or MEDIAPIPE_VERSION
    report = {"n": len(test), "labels": labels, "mediapipe": runtime,
              "metadata_written_by": MEDIAPIPE_VERSION, "goal": RUNTIME_THRESHOLDS, "variants": {},
              "command": f"sparse-edge parity {folder.path} --target mediapipe --variants {','.join(variants)}"
                         + (f" --mediapipe {mediapipe}" if mediapipe else "")
                         + (f" --tflite-dir {files_dir}" if files_dir else "")
                         + (f" --limit {limit}" if limit else "") + (f" --out {out_dir}" if out_dir else "")}
    conversion = directory / Path(ModelFolder.CONVERSION).name
    for variant in variants:
        path = folder.tflite(variant, directory)
        started = time.time()
        hostile = json.loads(HOSTILE.read_text(encoding="utf-8"))["texts"]
        ours_all = edge_probabilities(path, test.texts + hostile, progress)
        if mediapipe == WEB:   # @mediapipe/tasks-text in the page, in headless Chromium
            theirs_all = page_scores(path, test.texts + hostile, progress)
        else:
            theirs_all = mediapipe_probabilities(path, test.texts + hostile, len(labels), progress, mediapipe)
        n = len(test)
        ours, theirs = ours_all[:n], theirs_all[:n]
        differ = np.flatnonzero(ours_all[n:].argmax(1) != theirs_all[n:].argmax(1))
        ours_pred, theirs_pred = ours.argmax(1), theirs.argmax(1)
        ours_acc, theirs_acc = float((ours_pred == test.labels).mean()), float((theirs_pred == test.labels).mean())
        diff = np.abs(ours - theirs)
        row = {"edge_runtime_accuracy": ours_acc, "mediapipe_accuracy": theirs_acc,
               "delta_accuracy_pp": round((theirs_acc - ours_acc) * 100, 4),
               "agreement": float((ours_pred == theirs_pred).mean()), "max_abs_prob_diff": float(diff.max()),
               "mean_abs_prob_diff": float(diff.mean()), "seconds": round(time.time() - started, 1),
               "hostile_texts": len(hostile), "hostile_labels_that_differ": [int(i) for i in differ],
               "hostile_max_abs_prob_diff": float(np.abs(ours_all[n:] - theirs_all[n:]).max()),
               "length": json.loads(conversion.read_text())["length"]["length"] if conversion.exists() else None}
        row["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()   # the file this was measured on
        row["met"] = runtimes_agree(row)
        report["variants"][variant] = row
    report["passed"] = all(row["met"] for row in report["variants"].values())
    out = Path(out_dir) if out_dir else directory
    write_json_atomic(out / ModelFolder.PARITY, report)
    write_text_atomic(out / ModelFolder.PARITY_MARKDOWN, parity_markdown(report))
    return report


def parity_markdown(report: dict) -> str:
    runtime = f"mediapipe {report['mediapipe']}" if report["mediapipe"][:1].isdigit() else report["mediapipe"]
    lines = [f"# MediaPipe TextClassifier ({runtime}) against edge_runtime, "
             f"{report['n']:,} test texts", "",
             "The same file through both runtimes, each with its own tokenizer (edge_runtime's with the rules the "
             "model was trained with). Reproduce: "
             f"`{report['command']}`.", "",
             "| variant | length | edge_runtime accuracy | MediaPipe accuracy | Δ (pp) | agreement | max abs Δp | "
             "mean abs Δp | hostile texts: labels that differ (max abs Δp) | goal |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for variant, row in report["variants"].items():
        hostile = (f"{len(row['hostile_labels_that_differ'])} of {row['hostile_texts']} "
                   f"({row['hostile_max_abs_prob_diff']:.1e})" if "hostile_texts" in row else "not measured")
        lines.append(f"| {variant} | {row['length']} | {row['edge_runtime_accuracy']:.2%} | "
                     f"{row['mediapipe_accuracy']:.2%} | {row['delta_accuracy_pp']:+.2f} | {row['agreement']:.2%} | "
                     f"{row['max_abs_prob_diff']:.1e} | {row['mean_abs_prob_diff']:.1e} | {hostile} | "
                     f"{'met' if row['met'] else 'MISSED'} |")
    goal = report["goal"]
    lines += ["", f"Goal: accuracy through MediaPipe within {goal['max_abs_delta_pp']} pp of edge_runtime's, "
              f"agreement at least {goal['min_agreement']:.1%}"
              + (", and no hostile text (convert/hostile_texts.json) labelled otherwise." if "hostile_labels_that_differ"
                 in goal else ".")]
    return "\n".join(lines) + "\n"

def page_scores(model: Path, texts: list[str], progress: bool = True, batch: int = 50, pages: int | None = None):
    """Every label's score for each text, (texts, labels), from MediaPipe in the page in headless Chromium
    (Debian's chromium and chromium-driver, driven by Selenium; ``window.sparseEdge.scores``). ``pages``
    browsers share the batches (default one a core: the page's WebAssembly runs on one)."""
    import os
    import shutil
    import tempfile
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from convert.web_page import WebSetupError, make_server

    try:
        from selenium import webdriver
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError as error:
        raise WebSetupError("the page runs in headless Chromium through Selenium, which is not installed: "
                            "pip install selenium (the dev extra has it)") from error
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        raise WebSetupError("the page needs a headless browser: install Debian's chromium and chromium-driver "
                            "(apt-get install chromium chromium-driver)")
    starts = list(range(0, len(texts), batch))
    pages = max(1, min(pages or os.cpu_count() or 1, len(starts)))
    server = make_server(model, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    drivers, profiles = [], []

    def open_page():
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        profiles.append(tempfile.mkdtemp(prefix="chromium-"))
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profiles[-1]}"):
            options.add_argument(flag)
        drivers.append(webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options))
        drivers[-1].set_script_timeout(600)
        drivers[-1].get(f"http://127.0.0.1:{server.server_address[1]}/")
        WebDriverWait(drivers[-1], 120).until(lambda d: d.execute_script("return !!window.sparseEdge"))
        return drivers[-1]

    try:
        free = [open_page() for _ in range(pages)]
        lock, rows = threading.Lock(), {}
        bar = tqdm(total=len(starts), desc=f"tasks-text {model.stem}", unit="batch", disable=not progress, leave=False)

        def score(start):
            with lock:
                driver = free.pop()
            try:
                rows[start] = driver.execute_script("return window.sparseEdge.scores(arguments[0])",
                                                    texts[start:start + batch])
            finally:
                with lock:
                    free.append(driver)
                    bar.update()

        with ThreadPoolExecutor(pages) as pool:
            list(pool.map(score, starts))   # list(): a page's error is raised here
        bar.close()
        return np.array([row for start in starts for row in rows[start]], np.float32)
    finally:
        for driver in drivers:
            driver.quit()
        server.shutdown()
        server.server_close()
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)
