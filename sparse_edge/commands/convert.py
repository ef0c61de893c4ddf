"""``sparse-edge convert`` and ``sparse-edge parity``: TFLite files and what they cost."""

from __future__ import annotations

import json

import click

from sparse_edge.commands.common import data_options, data_spec, fail, quiet_option, source_options, usage, with_tensorflow


@click.command("convert")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--variants", default="float32,float16,dynamic,int8", show_default=True,
              help="Comma-separated: float32, float16 (float16 weights), dynamic (int8 weights), "
              "int8 (full integer, calibrated on training reviews).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for <variant>.tflite [default: MODEL_DIR/tflite].")
@click.option("--calibration-reviews", default=64, show_default=True, type=click.IntRange(1),
              help="Training reviews per input length that calibrate int8.")
@click.option("--quantize-all", is_flag=True,
              help="int8: quantize every op (skip the QuantizationDebugger's float ops).")
@quiet_option
@data_options
def convert(model_dir, variants, out_dir, calibration_reviews, quantize_all, quiet, data_dir, manual_dir):
    """Convert a trained model folder to .tflite files, one per variant.

    A language-model folder (from `sparse-edge train-lm`) converts to float32 and dynamic, with
    one `next_token` signature.

    Each file holds one signature per input length (a short review runs at a short length) and
    carries vocab.txt, labels.txt and config.json, so it is the whole deployable model. int8 is
    calibrated on training reviews; the QuantizationDebugger's per-op errors go to
    MODEL_DIR/quant_debug.csv and the ops it flags stay in float.
    """
    with_tensorflow("sparse-edge convert")
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
        if variants == "float32,float16,dynamic,int8":
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


@click.command("parity")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]))
@click.option("--variants", help="Comma-separated variants to check [default: every MODEL_DIR/tflite/*.tflite].")
@click.option("--limit", type=click.IntRange(1), help="Only the first N reviews (quick checks; the report says n).")
@click.option("--recheck", is_flag=True, help="Judge the recorded parity.json against the thresholds again, "
              "without rerunning inference (the files must be unchanged).")
@click.option("--tflite-dir", type=click.Path(exists=True, file_okay=False),
              help="Where the .tflite files are [default: MODEL_DIR/tflite].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where parity.json and parity.md go [default: MODEL_DIR].")
@quiet_option
@source_options(None)
@data_options
def parity(model_dir, split, variants, limit, recheck, tflite_dir, out_dir, quiet, data_source, text_column,
           label_column, data_dir, manual_dir):
    """Compare the Keras model with every .tflite variant, review by review, on a whole split.

    The TFLite side runs through edge_runtime (its tokenizer and interpreter wrapper), one
    review at a time on one thread. The split is the model's own data (MODEL_DIR/data.json) unless
    --data names other data with the same labels. Writes MODEL_DIR/parity.json and parity.md; exits 1 when
    a variant misses its threshold (accuracy, agreement, probability drift, size).
    """
    with_tensorflow("sparse-edge parity")
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
