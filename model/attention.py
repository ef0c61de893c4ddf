"""Block-sparse self-attention: gather the attended key blocks, never the n x n matrix.

Shapes use B batch, H heads, n tokens (a multiple of the block size ``bs``), nb = n / bs
blocks, dh head width, k key blocks per query block (``BlockLayout.keys_per_query``).

Dense attention computes scores (B, H, n, n). Here each query block multiplies only with the
k key blocks its layout lists, so the scores are (B, H, nb, bs, k * bs) = n·k·bs per head:
memory and FLOPs grow like n·k. The few global query blocks of ``global``/``bigbird``
(g blocks that see everything) are computed apart, g·bs x n, which is linear in n too. Every op
below (reshape, transpose, gather on one axis with a
constant table, batch matmul, add, softmax) is a TFLite BUILTIN op, so the layer converts for
microcontroller-class runtimes without Flex ops.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from model.patterns import AttentionPattern, BlockLayout, block_layout, token_mask

# Added to the score of a masked (query, key) pair: its softmax weight is at most e^-30 (1e-13)
# of the others', so the output matches a hard mask to float precision. Not -1e9: in a full-int8
# model the scores share one int8 scale with this constant, and -1e9 would make that scale ~4e6,
# rounding every real score to zero (measured: int8 agreement fell to 69%). With -30 the scale
# stays about 0.15.
MASK_VALUE = -30.0


def sparse_attention_bias(key_valid: tf.Tensor, layout: BlockLayout, block_size: int,
                          causal: bool, num_heads: int) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Additive score biases of the gathered rows: 0 where a query may see a key, MASK_VALUE elsewhere.

    Two small pieces instead of one score-sized tensor: a per-key bias (padding slots of the
    layout and padding tokens of the review), broadcast over the bs queries of a block, and,
    for causal patterns only, a constant triangle that hides later tokens of the same block.

    Args:
        key_valid: (B, n) float32, 1 for a real token, 0 for padding.
    Returns:
        key_bias (B*H, r, 1, k*bs) and causal_bias (r, bs, k*bs) or None, r = nb - g rows.
    """
    nb, rows, k, bs = layout.num_blocks, len(layout.gather_index), layout.keys_per_query, block_size
    keys = tf.reshape(key_valid, [-1, nb, bs])                                 # (B, nb, bs)
    keys = tf.pad(keys, [[0, 0], [0, 1], [0, 0]])                              # (B, nb+1, bs), block nb all 0
    keys = tf.gather(keys, layout.mask_index, axis=1)                          # (B, r, k, bs); padding slots -> 0
    keys = tf.reshape(keys, [-1, 1, rows, k * bs])                             # (B, 1, r, k*bs)
    keys = tf.tile(keys, [1, num_heads, 1, 1])                                 # (B, H, r, k*bs)
    key_bias = tf.reshape((1.0 - keys) * MASK_VALUE, [-1, rows, 1, k * bs])    # (B*H, r, 1, k*bs)
    causal_bias = None
    if causal:
        allowed = token_mask(layout, bs, causal=True)                          # (r, bs, k*bs)
        causal_bias = tf.constant(np.where(allowed, 0.0, MASK_VALUE).astype(np.float32))
    return key_bias, causal_bias


def relative_buckets(query_positions: np.ndarray, key_positions: np.ndarray, reach: int) -> np.ndarray:
    """Which learned bias each (query, key) pair gets: its distance, clipped to ``reach`` either way.

    Distances -reach+1 .. reach-1 each have their own bias (buckets 1 .. 2·reach-1); every key
    farther away (a global "sink" block, a strided block) shares bucket 0 (before) or 2·reach
    (after). The rule depends on the distance only, never on where the text starts, so the same
    weights read any length and a decoder with a rolling cache reproduces it exactly.
    """
    distance = np.asarray(query_positions)[..., :, None] - np.asarray(key_positions)[..., None, :]
    return (np.clip(-distance, -reach, reach) + reach).astype(np.int32)


def global_query_attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, key_valid: tf.Tensor,
                           position_bias: tf.Tensor | None = None):
    """The g·bs global queries attend to all n keys: (B, H, g*bs, dh). Cost g·bs·n, linear in n.

    ``position_bias``: (H, g*bs, n) added to the scores, or None.
    """
    dh = q.shape[-1]
    scores = tf.matmul(q * (1.0 / math.sqrt(dh)), k, transpose_b=True)        # (B, H, g*bs, n)
    scores = scores + ((1.0 - key_valid) * MASK_VALUE)[:, None, None, :]
    if position_bias is not None:
        scores = scores + position_bias[None]
    weights = tf.nn.softmax(scores, axis=-1)
    return tf.matmul(weights, v), weights


