"""The cached decoder computes what the full model computes, with a cache that never grows."""

import numpy as np
import pytest


def lm(pattern: str, num_global: int = 1):
    import keras

    from model.config import TransformerConfig
    from model.patterns import AttentionPattern
    from model.transformer import SparseTransformerLM

    keras.utils.set_random_seed(0)
    config = TransformerConfig(vocab_size=200, max_length=64, d_model=16, num_heads=2, num_layers=2, d_ff=32,
                               dropout=0.0, positional="relative",
                               pattern=AttentionPattern(pattern, block_size=8, window=2, num_global=num_global,
                                                        causal=True))
    model = SparseTransformerLM(config)
    model.build(None)
    for block in model.blocks:   # zero biases (their initial value) would hide a wrong distance
        block.attention.distance_bias.assign(np.random.default_rng(1).normal(0, 1, block.attention.distance_bias.shape))
    return model


@pytest.mark.parametrize("pattern,num_global", [("global", 1), ("global", 2), ("local", 1)])
@pytest.mark.parametrize("prompt", [1, 13, 40])
def test_prefill_then_steps_give_the_full_models_logits_past_the_training_length(pattern, num_global, prompt):
    import tensorflow as tf

    from model.decoder import CachedDecoder

    model = lm(pattern, num_global)
    ids = np.random.default_rng(2).integers(1, 200, (1, 150)).astype(np.int32)   # 150 > max_length 64
    full = np.asarray(model(ids))[0]
    decoder = CachedDecoder(model)
    padded = np.zeros((1, 40), np.int32)
    padded[0, :prompt] = ids[0, :prompt]
    logits, cache = decoder.prefill(tf.constant(padded), tf.constant([prompt]))
    worst = np.abs(np.asarray(logits)[0] - full[prompt - 1]).max()
    shapes = [tuple(t.shape) for t in cache]
    for t in range(prompt, 150):
        logits, cache = decoder.step(tf.constant(ids[0, t:t + 1]), tf.constant([t]), *cache)
        worst = max(worst, np.abs(np.asarray(logits)[0] - full[t]).max())
        assert [tuple(x.shape) for x in cache] == shapes            # the cache never grows
    assert worst < 1e-5
    sinks = 8 * num_global if pattern == "global" else 0
    assert shapes[0] == (2, 2, sinks + 16, 8) and shapes[2] == (sinks + 16,)
    # the last slots hold the newest tokens and the sinks the first ones
    positions = np.asarray(cache[2])
    assert sorted(positions.tolist()) == list(range(sinks)) + list(range(150 - 16, 150))


def test_the_decoder_refuses_patterns_whose_cache_would_grow():
    from model.decoder import CachedDecoder

    model = lm("global")
    model.config.pattern = type(model.config.pattern)("strided", block_size=8, causal=True)
    with pytest.raises(ValueError, match="causal local or global"):
        CachedDecoder(model)
