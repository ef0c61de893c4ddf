"""Language-model folder -> ``MODEL_DIR/tflite/<variant>.tflite``: ``next_token``, and the cached decoder.

``next_token`` runs a whole window for each new token (any language model). A model with relative
positions and a causal local or global pattern (``model/decoder.py``) also gets ``prefill`` (a
prompt of up to ``PREFILL_LENGTH`` ids in, its next-token logits and the cache out) and ``decode``
(one token and the cache in, its logits and the updated cache out): a cache of fixed size, so a
token costs the same at position 10 or 10,000.

Same conversion path and single-file convention as the classifier (``convert/export.py``): the
flatbuffer plus ``config.json`` (``kind: language_model``), ``vocab.txt`` and ``labels.txt``
(empty) appended as a zip, written atomically. Variants: those of ``convert.variants`` for the
language_model target (float32 and dynamic).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from convert.variants import LANGUAGE_MODEL as LANGUAGE_MODEL_TARGET, REFERENCE, names, variant as variant_of
from training.saved import ModelFolder

LM_VARIANTS = tuple(names(LANGUAGE_MODEL_TARGET))   # convert/variants.py owns them
PREFILL_LENGTH = 256   # prompt ids one prefill takes (a longer prompt goes on one token at a time)


def decoder_of(model):
    """The model's ``CachedDecoder``, or None when its pattern or positions need the whole window."""
    from model.decoder import CachedDecoder

    try:
        return CachedDecoder(model)
    except ValueError:
        return None


def prefill_length(model) -> int:
    return min(PREFILL_LENGTH, model.config.max_length)


def decoder_layout(model) -> dict | None:
    """What the device needs to call ``prefill`` and ``decode``: the bundle config's ``decoder``."""
    decoder = decoder_of(model)
    if decoder is None:
        return None
    return {"prefill": "prefill", "decode": "decode", "prefill_length": prefill_length(model),
            "sinks": decoder.sinks, "ring": decoder.ring,
            "cache": {name: list(shape) for name, shape in decoder.cache_shapes().items()}}


def load_lm(model_dir: str | Path):
    folder = ModelFolder(model_dir)
    folder.require(folder.MODEL, folder.VOCAB, folder.CONFIG, hint="train one with `sparse-edge train-lm --out DIR`")
    return folder.load_keras()


def lm_representative(model, sequences: list, count: int = 32, steps: int = 4, seed: int = 0):
    """The int8 calibration set of a language model: (signature, inputs) pairs from ``count`` training
    reviews (seeded): a full window for ``next_token``, a prompt for ``prefill``, and for ``decode`` the
    caches the Keras decoder holds after that prompt, ``steps`` tokens on."""
    import tensorflow as tf

    n, decoder = model.config.max_length, decoder_of(model)
    order = np.random.default_rng(seed).permutation(len(sequences))
    chosen = [np.asarray(sequences[i][:n], np.int32) for i in order if len(sequences[i]) >= 3][:count]
    if not chosen:
        raise ValueError("no training review of at least 3 tokens to calibrate int8 with")
    samples = []
    prefill = tf.function(decoder.prefill) if decoder else None
    step = tf.function(decoder.step) if decoder else None
    for ids in chosen:
        window = np.zeros((1, n), np.int32)
        window[0, : len(ids)] = ids
        samples.append(("next_token", {"token_ids": window, "position": np.array([len(ids) - 1], np.int32)}))
        if decoder is None:
            continue
        size = prefill_length(model)
        m = min(len(ids) - 1, size)
        prompt = np.zeros((1, size), np.int32)
        prompt[0, :m] = ids[:m]
        samples.append(("prefill", {"token_ids": prompt, "length": np.array([m], np.int32)}))
        _, cache = prefill(tf.constant(prompt), tf.constant([m]))
        for t in range(m, min(len(ids), m + steps)):
            inputs = {"token": np.array([ids[t]], np.int32), "position": np.array([t], np.int32)}
            samples.append(("decode", {**inputs, **{k: v.numpy() for k, v in cache.items()}}))
            _, cache = step(tf.constant(inputs["token"]), tf.constant(inputs["position"]), cache)
    return lambda: iter(samples)


