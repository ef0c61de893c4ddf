"""Build the hybrid classifier: NB-LR on hashed n-grams plus a trained Transformer, fine-tuned as a residual.

``train_hybrid(settings, out_dir)`` (``sparse-edge train-hybrid``):

1. reads the classifier folder ``settings.base`` (its Transformer, vocabulary and validation split);
2. fits NB-LR on the training reviews' hashed n-grams (``training.ngrams``), once on all of them (the
   weights that ship) and once per fold on the others (``folds`` out-of-fold log-odds: for each
   training review, what an NB-LR that never saw it says);
3. fine-tunes the Transformer and the mixing weights so that ``a * deep + b * ngram + c`` fits the
   labels, with ``ngram`` the out-of-fold log-odds: the Transformer learns what NB-LR misses.
   With the in-sample log-odds instead, NB-LR is nearly always right on its own training reviews
   and the Transformer would learn nothing. With ``epochs=0`` the Transformer stays as it is and
   only ``a, b, c`` are fitted, by a logistic regression on the validation reviews' two log-odds
   (stacking; three numbers, so validation accuracy stays a fair estimate);
4. writes a model folder of kind ``hybrid`` that evaluates, converts and runs like any classifier.

Validation reviews never enter a fit; test reviews are read once, at the end.
"""

from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path

import numpy as np

from training.files import save_keras_atomic, write_json_atomic, write_text_atomic
from training.machine import describe_machine
from training.ngrams import NbLogisticRegression, NgramHashing
from training.saved import HYBRID, ModelFolder
from training.train_config import HybridSettings

LOG_FIELDS = ["epoch", "loss", "val_accuracy", "learning_rate", "epoch_seconds"]


def truncate(sequences: list[np.ndarray], max_length: int) -> list[np.ndarray]:
    """Each sequence as the model reads it: cut to ``max_length``, keeping its final [SEP] (``pad_batch``)."""
    return [s if len(s) <= max_length else np.concatenate([s[: max_length - 1], s[-1:]]) for s in sequences]


def out_of_fold_logits(fitted: NbLogisticRegression, sequences: list[np.ndarray], labels: np.ndarray,
                       folds: int, seed: int = 0) -> np.ndarray:
    """NB-LR log-odds of each review from weights fitted on the other folds, (reviews,) float32.

    The n-grams that own a table row are ``fitted``'s (chosen on all training reviews); their
    weights are refitted without the fold, which is what decides a review's log-odds.
    """
    fold = np.random.default_rng(seed).permutation(len(sequences)) % folds
    logits = np.zeros(len(sequences), np.float32)
    for k in range(folds):
        fit, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        model = NbLogisticRegression(fitted.hashing, fitted.regularization, fitted.smoothing, fitted.min_reviews)
        model.fit([sequences[i] for i in fit], labels[fit], features=fitted.features)
        logits[held] = model.logits([sequences[i] for i in held])
    return logits


class ResidualTrainer:
    """Compiled steps that fit the Transformer and the mix on top of fixed n-gram log-odds."""

    def __init__(self, model, settings: HybridSettings, steps_total: int, jit_compile: bool = True):
        import keras
        import tensorflow as tf

        self.model = model
        warmup = max(1, steps_total // 20)
        schedule = keras.optimizers.schedules.CosineDecay(
            settings.learning_rate * 0.01, max(1, steps_total - warmup), warmup_target=settings.learning_rate,
            warmup_steps=warmup, alpha=0.02)
        self.optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=0.05, global_clipnorm=1.0)
        self.optimizer.exclude_from_weight_decay(var_names=["embedding", "norm", "bias", "mix"])
        self.variables = model.deep.trainable_variables + [model.mix]
        self.optimizer.build(self.variables)
        self._grads = tf.function(self._compute_gradients, jit_compile=jit_compile)

    def _compute_gradients(self, ids, labels, ngram_logits):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            z = self.model.mixed_logit(self.model.deep_logit(ids, training=True), ngram_logits)   # (B,)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=z))
        return loss, tape.gradient(loss, self.variables)

    def step(self, ids: np.ndarray, labels: np.ndarray, ngram_logits: np.ndarray) -> float:
        loss, grads = self._grads(ids, labels.astype(np.float32), ngram_logits.astype(np.float32))
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return float(loss)


