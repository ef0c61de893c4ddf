"""convert/parity.py's arithmetic, thresholds and report, on numbers worked out by hand; then one short run.

The quick tests come first: the mutation run (scripts/mutation) stops at the first failure."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from convert.parity import _sample, check, compare, int8_conclusion, parity_markdown, recheck
from training.saved import ModelFolder

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "artifacts" / "imdb-classifier"
BYTES = REPO / "artifacts" / "lra-text" / "model"   # ships all four files (the classifier ships two)


def test_compare_on_four_reviews_worked_out_by_hand():
    reference = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.3, 0.7]])
    row = compare(reference, probs, np.array([0, 1, 0, 0]), ["a", "b", "c", "d"])
    # reference right on a, b, c (75%); the variant on a, b (50%): -25 pp. The paired differences are
    # 0, 0, -1, 0: standard deviation (n - 1) 0.5, standard error 0.5 / sqrt(4) = 25 pp.
    assert row["accuracy"] == 0.5 and row["delta_accuracy_pp"] == -25.0 and row["delta_accuracy_se_pp"] == 25.0
    assert row["agreement"] == 0.75
    assert row["max_abs_prob_diff"] == pytest.approx(0.2) and row["mean_abs_prob_diff"] == pytest.approx(0.1)
    assert row["macro_f1"] == pytest.approx(0.5)    # both classes: precision 1 and 1/3, recall 1/3 and 1
    assert row["flipped"] == [{"id": "c", "label": 0, "reference_prob_positive": 0.4,
                               "variant_prob_positive": 0.6}]
    one = compare(reference[:1], probs[:1], np.array([0]), [7])
    assert one["delta_accuracy_se_pp"] == 0.0 and one["flipped"] == [] and one["accuracy"] == 1.0


def test_a_flip_among_three_labels_keeps_both_distributions():
    row = compare(np.array([[0.5, 0.3, 0.2]]), np.array([[0.2, 0.5, 0.3]]), np.array([1]), ["x"])
    assert row["flipped"] == [{"id": "x", "label": 1, "reference_probabilities": [0.5, 0.3, 0.2],
                               "variant_probabilities": [0.2, 0.5, 0.3]}]
    assert row["delta_accuracy_pp"] == 100.0 and row["agreement"] == 0.0


def test_a_kept_sample_row():
    assert _sample("int8", 12, np.array([0.25, 0.75])) == {"variant": "int8", "id": "12", "prob_positive": 0.75}
    assert _sample("keras", "r", np.array([0.5, 0.25, 0.25])) == {"variant": "keras", "id": "r",
                                                                  "probabilities": [0.5, 0.25, 0.25]}


def test_the_rounding_and_the_smallest_samples():
    # 3 reviews: the reference right on 2, the variant on 1: -33.3333 pp, rounded to 4 places
    three = compare(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([[0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]),
                    np.array([0, 1, 1]), ["a", "b", "c"])
    assert three["delta_accuracy_pp"] == -33.3333
    # the paired differences 0, -1, 0: sd 0.57735, se 0.57735 / sqrt(3) = 33.3333 pp
    assert three["delta_accuracy_se_pp"] == 33.3333
    two = compare(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]), ["a", "b"])
    assert two["delta_accuracy_se_pp"] == 50.0        # two reviews have a standard error: sd 0.7071 / sqrt(2)
    flip = compare(np.array([[0.51234567, 0.3, 0.18765433]]), np.array([[0.2, 0.41234567, 0.38765433]]),
                   np.array([0]), ["x"])["flipped"][0]
    assert flip["reference_probabilities"] == [0.512346, 0.3, 0.187654]
    assert flip["variant_probabilities"] == [0.2, 0.412346, 0.387654]


def test_each_file_is_timed_one_review_at_a_time_on_one_thread_with_a_progress_bar(monkeypatch, capsys):
    """What parity.md says of its latency columns: one thread, one review at a time; and a bar while it runs that
    goes away when it is done."""
    import edge_runtime
    from convert.parity import run_variant

    made = []

    class Recording(edge_runtime.TextClassifier):
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(edge_runtime, "TextClassifier", Recording)
    path = REPO / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite"
    probs, latency, classifier = run_variant(path, ["A fine film.", "Dull."])
    assert made == [{"num_threads": 1, "backend": "auto"}] and classifier.max_length == classifier.trained_length
    assert probs.shape == (2, 2) and (latency > 0).all() and probs[0].tolist() == pytest.approx(
        edge_runtime.TextClassifier(path).classify("A fine film.").probabilities, abs=1e-6)
    shown = capsys.readouterr().err
    assert "int8:" in shown and "review/s" in shown and shown.endswith("\r")     # the bar, cleared at the end
    run_variant(path, ["x"], progress=False)
    assert capsys.readouterr().err == ""


def row(agreement=1.0, delta=0.0, max_dp=0.0, size=30):
    return {"agreement": agreement, "delta_accuracy_pp": delta, "max_abs_prob_diff": max_dp, "size_bytes": size}


def test_check_names_each_threshold_missed_and_meets_each_exactly_at_its_limit():
    assert check("dynamic", row(agreement=0.99, delta=-0.3, size=30), 100) == []          # every limit exactly
    assert check("dynamic", row(agreement=0.98, delta=-0.31, size=40), 100) == [
        "agreement 98.0000% < 99.0%", "|delta accuracy| 0.31 pp > 0.3 pp", "size 40.0% of float32 > 30%"]
    assert check("int8", row(delta=0.31), 100) == ["|delta accuracy| 0.31 pp > 0.3 pp"]     # a gain counts too
    assert check("int8", row(agreement=0.985), 100) == []
    assert check("int8", row(agreement=0.9849), 100) == ["agreement 98.4900% < 98.5%"]
    assert check("float32", row(max_dp=1e-3), None) == []
    assert check("float32", row(max_dp=1.1e-3, agreement=0.9989), None) == [
        "agreement 99.8900% < 99.9%", "max |dp| 1.10e-03 > 1e-03"]
    assert check("float16", row(agreement=0.5, max_dp=0.5, delta=0.1, size=99), 100) == []  # only Δacc is judged
    assert check("float16", row(delta=-0.11), 100) == ["|delta accuracy| 0.11 pp > 0.1 pp"]
    assert check("dynamic", row(size=99), None) == []                                      # no float32: no ratio


def test_the_size_ratio_leaves_out_the_integer_tables_every_variant_stores():
    # (40 - 20) / (100 - 20) = 25%: met; (40 - 10) / (100 - 10) = 33.3%: missed
    assert check("int8", row(size=40), 100, integer_bytes=20) == []
    assert check("int8", row(size=40), 100, integer_bytes=10) == ["size 33.3% of float32 > 30% (integer tables left out)"]


@pytest.mark.parametrize("name", ["imdb-classifier", "lra-text/model"])
def test_the_shipped_parity_reports_are_rewritten_word_for_word(name, monkeypatch, tmp_path):
    """parity.md is generated from parity.json (and quant_debug.csv): the committed pair must agree."""
    from convert.parity import write_markdown

    source = REPO / "artifacts" / name
    monkeypatch.chdir(tmp_path)
    copy = Path("artifacts") / name
    copy.mkdir(parents=True)
    for file in ("parity.json", "quant_debug.csv"):
        if (source / file).exists():
            shutil.copyfile(source / file, copy / file)
    write_markdown(copy)
    assert (copy / "parity.md").read_text() == (source / "parity.md").read_text()


def test_the_report_says_every_number_and_the_verdict(tmp_path):
    report = {"n": 2000, "split": "test", "reference": {"accuracy": 0.9}, "versions": {"runtime": "rt 1"},
              "variants": {"float32": {**row(), "accuracy": 0.9, "mean_abs_prob_diff": 0.0, "size_bytes": 2_000_000,
                                       "size_vs_float32": 1.0, "latency_ms_p50": 1.25, "latency_ms_p95": 3.0,
                                       "flipped": [], "delta_accuracy_se_pp": 0.0},
                           "int8": {**row(agreement=0.5, delta=-1.234), "accuracy": 0.88766, "max_abs_prob_diff": 0.25,
                                    "mean_abs_prob_diff": 0.015, "size_bytes": 500_000, "size_vs_float32": None,
                                    "latency_ms_p50": 0.5, "latency_ms_p95": 0.75, "flipped": [{}, {}],
                                    "delta_accuracy_se_pp": 0.126}},
              "failures": {"int8": ["a", "b"]}, "passed": False, "integer_table_bytes": 1_500_000}
    text = parity_markdown(report, ModelFolder(tmp_path / "m"))
    lines = text.splitlines()
    assert lines[0] == "# Parity: m, 2,000 test reviews"
    assert lines[2] == (f"Reference: Keras float32, accuracy 90.00%. TFLite through `edge_runtime` (rt 1), 1 thread, "
                        f"one review at a time. Reproduce: `sparse-edge parity {tmp_path / 'm'} --split test`.")
    assert "| float32 | 90.00% | +0.00 | 100.00% | 0.00e+00 | 0.00e+00 | 2.00 | 100.0% | 1.2 | 3.0 | 0 | met |" in lines
    assert "| int8 | 88.77% | -1.23 | 50.00% | 2.50e-01 | 1.50e-02 | 0.50 | None | 0.5 | 0.8 | 2 | FAIL: a; b |" in lines
    assert next(l for l in lines if l.startswith("Thresholds: ")).endswith(", not counting the 1.50 MB of integer tables every variant stores as they are "
                              "(the n-gram fingerprints).")
    assert ("Sampling error of Δ accuracy on these 2,000 reviews (one standard error of the paired difference, pp): "
            "float32 ±0.00, int8 ±0.13.") in lines
    assert lines[-1] == "**Verdict: thresholds missed (see table).**" and lines[-2] == ""
    report.update(passed=True, failures={}, integer_table_bytes=0)
    for variant in report["variants"].values():
        del variant["delta_accuracy_se_pp"]
    text = parity_markdown(report, ModelFolder(tmp_path / "m"))
    assert text.endswith("file.\n\n**Verdict: every threshold met.**\n") and "Sampling error" not in text


def test_the_int8_conclusion_names_the_worst_ops_and_counts_those_above_the_guides_limit(tmp_path):
    csv = tmp_path / "debug.csv"
    csv.write_text("op_name,tensor_name,rmse_over_scale\n" + "\n".join(
        [f"FULLY_CONNECTED,fc{i};extra,0.{i}" for i in range(8)] + ["RSQRT,norm/Rsqrt,2.5", "MEAN,pool,0.71",
                                                                     "CUSTOM_OP,x,0.65"]) + "\n")
    text = int8_conclusion(csv, {"delta_accuracy_pp": -0.08, "agreement": 0.9972, "float_nodes": ["a", "b", "c"]})
    lines = text.splitlines()
    assert lines[0] == ("Per-op errors of a fully quantized model, in quantization steps (`debug.csv`, 11 ops; 2 above "
                        "the TFLite guide's 0.7). The worst:")
    assert lines[4:10] == ["| RSQRT | `norm/Rsqrt` | 2.50 |", "| MEAN | `pool` | 0.71 |",
                           "| FULLY_CONNECTED | `fc7` | 0.70 |", "| CUSTOM_OP | `x` | 0.65 |",
                           "| FULLY_CONNECTED | `fc6` | 0.60 |", "| FULLY_CONNECTED | `fc5` | 0.50 |"]
    assert lines[11].startswith("Conclusion: the error is carried by the layer norms' 1/sqrt(variance) (a wide range "
                                "squeezed into 256 steps) and the layer norms' means and the pooling and FULLY_CONNECTED ops.")
    norms = tmp_path / "norms.csv"
    norms.write_text("op_name,tensor_name,rmse_over_scale\nSQUARED_DIFFERENCE,v,3\nSOFTMAX,s,2\nBATCH_MATMUL,m,1\n")
    said = int8_conclusion(norms, {"delta_accuracy_pp": 0.0, "agreement": 1.0})
    assert ("the error is carried by the layer norms' variance and the attention softmax and the attention products"
            in said) and "embedding lookups: 0 ops." in said
    assert lines[11].endswith("embedding lookups: 3 ops. The additive attention mask is -30, not -1e9, so the scores "
                              "keep a usable int8 scale. Result above: -0.08 pp accuracy and 99.72% agreement with the "
                              "float model.")


def test_recheck_judges_a_recorded_report_again_and_refuses_files_that_changed(tmp_path, monkeypatch):
    import convert.parity as parity_module

    copy = tmp_path / "imdb-classifier"
    shutil.copytree(SHIPPED, copy, ignore=shutil.ignore_patterns("mediapipe", "*.keras"))
    recorded = json.loads((copy / "parity.json").read_text())
    recorded["variants"]["int8"]["agreement"] = 0.98           # as if int8 had agreed less
    recorded["passed"], recorded["failures"] = True, {}
    (copy / "parity.json").write_text(json.dumps(recorded))
    sizes, real_check = [], parity_module.check

    def recording_check(variant, row, float32_size, integer_bytes=0):
        sizes.append(float32_size)
        return real_check(variant, row, float32_size, integer_bytes)

    monkeypatch.setattr(parity_module, "check", recording_check)
    report = recheck(copy)
    assert sizes == [recorded["variants"]["float32"]["size_bytes"]] * 4     # each judged against float32
    assert report["failures"] == {"int8": ["agreement 98.0000% < 98.5%"]} and report["passed"] is False
    assert report["integer_table_bytes"] == json.loads((SHIPPED / "parity.json").read_text())["integer_table_bytes"]
    assert json.loads((copy / "parity.json").read_text()) == report
    assert "FAIL: agreement 98.0000% < 98.5%" in (copy / "parity.md").read_text()
    with open(copy / "tflite" / "dynamic.tflite", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError) as error:
        recheck(copy)
    assert str(error.value) == (f"{copy / 'tflite' / 'dynamic.tflite'} changed since parity measured it; run "
                                f"`sparse-edge parity {copy}` again")
    # a folder that holds its float32 file (the byte model's) has its integer-table bytes measured again from it
    with_float32 = tmp_path / "bytes"
    shutil.copytree(BYTES, with_float32, ignore=shutil.ignore_patterns("*.keras"))
    recorded = json.loads((with_float32 / "parity.json").read_text())
    recorded["integer_table_bytes"] = 12345
    (with_float32 / "parity.json").write_text(json.dumps(recorded))
    assert recheck(with_float32)["integer_table_bytes"] == 0   # no integer tables in the byte model's float32 file


@pytest.mark.imdb
def test_a_short_parity_run_writes_what_it_measured(tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    import convert.parity as parity_module
    from convert.parity import run_parity
    from convert.variants import variant as variant_of

    real_run_variant = parity_module.run_variant

    def known_latencies(path, texts, progress=True, backend="auto"):   # the real run; latencies 0, 1, ..., 33 ms
        probs, _, classifier = real_run_variant(path, texts, progress, backend)
        return probs, np.arange(len(texts), dtype=float), classifier

    monkeypatch.setattr(parity_module, "run_variant", known_latencies)
    monkeypatch.setitem(variant_of("int8").thresholds, "min_agreement", 1.01)   # a threshold nothing can meet

    report = run_parity(BYTES, limit=34, variants=["int8", "float32"], out_dir=tmp_path)
    assert "review/s" in capsys.readouterr().err          # progress bars by default
    assert report["n"] == 34 and list(report["variants"]) == ["int8", "float32"] and report["split"] == "test"
    assert report["reference"]["model"] == "keras float32" and report["versions"]["tensorflow"] == tf.__version__
    assert report["labels"] == ["negative", "positive"] and report["data"] == "imdb"
    int8, float32 = report["variants"]["int8"], report["variants"]["float32"]
    assert (int8["latency_ms_p50"], int8["latency_ms_p95"]) == (16.5, pytest.approx(31.35))   # of 0..33 ms
    from edge_runtime import TextClassifier

    device = TextClassifier(BYTES / "tflite" / "int8.tflite")
    assert report["versions"]["runtime"] == f"{device.backend} {device.backend_version}"
    assert set(report["failures"]) == {"int8"} and report["passed"] is False   # the byte int8 misses others too
    assert report["failures"]["int8"][0] == f"agreement {int8['agreement']:.4%} < 101.0%"
    written_md = (tmp_path / "parity.md").read_text()
    assert "FAIL: agreement" in written_md and "## int8: what the QuantizationDebugger found" in written_md
    sizes = {v: (BYTES / "tflite" / f"{v}.tflite").stat().st_size for v in ("int8", "float32")}
    assert int8["size_bytes"] == sizes["int8"] and int8["size_vs_float32"] == round(sizes["int8"] / sizes["float32"], 4)
    assert float32["agreement"] == 1.0 and float32["max_abs_prob_diff"] < 1e-3
    assert int8["float_nodes"]
    assert [s["variant"] for s in report["sample"]] == ["keras"] * 32 + ["int8"] * 32 + ["float32"] * 32  # 32 kept
    keras = {s["id"]: s["prob_positive"] for s in report["sample"] if s["variant"] == "keras"}
    assert report["reference"]["accuracy"] == pytest.approx(
        float32["accuracy"] - float32["delta_accuracy_pp"] / 100) and len(keras) == 32
    assert json.loads((tmp_path / "parity.json").read_text()) == json.loads(json.dumps(report))
    assert (tmp_path / "parity.md").read_text().startswith(f"# Parity: {BYTES.name}, 34 test reviews")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(SHIPPED / "tflite" / "int8.tflite", alone / "int8.tflite")
    (alone / "quant_debug.csv").write_text("op_name,tensor_name,rmse_over_scale\nMEAN,alone/pool,9.5\n")
    without_float32 = run_parity(SHIPPED, limit=2, progress=False, tflite_dir=alone, out_dir=alone)
    assert list(without_float32["variants"]) == ["int8"] and without_float32["integer_table_bytes"] == 0
    assert without_float32["variants"]["int8"]["size_vs_float32"] is None
    assert "| MEAN | `alone/pool` | 9.50 |" in (alone / "parity.md").read_text()   # the files' own debugger table
    for variants, named in ((["int8", "dynamic"], "int8, dynamic"), (None, "converted")):
        with pytest.raises(ValueError) as error:
            run_parity(SHIPPED, limit=2, variants=variants, progress=False, tflite_dir=tmp_path / "none", write=False)
        assert str(error.value) == f"no {named} .tflite in {tmp_path / 'none'}; run `sparse-edge convert {SHIPPED}` first"
