"""The language model's sampled softmax: the loss it computes, that it learns, and its refusals."""

import numpy as np
import pytest

from model.config import TransformerConfig
from model.patterns import AttentionPattern
from training.train_lm import LMConfig, LMTrainer

VOCAB = 40


def small_config(**overrides) -> LMConfig:
    model = TransformerConfig(vocab_size=VOCAB, max_length=32, d_model=16, num_heads=2, num_layers=1, d_ff=32,
                              dropout=0.0, pattern=AttentionPattern("strided", block_size=8, causal=True))
    values = dict(model=model, steps=200, batch_size=8, learning_rate=5e-3, warmup_steps=10, jit_compile=False,
                  sampled_softmax=8)
    values.update(overrides)
    return LMConfig(**values)


def test_sampled_loss_is_the_corrected_cross_entropy_of_the_true_token_among_the_samples():
    config = small_config()
    counts = np.arange(VOCAB, dtype=np.float64) + 1.0
    trainer = LMTrainer(config, counts)
    rng = np.random.default_rng(1)
    batch = rng.integers(1, VOCAB, size=(2, 33)).astype(np.int32)
    batch[1, -5:] = 0                                                  # padding at the end of one window
    sampled = np.array([3, 7, 7, 11, 20, 21, 30, int(batch[0, 1])], np.int32)  # a repeat and one accidental hit
    losses, weights = trainer._sampled_token_losses(batch, sampled)

    x = trainer.model.encode(batch[:, :-1], training=False)[0].numpy()
    table = trainer.model.embedding.tokens.numpy()
    q = counts ** 0.75
    q[0] = 0.0
    log_expected = np.log(np.where(q > 0, 8 * q / q.sum(), 1.0))
    targets = batch[:, 1:]
    want = np.zeros(targets.shape)
    for b in range(2):
        for t in range(32):
            true = x[b, t] @ table[targets[b, t]] - log_expected[targets[b, t]]
            others = [x[b, t] @ table[s] - log_expected[s] for s in sampled if s != targets[b, t]]
            scores = np.array([true, *others])
            want[b, t] = (np.log(np.exp(scores - scores.max()).sum()) + scores.max() - true) * (targets[b, t] != 0)
    np.testing.assert_allclose(losses.numpy(), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(weights.numpy(), (targets != 0).astype(np.float32))


def test_training_with_sampled_softmax_lowers_the_full_softmax_loss():
    """A corpus of one repeated sentence: after training, the exact (full-vocabulary) loss must have fallen."""
    config = small_config(steps=150)
    sentence = np.tile(np.array([5, 9, 12, 17, 23, 31, 2, 8], np.int32), 5)[:33]
    rows = np.stack([np.roll(sentence, -k)[:33] for k in range(8)])
    trainer = LMTrainer(config, np.bincount(rows[:, 1:].ravel(), minlength=VOCAB))
    before = trainer.total_loss(rows)
    for _ in range(config.steps):
        trainer.step(rows)
    after = trainer.total_loss(rows)
    assert after[1] == before[1] == rows[:, 1:].size
    assert after[0] / after[1] < 0.5 * before[0] / before[1]


@pytest.mark.parametrize("value", [-1, VOCAB, 2.5])
def test_impossible_sample_counts_are_refused(value):
    with pytest.raises(ValueError, match="sampled_softmax must be 0"):
        small_config(sampled_softmax=value)


def test_sampled_softmax_needs_the_token_counts():
    with pytest.raises(ValueError, match="needs the training token counts"):
        LMTrainer(small_config())


def test_packed_windows_lay_reviews_end_to_end_without_padding():
    from training.train_lm import packed_windows

    reviews = [np.array([2, 10, 11, 3]), np.array([2, 12, 3]), np.array([2, 13, 14, 15, 16, 3])]
    rows = packed_windows(reviews, context=4)
    stream = np.concatenate(reviews)                  # 13 tokens -> 3 windows of 5, overlapping by one
    assert rows.shape == (3, 5) and rows.dtype == np.int32
    np.testing.assert_array_equal(rows[0], stream[0:5])
    np.testing.assert_array_equal(rows[2], stream[8:13])
    assert all(rows[k, -1] == rows[k + 1, 0] for k in range(2))   # every token is predicted once
    with pytest.raises(ValueError, match="fewer than one packed window"):
        packed_windows([np.array([2, 3])], context=4)