def _stack_on_validation(model, tokenizer, val_set, config, cache, progress) -> float:
    """Fit the mix (a, b, c) by logistic regression on the validation reviews; return their accuracy."""
    from sklearn.linear_model import LogisticRegression

    from training.evaluate import predict_probabilities

    deep_only, ngrams_only = [np.array(m, np.float32) for m in ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])]
    columns = []
    for mix in (deep_only, ngrams_only):   # each half's log-odds, through the hybrid itself
        model.mix.assign(mix)
        p = predict_probabilities(model, tokenizer, val_set, config, cache / "validation.npz", progress)[:, 1]
        p = np.clip(p, 1e-7, 1 - 1e-7)
        columns.append(np.log(p / (1 - p)))
    stacker = LogisticRegression(C=1.0).fit(np.stack(columns, axis=1), val_set.labels)
    model.mix.assign(np.array([*stacker.coef_.ravel(), stacker.intercept_[0]], np.float32))
    return float((stacker.predict(np.stack(columns, axis=1)) == val_set.labels).mean())


def train_hybrid(settings: HybridSettings, out_dir: str | Path, data_dir: str | None = None,
                 manual_dir: str | None = None, progress: bool = True, cache_dir: str | None = None) -> dict:
    """Build, fine-tune and evaluate the hybrid in ``out_dir``; return its metrics."""
    from training.batching import make_batches
    from training.data import load_imdb, tokenize_cached, train_validation_split
    from training.evaluate import classification_metrics, predict_probabilities
    from training.hybrid import HybridClassifier
    from model.transformer import SparseTransformerClassifier

    started = time.time()
    base, out = ModelFolder(settings.base), ModelFolder(out_dir)
    if out.path.resolve() == base.path.resolve():
        raise ValueError(f"--out {out.path} is the base classifier's folder; choose a new folder")
    deep, tokenizer, base_config = base.load()
    if type(deep) is not SparseTransformerClassifier:
        raise ValueError(f"{base.path} holds a {type(deep).__name__}; the hybrid's base must be a single "
                         "sparse Transformer classifier (a `sparse-edge train` folder)")
    c = deep.config
    cache = Path(cache_dir) if cache_dir else out.cache_dir

    # -- data: the base's training split and validation split -----------------------------------
    train_all = load_imdb("train", data_dir, manual_dir, limit=base_config.train_limit)
    train_set, val_set = train_validation_split(train_all, base_config.val_fraction, base_config.validation_seed)
    train_seqs = truncate(tokenize_cached(train_set, tokenizer, cache / "train.npz", progress), c.max_length)
    val_seqs = truncate(tokenize_cached(val_set, tokenizer, cache / "validation.npz", progress), c.max_length)

    # -- the n-gram half: NB-LR on all training reviews, and out of fold -------------------------
    ngram, hashing, oof, ngram_val_accuracy, ngram_seconds = _fit_ngrams(settings, tokenizer, train_set, train_seqs,
                                                                          val_set, val_seqs, base_config.seed, progress)

    model = HybridClassifier(c, hashing.to_dict(), name="hybrid")
    model.build(None)
    model.deep.set_weights(deep.get_weights())
    model.ngrams.set_from(ngram)
    model.mix.assign(np.array(settings.mix, np.float32))

    # -- residual fine-tuning of the Transformer and the mix -------------------------------------
    buckets = c.bucket_lengths
    rows = np.arange(len(train_seqs)).astype(np.float32)   # batches carry row numbers; labels are looked up
    per_epoch = len(make_batches(train_seqs, rows, buckets, base_config.batch_tokens, base_config.max_batch,
                                 np.random.default_rng(0)))
    trainer = ResidualTrainer(model, settings, per_epoch * settings.epochs, base_config.jit_compile)
    out.path.mkdir(parents=True, exist_ok=True)
    with open(out.log_path, "w", newline="") as f:
        csv.writer(f).writerow(LOG_FIELDS)
    fine_tune_seconds = 0.0
    val_accuracy = None
    if settings.epochs == 0:
        stack_start = time.time()
        val_accuracy = _stack_on_validation(model, tokenizer, val_set, base_config, cache, progress)
        fine_tune_seconds = time.time() - stack_start   # fitting the mix is this stage's training
        with open(out.log_path, "a", newline="") as f:
            csv.writer(f).writerow([0, "", round(val_accuracy, 5), "", ""])
    if settings.epochs:
        val_accuracy, fine_tune_seconds = _residual_epochs(model, trainer, settings, base_config, tokenizer, train_seqs,
                                                           rows, train_set, val_set, oof, cache, out, progress)

    # -- write the folder, then report on test once ---------------------------------------------
    save_keras_atomic(model, out.model_path)
    write_text_atomic(out.vocab_path, base.vocab_text())
    out.write_config(HYBRID, c, base.labels, tokenizer=base.tokenizer_options)   # the base's rules, not the default
    write_json_atomic(out.train_config_path, dataclasses.replace(base_config, hybrid=settings).to_dict())
    test = load_imdb("test", data_dir, manual_dir, limit=base_config.test_limit)
    test_seqs = truncate(tokenize_cached(test, tokenizer, cache / "test.npz", progress), c.max_length)
    metrics = classification_metrics(test.labels, predict_probabilities(model, tokenizer, test, base_config,
                                                                        cache / "test.npz", progress)[:, 1])
    metrics.update(_provenance(base, ngram_seconds, fine_tune_seconds, started),
                   split="test", val_accuracy=val_accuracy, kind=HYBRID, mix=[round(float(x), 5) for x in model.mix.numpy()],
                   ngram={"val_accuracy": ngram_val_accuracy,
                          "test_accuracy": float(((ngram.logits(test_seqs) > 0) == test.labels).mean()),
                          "buckets": hashing.size, "order": hashing.order,
                          "ngrams_with_a_row": int(len(ngram.features))},
                   train_reviews=len(train_set), val_reviews=len(val_set))
    out.write_metrics(metrics)
    return metrics


