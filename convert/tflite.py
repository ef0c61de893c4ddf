"""Keras model -> ``.tflite`` bytes, BUILTIN ops only.

The Keras 3 path: ``model.export(dir)`` writes a SavedModel with a fixed input signature, then
``tf.lite.TFLiteConverter.from_saved_model(dir)`` converts it. ``supported_ops`` is limited to
``TFLITE_BUILTINS``: a model that would need Flex (Select TF ops) kernels fails here, at
conversion, instead of on a device whose runtime lacks them.
"""

from __future__ import annotations

import tempfile

import tensorflow as tf

VARIANTS = ("float32", "float16", "dynamic", "int8")


class ConversionError(RuntimeError):
    """The converter refused the model; the message says why and what to change."""


def convert_keras_model(model, seq_len: int, variant: str = "float32",
                        representative_dataset=None) -> bytes:
    """Convert ``model`` for token-id inputs of shape (1, seq_len) to a ``.tflite`` flatbuffer.

    Args:
        variant: ``float32``; ``float16`` (weights in float16); ``dynamic`` (int8 weights,
            float activations); ``int8`` (full integer, needs ``representative_dataset``).
        representative_dataset: for ``int8``, a callable yielding ``[token_ids]`` samples.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, input_signature=[tf.TensorSpec([1, seq_len], tf.int32)], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        configure_converter(converter, variant, representative_dataset)
        try:
            return converter.convert()
        except Exception as error:  # the converter raises ConverterError and friends
            raise ConversionError(conversion_hint(error)) from error


def configure_converter(converter, variant: str, representative_dataset=None) -> None:
    """Set the converter's ops and optimizations for one variant."""
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        if representative_dataset is None:
            raise ValueError("int8 conversion needs a representative dataset of training reviews")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]


def conversion_hint(error: Exception) -> str:
    text = str(error).strip().splitlines()
    first = next((line for line in text if "op" in line.lower()), text[0] if text else repr(error))
    if "Flex" in str(error) or "Select TF" in str(error) or "not supported" in str(error):
        return (f"the model needs an op that TFLite has no BUILTIN kernel for ({first.strip()}); "
                "Flex (Select TF) ops would not run on ai-edge-litert or tflite-runtime, so change the "
                "model to use builtin ops")
    return f"TFLite conversion failed: {first.strip()}"


def op_names(flatbuffer: bytes) -> set[str]:
    """The operator names inside a ``.tflite`` flatbuffer (read with the edge interpreter)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    return {op["op_name"] for op in interpreter._get_ops_details()}
