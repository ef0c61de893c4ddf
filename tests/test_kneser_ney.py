"""The counting baseline of the language model: interpolated modified Kneser-Ney, checked by hand."""

import numpy as np
import pytest

from training.kneser_ney import KneserNey, discounts


def test_discounts_follow_chen_and_goodman():
    # counts of counts n1=4, n2=2, n3=1, n4=1: Y = 4 / (4 + 2*2) = 0.5
    d = discounts(np.array([1, 1, 1, 1, 2, 2, 3, 4, 9]))
    assert d.tolist() == pytest.approx([0.0, 1 - 2 * 0.5 * 2 / 4, 2 - 3 * 0.5 * 1 / 2, 3 - 4 * 0.5 * 1 / 1])


def test_probabilities_worked_out_by_hand():
    # reviews "1 2 3" and "1 2 2" (1 plays [CLS]), vocabulary 0..3; too small for Chen & Goodman's
    # estimates (no count of 3 or 4), so every discount is 0.5.
    lm = KneserNey([np.array([1, 2, 3]), np.array([1, 2, 2])], order=2, vocab_size=4)
    # unigram level, adjusted counts: 1 starts reviews (raw count 2); 2 follows {1, 2} -> 2; 3 follows {2} -> 1
    # total 5, left-over mass 3 x 0.5 = 1.5 spread over 4 tokens
    unigram = np.array([0.375 / 5, (1.5 + 0.375) / 5, (1.5 + 0.375) / 5, (0.5 + 0.375) / 5])
    assert lm.probabilities([]) == pytest.approx(unigram)
    # after 2: bigrams "2 3" and "2 2" once each, A = 2, gamma*A = 0.5 + 0.5
    expected = np.array([(0 + unigram[0]) / 2, (0 + unigram[1]) / 2, (0.5 + unigram[2]) / 2, (0.5 + unigram[3]) / 2])
    assert lm.probabilities([2]) == pytest.approx(expected)
    # after 1 ([CLS]): "1 2" twice, A = 2, gamma*A = 0.5
    assert lm.probabilities([1])[2] == pytest.approx((1.5 + 0.5 * unigram[2]) / 2)
    # a history never seen (3 is never followed by anything) falls back to the unigram whole
    assert lm.probabilities([3]) == pytest.approx(unigram)
    # scoring a review: each token after the first, given the one before
    assert np.exp(lm.log_probs(np.array([1, 2, 3]))) == pytest.approx([(1.5 + 0.5 * unigram[2]) / 2, expected[3]])


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_every_conditional_distribution_sums_to_one(order):
    rng = np.random.default_rng(order)
    reviews = [np.concatenate([[1], rng.integers(2, 12, rng.integers(2, 40))]) for _ in range(300)]
    lm = KneserNey(reviews, order, vocab_size=14)   # 12, 13 and 0 never occur
    histories = [[], [1], [1, 2], [13, 13], [0, 5, 6]] + [list(rng.integers(1, 14, rng.integers(1, 6)))
                                                         for _ in range(100)]
    histories += [list(r[:k]) for r in reviews[:30] for k in (1, 2, 3, 4)]
    for history in histories:
        p = lm.probabilities(history)
        assert np.all(p > 0), history
        assert p.sum() == pytest.approx(1.0, abs=1e-12), history


def test_scores_equal_the_distributions_they_come_from():
    rng = np.random.default_rng(7)
    reviews = [np.concatenate([[1], rng.integers(2, 9, rng.integers(3, 30))]) for _ in range(200)]
    lm = KneserNey(reviews, 4, vocab_size=10)
    review = np.concatenate([[1], rng.integers(2, 10, 25)])     # 9 never seen in training
    expected = [np.log(lm.probabilities(review[max(0, t - 3):t])[review[t]]) for t in range(1, len(review))]
    assert lm.log_probs(review) == pytest.approx(expected)


def test_a_higher_order_fits_repetitive_text_better():
    rng = np.random.default_rng(3)
    phrase = rng.integers(2, 50, 12)
    reviews = [np.concatenate([[1], np.tile(phrase, 3)[rng.integers(0, 12):][:20]]) for _ in range(200)]
    held_out = [np.concatenate([[1], np.tile(phrase, 3)[s:][:20]]) for s in (0, 5)]
    losses = [-sum(KneserNey(reviews, n, 60).log_probs(r).sum() for r in held_out) for n in (1, 2, 3)]
    assert losses[0] > losses[1] > losses[2]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="order"):
        KneserNey([np.array([1, 2])], 0, 4)
    with pytest.raises(ValueError, match="token ids"):
        KneserNey([np.array([1, 7])], 2, 4)
