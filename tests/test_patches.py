"""Patches of ids: every ``patch`` neighbouring ids are one attention position (their embeddings side by side)."""

import numpy as np
import pytest
import tensorflow as tf

from model.config import TransformerConfig
from model.transformer import SparseTransformerClassifier
from tests.tolerances import assert_close_and_deciding

PATCHED = {"vocab_size": 261, "max_length": 512, "d_model": 32, "num_heads": 2, "num_layers": 1, "d_ff": 32,
           "dropout": 0.0, "positional": "conv", "pooling": "mean_max", "patch": 4,
           "pattern": {"name": "local", "block_size": 16, "window": 3}}


def test_input_lengths_are_whole_blocks_of_patches():
    c = TransformerConfig.from_dict(PATCHED)
    assert c.length_unit == 64
    assert all(n % 64 == 0 for n in c.bucket_lengths + c.device_lengths()) and c.bucket_lengths[-1] == 512
    with pytest.raises(ValueError, match="patch 3 must divide d_model 32 and max_length 512"):
        TransformerConfig.from_dict({**PATCHED, "patch": 3})
    with pytest.raises(ValueError, match=r"block_size 16 is longer than the sequence \(8 tokens\)"):
        TransformerConfig.from_dict({**PATCHED, "max_length": 32})


@pytest.mark.parametrize("positional", ["conv", "learned", "sinusoidal"])
def test_a_position_is_its_ids_embeddings_side_by_side(positional):
    c = TransformerConfig.from_dict({**PATCHED, "positional": positional})
    model = SparseTransformerClassifier(c)
    model.build(None)
    embedding = model.embedding
    ids = np.random.default_rng(0).integers(5, 261, (2, 128)).astype(np.int32)
    table = embedding.tokens.numpy()
    assert table.shape == (261, 8)
    side_by_side = table[ids].reshape(2, 32, 32)
    got = embedding(tf.constant(ids)).numpy()
    assert got.shape == (2, 32, 32)
    if positional == "conv":
        embedding.positions.assign(tf.zeros_like(embedding.positions))
        np.testing.assert_allclose(embedding(tf.constant(ids)).numpy(), side_by_side, atol=1e-6)
    else:   # a position's row is added to the four ids' embeddings of that position
        np.testing.assert_allclose(got - side_by_side, np.broadcast_to(got[:1] - side_by_side[:1], got.shape),
                                   atol=1e-6)
        assert embedding.positions.shape[0] == {"learned": 128, "sinusoidal": 512}[positional]


def test_padding_is_invisible_whatever_the_patch_boundary():
    """A review whose end falls inside a patch scores the same at every padded length (past its end the
    position filter sees [PAD] embeddings, as in training, so lengths are compared with padding after)."""
    model = SparseTransformerClassifier(TransformerConfig.from_dict(PATCHED))
    model.build(None)
    rng = np.random.default_rng(1)
    for length in (61, 62, 63, 64, 130):
        ids = rng.integers(5, 261, length).astype(np.int32)
        outputs = []
        for padded in (192, 256, 512):
            row = np.zeros((1, padded), np.int32)
            row[0, :length] = ids
            outputs.append(model(tf.constant(row), training=False).numpy())
        np.testing.assert_allclose(outputs[1], outputs[2], atol=1e-5, err_msg=str(length))
        np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5, err_msg=str(length))
        assert length != 64 or not np.allclose(outputs[0], previous, atol=1e-3)   # one id more is seen
        previous = outputs[0]
    other = rng.integers(5, 261, (1, 192)).astype(np.int32)
    assert not np.allclose(model(tf.constant(other)).numpy(), outputs[0], atol=1e-3)


def test_uses_that_need_a_position_per_id_are_refused():
    from training.pretrain import SparseTransformerMLM
    from model.transformer import SparseTransformerLM

    causal = {**PATCHED, "pattern": {**PATCHED["pattern"], "causal": True}}
    with pytest.raises(ValueError, match="a language model predicts every id, so it needs one position per id"):
        SparseTransformerLM(TransformerConfig.from_dict(causal))
    with pytest.raises(ValueError, match="masked-id pretraining predicts every id.*set \"patch\": 1"):
        SparseTransformerMLM(TransformerConfig.from_dict(PATCHED))
    from training.train_config import TrainConfig

    with pytest.raises(ValueError, match="masked-id pretraining predicts every id"):
        TrainConfig.from_dict({"model": PATCHED, "tokenizer": "bytes", "pretrain_steps": 10})


@pytest.mark.imdb
def test_a_patched_byte_model_trains_converts_and_reads_long_documents_on_the_device(tmp_path):
    from convert.export import convert_model_dir
    from edge_runtime import TextClassifier
    from training.saved import ModelFolder, classify_texts
    from training.train import train
    from training.train_config import TrainConfig

    config = {"model": {**PATCHED, "max_length": 256, "dropout": 0.1}, "tokenizer": "bytes", "epochs": 1,
              "batch_tokens": 2048, "max_batch": 16, "train_limit": 240, "test_limit": 64}
    train(TrainConfig.from_dict(config), tmp_path / "run", progress=False)
    convert_model_dir(tmp_path / "run", ["float32", "dynamic"], out_dir=tmp_path, progress=False)
    model, tokenizer, _ = ModelFolder(tmp_path / "run").load()
    texts = ["A wonderful film, très émouvant.", "Dull.\x00\x1b", "x" * 601, "映画は面白かった 😀"]
    keras = np.array([r.probabilities for r in classify_texts(model, tokenizer, texts)])
    for variant, tolerance in (("float32", 1e-5), ("dynamic", 0.05)):
        classifier = TextClassifier(tmp_path / f"{variant}.tflite", max_length=256)
        assert classifier.lengths == [128, 192, 256, 384, 576, 896, 1024]   # whole patch blocks of 64 ids
        assert_close_and_deciding([r.probabilities for r in classifier.classify_batch(texts)], keras, tolerance,
                                  variant)
    whole = TextClassifier(tmp_path / "float32.tflite").classify("x" * 601)   # 603 ids: the 896 signature
    ids, _, _ = TextClassifier(tmp_path / "float32.tflite").encode("x" * 601)
    assert not whole.truncated and ids.shape == (1, 896)
    np.testing.assert_allclose(whole.probabilities, model(ids, training=False).numpy()[0], atol=1e-5)
