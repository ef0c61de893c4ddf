"""A bag-of-n-grams teacher: soft labels for distilling into the sparse Transformer.

Wang & Manning's NBSVM (2012) classifies IMDB better than a small Transformer trained from
scratch on 22,500 labelled reviews, from nothing but which words and word pairs a review
contains (the measured numbers: docs/experiments.md). The Transformer can learn from such a
model: the teacher labels
the 50,000 unlabelled reviews with probabilities, and the student trains on labelled and
teacher-labelled reviews together (knowledge distillation, Hinton et al. 2015). The teacher is
used only during training; what ships is the student alone, with its size and speed.

The features are the project's own WordPiece ids (no second tokenizer): a review is the set of
its unigrams and bigrams, each feature scaled by its naive-Bayes log-count ratio
``r = log(p / |p|) - log(q / |q|)`` (p, q: smoothed feature counts in positive and negative
reviews), then a logistic regression is fitted on the scaled binary features (NB-LR, the
logistic-regression form of NBSVM).

Example:
    >>> import numpy as np
    >>> reviews = [np.array([2, 7, 8, 3]), np.array([2, 9, 9, 3])] * 20
    >>> teacher = NgramTeacher(vocab_size=10).fit(reviews, np.array([1, 0] * 20))
    >>> bool(teacher.predict([np.array([2, 7, 3])])[0] > 0.5)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EDGE_TOKENS = 1  # each cached sequence starts with [CLS] and ends with [SEP]; neither is a feature


@dataclass
class NgramTeacher:
    """NB-weighted logistic regression on binary unigram and bigram features of token ids
    (one-vs-rest when there are more than two labels)."""

    vocab_size: int
    ngrams: int = 2              # 1: words only, 2: words and pairs
    regularization: float = 0.1  # inverse L2 strength (scikit-learn's C); 0.1 was best on validation
    smoothing: float = 1.0       # added to every feature count for the naive-Bayes ratios

    def __post_init__(self) -> None:
        if self.ngrams not in (1, 2):
            raise ValueError(f"ngrams must be 1 or 2, got {self.ngrams!r}")
        self.features: np.ndarray | None = None   # sorted n-gram keys seen in training
        self.ratios: list[np.ndarray] = []         # naive-Bayes log-count ratio per feature, per regression
        self._classifier = None                    # one regression (two labels) or one per label
        self.num_classes = 0

    def ngram_keys(self, sequence: np.ndarray) -> np.ndarray:
        """The distinct n-grams of one review as int64 keys: a word w is w, a pair (a, b) is V + a*V + b."""
        words = np.asarray(sequence, np.int64)[EDGE_TOKENS:-EDGE_TOKENS]
        keys = [words]
        if self.ngrams == 2 and len(words) > 1:
            keys.append(self.vocab_size + words[:-1] * self.vocab_size + words[1:])
        return np.unique(np.concatenate(keys))

    def _matrix(self, sequences):
        """(reviews, features) sparse 0/1 matrix; n-grams never seen in training are dropped."""
        import scipy.sparse as sparse

        rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for row, sequence in enumerate(sequences):
            keys = self.ngram_keys(sequence)
            where = np.minimum(np.searchsorted(self.features, keys), len(self.features) - 1)
            known = where[self.features[where] == keys]
            rows.append(np.full(len(known), row))
            cols.append(known)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        return sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                 shape=(len(sequences), len(self.features)))

    def fit(self, sequences: list[np.ndarray], labels: np.ndarray) -> "NgramTeacher":
        """Learn the feature list, the naive-Bayes ratios and the regression from labelled reviews.

        Two labels: one NB-LR (label 1 against label 0). More: one NB-LR per label against the
        rest (one-vs-rest), each with its own ratios; ``predict`` normalises their probabilities.
        """
        labels = np.asarray(labels)
        classes = np.unique(labels)
        if len(sequences) != len(labels) or len(classes) < 2 or classes[0] != 0 or classes[-1] != len(classes) - 1:
            raise ValueError("the teacher needs one class number per review (0, 1, ...) and every class present")
        self.num_classes = len(classes)
        self.features = np.unique(np.concatenate([self.ngram_keys(s) for s in sequences]))
        x = self._matrix(sequences)
        positives = [labels == 1] if self.num_classes == 2 else [labels == c for c in classes]
        self.ratios, self._classifier = [], []
        for positive in positives:
            ratios, classifier = self._fit_one(x, positive)
            self.ratios.append(ratios)
            self._classifier.append(classifier)
        return self

    def _fit_one(self, x, positive: np.ndarray):
        """NB ratios and a logistic regression for ``positive`` rows against all others."""
        from sklearn.linear_model import LogisticRegression

        p = self.smoothing + np.asarray(x[positive].sum(axis=0)).ravel()
        q = self.smoothing + np.asarray(x[~positive].sum(axis=0)).ravel()
        ratios = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
        classifier = LogisticRegression(C=self.regularization, solver="liblinear", dual=True,
                                        max_iter=1000, random_state=0)
        classifier.fit(x.multiply(ratios).tocsr(), positive.astype(np.int64))
        return ratios, classifier

    def predict(self, sequences: list[np.ndarray]) -> np.ndarray:
        """Two labels: P(label 1) per review, (reviews,). More: (reviews, labels), rows summing to 1."""
        if self._classifier is None:
            raise ValueError("the teacher is not fitted yet; call fit() first")
        x = self._matrix(sequences)
        probs = np.stack([c.predict_proba(x.multiply(r).tocsr())[:, 1] for r, c in zip(self.ratios, self._classifier)],
                         axis=1).astype(np.float32)
        if self.num_classes == 2:
            return probs[:, 0]
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)

    def predict_classes(self, sequences: list[np.ndarray]) -> np.ndarray:
        """(reviews, labels) probabilities, for two labels too."""
        p = self.predict(sequences)
        return np.stack([1 - p, p], axis=1) if p.ndim == 1 else p
