"""Generate text with the Keras language model, by the same decoding loop as the edge runtime."""

from __future__ import annotations

import numpy as np

from edge_runtime.generator import SAMPLING, decode_ids


def keras_generate_ids(model, tokenizer, prompt: str, max_new_tokens: int = 50,
                       temperature: float = SAMPLING["temperature"], top_k: int = SAMPLING["top_k"],
                       seed: int | None = None, top_p: float = SAMPLING["top_p"],
                       repetition_penalty: float = SAMPLING["repetition_penalty"]) -> list[int]:
    """Generated ids (ending with [SEP] if the model ended the review)."""
    import tensorflow as tf

    step = tf.function(lambda ids, position: model.next_token_logits(ids, position))
    t = tokenizer
    prompt_ids = [t.cls_id, *t.token_ids(prompt)]

    def next_logits(window, position):
        return step(tf.constant(window), tf.constant([position], tf.int32)).numpy()[0]

    return list(decode_ids(next_logits, prompt_ids, model.config.max_length, t.pad_id,
                           [t.pad_id, t.unk_id, t.cls_id, t.mask_id], t.sep_id, max_new_tokens, temperature,
                           top_k, seed, top_p, repetition_penalty))
