"""The sparse Transformer: embeddings -> pre-LayerNorm encoder blocks -> a head.

Ordered from the smallest piece to the whole model (as in nanoGPT's ``model.py``):
``TokenAndPositionEmbedding`` -> ``FeedForward`` -> ``EncoderBlock`` ->
``SparseTransformerClassifier`` (mean-pool over real tokens, then softmax) and
``SparseTransformerLM`` (causal, logits through the tied token embedding).

Shapes: B batch, n tokens, d = d_model, V = vocab_size.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from model.attention import MASK_VALUE, SparseSelfAttention
from model.config import TransformerConfig

register = keras.saving.register_keras_serializable(package="sparse_edge")


CONV_WIDTH = 9   # bytes (or tokens) each side-by-side filter of the "conv" position embedding spans


def sinusoidal_table(length: int, d_model: int) -> np.ndarray:
    """Vaswani et al.'s fixed positions: (length, d_model), sin on even, cos on odd columns."""
    position = np.arange(length)[:, None]
    frequency = np.exp(-np.log(10000.0) * np.arange(0, d_model, 2) / d_model)[None, :]
    table = np.zeros((length, d_model), dtype=np.float32)
    table[:, 0::2] = np.sin(position * frequency)
    table[:, 1::2] = np.cos(position * frequency)[:, : d_model // 2]
    return table


# -- positions: one small function per ``positional`` mode, each (layer, x (B, m, d), ids (B, n)) -> (B, m, d) --

def table_positions(layer, x, token_ids):
    """``learned`` and ``sinusoidal``: row t of a (max_length / patch, d) table added at position t.

    Positions 0..m-1 are computed from the input (``ids * 0 + range``) rather than a constant slice: a
    constant slice would be folded into a separate copy of the table for every input length of a
    multi-length .tflite file; a gather keeps one shared table."""
    first = token_ids if layer.patch == 1 else token_ids[:, :: layer.patch]   # (B, m): one id a position
    positions = first * 0 + tf.range(tf.shape(first)[1])[None, :]            # (B, m)
    return x + tf.gather(layer.positions, positions)


def conv_positions(layer, x, token_ids):
    """``conv``: each feature mixed with its own CONV_WIDTH neighbours' (zeros past either end), one learned
    filter per feature (a convolutional position embedding, as in wav2vec 2.0 and CPVT): relative order, for
    any length.

    A depthwise convolution written as shifted copies, not ``tf.nn.depthwise_conv2d``: dynamic-range
    quantization gives that op int8 weights with one scale per tensor (what tflite-runtime 2.14 needs for its
    other ops), and TFLite's hybrid DEPTHWISE_CONV_2D reads one scale per channel, so every channel but the
    first was scaled by whatever followed in memory (measured: outputs near 1e29, every review the same
    label). Slices, multiplies and adds are exact in every variant."""
    n, half = x.shape[1], CONV_WIDTH // 2
    filters = tf.reshape(layer.positions, [CONV_WIDTH, layer.d_model])         # (width, d)
    padded = tf.pad(x, [[0, 0], [half, half], [0, 0]])                          # (B, n + width - 1, d)
    near = padded[:, 0:n] * filters[0]
    for j in range(1, CONV_WIDTH):
        near = near + padded[:, j:j + n] * filters[j]
    return x + near


def no_positions(layer, x, token_ids):
    """``relative``: nothing added here; positions are the attention's learned bias per distance."""
    return x


POSITIONS = {"learned": table_positions, "sinusoidal": table_positions, "conv": conv_positions,
             "relative": no_positions}   # model/config.py's POSITIONAL, and how each adds positions


@register
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus a position embedding (``POSITIONS``); ``logits`` reuses the token table (tied).

    With ``patch`` p > 1 each id has a d/p-wide embedding and every p neighbouring ids are one
    position: their embeddings side by side, (B, n, d/p) -> (B, n/p, d), as MEGABYTE and ViT embed
    patches. Nothing is counted or hashed; attention then runs over n/p positions (p times fewer).
    """

    def __init__(self, vocab_size: int, max_length: int, d_model: int,
                 positional: str = "learned", patch: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_length, self.d_model = vocab_size, max_length, d_model
        self.positional, self.patch = positional, patch

    def build(self, input_shape=None):
        normal = keras.initializers.RandomNormal
        self.tokens = self.add_weight(name="tokens", shape=(self.vocab_size, self.d_model // self.patch),
                                      initializer=normal(stddev=0.02))
        self.positions = {
            "learned": lambda: self.add_weight(name="positions", shape=(self.max_length // self.patch, self.d_model),
                                               initializer=normal(stddev=0.02)),
            "sinusoidal": lambda: tf.constant(sinusoidal_table(self.max_length, self.d_model)),
            "conv": lambda: self.add_weight(name="position_filter", shape=(1, CONV_WIDTH, self.d_model, 1),
                                            initializer=normal(stddev=0.3)),
            "relative": lambda: None}[self.positional]()
        self.built = True

    def call(self, token_ids):
        n = token_ids.shape[1]
        if n is not None and n > self.max_length and self.positional not in ("conv", "relative"):   # any length
            raise ValueError(f"input has {n} tokens but the model's max_length is {self.max_length}; "
                             "truncate the input")
        x = tf.gather(self.tokens, token_ids)                                  # (B, n, d/p)
        if self.patch > 1:
            x = tf.reshape(x, [-1, n // self.patch, self.d_model])             # (B, n/p, d)
        return POSITIONS[self.positional](self, x, token_ids)

    def logits(self, x):
        """(B, n, d) -> (B, n, V): scores against every token embedding."""
        return tf.matmul(x, self.tokens, transpose_b=True)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, max_length=self.max_length, d_model=self.d_model,
                      positional=self.positional, patch=self.patch)
        return config


@register
class FeedForward(keras.layers.Layer):
    """Position-wise MLP: d -> d_ff (GELU) -> d."""

    def __init__(self, d_model: int, d_ff: int, **kwargs):
        super().__init__(**kwargs)
        self.d_model, self.d_ff = d_model, d_ff

    def build(self, input_shape=None):
        self.up = keras.layers.Dense(self.d_ff, activation="gelu", name="up")
        self.down = keras.layers.Dense(self.d_model, name="down")
        self.up.build((None, None, self.d_model))
        self.down.build((None, None, self.d_ff))
        self.built = True

    def call(self, x):
        return self.down(self.up(x))

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, d_ff=self.d_ff)
        return config


@register
class EncoderBlock(keras.layers.Layer):
    """Pre-LayerNorm block: x + attn(LN(x)), then x + ffn(LN(x)), with dropout on each branch."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, pattern, dropout: float = 0.0,
                 relative: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.d_model, self.num_heads, self.d_ff, self.dropout = d_model, num_heads, d_ff, dropout
        self.relative = relative
        self.attention = SparseSelfAttention(d_model, num_heads, pattern, relative=relative, name="attention")
        self.pattern = self.attention.pattern

    def build(self, input_shape=None):
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm2")
        self.ffn = FeedForward(self.d_model, self.d_ff, name="ffn")
        self.drop = keras.layers.Dropout(self.dropout)
        for layer in (self.norm1, self.norm2, self.attention, self.ffn):
            layer.build((None, None, self.d_model))
        self.built = True

    def call(self, x, padding_mask=None, training=None):
        x = x + self.drop(self.attention(self.norm1(x), padding_mask), training=training)
        return x + self.drop(self.ffn(self.norm2(x)), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, d_ff=self.d_ff,
                      pattern=self.pattern.to_dict(), dropout=self.dropout, relative=self.relative)
        return config


class _SparseTransformer(keras.Model):
    """Embeddings and encoder blocks shared by the classifier and the language model."""

    def __init__(self, config: TransformerConfig | dict, **kwargs):
        super().__init__(**kwargs)
        self.config = config if isinstance(config, TransformerConfig) else TransformerConfig.from_dict(config)
        c = self.config
        self.embedding = TokenAndPositionEmbedding(c.vocab_size, c.max_length, c.d_model, c.positional,
                                                   c.patch, name="embedding")
        self.blocks = [EncoderBlock(c.d_model, c.num_heads, c.d_ff, c.pattern, c.dropout,
                                    relative=c.positional == "relative", name=f"block_{i}")
                       for i in range(c.num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.embed_drop = keras.layers.Dropout(c.dropout)

    def build(self, input_shape=None):
        self.embedding.build(None)
        for block in self.blocks:
            block.build(None)
        self.final_norm.build((None, None, self.config.d_model))
        self.build_head()
        self.built = True

    def build_head(self):
        pass

    def encode(self, token_ids, training=None):
        """(B, n) int token ids -> (B, m, d) features and the (B, m) float padding mask, m = n / patch
        (n padded up to a multiple of the patch first); a position is padding when all its ids are."""
        p = self.config.patch
        if p > 1 and token_ids.shape[1] % p:
            token_ids = tf.pad(token_ids, [[0, 0], [0, p - token_ids.shape[1] % p]],
                               constant_values=self.config.pad_id)
        mask = tf.cast(tf.not_equal(token_ids, self.config.pad_id), tf.float32)
        if p > 1:
            mask = tf.reduce_max(tf.reshape(mask, [-1, token_ids.shape[1] // p, p]), axis=-1)   # (B, m)
        x = self.embed_drop(self.embedding(token_ids), training=training)
        for block in self.blocks:
            x = block(x, mask, training=training)
        return self.final_norm(x), mask

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}


@register
class SparseTransformerClassifier(_SparseTransformer):
    """Token ids (B, n) -> class probabilities (B, num_classes), float32.

    Pools by averaging the features of the real (non-padding) tokens.

    Example:
        >>> from model.patterns import AttentionPattern
        >>> c = TransformerConfig(vocab_size=50, max_length=32, d_model=16, num_heads=2,
        ...                       pattern=AttentionPattern("bigbird", block_size=8, window=3))
        >>> SparseTransformerClassifier(c)(tf.ones([3, 20], tf.int32)).shape
        TensorShape([3, 2])
    """

    def build_head(self):
        self.head = keras.layers.Dense(self.config.num_classes, name="head")
        width = self.config.d_model * (2 if self.config.pooling == "mean_max" else 1)
        self.head.build((None, width))

    def logits(self, token_ids, training=None):
        """(B, n) ids -> (B, num_classes) scores before the softmax."""
        x, mask = self.encode(token_ids, training)                             # (B, n, d), (B, n)
        count = tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0)    # (B, 1)
        pooled = tf.reduce_sum(x * mask[:, :, None], axis=1) / count           # (B, d)
        if self.config.pooling == "mean_max":
            # padding is pushed MASK_VALUE below the (layer-normed, so small) features, never the max;
            # a moderate constant, not -inf, keeps an int8 scale usable
            peak = tf.reduce_max(x + MASK_VALUE * (1.0 - mask[:, :, None]), axis=1)    # (B, d)
            pooled = tf.concat([pooled, peak], axis=-1)                        # (B, 2d)
        return self.head(pooled)

    def call(self, token_ids, training=None):
        return tf.nn.softmax(self.logits(token_ids, training), axis=-1)


@register
class SparseTransformerLM(_SparseTransformer):
    """Token ids (B, n) -> next-token logits (B, n, V). Needs a causal pattern.

    The output projection is the transposed token embedding ("tied" weights).
    """

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        if not self.config.pattern.causal:
            raise ValueError("a language model needs a causal pattern; set pattern.causal=True")
        self.config.refuse_patches("a language model predicts every id")

    def call(self, token_ids, training=None):
        x, _ = self.encode(token_ids, training)
        return self.embedding.logits(x)

    def next_token_logits(self, token_ids, position):
        """(1, n) ids and (1,) position of the last real token -> (1, V) logits of the token after it.

        Projects one position onto the vocabulary, not all n: what generation needs, n times cheaper.
        """
        x, _ = self.encode(token_ids, training=False)                           # (1, n, d)
        last = tf.gather(x[0], position)                                       # (1, d)
        return self.embedding.logits(last)                                     # (1, V)
