"""Keras model -> ``.tflite`` bytes, BUILTIN ops only.

The Keras 3 path: ``model.export(dir)`` writes a SavedModel with a fixed input signature, then
``tf.lite.TFLiteConverter.from_saved_model(dir)`` converts it. ``supported_ops`` is limited to
``TFLITE_BUILTINS``: a model that would need Flex (Select TF ops) kernels fails here, at
conversion, instead of on a device whose runtime lacks them.
"""

from __future__ import annotations

import tempfile
import warnings

import numpy as np
import tensorflow as tf

from edge_runtime.classifier import signature_key
from convert.variants import EDGE, REFERENCE, names, variant as variant_of
from edge_runtime.quiet import native_stderr_silenced

VARIANTS = tuple(names(EDGE))   # convert/variants.py owns them
# int8 calibration runs TensorFlow's own (deprecated) interpreter; its warning is not for our users
warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")


class ConversionError(RuntimeError):
    """The converter refused the model; the message says why and what to change."""


def convert_keras_model(model, seq_len: int, variant: str = REFERENCE,
                        representative_dataset=None) -> bytes:
    """Convert ``model`` for token-id inputs of shape (1, seq_len) to a ``.tflite`` flatbuffer.

    Args:
        variant: a name of ``convert.variants`` (float32, float16, dynamic, int8, ...).
        representative_dataset: for a calibrated variant (int8), a callable yielding ``[token_ids]`` samples.
    """
    variant_of(variant)
    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, input_signature=[tf.TensorSpec([1, seq_len], tf.int32)], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        configure_converter(converter, variant, representative_dataset)
        try:
            with native_stderr_silenced():
                return converter.convert()
        except Exception as error:  # the converter raises ConverterError and friends
            raise ConversionError(conversion_hint(error)) from error


def convert_multi_length(model, lengths: list[int], variant: str = REFERENCE,
                         representative_dataset=None, denylisted_nodes: list[str] | None = None) -> bytes:
    """One ``.tflite`` with a signature per input length (``len_128``, ...) sharing one set of weights.

    The classifier's block layout is fixed per length, so a dynamic length is not an option;
    several static signatures let a short review run at a short length. The batch dimension is
    left open: the runtime resizes the input to classify several reviews of one length in one
    invoke (``TextClassifier.classify_batch``). The weights are variables of one tracked model,
    so the converter stores them once.

    Args:
        representative_dataset: for ``int8``, a callable yielding ``(signature_key, {"token_ids": ids})``.
        denylisted_nodes: for ``int8``, names of ops (output tensor names) kept in float
            (selective quantization, chosen with the QuantizationDebugger).
    """
    import keras

    calibrated = variant_of(variant).calibrated
    with tempfile.TemporaryDirectory() as saved:
        archive = keras.export.ExportArchive()
        archive.track(model)
        for n in lengths:
            archive.add_endpoint(signature_key(n), tf.function(lambda ids: {"probabilities": model(ids, training=False)}),
                                 input_signature=[tf.TensorSpec([None, n], tf.int32, name="token_ids")])
        archive.write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[signature_key(n) for n in lengths])
        configure_converter(converter, variant, representative_dataset)
        try:
            with native_stderr_silenced():
                if calibrated and denylisted_nodes:
                    flatbuffer = selectively_quantize(converter, every_signature(denylisted_nodes, len(lengths)))
                else:
                    flatbuffer = converter.convert()
        except Exception as error:  # the converter raises ConverterError and friends
            raise ConversionError(conversion_hint(error)) from error
    return compact(flatbuffer, _embedding_tables(model) if calibrated else [])


def every_signature(nodes: list[str], signatures: int) -> list[str]:
    """Node names as they appear in each signature's subgraph.

    The converter names the ops of the first subgraph after the TensorFlow graph
    (``.../attention_1/Softmax``) and appends the subgraph index to those of the others
    (``.../attention_1/Softmax1``, ``Softmax2``, ...); a denylist must name them all.
    tests/test_convert.py checks that every subgraph's listed ops end up in float.
    """
    return [name + (str(i) if i else "") for name in nodes for i in range(signatures)]


