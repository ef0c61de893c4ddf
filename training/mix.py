"""Two classifiers' answers, mixed and compared review by review.

``fit_mix`` stacks log-odds with a logistic regression (weights fitted on reviews neither model
trained on); ``mcnemar_exact`` says whether two classifiers differ in accuracy on the same reviews,
counting only the reviews where one is right and the other wrong.
"""

from __future__ import annotations

import numpy as np


def mcnemar_exact(a_right: np.ndarray, b_right: np.ndarray) -> dict:
    """Exact (binomial) McNemar test of two classifiers on the same reviews: only the reviews one gets
    right and the other wrong count; under "equally accurate" each such review is a fair coin."""
    from scipy.stats import binomtest

    only_a, only_b = int((a_right & ~b_right).sum()), int((~a_right & b_right).sum())
    p = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_first_right": only_a, "only_second_right": only_b, "p_value": float(p)}


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    """Log-odds of probabilities, clipped away from 0 and 1."""
    return np.log(p / (1 - p))


def fit_mix(features: np.ndarray, labels):
    """Logistic regression on (reviews, models) log-odds: one weight a model and a bias, barely regularised."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1e4).fit(features, labels)
