"""The page server of ``sparse-edge web`` and of ``parity --target mediapipe --mediapipe web``: the static page
in ``web/`` that classifies text in the browser with MediaPipe Tasks.

The page (``web/index.html``, ``web/app.js``) loads ``@mediapipe/tasks-text`` from ``web/vendor/``
(copied there from the npm registry by :func:`vendor_tasks_text`, never from a CDN at run time)
and the model from this server, and classifies in the browser: the text never leaves it. The
server is the standard library's, bound to 127.0.0.1, and serves only the page's files, the model
(``/model.tflite``) and what the page needs to know about it (``/model.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from training.saved import ModelFolder

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
TASKS_TEXT = "@mediapipe/tasks-text"
# the release of the mediapipe Python package that writes the files' metadata; SPARSE_EDGE_TASKS_TEXT picks another
# (1.0.1, the newest on npm, was measured to split every code point as 0.10.21: tests/test_web.py)
PINNED_TASKS_TEXT = "0.10.21"
TASKS_TEXT_VERSION = os.environ.get("SPARSE_EDGE_TASKS_TEXT", PINNED_TASKS_TEXT)
VENDOR = WEB / "vendor" / "tasks-text"
VENDORED = ("text_bundle.mjs", "wasm/text_wasm_internal.js", "wasm/text_wasm_internal.wasm",
            "wasm/text_wasm_nosimd_internal.js", "wasm/text_wasm_nosimd_internal.wasm")
DEFAULT_MODEL = ModelFolder(ROOT / "artifacts" / "imdb-classifier-mediapipe").mediapipe_file("dynamic")


class WebSetupError(RuntimeError):
    """The page cannot be served as asked; the message says what to install or give."""


def vendor_tasks_text(destination: Path = VENDOR) -> Path:
    """Copy ``@mediapipe/tasks-text`` (its ES module and WebAssembly) from the npm registry into ``destination``."""
    version_file = destination / "VERSION"
    vendored = version_file.read_text().strip() if version_file.exists() else PINNED_TASKS_TEXT   # older copies
    if all((destination / name).exists() for name in VENDORED) and vendored == TASKS_TEXT_VERSION:
        return destination
    npm = shutil.which("npm")
    if npm is None:
        raise WebSetupError(f"the page needs {TASKS_TEXT}@{TASKS_TEXT_VERSION} from the npm registry, and npm is "
                            "not installed: install Node.js with npm (Debian: apt-get install npm), then run again")
    with tempfile.TemporaryDirectory() as work:
        result = subprocess.run([npm, "pack", f"{TASKS_TEXT}@{TASKS_TEXT_VERSION}", "--pack-destination", work],
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise WebSetupError(f"npm could not fetch {TASKS_TEXT}@{TASKS_TEXT_VERSION} "
                                f"({result.stderr.strip().splitlines()[-1:]}); check access to the npm registry")
        archive = next(Path(work).glob("*.tgz"))
        staging = Path(work) / "package"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.removeprefix("package/") in VENDORED]
            tar.extractall(work, members=members, filter="data")
        destination.parent.mkdir(parents=True, exist_ok=True)
        (staging / "VERSION").write_text(TASKS_TEXT_VERSION + "\n")
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(staging, destination)
    return destination


def model_info(path: Path, data: bytes) -> dict:
    """What the page shows and checks: the file's name, size, labels, and whether it has MediaPipe metadata
    (any MediaPipe text classifier runs, this project's or not; its labels are shown if it is one of ours)."""
    from edge_runtime.bundle import BundleError, read_bundle

    try:
        labels = read_bundle(data, str(path)).labels
    except BundleError:
        labels = []
    return {"name": path.name, "size_bytes": len(data), "labels": labels, "mediapipe": b"TFLITE_METADATA" in data}


class PageHandler(SimpleHTTPRequestHandler):
    """The files under web/, the model at /model.tflite and its description at /model.json; nothing else.
    The model is read once, when the server is made."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm"}

    def __init__(self, *args, model: bytes, info: dict, **kwargs):
        self.model, self.info = model, info
        super().__init__(*args, directory=str(WEB), **kwargs)

    def do_GET(self):  # noqa: N802 - the http.server API
        route = self.path.split("?", 1)[0]
        if route == "/model.json":
            return self._send(json.dumps(self.info).encode(), "application/json")
        if route == "/model.tflite":
            return self._send(self.model, "application/octet-stream")
        return super().do_GET()

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - quiet: the texts never reach the server anyway
        pass


def make_server(model: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The page's server for ``model`` (not started); ``port`` 0 picks a free one."""
    model = Path(model)
    if not model.is_file():
        raise WebSetupError(f"{model} is not a file; give a .tflite from MODEL_DIR/mediapipe/ "
                            "(`sparse-edge convert MODEL_DIR --target mediapipe`)")
    from edge_runtime.bundle import read_model_file

    vendor_tasks_text()
    data = read_model_file(model)
    return ThreadingHTTPServer((host, port), partial(PageHandler, model=data, info=model_info(model, data)))

