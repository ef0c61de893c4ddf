"""``sparse-edge ensemble``: trained classifiers averaged into one model that converts like any other."""

import csv
import dataclasses
import json

import numpy as np
import pytest

from training.ensemble import total_train_seconds
from model.patterns import AttentionPattern
from tests.reference import remeasured_metrics
from tests.test_training import tiny_config
from tests.tolerances import assert_close_and_deciding, assert_close_and_ordered



@pytest.fixture(scope="module")
def members(tmp_path_factory, vocab):  # noqa: F811
    """Two tiny classifiers that differ in pattern and seed, on one vocabulary and validation split."""
    from training.train import train

    root = tmp_path_factory.mktemp("members")
    local = tiny_config()
    bigbird = tiny_config(model=dataclasses.replace(
        local.model, pattern=AttentionPattern("bigbird", block_size=32, window=3, num_random=1)))
    train(local, root / "local", vocab_path=vocab, progress=False)
    # another seed (initialisation, batch order), the same validation split
    train(dataclasses.replace(bigbird, seed=1, split_seed=0), root / "bigbird", vocab_path=vocab, progress=False)
    return [root / "local", root / "bigbird"]


@pytest.mark.imdb
def test_ensemble_averages_its_members_and_writes_a_model_folder(tmp_path, members):
    from training.ensemble import build_ensemble
    from training.saved import classify_texts, load_trained

    metrics = build_ensemble(members, tmp_path / "ens", progress=False)
    for name in ("model.keras", "config.json", "train_config.json", "vocab.txt", "log.csv", "metrics.json"):
        assert (tmp_path / "ens" / name).exists(), name
    saved = json.loads((tmp_path / "ens" / "metrics.json").read_text())
    assert saved["n"] == 64 and saved["val_reviews"] == 16   # 10% of the 160 training reviews
    again = remeasured_metrics(tmp_path / "ens", 64)   # the saved ensemble, reloaded, review by review
    assert saved["accuracy"] == pytest.approx(again["accuracy"])
    assert saved["confusion_matrix"]["rows_true_cols_predicted"] == again["confusion_matrix"]
    own = [json.loads((m / "metrics.json").read_text()) for m in members]
    assert [m["accuracy"] for m in saved["members"]] == [o["accuracy"] for o in own]
    assert saved["train_seconds"] == pytest.approx(sum(o["train_seconds"] for o in own), abs=0.2)
    assert metrics["accuracy"] == saved["accuracy"]
    rows = list(csv.DictReader(open(tmp_path / "ens" / "log.csv")))
    assert [(r["member"], r["epoch"]) for r in rows] == [("1", "1"), ("2", "1")]

    texts = ["A wonderful, moving film.", "Dull and far too long. " * 30, ""]
    ensemble, tokenizer, _ = load_trained(tmp_path / "ens")
    averaged = np.mean([[p.probabilities for p in classify_texts(load_trained(m)[0], tokenizer, texts)]
                        for m in members], axis=0)
    combined = [p.probabilities for p in classify_texts(ensemble, tokenizer, texts)]
    np.testing.assert_allclose(combined, averaged, atol=1e-6)


@pytest.mark.imdb
def test_an_ensemble_converts_to_builtin_tflite_and_runs_on_the_edge(tmp_path, members):
    from convert.export import convert_model_dir
    from edge_runtime import TextClassifier
    from training.ensemble import build_ensemble
    from training.saved import classify_texts, load_trained
    from convert.tflite import op_names
    from edge_runtime.bundle import read_bundle

    build_ensemble(members, tmp_path / "ens", progress=False)
    written = convert_model_dir(tmp_path / "ens", ["float32", "int8"], calibration_reviews=4, progress=False)
    texts = ["A wonderful, moving film.", "Dull and far too long. " * 30, "Awful. The worst film I have ever seen.",
             "Brilliant, beautiful and moving: a masterpiece. I loved every minute of it."]
    ensemble, tokenizer, _ = load_trained(tmp_path / "ens")
    keras_probs = [p.probabilities for p in classify_texts(ensemble, tokenizer, texts)]
    for variant, path in written.items():
        ops = op_names(read_bundle(path.read_bytes()).flatbuffer)
        assert "FULLY_CONNECTED" in ops and not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], variant
        device = TextClassifier(path)
        probs = [device.classify(t).probabilities for t in texts]
        if variant == "float32":
            assert_close_and_deciding(probs, keras_probs, 1e-5, variant)
        else:   # two members of one epoch on 160 reviews answer within 0.08 of each other; int8 moved them by up to
            # 0.03 when measured (2026-12-07), so what it must keep is their order
            assert_close_and_ordered(probs, keras_probs, 0.04, 0.02, variant)


