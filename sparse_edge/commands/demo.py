"""``sparse-edge demo``: start the Streamlit app (classify, generate, attention, parity)."""

from __future__ import annotations

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
def demo(port, headless):
    """Start the Streamlit demo on http://localhost:PORT (needs the `demo` extra)."""
    try:
        import streamlit  # noqa: F401
    except ImportError:
        usage("the demo needs Streamlit; pip install -e '.[demo]'")
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
               "--server.headless", "true" if headless else "false", "--browser.gatherUsageStats", "false"]
    sys.exit(subprocess.call(command))
