"""Dense reference attention: the n x n matrix this project never builds outside tests."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from model.patterns import AttentionPattern, block_layout


def dense_token_mask(pattern: AttentionPattern, n: int) -> np.ndarray:
    """(n, n) bool: token i may attend token j under ``pattern``."""
    bs = pattern.block_size
    allowed = block_layout(pattern, math.ceil(n / bs)).allowed
    allowed = np.kron(allowed, np.ones((bs, bs), dtype=bool))[:n, :n].astype(bool)
    if pattern.causal:
        allowed &= np.tril(np.ones((n, n), dtype=bool))
    return allowed


def dense_reference_attention(layer, x, padding_mask):
    """What ``SparseSelfAttention`` must compute, written the obvious O(n^2) way."""
    b, n, d = x.shape
    h = layer.num_heads
    dh = d // h
    valid = tf.cast(padding_mask, x.dtype)

    def heads(t):
        return tf.transpose(tf.reshape(t, [b, n, h, dh]), [0, 2, 1, 3])

    q, k, v = heads(layer.query(x)), heads(layer.key(x)), heads(layer.value(x))
    scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(dh)                 # (B, H, n, n)
    mask = dense_token_mask(layer.pattern, n)[None, None] & (valid[:, None, None, :] > 0)
    scores = tf.where(mask, scores, -1e9)
    out = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
    out = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, n, d])
    return layer.output_dense(out) * valid[:, :, None]


def remeasured_metrics(folder, limit: int) -> dict:
    """A trained folder's test figures measured again, outside the code that wrote metrics.json: the saved
    model reloaded, each of the first ``limit`` test reviews classified alone (``classify_texts``), the
    confusion matrix and accuracy counted here."""
    from training.data import load_imdb
    from training.saved import classify_texts, load_trained

    model, tokenizer, _ = load_trained(folder)
    test = load_imdb("test", limit=limit)
    predicted = [int(np.argmax(r.probabilities)) for r in classify_texts(model, tokenizer, test.texts)]
    matrix = [[0, 0], [0, 0]]
    for truth, guess in zip(test.labels.tolist(), predicted):
        matrix[truth][guess] += 1
    return {"n": len(test.texts), "confusion_matrix": matrix, "accuracy": (matrix[0][0] + matrix[1][1]) / len(test.texts)}
