"""``sparse-edge parity``: what conversion cost, measured on a whole split.

The Keras float model is the reference. Every ``.tflite`` variant runs through
:class:`edge_runtime.TextClassifier` itself (its tokenizer, padding and interpreter wrapper are
what a device runs), one review at a time on one thread, and is compared with the reference
review by review. ``MODEL_DIR/parity.json`` holds the numbers, ``MODEL_DIR/parity.md`` a table
and the verdict; the command's exit status says whether every threshold held.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from convert.variants import EDGE, FULL_INTEGER, REFERENCE, names, thresholds_sentence, variant as variant_of
from training.evaluate import classification_metrics
from training.files import write_json_atomic, write_text_atomic
from training.saved import ModelFolder

SAMPLE = 32   # reviews whose probabilities parity.json keeps, per variant


def compare(reference: np.ndarray, probs: np.ndarray, labels: np.ndarray, ids: list) -> dict:
    """Accuracy and agreement of ``probs`` against the reference (both (n, classes))."""
    ref_pred, pred = reference.argmax(1), probs.argmax(1)
    diff = np.abs(probs - reference)
    flipped = np.flatnonzero(ref_pred != pred)
    accuracy, ref_accuracy = float((pred == labels).mean()), float((ref_pred == labels).mean())
    # the paired difference per review (+1 the variant alone right, -1 the reference alone): its standard
    # error says how far the delta on a sample may sit from the delta on the whole split
    gained = (pred == labels).astype(float) - (ref_pred == labels)
    standard_error = float(gained.std(ddof=1) / np.sqrt(len(gained))) if len(gained) > 1 else 0.0
    return {
        "accuracy": accuracy,
        "macro_f1": classification_metrics(labels, probs, [str(c) for c in range(probs.shape[1])])["macro_f1"],
        "delta_accuracy_pp": round((accuracy - ref_accuracy) * 100, 4),
        "delta_accuracy_se_pp": round(standard_error * 100, 4),
        "agreement": float((ref_pred == pred).mean()),
        "max_abs_prob_diff": float(diff.max()),
        "mean_abs_prob_diff": float(diff.mean()),
        "flipped": [_flip(i, ids, labels, reference, probs) for i in flipped],
    }


def _flip(i: int, ids, labels, reference: np.ndarray, probs: np.ndarray) -> dict:
    """One row whose predicted label the variant changed: P(label 1) with two labels, else both distributions."""
    row = {"id": str(ids[i]), "label": int(labels[i])}
    if reference.shape[1] == 2:
        return {**row, "reference_prob_positive": float(reference[i, 1]), "variant_prob_positive": float(probs[i, 1])}
    return {**row, "reference_probabilities": [round(float(p), 6) for p in reference[i]],
            "variant_probabilities": [round(float(p), 6) for p in probs[i]]}


def _sample(variant: str, review_id, probs: np.ndarray) -> dict:
    """A kept row of probabilities: ``prob_positive`` with two labels (as parity.json always had), else all."""
    if len(probs) == 2:
        return {"variant": variant, "id": str(review_id), "prob_positive": float(probs[1])}
    return {"variant": variant, "id": str(review_id), "probabilities": [float(p) for p in probs]}


def check(variant: str, row: dict, float32_size: int | None, integer_bytes: int = 0) -> list[str]:
    """The thresholds ``row`` misses, as sentences (empty: all met)."""
    v = variant_of(variant)
    limits, failures = v.thresholds, []
    if "min_agreement" in limits and row["agreement"] < limits["min_agreement"]:
        failures.append(f"agreement {row['agreement']:.4%} < {limits['min_agreement']:.1%}")
    if "max_abs_prob_diff" in limits and row["max_abs_prob_diff"] > limits["max_abs_prob_diff"]:
        failures.append(f"max |dp| {row['max_abs_prob_diff']:.2e} > {limits['max_abs_prob_diff']:.0e}")
    if "max_abs_delta_pp" in limits and abs(row["delta_accuracy_pp"]) > limits["max_abs_delta_pp"]:
        failures.append(f"|delta accuracy| {abs(row['delta_accuracy_pp']):.2f} pp > {limits['max_abs_delta_pp']} pp")
    if v.max_size_ratio and float32_size:
        ratio = (row["size_bytes"] - integer_bytes) / (float32_size - integer_bytes)
        if ratio > v.max_size_ratio:
            failures.append(f"size {ratio:.1%} of {REFERENCE} > {v.max_size_ratio:.0%}"
                            + (" (integer tables left out)" if integer_bytes else ""))
    return failures


def run_variant(path: Path, texts: list[str], progress: bool = True, backend: str = "auto"):
    """(probabilities (n, classes), latencies in ms, classifier) of one .tflite over ``texts``."""
    from tqdm import tqdm

    from edge_runtime import TextClassifier

    classifier = TextClassifier(path, num_threads=1, backend=backend)
    classifier.max_length = classifier.trained_length   # judged as the Keras model reads: cut where it cuts
    probs = np.zeros((len(texts), len(classifier.labels)), dtype=np.float32)
    latency = np.zeros(len(texts))
    for i, text in enumerate(tqdm(texts, desc=path.stem, unit="review", disable=not progress, leave=False)):
        result = classifier.classify(text)
        probs[i], latency[i] = result.probabilities, result.latency_ms
    return probs, latency, classifier


def run_parity(model_dir: str | Path, split: str = "test", variants: list[str] | None = None,
               limit: int | None = None, data_dir: str | None = None, manual_dir: str | None = None,
               progress: bool = True, write: bool = True, tflite_dir: str | Path | None = None,
               out_dir: str | Path | None = None, data=None) -> dict:
    """Compare the Keras model and each ``<variant>.tflite`` on ``split``.

    The files are read from ``tflite_dir`` (default ``MODEL_DIR/tflite``); ``parity.json`` and
    ``parity.md`` are written to ``out_dir`` (default ``MODEL_DIR``). The data is the folder's own
    (``data.json``, split as in training) unless ``data`` (a ``training.sources.DataSpec``) names other
    data with the same labels.
    """
    import tensorflow as tf

    from training.evaluate import predict_probabilities
    from training.sources import data_for_folder

    folder = ModelFolder(model_dir)
    model, tokenizer, train_config = folder.load()
    tflite_dir = Path(tflite_dir) if tflite_dir else folder.tflite_dir
    variants = variants or [v for v in names(EDGE) if folder.tflite(v, tflite_dir).exists()]
    missing = [v for v in variants if not folder.tflite(v, tflite_dir).exists()]
    if missing or not variants:
        raise ValueError(f"no {', '.join(missing) or 'converted'} .tflite in {tflite_dir}; run "
                         f"`sparse-edge convert {folder.path}` first")
    source = data_for_folder(folder, data_dir, manual_dir, override=data)
    reviews = source.load(split, limit=limit)
    reference = predict_probabilities(model, tokenizer, reviews, train_config, progress=progress)
    report = {"split": split, "n": len(reviews), "data": source.spec.source, "labels": source.labels,
              "reference": {"model": "keras float32", "accuracy": float((reference.argmax(1) == reviews.labels).mean())},
              "variants": {}, "versions": {"tensorflow": tf.__version__}, "failures": {},
              "sample": [_sample("keras", reviews.ids[i], reference[i]) for i in range(min(SAMPLE, len(reviews)))]}
    float32 = folder.tflite(REFERENCE, tflite_dir)
    float32_size = float32.stat().st_size if float32.exists() else None
    report["integer_table_bytes"] = _integer_bytes(float32)
    for variant in variants:
        path = folder.tflite(variant, tflite_dir)
        probs, latency, classifier = run_variant(path, reviews.texts, progress)
        row = compare(reference, probs, reviews.labels, reviews.ids)
        row.update(size_bytes=path.stat().st_size,
                   size_vs_float32=round(path.stat().st_size / float32_size, 4) if float32_size else None,
                   latency_ms_p50=float(np.percentile(latency, 50)), latency_ms_p95=float(np.percentile(latency, 95)),
                   float_nodes=classifier.config.float_nodes)
        report["variants"][variant] = row
        # the first reviews' probabilities, so a device can check it computes what was measured here
        report["sample"].extend(_sample(variant, reviews.ids[i], probs[i]) for i in range(min(SAMPLE, len(reviews))))
        report["versions"]["runtime"] = f"{classifier.backend} {classifier.backend_version}"
        failures = check(variant, row, float32_size, report["integer_table_bytes"])
        if failures:
            report["failures"][variant] = failures
    report["passed"] = not report["failures"]
    if write:
        out = ModelFolder(out_dir) if out_dir else folder
        debug = next((p for p in (tflite_dir / ModelFolder.QUANT_DEBUG, folder.quant_debug_path) if p.exists()), None)
        write_json_atomic(out.parity_path, report)
        write_text_atomic(out.parity_markdown_path, parity_markdown(report, folder, debug))
    return report


def _integer_bytes(float32: Path) -> int:
    from convert.tflite import integer_table_bytes
    from edge_runtime.bundle import read_bundle

    return integer_table_bytes(read_bundle(float32.read_bytes()).flatbuffer) if float32.exists() else 0


def recheck(model_dir: str | Path) -> dict:
    """Judge a recorded ``parity.json`` against the current thresholds again (no inference is rerun).

    The files there must be the ones parity measured (same sizes); a folder may ship only some of them
    (artifacts/imdb-classifier has no float32 file: its recorded integer-table bytes are kept). ``parity.json``
    and ``parity.md`` are rewritten with the verdict.
    """
    folder = ModelFolder(model_dir)
    report = json.loads(folder.parity_path.read_text())
    for variant, row in report["variants"].items():
        if folder.tflite(variant).exists() and folder.tflite(variant).stat().st_size != row["size_bytes"]:
            raise ValueError(f"{folder.tflite(variant)} changed since parity measured it; run `sparse-edge parity "
                             f"{folder.path}` again")
    float32 = folder.tflite(REFERENCE)
    if float32.exists():
        report["integer_table_bytes"] = _integer_bytes(float32)
    float32_size = report["variants"][REFERENCE]["size_bytes"]
    report["failures"] = {v: f for v, row in report["variants"].items()
                          if (f := check(v, row, float32_size, report["integer_table_bytes"]))}
    report["passed"] = not report["failures"]
    write_json_atomic(folder.parity_path, report)
    write_text_atomic(folder.parity_markdown_path, parity_markdown(report, folder))
    return report


def parity_markdown(report: dict, folder: ModelFolder, debug: Path | None = None) -> str:
    lines = [f"# Parity: {folder.path.name}, {report['n']:,} {report['split']} reviews", "",
             f"Reference: Keras float32, accuracy {report['reference']['accuracy']:.2%}. "
             f"TFLite through `edge_runtime` ({report['versions'].get('runtime')}), 1 thread, one review "
             f"at a time. Reproduce: `sparse-edge parity {folder.path} --split {report['split']}`.", "",
             "| variant | accuracy | Δ accuracy (pp) | agreement | max abs Δp | mean abs Δp | size (MB) | "
             "size vs float32 | p50 ms | p95 ms | flipped | thresholds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for variant, row in report["variants"].items():
        failures = report["failures"].get(variant)
        lines.append(
            f"| {variant} | {row['accuracy']:.2%} | {row['delta_accuracy_pp']:+.2f} | {row['agreement']:.2%} | "
            f"{row['max_abs_prob_diff']:.2e} | {row['mean_abs_prob_diff']:.2e} | {row['size_bytes'] / 1e6:.2f} | "
            f"{row['size_vs_float32'] if row['size_vs_float32'] is None else format(row['size_vs_float32'], '.1%')} | "
            f"{row['latency_ms_p50']:.1f} | {row['latency_ms_p95']:.1f} | {len(row['flipped'])} | "
            f"{'FAIL: ' + '; '.join(failures) if failures else 'met'} |")
    lines += ["", f"Thresholds: {thresholds_sentence()}"
              + (f", not counting the {report['integer_table_bytes'] / 1e6:.2f} MB of integer tables every "
                 "variant stores as they are (the n-gram fingerprints)" if report.get("integer_table_bytes") else "")
              + ".", ""]
    errors = [f"{v} ±{row['delta_accuracy_se_pp']:.2f}" for v, row in report["variants"].items()
              if "delta_accuracy_se_pp" in row]
    if errors:   # reports measured before the standard error was recorded have none
        lines += [f"Sampling error of Δ accuracy on these {report['n']:,} reviews (one standard error of the paired "
                  f"difference, pp): {', '.join(errors)}.", ""]
    lines += ["**Verdict: " + ("every threshold met.**" if report["passed"] else "thresholds missed (see table).**")]
    debug = debug or folder.quant_debug_path
    if FULL_INTEGER in report["variants"] and debug.exists():
        lines += ["", f"## {FULL_INTEGER}: what the QuantizationDebugger found", "",
                  int8_conclusion(debug, report["variants"][FULL_INTEGER])]
    return "\n".join(lines) + "\n"


# what a quantized op of this model computes, and why int8 hurts it
OP_MEANINGS = {
    "BATCH_MATMUL": "the attention products (softmax weights have a 1/256 int8 step and most of a query's "
                    "weights are smaller, so they round away)",
    "RSQRT": "the layer norms' 1/sqrt(variance) (a wide range squeezed into 256 steps)",
    "SQUARED_DIFFERENCE": "the layer norms' variance",
    "MEAN": "the layer norms' means and the pooling",
    "SOFTMAX": "the attention softmax",
}


def _error_sources(worst: list[dict]) -> str:
    """The distinct kinds of op among the worst rows, in words."""
    kinds = list(dict.fromkeys(r["op_name"] for r in worst))
    return " and ".join(OP_MEANINGS.get(kind, f"{kind} ops") for kind in kinds)


def int8_conclusion(debug_csv: Path, row: dict) -> str:
    """The per-op error table's worst rows and what was done about them, in words."""
    import csv

    with open(debug_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    worst = sorted(rows, key=lambda r: -float(r["rmse_over_scale"]))[:6]
    table = ["| op | output tensor | rmse / scale |", "|---|---|---:|"]
    table += [f"| {r['op_name']} | `{r['tensor_name'].split(';')[0][-70:]}` | {float(r['rmse_over_scale']):.2f} |"
              for r in worst]
    above = sum(float(r["rmse_over_scale"]) > 0.7 for r in rows)
    return "\n".join([
        f"Per-op errors of a fully quantized model, in quantization steps (`{debug_csv.name}`, {len(rows)} ops; "
        f"{above} above the TFLite guide's 0.7). The worst:", "", *table, "",
        f"Conclusion: the error is carried by {_error_sources(worst[:3])}. Kept in float (selective "
        "quantization, every signature; `convert/debug.py: float_nodes`): the ops above 0.7, the softmaxes, "
        "the pooling's division (no int8 DIV in tflite-runtime 2.14) and, for speed on XNNPACK, every op other "
        f"than the fully connected layers and the embedding lookups: {len(row.get('float_nodes', []))} ops. "
        "The additive attention mask is -30, not -1e9, so the scores keep a usable int8 scale. Result above: "
        f"{row['delta_accuracy_pp']:+.2f} pp accuracy and {row['agreement']:.2%} agreement with the float model."])


def write_markdown(model_dir: str | Path) -> None:
    """Rewrite ``parity.md`` from ``parity.json`` (and ``quant_debug.csv``) without rerunning parity."""
    folder = ModelFolder(model_dir)
    report = json.loads(folder.parity_path.read_text())
    write_text_atomic(folder.parity_markdown_path, parity_markdown(report, folder))
