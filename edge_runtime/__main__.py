"""``python -m edge_runtime MODEL.tflite "text" ...``: the edge-only command line."""

from edge_runtime.cli import main

main(prog_name="python -m edge_runtime")