def selectively_quantize(converter, denylisted_nodes: list[str]) -> bytes:
    """Calibrate, then quantize everything except ``denylisted_nodes`` (they stay float32).

    The same two steps ``tf.lite.experimental.QuantizationDebugger`` uses for its
    ``denylisted_nodes`` option, applied to a converter with several signatures.
    """
    from tensorflow.lite.python import convert as lite_convert

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    return lite_convert.mlir_quantize(calibrated, disable_per_channel=True, fully_quantize=False,
                                      denylisted_nodes=list(denylisted_nodes))


def _embedding_tables(model) -> list[np.ndarray]:
    """Every lookup table of the model: token and position tables (each member's, for an ensemble)
    and a hybrid's n-gram weights."""
    tables = []
    for member in getattr(model, "members", [model]):
        embedding = member.embedding
        tables.append(np.asarray(embedding.tokens))
        if hasattr(embedding.positions, "shape"):
            tables.append(np.asarray(embedding.positions))
    if hasattr(model, "ngrams"):
        tables.append(np.asarray(model.ngrams.table))
    return tables


def compact(flatbuffer: bytes, tables: list[np.ndarray], tied: bool = False) -> bytes:
    """Drop tensor names and, for int8, share one copy of each embedding table between signatures.

    Tensor names are for debugging only (signatures keep their own input and output names);
    with six signatures of ~250 tensors each they cost about 0.5 MB, a quarter of an int8 file.
    ``tied``: the table is also the output projection (a language model): its GATHERs read the
    projection's int8 weights instead of a copy of their own (``tie_gather_tables``).
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    if tables and tied:
        tie_gather_tables(model, tables)
    elif tables:
        share_gather_tables(model, tables)
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.name = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def share_gather_tables(model, tables: list[np.ndarray]) -> None:
    """Give every signature of a parsed int8 model the same copy of each embedding table.

    Full-integer calibration quantizes a GATHER's table with the range its output showed during
    calibration, so each signature (calibrated on different reviews) gets its own copy: six
    signatures, six 1.5 MB token tables. Here each table is quantized once over its full range
    (no token is clipped, whatever calibration saw) and every signature's GATHER reads that
    one buffer. A GATHER copies bytes, so its output takes the same scale and zero point.
    An ensemble has several tables of one shape; each GATHER's table is matched to the float
    table its values correlate with best.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    gather = [i for i, code in enumerate(model.operatorCodes)
              if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.GATHER]
    shared: dict[int, int] = {}   # index in ``tables`` -> buffer index
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if op.opcodeIndex not in gather:
                continue
            table, output = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
            shape = tuple(int(d) for d in table.shape)
            candidates = [i for i, t in enumerate(tables) if t.shape == shape]
            if table.type != schema.TensorType.INT8 or not candidates:
                continue
            if len(candidates) > 1:
                stored = np.asarray(model.buffers[table.buffer].data, np.uint8).view(np.int8).astype(np.float64)
                candidates.sort(key=lambda i: -abs(np.corrcoef(stored, tables[i].ravel())[0, 1]))
            source = candidates[0]
            values = tables[source].astype(np.float64)
            low, high = min(values.min(), 0.0), max(values.max(), 0.0)
            scale = (high - low) / 255.0
            zero_point = int(np.clip(round(-128 - low / scale), -128, 127))
            if source not in shared:
                quantized = np.clip(np.round(values / scale) + zero_point, -128, 127).astype(np.int8)
                model.buffers[table.buffer].data = quantized.view(np.uint8).ravel()
                shared[source] = table.buffer
            else:
                table.buffer = shared[source]
            for tensor in (table, output):
                tensor.quantization.scale = [float(scale)]
                tensor.quantization.zeroPoint = [zero_point]
    # buffers no tensor reads any more (the per-signature copies) become empty
    used = {tensor.buffer for subgraph in model.subgraphs for tensor in subgraph.tensors}
    for index, buffer in enumerate(model.buffers):
        if index not in used:
            buffer.data = None


