"""Evaluate a classifier: probabilities in review order, batched by length, and the metrics.

Example:
    >>> import numpy as np
    >>> classification_metrics(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.4, 0.1]))["accuracy"]
    0.75
"""

from __future__ import annotations

import numpy as np

from model.saved import SENTIMENT_LABELS
from model.train_config import TrainConfig


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict:
    """Accuracy, precision, recall, F1 (positive class) and the confusion matrix."""
    predicted = (probs >= 0.5).astype(np.int64)
    tp = int(((predicted == 1) & (labels == 1)).sum())
    tn = int(((predicted == 0) & (labels == 0)).sum())
    fp = int(((predicted == 1) & (labels == 0)).sum())
    fn = int(((predicted == 0) & (labels == 1)).sum())
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    return {"n": int(len(labels)), "accuracy": (tp + tn) / max(1, len(labels)), "precision": precision,
            "recall": recall, "f1": 2 * precision * recall / max(1e-12, precision + recall),
            "confusion_matrix": {"labels": ["negative", "positive"], "rows_true_cols_predicted": [[tn, fp], [fn, tp]]}}


def evaluate_model(model, tokenizer, reviews, config: TrainConfig, cache_path=None, progress=True) -> dict:
    """Metrics of ``model`` on ``reviews``, batched by length like training."""
    probs = predict_probabilities(model, tokenizer, reviews, config, cache_path, progress)
    return classification_metrics(reviews.labels, probs[:, 1])


def predict_probabilities(model, tokenizer, reviews, config: TrainConfig, cache_path=None,
                          progress=True) -> np.ndarray:
    """(n, num_classes) probabilities in review order; each review runs at its bucket length."""
    import tensorflow as tf
    from tqdm import tqdm

    from model.batching import bucket_lengths, make_batches
    from model.data import tokenize_cached

    c = model.config
    seqs = tokenize_cached(reviews, tokenizer, cache_path, progress)
    batches = make_batches(seqs, reviews.labels, bucket_lengths(c.max_length, c.pattern.block_size),
                           config.batch_tokens, config.max_batch, drop_remainder=False)
    forward = tf.function(lambda ids: model(ids, training=False), jit_compile=config.jit_compile)
    out = np.zeros((len(reviews), c.num_classes), dtype=np.float32)
    for batch in tqdm(batches, desc="keras", unit="batch", disable=not progress, leave=False):
        keep = batch.rows >= 0
        out[batch.rows[keep]] = forward(batch.ids).numpy()[keep]
    return out
