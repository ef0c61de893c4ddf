"""Conversion: four BUILTIN-only variants, one file each with its vocab, labels and config; parity."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from convert import parity as parity_module
from convert.export import convert_model_dir, parse_variants
from convert.parity import check
from convert.representative import representative_reviews
from convert.tflite import ConversionError, convert_keras_model, convert_multi_length, op_names
from edge_runtime import TextClassifier
from edge_runtime.bundle import read_bundle
from training.files import write_atomic
from sparse_edge.cli import main

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ["float32", "float16", "dynamic", "int8"]


@pytest.mark.imdb
def test_every_variant_is_one_builtin_file_carrying_vocab_labels_and_config(converted_model):
    vocab = (converted_model / "vocab.txt").read_text()
    for variant in VARIANTS:
        data = (converted_model / "tflite" / f"{variant}.tflite").read_bytes()
        bundle = read_bundle(data)
        assert bundle.vocab_text == vocab and bundle.labels == ["negative", "positive"]
        assert bundle.config.variant == variant and bundle.config.lengths == (128, 192, 320, 384)
        assert bundle.config.source_metrics["n"] == 5000   # the quick preset tests on 5,000 reviews
        ops = op_names(bundle.flatbuffer)
        assert not {op for op in ops if op.startswith("Flex") or op == "CUSTOM"}, ops
        classifier = TextClassifier(converted_model / "tflite" / f"{variant}.tflite")
        assert sorted(classifier._interpreter.get_signature_list()) == ["len_128", "len_192", "len_320", "len_384"]
        runner = classifier._interpreter.get_signature_runner("len_128")
        assert runner.get_input_details()["token_ids"]["dtype"] == np.int32
        assert runner.get_output_details()["probabilities"]["dtype"] == np.float32
    # int8 kept the QuantizationDebugger's flagged ops (at least the softmaxes) in float
    int8 = read_bundle((converted_model / "tflite" / "int8.tflite").read_bytes())
    assert int8.config.float_nodes
    rows = (converted_model / "quant_debug.csv").read_text().splitlines()
    assert rows[0].startswith("op_name,tensor_name,rmse_over_scale") and len(rows) > 20


@pytest.mark.imdb
def test_int8_keeps_the_flagged_ops_in_float_in_every_signature(converted_model):
    """Selective quantization must reach every length's subgraph, not only the first one's.

    DIV in particular: tflite-runtime 2.14 has no int8 DIV kernel, so one int8 DIV in any
    signature would make that length fail on it.
    """
    from tensorflow.lite.tools import flatbuffer_utils as fu

    bundle = read_bundle((converted_model / "tflite" / "int8.tflite").read_bytes())
    model = fu.convert_bytearray_to_object(bytearray(bundle.flatbuffer))
    assert len(model.subgraphs) == len(bundle.config.lengths) == 4
    for subgraph in model.subgraphs:
        types = {}
        for op in subgraph.operators:
            name = fu.opcode_to_name(model, op.opcodeIndex)
            types.setdefault(name, []).append(fu.type_to_name(subgraph.tensors[op.outputs[0]].type))
        assert types["DIV"] == ["FLOAT32"], (subgraph.name, types["DIV"])
        assert types["SOFTMAX"].count("FLOAT32") >= 1, (subgraph.name, types["SOFTMAX"])  # the attention softmax
        assert "INT8" in types["FULLY_CONNECTED"]  # and the rest is quantized


@pytest.mark.imdb
def test_parity_meets_every_accuracy_threshold_and_matches_the_edge_runtime(converted_model):
    # the pipeline's parity stage ran run_parity(converted_model, "test", limit=2000) and wrote this
    report = json.loads((converted_model / "parity.json").read_text())
    assert report["n"] == 2000 and set(report["variants"]) == set(VARIANTS)
    for variant, row in report["variants"].items():
        # size is judged on the shipped model (tests/test_artifacts.py): a small model's file is
        # mostly structure and vocabulary, not weights
        assert check(variant, row, None) == [], (variant, row)
        assert row["latency_ms_p50"] > 0 and row["size_bytes"] > 0
        assert len(row["flipped"]) == round((1 - row["agreement"]) * 2000)
    assert report["variants"]["float32"]["max_abs_prob_diff"] <= 1e-3
    saved = json.loads((converted_model / "parity.json").read_text())
    assert saved["n"] == 2000 and "Verdict" in (converted_model / "parity.md").read_text()
    # the reference in the report is the Keras model's own output, and the float32 file computes it
    from training.data import load_imdb
    from training.saved import classify_texts, load_trained

    reviews = load_imdb("test", limit=8)
    keras_model, tokenizer, _ = load_trained(converted_model)
    keras_probs = [r.probabilities[1] for r in classify_texts(keras_model, tokenizer, reviews.texts)]
    recorded = [s for s in saved["sample"] if s["variant"] == "keras"][:8]
    float32 = TextClassifier(converted_model / "tflite" / "float32.tflite")
    for text, review_id, sample, expected in zip(reviews.texts, reviews.ids, recorded, keras_probs):
        assert sample["id"] == str(review_id)
        assert sample["prob_positive"] == pytest.approx(expected, abs=1e-5)
        assert float32.classify(text).probabilities[1] == pytest.approx(expected, abs=1e-5)


def test_check_names_each_missed_threshold():
    good = {"accuracy": 0.9, "delta_accuracy_pp": -0.2, "agreement": 0.995, "max_abs_prob_diff": 0.05,
            "size_bytes": 25}
    assert check("int8", good, 100) == []
    assert check("int8", dict(good, agreement=0.98), 100) == ["agreement 98.0000% < 98.5%"]
    assert check("int8", dict(good, delta_accuracy_pp=-0.6), 100)[0].startswith("|delta accuracy| 0.60 pp")
    # the promise is 0.3 pp: a regression to -0.45 pp fails, -0.25 pp passes
    assert check("int8", dict(good, delta_accuracy_pp=-0.45), 100) == ["|delta accuracy| 0.45 pp > 0.3 pp"]
    assert check("int8", dict(good, delta_accuracy_pp=-0.25), 100) == []
    assert check("int8", good, 50) == ["size 50.0% of float32 > 30%"]
    assert check("float32", dict(good, agreement=1.0, max_abs_prob_diff=2e-3), None)[0].startswith("max |dp|")
    assert check("float16", dict(good, delta_accuracy_pp=0.2), None)


@pytest.mark.imdb
def test_parity_command_exits_non_zero_when_a_threshold_is_missed(converted_model, monkeypatch, tmp_path):
    import dataclasses

    from convert import variants

    strict = dataclasses.replace(variants.variant("float32"), thresholds={"min_agreement": 1.01})
    monkeypatch.setitem(variants._TABLE, "float32", strict)
    result = CliRunner().invoke(main, ["parity", str(converted_model), "--variants", "float32", "--limit", "20",
                                       "--quiet", "--out", str(tmp_path)])   # never the shared fixture's parity.json
    assert result.exit_code == 1, result.output
    assert "float32: agreement" in result.output


@pytest.mark.imdb
def test_several_lengths_share_weights_in_one_file(converted_model):
    from training.saved import load_trained

    model, _, _ = load_trained(converted_model)
    single = convert_multi_length(model, [384], "float32")
    several = convert_multi_length(model, [128, 192, 320, 384], "float32")
    assert len(several) <= 1.2 * len(single), (len(several), len(single))


@pytest.mark.imdb
def test_an_interrupted_conversion_leaves_no_partial_file(converted_model, tmp_path, monkeypatch):
    import convert.export as export

    real = export.convert_multi_length

    def interrupted(model, lengths, variant, *args):
        if variant == "dynamic":
            raise KeyboardInterrupt
        return real(model, lengths, variant, *args)

    monkeypatch.setattr(export, "convert_multi_length", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert_model_dir(converted_model, ["float32", "dynamic"], out_dir=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float32.tflite"]
    read_bundle((tmp_path / "float32.tflite").read_bytes())  # complete and verified


def test_write_atomic_removes_its_temporary_file_on_failure(tmp_path):
    target = tmp_path / "model.tflite"
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # fails inside the write
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown variant.*int4.*choose from float32, float16, dynamic, int8"):
        parse_variants("float32,int4")
    with pytest.raises(ValueError, match="not a trained model folder: missing model.keras"):
        convert_model_dir(tmp_path, ["float32"], progress=False)
    from edge_runtime.tokenizer import WordPieceTokenizer

    tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good"])
    with pytest.raises(ValueError, match="representative set is empty"):
        representative_reviews([], tokenizer, [128], 128)


def test_a_length_no_review_needs_is_calibrated_with_reviews_cut_and_padded_by_the_one_rule():
    from edge_runtime.tokenizer import WordPieceTokenizer

    tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good"])
    samples = representative_reviews(["good " * 9, "good " * 3], tokenizer, [4, 16, 32], 32, per_length=2)
    assert [len(samples[n]) for n in (4, 16, 32)] == [2, 2, 2]
    for rows in samples[4]:   # no review fits 4 ids: the longest ones, cut keeping their [SEP]
        assert rows.tolist() == [[tokenizer.cls_id, 5, 5, tokenizer.sep_id]]
    for rows in samples[32]:  # none needs 32 either: the same reviews, padded after their [SEP]
        ids = rows[0].tolist()
        assert ids[0] == tokenizer.cls_id and tokenizer.sep_id in ids and ids[-1] == tokenizer.pad_id


@pytest.mark.imdb
def test_an_unwritable_target_is_refused_before_converting(converted_model, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ValueError, match="cannot write to .*choose a writable --out folder"):
        convert_model_dir(converted_model, ["float32"], out_dir=blocker / "tflite", progress=False)


def test_a_model_that_needs_flex_ops_is_refused_with_the_reason():
    import keras
    import tensorflow as tf

    class NeedsFlex(keras.layers.Layer):
        def call(self, x):
            return tf.linalg.expm(tf.reshape(tf.cast(x, tf.float32), [-1, 2, 2]))  # no TFLite kernel

    inputs = keras.Input((4,), dtype="int32", batch_size=1)
    model = keras.Model(inputs, NeedsFlex()(inputs))
    with pytest.raises(ConversionError, match="(?i)flex.*builtin"):
        convert_keras_model(model, 4)


def test_convert_command_rejects_an_unknown_variant(tmp_path):
    result = CliRunner().invoke(main, ["convert", str(tmp_path), "--variants", "int4"])
    assert result.exit_code == 2 and "unknown variant 'int4'; choose from float32" in result.output
