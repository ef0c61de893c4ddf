"""Evaluate a classifier: probabilities in review order, batched by length, and the metrics
(accuracy, macro-F1, per-label precision/recall/F1, the confusion matrix).

Example:
    >>> import numpy as np
    >>> classification_metrics(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.4, 0.1]))["accuracy"]
    0.75
"""

from __future__ import annotations

import numpy as np

from training.data import SENTIMENT_LABELS
from training.train_config import TrainConfig


def classification_metrics(labels: np.ndarray, probs: np.ndarray, names=SENTIMENT_LABELS) -> dict:
    """Accuracy, macro-F1, a per-label table and the confusion matrix.

    ``probs`` is (n, labels), or (n,) P(label 1) for two labels. With two labels the top-level
    precision, recall and F1 are the second label's (IMDB: positive), as they always were.
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    if probs.ndim == 1:
        probs = np.stack([1 - probs, probs], axis=1)
    names = list(names)
    k = probs.shape[1]
    if len(names) != k:
        raise ValueError(f"{k} probabilities per row but {len(names)} label names")
    predicted = (probs[:, 1] >= 0.5).astype(np.int64) if k == 2 else probs.argmax(axis=1)
    matrix = np.zeros((k, k), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_label = {}
    for i, name in enumerate(names):
        tp, predicted_i, true_i = int(matrix[i, i]), int(matrix[:, i].sum()), int(matrix[i].sum())
        precision, recall = tp / max(1, predicted_i), tp / max(1, true_i)
        per_label[name] = {"precision": precision, "recall": recall,
                           "f1": 2 * precision * recall / max(1e-12, precision + recall), "support": true_i}
    metrics = {"n": int(len(labels)), "accuracy": float(np.trace(matrix)) / max(1, len(labels)),
               "macro_f1": float(np.mean([row["f1"] for row in per_label.values()]))}
    if k == 2:
        metrics.update({key: per_label[names[1]][key] for key in ("precision", "recall", "f1")})
    metrics.update(per_label=per_label, confusion_matrix={"labels": names, "rows_true_cols_predicted": matrix.tolist()})
    return metrics


def evaluate_model(model, tokenizer, reviews, config: TrainConfig, cache_path=None, progress=True,
                   names=SENTIMENT_LABELS) -> dict:
    """Metrics of ``model`` on ``reviews`` (label ``names`` in class order), batched by length like training."""
    probs = predict_probabilities(model, tokenizer, reviews, config, cache_path, progress)
    return classification_metrics(reviews.labels, probs, names)


def predict_probabilities(model, tokenizer, reviews, config: TrainConfig, cache_path=None,
                          progress=True) -> np.ndarray:
    """(n, num_classes) probabilities in review order; each review runs at its bucket length."""
    import tensorflow as tf
    from tqdm import tqdm

    from training.batching import make_batches
    from training.data import tokenize_cached

    c = model.config
    seqs = tokenize_cached(reviews, tokenizer, cache_path, progress)
    batches = make_batches(seqs, reviews.labels, c.bucket_lengths,
                           config.batch_tokens, config.max_batch, drop_remainder=False)
    forward = tf.function(lambda ids: model(ids, training=False), jit_compile=config.jit_compile)
    out = np.zeros((len(reviews), c.num_classes), dtype=np.float32)
    for batch in tqdm(batches, desc="keras", unit="batch", disable=not progress, leave=False):
        keep = batch.rows >= 0
        out[batch.rows[keep]] = forward(batch.ids).numpy()[keep]
    return out
