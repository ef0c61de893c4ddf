"""The n-gram teacher used for distillation: features, naive-Bayes ratios, soft targets in training."""

import numpy as np
import pytest

from training.teacher import NgramTeacher


def _review(*words):
    return np.array([2, *words, 3])  # [CLS] words [SEP], like the token cache


def test_ngram_keys_are_the_distinct_words_and_pairs_without_cls_and_sep():
    teacher = NgramTeacher(vocab_size=10)
    keys = teacher.ngram_keys(_review(5, 6, 5, 6))
    # words 5, 6; pairs (5, 6) -> 10 + 56 = 66 and (6, 5) -> 10 + 65 = 75; (5, 6) twice counts once
    assert keys.tolist() == [5, 6, 66, 75]
    assert NgramTeacher(vocab_size=10, ngrams=1).ngram_keys(_review(5, 6, 5)).tolist() == [5, 6]
    assert NgramTeacher(vocab_size=10).ngram_keys(_review()).tolist() == []


def test_naive_bayes_ratios_match_a_hand_count():
    reviews = [_review(5, 6), _review(5, 7), _review(7, 7)]
    teacher = NgramTeacher(vocab_size=10, ngrams=1).fit(reviews, np.array([1, 1, 0]))
    assert teacher.features.tolist() == [5, 6, 7]
    # binary counts +1: positive 5:2+1, 6:1+1, 7:1+1 (sum 7); negative 5:0+1, 6:0+1, 7:1+1 (sum 4)
    p, q = np.array([3, 2, 2]) / 7, np.array([1, 1, 2]) / 4
    np.testing.assert_allclose(teacher.ratios[0], np.log(p) - np.log(q), rtol=1e-6)


def test_teacher_learns_which_words_and_pairs_are_positive():
    rng = np.random.default_rng(0)
    # positive reviews contain the pair (8, 9), negative ones (9, 8): only bigrams tell them apart
    reviews, labels = [], []
    for i in range(200):
        filler = list(rng.integers(10, 50, size=6))
        pair = [8, 9] if i % 2 else [9, 8]
        reviews.append(_review(*filler[:3], *pair, *filler[3:]))
        labels.append(i % 2)
    teacher = NgramTeacher(vocab_size=50).fit(reviews, np.array(labels))
    probs = teacher.predict([_review(20, 8, 9, 30), _review(20, 9, 8, 30)])
    assert probs.dtype == np.float32 and probs[0] > 0.8 and probs[1] < 0.2
    words_only = NgramTeacher(vocab_size=50, ngrams=1).fit(reviews, np.array(labels))
    assert abs(float(np.diff(words_only.predict([_review(20, 8, 9, 30), _review(20, 9, 8, 30)]))[0])) < 0.05


def test_teacher_with_three_labels_is_one_vs_rest_with_normalised_probabilities():
    rng = np.random.default_rng(1)
    reviews, labels = [], []
    for i in range(300):   # label c is given away by word 5 + c among random filler
        reviews.append(_review(*rng.integers(10, 50, size=5), 5 + i % 3, *rng.integers(10, 50, size=3)))
        labels.append(i % 3)
    teacher = NgramTeacher(vocab_size=50).fit(reviews, np.array(labels))
    assert teacher.num_classes == 3 and len(teacher.ratios) == 3
    probs = teacher.predict([_review(20, 5, 30), _review(20, 6, 30), _review(20, 7, 30)])
    assert probs.shape == (3, 3) and probs.argmax(axis=1).tolist() == [0, 1, 2]
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
    # each label's ratios come from that label against the other two: word 5 favours label 0 only
    at = np.searchsorted(teacher.features, 5)
    assert teacher.ratios[0][at] > 0 > teacher.ratios[1][at]
    with pytest.raises(ValueError, match="every class present"):
        NgramTeacher(vocab_size=50).fit(reviews[:2], np.array([0, 2]))


def test_teacher_refuses_misuse_clearly():
    with pytest.raises(ValueError, match="not fitted yet; call fit"):
        NgramTeacher(vocab_size=10).predict([_review(5)])
    with pytest.raises(ValueError, match="every class present"):
        NgramTeacher(vocab_size=10).fit([_review(5), _review(6)], np.array([1, 1]))
    with pytest.raises(ValueError, match="ngrams must be 1 or 2, got 3"):
        NgramTeacher(vocab_size=10, ngrams=3)


def test_soft_targets_give_the_cross_entropy_of_the_mixed_distribution():
    import tensorflow as tf

    from model.config import TransformerConfig
    from model.patterns import AttentionPattern
    from training.train import Trainer
    from training.train_config import TrainConfig

    model = TransformerConfig(vocab_size=60, max_length=64, d_model=16, num_heads=2, num_layers=1, d_ff=32,
                              dropout=0.0, pattern=AttentionPattern("local", block_size=16, window=3))
    trainer = Trainer(TrainConfig(model=model, batch_tokens=64, jit_compile=False), tf.distribute.get_strategy(), 10)
    ids = np.random.default_rng(1).integers(5, 60, size=(4, 64)).astype(np.int32)
    probs = trainer.model(ids, training=False).numpy()
    one = tf.constant(4.0)
    hard, _, _ = trainer._compute_gradients(ids, tf.constant([0, 1, 1, 0], tf.int64), one)
    same, _, _ = trainer._compute_gradients(ids, tf.constant([0, 1, 1, 0], tf.float32), one)
    soft, correct, _ = trainer._compute_gradients(ids, tf.constant([0.25, 0.5, 0.9, 0.0], tf.float32), one)
    q = np.array([0.25, 0.5, 0.9, 0.0])
    expected = -np.mean((1 - q) * np.log(probs[:, 0] + 1e-7) + q * np.log(probs[:, 1] + 1e-7))
    np.testing.assert_allclose(float(same), float(hard), rtol=1e-5)
    np.testing.assert_allclose(float(soft), expected, rtol=1e-5)
    # the agreement count compares the prediction with the target rounded at 0.5
    assert float(correct) == float(((probs[:, 1] >= probs[:, 0]) == (q >= 0.5)).sum())
