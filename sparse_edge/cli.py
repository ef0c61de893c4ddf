"""The ``sparse-edge`` command line.

This module only assembles subcommands. Each lives in ``sparse_edge/commands/<noun>.py`` and is
imported when it is run, so ``sparse-edge predict`` works where TensorFlow is not installed and
``sparse-edge --help`` starts in a blink.
"""

from __future__ import annotations

import importlib
import os

import click

from edge_runtime.cli import OneLineErrors
from edge_runtime.quiet import VERBOSE_ENV

# name -> (module, attribute, one-line help shown by --help without importing the module)
COMMANDS = {
    "bench": ("sparse_edge.commands.bench", "bench",
              "Measure speed and memory; write JSON (under runs/bench unless --json says where)."),
    "train": ("sparse_edge.commands.train", "train",
              "Train the sparse classifier on IMDB or your own data (--data csv:|jsonl:|dir:|tfds:)."),
    "evaluate": ("sparse_edge.commands.train", "evaluate",
                 "Accuracy, precision, recall, F1 and confusion matrix of a trained model."),
    "train-hybrid": ("sparse_edge.commands.train", "train_hybrid",
                     "Build the hybrid: NB-LR on hashed n-grams plus the sparse Transformer, one model."),
    "ensemble": ("sparse_edge.commands.train", "ensemble",
                 "Average trained classifiers into one model; evaluate it on validation and test."),
    "predict": ("sparse_edge.commands.predict", "predict",
                "Classify reviews with a .tflite (edge runtime, no TensorFlow) or a model folder."),
    "serve": ("edge_runtime.serve", "main",
              "Serve a .tflite as JSON over HTTP (POST /classify, /health, /metrics); edge runtime only."),
    "compare": ("sparse_edge.commands.compare", "compare",
                "Accuracy and training time per attention pattern and max length, one budget."),
    "convert": ("sparse_edge.commands.convert", "convert",
                "Convert a trained model to .tflite: float32, float16, dynamic, int8."),
    "parity": ("sparse_edge.commands.convert", "parity",
               "Accuracy and drift of every .tflite against the Keras model on a whole split."),
    "train-lm": ("sparse_edge.commands.generate", "train_lm",
                 "Train the causal sparse language model on IMDB reviews."),
    "generate": ("sparse_edge.commands.generate", "generate",
                 "Continue a prompt with the language model (.tflite or Keras folder)."),
    "demo": ("sparse_edge.commands.demo", "demo",
             "Start the Streamlit demo: classify, generate, attention, parity."),
    "draw-patterns": ("sparse_edge.commands.draw", "draw_patterns",
                      "Draw every attention pattern's block layout as a PNG."),
    "pipeline": ("sparse_edge.commands.pipeline", "pipeline",
                 "The whole story: data (IMDB or yours), vocabulary, training, .tflite variants, parity, edge, summary."),
    "draw-results": ("sparse_edge.commands.draw", "draw_results",
                     "Plot accuracy per pattern and length, and per quantized variant, from artifacts/ JSON."),
    "sign": ("edge_runtime.cli", "sign_command",
             "Sign .tflite files (OpenSSF model-signing) so devices run only yours; or make a key pair."),
    "report": ("sparse_edge.commands.report", "report", "Regenerate the README's tables from artifacts/ JSON."),
    "web": ("sparse_edge.commands.web", "web",
            "Classify in the browser: a page running the MediaPipe file with MediaPipe Tasks (web/)."),
}


class LazyGroup(OneLineErrors, click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs.

    Errors are one line starting ``error:`` (exit 2: fix the command; exit 1: it failed while
    running); see ``sparse_edge/commands/common.py``.
    """

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sparse-edge")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's, absl's and XNNPACK's own log lines.")
def main(verbose):
    """sparse-edge: a block-sparse Transformer from IMDB to a quantized .tflite on the edge.

    Run `sparse-edge COMMAND --help` for a command's options. Through the project's set-up,
    `scripts/run COMMAND ...` is the same as `sparse-edge COMMAND ...` (or activate .venv).
    """
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


if __name__ == "__main__":
    main()
