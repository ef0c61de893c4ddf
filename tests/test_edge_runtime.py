"""The edge runtime: one bundled file in, labels out; damaged or hostile files refused clearly."""

import io
import json
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_runtime import BundleError, TextClassifier
from edge_runtime.bundle import pack_bundle, read_bundle

pytestmark = pytest.mark.imdb
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def int8_path(converted_model):
    return converted_model / "tflite" / "int8.tflite"


@pytest.fixture(scope="module")
def classifier(int8_path):
    return TextClassifier(int8_path)


def rebundle(path: Path, out: Path, **changes) -> Path:
    """Copy a bundle with some associated files replaced (``config``: field updates of its BundleConfig)."""
    import dataclasses

    bundle = read_bundle(path.read_bytes())
    config = dataclasses.replace(bundle.config, **changes.get("config", {}))
    out.write_bytes(pack_bundle(bundle.flatbuffer, config, changes.get("vocab", bundle.vocab_text), bundle.labels))
    return out


def test_odd_texts_get_a_defined_result(classifier):
    for text in ["", "   \n\t", "😀🎬 great", "很好看的电影", "Café naïve résumé", "a\u200bb\x00c\x07",
                 "<br /><br />Great<b>film</b>", "x" * 300]:
        result = classifier.classify(text)
        assert result.label == classifier.labels[max(range(2), key=lambda i: result.probabilities[i])]
        assert abs(sum(result.probabilities) - 1) < 0.02
    long = classifier.classify("good movie " * 200_000)  # about 2.2 MB
    assert long.truncated and long.n_tokens > 384
    assert classifier.classify(b"bad \xff\xfe movie").probabilities == classifier.classify("bad \ufffd\ufffd movie").probabilities
    with pytest.warns(UserWarning, match="not valid UTF-8"):
        classifier.classify(b"\xff")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_any_unicode_string_classifies_deterministically_with_ids_in_range(classifier, text):
    ids, n_tokens, truncated = classifier.encode(text)
    assert ids.min() >= 0 and ids.max() < len(classifier.tokenizer)
    assert ids.shape[1] in classifier.lengths
    assert classifier.classify(text).probabilities == classifier.classify(text).probabilities


def test_short_reviews_run_at_a_short_length(classifier):
    assert classifier.encode("fine")[0].shape == (1, 128)
    assert classifier.encode("word " * 150)[0].shape == (1, 192)
    assert classifier.encode("word " * 300)[0].shape == (1, 320)
    assert classifier.encode("word " * 5000)[0].shape == (1, 384)   # the max length


def test_one_classifier_is_safe_from_eight_threads(classifier):
    texts = [f"review {i}: " + "great acting, " * (i % 40) + "dull plot " * (i % 7) for i in range(100)]
    expected = [classifier.classify(t).probabilities for t in texts]
    results, errors = {}, []

    def worker(k):
        try:
            results[k] = [classifier.classify(t).probabilities for t in texts]
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(results[k] == expected for k in range(8))


def test_damaged_and_hostile_model_files_are_refused(int8_path, tmp_path):
    data = int8_path.read_bytes()
    bundle = read_bundle(data)
    cases = {}
    cases["missing"] = (tmp_path / "nope.tflite", "does not exist")
    (tmp_path / "text.tflite").write_text("hello, not a model")
    cases["not tflite"] = (tmp_path / "text.tflite", "not a TFLite model")
    (tmp_path / "cut.tflite").write_bytes(data[: len(data) // 2])
    cases["truncated"] = (tmp_path / "cut.tflite", "no readable associated files")
    (tmp_path / "bare.tflite").write_bytes(bundle.flatbuffer)
    cases["no associated files"] = (tmp_path / "bare.tflite", "no readable associated files")
    flipped = bytearray(data)
    flipped[len(bundle.flatbuffer) // 2] ^= 0x10  # one bit inside the weights
    (tmp_path / "flip.tflite").write_bytes(bytes(flipped))
    cases["flipped bit"] = (tmp_path / "flip.tflite", "corrupted: the model bytes do not match the SHA-256")
    small_vocab = "\n".join(bundle.vocab_text.splitlines()[:-5]) + "\n"
    cases["vocab size"] = (rebundle(int8_path, tmp_path / "vocab.tflite", vocab=small_vocab),
                           "vocab.txt has 7995 tokens but the model's embedding table has 8000")
    for name, member in [("unsafe", "../evil.txt"), ("huge", "big.txt")]:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member, b"\0" * (9 * 1024 * 1024 if name == "huge" else 10))
        (tmp_path / f"{name}.tflite").write_bytes(bundle.flatbuffer + archive.getvalue())
    cases["unsafe path"] = (tmp_path / "unsafe.tflite", "not a plain file name")
    cases["huge member"] = (tmp_path / "huge.tflite", "claims 9437184 bytes")
    for name, (path, message) in cases.items():
        with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
            TextClassifier(path)
        result = subprocess.run([sys.executable, "-m", "edge_runtime", str(path), "some text"],
                                capture_output=True, text=True, cwd=REPO)
        assert result.returncode != 0, name
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_command_line_reads_arguments_files_jsonl_and_stdin(int8_path, tmp_path):
    lines = tmp_path / "reviews.txt"
    lines.write_bytes(b"A wonderful film.\nTerrible \xff acting.\n\n")
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text(json.dumps({"text": "Loved it"}) + "\n" + json.dumps({"text": "Hated it"}) + "\n")
    run = lambda *args, **kw: subprocess.run([sys.executable, "-m", "edge_runtime", str(int8_path), *args],  # noqa: E731
                                             capture_output=True, text=True, cwd=REPO, **kw)
    out = run("--file", str(lines), "--json", "--threads", "2")
    assert out.returncode == 0 and "not valid UTF-8" in out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(results) == 2 and {"label", "score", "probabilities", "n_tokens", "truncated", "latency_ms"} <= set(results[0])
    out = run("--jsonl", str(jsonl))
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 2
    api = TextClassifier(int8_path)
    out = run(input="Piped review, quite good.")
    assert out.returncode == 0 and out.stdout.split("\t")[0] == api.classify("Piped review, quite good.").label
    piped = subprocess.run([sys.executable, "-m", "edge_runtime", str(int8_path), "--json"], input=b"good \xff\xfe film",
                           capture_output=True, cwd=REPO)
    assert piped.returncode == 0 and b"standard input is not valid UTF-8" in piped.stderr
    assert json.loads(piped.stdout)["probabilities"] == pytest.approx(api.classify("good \ufffd\ufffd film").probabilities)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    out = run("--jsonl", str(bad))
    assert out.returncode != 0 and "line 1 is not JSON" in out.stderr


def test_sparse_edge_predict_runs_a_tflite_without_importing_tensorflow(int8_path):
    code = ("import sys; from click.testing import CliRunner; from sparse_edge.cli import main; "
            f"r = CliRunner().invoke(main, ['predict', {str(int8_path)!r}, 'great film', '--json']); "
            "print(r.output); assert r.exit_code == 0, r.output; "
            "assert 'tensorflow' not in sys.modules, 'predict imported tensorflow'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr + result.stdout
    expected = TextClassifier(int8_path).classify("great film")
    assert json.loads(result.stdout.strip().splitlines()[0])["probabilities"] == pytest.approx(expected.probabilities)
