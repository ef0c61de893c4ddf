"""``sparse-edge predict``: classify reviews with a ``.tflite`` (edge runtime) or a model folder (Keras)."""

from __future__ import annotations

import click

from edge_runtime.cli import edge_options, run_edge_predict
from sparse_edge.commands.common import usage, with_tensorflow


@click.command("predict")
@click.argument("model", type=click.Path(exists=True))
@click.argument("texts", nargs=-1)
@edge_options
def predict(model, texts, file_path, jsonl_path, lines, strict, batch_size, threads, backend, as_json, public_key,
            max_length):
    """Classify TEXTS (or --file lines, --jsonl records, or standard input) with MODEL.

    MODEL is a bundled .tflite written by `sparse-edge convert` (runs on the edge runtime:
    numpy and a TFLite interpreter, no TensorFlow) or a trained model folder (runs the Keras
    model; needs the `train` extra).
    """
    from pathlib import Path

    if Path(model).is_file():
        run_edge_predict(model, texts, file_path, jsonl_path, threads, backend, as_json, lines, strict, batch_size,
                         max_length, public_key)
        return
    if public_key is not None:
        usage("--public-key is for a .tflite file (a model folder is not signed)")
    if max_length is not None:
        usage("--max-length is for a .tflite file (a model folder cuts where it was trained)")
    _keras_predict(model, texts, file_path, jsonl_path, as_json)


def _keras_predict(model, texts, file_path, jsonl_path, as_json):
    import json

    from edge_runtime.cli import read_texts

    inputs = read_texts(texts, file_path, jsonl_path)
    if not inputs:
        usage("no text to classify; give TEXT arguments, --file PATH or standard input")
    with_tensorflow("a model folder (a .tflite file runs without it)")
    from training.saved import ModelFolder, classify_texts

    folder = ModelFolder(model)
    try:
        keras_model, tokenizer, _ = folder.load()
    except ValueError as error:
        usage(str(error))
    for text, result in zip(inputs, classify_texts(keras_model, tokenizer, inputs, folder.labels)):
        if as_json or jsonl_path:
            click.echo(json.dumps(result.to_dict()))
        else:
            note = " (truncated)" if result.truncated else ""
            click.echo(f"{result.label}\t{result.score:.3f}\t{result.n_tokens} tokens{note}\t{text[:60]!r}")
