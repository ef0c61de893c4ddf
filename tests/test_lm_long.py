"""The long-context language model: relative positions that read any length, whole reviews, resumable training."""

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
VOCAB = str(REPO / "artifacts" / "imdb-classifier" / "vocab.txt")


def tiny_model(**overrides):
    from model.config import TransformerConfig
    from model.patterns import AttentionPattern

    values = dict(vocab_size=200, max_length=64, d_model=16, num_heads=2, num_layers=2, d_ff=32, dropout=0.0,
                  positional="relative",
                  pattern=AttentionPattern("global", block_size=8, window=2, num_global=1, causal=True))
    values.update(overrides)
    return TransformerConfig(**values)


def test_relative_buckets_give_each_distance_in_reach_its_own_bias_and_farther_keys_one():
    from model.attention import relative_buckets

    buckets = relative_buckets(np.array([10]), np.array([10, 9, 7, 6, 0, 11, 13, 14]), reach=4)
    # distance 0 -> 4, 1 -> 3, 3 -> 1, 4 or more -> 0; later keys: -1 -> 5, -3 -> 7, -4 or less -> 8
    assert buckets.tolist() == [[4, 3, 1, 0, 0, 5, 7, 8]]


def test_a_relative_model_reads_past_its_training_length_causally():
    import keras

    from model.transformer import SparseTransformerLM

    keras.utils.set_random_seed(0)
    model = SparseTransformerLM(tiny_model())
    model.build(None)
    for block in model.blocks:   # the zero-initialised distance biases would hide a wrong gather
        block.attention.distance_bias.assign(np.random.default_rng(1).normal(0, 1, block.attention.distance_bias.shape))
    ids = np.random.default_rng(2).integers(1, 200, (1, 200)).astype(np.int32)   # 200 > max_length 64
    long = np.asarray(model(ids))
    for n in (8, 37, 64, 120):
        np.testing.assert_allclose(np.asarray(model(ids[:, :n])), long[:, :n], atol=2e-5)
    assert not np.allclose(long[0, 100], long[0, 150], atol=1e-3)


def test_relative_positions_refuse_nothing_and_learned_ones_stop_at_max_length():
    from model.transformer import SparseTransformerLM

    learned = SparseTransformerLM(tiny_model(positional="learned"))
    with pytest.raises(ValueError, match="max_length"):
        learned(np.ones((1, 72), np.int32))
    assert tiny_model().reads_any_length


def test_whole_review_batches_are_the_same_every_time_and_each_bucket_fills_its_tokens():
    from training.train_lm import epoch_batches, review_rows

    rng = np.random.default_rng(0)
    reviews = [rng.integers(1, 50, rng.integers(3, 300)) for _ in range(400)]
    rows = review_rows(reviews, 128)
    assert sum(len(r) - 1 for r in rows) == sum(len(r) - 1 for r in reviews)   # every token predicted once
    assert all(len(r) <= 129 for r in rows)
    lengths = [32, 64, 128]
    first, again, other = (epoch_batches(rows, lengths, 512, 0, e) for e in (3, 3, 4))
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    assert [b.tolist() for b in first] != [b.tolist() for b in other] and len(first) == len(other)
    for batch in first:
        longest = max(len(rows[i]) - 1 for i in batch)
        length = next(n for n in lengths if n >= longest)
        assert len(batch) == 512 // length


@pytest.mark.imdb
def test_resumed_training_ends_where_an_uninterrupted_run_ends(tmp_path, monkeypatch):
    from training.train_lm import LMConfig, LMTrainer, train_lm

    def config():
        return LMConfig(model=tiny_model(vocab_size=12000), steps=12, batch_tokens=512, val_reviews=10,
                        eval_every=6, text_limit=120, sampled_softmax=64, whole_reviews=True, jit_compile=False,
                        checkpoint_minutes=1e-6, warmup_steps=2)

    straight = train_lm(config(), tmp_path / "straight", VOCAB, progress=False)
    original = LMTrainer.step

    def stop_at_9(self, batch, number=None):
        if number == 9:
            raise KeyboardInterrupt
        return original(self, batch, number)

    monkeypatch.setattr(LMTrainer, "step", stop_at_9)
    with pytest.raises(KeyboardInterrupt):
        train_lm(config(), tmp_path / "resumed", VOCAB, progress=False)
    assert json.loads((tmp_path / "resumed" / "checkpoints" / "last" / "state.json").read_text())["step"] == 8
    monkeypatch.setattr(LMTrainer, "step", original)
    resumed = train_lm(config(), tmp_path / "resumed", VOCAB, progress=False)
    assert resumed["val_loss_nats_per_token"] == pytest.approx(straight["val_loss_nats_per_token"], rel=1e-6)
    assert [r["from_step"] for r in resumed["runs"]] == [0, 8]
    log = (tmp_path / "resumed" / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log] == ["step", "6", "12"]
    # the table by position covers every held-out token once
    table = resumed["val_by_position"]
    assert sum(row["tokens"] for row in table.values()) == resumed["val_tokens"]
    with pytest.raises(ValueError, match="another configuration"):
        changed = config()
        changed.learning_rate = 0.5
        train_lm(changed, tmp_path / "resumed", VOCAB, progress=False)
