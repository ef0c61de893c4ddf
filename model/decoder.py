"""Generation with a cache of fixed size: the language model one token at a time.

Recomputing a whole window for every new token costs the window's length each time. A decoder
instead keeps each layer's keys and values of the tokens it may still attend to, and runs only
the new token through the layers. With dense attention that cache grows with every token. With
the causal ``local`` or ``global`` pattern and relative positions (``positional: relative``) a
query at position p sees only

- the ``num_global`` leading blocks (``global``: the "attention sinks" of StreamingLLM,
  Xiao et al. 2023), and
- the blocks of its local window: from block ``p // bs - window + 1`` up to p,

so the cache is ``num_global * bs`` sink slots plus a ring of ``window * bs`` slots that the newest
token overwrites (the rolling buffer of Mistral's sliding-window attention): its size never
grows, however long the text. Every slot remembers its token's position; a slot is attended when
the pattern allows that position, and gets the learned bias of its distance (``relative_buckets``),
so the decoder computes exactly what the full model computes at every length, past the training
length too.

Shapes: L layers, H heads, S = sinks + ring slots, dh head width, d model width, V vocabulary.
The cache is a dict of tensors, one pair per layer: ``keys_<l>`` (H, S, dh) and ``values_<l>``
(H, dh, S), float32, and ``positions`` (S,) int32, -1 for an empty slot. A step writes one slot of
each with a slice update (TFLite's DYNAMIC_UPDATE_SLICE) and reads each layer's cache once; values
are stored transposed so that both products read their cache as it lies (measured: a step that
stacked one (L, H, S, dh) tensor and wrote it with one-hot arithmetic spent most of its time
copying the cache). Every op is a TFLite builtin.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from model.attention import MASK_VALUE

DECODER_PATTERNS = ("local", "global")


class CachedDecoder:
    """``prefill`` a prompt into a cache, then ``step`` one token at a time, with a trained ``SparseTransformerLM``.

    Example:
        >>> decoder = CachedDecoder(model)                            # doctest: +SKIP
        >>> logits, cache = decoder.prefill(ids, length)              # doctest: +SKIP
        >>> logits, cache = decoder.step(token, position, cache)      # doctest: +SKIP

    ``ids`` (1, P) and ``length`` (1,) for the prompt, ``token`` and ``position`` (1,) for a step.
    """

    def __init__(self, model):
        c = model.config
        p = c.pattern
        if c.positional != "relative" or not p.causal or p.name not in DECODER_PATTERNS:
            raise ValueError(f"a cached decoder needs relative positions and a causal {' or '.join(DECODER_PATTERNS)} "
                             f"pattern; this model has positional {c.positional!r} and a "
                             f"{'causal' if p.causal else 'bidirectional'} {p.name!r} pattern")
        self.model, self.config = model, c
        self.block = p.block_size
        self.sinks = p.num_global * p.block_size if p.name == "global" else 0
        self.ring = p.window * p.block_size
        self.slots = self.sinks + self.ring
        self.reach = self.ring              # distances with a bias of their own (SparseSelfAttention.reach)

    def cache_shapes(self) -> dict:
        """{name: shape} of the cache tensors, in the order of the device signature's inputs."""
        c = self.config
        shapes = {f"keys_{layer}": (c.num_heads, self.slots, c.d_head) for layer in range(c.num_layers)}
        shapes.update({f"values_{layer}": (c.num_heads, c.d_head, self.slots) for layer in range(c.num_layers)})
        shapes["positions"] = (self.slots,)
        return shapes

    def empty_cache(self) -> dict:
        return {name: (-tf.ones(shape, tf.int32) if name == "positions" else tf.zeros(shape))
                for name, shape in self.cache_shapes().items()}

    def visible(self, positions, position):
        """(S,) bool: which cached positions the query at ``position`` (scalar) may attend."""
        first_local = tf.maximum(self.sinks, (position // self.block - self.config.pattern.window + 1) * self.block)
        return (positions >= 0) & (positions <= position) & ((positions < self.sinks) | (positions >= first_local))

    def slot_of(self, position):
        """The slot a token at ``position`` is written to: its own sink slot, or the ring's oldest."""
        return tf.where(position < self.sinks, position, self.sinks + (position - self.sinks) % self.ring)

    def step(self, token, position, cache: dict):
        """One token (1,) at ``position`` (1,) -> next-token logits (1, V) and the updated cache."""
        c = self.config
        h, dh = c.num_heads, c.d_head
        p = position[0]
        slot = self.slot_of(p)
        zero = tf.zeros([], tf.int32)
        positions = dynamic_update_slice(cache["positions"], position, tf.reshape(slot, [1]))   # (S,)
        hidden = tf.gather(self.model.embedding.tokens, token)                        # (1, d)
        bias_index = tf.clip_by_value(positions - p, -self.reach, self.reach) + self.reach   # (S,)
        mask = tf.where(self.visible(positions, p), 0.0, MASK_VALUE)                  # (S,)
        out_cache = {"positions": positions}
        for layer, block in enumerate(self.model.blocks):
            attention = block.attention
            x = block.norm1(hidden)                                                   # (1, d)
            q = tf.reshape(attention.query(x), [h, 1, dh])
            k = tf.reshape(attention.key(x), [h, 1, dh])
            v = tf.reshape(attention.value(x), [h, dh, 1])
            keys = dynamic_update_slice(cache[f"keys_{layer}"], k, tf.stack([zero, slot, zero]))       # (H, S, dh)
            values = dynamic_update_slice(cache[f"values_{layer}"], v, tf.stack([zero, zero, slot]))   # (H, dh, S)
            scores = tf.matmul(q * (1.0 / math.sqrt(dh)), keys, transpose_b=True)[:, 0]       # (H, S)
            scores = scores + mask[None] + tf.gather(attention.distance_bias, bias_index, axis=1)
            out = tf.matmul(tf.nn.softmax(scores, axis=-1)[:, None], values, transpose_b=True)   # (H, 1, dh)
            hidden = hidden + attention.output_dense(tf.reshape(out, [1, h * dh]))
            hidden = hidden + block.ffn(block.norm2(hidden))
            out_cache[f"keys_{layer}"], out_cache[f"values_{layer}"] = keys, values
        logits = self.model.embedding.logits(self.model.final_norm(hidden))           # (1, V)
        return logits, out_cache

    def prefill(self, token_ids, length):
        """A prompt (1, P) padded after its ``length`` (1,) real ids -> the logits after its last id (1, V) and
        the cache holding what a query after it may attend. The prompt runs through the full block-sparse
        model once; a prompt longer than P continues with ``step``."""
        c = self.config
        h, dh, n = c.num_heads, c.d_head, token_ids.shape[1]
        last = length[0] - 1
        mask = tf.cast(tf.range(n)[None, :] <= last, tf.float32)                      # (1, P)
        ids = tf.where(mask > 0, token_ids, c.pad_id)
        # which prompt position each slot holds: sinks their own; ring slot r the newest position
        # p <= last with p >= sinks and (p - sinks) % ring == r
        ring_positions = last - (last - self.sinks - tf.range(self.ring)) % self.ring
        slot_positions = tf.concat([tf.range(self.sinks), ring_positions], axis=0)    # (S,)
        valid = (slot_positions <= last) & (slot_positions >= 0) & (
            (tf.range(self.slots) < self.sinks) | (slot_positions >= self.sinks))
        take = tf.clip_by_value(slot_positions, 0, n - 1)
        keep = tf.cast(valid, tf.float32)
        hidden = self.model.embedding(ids)
        cache = {}
        for layer, block in enumerate(self.model.blocks):
            x = block.norm1(hidden)[0]                                                  # (P, d)
            keys = tf.transpose(tf.reshape(block.attention.key(x), [n, h, dh]), [1, 0, 2])      # (H, P, dh)
            values = tf.transpose(tf.reshape(block.attention.value(x), [n, h, dh]), [1, 2, 0])  # (H, dh, P)
            cache[f"keys_{layer}"] = tf.gather(keys, take, axis=1) * keep[None, :, None]        # (H, S, dh)
            cache[f"values_{layer}"] = tf.gather(values, take, axis=2) * keep[None, None, :]    # (H, dh, S)
            hidden = block(hidden, mask)
        cache["positions"] = tf.where(valid, slot_positions, -1)
        final = tf.gather(self.model.final_norm(hidden)[0], length - 1)                # (1, d)
        return self.model.embedding.logits(final), cache