def gathered_block_attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, key_bias: tf.Tensor,
                             causal_bias: tf.Tensor | None, layout: BlockLayout, block_size: int,
                             position_bias: tf.Tensor | None = None):
    """Each gathered query block attends to the k key blocks its row of the layout lists.

    Args:
        q: (B, H, r*bs, dh), the queries of the r = nb - g gathered rows.
        k, v: (B, H, n, dh), all keys and values.
        key_bias, causal_bias: from ``sparse_attention_bias``.
        position_bias: (H, r, bs, k*bs) learned relative-position biases, or None.
    Returns:
        (B, H, r*bs, dh) and the weights (B, H, r, bs, k*bs).
    """
    num_heads, dh = k.shape[1], k.shape[3]
    nb, rows, kb, bs = layout.num_blocks, len(layout.gather_index), layout.keys_per_query, block_size
    index = tf.constant(layout.gather_index)                                  # (r, k)

    def gathered(t):
        t = tf.reshape(t, [-1, nb, bs, dh])                                    # (B*H, nb, bs, dh)
        t = tf.gather(t, index, axis=1)                                        # (B*H, r, k, bs, dh)
        return tf.reshape(t, [-1, rows, kb * bs, dh])                          # (B*H, r, k*bs, dh)

    q = tf.reshape(q * (1.0 / math.sqrt(dh)), [-1, rows, bs, dh])              # (B*H, r, bs, dh)
    scores = tf.matmul(q, gathered(k), transpose_b=True) + key_bias           # (B*H, r, bs, k*bs)
    if causal_bias is not None:
        scores = scores + causal_bias
    if position_bias is not None:
        scores = tf.reshape(tf.reshape(scores, [-1, num_heads, rows, bs, kb * bs]) + position_bias[None],
                            [-1, rows, bs, kb * bs])
    weights = tf.nn.softmax(scores, axis=-1)                                   # (B*H, r, bs, k*bs)
    out = tf.matmul(weights, gathered(v))                                      # (B*H, r, bs, dh)
    out = tf.reshape(out, [-1, num_heads, rows * bs, dh])                      # (B, H, r*bs, dh)
    return out, tf.reshape(weights, [-1, num_heads, rows, bs, kb * bs])


def block_sparse_attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, key_valid: tf.Tensor,
                           layout: BlockLayout, block_size: int, causal: bool,
                           return_weights: bool = False, position_bias=None):
    """Softmax attention restricted to ``layout``, without ever forming the n x n scores.

    Args:
        q, k, v: (B, H, n, dh), n = layout.num_blocks * block_size.
        key_valid: (B, n) float32, 1 for real tokens, 0 for padding.
        position_bias: None, or (global (H, g*bs, n) or None, gathered (H, r, bs, k*bs)).
        return_weights: also return {"global": (B, H, g*bs, n) or None,
            "gathered": (B, H, nb - g, bs, k*bs)}.
    Returns:
        (B, H, n, dh), and the weights if asked.
    """
    num_heads, g_tokens = q.shape[1], layout.global_rows * block_size
    key_bias, causal_bias = sparse_attention_bias(key_valid, layout, block_size, causal, num_heads)
    global_bias, gathered_bias = position_bias or (None, None)
    out, weights = gathered_block_attention(q[:, :, g_tokens:], k, v, key_bias, causal_bias, layout, block_size,
                                            gathered_bias)
    global_weights = None
    if g_tokens:
        global_out, global_weights = global_query_attention(q[:, :, :g_tokens], k, v, key_valid, global_bias)
        out = tf.concat([global_out, out], axis=2)                             # (B, H, n, dh)
    if return_weights:
        return out, {"global": global_weights, "gathered": weights}
    return out


