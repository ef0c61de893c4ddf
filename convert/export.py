"""``sparse-edge convert``: a trained model folder -> ``MODEL_DIR/tflite/<variant>.tflite``.

Each file is the whole deployable model: the flatbuffer (one signature per input length) plus
``config.json``, ``vocab.txt`` and ``labels.txt`` in a zip appended after it
(:mod:`edge_runtime.bundle`). Files are written to a temporary name and renamed, so an
interrupted conversion never leaves a half-written ``.tflite``.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from convert.representative import representative_reviews, signature_dataset
from convert.tflite import convert_multi_length, size_breakdown
from convert.variants import EDGE, REFERENCE, calibrated_names, parse as parse_variants, variant as variant_of
from edge_runtime.bundle import CLASSIFIER, EDGE_CLASSIFIER, LANGUAGE_MODEL, BundleConfig, Signatures, pack_bundle
from training.files import check_writable, write_atomic, write_json_atomic
from training.saved import LANGUAGE_MODEL as LM_KIND
from training.saved import ModelFolder


def bundle_config(folder: ModelFolder, model, variant: str, lengths: list[int],
                  signatures: Signatures = EDGE_CLASSIFIER, float_nodes: list[str] = (),
                  decoder: dict | None = None) -> BundleConfig:
    """What the device needs to run one file, and what it came from: the one builder of a bundle's
    config for all three targets (edge classifier files, MediaPipe files, language-model files)."""
    import keras
    import tensorflow as tf

    language_model = folder.kind == LM_KIND
    metrics = folder.metrics() or {}
    keys = ("val_perplexity", "val_bits_per_character") if language_model else ("split", "n", "accuracy", "f1")
    calibrated = variant_of(variant).calibrated
    return BundleConfig(
        kind=LANGUAGE_MODEL if language_model else CLASSIFIER,   # what the device calls it with
        architecture=folder.kind,   # classifier, ensemble, hybrid (n-grams + Transformer), language_model
        variant=variant, lengths=tuple(sorted(lengths)), tokenizer=folder.tokenizer_options,
        model=model.config.to_dict(), signatures=signatures,
        quantization={"variant": variant, "float_nodes": list(float_nodes),
                      "calibration": "training reviews (train split minus validation), seeded" if calibrated else None},
        versions={"sparse_edge": _version("sparse-edge"), "tensorflow": tf.__version__, "keras": keras.__version__},
        source_metrics={k: metrics[k] for k in keys if k in metrics} or None, decoder=decoder)


def convert_model_dir(model_dir: str | Path, variants: list[str], out_dir: str | Path | None = None,
                      data_dir: str | None = None, manual_dir: str | None = None,
                      calibration_reviews: int = 64, float_nodes: list[str] | None = None,
                      progress: bool = True, longest: int | None = None,
                      lengths: list[int] | None = None) -> dict[str, Path]:
    """Convert the model in ``model_dir`` to each variant; return variant -> written path.

    A model whose positions are relative (``positional: conv``) also gets signatures past its
    training cut, up to ``longest`` tokens (default 4x ``max_length``): the device reads a long
    document whole (``TransformerConfig.device_lengths``).

    For ``int8``, the QuantizationDebugger first measures every op's int8 error at one input
    length (``MODEL_DIR/quant_debug.csv``) and the ops it flags stay in float (selective
    quantization), unless ``float_nodes`` names them explicitly (``[]``: quantize everything).
    ``lengths`` replaces the model's own input lengths (each a whole number of blocks; the benchmarks'
    one-length files).
    """
    from tqdm import tqdm


    variants = parse_variants(variants, EDGE)
    calibrated = calibrated_names(variants)
    folder = ModelFolder(model_dir)
    model, tokenizer, train_config = folder.load()
    out = Path(out_dir) if out_dir else folder.tflite_dir
    check_writable(out)
    c = model.config
    if lengths is None:
        lengths = c.device_lengths(longest)
    elif any(n % c.length_unit or n < c.length_unit for n in lengths):
        raise ValueError(f"input lengths must be whole numbers of {c.length_unit}-id blocks, got {lengths}")
    vocab_text, labels = folder.vocab_text(), folder.labels

    representative = None
    if calibrated:
        samples = calibration_samples(folder, train_config, tokenizer, lengths, lengths[-1], data_dir,
                                      manual_dir, calibration_reviews)
        representative = signature_dataset(samples)
        if float_nodes is None:
            from convert.debug import float_nodes as flagged, layer_errors, write_rows

            debug_length = max(samples, key=lambda n: (len(samples[n]), -n))  # the best-calibrated length
            rows = layer_errors(model, debug_length, samples[debug_length])
            # beside the files when --out names another folder, so the model folder is not touched
            write_rows(rows, out / ModelFolder.QUANT_DEBUG if out_dir else folder.quant_debug_path)
            float_nodes = flagged(rows)
    float_nodes = float_nodes or []
    previous = out / Path(ModelFolder.CONVERSION).name   # sizes of variants converted earlier are kept
    summary = json.loads(previous.read_text()) if previous.exists() else {}
    summary.setdefault("variants", {})
    written = {}
    for variant in tqdm(variants, desc="convert", unit="variant", disable=not progress):
        nodes = float_nodes if variant in calibrated else []
        flatbuffer = convert_multi_length(model, lengths, variant, representative, nodes or None)
        config = bundle_config(folder, model, variant, lengths, float_nodes=nodes)
        path = folder.tflite(variant, out)
        write_atomic(path, pack_bundle(flatbuffer, config, vocab_text, labels))
        written[variant] = path
        summary["variants"][variant] = {"size_bytes": path.stat().st_size, "flatbuffer_bytes": len(flatbuffer),
                                        **size_breakdown(flatbuffer)}
        if variant == REFERENCE:
            # what sharing weights between the length signatures saves: the same model with one length
            single = len(convert_multi_length(model, [lengths[-1]], variant))
            summary["float32_single_length_flatbuffer_bytes"] = single
            summary["float32_lengths_vs_single_length"] = round(len(flatbuffer) / single, 4)
    summary["lengths"], summary["float_nodes_int8"] = lengths, float_nodes
    write_json_atomic(previous, summary)
    return written


def calibration_samples(folder, train_config, tokenizer, lengths, max_length, data_dir, manual_dir, per_length):
    """Seeded training texts (never validation or test) of the folder's data, for int8 calibration, per
    input length."""
    from training.data import train_validation_split
    from training.sources import data_for_folder

    train_all = data_for_folder(folder, data_dir, manual_dir).load("train", limit=train_config.train_limit)
    train_part, _ = train_validation_split(train_all, train_config.val_fraction, train_config.validation_seed)
    return representative_reviews(train_part.texts, tokenizer, lengths, max_length, per_length,
                                  seed=train_config.seed)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
