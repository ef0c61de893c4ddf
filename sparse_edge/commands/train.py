"""``sparse-edge train`` and ``sparse-edge evaluate``: the Keras side of the classifier."""

from __future__ import annotations

import json

import click

from sparse_edge.commands.common import (check_case_options, data_options, data_spec, quiet_option, source_options, tokenizer_options,
                                         usage, with_tensorflow)


@click.command("train")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the model, config.json, vocab.txt, log.csv, metrics.json, checkpoints.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="A train_config.json (see training/train_config.py: TrainConfig); options below override it.")
@click.option("--pattern", help="Attention pattern: dense, local, strided, fixed, global, bigbird, logsparse.")
@click.option("--max-length", type=int, help="Longest review in tokens; longer ones are cut.")
@click.option("--epochs", type=int, help="Passes over the training split.")
@click.option("--seed", type=int, help="Seed of initialisation, shuffling and the validation split.")
@click.option("--vocab", "vocab_path", type=click.Path(exists=True, dir_okay=False),
              help="Use this vocab.txt instead of learning one from the training texts (IMDB: + unsupervised).")
@click.option("--vocab-size", type=click.IntRange(1000, 100_000),
              help="Tokens in the vocabulary learned from the training texts.")
@click.option("--patience", type=click.IntRange(0),
              help="Stop after this many epochs without a better validation accuracy (0: never).")
@click.option("--train-limit", type=int, help="Use only the first N training reviews (quick runs).")
@click.option("--test-limit", type=int, help="Report on only the first N test reviews (quick runs).")
@click.option("--resume", is_flag=True, default=None,
              help="Continue the run in --out from its last checkpoint (rerunning the same command does "
                   "this by itself; checkpoints are written every checkpoint_minutes of the config).")
@click.option("--strategy", type=click.Choice(["default", "mirrored", "multiworker"]), default="default",
              show_default=True, help="tf.distribute strategy: one device, all local devices, or a cluster "
              "described by TF_CONFIG.")
@click.option("--no-xla", is_flag=True, help="Do not compile steps with XLA.")
@quiet_option
@tokenizer_options
@source_options("imdb")
@data_options
def train(out_dir, config_path, pattern, max_length, epochs, seed, vocab_path, vocab_size, patience, train_limit,
          test_limit, resume, strategy, no_xla, quiet, tokenizer_kind, keep_case, keep_accents, data_source, text_column, label_column,
          data_dir, manual_dir):
    """Train the sparse classifier and report test accuracy in OUT/metrics.json.

    The data is IMDB unless --data names another source (any number of labels). The best epoch
    by validation accuracy (10% of train, seeded) is kept; test is used once, at the end.
    OUT/data.json records the data and its split, so evaluate, convert and parity use the same.
    """
    import dataclasses

    check_case_options(tokenizer_kind, keep_case, keep_accents)
    with_tensorflow("sparse-edge train")
    from training.data import DatasetMissing
    from training.train_config import TrainConfig

    try:
        config = TrainConfig.load(config_path) if config_path else TrainConfig()
        model_changes = {}
        if max_length:
            model_changes["max_length"] = max_length
        if pattern:
            model_changes["pattern"] = dataclasses.replace(config.model.pattern, name=pattern)
        changes = {k: v for k, v in dict(epochs=epochs, seed=seed, train_limit=train_limit, vocab_size=vocab_size,
                                         patience=patience, test_limit=test_limit, tokenizer=tokenizer_kind,
                                         lowercase=False if keep_case else None,
                                         strip_accents=False if keep_accents else None).items() if v is not None}
        if no_xla:
            changes["jit_compile"] = False
        if model_changes:
            changes["model"] = dataclasses.replace(config.model, **model_changes)
        config = dataclasses.replace(config, **changes)
    except (ValueError, TypeError) as error:
        usage(str(error))
    from training.train import train as run_training

    data = data_spec(data_source, text_column, label_column, data_dir, manual_dir)
    try:
        metrics = run_training(config, out_dir, data_dir, manual_dir, resume=resume, strategy=strategy,
                               vocab_path=vocab_path, progress=not quiet, data=data)
    except (DatasetMissing, ValueError) as error:
        usage(str(error))
    click.echo(json.dumps({k: metrics[k] for k in ("accuracy", "macro_f1", "best_epoch", "val_accuracy",
                                                    "train_seconds", "labels")}, indent=2))


