"""``sparse-edge convert`` and ``sparse-edge parity``: TFLite files and what they cost."""

from __future__ import annotations

import json

import click

from sparse_edge.commands.common import data_options, data_spec, fail, quiet_option, source_options, usage, with_tensorflow


def _variants_help() -> str:
    from convert.variants import EDGE, MEDIAPIPE, default_names, variants

    listed = ", ".join(f"{v.name} ({v.summary})" for v in variants())
    return (f"Comma-separated: {listed} [default: {','.join(default_names(EDGE))}; for --target mediapipe "
            f"{','.join(default_names(MEDIAPIPE))}; a language model: its own].")


@click.command("convert")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--variants", default=None, help=_variants_help())
@click.option("--target", type=click.Choice(["edge", "mediapipe"]), default="edge", show_default=True,
              help="edge: MODEL_DIR/tflite/, one signature per input length, for edge_runtime. mediapipe: "
              "MODEL_DIR/mediapipe/, one signature at one length with BERT's three inputs and MediaPipe metadata, "
              "for MediaPipe Tasks' TextClassifier (Android, iOS, web, Python) and edge_runtime.")
@click.option("--length", type=click.IntRange(2),
              help="--target mediapipe: the input length [default: the 95th percentile of the training texts' "
              "token counts, rounded up to the block size].")
@click.option("--longest", type=click.IntRange(2),
              help="The longest input the edge files read whole, in tokens (bytes for a byte-level model); only "
              "a model whose positions are relative (positional: conv) reads past its training cut [default: "
              "4x its max_length for such a model, else its max_length].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for <variant>.tflite [default: MODEL_DIR/tflite].")
@click.option("--calibration-reviews", default=64, show_default=True, type=click.IntRange(1),
              help="Training reviews per input length that calibrate the full-integer variant.")
@click.option("--quantize-all", is_flag=True,
              help="Full integer: quantize every op (skip the QuantizationDebugger's float ops).")
@quiet_option
@data_options
def convert(model_dir, variants, target, length, longest, out_dir, calibration_reviews, quantize_all, quiet,
            data_dir, manual_dir):
    """Convert a trained model folder to .tflite files, one per variant.

    A language-model folder (from `sparse-edge train-lm`) converts to its own variants, with
    one `next_token` signature.

    Each file holds one signature per input length (a short review runs at a short length) and
    carries its tokenizer's files (vocab.txt, none for a byte-level model), labels.txt and
    config.json, so it is the whole deployable model. The full-integer file is calibrated on
    training reviews; the QuantizationDebugger's per-op errors go to MODEL_DIR/quant_debug.csv
    and the ops it flags stay in float.
    """
    with_tensorflow("sparse-edge convert")
    from convert import targets
    from convert.mediapipe_export import MediaPipeMissing
    from convert.tflite import ConversionError
    from training.data import DatasetMissing

    try:
        written = targets.convert(model_dir, target, variants, out_dir, length, data_dir, manual_dir,
                                  calibration_reviews, quantize_all, progress=not quiet, longest=longest)
    except (ValueError, DatasetMissing, MediaPipeMissing) as error:
        usage(str(error))
    except (ConversionError, RuntimeError) as error:
        fail(str(error))
    click.echo(json.dumps({name: {"path": str(path), "size_bytes": path.stat().st_size}
                           for name, path in written.items()}, indent=2))


@click.command("parity")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]))
@click.option("--variants", help="Comma-separated variants to check [default: every MODEL_DIR/tflite/*.tflite].")
@click.option("--limit", type=click.IntRange(1), help="Only the first N reviews (quick checks; the report says n).")
@click.option("--recheck", is_flag=True, help="Judge the recorded parity.json against the thresholds again, "
              "without rerunning inference (the files must be unchanged).")
@click.option("--target", type=click.Choice(["edge", "mediapipe"]), default="edge", show_default=True,
              help="mediapipe: run MODEL_DIR/mediapipe/*.tflite through MediaPipe's TextClassifier and through "
              "edge_runtime and compare them (MODEL_DIR/mediapipe/parity.json, parity.md).")
@click.option("--mediapipe", "mediapipe_version", metavar="VERSION",
              help="--target mediapipe: the mediapipe release whose TextClassifier runs the files, installed into "
              ".venv-mediapipe-VERSION when missing [default: 0.10.21, the one that writes the metadata]; web: the "
              "web page's @mediapipe/tasks-text in headless Chromium.")
@click.option("--tflite-dir", type=click.Path(exists=True, file_okay=False),
              help="Where the .tflite files are [default: MODEL_DIR/tflite; --target mediapipe: MODEL_DIR/mediapipe].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where parity.json and parity.md go [default: MODEL_DIR].")
@quiet_option
@source_options(None)
@data_options
def parity(model_dir, split, variants, limit, recheck, target, mediapipe_version, tflite_dir, out_dir, quiet, data_source, text_column,
           label_column, data_dir, manual_dir):
    """Compare the Keras model with every .tflite variant, review by review, on a whole split.

    The TFLite side runs through edge_runtime (its tokenizer and interpreter wrapper), one
    review at a time on one thread. The split is the model's own data (MODEL_DIR/data.json) unless
    --data names other data with the same labels. Writes MODEL_DIR/parity.json and parity.md; exits 1 when
    a variant misses its threshold (accuracy, agreement, probability drift, size).
    """
    with_tensorflow("sparse-edge parity")
    from convert import targets
    from convert.mediapipe_export import MediaPipeMissing
    from training.data import DatasetMissing
    from convert.web_page import WebSetupError

    try:
        data = data_spec(data_source, text_column, label_column, data_dir, manual_dir)
        report = targets.parity(model_dir, target, variants, split, limit, recheck, mediapipe_version, tflite_dir,
                                out_dir, data_dir, manual_dir, data, progress=not quiet)
    except (ValueError, DatasetMissing, MediaPipeMissing, WebSetupError) as error:
        usage(str(error))
    summary, failure = targets.parity_summary(report)
    click.echo(json.dumps(summary, indent=2))
    if failure:
        fail(failure)
