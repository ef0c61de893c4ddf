"""Where full-integer quantization hurts: TFLite's QuantizationDebugger, per layer.

For each quantized op the debugger runs the float and the int8 model side by side and reports
the error of the op's output. ``rmse / scale`` says how many quantization steps the error is:
the TFLite guide keeps ops above about 0.7 in float. For this model the worst are the
attention-weighted sums (softmax probabilities, which need a fine scale near 0, times values)
and the layer norms' variance (squares of activations with outliers). ``float_nodes`` turns the
table into the list of ops selective quantization keeps in float.
"""

from __future__ import annotations

import csv
import io
import warnings
import tempfile
from pathlib import Path

import numpy as np

from convert.variants import FULL_INTEGER

from edge_runtime.quiet import native_stderr_silenced

THRESHOLD = 0.7
# SOFTMAX: see float_nodes. DIV (the mean pooling's division by the token count): tflite-runtime
# 2.14 has no int8 DIV kernel ("Div only supports FLOAT32, INT32 and quantized UINT8").
ALWAYS_FLOAT = ("SOFTMAX", "DIV")
COLUMNS = ["op_name", "tensor_name", "rmse_over_scale", "scale", "zero_point", "mean_squared_error",
           "max_abs_error", "mean_error", "num_elements"]


def layer_errors(model, length: int, samples: list[np.ndarray], debug_samples: int = 16) -> list[dict]:
    """Per-op error rows of the int8 model at input ``length``, worst first."""
    import tensorflow as tf

    from convert.tflite import configure_converter

    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, input_signature=[tf.TensorSpec([1, length], tf.int32)], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        configure_converter(converter, FULL_INTEGER, lambda: ([ids] for ids in samples))
        with native_stderr_silenced(), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # the debugger's nanmean of ops it could not compare
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=lambda: ([ids] for ids in samples[:debug_samples]))
            debugger.run()
    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    buffer.seek(0)
    rows = []
    for row in csv.DictReader(buffer):
        scale = float(row["scale"])
        ratio = float(np.sqrt(float(row["mean_squared_error"])) / scale) if scale else 0.0
        rows.append({**{k: row.get(k) for k in COLUMNS if k in row}, "rmse_over_scale": round(ratio, 4)})
    rows.sort(key=lambda r: -r["rmse_over_scale"])
    return rows


def float_nodes(rows: list[dict], threshold: float = THRESHOLD) -> list[str]:
    """Ops to keep in float; the int8 file keeps its integer arithmetic where it is fast and accurate.

    Three reasons, each measured on the shipped classifier:

    1. accuracy: ops whose int8 error is above ``threshold`` quantization steps (the debugger's
       rule), and every SOFTMAX: its own error looks small (about 0.4 steps) because its int8
       step is 1/256, but a query sees hundreds of keys, most weighing less than 1/256, so they
       round away and the weighted sum after it is 4-15 steps off;
    2. portability: DIV (the mean pooling) - tflite-runtime 2.14 has no int8 DIV kernel;
    3. speed: only FULLY_CONNECTED layers (the projections and feed-forward layers, nearly all the
       weights and multiply-adds) and the embedding lookups stay int8. XNNPACK runs those fast,
       but for int8 layer norms, batch matmuls, gathers and element-wise ops it falls back to
       slower kernels, and the file became several times slower per review than with them in float.
    """
    def integer(row):
        lookup = "embedding" in row["tensor_name"] or "ngram" in row["tensor_name"]
        return row["op_name"] == "FULLY_CONNECTED" or (row["op_name"] == "GATHER" and lookup)

    return [row["tensor_name"] for row in rows
            if row["rmse_over_scale"] > threshold or row["op_name"] in ALWAYS_FLOAT or not integer(row)]


def write_rows(rows: list[dict], path: Path) -> None:
    from training.files import write_atomic

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(Path(path), buffer.getvalue().encode())
