"""``sparse-edge ensemble``: average trained classifiers into one model folder.

One small Transformer trained on 22,500 reviews makes mistakes that another, trained
differently, does not, so their average is right more often than either (measured in
``artifacts/tried/ensemble-*/metrics.json``, shown in docs/experiments.md).
The result is one Keras model (``SparseTransformerEnsemble``), so conversion, parity, the
device runtime and the demo use it like any classifier; it costs the sum of its members in
size and time per review.

``--average weights`` is the cheap variant for members fine-tuned from one language model
with different seeds: their weights (not their outputs) are averaged into a single classifier,
so the result costs what one member costs on the device.

The folder written looks like a ``sparse-edge train`` folder: ``model.keras``, ``config.json``
(the first member's sizes), ``train_config.json`` (the first member's: the validation split and
the int8 calibration reviews), ``vocab.txt``, ``log.csv`` (every member's epochs) and
``metrics.json`` (test metrics, validation accuracy, each member's own numbers and the training
time of all of them, each language model counted once).
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np

from training.files import save_keras_atomic, write_json_atomic, write_text_atomic
from training.machine import describe_machine
from training.saved import CLASSIFIER, ENSEMBLE, ModelFolder


def member_summary(folder: Path) -> dict:
    metrics = ModelFolder(folder).metrics()
    keep = ("accuracy", "val_accuracy", "train_seconds", "init_from", "pretrain_seconds")
    return {"dir": str(folder), **{k: metrics.get(k) for k in keep}}


def total_train_seconds(members: list[dict]) -> float:
    """Every member's training time; a language model that several members start from counts once."""
    total, counted = 0.0, set()
    for m in members:
        total += m["train_seconds"] or 0.0
        if m.get("init_from") and m.get("pretrain_seconds"):
            if m["init_from"] in counted:
                total -= m["pretrain_seconds"]
            counted.add(m["init_from"])
    return round(total, 1)


def build_ensemble(member_dirs: list[str | Path], out_dir: str | Path, data_dir: str | None = None,
                   manual_dir: str | None = None, progress: bool = True, average: str = "probabilities") -> dict:
    """Combine the classifiers in ``member_dirs`` into ``out_dir``; evaluate on validation and test.

    ``average="probabilities"`` keeps every member (a ``SparseTransformerEnsemble``);
    ``average="weights"`` averages their weights into one classifier of a single member's size and
    speed (a "model soup", Wortsman et al. 2022), which only makes sense for members fine-tuned from
    one starting point (the same language model), so it needs identical model configs.
    """
    import tensorflow as tf

    from training.data import load_imdb, train_validation_split
    from training.evaluate import classification_metrics, predict_probabilities

    started = time.time()
    folders = [ModelFolder(d) for d in member_dirs]
    if average not in ("probabilities", "weights"):
        raise ValueError(f"average must be 'probabilities' or 'weights', got {average!r}")
    if len(folders) < 2:
        raise ValueError(f"an ensemble needs at least two member folders, got {len(folders)}")
    out = ModelFolder(out_dir)
    if out.path.resolve() in [f.path.resolve() for f in folders]:
        raise ValueError(f"--out {out.path} is one of the members; choose a new folder")
    loaded = [f.load() for f in folders]
    _check_members(folders, loaded)
    vocab, first_train = folders[0].vocab_text(), loaded[0][2]

    ensemble = _combine(folders, loaded, average)
    tokenizer = loaded[0][1]

    # -- evaluate: validation (model selection happened there) and test (the report) ---------
    train_all = load_imdb("train", data_dir, manual_dir, limit=first_train.train_limit)
    _, val_set = train_validation_split(train_all, first_train.val_fraction, first_train.validation_seed)
    test = load_imdb("test", data_dir, manual_dir, limit=first_train.test_limit)
    cache = out.cache_dir
    val_probs = predict_probabilities(ensemble, tokenizer, val_set, first_train, cache / "validation.npz",
                                      progress)[:, 1]
    metrics = classification_metrics(test.labels, predict_probabilities(
        ensemble, tokenizer, test, first_train, cache / "test.npz", progress)[:, 1])
    members = [member_summary(f.path) for f in folders]
    metrics.update(
        split="test", average=average, val_accuracy=float(((val_probs >= 0.5) == val_set.labels).mean()),
        train_seconds=total_train_seconds(members), ensemble_seconds=round(time.time() - started, 1),
        members=members,
        machine={**describe_machine(), "tensorflow": tf.__version__},
        train_reviews=len(train_all) - len(val_set), val_reviews=len(val_set))

    # -- write: everything to its final name only when complete -------------------------------
    out.path.mkdir(parents=True, exist_ok=True)
    save_keras_atomic(ensemble, out.model_path)
    write_text_atomic(out.vocab_path, vocab)
    out.write_config(ENSEMBLE if average == "probabilities" else CLASSIFIER, ensemble.config, folders[0].labels,
                     tokenizer=tokenizer.options)
    write_json_atomic(out.train_config_path, first_train.to_dict())
    _write_log(folders, out.log_path)
    out.write_metrics(metrics)
    return metrics


