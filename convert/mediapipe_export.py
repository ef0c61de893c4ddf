"""``sparse-edge convert --target mediapipe``: one-signature files that MediaPipe Tasks can load.

MediaPipe's ``TextClassifier`` (Android, iOS, Python, the web; the TFLite Task Library's
``BertNLClassifier`` has the same contract) runs a model with ONE subgraph whose three int32
inputs of shape [1, L] are BERT's: token ids, an attention mask and segment ids, and reads the
tokenizer (WordPiece vocabulary) and the labels from the file's metadata. So a MediaPipe file is
the classifier wrapped at one length L:

    ids (1, L), mask (1, L), segment_ids (1, L)  ->  probabilities (1, labels)

The mask and segment ids are accepted and ignored (the model derives its mask from the padding id
0, which MediaPipe pads with too). The metadata (``BertTokenizer`` with ``vocab.txt``, the labels)
is written by mediapipe's own metadata writer, which runs in its own virtual environment
(``scripts/mediapipe-venv``; its numpy pin clashes with TensorFlow's), by
``convert/mediapipe_metadata.py``. The project's own associated files (config.json, vocab.txt,
labels.txt, SHA256SUMS) follow as a STORED zip, which both MediaPipe and ``edge_runtime`` read.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from convert.variants import MEDIAPIPE, calibrated_names, names, parse as parse_variants, variant as variant_of
from edge_runtime.bundle import LABELS, MEDIAPIPE_CLASSIFIER, VOCAB, pack_bundle
from edge_runtime.classifier import MEDIAPIPE_INPUTS, MEDIAPIPE_SIGNATURE
from edge_runtime.quiet import native_stderr_silenced
from edge_runtime.tokenizer import MEDIAPIPE_OPTIONS
from training.files import check_writable, write_atomic, write_json_atomic
from training.saved import ModelFolder

REPO = Path(__file__).resolve().parents[1]
MEDIAPIPE_VARIANTS = tuple(names(MEDIAPIPE))   # convert/variants.py owns them
MEDIAPIPE_VERSION = "0.10.21"     # the last release whose metadata writers import (mediapipe.tasks.cc)
VENV = REPO / ".venv-mediapipe"
LENGTH_PERCENTILE = 95


class MediaPipeMissing(RuntimeError):
    """The mediapipe virtual environment is not there; the message has the command that makes it."""


def mediapipe_python(install: bool = True, version: str | None = None) -> Path:
    """The Python of the mediapipe venv; made (``python -m venv`` + ``pip install mediapipe==...``) when
    missing and ``install`` is set; a MediaPipeMissing naming the pip command when that cannot be done.

    ``version``: another mediapipe release to run the TextClassifier with (``parity --mediapipe``), in
    its own ``.venv-mediapipe-<version>``; the default is the release whose metadata writers work."""
    venv = VENV if version in (None, MEDIAPIPE_VERSION) else VENV.with_name(f"{VENV.name}-{version}")
    version = version or MEDIAPIPE_VERSION
    python = venv / "bin" / "python"
    if not python.exists() and install:
        import sys

        print(f"installing mediapipe=={version} into {venv} (its own environment: its numpy pin is not "
              "TensorFlow's)", file=sys.stderr)
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True)
        if made.returncode == 0:
            made = subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"mediapipe=={version}"],
                                  capture_output=True)
        if made.returncode != 0:
            import shutil

            shutil.rmtree(venv, ignore_errors=True)
    if not python.exists():
        raise MediaPipeMissing(f"MediaPipe's metadata writer and TextClassifier run in their own environment, "
                               f"{venv}, which is missing and could not be made here; make it with "
                               f"`python3 -m venv {venv} && {venv}/bin/pip install mediapipe=={version}`"
                               + (" (or scripts/mediapipe-venv)" if venv == VENV else ""))
    return python


def check_mediapipe_tokenizer(folder: ModelFolder) -> None:
    """A ValueError naming the fix unless the folder's tokenizer is one MediaPipe's TextClassifier
    reproduces exactly: WordPiece with MediaPipe's rules (``--tokenizer mediapipe``)."""
    options = folder.tokenizer_options
    if options["kind"] != "wordpiece":
        raise ValueError(f"{folder.path} reads {options['kind']}; MediaPipe's TextClassifier tokenizes with BERT's "
                         "WordPiece and cannot feed it; use --target edge (edge_runtime)")
    if options != MEDIAPIPE_OPTIONS:
        raise ValueError(
            f"{folder.path} was trained with BERT's tokenizer rules ({options}), which MediaPipe's TextClassifier "
            "does not reproduce (it lowercases ASCII only, keeps accents, zero-width and control characters, reads "
            "<br /> as < br / > and ends a text at a NUL), so a phone would label some texts otherwise than "
            "training did; train the model with --tokenizer mediapipe (configs/imdb-classifier-mediapipe.json starts "
            "one from a trained classifier of the same vocab.txt), or use --target edge")