@keras.saving.register_keras_serializable(package="sparse_edge")
class SparseSelfAttention(keras.layers.Layer):
    """Multi-head self-attention whose pattern is a block layout.

    Args:
        d_model: width of the input and output.
        num_heads: heads; ``d_model`` must divide evenly.
        pattern: an ``AttentionPattern`` or its dict.
        relative: add a learned bias per head for each distance up to ``window`` blocks
            (``relative_buckets``): the positions of a model that reads any length, and whose
            decoder keeps a cache of fixed size. False: positions come from the embedding.

    Call args:
        x: (B, n, d_model) float; n must be known when the graph is traced.
        padding_mask: (B, n), 1/True for real tokens. Padded queries output zeros.

    Example:
        >>> layer = SparseSelfAttention(32, 4, AttentionPattern("local", block_size=8))
        >>> layer(tf.zeros([2, 20, 32])).shape
        TensorShape([2, 20, 32])
    """

    def __init__(self, d_model: int, num_heads: int, pattern, relative: bool = False, **kwargs):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.d_model = d_model
        self.num_heads = num_heads
        self.pattern = pattern if isinstance(pattern, AttentionPattern) else AttentionPattern.from_dict(pattern)
        self.relative = relative

    @property
    def reach(self) -> int:
        """Tokens of distance that have a bias of their own: the window, ``window`` blocks."""
        return self.pattern.window * self.pattern.block_size

    def build(self, input_shape):
        dense = lambda name: keras.layers.Dense(self.d_model, name=name)  # noqa: E731
        self.query, self.key, self.value, self.output_dense = (
            dense("query"), dense("key"), dense("value"), dense("output"))
        for layer in (self.query, self.key, self.value, self.output_dense):
            layer.build((None, None, self.d_model))
        if self.relative:
            self.distance_bias = self.add_weight(name="distance_bias", shape=(self.num_heads, 2 * self.reach + 1),
                                                 initializer="zeros")
        self.built = True

    def position_bias(self, layout: BlockLayout, zero):
        """The relative biases of ``layout``'s score tensors: (global (H, g*bs, n) or None, (H, r, bs, k*bs)).

        The distances are computed in the graph from two small position tables (r x bs queries,
        r x k·bs keys) plus ``zero``, an int32 0 computed from the input: without it the converter
        would fold the whole (H, r, bs, k*bs) bias into the file as a constant, megabytes per length.
        A causal model's triangle comes from the same distances (a later key is masked), so no
        (r, bs, k*bs) causal constant is stored either.
        """
        bs = self.pattern.block_size
        keys = (layout.gather_index[:, :, None] * bs + np.arange(bs)).reshape(len(layout.gather_index), -1)
        queries = layout.query_blocks[:, None] * bs + np.arange(bs)                     # (r, bs)
        buckets = self._buckets(queries, keys, zero)                                    # (r, bs, k*bs)
        gathered = tf.gather(self.distance_bias, buckets, axis=1)                       # (H, r, bs, k*bs)
        if self.pattern.causal:   # a later key has a negative distance: its bucket is above ``reach``
            gathered = gathered + tf.where(buckets > self.reach, MASK_VALUE, 0.0)
        g_tokens = layout.global_rows * bs
        if not g_tokens:
            return None, gathered
        everything = np.arange(layout.num_blocks * bs)[None, :]
        buckets = self._buckets(np.arange(g_tokens)[None, :], everything, zero)[0]      # (g*bs, n)
        return tf.gather(self.distance_bias, buckets, axis=1), gathered

    def _buckets(self, queries: np.ndarray, keys: np.ndarray, zero):
        """``relative_buckets`` in the graph: queries (r, q) and keys (r, k) positions -> (r, q, k) int32."""
        keys = tf.constant(keys.astype(np.int32)) + zero                                 # (r, k)
        queries = tf.constant(queries.astype(np.int32)) + zero                           # (r, q)
        return tf.clip_by_value(keys[:, None, :] - queries[:, :, None], -self.reach, self.reach) + self.reach

    def layout_for(self, n: int) -> BlockLayout:
        """The block layout used for an n-token input."""
        return block_layout(self.pattern, math.ceil(n / self.pattern.block_size))

    def call(self, x, padding_mask=None, return_weights: bool = False):
        n = x.shape[1]
        if n is None:
            raise ValueError("sparse attention needs a sequence length known at trace time; "
                             "give the input a fixed length (for example bucket to fixed lengths)")
        bs, h = self.pattern.block_size, self.num_heads
        layout = self.layout_for(n)
        n_pad = layout.num_blocks * bs
        valid = (tf.ones_like(x[..., 0]) if padding_mask is None
                 else tf.cast(padding_mask, x.dtype))                         # (B, n)
        if n_pad != n:  # pad to whole blocks; the padding is masked like review padding
            x = tf.pad(x, [[0, 0], [0, n_pad - n], [0, 0]])
            valid = tf.pad(valid, [[0, 0], [0, n_pad - n]])

        def heads(t):
            t = tf.reshape(t, [-1, n_pad, h, self.d_model // h])               # (B, n, H, dh)
            return tf.transpose(t, [0, 2, 1, 3])                               # (B, H, n, dh)

        bias = None
        if self.relative:   # an int32 0 that depends on the input, so the converter cannot fold the biases
            # (min(|x|, 0) is 0 for any number; the converter folds x * 0 but not this)
            bias = self.position_bias(layout, tf.cast(tf.minimum(tf.abs(x[0, 0, 0]), 0.0), tf.int32))
        result = block_sparse_attention(heads(self.query(x)), heads(self.key(x)), heads(self.value(x)), valid,
                                        layout, bs, self.pattern.causal and not self.relative, return_weights, bias)
        out, weights = result if return_weights else (result, None)
        out = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [-1, n_pad, self.d_model])  # (B, n, d)
        out = self.output_dense(out[:, :n]) * valid[:, :n, None]
        return (out, weights) if return_weights else out

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, pattern=self.pattern.to_dict(),
                      relative=self.relative)
        return config
