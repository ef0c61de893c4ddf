"""``sparse-edge compare``: accuracy and training time per attention pattern and max length."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from sparse_edge.commands.common import data_options, data_spec, source_options, usage, with_tensorflow


@click.command("compare")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The train_config.json every run starts from.")
@click.option("--vocab", "vocab_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="One vocab.txt for all runs, so only the pattern and length differ.")
@click.option("--runs", default="dense:1024,local:1024,bigbird:1024,bigbird:512,bigbird:256", show_default=True,
              help="PATTERN:MAX_LENGTH pairs, comma-separated.")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(1), help="The same budget for every run.")
@click.option("--out", "out_dir", default="runs/compare", show_default=True, type=click.Path(file_okay=False))
@click.option("--json-dir", default="runs/compare/json", show_default=True, type=click.Path(file_okay=False),
              help="One small JSON per run (the README's table reads artifacts/experiments: name it to update it).")
@source_options("imdb")
@data_options
def compare(config_path, vocab_path, runs, epochs, out_dir, json_dir, data_source, text_column, label_column,
            data_dir, manual_dir):
    """Train one model per PATTERN:MAX_LENGTH at the same budget; write one JSON per run.

    Runs that already have a JSON are skipped, so an interrupted comparison continues.
    """
    with_tensorflow("sparse-edge compare")
    from training.files import write_json_atomic
    from training.train import train
    from training.train_config import TrainConfig

    base = TrainConfig.load(config_path)
    data = data_spec(data_source, text_column, label_column, data_dir, manual_dir)
    for item in runs.split(","):
        try:
            pattern, length = item.split(":")
            length = int(length)
            config = dataclasses.replace(base, epochs=epochs, model=dataclasses.replace(
                base.model, max_length=length, pattern=dataclasses.replace(base.model.pattern, name=pattern)))
        except ValueError as error:
            usage(f"bad run {item!r} ({error}); write PATTERN:MAX_LENGTH, for example bigbird:512")
        target = Path(json_dir) / f"{pattern}-{length}.json"
        if target.exists():
            click.echo(f"{item}: done already ({target})")
            continue
        click.echo(f"{item}: training {epochs} epoch(s)")
        try:
            metrics = train(config, Path(out_dir) / f"{pattern}-{length}", data_dir, manual_dir, vocab_path=vocab_path,
                            data=data)
        except ValueError as error:
            usage(str(error))
        write_json_atomic(target, {
            "pattern": pattern, "max_length": length, "epochs": epochs, "data": data_source,
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "val_accuracy": metrics["val_accuracy"], "train_seconds": metrics["train_seconds"],
            "wall_seconds": metrics["wall_seconds"], "n_test": metrics["n"], "machine": metrics["machine"],
            "command_template": f"sparse-edge compare --config {config_path} --vocab {vocab_path} "
                                f"--runs {runs} --epochs {epochs} --data {data_source}"})
        click.echo(json.dumps({"run": item, "accuracy": metrics["accuracy"]}))
