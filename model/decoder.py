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
The cache is three tensors: ``keys`` and ``values`` (L, H, S, dh) float32 and ``positions`` (S,)
int32, -1 for an empty slot. Every op is a TFLite builtin (one-hot writes instead of scatters).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from model.attention import MASK_VALUE

DECODER_PATTERNS = ("local", "global")


class CachedDecoder:
    """``prefill`` a prompt into a cache, then ``step`` one token at a time, with a trained ``SparseTransformerLM``.

    Example:
        >>> decoder = CachedDecoder(model)                            # doctest: +SKIP
        >>> logits, cache = decoder.prefill(ids, length)              # ids (1, P), length (1,)
        >>> logits, cache = decoder.step(token, position, *cache)     # token, position (1,)
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
        c = self.config
        kv = (c.num_layers, c.num_heads, self.slots, c.d_head)
        return {"keys": kv, "values": kv, "positions": (self.slots,)}

    def empty_cache(self):
        shapes = self.cache_shapes()
        return (tf.zeros(shapes["keys"]), tf.zeros(shapes["values"]), -tf.ones(shapes["positions"], tf.int32))

    def visible(self, positions, position):
        """(S,) bool: which cached positions the query at ``position`` (scalar) may attend."""
        first_local = tf.maximum(self.sinks, (position // self.block - self.config.pattern.window + 1) * self.block)
        return (positions >= 0) & (positions <= position) & ((positions < self.sinks) | (positions >= first_local))

    def slot_of(self, position):
        """The slot a token at ``position`` is written to: its own sink slot, or the ring's oldest."""
        return tf.where(position < self.sinks, position, self.sinks + (position - self.sinks) % self.ring)

    def step(self, token, position, keys, values, positions):
        """One token (1,) at ``position`` (1,) -> next-token logits (1, V) and the updated cache."""
        c = self.config
        h, dh = c.num_heads, c.d_head
        p = position[0]
        write = tf.one_hot(self.slot_of(p), self.slots)                               # (S,)
        positions = tf.where(write > 0, p, positions)                                 # (S,)
        hidden = tf.gather(self.model.embedding.tokens, token)                        # (1, d)
        bias_index = tf.clip_by_value(positions - p, -self.reach, self.reach) + self.reach   # (S,)
        mask = tf.where(self.visible(positions, p), 0.0, MASK_VALUE)                  # (S,)
        new_keys, new_values = [], []
        for layer, block in enumerate(self.model.blocks):
            attention = block.attention
            x = block.norm1(hidden)                                                   # (1, d)
            q = tf.reshape(attention.query(x), [h, 1, dh])
            k = tf.reshape(attention.key(x), [h, 1, dh])
            v = tf.reshape(attention.value(x), [h, 1, dh])
            layer_keys = keys[layer] * (1.0 - write[None, :, None]) + k * write[None, :, None]       # (H, S, dh)
            layer_values = values[layer] * (1.0 - write[None, :, None]) + v * write[None, :, None]
            scores = tf.matmul(q * (1.0 / math.sqrt(dh)), layer_keys, transpose_b=True)[:, 0]     # (H, S)
            scores = scores + mask[None] + tf.gather(attention.distance_bias, bias_index, axis=1)
            out = tf.matmul(tf.nn.softmax(scores, axis=-1)[:, None], layer_values)               # (H, 1, dh)
            hidden = hidden + attention.output_dense(tf.reshape(out, [1, h * dh]))
            hidden = hidden + block.ffn(block.norm2(hidden))
            new_keys.append(layer_keys)
            new_values.append(layer_values)
        logits = self.model.embedding.logits(self.model.final_norm(hidden))           # (1, V)
        return logits, (tf.stack(new_keys), tf.stack(new_values), positions)

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
        sink_positions = tf.range(self.sinks)
        ring = tf.range(self.ring)
        ring_positions = last - (last - self.sinks - ring) % self.ring
        slot_positions = tf.concat([sink_positions, ring_positions], axis=0)          # (S,)
        valid = (slot_positions <= last) & (slot_positions >= 0) & (
            (tf.range(self.slots) < self.sinks) | (slot_positions >= self.sinks))
        take = tf.clip_by_value(slot_positions, 0, n - 1)
        keep = tf.cast(valid, tf.float32)[None, :, None]
        hidden = self.model.embedding(ids)
        keys, values = [], []
        for block in self.model.blocks:
            x = block.norm1(hidden)[0]                                                  # (P, d)
            for projection, out in ((block.attention.key, keys), (block.attention.value, values)):
                t = tf.transpose(tf.reshape(projection(x), [n, h, dh]), [1, 0, 2])     # (H, P, dh)
                out.append(tf.gather(t, take, axis=1) * keep)                           # (H, S, dh)
            hidden = block(hidden, mask)
        final = tf.gather(self.model.final_norm(hidden)[0], length - 1)                # (1, d)
        logits = self.model.embedding.logits(final)
        return logits, (tf.stack(keys), tf.stack(values), tf.where(valid, slot_positions, -1))


def numpy_cache_bytes(decoder: CachedDecoder) -> int:
    """Bytes of float32 keys and values a decoder keeps, whatever the length of the text."""
    shapes = decoder.cache_shapes()
    return int(4 * (2 * np.prod(shapes["keys"]) + np.prod(shapes["positions"])))
