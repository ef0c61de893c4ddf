"""``sparse-edge web``: classify in the browser with MediaPipe Tasks (the page in web/)."""

from __future__ import annotations

import click

from sparse_edge.commands.common import usage


@click.command("web")
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="A MediaPipe .tflite (MODEL_DIR/mediapipe/<variant>.tflite) [default: the shipped IMDB "
                   "classifier's file for MediaPipe (convert/web_page.py: DEFAULT_MODEL)].")
@click.option("--port", default=8600, show_default=True, type=click.IntRange(0, 65535))
def web(model_path, port):
    """Serve the page that classifies text in the browser, on http://127.0.0.1:PORT.

    The page runs MediaPipe Tasks' TextClassifier (@mediapipe/tasks-text, WebAssembly) on the
    model; the text never leaves the browser. The first run copies @mediapipe/tasks-text from the
    npm registry into web/vendor/ (needs npm); nothing is loaded from a CDN.
    """
    from convert.web_page import DEFAULT_MODEL, WebSetupError, make_server

    try:
        server = make_server(model_path or DEFAULT_MODEL, port)
    except (WebSetupError, OSError, ValueError) as error:
        usage(str(error))
    click.echo(f"open http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