def _check_members(folders: list[ModelFolder], loaded: list) -> None:
    """Members must be single classifiers trained with one vocabulary and one validation split."""
    from model.transformer import SparseTransformerClassifier

    for folder, (model, _, _) in zip(folders, loaded):
        if not isinstance(model, SparseTransformerClassifier):
            raise ValueError(f"{folder.path} holds a {type(model).__name__}, not a single classifier; "
                             "give the folders of its members instead")
    vocab, first_train = folders[0].vocab_text(), loaded[0][2]
    for folder, (_, _, train_config) in zip(folders[1:], loaded[1:]):
        if folder.vocab_text() != vocab:
            raise ValueError(f"{folder.vocab_path} differs from {folders[0].vocab_path}; "
                             "members must be trained with the same vocab.txt (--vocab)")
        if folder.tokenizer_options != folders[0].tokenizer_options:
            raise ValueError(f"{folder.path} tokenizes with {folder.tokenizer_options} but {folders[0].path} with "
                             f"{folders[0].tokenizer_options}; members must be trained with the same tokenizer")
        if (train_config.val_fraction, train_config.validation_seed) != (first_train.val_fraction,
                                                                           first_train.validation_seed):
            raise ValueError(f"{folder.path} used another validation split (val_fraction, seed) than "
                             f"{folders[0].path}; "
                             "train members with the same val_fraction and split_seed (or seed)")


def _combine(folders: list[ModelFolder], loaded: list, average: str):
    """One classifier with the members' averaged weights, or an ensemble averaging their probabilities."""
    from model.transformer import SparseTransformerClassifier
    from training.ensemble_model import SparseTransformerEnsemble

    if average == "weights":
        for folder, (model, _, _) in zip(folders[1:], loaded[1:]):
            if model.config.to_dict() != loaded[0][0].config.to_dict():
                raise ValueError(f"{folder.path} has another model config than {folders[0].path}; weights can only be "
                                 "averaged between models of one config (use --average probabilities)")
        ensemble = SparseTransformerClassifier(loaded[0][0].config, name="classifier")
        ensemble.build(None)
        member_weights = [model.get_weights() for model, _, _ in loaded]
        ensemble.set_weights([np.mean(tensors, axis=0) for tensors in zip(*member_weights)])
        return ensemble
    ensemble = SparseTransformerEnsemble([model.config for model, _, _ in loaded], name="ensemble")
    ensemble.build(None)
    for target, (model, _, _) in zip(ensemble.members, loaded):
        target.set_weights(model.get_weights())
    return ensemble


def _write_log(folders: list[ModelFolder], path: Path) -> None:
    """Each member's training log, one after the other, with a first column naming the member."""
    buffer = io.StringIO()
    writer = None
    for number, folder in enumerate(folders, start=1):
        if not folder.log_path.exists():
            continue
        with open(folder.log_path, newline="") as f:
            for row in csv.DictReader(f):
                if writer is None:
                    writer = csv.DictWriter(buffer, fieldnames=["member", *row])
                    writer.writeheader()
                writer.writerow({"member": number, **row})
    write_text_atomic(path, buffer.getvalue())
