"""``sparse-edge train`` and ``sparse-edge evaluate``: the Keras side of the classifier."""

from __future__ import annotations

import json
import sys

import click

DATA_OPTIONS = [
    click.option("--data-dir", envvar="TFDS_DATA_DIR", type=click.Path(file_okay=False),
                 help="TensorFlow Datasets folder holding a prepared imdb_reviews [env: TFDS_DATA_DIR]."),
    click.option("--manual-dir", type=click.Path(file_okay=False),
                 help="Folder with aclImdb_v1.tar.gz you downloaded yourself (no network needed)."),
]


def data_options(fn):
    for option in reversed(DATA_OPTIONS):
        fn = option(fn)
    return fn


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.command("train")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the model, config.json, vocab.txt, log.csv, metrics.json, checkpoints.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="A train_config.json (see model/train.py: TrainConfig); options below override it.")
@click.option("--pattern", help="Attention pattern: dense, local, strided, fixed, global, bigbird, logsparse.")
@click.option("--max-length", type=int, help="Longest review in tokens; longer ones are cut.")
@click.option("--epochs", type=int, help="Passes over the training split.")
@click.option("--seed", type=int, help="Seed of initialisation, shuffling and the validation split.")
@click.option("--vocab", "vocab_path", type=click.Path(exists=True, dir_okay=False),
              help="Use this vocab.txt instead of learning one from train + unsupervised.")
@click.option("--train-limit", type=int, help="Use only the first N training reviews (quick runs).")
@click.option("--test-limit", type=int, help="Report on only the first N test reviews (quick runs).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--strategy", type=click.Choice(["default", "mirrored", "multiworker"]), default="default",
              show_default=True, help="tf.distribute strategy: one device, all local devices, or a cluster "
              "described by TF_CONFIG.")
@click.option("--no-xla", is_flag=True, help="Do not compile steps with XLA.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@data_options
def train(out_dir, config_path, pattern, max_length, epochs, seed, vocab_path, train_limit, test_limit,
          resume, strategy, no_xla, quiet, data_dir, manual_dir):
    """Train the sparse classifier on IMDB and report test accuracy in OUT/metrics.json.

    The best epoch by validation accuracy (10% of train, seeded) is kept; test is used once,
    at the end.
    """
    import dataclasses

    from model.data import DatasetMissing
    from model.train import TrainConfig

    try:
        config = TrainConfig.load(config_path) if config_path else TrainConfig()
        model_changes = {}
        if max_length:
            model_changes["max_length"] = max_length
        if pattern:
            model_changes["pattern"] = dataclasses.replace(config.model.pattern, name=pattern)
        changes = {k: v for k, v in dict(epochs=epochs, seed=seed, train_limit=train_limit,
                                         test_limit=test_limit).items() if v is not None}
        if no_xla:
            changes["jit_compile"] = False
        if model_changes:
            changes["model"] = dataclasses.replace(config.model, **model_changes)
        config = dataclasses.replace(config, **changes)
    except (ValueError, TypeError) as error:
        fail(str(error))
    from model.train import train as run_training

    try:
        metrics = run_training(config, out_dir, data_dir, manual_dir, resume=resume, strategy=strategy,
                               vocab_path=vocab_path, progress=not quiet)
    except (DatasetMissing, ValueError) as error:
        fail(str(error))
    click.echo(json.dumps({k: metrics[k] for k in ("accuracy", "f1", "best_epoch", "val_accuracy",
                                                    "train_seconds")}, indent=2))


@click.command("evaluate")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]))
@click.option("--limit", type=int, help="Only the first N reviews of the split.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the metrics here [default: MODEL_DIR/eval-SPLIT.json].")
@data_options
def evaluate(model_dir, split, limit, json_path, data_dir, manual_dir):
    """Accuracy, precision, recall, F1 and the confusion matrix of a trained model."""
    from pathlib import Path

    from model.config import write_json_atomic
    from model.data import DatasetMissing, load_imdb
    from model.saved import load_trained
    from model.train import evaluate_model

    try:
        model, tokenizer, config = load_trained(model_dir)
        reviews = load_imdb(split, data_dir, manual_dir, limit=limit)
    except (DatasetMissing, ValueError) as error:
        fail(str(error))
    metrics = evaluate_model(model, tokenizer, reviews, config, progress=True)
    metrics["split"] = split
    write_json_atomic(json_path or Path(model_dir) / f"eval-{split}.json", metrics)
    click.echo(json.dumps(metrics, indent=2))


@click.command("ensemble")
@click.argument("member_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the combined model.keras, config.json, vocab.txt, log.csv, metrics.json.")
@click.option("--average", type=click.Choice(["probabilities", "weights"]), default="probabilities",
              show_default=True,
              help="probabilities: keep every member and average their outputs (costs the sum of the members); "
                   "weights: average the weights into one model of a member's size (members fine-tuned from "
                   "one language model, with one model config).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@data_options
def ensemble(member_dirs, out_dir, average, quiet, data_dir, manual_dir):
    """Combine trained classifiers (MEMBER_DIRS) into one model in OUT.

    Members must share vocab.txt, max_length, block size and validation split; with
    --average probabilities their patterns and sizes may differ. The result is evaluated on
    validation and test (OUT/metrics.json, with each member's numbers and the training time of
    all of them) and converts like any model.
    """
    from model.data import DatasetMissing
    from model.ensemble import build_ensemble

    try:
        metrics = build_ensemble(member_dirs, out_dir, data_dir, manual_dir, progress=not quiet,
                                 average=average)
    except (DatasetMissing, ValueError) as error:
        fail(str(error))
    click.echo(json.dumps({k: metrics[k] for k in ("accuracy", "f1", "val_accuracy", "train_seconds")}
                          | {"members": [m["accuracy"] for m in metrics["members"]]}, indent=2))
