"""No graph of the sparse layer holds an n x n tensor: its largest tensor is bounded by n·k.

k is what the pattern's gather table says a query reads: ``keys_per_query`` key blocks, plus,
for a pattern with global query blocks, those rows computed against all n keys (``global_rows``).
The bound is n · (keys_per_query + global_rows) · max(block_size · heads, d_model): the block
scores (heads x n x k·bs) and the gathered keys (n x k x d_model) are its two largest terms. It is
checked for every pattern, bidirectional and causal, in the forward graph, in the gradient graph
(what training runs) and in the converted TFLite file (what a device runs); dense attention
exceeds it by construction, which shows the check can fail.
"""

import numpy as np
import pytest
import tensorflow as tf

from model.attention import SparseSelfAttention
from model.patterns import PATTERNS, AttentionPattern, block_layout

D_MODEL, HEADS, BLOCK = 32, 2, 32
SPARSE = [p for p in PATTERNS if p != "dense"]


def pattern(name: str, causal: bool) -> AttentionPattern:
    return AttentionPattern(name, block_size=BLOCK, window=3, causal=causal)


def budget(name: str, n: int, causal: bool) -> int:
    layout = block_layout(pattern(name, causal), n // BLOCK)
    return n * (layout.keys_per_query + layout.global_rows) * max(BLOCK * HEADS, D_MODEL)


def _sizes(graph) -> list[int]:
    return [int(np.prod(t.shape.as_list())) for op in graph.get_operations() for t in op.outputs
            if t.shape.rank is not None and None not in t.shape.as_list()]


def largest_tensor(name: str, n: int, causal: bool = False, gradient: bool = False) -> int:
    layer = SparseSelfAttention(D_MODEL, HEADS, pattern(name, causal))
    layer.build((1, n, D_MODEL))

    def forward(x, m):
        return layer(x, m)

    def backward(x, m):   # what a training step runs: the loss's gradients for the input and every weight
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, m))
        return tape.gradient(loss, [x, *layer.trainable_variables])

    fn = tf.function(backward if gradient else forward)
    return max(_sizes(fn.get_concrete_function(tf.TensorSpec([1, n, D_MODEL]), tf.TensorSpec([1, n])).graph))


def largest_tflite_tensor(name: str, n: int, causal: bool = False) -> int:
    from ai_edge_litert.interpreter import Interpreter

    layer = SparseSelfAttention(D_MODEL, HEADS, pattern(name, causal))
    fn = tf.function(lambda x, m: layer(x, m), input_signature=[tf.TensorSpec([1, n, D_MODEL]), tf.TensorSpec([1, n])])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], layer)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    return max(int(np.prod(t["shape"])) for t in interpreter.get_tensor_details())


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("name", SPARSE)
def test_the_forward_graph_stays_within_n_k(name, causal):
    n = 8192  # 256 blocks of 32
    assert largest_tensor(name, n, causal) <= budget(name, n, causal)
    assert largest_tensor(name, n, causal) < HEADS * n * n / 5   # and far from the dense scores


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("name", SPARSE)
def test_the_gradient_graph_stays_within_n_k(name, causal):
    n = 4096
    assert largest_tensor(name, n, causal, gradient=True) <= budget(name, n, causal)


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("name", SPARSE)
def test_the_tflite_graph_stays_within_n_k(name, causal):
    n = 2048
    assert largest_tflite_tensor(name, n, causal) <= budget(name, n, causal)


def test_dense_attention_breaks_the_bound_so_the_check_can_fail():
    n = 2048
    sparse_k = budget("local", n, False)
    assert largest_tensor("dense", n) > 4 * sparse_k
    assert largest_tensor("dense", n, gradient=True) > 4 * sparse_k
    assert largest_tflite_tensor("dense", n) > 4 * sparse_k


def test_local_memory_grows_linearly_while_dense_grows_quadratically():
    assert largest_tensor("local", 4096) == 2 * largest_tensor("local", 2048)
    assert largest_tensor("local", 4096, gradient=True) == 2 * largest_tensor("local", 2048, gradient=True)
    assert largest_tensor("dense", 4096) == 4 * largest_tensor("dense", 2048)