@click.command("evaluate")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]))
@click.option("--limit", type=int, help="Only the first N reviews of the split.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Also write the metrics to this file (nothing is written without it).")
@quiet_option
@source_options(None)
@data_options
def evaluate(model_dir, split, limit, json_path, quiet, data_source, text_column, label_column, data_dir, manual_dir):
    """Accuracy, macro-F1, per-label precision, recall and F1 and the confusion matrix of a trained
    model (printed as JSON), on the data it was trained on (split as then) unless --data says otherwise."""
    override = data_spec(data_source, text_column, label_column, data_dir, manual_dir)
    with_tensorflow("sparse-edge evaluate")
    from training.data import DatasetMissing
    from training.evaluate import evaluate_model
    from training.files import write_json_atomic
    from training.saved import ModelFolder
    from training.sources import data_for_folder

    folder = ModelFolder(model_dir)
    try:
        model, tokenizer, config = folder.load()
        source = data_for_folder(folder, data_dir, manual_dir, override=override)
        reviews = source.load(split, limit=limit)
    except (DatasetMissing, ValueError) as error:
        usage(str(error))
    metrics = evaluate_model(model, tokenizer, reviews, config, progress=not quiet, names=source.labels)
    metrics["split"] = split
    if json_path:
        write_json_atomic(json_path, metrics)
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
@quiet_option
@data_options
def ensemble(member_dirs, out_dir, average, quiet, data_dir, manual_dir):
    """Combine trained classifiers (MEMBER_DIRS) into one model in OUT.

    Members must share vocab.txt, max_length, block size and validation split; with
    --average probabilities their patterns and sizes may differ. The result is evaluated on
    validation and test (OUT/metrics.json, with each member's numbers and the training time of
    all of them) and converts like any model.
    """
    with_tensorflow("sparse-edge ensemble")
    from training.data import DatasetMissing
    from training.ensemble import build_ensemble

    try:
        metrics = build_ensemble(member_dirs, out_dir, data_dir, manual_dir, progress=not quiet,
                                 average=average)
    except (DatasetMissing, ValueError) as error:
        usage(str(error))
    click.echo(json.dumps({k: metrics[k] for k in ("accuracy", "f1", "val_accuracy", "train_seconds")}
                          | {"members": [m["accuracy"] for m in metrics["members"]]}, indent=2))


@click.command("train-hybrid")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the hybrid model (a model folder of kind 'hybrid').")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="Hybrid settings JSON (training/train_config.py: HybridSettings); options below override it.")
@click.option("--base", "base_dir", type=click.Path(exists=True, file_okay=False),
              help="The trained classifier folder whose Transformer becomes the deep half.")
@click.option("--epochs", type=click.IntRange(1), help="Residual fine-tuning passes over the training reviews.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Reuse tokenized reviews cached here.")
@quiet_option
@data_options
def train_hybrid(out_dir, config_path, base_dir, epochs, cache_dir, quiet, data_dir, manual_dir):
    """Build the hybrid classifier: NB-LR on hashed word-piece 1-3-grams plus a trained sparse
    Transformer, fine-tuned as a residual on NB-LR's out-of-fold log-odds, in one Keras model
    that converts to one .tflite. Test metrics go to OUT/metrics.json.
    """
    import dataclasses
    from pathlib import Path

    with_tensorflow("sparse-edge train-hybrid")
    from training.data import DatasetMissing
    from training.train_config import HybridSettings
    from training.train_hybrid import train_hybrid as run

    try:
        settings = HybridSettings.from_dict(json.loads(Path(config_path).read_text())) if config_path \
            else HybridSettings()
        changes = {k: v for k, v in dict(base=base_dir, epochs=epochs).items() if v is not None}
        settings = dataclasses.replace(settings, **changes)
        metrics = run(settings, out_dir, data_dir, manual_dir, progress=not quiet, cache_dir=cache_dir)
    except (DatasetMissing, ValueError) as error:
        usage(str(error))
    click.echo(json.dumps({k: metrics[k] for k in ("accuracy", "f1", "val_accuracy", "train_seconds",
                                                    "hybrid_seconds", "mix")} | {"ngram": metrics["ngram"]}, indent=2))
