"""``sparse-edge convert`` and ``sparse-edge parity``: TFLite files and what they cost."""

from __future__ import annotations

import json

import click

from sparse_edge.commands.common import data_options, data_spec, fail, quiet_option, source_options, usage, with_tensorflow


@click.command("convert")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--variants", default=None,
              help="Comma-separated: float32, float16 (float16 weights), dynamic (int8 weights), "
              "int8 (full integer, calibrated on training reviews) [default: all four; for --target mediapipe "
              "float32,dynamic, and int8 on request].")
@click.option("--target", type=click.Choice(["edge", "mediapipe"]), default="edge", show_default=True,
              help="edge: MODEL_DIR/tflite/, one signature per input length, for edge_runtime. mediapipe: "
              "MODEL_DIR/mediapipe/, one signature at one length with BERT's three inputs and MediaPipe metadata, "
              "for MediaPipe Tasks' TextClassifier (Android, iOS, web, Python) and edge_runtime.")
@click.option("--length", type=click.IntRange(2),
              help="--target mediapipe: the input length [default: the 95th percentile of the training texts' "
              "token counts, rounded up to the block size].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for <variant>.tflite [default: MODEL_DIR/tflite].")
@click.option("--calibration-reviews", default=64, show_default=True, type=click.IntRange(1),
              help="Training reviews per input length that calibrate int8.")
@click.option("--quantize-all", is_flag=True,
              help="int8: quantize every op (skip the QuantizationDebugger's float ops).")
@quiet_option
@data_options
def convert(model_dir, variants, target, length, out_dir, calibration_reviews, quantize_all, quiet, data_dir,
            manual_dir):
    """Convert a trained model folder to .tflite files, one per variant.

    A language-model folder (from `sparse-edge train-lm`) converts to float32 and dynamic, with
    one `next_token` signature.

    Each file holds one signature per input length (a short review runs at a short length) and
    carries vocab.txt, labels.txt and config.json, so it is the whole deployable model. int8 is
    calibrated on training reviews; the QuantizationDebugger's per-op errors go to
    MODEL_DIR/quant_debug.csv and the ops it flags stay in float.
    """
    with_tensorflow("sparse-edge convert")
    if target == "mediapipe":
        _convert_mediapipe(model_dir, variants or "float32,dynamic", length, out_dir, quiet, data_dir, manual_dir,
                           calibration_reviews, quantize_all)
        return
    if length:
        usage("--length is for --target mediapipe (the edge files hold every length the model has)")
    variants = variants or "float32,float16,dynamic,int8"
    from convert.export import convert_model_dir, parse_variants
    from convert.tflite import ConversionError
    from model.data import DatasetMissing
    from model.saved import LANGUAGE_MODEL, ModelFolder

    try:
        names = parse_variants(variants)
        kind = ModelFolder(model_dir).kind
    except ValueError as error:
        usage(str(error))
    if kind == LANGUAGE_MODEL:
        from convert.lm import LM_VARIANTS, convert_lm_dir

        names = [v for v in variants.split(",") if v.strip()]
        if variants == "float32,float16,dynamic,int8":   # the default: what a language model has
            names = list(LM_VARIANTS)
        try:
            written = convert_lm_dir(model_dir, names, out_dir)
        except ValueError as error:
            usage(str(error))
        except ConversionError as error:
            fail(str(error))
        click.echo(json.dumps({v: {"path": str(p), "size_bytes": p.stat().st_size} for v, p in written.items()}, indent=2))
        return
    try:
        written = convert_model_dir(model_dir, names, out_dir, data_dir, manual_dir, calibration_reviews,
                                    float_nodes=[] if quantize_all else None, progress=not quiet)
    except (ValueError, DatasetMissing) as error:
        usage(str(error))
    except ConversionError as error:
        fail(str(error))
    click.echo(json.dumps({variant: {"path": str(path), "size_bytes": path.stat().st_size}
                           for variant, path in written.items()}, indent=2))


def _convert_mediapipe(model_dir, variants, length, out_dir, quiet, data_dir, manual_dir, calibration_reviews,
                       quantize_all):
    from convert.mediapipe_export import MediaPipeMissing, convert_for_mediapipe
    from convert.tflite import ConversionError
    from model.data import DatasetMissing

    names = [v.strip() for v in variants.split(",") if v.strip()]
    try:
        written = convert_for_mediapipe(model_dir, names, length, out_dir, data_dir, manual_dir, progress=not quiet,
                                        calibration_reviews=calibration_reviews, quantize_all=quantize_all)
    except (ValueError, DatasetMissing, MediaPipeMissing) as error:
        usage(str(error))
    except (ConversionError, RuntimeError) as error:
        fail(str(error))
    click.echo(json.dumps({variant: {"path": str(path), "size_bytes": path.stat().st_size}
                           for variant, path in written.items()}, indent=2))


