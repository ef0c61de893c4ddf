"""Language-model folder -> ``MODEL_DIR/tflite/<variant>.tflite`` with one ``next_token`` signature.

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
    with tempfile.TemporaryDirectory() as saved:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("next_token", tf.function(lambda ids, position: {"logits": model.next_token_logits(ids, position)}),
                             input_signature=[tf.TensorSpec([1, n], tf.int32, name="token_ids"),
                                              tf.TensorSpec([1], tf.int32, name="position")])
        archive.write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=["next_token"])
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
        config = bundle_config(folder, model, variant, [model.config.max_length], LANGUAGE_MODEL_SIGNATURE)
        path = folder.tflite(variant, out)
        write_atomic(path, pack_bundle(flatbuffer, config, folder.vocab_text(), []))
        written[variant] = path
    return written
