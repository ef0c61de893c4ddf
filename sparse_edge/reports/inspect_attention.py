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


def word_attributions(model, tokenizer, text: str) -> list[dict]:
    """Which words the decision leans on: one row per word of ``text`` (its first ``MAX_TOKENS`` tokens).

    ``transformer``: gradient times input (Simonyan et al. 2014; Shrikumar et al. 2017) of the
    Transformer's log-odds of "positive" with respect to each token's embedding, summed over the
    embedding; positive values push towards "positive". ``ngrams`` (a hybrid only): each distinct
    n-gram's NB-LR weight, shared equally by its tokens, scaled by the hybrid's mix weight. Word
    pieces (``##...``) are joined back into words and their scores added.
    """
    import tensorflow as tf

    deep = getattr(model, "members", [model])[0]
    c = deep.config
    encoding = tokenizer.encode(text, min(MAX_TOKENS, c.max_length))
    bs = c.pattern.block_size
    n = int(np.ceil(len(encoding.ids) / bs) * bs)
    ids = np.full((1, n), c.pad_id, np.int32)
    ids[0, : len(encoding.ids)] = encoding.ids
    embedded = deep.embedding(ids)                                            # (1, n, d)
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        mask = tf.cast(tf.not_equal(ids, c.pad_id), tf.float32)
        x = embedded
        for block in deep.blocks:
            x = block(x, mask, training=False)
        x = deep.final_norm(x)
        pooled = tf.reduce_sum(x * mask[:, :, None], axis=1) / tf.reduce_sum(mask, axis=1, keepdims=True)
        logits = deep.head(pooled)
        logit = logits[0, 1] - logits[0, 0]
    grads = tape.gradient(logit, embedded)
    transformer = np.asarray(tf.reduce_sum(grads * embedded, axis=-1))[0]   # (n,)
    mix = np.asarray(model.mix) if hasattr(model, "mix") else np.array([1.0, 0.0, 0.0])
    transformer = transformer * mix[0]
    ngrams = np.zeros(n, np.float32)
    if hasattr(model, "ngrams"):
        table = np.asarray(model.ngrams.table)[:, 0]
        owners = np.asarray(model.ngrams.fingerprints).astype(np.int64)
        hashing, real = model.ngrams.hashing, len(encoding.ids)
        seen = set()
        token_ids = np.asarray(encoding.ids, np.int64)
        for order in range(1, hashing.order + 1):
            for start in range(real - order + 1):
                window = token_ids[start:start + order]
                if not all(window >= 5):
                    continue
                rows, prints = hashing.place(hashing.keys(window)[-1:])   # the window's own n-gram: the largest key
                row = int(rows[0])
                if owners[row] != prints[0] or row in seen:
                    continue
                seen.add(row)
                ngrams[start:start + order] += table[row] * mix[1] / order
    words = []
    for position, token_id in enumerate(encoding.ids):
        token = tokenizer.inverse.get(int(token_id), "?")
        if token in ("[CLS]", "[SEP]"):
            continue
        if token.startswith("##") and words:
            words[-1]["word"] += token[2:]
            words[-1]["transformer"] += float(transformer[position])
            words[-1]["ngrams"] += float(ngrams[position])
        else:
            words.append({"word": token, "transformer": float(transformer[position]), "ngrams": float(ngrams[position])})
    return words