def _parity_mediapipe(model_dir, variants, limit, out_dir, quiet, data_dir, manual_dir, mediapipe, files_dir):
    from convert.mediapipe_export import MediaPipeMissing
    from convert.mediapipe_parity import run_mediapipe_parity
    from model.data import DatasetMissing

    names = [v.strip() for v in variants.split(",") if v.strip()] if variants else None
    try:
        report = run_mediapipe_parity(model_dir, names, limit, data_dir, manual_dir, progress=not quiet,
                                      out_dir=out_dir, mediapipe=mediapipe, files_dir=files_dir)
    except (ValueError, DatasetMissing, MediaPipeMissing) as error:
        usage(str(error))
    click.echo(json.dumps({"n": report["n"], "variants": report["variants"]}, indent=2))
    if not report["passed"]:
        fail(f"the MediaPipe parity goal was missed: see {out_dir or str(model_dir) + '/mediapipe'}/parity.md")


@click.command("parity")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]))
@click.option("--variants", help="Comma-separated variants to check [default: every MODEL_DIR/tflite/*.tflite].")
@click.option("--limit", type=click.IntRange(1), help="Only the first N reviews (quick checks; the report says n).")
@click.option("--recheck", is_flag=True, help="Judge the recorded parity.json against the thresholds again, "
              "without rerunning inference (the files must be unchanged).")
@click.option("--target", type=click.Choice(["edge", "mediapipe"]), default="edge", show_default=True,
              help="mediapipe: run MODEL_DIR/mediapipe/*.tflite through MediaPipe's TextClassifier and through "
              "edge_runtime and compare them (MODEL_DIR/mediapipe/parity.json, parity.md).")
@click.option("--mediapipe", "mediapipe_version", metavar="VERSION",
              help="--target mediapipe: the mediapipe release whose TextClassifier runs the files, installed into "
              ".venv-mediapipe-VERSION when missing [default: 0.10.21, the one that writes the metadata].")
@click.option("--tflite-dir", type=click.Path(exists=True, file_okay=False),
              help="Where the .tflite files are [default: MODEL_DIR/tflite; --target mediapipe: MODEL_DIR/mediapipe].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where parity.json and parity.md go [default: MODEL_DIR].")
@quiet_option
@source_options(None)
@data_options
def parity(model_dir, split, variants, limit, recheck, target, mediapipe_version, tflite_dir, out_dir, quiet, data_source, text_column,
           label_column, data_dir, manual_dir):
    """Compare the Keras model with every .tflite variant, review by review, on a whole split.

    The TFLite side runs through edge_runtime (its tokenizer and interpreter wrapper), one
    review at a time on one thread. The split is the model's own data (MODEL_DIR/data.json) unless
    --data names other data with the same labels. Writes MODEL_DIR/parity.json and parity.md; exits 1 when
    a variant misses its threshold (accuracy, agreement, probability drift, size).
    """
    with_tensorflow("sparse-edge parity")
    if target == "mediapipe":
        _parity_mediapipe(model_dir, variants, limit, out_dir, quiet, data_dir, manual_dir, mediapipe_version,
                          tflite_dir)
        return
    if mediapipe_version:
        usage("--mediapipe is for --target mediapipe")
    from convert.export import parse_variants
    from convert.parity import run_parity
    from model.data import DatasetMissing

    try:
        if recheck:
            from convert.parity import recheck as recheck_report

            report = recheck_report(model_dir)
        else:
            names = parse_variants(variants) if variants else None
            data = data_spec(data_source, text_column, label_column, data_dir, manual_dir)
            report = run_parity(model_dir, split, names, limit, data_dir, manual_dir, progress=not quiet,
                                tflite_dir=tflite_dir, out_dir=out_dir, data=data)
    except (ValueError, DatasetMissing) as error:
        usage(str(error))
    summary = {v: {k: row[k] for k in ("accuracy", "delta_accuracy_pp", "agreement", "max_abs_prob_diff",
                                         "size_bytes", "latency_ms_p50")} for v, row in report["variants"].items()}
    click.echo(json.dumps({"n": report["n"], "reference_accuracy": report["reference"]["accuracy"],
                           "variants": summary, "failures": report["failures"]}, indent=2))
    if not report["passed"]:
        fail("parity thresholds missed: " + "; ".join(f"{v}: {', '.join(f)}" for v, f in report["failures"].items()))