def convert_language_model(model, variant: str = REFERENCE, representative_dataset=None) -> bytes:
    import keras
    import tensorflow as tf

    from convert.tflite import ConversionError, compact, configure_converter, conversion_hint

    if variant not in LM_VARIANTS:
        raise ValueError(f"unknown language-model variant {variant!r}; choose from {', '.join(LM_VARIANTS)}")
    n = model.config.max_length
    decoder = decoder_of(model)
    with tempfile.TemporaryDirectory() as saved:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("next_token", tf.function(lambda ids, position: {"logits": model.next_token_logits(ids, position)}),
                             input_signature=[tf.TensorSpec([1, n], tf.int32, name="token_ids"),
                                              tf.TensorSpec([1], tf.int32, name="position")])
        keys = ["next_token"]
        if decoder is not None:
            shapes = decoder.cache_shapes()
            names_ = list(shapes)
            cache_specs = [tf.TensorSpec(shape, tf.int32 if name == "positions" else tf.float32, name=name)
                           for name, shape in shapes.items()]

            def named(logits, cache):
                return {"logits": logits, **cache}

            archive.add_endpoint("prefill", tf.function(lambda ids, length: named(*decoder.prefill(ids, length))),
                                 input_signature=[tf.TensorSpec([1, prefill_length(model)], tf.int32, name="token_ids"),
                                                  tf.TensorSpec([1], tf.int32, name="length")])
            archive.add_endpoint("decode", tf.function(lambda token, position, *cache: named(*decoder.step(
                token, position, dict(zip(names_, cache))))),
                input_signature=[tf.TensorSpec([1], tf.int32, name="token"),
                                 tf.TensorSpec([1], tf.int32, name="position"), *cache_specs])
            keys += ["prefill", "decode"]
        archive.write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=keys)
        configure_converter(converter, variant, representative_dataset)
        try:
            flatbuffer = converter.convert()
        except Exception as error:  # noqa: BLE001
            raise ConversionError(conversion_hint(error)) from error
    # int8: the token table once, the output projection's weights (calibration gives each GATHER its own copy)
    return compact(flatbuffer, [np.asarray(model.embedding.tokens)] if variant_of(variant).calibrated else [],
                   tied=True)


def convert_lm_dir(model_dir: str | Path, variants: list[str], out_dir: str | Path | None = None) -> dict[str, Path]:
    from convert.export import bundle_config
    from edge_runtime.bundle import LANGUAGE_MODEL_SIGNATURE, pack_bundle
    from training.files import check_writable, write_atomic

    folder = ModelFolder(model_dir)
    model = load_lm(folder.path)
    out = Path(out_dir) if out_dir else folder.tflite_dir
    check_writable(out)
    written = {}
    for variant in variants:
        representative = None
        if variant_of(variant).calibrated:   # int8: training reviews, never the held-out ones
            representative = lm_representative(model, _training_sequences(folder))
        flatbuffer = convert_language_model(model, variant, representative)
        config = bundle_config(folder, model, variant, [model.config.max_length], LANGUAGE_MODEL_SIGNATURE,
                               decoder=decoder_layout(model))
        path = folder.tflite(variant, out)
        write_atomic(path, pack_bundle(flatbuffer, config, folder.vocab_text(), []))
        written[variant] = path
    return written


def _training_sequences(folder: ModelFolder) -> list:
    """The language model's own training reviews as token ids (its train_config's split)."""
    import json

    from training.train_lm import LMConfig, lm_data

    config = LMConfig.from_dict(json.loads(folder.train_config_path.read_text()))
    config.text_limit = config.text_limit or 2000   # calibration needs a few dozen reviews, not all 75,000
    return lm_data(config, folder.tokenizer(), None, Path("runs/cache/lm-calibration"), progress=False).train_sequences
