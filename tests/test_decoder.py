"""The cached decoder computes what the full model computes, with a cache that never grows."""

from pathlib import Path

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
    shapes = {name: tuple(t.shape) for name, t in cache.items()}
    for t in range(prompt, 150):
        logits, cache = decoder.step(tf.constant(ids[0, t:t + 1]), tf.constant([t]), cache)
        worst = max(worst, np.abs(np.asarray(logits)[0] - full[t]).max())
        assert {name: tuple(x.shape) for name, x in cache.items()} == shapes      # the cache never grows
    assert worst < 1e-5
    sinks = 8 * num_global if pattern == "global" else 0
    assert shapes == {"keys_0": (2, sinks + 16, 8), "keys_1": (2, sinks + 16, 8), "values_0": (2, 8, sinks + 16),
                      "values_1": (2, 8, sinks + 16), "positions": (sinks + 16,)}
    # the last slots hold the newest tokens and the sinks the first ones
    positions = np.asarray(cache["positions"])
    assert sorted(positions.tolist()) == list(range(sinks)) + list(range(150 - 16, 150))


def test_the_decoder_refuses_patterns_whose_cache_would_grow():
    from model.decoder import CachedDecoder

    model = lm("global")
    model.config.pattern = type(model.config.pattern)("strided", block_size=8, causal=True)
    with pytest.raises(ValueError, match="causal local or global"):
        CachedDecoder(model)


PROMPTS = ["", "This movie was", "I expected nothing and", "The acting, the music and the story " * 12,
           "Worst film ever. " * 40]


@pytest.mark.imdb
def test_greedy_tokens_from_the_cache_equal_the_window_everywhere(cached_lm):
    from edge_runtime.generator import TextGenerator
    from training.generate import keras_generate_ids
    from training.saved import ModelFolder

    folder, files = cached_lm
    generator = TextGenerator(files["float32"])
    assert generator.decoder["prefill_length"] == 64 and generator.cache_bytes() == 4 * (2 * 2 * 2 * 24 * 16 + 24)
    assert sorted(generator.decoder["cache"]) == ["keys_0", "keys_1", "positions", "values_0", "values_1"]
    model, tokenizer = ModelFolder(folder).load_keras(), ModelFolder(folder).tokenizer()
    for prompt in PROMPTS:   # an empty prompt, short ones, and two longer than the prefill and the cache
        n = len(generator.prompt_ids(prompt))
        new = min(40, 64 - n) if n < 64 else 40
        cached = generator.generate(prompt, new, temperature=0, repetition_penalty=1, cached=True).token_ids
        assert len(cached) > 0
        if n + new <= 64:   # the window and the cache see the same text
            window = generator.generate(prompt, new, temperature=0, repetition_penalty=1, cached=False).token_ids
            assert cached == window, prompt
            keras_window = keras_generate_ids(model, tokenizer, prompt, new, temperature=0, repetition_penalty=1)
            assert keras_window[: len(cached)] == cached, prompt
        keras_cached = keras_generate_ids(model, tokenizer, prompt, new, temperature=0, repetition_penalty=1,
                                          cached=True, prefill_length=64)
        assert keras_cached[: len(cached)] == cached, prompt


@pytest.mark.imdb
def test_cached_logits_match_the_window_in_every_variant(cached_lm):
    """float32 and dynamic: the same numbers. int8: each signature was calibrated on its own inputs, so the
    two paths round differently; the token they rank first is the same, and the logits stay close."""
    from edge_runtime.generator import TextGenerator

    _, files = cached_lm
    worst = {}
    for variant, path in files.items():
        generator = TextGenerator(path)
        ids = generator.prompt_ids("A quiet, beautiful film about two brothers and a farm")
        window, cached = generator.model(cached=False), generator.model(cached=True)
        pairs = [(window.start(ids), cached.start(ids))]
        pairs += [(window.advance(token), cached.advance(token)) for token in ids[1:20]]
        worst[variant] = max(float(np.abs(a - b).max()) for a, b in pairs)
        mean = np.mean([np.abs(a - b).mean() for a, b in pairs])
        if variant == "int8":
            assert all(int(np.argmax(a)) == int(np.argmax(b)) for a, b in pairs) and mean < 0.5, (worst, mean)
        else:
            assert worst[variant] < 1e-3, worst


@pytest.mark.imdb
def test_a_prompt_of_a_megabyte_costs_a_bounded_number_of_steps_and_skipping_its_middle_changes_nothing(cached_lm):
    import time

    from edge_runtime.generator import TextGenerator, cache_horizon

    _, files = cached_lm
    generator = TextGenerator(files["float32"])
    horizon = cache_horizon(generator.decoder["ring"], 2)
    ids = generator.prompt_ids("The plot is thin but the actors are wonderful and the music stays with you. " * 20)
    assert len(ids) > 64 + horizon + 50
    every = generator.model(cached=True)
    every.horizon = None                                  # feed every token
    a, b = every.start(ids), generator.model(cached=True).start(ids)
    np.testing.assert_allclose(a, b, atol=1e-4)
    start = time.perf_counter()
    result = generator.generate("word " * 200_000, 5, temperature=0)   # 1 MB of prompt
    assert len(result.token_ids) == 5 and not result.slid and time.perf_counter() - start < 60


@pytest.mark.imdb
def test_parity_of_a_language_model_is_each_files_perplexity_against_keras(cached_lm, tmp_path):
    import json
    import math
    import subprocess
    import sys

    folder, _ = cached_lm
    sparse_edge = str(Path(sys.executable).parent / "sparse-edge")
    result = subprocess.run([sparse_edge, "parity", str(folder), "--limit", "4", "--out", str(tmp_path), "--quiet"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "parity.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert report["reviews"] == 4 and report["tokens"] > 100
    # the Keras side reads reviews as training judged them: on all held-out reviews it is the recorded figure
    assert metrics["val_reading"] == "each held-out review whole, from its start"
    assert report["variants"]["float32"]["ratio_to_keras"] == pytest.approx(1.0, abs=1e-4)
    assert 1.0 - 0.02 < report["variants"]["dynamic"]["ratio_to_keras"] < 1.02
    assert math.isfinite(report["keras"]["perplexity"]) and report["passed"]
