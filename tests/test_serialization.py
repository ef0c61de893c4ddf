"""Configs and models survive a round trip: JSON, get_config/from_config, .keras with safe_mode."""

import json

import keras
import numpy as np
import pytest

from model.attention import SparseSelfAttention
from model.config import TransformerConfig
from model.patterns import AttentionPattern
from model.transformer import EncoderBlock, SparseTransformerClassifier, SparseTransformerLM
from training.files import write_json_atomic


def config(**kw):
    values = dict(vocab_size=40, max_length=48, d_model=16, num_heads=2, num_layers=2, d_ff=24,
                  dropout=0.1, pattern=AttentionPattern("bigbird", block_size=8, num_random=1, seed=5))
    values.update(kw)
    return TransformerConfig(**values)


def test_config_json_round_trip(tmp_path):
    c = config(positional="sinusoidal")
    write_json_atomic(tmp_path / "config.json", c.to_dict())
    assert TransformerConfig.from_dict(json.loads((tmp_path / "config.json").read_text())) == c
    assert json.loads((tmp_path / "config.json").read_text())["pattern"]["name"] == "bigbird"
    assert not list(tmp_path.glob(".*tmp"))  # written through a temporary file, nothing left over


@pytest.mark.parametrize("bad, message", [
    ({"vocab_size": 40, "hidden": 3}, "unknown model config keys \\['hidden'\\]"),
    ({"d_model": 10, "num_heads": 4}, "d_model 10 must be divisible by num_heads 4"),
    ({"num_layers": 0}, "num_layers must be a positive integer, got 0"),
    ({"positional": "rotary"}, "unknown positional 'rotary'; choose one of learned, sinusoidal"),
    ({"max_length": 16, "pattern": {"name": "local", "block_size": 32}},
     "block_size 32 is longer than the sequence \\(16 tokens\\)"),
])
def test_impossible_configs_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        TransformerConfig.from_dict(bad)


def test_layer_get_config_returns_constructor_arguments():
    layer = SparseSelfAttention(16, 2, AttentionPattern("strided", block_size=8, stride=3), name="attn")
    clone = SparseSelfAttention.from_config(layer.get_config())
    assert clone.pattern == layer.pattern and clone.num_heads == 2 and clone.name == "attn"
    block = EncoderBlock(16, 2, 32, {"name": "local", "block_size": 8}, dropout=0.2)
    assert EncoderBlock.from_config(block.get_config()).get_config() == block.get_config()


@pytest.mark.parametrize("cls, causal", [(SparseTransformerClassifier, False), (SparseTransformerLM, True)])
@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_keras_file_round_trip_with_safe_mode(tmp_path, cls, causal, positional):
    c = config(positional=positional,
               pattern=AttentionPattern("local" if causal else "bigbird", block_size=8, causal=causal))
    model = cls(c)
    ids = np.random.default_rng(0).integers(1, 40, size=(2, 30)).astype(np.int32)
    ids[1, 20:] = 0
    expected = model(ids).numpy()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert type(loaded) is cls and loaded.config == c
    np.testing.assert_array_equal(loaded(ids).numpy(), expected)


def test_classifier_outputs_probabilities_and_ignores_padding():
    model = SparseTransformerClassifier(config(dropout=0.0))
    ids = np.random.default_rng(1).integers(1, 40, size=(1, 20)).astype(np.int32)
    padded = np.concatenate([ids, np.zeros((1, 12), np.int32)], axis=1)
    p = model(ids).numpy()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(model(padded).numpy(), p, atol=1e-6)


def test_language_model_is_causal_and_needs_a_causal_pattern():
    model = SparseTransformerLM(config(dropout=0.0, pattern=AttentionPattern("strided", block_size=8, causal=True)))
    ids = np.random.default_rng(2).integers(1, 40, size=(1, 30)).astype(np.int32)
    changed = ids.copy()
    changed[0, 20:] = 1
    np.testing.assert_allclose(model(ids).numpy()[0, :20], model(changed).numpy()[0, :20], atol=1e-5)
    with pytest.raises(ValueError, match="needs a causal pattern"):
        SparseTransformerLM(config())


def test_too_long_input_is_a_clear_error():
    with pytest.raises(ValueError, match="input has 60 tokens but the model's max_length is 48"):
        SparseTransformerClassifier(config())(np.ones((1, 60), np.int32))


def test_the_registered_keras_names_that_shipped_files_carry_did_not_move_with_the_modules():
    """A .keras file names each class by its registered name; moving a class to another module must keep it."""
    from model.transformer import FeedForward, TokenAndPositionEmbedding
    from training.ensemble_model import SparseTransformerEnsemble
    from training.hybrid import HashedNgrams, HybridClassifier
    from training.pretrain import SparseTransformerMLM

    classes = [SparseSelfAttention, TokenAndPositionEmbedding, FeedForward, EncoderBlock, SparseTransformerClassifier,
               SparseTransformerLM, SparseTransformerEnsemble, HashedNgrams, HybridClassifier, SparseTransformerMLM]
    for cls in classes:
        assert keras.saving.get_registered_name(cls) == f"sparse_edge>{cls.__name__}"
        assert keras.saving.get_registered_object(f"sparse_edge>{cls.__name__}") is cls
