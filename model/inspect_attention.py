"""Look inside the classifier: one layer's attention weights for one text, as a picture.

The model computes attention block by block (``gathered_block_attention``); this module
places those block weights back at their (query, key) positions in a small image for display.
It is only for showing a short text (at most ``MAX_TOKENS`` tokens): the model itself never
builds an n x n matrix.
"""

from __future__ import annotations

import numpy as np

MAX_TOKENS = 256


def attention_map(model, tokenizer, text: str, layer: int, head: int) -> tuple[np.ndarray, list[str]]:
    """(n, n) float image of layer ``layer``'s head ``head`` weights (0 where not computed), and the tokens."""
    import tensorflow as tf

    from model.patterns import block_layout

    model = getattr(model, "members", [model])[0]   # an ensemble: its first member's attention
    c = model.config
    if not 0 <= layer < c.num_layers or not 0 <= head < c.num_heads:
        raise ValueError(f"layer must be in 0..{c.num_layers - 1} and head in 0..{c.num_heads - 1}")
    encoding = tokenizer.encode(text, min(MAX_TOKENS, c.max_length))
    bs = c.pattern.block_size
    n = int(np.ceil(len(encoding.ids) / bs) * bs)
    ids = np.full((1, n), c.pad_id, np.int32)
    ids[0, : len(encoding.ids)] = encoding.ids
    mask = tf.cast(tf.not_equal(ids, c.pad_id), tf.float32)
    x = model.embedding(ids)
    for block in model.blocks[:layer]:
        x = block(x, mask, training=False)
    target = model.blocks[layer]
    _, weights = target.attention(target.norm1(x), mask, return_weights=True)
    layout = block_layout(c.pattern, n // bs)
    image = np.zeros((n, n), np.float32)
    g = layout.global_rows
    if weights["global"] is not None:
        image[: g * bs] = np.asarray(weights["global"])[0, head]
    gathered = np.asarray(weights["gathered"])[0, head]                       # (nb - g, bs, k*bs)
    for r in range(gathered.shape[0]):
        for s, key_block in enumerate(layout.gather_index[r]):
            if layout.slot_valid[r, s]:
                rows = slice((g + r) * bs, (g + r + 1) * bs)
                image[rows, key_block * bs:(key_block + 1) * bs] = gathered[r, :, s * bs:(s + 1) * bs]
    real = len(encoding.ids)
    return image[:real, :real], [tokenizer.inverse.get(int(i), "?") for i in encoding.ids]