@pytest.mark.imdb
def test_each_member_reads_its_own_token_table_in_the_int8_file(tmp_path, members):
    """int8 files share one copy of each embedding table between signatures; with two members
    of one shape, each member's GATHER must still read its own table."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from convert.export import convert_model_dir
    from edge_runtime.bundle import read_bundle
    from training.ensemble import build_ensemble
    from training.saved import load_trained

    build_ensemble(members, tmp_path / "ens", progress=False)
    [path] = convert_model_dir(tmp_path / "ens", ["int8"], calibration_reviews=4, progress=False).values()
    ensemble, _, _ = load_trained(tmp_path / "ens")
    floats = [np.asarray(m.embedding.tokens) for m in ensemble.members]
    parsed = flatbuffer_utils.convert_bytearray_to_object(bytearray(read_bundle(path.read_bytes()).flatbuffer))
    gather = {i for i, code in enumerate(parsed.operatorCodes)
              if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.GATHER}
    buffers = {}
    for subgraph in parsed.subgraphs:
        for op in subgraph.operators:
            table = subgraph.tensors[op.inputs[0]]
            if op.opcodeIndex in gather and tuple(table.shape) == floats[0].shape:
                q = np.asarray(parsed.buffers[table.buffer].data, np.uint8).view(np.int8).astype(np.float64)
                values = (q - table.quantization.zeroPoint[0]) * table.quantization.scale[0]
                errors = [np.abs(values - f.ravel()).max() for f in floats]
                buffers.setdefault(int(np.argmin(errors)), set()).add(table.buffer)
                assert min(errors) <= table.quantization.scale[0] * 0.51, errors
    assert sorted(buffers) == [0, 1] and all(len(b) == 1 for b in buffers.values()), buffers


@pytest.mark.imdb
def test_attention_view_of_an_ensemble_shows_its_first_member(tmp_path, members):
    from training.ensemble import build_ensemble
    from sparse_edge.reports.inspect_attention import attention_map
    from training.saved import load_trained

    build_ensemble(members, tmp_path / "ens", progress=False)
    ensemble, tokenizer, _ = load_trained(tmp_path / "ens")
    first, _, _ = load_trained(members[0])
    image, tokens = attention_map(ensemble, tokenizer, "A wonderful film.", 0, 1)
    expected, _ = attention_map(first, tokenizer, "A wonderful film.", 0, 1)
    np.testing.assert_allclose(image, expected, atol=1e-6)
    assert len(tokens) == image.shape[0]


@pytest.mark.imdb
def test_members_that_cannot_be_averaged_are_refused(tmp_path, members, vocab):  # noqa: F811
    import shutil

    from click.testing import CliRunner

    from training.files import write_json_atomic
    from training.train_config import TrainConfig
    from sparse_edge.cli import main

    def refused(args, message):
        result = CliRunner().invoke(main, ["ensemble", *map(str, args)])
        assert result.exit_code == 2 and message in result.output, result.output

    refused([members[0], "--out", tmp_path / "one"], "needs at least two member folders")
    refused([*members, "--out", members[0]], "is one of the members")
    other_vocab = tmp_path / "other-vocab"
    shutil.copytree(members[1], other_vocab)
    tokens = (other_vocab / "vocab.txt").read_text().splitlines()
    tokens[-1], tokens[-2] = tokens[-2], tokens[-1]    # same size, another order
    (other_vocab / "vocab.txt").write_text("\n".join(tokens) + "\n")
    refused([members[0], other_vocab, "--out", tmp_path / "x"], "vocab.txt differs from")
    other_split = tmp_path / "other-split"
    shutil.copytree(members[1], other_split)
    config = TrainConfig.load(other_split / "train_config.json")
    write_json_atomic(other_split / "train_config.json", dataclasses.replace(config, split_seed=7).to_dict())
    refused([members[0], other_split, "--out", tmp_path / "x"], "another validation split")
    result = CliRunner().invoke(main, ["ensemble", *map(str, members), "--out", str(tmp_path / "ens"), "--quiet"])
    assert result.exit_code == 0, result.output
    refused([tmp_path / "ens", members[0], "--out", tmp_path / "y"], "not a single classifier")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists() and not (tmp_path / "one").exists()


@pytest.mark.imdb
def test_weight_averaging_gives_one_classifier_with_the_mean_of_the_members_weights(tmp_path, members):
    from training.ensemble import build_ensemble
    from training.saved import load_trained
    from training.train import train
    from model.transformer import SparseTransformerClassifier

    # another seed of the first member: the same model config, the same validation split
    again = tmp_path / "local-seed-2"
    first_config = load_trained(members[0])[2]
    train(dataclasses.replace(first_config, seed=2, split_seed=first_config.validation_seed), again,
          vocab_path=members[0] / "vocab.txt", progress=False)
    metrics = build_ensemble([members[0], again], tmp_path / "soup", progress=False, average="weights")
    soup = load_trained(tmp_path / "soup")[0]
    assert type(soup) is SparseTransformerClassifier and metrics["average"] == "weights"
    weights = [load_trained(m)[0].get_weights() for m in (members[0], again)]
    assert len(soup.get_weights()) == len(weights[0])
    for got, a, b in zip(soup.get_weights(), *weights):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6, atol=1e-7)
    assert not np.allclose(weights[0][0], weights[1][0])   # the members really differ

    with pytest.raises(ValueError, match="another model config"):   # local and bigbird
        build_ensemble(members, tmp_path / "mixed", progress=False, average="weights")
    with pytest.raises(ValueError, match="average must be"):
        build_ensemble(members, tmp_path / "mixed", progress=False, average="median")
    assert not (tmp_path / "mixed").exists()


def test_a_language_model_shared_by_members_counts_once():
    lm = {"init_from": "artifacts/imdb-lm", "pretrain_seconds": 1000.0}
    members = [{"train_seconds": 1300.0, **lm}, {"train_seconds": 1350.0, **lm}, {"train_seconds": 350.0}]
    assert total_train_seconds(members) == 1300.0 + 350.0 + 350.0
