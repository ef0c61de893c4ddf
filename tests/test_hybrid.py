"""The hybrid classifier: hashed n-grams in the graph equal the numpy ones, NB-LR fits, the file converts."""

import json

import numpy as np
import pytest
import tensorflow as tf

from model.config import TransformerConfig
from model.hybrid import HybridClassifier, ngram_buckets
from model.ngrams import NbLogisticRegression, NgramHashing, largest_prime_below
from model.patterns import AttentionPattern

HASHING = NgramHashing(vocab_size=12000, bigram_buckets=50_000, trigram_buckets=70_000)


def random_ids(rows=4, length=128, seed=0):
    """Token ids with [CLS], [SEP], padding, [UNK] and repeated runs: every case the hashing must get right."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 12000, (rows, length)).astype(np.int32)
    ids[:, 0], ids[:, -1] = 2, 3
    ids[0, 60], ids[0, 61:] = 3, 0          # a short review: [SEP] then padding
    if rows >= 3:
        ids[1, 10:20] = ids[1, 30:40]       # a repeated run: its n-grams count once
        ids[2, 5] = 1                       # [UNK] breaks the n-grams around it
    return ids


def tiny_vocab(size: int) -> str:
    return "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(size - 5)]) + "\n"


def tiny_hybrid(hashing=HASHING):
    config = TransformerConfig(vocab_size=hashing.vocab_size, max_length=256, d_model=32, num_heads=2,
                               num_layers=1, d_ff=64, pattern=AttentionPattern("bigbird", block_size=64, window=3))
    model = HybridClassifier(config, hashing.to_dict())
    model.build(None)
    return model


def test_the_prime_keeps_triple_hashing_inside_int32():
    p = HASHING.prime
    assert p == largest_prime_below(min(8 * HASHING.trigram_buckets, (2**31 - 1 - 12000) // 12000))
    assert (p - 1) * 12000 + 11999 < 2**31 and all(p % d for d in range(2, int(p**0.5) + 1))


def test_graph_buckets_equal_numpy_buckets_for_every_review():
    ids = random_ids()
    graph = ngram_buckets(tf.constant(ids), HASHING).numpy()
    for row in range(len(ids)):
        assert np.array_equal(np.unique(graph[row][graph[row] != HASHING.size]), HASHING.buckets(ids[row]))
    assert HASHING.buckets(np.array([2, 3])).size == 0            # [CLS] [SEP]: no n-gram at all


def test_the_ngram_branch_computes_nb_lr_log_odds_with_each_bucket_once():
    model = tiny_hybrid()
    weights = np.random.default_rng(1).normal(0, 0.1, HASHING.size).astype(np.float32)
    model.ngrams.set_from(weights, 0.25)
    ids = random_ids()
    expected = [weights[HASHING.buckets(row)].sum() + 0.25 for row in ids]
    np.testing.assert_allclose(model.ngrams(tf.constant(ids)).numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match="expected 132000 n-gram weights"):
        model.ngrams.set_from(weights[:10], 0.0)


def test_nb_lr_learns_which_ngrams_are_positive():
    hashing = NgramHashing(vocab_size=100, bigram_buckets=97, trigram_buckets=89)
    good, bad = [2, 10, 11, 12, 3], [2, 20, 21, 22, 3]
    reviews = [np.array(good), np.array(bad)] * 30
    fitted = NbLogisticRegression(hashing).fit(reviews, np.array([1, 0] * 30))
    logits = fitted.logits([np.array(good), np.array(bad), np.array([2, 10, 11, 3])])
    assert logits[0] > 0 > logits[1] and logits[2] > 0
    assert fitted.weights.shape == (hashing.size,) and fitted.weights[10] > 0 > fitted.weights[20]
    with pytest.raises(ValueError, match="both classes present"):
        NbLogisticRegression(hashing).fit(reviews, np.ones(60))


def test_the_hybrid_mixes_deep_and_ngram_log_odds():
    model = tiny_hybrid()
    model.ngrams.set_from(np.random.default_rng(2).normal(0, 0.1, HASHING.size).astype(np.float32), -0.1)
    model.mix.assign([0.5, 0.7, 0.2])
    ids = tf.constant(random_ids())
    z = 0.5 * model.deep_logit(ids) + 0.7 * model.ngrams(ids) + 0.2
    np.testing.assert_allclose(model(ids).numpy()[:, 1], tf.sigmoid(z).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="binary"):
        HybridClassifier(TransformerConfig(vocab_size=100, max_length=64, num_classes=3,
                                           pattern=AttentionPattern("local", block_size=16)), HASHING.to_dict())


def test_a_hybrid_converts_to_builtin_tflite_that_the_edge_runtime_reads_with_its_ngram_table_int8(tmp_path):
    from convert.tflite import convert_multi_length, op_names
    from edge_runtime.bundle import pack_bundle
    from edge_runtime.classifier import TOKENIZER, TextClassifier

    model = tiny_hybrid()
    weights = np.random.default_rng(3).normal(0, 0.2, HASHING.size).astype(np.float32)
    model.ngrams.set_from(weights, 0.1)
    lengths = [128, 256]
    samples = {n: [random_ids(1, n, seed=s) for s in range(4)] for n in lengths}

    def representative():
        for n in lengths:
            for ids in samples[n]:
                yield f"len_{n}", {"token_ids": ids}

    from convert.debug import float_nodes, layer_errors

    # selective quantization as `sparse-edge convert` does it: only fully connected layers and lookups in int8
    kept_float = float_nodes(layer_errors(model, 128, samples[128]))
    flatbuffers = {"float32": convert_multi_length(model, lengths, "float32"),
                   "int8": convert_multi_length(model, lengths, "int8", representative, kept_float)}
    for name, flatbuffer in flatbuffers.items():
        assert {"TOPK_V2", "FLOOR_MOD", "GATHER"} <= op_names(flatbuffer), name
    ids = random_ids(4, 128)
    expected = model(tf.constant(ids)).numpy()
    for name, flatbuffer in flatbuffers.items():
        config = {"kind": "classifier", "architecture": "hybrid", "variant": name, "max_length": 256, "lengths": lengths, "tokenizer": TOKENIZER,
                  "model": model.config.to_dict(), "labels": ["negative", "positive"],
                  "quantization": {"float_nodes": []}}
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(pack_bundle(flatbuffer, config, tiny_vocab(12000), ["negative", "positive"]))
        classifier = TextClassifier(path)
        got = np.stack([classifier.probabilities(row[None]) for row in ids])
        tolerance = 1e-5 if name == "float32" else 0.05
        np.testing.assert_allclose(got, expected, atol=tolerance, err_msg=name)
    # the int8 file stores the n-gram table once, in int8 (a quarter of float32)
    assert len(flatbuffers["int8"]) < len(flatbuffers["float32"]) - 3 * HASHING.size


@pytest.mark.imdb
def test_train_hybrid_fits_out_of_fold_and_writes_a_hybrid_folder(tmp_path, vocab):  # noqa: F811
    from model.saved import HYBRID, ModelFolder
    from model.train import train
    from model.train_config import HybridSettings
    from model.train_hybrid import out_of_fold_logits, train_hybrid, truncate
    from tests.test_training import tiny_config

    train(tiny_config(), tmp_path / "base", vocab_path=vocab, progress=False)
    settings = HybridSettings(base=str(tmp_path / "base"), bigram_buckets=5000, trigram_buckets=5000, folds=3,
                              epochs=1, learning_rate=1e-3)
    metrics = train_hybrid(settings, tmp_path / "hybrid", progress=False)
    folder = ModelFolder(tmp_path / "hybrid")
    assert folder.kind == HYBRID and folder.labels == ["negative", "positive"]
    cm = metrics["confusion_matrix"]["rows_true_cols_predicted"]
    assert metrics["n"] == 64 and metrics["accuracy"] == (cm[0][0] + cm[1][1]) / 64
    assert metrics["train_seconds"] == pytest.approx(json.loads((tmp_path / "base" / "metrics.json").read_text())[
        "train_seconds"] + metrics["hybrid_seconds"], abs=0.2)
    model, _, config = folder.load()
    assert config.hybrid == settings and model.ngrams.hashing.bigram_buckets == 5000
    # out of fold: a review's log-odds come from an NB-LR that never saw it
    hashing = NgramHashing(vocab_size=2000, bigram_buckets=5000, trigram_buckets=5000)
    seqs = [np.array([2, *range(10 + i, 20 + i), 3]) for i in range(30)]
    labels = np.array([0, 1] * 15)
    oof = out_of_fold_logits(hashing, seqs, labels, 3, 0.1)
    fold = np.random.default_rng(0).permutation(30) % 3
    held = np.flatnonzero(fold == 0)
    others = NbLogisticRegression(hashing).fit([seqs[i] for i in np.flatnonzero(fold != 0)], labels[fold != 0])
    np.testing.assert_allclose(oof[held], others.logits([seqs[i] for i in held]), atol=1e-5)
    assert [len(s) for s in truncate([np.arange(300)], 256)] == [256]
    with pytest.raises(ValueError, match="is the base classifier's folder"):
        train_hybrid(settings, tmp_path / "base", progress=False)


from tests.test_training import vocab  # noqa: E402,F401 - the IMDB vocabulary fixture
