"""The sparse layer's graph holds no n x n tensor: its largest tensor grows like n·k."""

import numpy as np
import pytest
import tensorflow as tf

from model.attention import SparseSelfAttention
from model.patterns import AttentionPattern


def largest_tensor(name, n, causal=False):
    layer = SparseSelfAttention(32, 2, AttentionPattern(name, block_size=32, window=3, causal=causal))
    fn = tf.function(lambda x, m: layer(x, m))
    graph = fn.get_concrete_function(tf.TensorSpec([1, n, 32]), tf.TensorSpec([1, n])).graph
    sizes = [int(np.prod(t.shape.as_list())) for op in graph.get_operations() for t in op.outputs
             if t.shape.rank is not None and None not in t.shape.as_list()]
    return max(sizes)


@pytest.mark.parametrize("name", ["local", "bigbird", "global", "logsparse", "strided"])
def test_no_intermediate_is_as_large_as_the_dense_scores(name):
    n = 8192  # 256 blocks of 32
    dense_scores = 2 * n * n  # heads x n x n
    assert largest_tensor(name, n) < dense_scores / 5


def test_local_memory_grows_linearly_while_dense_grows_quadratically():
    assert largest_tensor("local", 4096) == 2 * largest_tensor("local", 2048)
    assert largest_tensor("dense", 4096) == 4 * largest_tensor("dense", 2048)
