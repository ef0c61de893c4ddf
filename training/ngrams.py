"""Hashed n-grams of token ids with fingerprints: the n-gram half of the hybrid classifier.

A bag of n-grams sees which words and word runs a review contains; the sparse Transformer sees
how they relate. Wang & Manning's NB-LR (naive-Bayes-scaled logistic regression) is the strongest
simple model of the first kind on IMDB, so the hybrid carries one inside its ``.tflite`` file.

The n-grams are computed from the same token ids the Transformer reads, with integer arithmetic
that TFLite runs exactly (MUL, ADD, FLOOR_DIV, FLOOR_MOD on int32, no value above 2**31 - 1):

- a word ``a`` is row ``a`` of the table (the vocabulary itself, no hashing);
- a pair ``(a, b)``, ``pair = a*V + b``, is row ``V + pair mod B2``;
- a triple ``(a, b, c)``, ``t = (pair mod P) * V + c``, is row ``V + B2 + t mod B3``, where the prime
  ``P`` keeps ``t`` below 2**31.

A table of a million rows cannot hold the millions of n-grams of IMDB, and most of them occur
once. So each row belongs to one n-gram, the most useful one that lands there, and stores a
7-bit *fingerprint* of it (what the row number does not say: ``pair // B2`` or ``t // B3``, mod
127, plus 1). An n-gram counts only where its fingerprint matches its row's: an n-gram never
seen in training, or that lost its row to a more useful one, is ignored instead of borrowing a
stranger's weight (wrongly matched: about 1 in 127). Each n-gram counts once per review (binary
features, as in NB-LR). This module fits the table; ``training.hybrid`` looks it up inside the graph.

Example:
    >>> hashing = NgramHashing(vocab_size=100, bigram_buckets=50, trigram_buckets=50)
    >>> rows, fingerprints = hashing.rows(np.array([2, 10, 11, 12, 3]))   # [CLS] 10 11 12 [SEP]
    >>> rows.tolist(), fingerprints.tolist()
    ([10, 11, 12, 111, 112, 162], [1, 1, 1, 21, 23, 54])
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

FIRST_WORD_ID = 5   # ids 0-4 are [PAD], [UNK], [CLS], [SEP], [MASK] (edge_runtime.tokenizer.SPECIAL_TOKENS)
INT32_MAX = 2**31 - 1
FINGERPRINTS = 127  # fingerprints are 1..127 (int8); 0 marks a row no n-gram owns


def largest_prime_below(limit: int) -> int:
    """The largest prime < ``limit`` (limit > 2), by trial division: runs once per model."""
    for candidate in range(limit - 1, 1, -1):
        if candidate % 2 and all(candidate % d for d in range(3, int(candidate**0.5) + 1, 2)):
            return candidate
    raise ValueError(f"no prime below {limit}")


@dataclass(frozen=True)
class NgramHashing:
    """Where each n-gram of a review lands in one table of ``size`` weights."""

    vocab_size: int
    bigram_buckets: int = 500_000
    trigram_buckets: int = 500_000
    order: int = 3   # 1: words, 2: and pairs, 3: and triples

    def __post_init__(self) -> None:
        if self.order not in (1, 2, 3):
            raise ValueError(f"order must be 1, 2 or 3, got {self.order!r}")
        if self.vocab_size * self.vocab_size + self.vocab_size > INT32_MAX:
            raise ValueError(f"vocab_size {self.vocab_size} is too large for int32 pair hashing (max 46,340)")

    @functools.cached_property
    def prime(self) -> int:
        return largest_prime_below(min(self.trigram_buckets * 8, (INT32_MAX - self.vocab_size) // self.vocab_size))

    @property
    def size(self) -> int:
        """Rows of the table: words, then pairs, then triples."""
        return self.vocab_size + (self.bigram_buckets if self.order >= 2 else 0) + (
            self.trigram_buckets if self.order >= 3 else 0)

    def to_dict(self) -> dict:
        return asdict(self)

    def occurrences(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every n-gram of one review's ids: (key, row, fingerprint), int64, one entry per occurrence.

        ``key`` identifies the n-gram exactly (a word ``a``; a pair ``V + pair``; a triple
        ``V + V*V + t``); ``row`` and ``fingerprint`` are what the graph computes from it.
        """
        ids = np.asarray(ids, np.int64)
        real = ids >= FIRST_WORD_ID
        v = self.vocab_size
        keys, rows, prints = [ids[real]], [ids[real]], [np.ones(int(real.sum()), np.int64)]
        if self.order >= 2 and len(ids) > 1:
            pair = ids[:-1] * v + ids[1:]
            both = real[:-1] & real[1:]
            keys.append(v + pair[both])
            rows.append(v + pair[both] % self.bigram_buckets)
            prints.append(1 + (pair[both] // self.bigram_buckets) % FINGERPRINTS)
            if self.order >= 3 and len(ids) > 2:
                t = (pair[:-1] % self.prime) * v + ids[2:]
                three = real[:-2] & real[1:-1] & real[2:]
                keys.append(v + v * v + t[three])
                rows.append(v + self.bigram_buckets + t[three] % self.trigram_buckets)
                prints.append(1 + (t[three] // self.trigram_buckets) % FINGERPRINTS)
        return np.concatenate(keys), np.concatenate(rows), np.concatenate(prints)

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (row, fingerprint) pairs of one review, sorted by row."""
        _, rows, prints = self.occurrences(ids)
        pairs = np.unique(np.stack([rows, prints], axis=1), axis=0) if len(rows) else np.zeros((0, 2), np.int64)
        return pairs[:, 0], pairs[:, 1]

    def keys(self, ids: np.ndarray) -> np.ndarray:
        """The distinct n-gram keys of one review (sorted)."""
        return np.unique(self.occurrences(ids)[0])

    def place(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, fingerprint) of each n-gram key, as ``occurrences`` computes them."""
        keys = np.asarray(keys, np.int64)
        v = self.vocab_size
        rows, prints = keys.copy(), np.ones(len(keys), np.int64)
        pair = (keys >= v) & (keys < v + v * v)
        p = keys[pair] - v
        rows[pair], prints[pair] = v + p % self.bigram_buckets, 1 + (p // self.bigram_buckets) % FINGERPRINTS
        triple = keys >= v + v * v
        t = keys[triple] - v - v * v
        rows[triple] = v + self.bigram_buckets + t % self.trigram_buckets
        prints[triple] = 1 + (t // self.trigram_buckets) % FINGERPRINTS
        return rows, prints


def binary_matrix(key_lists: list[np.ndarray], features: np.ndarray):
    """(reviews, features) sparse 0/1 matrix: which of the sorted ``features`` each review contains."""
    import scipy.sparse as sparse

    cols = []
    for keys in key_lists:
        where = np.minimum(np.searchsorted(features, keys), len(features) - 1)
        cols.append(where[features[where] == keys])
    indptr = np.cumsum([0] + [len(c) for c in cols])
    return sparse.csr_matrix((np.ones(indptr[-1], np.float32), np.concatenate(cols) if cols else np.zeros(0, np.int64),
                              indptr), shape=(len(key_lists), len(features)))


@dataclass
class NbLogisticRegression:
    """NB-LR on binary n-grams, laid out as a lookup table: a weight and a fingerprint per row.

    ``fit`` learns NB-LR on the exact n-grams that occur in at least ``min_reviews`` training
    reviews, gives each table row to the n-gram with the largest weight among those landing on
    it, and fits NB-LR again on the n-grams that got a row (what the table can represent).
    ``weights[row] = coef * r`` folds the naive-Bayes ratio ``r`` into the regression's
    coefficient, so a review's log-odds is ``bias + the weights of its matching rows``.
    """

    hashing: NgramHashing
    regularization: float = 0.1   # inverse L2 strength (scikit-learn's C)
    smoothing: float = 1.0
    min_reviews: int = 2          # n-grams in fewer training reviews get no row

    def _regression(self, key_lists, labels, features) -> tuple[np.ndarray, float]:
        from sklearn.linear_model import LogisticRegression

        x = binary_matrix(key_lists, features)
        p = self.smoothing + np.asarray(x[labels == 1].sum(axis=0)).ravel()
        q = self.smoothing + np.asarray(x[labels == 0].sum(axis=0)).ravel()
        ratios = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
        regression = LogisticRegression(C=self.regularization, solver="liblinear", dual=True, max_iter=1000,
                                        random_state=0)
        regression.fit(x.multiply(ratios).tocsr(), labels)
        return (regression.coef_.ravel() * ratios).astype(np.float32), float(regression.intercept_[0])

    def fit(self, sequences, labels: np.ndarray, features: np.ndarray | None = None) -> "NbLogisticRegression":
        """Fit on ``sequences``; with ``features`` (another fit's ``features``), refit only their weights."""
        labels = np.asarray(labels)
        if len(sequences) != len(labels) or set(np.unique(labels)) != {0, 1}:
            raise ValueError("NB-LR needs one 0/1 label per review and both classes present")
        key_lists = [self.hashing.keys(s) for s in sequences]
        if features is None:
            every, counts = np.unique(np.concatenate(key_lists), return_counts=True)
            candidates = every[counts >= self.min_reviews]
            weights, _ = self._regression(key_lists, labels, candidates)
            rows, _ = self.hashing.place(candidates)
            order = np.lexsort((-np.abs(weights), rows))           # by row, the strongest first
            first = np.ones(len(order), bool)
            first[1:] = rows[order][1:] != rows[order][:-1]
            features = np.sort(candidates[order][first])
        self.features = features
        feature_weights, self.bias = self._regression(key_lists, labels, features)
        rows, prints = self.hashing.place(features)
        self.weights = np.zeros(self.hashing.size, np.float32)
        self.fingerprints = np.zeros(self.hashing.size, np.int8)   # 0: a row no n-gram owns
        self.weights[rows], self.fingerprints[rows] = feature_weights, prints
        return self

    def logits(self, sequences) -> np.ndarray:
        """log(p / (1 - p)) of "positive" per review, exactly as the graph computes it, (reviews,) float32."""
        out = np.empty(len(sequences), np.float32)
        for i, sequence in enumerate(sequences):
            rows, prints = self.hashing.rows(sequence)
            matched = np.unique(rows[self.fingerprints[rows] == prints])
            out[i] = self.weights[matched].sum() + self.bias
        return out