def choose_length(tokenizer, texts: list[str], block_size: int, max_length: int) -> dict:
    """The input length: the 95th percentile of the training texts' token counts ([CLS] and [SEP]
    included), rounded up to the block size, at most the model's maximum; and how it was chosen."""
    counts = np.array([min(len(tokenizer.token_ids(t, limit=max_length)) + 2, max_length + 1) for t in texts])
    wanted = int(np.percentile(counts, LENGTH_PERCENTILE))
    length = min(max_length, max(block_size, int(np.ceil(wanted / block_size) * block_size)))
    return {"length": length, "rule": f"{LENGTH_PERCENTILE}th percentile of the token counts of {len(texts):,} "
            f"training texts ({wanted}), rounded up to the block size {block_size}, at most max_length "
            f"{max_length}", "texts_that_fit": float((counts <= length).mean())}


def check_length(length: int, block_size: int, max_length: int) -> None:
    if length > max_length:
        raise ValueError(f"--length {length} is above the model's max_length {max_length}; choose at most {max_length}")
    if length < block_size or length % block_size:
        raise ValueError(f"--length {length} is not a multiple of the model's attention block size {block_size} "
                         f"(its block layout is fixed per length); choose one, e.g. "
                         f"{max(block_size, length // block_size * block_size)}")


def convert_one_signature(model, length: int, variant: str, samples: list[np.ndarray] | None = None,
                          float_nodes: list[str] | None = None) -> bytes:
    """The model at one length with MediaPipe's three inputs, BUILTIN ops only; tensor names kept
    (MediaPipe binds the inputs by name).

    int8: calibrated on ``samples`` ((1, L) padded token ids, given as MediaPipe gives them: the
    mask of real tokens, segment ids 0), with ``float_nodes`` kept in float (selective
    quantization); the token inputs stay int32 and the probabilities float32."""
    import keras
    import tensorflow as tf

    from convert.tflite import ConversionError, configure_converter, conversion_hint, selectively_quantize

    def representative():
        for ids in samples:
            yield MEDIAPIPE_SIGNATURE, {"ids": ids, "mask": (ids != 0).astype(np.int32),
                                        "segment_ids": np.zeros_like(ids)}

    with tempfile.TemporaryDirectory() as saved:
        archive = keras.export.ExportArchive()
        archive.track(model)
        specs = [tf.TensorSpec([1, length], tf.int32, name=name) for name in MEDIAPIPE_INPUTS]
        archive.add_endpoint(MEDIAPIPE_SIGNATURE, tf.function(
            lambda ids, mask, segment_ids: {"probabilities": model(ids, training=False)}), input_signature=specs)
        archive.write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[MEDIAPIPE_SIGNATURE])
        calibrated = variant_of(variant).calibrated
        configure_converter(converter, variant, representative if calibrated else None)
        try:
            with native_stderr_silenced():
                if calibrated and float_nodes:
                    # one subgraph: its op names are the graph's own (convert.tflite.every_signature)
                    return selectively_quantize(converter, list(float_nodes))
                return converter.convert()
        except Exception as error:  # the converter raises ConverterError and friends
            raise ConversionError(conversion_hint(error)) from error


def int8_float_nodes(model, length: int, samples: list[np.ndarray], debug_csv: Path) -> list[str]:
    """The ops the QuantizationDebugger flags at ``length`` (its rows written to ``debug_csv``), as for
    the edge files (``convert.debug``): they stay float in the int8 file."""
    from convert.debug import float_nodes, layer_errors, write_rows

    rows = layer_errors(model, length, samples)
    write_rows(rows, debug_csv)
    return float_nodes(rows)


