"""Generate text with the Keras language model, by the same decoding loop as the edge runtime."""

from __future__ import annotations

from edge_runtime.generator import SAMPLING, Cached, Recompute, cache_horizon, decode_ids


def keras_generate_ids(model, tokenizer, prompt: str, max_new_tokens: int = 50,
                       temperature: float = SAMPLING["temperature"], top_k: int = SAMPLING["top_k"],
                       seed: int | None = None, top_p: float = SAMPLING["top_p"],
                       repetition_penalty: float = SAMPLING["repetition_penalty"], cached: bool = False,
                       prefill_length: int = 256) -> list[int]:
    """Generated ids (ending with [SEP] if the model ended the review).

    ``cached``: through ``model/decoder.py`` (prefill, then one token at a time) instead of running the
    window again for every token.
    """
    import tensorflow as tf

    t = tokenizer
    prompt_ids = [t.cls_id, *t.token_ids(prompt)]
    if cached:
        from model.decoder import CachedDecoder

        decoder = CachedDecoder(model)
        prefill = tf.function(decoder.prefill)
        step = tf.function(decoder.step)

        def numpy_out(logits, cache):
            return logits.numpy()[0], cache

        logits_of = Cached(lambda ids, length: numpy_out(*prefill(tf.constant(ids), tf.constant(length))),
                           lambda token, position, cache: numpy_out(*step(tf.constant(token), tf.constant(position),
                                                                          cache)),
                           min(prefill_length, model.config.max_length), t.pad_id,
                           cache_horizon(decoder.ring, model.config.num_layers))
    else:
        window = tf.function(lambda ids, position: model.next_token_logits(ids, position))
        logits_of = Recompute(lambda ids, position: window(tf.constant(ids),
                                                           tf.constant([position], tf.int32)).numpy()[0],
                              model.config.max_length, t.pad_id)
    return list(decode_ids(logits_of, prompt_ids, model.config.max_length, [t.pad_id, t.unk_id, t.cls_id, t.mask_id],
                           t.sep_id, max_new_tokens, temperature, top_k, seed, top_p, repetition_penalty))
