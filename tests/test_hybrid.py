"""The hybrid classifier: hashed n-grams in the graph equal the numpy ones, NB-LR fits, the file converts."""

import json

import numpy as np
import pytest
import tensorflow as tf

from model.config import TransformerConfig
from training.hybrid import HybridClassifier, ngram_rows
from training.ngrams import NbLogisticRegression, NgramHashing, largest_prime_below
from model.patterns import AttentionPattern
from tests.reference import remeasured_metrics
from tests.tolerances import assert_close_and_deciding

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
    """A small hybrid with seeded weights: the same whatever ran before it in this process (the test
    order differs between one process and several pytest-xdist workers)."""
    import keras

    keras.utils.set_random_seed(0)
    config = TransformerConfig(vocab_size=hashing.vocab_size, max_length=256, d_model=32, num_heads=2,
                               num_layers=1, d_ff=64, pattern=AttentionPattern("bigbird", block_size=64, window=3))
    model = HybridClassifier(config, hashing.to_dict())
    model.build(None)
    return model


def test_the_prime_keeps_triple_hashing_inside_int32():
    p = HASHING.prime
    assert p == largest_prime_below(min(8 * HASHING.trigram_buckets, (2**31 - 1 - 12000) // 12000))
    assert (p - 1) * 12000 + 11999 < 2**31 and all(p % d for d in range(2, int(p**0.5) + 1))


def table_for(ids, hashing=HASHING, seed=1, owned=0.5):
    """An NB-LR table with random weights where about ``owned`` of the reviews' n-grams own their row."""
    rng = np.random.default_rng(seed)
    table = NbLogisticRegression(hashing)
    table.weights = rng.normal(0, 0.1, hashing.size).astype(np.float32)
    table.fingerprints = rng.integers(0, 128, hashing.size).astype(np.int8)
    table.bias = 0.25
    for review in ids:
        rows, prints = hashing.rows(review)
        mine = rng.random(len(rows)) < owned
        table.fingerprints[rows[mine]] = prints[mine]
    return table


def test_graph_rows_and_fingerprints_equal_numpy_ones_for_every_review():
    ids = random_ids()
    rows, prints = (t.numpy() for t in ngram_rows(tf.constant(ids), HASHING))
    for r in range(len(ids)):
        real = rows[r] != HASHING.size
        graph = sorted(set(zip(rows[r][real].tolist(), prints[r][real].tolist())))
        expected_rows, expected_prints = HASHING.rows(ids[r])
        assert graph == list(zip(expected_rows.tolist(), expected_prints.tolist()))
        assert (prints[r][~real] == -1).all()                     # never matches a stored fingerprint
    assert HASHING.rows(np.array([2, 3]))[0].size == 0            # [CLS] [SEP]: no n-gram at all
    keys = HASHING.keys(ids[1])
    np.testing.assert_array_equal(np.unique(np.stack(HASHING.place(keys), 1), axis=0),
                                  np.stack(HASHING.rows(ids[1]), 1))


def test_the_ngram_branch_counts_each_owned_row_once_and_ignores_rows_owned_by_others():
    model = tiny_hybrid()
    ids = random_ids()
    table = table_for(ids)
    model.ngrams.set_from(table)
    expected = table.logits(ids)
    np.testing.assert_allclose(model.ngrams(tf.constant(ids)).numpy(), expected, atol=1e-5)
    owned_by_others = table_for(ids, owned=0.0)
    for review in ids:   # every row these reviews' n-grams land on holds another n-gram's fingerprint
        rows, prints = HASHING.rows(review)
        owned_by_others.fingerprints[rows] = prints % 127 + 1
    model.ngrams.set_from(owned_by_others)
    np.testing.assert_allclose(model.ngrams(tf.constant(ids)).numpy(), 0.25, atol=1e-6)
    table.weights = table.weights[:10]
    with pytest.raises(ValueError, match="expected 132000 n-gram weights"):
        model.ngrams.set_from(table)


def test_nb_lr_learns_which_ngrams_are_positive():
    hashing = NgramHashing(vocab_size=100, bigram_buckets=97, trigram_buckets=89)
    good, bad = [2, 10, 11, 12, 3], [2, 20, 21, 22, 3]
    reviews = [np.array(good), np.array(bad)] * 30
    fitted = NbLogisticRegression(hashing).fit(reviews, np.array([1, 0] * 30))
    logits = fitted.logits([np.array(good), np.array(bad), np.array([2, 10, 11, 3]), np.array([2, 30, 31, 3])])
    assert logits[0] > 0 > logits[1] and logits[2] > 0
    assert logits[3] == pytest.approx(fitted.bias)                # unseen n-grams count for nothing
    assert fitted.weights.shape == (hashing.size,) and fitted.weights[10] > 0 > fitted.weights[20]
    assert len(fitted.features) == 12   # 2 x (3 words, 2 pairs, 1 triple), each with a row of its own
    with pytest.raises(ValueError, match="both classes present"):
        NbLogisticRegression(hashing).fit(reviews, np.ones(60))


def test_the_hybrid_mixes_deep_and_ngram_log_odds():
    model = tiny_hybrid()
    model.ngrams.set_from(table_for(random_ids(), seed=2))
    model.mix.assign([0.5, 0.7, 0.2])
    ids = tf.constant(random_ids())
    z = 0.5 * model.deep_logit(ids) + 0.7 * model.ngrams(ids) + 0.2
    np.testing.assert_allclose(model(ids).numpy()[:, 1], tf.sigmoid(z).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="binary"):
        HybridClassifier(TransformerConfig(vocab_size=100, max_length=64, num_classes=3,
                                           pattern=AttentionPattern("local", block_size=16)), HASHING.to_dict())


def test_a_hybrid_converts_to_builtin_tflite_that_the_edge_runtime_reads_with_its_ngram_table_int8(tmp_path):
    from convert.tflite import convert_multi_length, op_names
    from edge_runtime.bundle import BundleConfig, pack_bundle
    from edge_runtime.classifier import TOKENIZER, TextClassifier

    model = tiny_hybrid()
    lengths = [128, 256]
    model.ngrams.set_from(table_for([*random_ids(4, 128), *random_ids(4, 256, seed=1)], seed=3))
    samples = {n: [random_ids(1, n, seed=s) for s in range(4)] for n in lengths}
    samples[128] += [row[None] for row in random_ids(4, 128)]   # the rows compared below are calibrated for

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
        config = BundleConfig("classifier", "hybrid", name, tuple(lengths), TOKENIZER, model.config.to_dict())
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(pack_bundle(flatbuffer, config, tiny_vocab(12000), ["negative", "positive"]))
        classifier = TextClassifier(path)
        got = np.stack([classifier.probabilities(row[None]) for row in ids])
        tolerance = 1e-5 if name == "float32" else 0.01   # int8 moved these by at most 0.0031 (2026-12-07)
        assert_close_and_deciding(got, expected, tolerance, name)
    # the int8 file stores the n-gram weights in int8, one buffer for both signatures
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    parsed = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffers["int8"]))
    tables = {(tensor.buffer, tensor.type) for subgraph in parsed.subgraphs for tensor in subgraph.tensors
              if tuple(tensor.shape) == (HASHING.size + 1, 1)}
    assert {kind for _, kind in tables} == {schema.TensorType.INT8} and len({b for b, _ in tables}) == 1