def write_metadata(flatbuffer: bytes, vocab_text: str, labels: list[str]) -> bytes:
    """The flatbuffer with MediaPipe's metadata (BertTokenizer + labels), written by mediapipe itself."""
    python = mediapipe_python()
    with tempfile.TemporaryDirectory() as work:
        files = {name: Path(work) / name for name in ("model.tflite", VOCAB, LABELS, "out.tflite")}
        files["model.tflite"].write_bytes(flatbuffer)
        files[VOCAB].write_text(vocab_text, encoding="utf-8")          # the bundle's own file names
        files[LABELS].write_text("\n".join(labels) + "\n", encoding="utf-8")
        result = subprocess.run([str(python), str(REPO / "convert" / "mediapipe_metadata.py"), "write",
                                 *(str(path) for path in files.values())], capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"mediapipe's metadata writer failed: {result.stderr.strip().splitlines()[-1:]}")
        return files["out.tflite"].read_bytes()


def convert_for_mediapipe(model_dir: str | Path, variants: list[str], length: int | None = None,
                          out_dir: str | Path | None = None, data_dir: str | None = None,
                          manual_dir: str | None = None, progress: bool = True,
                          calibration_reviews: int = 64, quantize_all: bool = False) -> dict[str, Path]:
    """Write ``MODEL_DIR/mediapipe/<variant>.tflite`` (or under ``out_dir``) and ``conversion.json``;
    for int8 also ``quant_debug.csv`` (the QuantizationDebugger at this length, on
    ``calibration_reviews`` seeded training reviews that also calibrate it; ``quantize_all``: no float ops)."""
    from tqdm import tqdm

    from convert.export import bundle_config
    from training.data import train_validation_split
    from training.sources import data_for_folder

    variants = parse_variants(variants, MEDIAPIPE)
    folder = ModelFolder(model_dir)
    if folder.kind not in ("classifier", "hybrid", "ensemble"):
        raise ValueError(f"{folder.path} is a {folder.kind.replace('_', ' ')}; only a classifier exports to MediaPipe")
    check_mediapipe_tokenizer(folder)
    mediapipe_python()
    model, tokenizer, train_config = folder.load()
    c = model.config
    out = Path(out_dir) if out_dir else folder.mediapipe_dir
    check_writable(out)
    train_all = data_for_folder(folder, data_dir, manual_dir).load("train", limit=train_config.train_limit)
    train_part, _ = train_validation_split(train_all, train_config.val_fraction, train_config.validation_seed)
    if length is None:
        rng = np.random.default_rng(0)
        sample = [train_part.texts[i] for i in rng.choice(len(train_part), min(5000, len(train_part)), replace=False)]
        choice = choose_length(tokenizer, sample, c.pattern.block_size, c.max_length)
    else:
        check_length(length, c.pattern.block_size, c.max_length)
        choice = {"length": length, "rule": "--length"}
    length = choice["length"]
    samples, float_nodes = None, []
    calibrated = calibrated_names(variants)
    if calibrated:
        from convert.representative import representative_reviews

        samples = representative_reviews(train_part.texts, tokenizer, [length], length, calibration_reviews,
                                          seed=train_config.seed)[length]
        if not quantize_all:
            float_nodes = int8_float_nodes(model, length, samples, out / ModelFolder.QUANT_DEBUG)
    written = {}
    labels = folder.labels
    for variant in tqdm(variants, desc="convert (mediapipe)", unit="variant", disable=not progress):
        nodes = float_nodes if variant in calibrated else []
        flatbuffer = convert_one_signature(model, length, variant, samples, nodes)
        with_metadata = write_metadata(flatbuffer, folder.vocab_text(), labels)
        config = bundle_config(folder, model, variant, [length],   # its one length; the model's own is under "model"
                               dataclasses.replace(MEDIAPIPE_CLASSIFIER, length_rule=choice), nodes)
        path = out / f"{variant}.tflite"
        write_atomic(path, pack_bundle(with_metadata, config, folder.vocab_text(), labels))
        written[variant] = path
    previous = out / Path(ModelFolder.CONVERSION).name   # variants converted earlier are kept, at this length
    summary = json.loads(previous.read_text()) if previous.exists() else {}
    sizes = summary.get("variants", {}) if summary.get("length", {}).get("length") == length else {}
    summary.update({"target": "mediapipe", "length": choice, "mediapipe": MEDIAPIPE_VERSION,
                    "variants": {**sizes, **{v: p.stat().st_size for v, p in written.items()}}})
    if calibrated:
        summary["float_nodes_int8"] = float_nodes
    write_json_atomic(previous, summary)
    return written
