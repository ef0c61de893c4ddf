"""The first n-gram half tried: plain hashing, no fingerprints (every n-gram takes its row's weight).

Kept so the exploration scripts rerun; what ships is ``training.ngrams`` (one n-gram per row, with
fingerprints). The rows are the same; the difference is that here every row is a feature.
"""

from __future__ import annotations

import numpy as np

from training.ngrams import NgramHashing, binary_matrix  # noqa: F401 - NgramHashing is what the scripts import


class NbLogisticRegression:
    """NB-LR on binary hashed rows: one weight per row and a bias."""

    def __init__(self, hashing: NgramHashing, regularization: float = 0.1, smoothing: float = 1.0):
        self.hashing, self.regularization, self.smoothing = hashing, regularization, smoothing

    def _matrix(self, sequences):
        return binary_matrix([np.unique(self.hashing.rows(s)[0]) for s in sequences], np.arange(self.hashing.size))

    def fit(self, sequences, labels):
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels)
        x = self._matrix(sequences)
        p = self.smoothing + np.asarray(x[labels == 1].sum(axis=0)).ravel()
        q = self.smoothing + np.asarray(x[labels == 0].sum(axis=0)).ravel()
        ratios = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
        regression = LogisticRegression(C=self.regularization, solver="liblinear", dual=True, max_iter=1000,
                                        random_state=0).fit(x.multiply(ratios).tocsr(), labels)
        self.weights, self.bias = (regression.coef_.ravel() * ratios).astype(np.float32), float(regression.intercept_[0])
        return self

    def logits(self, sequences) -> np.ndarray:
        return (self._matrix(sequences) @ self.weights + self.bias).astype(np.float32)