@pytest.mark.imdb
def test_train_hybrid_fits_out_of_fold_and_writes_a_hybrid_folder(tmp_path, tiny_trained):
    from training.saved import HYBRID, ModelFolder
    from training.train_config import HybridSettings
    from training.train_hybrid import out_of_fold_logits, train_hybrid, truncate

    settings = HybridSettings(base=str(tiny_trained), bigram_buckets=5000, trigram_buckets=5000, folds=3,
                              epochs=1, learning_rate=1e-3)
    metrics = train_hybrid(settings, tmp_path / "hybrid", progress=False)
    folder = ModelFolder(tmp_path / "hybrid")
    assert folder.kind == HYBRID and folder.labels == ["negative", "positive"]
    again = remeasured_metrics(tmp_path / "hybrid", 64)   # the saved hybrid, reloaded, review by review
    assert metrics["n"] == again["n"] == 64 and metrics["accuracy"] == pytest.approx(again["accuracy"])
    assert metrics["confusion_matrix"]["rows_true_cols_predicted"] == again["confusion_matrix"]
    assert metrics["train_seconds"] == pytest.approx(json.loads((tiny_trained / "metrics.json").read_text())[
        "train_seconds"] + metrics["hybrid_seconds"], abs=0.2)
    model, _, config = folder.load()
    assert config.hybrid == settings and model.ngrams.hashing.bigram_buckets == 5000
    # out of fold: a review's log-odds come from an NB-LR that never saw it
    hashing = NgramHashing(vocab_size=2000, bigram_buckets=5000, trigram_buckets=5000)
    seqs = [np.array([2, *range(10 + i % 7, 20 + i % 7), 3]) for i in range(30)]
    labels = np.array([0, 1] * 15)
    full = NbLogisticRegression(hashing).fit(seqs, labels)
    oof = out_of_fold_logits(full, seqs, labels, 3)
    fold = np.random.default_rng(0).permutation(30) % 3
    held = np.flatnonzero(fold == 0)
    others = NbLogisticRegression(hashing).fit([seqs[i] for i in np.flatnonzero(fold != 0)], labels[fold != 0],
                                               features=full.features)
    np.testing.assert_allclose(oof[held], others.logits([seqs[i] for i in held]), atol=1e-5)
    assert not np.allclose(oof, full.logits(seqs))   # in-sample log-odds would differ
    assert [len(s) for s in truncate([np.arange(300)], 256)] == [256]
    with pytest.raises(ValueError, match="is the base classifier's folder"):
        train_hybrid(settings, tiny_trained, progress=False)   # refused before anything is written
    # epochs=0: the Transformer stays as trained, only the mix is fitted (on validation)
    import dataclasses

    stacked = train_hybrid(dataclasses.replace(settings, epochs=0), tmp_path / "stacked", progress=False)
    assert stacked["fine_tune_seconds"] > 0 and stacked["mix"] != list(settings.mix)   # the mix was fitted
    base_model = ModelFolder(tiny_trained).load_keras()
    stacked_model = ModelFolder(tmp_path / "stacked").load_keras()
    for a, b in zip(base_model.get_weights(), stacked_model.deep.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_word_attributions_share_out_exactly_the_ngram_log_odds():
    from edge_runtime.tokenizer import WordPieceTokenizer
    from sparse_edge.reports.inspect_attention import word_attributions

    tokenizer = WordPieceTokenizer.from_text(tiny_vocab(12000))
    text = "w10 w11 w12 w10 w11 w40 w41"
    ids = np.array([tokenizer.encode(text, 256).ids])
    model = tiny_hybrid()
    model.ngrams.set_from(table_for(ids, seed=4, owned=0.7))
    model.mix.assign([0.5, 0.8, 0.1])
    words = word_attributions(model, tokenizer, text)
    assert [w["word"] for w in words] == text.split()
    ngram_part = sum(w["ngrams"] for w in words)
    expected = 0.8 * (float(model.ngrams(tf.constant(ids))[0]) - float(model.ngrams.bias))
    assert ngram_part == pytest.approx(expected, abs=1e-5)


def test_the_size_goal_leaves_out_integer_tables_only(tmp_path):
    from convert.parity import check
    from convert.tflite import convert_multi_length, integer_table_bytes

    model = tiny_hybrid()
    flatbuffer = convert_multi_length(model, [128], "float32")
    assert integer_table_bytes(flatbuffer) == HASHING.size + 1     # the fingerprints, one byte per row
    row = {"agreement": 1.0, "delta_accuracy_pp": 0.0, "size_bytes": 400}
    assert check("int8", row, 1000) == ["size 40.0% of float32 > 30%"]
    assert check("int8", row, 1000, integer_bytes=200) == []       # (400 - 200) / (1000 - 200) = 25%
