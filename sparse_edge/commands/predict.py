"""``sparse-edge predict``: classify reviews with a trained model folder (Keras)."""

from __future__ import annotations

import json
import sys

import click


@click.command("predict")
@click.argument("model", type=click.Path(exists=True))
@click.argument("texts", nargs=-1)
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False),
              help="Classify each line of this file (one review per line).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per review on standard output.")
def predict(model, texts, file_path, as_json):
    """Classify TEXTS (or --file lines, or standard input) with MODEL, a trained model folder."""
    from model.saved import classify_texts, load_trained

    texts = list(texts)
    if file_path:
        with open(file_path, "rb") as f:
            texts += [line.decode("utf-8", errors="replace").rstrip("\r\n") for line in f]
    if not texts and not sys.stdin.isatty():
        texts = [sys.stdin.buffer.read().decode("utf-8", errors="replace")]
    if not texts:
        click.echo("error: no text to classify; give TEXT arguments, --file PATH or standard input", err=True)
        sys.exit(2)
    try:
        keras_model, tokenizer, _ = load_trained(model)
    except ValueError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    for text, result in zip(texts, classify_texts(keras_model, tokenizer, texts)):
        if as_json:
            click.echo(json.dumps(result.to_dict()))
        else:
            note = " (truncated)" if result.truncated else ""
            click.echo(f"{result.label}\t{result.score:.3f}\t{result.n_tokens} tokens{note}\t{text[:60]!r}")