def tie_gather_tables(model, tables: list[np.ndarray]) -> None:
    """A full-integer language model whose token table is also its output projection: every GATHER of
    the table reads the projection's int8 weights (symmetric, zero point 0), one copy in the file.

    Calibration stores the GATHER's table again with an activation's scale and zero point; a GATHER
    copies bytes, so its output takes the weights' scale instead and the rest of the graph reads it
    through that tensor's own quantization.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    codes = {i: max(c.builtinCode, c.deprecatedBuiltinCode) for i, c in enumerate(model.operatorCodes)}
    shapes = {tuple(t.shape) for t in tables}
    weights = {}   # shape -> (buffer, scale) of an int8 FULLY_CONNECTED weight of a table's shape
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if codes[op.opcodeIndex] == schema.BuiltinOperator.FULLY_CONNECTED:
                w = subgraph.tensors[op.inputs[1]]
                shape = tuple(int(d) for d in w.shape)
                if shape in shapes and w.type == schema.TensorType.INT8 and w.quantization is not None \
                        and len(w.quantization.scale) == 1 and list(w.quantization.zeroPoint) == [0]:
                    weights[shape] = (w.buffer, float(w.quantization.scale[0]))
    if not weights:   # nothing to tie to: fall back to one shared table
        share_gather_tables(model, tables)
        return
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if codes[op.opcodeIndex] != schema.BuiltinOperator.GATHER:
                continue
            table, output = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
            shape = tuple(int(d) for d in table.shape)
            if table.type != schema.TensorType.INT8 or shape not in weights:
                continue
            table.buffer, scale = weights[shape]
            for tensor in (table, output):
                tensor.quantization.scale, tensor.quantization.zeroPoint = [scale], [0]
    used = {tensor.buffer for subgraph in model.subgraphs for tensor in subgraph.tensors}
    for index, buffer in enumerate(model.buffers):
        if index not in used:
            buffer.data = None


def configure_converter(converter, variant: str, representative_dataset=None) -> None:
    """Set the converter's ops and optimizations from the variant's row of ``convert.variants``."""
    v = variant_of(variant)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if v.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if v.float16_weights:
        converter.target_spec.supported_types = [tf.float16]
    if v.per_tensor_scales:
        # one scale per weight tensor: per-channel dynamic-range weights need FULLY_CONNECTED
        # version 12, which tflite-runtime 2.14 lacks, and each signature stores its own int8
        # parameters (per-channel ones, with int64 zero points, cost ~45 kB per signature)
        converter._experimental_disable_per_channel = True
    if v.calibrated:
        if representative_dataset is None:
            raise ValueError(f"{v.name} conversion needs a representative dataset of training reviews")
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]


def conversion_hint(error: Exception) -> str:
    """One line: what the converter refused and what to change."""
    import re

    message = str(error)
    ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message)))
    if ops or "flex" in message.lower() or "Select TF" in message:
        named = ", ".join(ops) if ops else "an op"
        return (f"the model needs TensorFlow op(s) {named} with no TFLite BUILTIN kernel; Flex (Select TF) "
                "ops would not run on ai-edge-litert or tflite-runtime, so change the model to use "
                "builtin ops")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return f"TFLite conversion failed: {lines[0] if lines else type(error).__name__}"


def integer_table_bytes(flatbuffer: bytes) -> int:
    """Bytes of the constant INT8 tensors of a float32 flatbuffer: integer data (a hybrid's n-gram
    fingerprints) that every variant stores as it is, so quantization cannot shrink it."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    buffers = {tensor.buffer for subgraph in model.subgraphs for tensor in subgraph.tensors
               if tensor.type == schema.TensorType.INT8}
    return sum(len(model.buffers[b].data) for b in buffers if model.buffers[b].data is not None)


def size_breakdown(flatbuffer: bytes) -> dict:
    """Where a flatbuffer's bytes go: constant tensors (weights, tables) and the graph itself (operators,
    tensor descriptions, quantization parameters), once per signature. A small model with many input
    lengths is mostly graph, which quantizing the weights cannot shrink."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    constants = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data
            if data is not None and len(data):
                float_type = tensor.type in (schema.TensorType.FLOAT32, schema.TensorType.FLOAT16)
                constants[tensor.buffer] = (len(data), float_type)
    constant_bytes = sum(n for n, _ in constants.values())
    return {"constant_bytes": constant_bytes,
            "float_constant_bytes": sum(n for n, is_float in constants.values() if is_float),
            "graph_bytes": len(flatbuffer) - constant_bytes,
            "signatures": len(model.subgraphs),
            "operators": sum(len(subgraph.operators or []) for subgraph in model.subgraphs)}


def op_names(flatbuffer: bytes) -> set[str]:
    """The operator names inside a ``.tflite`` flatbuffer (read with the edge interpreter)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    return {op["op_name"] for op in interpreter._get_ops_details()}
