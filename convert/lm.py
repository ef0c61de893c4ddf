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

from convert.variants import LANGUAGE_MODEL as LANGUAGE_MODEL_TARGET, REFERENCE, names
from model.saved import ModelFolder

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


def convert_language_model(model, variant: str = REFERENCE) -> bytes:
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
        configure_converter(converter, variant)
        try:
            flatbuffer = converter.convert()
        except Exception as error:  # noqa: BLE001
            raise ConversionError(conversion_hint(error)) from error
    return compact(flatbuffer, [])


def convert_lm_dir(model_dir: str | Path, variants: list[str], out_dir: str | Path | None = None) -> dict[str, Path]:
    from convert.export import bundle_config
    from edge_runtime.bundle import LANGUAGE_MODEL_SIGNATURE, pack_bundle
    from model.files import check_writable, write_atomic

    folder = ModelFolder(model_dir)
    model = load_lm(folder.path)
    out = Path(out_dir) if out_dir else folder.tflite_dir
    check_writable(out)
    written = {}
    for variant in variants:
        flatbuffer = convert_language_model(model, variant)
        config = bundle_config(folder, model, variant, [model.config.max_length], LANGUAGE_MODEL_SIGNATURE,
                               decoder=decoder_layout(model))
        path = folder.tflite(variant, out)
        write_atomic(path, pack_bundle(flatbuffer, config, folder.vocab_text(), []))
        written[variant] = path
    return written
