"""Hashed n-grams of token ids: the wide half of the hybrid classifier.

A bag of n-grams sees which words and word runs a review contains; the sparse Transformer sees
how they relate. Wang & Manning's NB-LR (naive-Bayes-scaled logistic regression) is the strongest
simple model of the first kind on IMDB, so the hybrid carries one inside its ``.tflite`` file.

The n-grams are computed from the same token ids the Transformer reads, with integer arithmetic
that TFLite runs exactly (MUL, ADD, FLOOR_MOD on int32, no value above 2**31 - 1):

- a word ``a`` is bucket ``a`` (the vocabulary itself, no hashing);
- a pair ``(a, b)`` is bucket ``V + (a*V + b) mod B2``;
- a triple ``(a, b, c)`` is bucket ``V + B2 + (((a*V + b) mod P) * V + c) mod B3``, where the
  prime ``P`` keeps ``(P - 1) * V + c`` below 2**31.

Only runs of real word pieces count (no [PAD], [CLS], [SEP] or other special token), and each
bucket counts once per review (binary features, as in NB-LR). This module computes the buckets in
numpy and fits the weights; ``model.hybrid`` computes the same buckets inside the graph.

Example:
    >>> hashing = NgramHashing(vocab_size=100, bigram_buckets=50, trigram_buckets=50)
    >>> hashing.buckets(np.array([2, 10, 11, 12, 3]))   # [CLS] 10 11 12 [SEP]
    array([ 10,  11,  12, 111, 112, 162])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FIRST_WORD_ID = 5   # ids 0-4 are [PAD], [UNK], [CLS], [SEP], [MASK] (edge_runtime.tokenizer.SPECIAL_TOKENS)
INT32_MAX = 2**31 - 1


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

    @property
    def prime(self) -> int:
        return largest_prime_below(min(self.trigram_buckets * 8, (INT32_MAX - self.vocab_size) // self.vocab_size))

    @property
    def size(self) -> int:
        """Rows of the weight table: words, then pairs, then triples."""
        return self.vocab_size + (self.bigram_buckets if self.order >= 2 else 0) + (
            self.trigram_buckets if self.order >= 3 else 0)

    def to_dict(self) -> dict:
        return asdict(self)

    def buckets(self, ids: np.ndarray) -> np.ndarray:
        """The distinct buckets of one review's ids (sorted, int64)."""
        ids = np.asarray(ids, np.int64)
        real = ids >= FIRST_WORD_ID
        v = self.vocab_size
        keys = [ids[real]]
        if self.order >= 2 and len(ids) > 1:
            a, b = ids[:-1], ids[1:]
            pair = a * v + b
            keys.append((v + pair % self.bigram_buckets)[real[:-1] & real[1:]])
            if self.order >= 3 and len(ids) > 2:
                triple = ((pair[:-1] % self.prime) * v + ids[2:]) % self.trigram_buckets
                keys.append((v + self.bigram_buckets + triple)[real[:-2] & real[1:-1] & real[2:]])
        return np.unique(np.concatenate(keys))

    def matrix(self, sequences):
        """(reviews, size) sparse 0/1 matrix of the reviews' buckets (scipy CSR)."""
        import scipy.sparse as sparse

        cols = [self.buckets(s) for s in sequences]
        indptr = np.cumsum([0] + [len(c) for c in cols])
        data = np.ones(indptr[-1], np.float32)
        return sparse.csr_matrix((data, np.concatenate(cols) if cols else np.zeros(0, np.int64), indptr),
                                 shape=(len(sequences), self.size))


@dataclass
class NbLogisticRegression:
    """NB-LR on hashed binary n-grams: one weight per bucket and a bias, ready for a gather.

    ``weights[j] = coef[j] * r[j]`` folds the naive-Bayes ratio ``r`` into the regression's
    coefficient, so a review's logit is ``bias + sum of weights over its buckets``.
    """

    hashing: NgramHashing
    regularization: float = 0.1   # inverse L2 strength (scikit-learn's C)
    smoothing: float = 1.0

    def fit(self, sequences, labels: np.ndarray) -> "NbLogisticRegression":
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels)
        if len(sequences) != len(labels) or set(np.unique(labels)) != {0, 1}:
            raise ValueError("NB-LR needs one 0/1 label per review and both classes present")
        x = self.hashing.matrix(sequences)
        p = self.smoothing + np.asarray(x[labels == 1].sum(axis=0)).ravel()
        q = self.smoothing + np.asarray(x[labels == 0].sum(axis=0)).ravel()
        ratios = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
        regression = LogisticRegression(C=self.regularization, solver="liblinear", dual=True, max_iter=1000,
                                        random_state=0)
        regression.fit(x.multiply(ratios).tocsr(), labels)
        self.weights = (regression.coef_.ravel() * ratios).astype(np.float32)
        self.bias = float(regression.intercept_[0])
        return self

    def logits(self, sequences) -> np.ndarray:
        """log(p / (1 - p)) of "positive" per review, (reviews,) float32."""
        return (self.hashing.matrix(sequences) @ self.weights + self.bias).astype(np.float32)
