"""Language-model folder -> ``MODEL_DIR/tflite/<variant>.tflite`` with one ``next_token`` signature.

Same conversion path and single-file convention as the classifier (``convert/export.py``): the
flatbuffer plus ``config.json`` (``kind: language_model``), ``vocab.txt`` and ``labels.txt``
(empty) appended as a zip, written atomically. Variants: ``float32`` and ``dynamic``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

LM_VARIANTS = ("float32", "dynamic")


def load_lm(model_dir: str | Path):
    import keras

    import model.transformer  # noqa: F401 - registers the layers

    folder = Path(model_dir)
    missing = [n for n in ("model.keras", "vocab.txt", "config.json") if not (folder / n).exists()]
    if missing:
        raise ValueError(f"{folder} is not a language-model folder: missing {', '.join(missing)}; "
                         "train one with `sparse-edge train-lm --out DIR`")
    return keras.models.load_model(folder / "model.keras", safe_mode=True)


def convert_language_model(model, variant: str = "float32") -> bytes:
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
    import keras
    import tensorflow as tf

    from convert.export import check_writable, write_atomic
    from edge_runtime.bundle import pack_bundle
    from edge_runtime.classifier import TOKENIZER

    folder = Path(model_dir)
    model = load_lm(folder)
    out = Path(out_dir) if out_dir else folder / "tflite"
    check_writable(out)
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
    written = {}
    for variant in variants:
        flatbuffer = convert_language_model(model, variant)
        config = {"kind": "language_model", "variant": variant, "max_length": model.config.max_length,
                  "tokenizer": TOKENIZER, "model": model.config.to_dict(),
                  "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
                  "source_metrics": {k: metrics[k] for k in ("val_perplexity", "val_bits_per_character") if k in metrics}}
        path = out / f"{variant}.tflite"
        write_atomic(path, pack_bundle(flatbuffer, config, (folder / "vocab.txt").read_text(encoding="utf-8"), []))
        written[variant] = path
    return written