def _provenance(base: ModelFolder, ngram_seconds: float, fine_tune_seconds: float, started: float) -> dict:
    """Timing, the base model's record and the machine, for the hybrid's metrics.json."""
    import tensorflow as tf

    base_metrics = base.metrics()
    return dict(
        train_seconds=round((base_metrics.get("train_seconds") or 0.0) + ngram_seconds + fine_tune_seconds, 1),
        hybrid_seconds=round(ngram_seconds + fine_tune_seconds, 1), ngram_seconds=round(ngram_seconds, 1),
        fine_tune_seconds=round(fine_tune_seconds, 1), wall_seconds=round(time.time() - started, 1),
        base={"dir": str(base.path), **{k: base_metrics.get(k) for k in (
            "accuracy", "val_accuracy", "train_seconds", "wall_seconds", "pretrain_seconds", "confusion_matrix",
            "machine")}},
        machine={**describe_machine(), "tensorflow": tf.__version__})


def _fit_ngrams(settings: HybridSettings, tokenizer, train_set, train_seqs, val_set, val_seqs, seed: int,
                progress: bool):
    """NB-LR on all training reviews, its out-of-fold log-odds (for residual fine-tuning) and its
    validation accuracy: (model, hashing, oof or None, validation accuracy, seconds)."""
    start = time.time()
    hashing = NgramHashing(**settings.hashing(len(tokenizer)))
    ngram = NbLogisticRegression(hashing, settings.regularization).fit(train_seqs, train_set.labels)
    oof = (out_of_fold_logits(ngram, train_seqs, train_set.labels, settings.folds, seed)
           if settings.epochs else None)   # only the residual fine-tuning reads them
    val_accuracy = float(((ngram.logits(val_seqs) > 0) == val_set.labels).mean())
    seconds = time.time() - start
    if progress:
        print(f"n-grams: NB-LR {val_accuracy:.4f} validation accuracy, {len(ngram.features):,} n-grams with "
              f"a row ({seconds:.0f}s)")
    return ngram, hashing, oof, val_accuracy, seconds


def _residual_epochs(model, trainer, settings, base_config, tokenizer, train_seqs, rows, train_set, val_set, oof,
                     cache, out, progress) -> tuple[float, float]:
    """Fine-tune the Transformer and the mix on what NB-LR misses; (last validation accuracy, seconds)."""
    from tqdm import tqdm

    from training.batching import make_batches
    from training.evaluate import predict_probabilities
    from training.train import mask_tokens

    buckets, seconds, val_accuracy = model.config.bucket_lengths, 0.0, None
    for epoch in range(settings.epochs):
        epoch_start = time.time()
        batches = make_batches(train_seqs, rows, buckets, base_config.batch_tokens, base_config.max_batch,
                               np.random.default_rng(base_config.seed * 1000 + epoch))
        if settings.token_dropout:
            mask_tokens(batches, settings.token_dropout, tokenizer.mask_id,
                        np.random.default_rng(base_config.seed + epoch))
        losses = []
        bar = tqdm(batches, desc=f"hybrid epoch {epoch + 1}/{settings.epochs}", unit="batch", disable=not progress)
        for batch in bar:
            losses.append(trainer.step(batch.ids, train_set.labels[batch.rows], oof[batch.rows]))
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        seconds += time.time() - epoch_start
        val_probs = predict_probabilities(model, tokenizer, val_set, base_config, cache / "validation.npz",
                                          progress)[:, 1]
        val_accuracy = float(((val_probs >= 0.5) == val_set.labels).mean())
        with open(out.log_path, "a", newline="") as f:
            csv.writer(f).writerow([epoch + 1, round(float(np.mean(losses)), 5), round(val_accuracy, 5),
                                    float(trainer.optimizer.learning_rate.numpy()), round(time.time() - epoch_start, 1)])
        if progress:
            print(f"hybrid epoch {epoch + 1}: loss {np.mean(losses):.4f}  val acc {val_accuracy:.4f}  "
                  f"mix {np.round(model.mix.numpy(), 3).tolist()}")
    return val_accuracy, seconds
