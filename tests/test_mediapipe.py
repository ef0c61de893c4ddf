"""Files for MediaPipe Tasks: one signature, BERT's three inputs, MediaPipe's metadata, our bundle after it.

MediaPipe runs in its own environment (.venv-mediapipe: mediapipe 0.10.21 needs numpy<2); the
fixture makes it when missing, as the commands do, and skips (failing CI) when it cannot.
"""

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_runtime import TextClassifier
from edge_runtime.classifier import MEDIAPIPE_INPUTS, MEDIAPIPE_SIGNATURE

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "artifacts" / "imdb-classifier-mediapipe"   # the hybrid trained with MediaPipe's tokenizer rules
FILES = {v: SHIPPED / "mediapipe" / f"{v}.tflite" for v in ("dynamic",)}
HOSTILE = json.loads((REPO / "convert" / "hostile_texts.json").read_text())["texts"]
CLEAN = ["A wonderful, moving film. The cast is superb.", "Dull, predictable and far too long.",
         "Some good moments, but the plot falls apart in the second half.", "i loved it"]


@pytest.fixture(scope="module")
def mediapipe():
    from convert.mediapipe_export import MediaPipeMissing, mediapipe_python

    try:
        return mediapipe_python(install=True)
    except MediaPipeMissing as error:
        pytest.skip(f"mediapipe could not be installed here: {error}")


