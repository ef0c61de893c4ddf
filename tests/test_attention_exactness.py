"""The block-sparse layer equals dense attention with the equivalent n x n mask, and so do gradients."""

import numpy as np
import pytest
import tensorflow as tf

from model.attention import SparseSelfAttention
from model.patterns import PATTERNS, AttentionPattern
from tests.reference import dense_reference_attention

# 45 tokens with 8-token blocks: the last block is padded internally; review 1 is padded from 29.
N, D, HEADS = 45, 16, 2


def make_layer(name, causal):
    pattern = AttentionPattern(name, block_size=8, window=3, stride=2, num_global=1, num_random=1,
                               seed=3, causal=causal)
    layer = SparseSelfAttention(D, HEADS, pattern)
    layer.build((None, None, D))
    return layer


def inputs():
    x = tf.constant(np.random.default_rng(0).normal(size=(2, N, D)).astype(np.float32))
    mask = np.ones((2, N), np.float32)
    mask[1, 29:] = 0
    return x, tf.constant(mask)


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("name", PATTERNS)
def test_output_and_gradients_equal_dense_reference(name, causal):
    layer = make_layer(name, causal)
    x, mask = inputs()
    upstream = tf.constant(np.random.default_rng(1).normal(size=(2, N, D)).astype(np.float32))
    results = []
    for attend in (lambda: layer(x, mask), lambda: dense_reference_attention(layer, x, mask)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = attend()
            loss = tf.reduce_sum(out * upstream)
        grads = tape.gradient(loss, [x] + layer.trainable_variables)
        results.append((out.numpy(), [g.numpy() for g in grads]))
    (sparse_out, sparse_grads), (dense_out, dense_grads) = results
    np.testing.assert_allclose(sparse_out, dense_out, atol=1e-5, rtol=0)
    assert len(sparse_grads) == 1 + 8  # input + 4 dense layers x (kernel, bias)
    for got, want in zip(sparse_grads, dense_grads):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    # the masks matter: padded positions output exactly zero
    assert not sparse_out[1, 29:].any()


def test_a_sequence_of_whole_blocks_needs_no_internal_padding():
    layer = make_layer("bigbird", False)
    x = tf.random.normal([1, 32, D])
    mask = tf.ones([1, 32])
    np.testing.assert_allclose(layer(x, mask), dense_reference_attention(layer, x, mask), atol=1e-5)


def test_unknown_length_at_trace_time_is_a_clear_error():
    layer = make_layer("local", False)
    fn = tf.function(lambda x: layer(x), input_signature=[tf.TensorSpec([1, None, D])])
    with pytest.raises(ValueError, match="needs a sequence length known at trace time"):
        fn.get_concrete_function()


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="d_model 10 is not divisible by num_heads 4"):
        SparseSelfAttention(10, 4, AttentionPattern("local"))
