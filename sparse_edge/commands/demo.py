"""``sparse-edge demo``: start the Streamlit app (classify, generate, attention, parity)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from sparse_edge.commands.common import usage

APP = Path(__file__).resolve().parents[1] / "demo_app.py"


@click.command("demo")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.option("--headless/--browser", default=True, show_default=True,
              help="Only serve (headless), or also open a browser tab.")
@click.option("--model-dir", type=click.Path(exists=True, file_okay=False),
              help="A converted classifier folder of yours (MODEL_DIR/tflite/*.tflite) to classify with "
                   "[default: artifacts/imdb-classifier].")
def demo(port, headless, model_dir):
    """Start the Streamlit demo on http://localhost:PORT (needs the `demo` extra).

    The Classify page shows every label's probability (the ten most probable when there are more).
    """
    try:
        import streamlit  # noqa: F401
    except ImportError:
        usage("the demo needs Streamlit; pip install -e '.[demo]'")
    env = dict(os.environ)
    if model_dir:
        from convert.variants import FULL_INTEGER, REFERENCE
        from training.saved import ModelFolder

        folder = ModelFolder(model_dir)
        missing = [v for v in (REFERENCE, FULL_INTEGER) if not folder.tflite(v).exists()]
        if missing:
            usage(f"{model_dir} has no {' or '.join(missing)} .tflite; run `sparse-edge convert {model_dir}` first")
        env["SPARSE_EDGE_CLASSIFIER"] = str(Path(model_dir).resolve())
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
               "--server.headless", "true" if headless else "false", "--browser.gatherUsageStats", "false"]
    sys.exit(subprocess.call(command, env=env))
