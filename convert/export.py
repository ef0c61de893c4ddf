"""``sparse-edge convert``: a trained model folder -> ``MODEL_DIR/tflite/<variant>.tflite``.

Each file is the whole deployable model: the flatbuffer (one signature per input length) plus
``config.json``, ``vocab.txt`` and ``labels.txt`` in a zip appended after it
(:mod:`edge_runtime.bundle`). Files are written to a temporary name and renamed, so an
interrupted conversion never leaves a half-written ``.tflite``.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

from convert.representative import representative_reviews, signature_dataset
from convert.tflite import VARIANTS, convert_multi_length
from edge_runtime.bundle import pack_bundle
from edge_runtime.classifier import TOKENIZER

LABELS = ["negative", "positive"]


def parse_variants(text: str | list[str]) -> list[str]:
    names = [v.strip() for v in (text.split(",") if isinstance(text, str) else text) if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise ValueError(f"unknown variant(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(VARIANTS)}")
    return list(dict.fromkeys(names))


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe.", delete=True)
        probe.close()
    except OSError as error:
        raise ValueError(f"cannot write to {folder} ({error.strerror}); choose a writable --out folder") from None


def bundle_config(model, train_config, variant: str, lengths: list[int], metrics: dict | None,
                  float_nodes: list[str]) -> dict:
    """What the device needs to run the file, and what it came from."""
    import keras
    import tensorflow as tf

    c = model.config
    return {
        "kind": "classifier",
        "variant": variant,
        "max_length": c.max_length,
        "lengths": lengths,
        "tokenizer": TOKENIZER,
        "model": c.to_dict(),
        "labels": LABELS,
        "versions": {"sparse_edge": _version("sparse-edge"), "tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "quantization": {"variant": variant, "float_nodes": float_nodes,
                         "calibration": "training reviews (train split minus validation), seeded"
                         if variant == "int8" else None},
        "source_metrics": {k: metrics[k] for k in ("split", "n", "accuracy", "f1") if k in metrics}
        if metrics else None,
    }


def convert_model_dir(model_dir: str | Path, variants: list[str], out_dir: str | Path | None = None,
                      data_dir: str | None = None, manual_dir: str | None = None,
                      calibration_reviews: int = 64, float_nodes: list[str] | None = None,
                      progress: bool = True) -> dict[str, Path]:
    """Convert the model in ``model_dir`` to each variant; return variant -> written path.

    For ``int8``, the QuantizationDebugger first measures every op's int8 error at one input
    length (``MODEL_DIR/quant_debug.csv``) and the ops it flags stay in float (selective
    quantization), unless ``float_nodes`` names them explicitly (``[]``: quantize everything).
    """
    from tqdm import tqdm

    from model.batching import bucket_lengths
    from model.saved import load_trained

    variants = parse_variants(variants)
    folder = Path(model_dir)
    model, tokenizer, train_config = load_trained(folder)
    out = Path(out_dir) if out_dir else folder / "tflite"
    check_writable(out)
    c = model.config
    lengths = bucket_lengths(c.max_length, c.pattern.block_size)
    metrics_path = folder / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else None
    vocab_text = (folder / "vocab.txt").read_text(encoding="utf-8")

    representative = None
    if "int8" in variants:
        samples = calibration_samples(train_config, tokenizer, lengths, c.max_length, data_dir,
                                      manual_dir, calibration_reviews)
        representative = signature_dataset(samples)
        if float_nodes is None:
            from convert.debug import float_nodes as flagged, layer_errors, write_rows

            debug_length = max(samples, key=lambda n: (len(samples[n]), -n))  # the best-calibrated length
            rows = layer_errors(model, debug_length, samples[debug_length])
            write_rows(rows, folder / "quant_debug.csv")
            float_nodes = flagged(rows)
    float_nodes = float_nodes or []
    previous = out / "conversion.json"   # sizes of variants converted earlier are kept
    summary = json.loads(previous.read_text()) if previous.exists() else {}
    summary.setdefault("variants", {})
    written = {}
    for variant in tqdm(variants, desc="convert", unit="variant", disable=not progress):
        flatbuffer = convert_multi_length(model, lengths, variant, representative,
                                          float_nodes if variant == "int8" else None)
        config = bundle_config(model, train_config, variant, lengths, metrics,
                               float_nodes if variant == "int8" else [])
        path = out / f"{variant}.tflite"
        write_atomic(path, pack_bundle(flatbuffer, config, vocab_text, LABELS))
        written[variant] = path
        summary["variants"][variant] = {"size_bytes": path.stat().st_size, "flatbuffer_bytes": len(flatbuffer)}
        if variant == "float32":
            # what sharing weights between the length signatures saves: the same model with one length
            single = len(convert_multi_length(model, [lengths[-1]], variant))
            summary["float32_single_length_flatbuffer_bytes"] = single
            summary["float32_lengths_vs_single_length"] = round(len(flatbuffer) / single, 4)
    summary["lengths"], summary["float_nodes_int8"] = lengths, float_nodes
    from model.config import write_json_atomic

    write_json_atomic(out / "conversion.json", summary)
    return written


def calibration_samples(train_config, tokenizer, lengths, max_length, data_dir, manual_dir, per_length):
    """Seeded training reviews (never validation or test) for int8 calibration, per input length."""
    from model.data import load_imdb, train_validation_split

    train_all = load_imdb("train", data_dir, manual_dir, limit=train_config.train_limit)
    train_part, _ = train_validation_split(train_all, train_config.val_fraction, train_config.validation_seed)
    return representative_reviews(train_part.texts, tokenizer, lengths, max_length, per_length,
                                  seed=train_config.seed)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
