"""The hybrid classifier: a bag of hashed n-grams (wide) plus the sparse Transformer (deep), one graph.

The two see different things. NB-LR (``training.ngrams``) knows which words and word runs a review
contains and how much each one says; the Transformer reads them in context. The hybrid's score is
a weighted sum of both log-odds::

    z = a * deep_logit + b * ngram_logit + c        P(positive) = sigmoid(z)

``deep_logit`` is the Transformer head's log-odds; ``ngram_logit`` is NB-LR's, computed inside the
graph from the same token ids (``HashedNgrams``), so the ``.tflite`` file still takes token ids
and nothing else. The n-gram weights come from NB-LR fitted on the training reviews; the
Transformer is trained as a *residual* on top of NB-LR's out-of-fold log-odds (each training
review scored by an NB-LR that never saw it), so it learns what the bag of n-grams gets wrong
rather than repeating it (``training.train_hybrid``).

Example:
    >>> from model.config import TransformerConfig
    >>> from model.patterns import AttentionPattern
    >>> c = TransformerConfig(vocab_size=50, max_length=32, d_model=16, num_heads=2,
    ...                       pattern=AttentionPattern("bigbird", block_size=8, window=3))
    >>> hashing = NgramHashing(vocab_size=50, bigram_buckets=40, trigram_buckets=40)
    >>> HybridClassifier(c, hashing.to_dict())(tf.ones([3, 20], tf.int32)).shape
    TensorShape([3, 2])
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from model.config import TransformerConfig
from training.ngrams import FINGERPRINTS, FIRST_WORD_ID, NgramHashing
from model.transformer import SparseTransformerClassifier, register


def ngram_rows(token_ids, hashing: NgramHashing):
    """(B, n) int32 ids -> the (B, m) int32 table row and fingerprint of each n-gram position.

    The same arithmetic as ``NgramHashing.occurrences`` in int32 (no intermediate exceeds
    2**31 - 1): words, then pairs, then triples. A position whose n-gram includes a special token
    or padding points at the empty row ``hashing.size`` with fingerprint -1, which never matches.
    """
    v, none = hashing.vocab_size, hashing.size
    real = token_ids >= FIRST_WORD_ID                                        # (B, n)
    rows, prints = [tf.where(real, token_ids, none)], [tf.where(real, 1, -1)]
    if hashing.order >= 2:
        pair = token_ids[:, :-1] * v + token_ids[:, 1:]                      # (B, n-1) < V*V + V
        both = real[:, :-1] & real[:, 1:]
        rows.append(tf.where(both, v + tf.math.floormod(pair, hashing.bigram_buckets), none))
        prints.append(tf.where(both, 1 + tf.math.floormod(tf.math.floordiv(pair, hashing.bigram_buckets),
                                                          FINGERPRINTS), -1))
        if hashing.order >= 3:
            t = tf.math.floormod(pair[:, :-1], hashing.prime) * v + token_ids[:, 2:]   # < P*V + V
            three = real[:, :-2] & real[:, 1:-1] & real[:, 2:]
            rows.append(tf.where(three, v + hashing.bigram_buckets + tf.math.floormod(t, hashing.trigram_buckets), none))
            prints.append(tf.where(three, 1 + tf.math.floormod(tf.math.floordiv(t, hashing.trigram_buckets),
                                                               FINGERPRINTS), -1))
    return tf.concat(rows, axis=1), tf.concat(prints, axis=1)               # (B, m), (B, m)


@register
class HashedNgrams(keras.layers.Layer):
    """Token ids (B, n) -> NB-LR log-odds (B,): the bias plus the weight of each distinct matching row.

    A position counts where the fingerprint stored in its row equals its own (the row belongs to
    this n-gram), and a row counts once per review (NB-LR's binary features): matching rows are
    sorted (TOPK_V2, a builtin op) and a row equal to its neighbour is dropped.
    """

    def __init__(self, hashing: dict, **kwargs):
        super().__init__(**kwargs)
        self.hashing = NgramHashing(**hashing)

    def build(self, input_shape=None):
        # one extra row, always zero and owned by no n-gram: where positions without a match point
        self.table = self.add_weight(name="ngram_weights", shape=(self.hashing.size + 1, 1),
                                     initializer="zeros", trainable=False)
        self.fingerprints = self.add_weight(name="ngram_fingerprints", shape=(self.hashing.size + 1,),
                                            initializer="zeros", trainable=False, dtype="int8")
        self.bias = self.add_weight(name="ngram_bias", shape=(), initializer="zeros", trainable=False)
        self.built = True

    def set_from(self, fitted) -> None:
        """Load a fitted ``NbLogisticRegression``'s table: weights, fingerprints and bias."""
        if fitted.weights.shape != (self.hashing.size,):
            raise ValueError(f"expected {self.hashing.size} n-gram weights, got {fitted.weights.shape}")
        self.table.assign(np.concatenate([fitted.weights, [0.0]]).astype(np.float32)[:, None])
        self.fingerprints.assign(np.concatenate([fitted.fingerprints, [0]]).astype(np.int8))
        self.bias.assign(float(fitted.bias))

    def call(self, token_ids):
        rows, prints = ngram_rows(token_ids, self.hashing)                   # (B, m), (B, m)
        owner = tf.cast(tf.gather(self.fingerprints, rows), tf.int32)        # (B, m)
        rows = tf.where(owner == prints, rows, self.hashing.size)            # not its row: the empty one
        rows, _ = tf.math.top_k(rows, k=tf.shape(rows)[1])                   # sorted, largest first
        first = tf.concat([tf.ones_like(rows[:, :1], tf.bool), rows[:, 1:] != rows[:, :-1]], axis=1)
        weights = tf.gather(self.table, rows)[:, :, 0]                       # (B, m)
        return tf.reduce_sum(weights * tf.cast(first, weights.dtype), axis=1) + self.bias   # (B,)

    def get_config(self):
        config = super().get_config()
        config.update(hashing=self.hashing.to_dict())
        return config


@register
class HybridClassifier(keras.Model):
    """Token ids (B, n) -> probabilities (B, 2): the n-gram log-odds and the Transformer's, mixed.

    ``config`` is the Transformer's (what batching, conversion and the device read); ``members``
    is ``[deep]`` so the embedding-table sharing of int8 files and the attention view find it.
    """

    def __init__(self, config: TransformerConfig | dict, hashing: dict, **kwargs):
        super().__init__(**kwargs)
        self.config = config if isinstance(config, TransformerConfig) else TransformerConfig.from_dict(config)
        if self.config.num_classes != 2:
            raise ValueError(f"the hybrid's n-gram branch is binary (NB-LR); num_classes is {self.config.num_classes}")
        self.deep = SparseTransformerClassifier(self.config, name="deep")
        self.ngrams = HashedNgrams(hashing, name="ngrams")
        self.members = [self.deep]

    def build(self, input_shape=None):
        self.deep.build(None)
        self.ngrams.build(None)
        # a (deep weight), b (n-gram weight), c (bias); trained with the Transformer
        self.mix = self.add_weight(name="mix", shape=(3,), initializer=keras.initializers.Constant([1.0, 1.0, 0.0]))
        self.built = True

    def deep_logit(self, token_ids, training=None):
        logits = self.deep.logits(token_ids, training)                      # (B, 2)
        return logits[:, 1] - logits[:, 0]                                   # (B,)

    def mixed_logit(self, deep_logit, ngram_logit):
        return self.mix[0] * deep_logit + self.mix[1] * ngram_logit + self.mix[2]

    def call(self, token_ids, training=None):
        z = self.mixed_logit(self.deep_logit(token_ids, training), self.ngrams(token_ids))   # (B,)
        half = z[:, None] / 2.0
        return tf.nn.softmax(tf.concat([-half, half], axis=-1), axis=-1)     # (B, 2)

    def get_config(self):
        return {"config": self.config.to_dict(), "hashing": self.ngrams.hashing.to_dict(), "name": self.name}