def mediapipe_scores(python, path, texts):
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    result = subprocess.run([str(python), str(REPO / "convert" / "mediapipe_metadata.py"), "classify", str(path)],
                            input=lines, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return np.array([json.loads(line)["scores"] for line in result.stdout.splitlines()])


@pytest.mark.parametrize("variant, tolerance", [("dynamic", 1e-4)])
def test_mediapipe_gives_the_shipped_files_edge_runtime_probabilities_on_hostile_texts_too(mediapipe, variant,
                                                                                         tolerance):
    """The model was trained with MediaPipe's tokenizer rules, so accents, zero-width and control
    characters, NUL, <br />, emoji, CJK and cut long texts all get edge_runtime's probabilities."""
    ours = TextClassifier(FILES[variant])
    assert ours.mediapipe and ours.labels == ["negative", "positive"] and ours.tokenizer.rules == "mediapipe"
    texts = CLEAN + HOSTILE
    theirs = mediapipe_scores(mediapipe, FILES[variant], texts)
    expected = np.array([ours.classify(t).probabilities for t in texts])
    np.testing.assert_allclose(theirs, expected, atol=tolerance)


@pytest.fixture(scope="module")
def trained_with_mediapipe_rules(tmp_path_factory):
    """A small classifier trained with MediaPipe's tokenizer rules on the shipped MediaPipe vocabulary (the shipped
    folder's model.keras is not committed, so that artifacts/ stays under 40 MB; README, "Layout")."""
    import dataclasses

    from training.train import train
    from tests.test_training import tiny_config

    vocab = SHIPPED / "vocab.txt"
    size = len(vocab.read_text(encoding="utf-8").splitlines())
    base = tiny_config()
    config = tiny_config(tokenizer="mediapipe", vocab_size=size, train_limit=320,
                         model=dataclasses.replace(base.model, vocab_size=size))
    folder = tmp_path_factory.mktemp("mediapipe-trained")
    train(config, folder, vocab_path=str(vocab), progress=False)
    return folder


@pytest.fixture(scope="module")
def converted_for_mediapipe(mediapipe, trained_with_mediapipe_rules, tmp_path_factory):
    """A folder trained with MediaPipe's rules converted, float32 and int8, at a short length."""
    from convert.mediapipe_export import convert_for_mediapipe

    out = tmp_path_factory.mktemp("mediapipe")
    written = convert_for_mediapipe(trained_with_mediapipe_rules, ["float32", "int8"], length=128, out_dir=out,
                                    progress=False, calibration_reviews=16)
    return out, written


@pytest.mark.slow
@pytest.mark.imdb
def test_a_trained_folder_converts_to_files_mediapipe_runs_float32_and_selectively_quantized_int8(
        mediapipe, converted_for_mediapipe, tmp_path):
    """The conversion itself: what MediaPipe gives equals what edge_runtime gives on the same file, and
    int8 keeps the debugger's ops in float."""
    from ai_edge_litert.interpreter import Interpreter

    from convert.mediapipe_parity import run_mediapipe_parity
    from edge_runtime.bundle import read_bundle

    out, written = converted_for_mediapipe
    conversion = json.loads((out / "conversion.json").read_text())
    assert conversion["length"] == {"length": 128, "rule": "--length"} and set(conversion["variants"]) == {
        "float32", "int8"}
    assert conversion["float_nodes_int8"] and (out / "quant_debug.csv").exists()
    for variant, tolerance in (("float32", 1e-5), ("int8", 1e-4)):
        ours = TextClassifier(written[variant])
        assert ours.mediapipe and ours.lengths == [128]
        expected = np.array([ours.classify(t).probabilities for t in CLEAN])
        np.testing.assert_allclose(mediapipe_scores(mediapipe, written[variant], CLEAN), expected, atol=tolerance)
    bundle = read_bundle(written["int8"].read_bytes())
    assert bundle.config.float_nodes == conversion["float_nodes_int8"]
    interpreter = Interpreter(model_content=bundle.flatbuffer)
    assert all(d["dtype"] == np.int32 for d in interpreter.get_input_details())   # MediaPipe's inputs as they were
    assert interpreter.get_output_details()[0]["dtype"] == np.float32
    by_op = {}
    for op in interpreter._get_ops_details():
        by_op.setdefault(op["op_name"], []).append(interpreter._get_tensor_details(op["outputs"][0], 0)["dtype"])
    assert not {name for name in by_op if name.startswith("Flex") or name == "CUSTOM"}
    # as in the edge files: DIV stays float (tflite-runtime 2.14 has no int8 DIV), the projections are int8
    assert set(by_op["DIV"]) == {np.float32} and np.int8 in by_op["FULLY_CONNECTED"]
    # parity reads files from where --out put them (--tflite-dir)
    report = run_mediapipe_parity(SHIPPED, ["int8"], limit=8, progress=False, out_dir=tmp_path / "parity",
                                  files_dir=out)
    assert report["n"] == 8 and report["variants"]["int8"]["length"] == 128
    assert report["variants"]["int8"]["sha256"] == hashlib.sha256(written["int8"].read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.imdb
def test_the_int8_file_gives_edge_runtimes_probabilities_in_the_web_page_too(converted_for_mediapipe, browser):
    """MediaPipe Tasks for the web (WebAssembly) runs the full-integer file as MediaPipe's Python does."""
    from tests.test_web import classify_in_page, serve

    _, written = converted_for_mediapipe
    server, url = serve(written["int8"])
    try:
        browser.get(url)
        ours = TextClassifier(written["int8"])
        for text in CLEAN:
            shown, expected = classify_in_page(browser, text), ours.classify(text).probabilities
            assert [shown[label] for label in ours.labels] == pytest.approx(expected, abs=1e-3), text
    finally:
        server.shutdown()
        server.server_close()


def test_the_file_has_one_signature_with_berts_three_int32_inputs_and_only_builtin_ops():
    from ai_edge_litert.interpreter import Interpreter

    from edge_runtime.bundle import read_bundle

    for variant, path in FILES.items():
        bundle = read_bundle(path.read_bytes())
        interpreter = Interpreter(model_content=bundle.flatbuffer)
        signatures = interpreter.get_signature_list()
        assert list(signatures) == [MEDIAPIPE_SIGNATURE]
        assert sorted(signatures[MEDIAPIPE_SIGNATURE]["inputs"]) == sorted(MEDIAPIPE_INPUTS)
        length = bundle.config.signatures.length_rule["length"]
        inputs = {d["name"]: d for d in interpreter.get_input_details()}
        for name in MEDIAPIPE_INPUTS:   # MediaPipe binds them by these tensor names
            assert inputs[f"serving_default_{name}:0"]["dtype"] == np.int32
            assert inputs[f"serving_default_{name}:0"]["shape"].tolist() == [1, length]
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert not {name for name in ops if name.startswith("Flex") or name == "CUSTOM"}, variant
        assert bundle.config.max_length == length and length % 64 == 0


def test_mediapipe_parity_compares_both_runtimes_on_the_folders_test_split(mediapipe, tmp_path):
    from convert.mediapipe_parity import run_mediapipe_parity

    report = run_mediapipe_parity(SHIPPED, ["dynamic"], limit=12, progress=False, out_dir=tmp_path)
    row = report["variants"]["dynamic"]
    assert report["n"] == 12 and row["length"] == TextClassifier(FILES["dynamic"]).lengths[0]
    assert row["agreement"] == 1 and row["max_abs_prob_diff"] < 1e-3
    assert row["hostile_texts"] == len(HOSTILE) and row["hostile_labels_that_differ"] == [] and row["met"]
    assert "| dynamic | " in (tmp_path / "parity.md").read_text()


@pytest.mark.parametrize("length, message", [
    (2048, r"--length 2048 is above the model's max_length 1024; choose at most 1024"),
    (100, r"--length 100 is not a multiple of the model's attention block size 64"),
])
def test_a_length_the_model_cannot_take_is_refused_with_the_reason(length, message):
    from convert.mediapipe_export import check_length

    with pytest.raises(ValueError, match=message):
        check_length(length, 64, 1024)


def test_a_language_model_and_a_missing_mediapipe_are_refused_clearly(tmp_path, monkeypatch):
    import convert.mediapipe_export as export
    from training.saved import LANGUAGE_MODEL, ModelFolder

    folder = ModelFolder(tmp_path / "lm")
    folder.write_config(LANGUAGE_MODEL, {"vocab_size": 10}, labels=[])
    monkeypatch.setattr(export, "VENV", tmp_path / "no-venv")
    with pytest.raises(ValueError, match="is a language model; only a classifier exports to MediaPipe"):
        export.convert_for_mediapipe(folder.path, ["float32"])
    with pytest.raises(export.MediaPipeMissing, match=r"pip install mediapipe==0\.10\.21"):
        export.mediapipe_python(install=False)
    with pytest.raises(ValueError, match="variant float16 is not built for mediapipe files; choose from float32"):
        export.convert_for_mediapipe(folder.path, ["float16"])


def test_another_mediapipe_release_gets_its_own_environment_and_only_for_the_mediapipe_target(tmp_path,
                                                                                              monkeypatch):
    from click.testing import CliRunner

    import convert.mediapipe_export as export
    from sparse_edge.cli import main

    monkeypatch.setattr(export, "VENV", tmp_path / ".venv-mediapipe")
    with pytest.raises(export.MediaPipeMissing, match=r"\.venv-mediapipe-9\.9\.9 .*pip install mediapipe==9\.9\.9"):
        export.mediapipe_python(install=False, version="9.9.9")
    result = CliRunner().invoke(main, ["parity", str(SHIPPED), "--mediapipe", "1.2.3"])
    assert result.exit_code == 2 and "--mediapipe is for --target mediapipe" in result.output
