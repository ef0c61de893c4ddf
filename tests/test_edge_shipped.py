"""The edge runtime on the files users run: the shipped .tflite, no dataset, no training.

Every signature length of every variant against recorded answers, batching, streaming from the
API, and every way a bundle can be refused (edge_runtime/bundle.py and classifier.py), each
refused with a BundleError naming the file, and by the command line with one line and exit 2.
"""

import hashlib
from functools import partial
import io
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edge_runtime import BundleError, TextClassifier
from edge_runtime.bundle import FLATBUFFER, SUMS, read_bundle, sha256sums
from tests.shipped import SHIPPED_VARIANTS
from tests.tolerances import same_answer

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "artifacts" / "imdb-classifier" / "tflite"
EXPECTED = json.loads((REPO / "tests" / "data" / "shipped_expected.json").read_text())
VARIANTS = SHIPPED_VARIANTS
INT8 = SHIPPED / "int8.tflite"


@pytest.fixture(scope="module")
def classifiers():
    return {v: TextClassifier(SHIPPED / f"{v}.tflite") for v in VARIANTS}


def test_the_recorded_answers_are_for_these_files():
    for variant in VARIANTS:
        digest = hashlib.sha256((SHIPPED / f"{variant}.tflite").read_bytes()).hexdigest()
        assert EXPECTED["sha256"][variant] == digest, f"rerun scripts/shipped_expected.py for {variant}"


def test_every_signature_length_of_every_variant_gives_the_recorded_labels(classifiers):
    lengths = {case["length"] for case in EXPECTED["cases"]}
    assert lengths == set(classifiers["int8"].lengths) == {128, 192, 320, 448, 704, 1024}
    for case in EXPECTED["cases"]:
        for variant, classifier in classifiers.items():
            assert classifier.encode(case["text"])[0].shape[1] == case["length"]
            result = classifier.classify(case["text"])
            # recorded with ai-edge-litert on one x86 CPU: equal within the measured kernel spread
            assert same_answer(variant, case["expected"][variant]["probabilities"], result.probabilities), \
                (variant, case["length"], result.probabilities)


def test_a_batch_equals_one_review_at_a_time_and_keeps_input_order(classifiers):
    texts = [case["text"] for case in EXPECTED["cases"]][::-1] + ["", "fine"]
    for variant in VARIANTS:
        classifier = classifiers[variant]
        assert classifier.batchable
        one = [classifier.classify(t).probabilities for t in texts]
        for batch_size in (1, 3, 16):
            batched = [r.probabilities for r in classifier.classify_batch(texts, batch_size=batch_size)]
            # another batch size may take other kernels on another CPU: the same answer, within their spread
            assert len(batched) == len(one) and all(map(partial(same_answer, variant), one, batched)), batch_size


def test_classify_stream_reads_only_a_batch_ahead(classifiers):
    pulled = []

    def endless():
        for i in range(10**9):
            pulled.append(i)
            yield f"review number {i}, a fine film"

    stream = classifiers["int8"].classify_stream(endless(), batch_size=4)
    first = [next(stream) for _ in range(5)]
    assert all(r.label == "positive" for r in first)
    assert len(pulled) == 8    # two batches of 4, not the whole (endless) input
    with pytest.raises(ValueError, match="batch_size must be an integer of at least 1"):
        next(classifiers["int8"].classify_stream(["x"], batch_size=0))


# -- bundles that must be refused ----------------------------------------------------------------
def members(path=INT8) -> tuple[bytes, dict[str, bytes]]:
    data = path.read_bytes()
    bundle = read_bundle(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return bundle.flatbuffer, {name: zf.read(name) for name in zf.namelist()}


def forge(out: Path, flatbuffer: bytes, files: dict[str, bytes], resum: bool = True, compression=zipfile.ZIP_STORED) -> Path:
    """A bundle with these members; ``resum`` recomputes SHA256SUMS (a consistent but lying file)."""
    files = dict(files)
    if resum:
        files[SUMS] = sha256sums({FLATBUFFER: flatbuffer, **{k: v for k, v in files.items() if k != SUMS}}).encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    out.write_bytes(flatbuffer + archive.getvalue())
    return out


def config_with(files, **changes) -> bytes:
    config = json.loads(files["config.json"])
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return json.dumps(config).encode()


def refused_cases(tmp_path) -> dict[str, tuple[Path, str]]:
    flatbuffer, files = members()
    vocab = files["vocab.txt"].decode().split("\n")
    i, j = vocab.index("good"), vocab.index("bad")
    vocab[i], vocab[j] = vocab[j], vocab[i]
    swapped = "\n".join(vocab).encode()
    cases = {
        "too many members": (forge(tmp_path / "many.tflite", flatbuffer, {**files, **{f"x{k}.txt": b"" for k in range(16)}}),
                             "has 20 members"),
        "a member missing": (forge(tmp_path / "nolabels.tflite", flatbuffer,
                                   {k: v for k, v in files.items() if k != "labels.txt"}), "lacks the associated file"),
        "config not JSON": (forge(tmp_path / "badjson.tflite", flatbuffer, {**files, "config.json": b"{nope"}),
                            "config.json is not valid JSON"),
        "config deeply nested": (forge(tmp_path / "deep.tflite", flatbuffer, {**files, "config.json": b"[" * 100_000}),
                                 "config.json is not valid JSON"),
        "wrong format": (forge(tmp_path / "format.tflite", flatbuffer, {**files, "config.json": config_with(files, format="x/9")}),
                         "is not a sparse-edge-bundle/3 config"),
        "format 1": (forge(tmp_path / "v1.tflite", flatbuffer, {**files, "config.json": config_with(files, format="sparse-edge-bundle/1")}),
                     "written by an older sparse-edge"),
        "no SHA256SUMS": (forge(tmp_path / "nosums.tflite", flatbuffer, {k: v for k, v in files.items() if k != SUMS},
                                resum=False), "written by an older sparse-edge"),
        "swapped vocab tokens": (forge(tmp_path / "swap.tflite", flatbuffer, {**files, "vocab.txt": swapped}, resum=False),
                                 "associated file vocab.txt do not match the SHA-256"),
        "edited label": (forge(tmp_path / "label.tflite", flatbuffer, {**files, "labels.txt": b"negative\nPOSITIVE\n"},
                               resum=False), "associated file labels.txt do not match"),
        "edited config": (forge(tmp_path / "config.tflite", flatbuffer,
                                {**files, "config.json": config_with(files, max_length=512)}, resum=False),
                          "associated file config.json do not match"),
        "config lacks model": (forge(tmp_path / "nomodel.tflite", flatbuffer, {**files, "config.json": config_with(files, model=None)}),
                               'config.json lacks the "model" object'),
        "empty lengths": (forge(tmp_path / "nolengths.tflite", flatbuffer, {**files, "config.json": config_with(files, lengths=[])}),
                          "config.json has no list of input lengths"),
        "max_length not a number": (forge(tmp_path / "maxlen.tflite", flatbuffer,
                                          {**files, "config.json": config_with(files, max_length="long")}),
                                    "config.json has no integer max_length"),
        "vocab not UTF-8": (forge(tmp_path / "latin1.tflite", flatbuffer, {**files, "vocab.txt": files["vocab.txt"] + b"\xff\n"}),
                            "vocab.txt is not UTF-8"),
        "labels count": (forge(tmp_path / "labels3.tflite", flatbuffer, {**files, "labels.txt": b"a\nb\nc\n"}),
                         "labels.txt names 3 classes but the model has 2"),
        "vocab without specials": (forge(tmp_path / "specials.tflite", flatbuffer,
                                         {**files, "vocab.txt": files["vocab.txt"].replace(b"[UNK]", b"[UNX]", 1)}),
                                   "vocab.txt is not a BERT vocabulary"),
        "a duplicate member": (forge(tmp_path / "dup.tflite", flatbuffer, {**files}, resum=True), None),
        "damaged member": (None, "associated file"),
        "model is /dev/zero": (Path("/dev/zero"), "is not a TFLite model"),
        "a folder": (tmp_path, "is a folder"),
    }
    # a duplicate member: the same name twice in the archive
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("vocab.txt", swapped)
    (tmp_path / "dup.tflite").write_bytes(flatbuffer + archive.getvalue())
    cases["a duplicate member"] = (tmp_path / "dup.tflite", "appears twice")
    # a member whose compressed bytes are damaged: DEFLATED, one byte of its stream flipped
    damaged = bytearray(forge(tmp_path / "deflated.tflite", flatbuffer, files, compression=zipfile.ZIP_DEFLATED).read_bytes())
    start = damaged.index(b"vocab.txt", len(flatbuffer)) + len("vocab.txt") + 40
    damaged[start] ^= 0xFF
    (tmp_path / "damaged.tflite").write_bytes(bytes(damaged))
    cases["damaged member"] = (tmp_path / "damaged.tflite", "vocab.txt")
    return cases


def test_every_bundle_problem_is_a_bundle_error_naming_the_file(tmp_path):
    for name, (path, message) in refused_cases(tmp_path).items():
        with pytest.raises(BundleError) as caught:
            TextClassifier(path)
        assert message in str(caught.value), (name, str(caught.value))
        assert str(path) in str(caught.value), name


def test_the_command_line_refuses_each_with_one_line_and_exit_2(tmp_path):
    """In-process for speed (click's runner); three of them in a real process too."""
    from click.testing import CliRunner

    from edge_runtime.cli import main

    for i, (name, (path, message)) in enumerate(refused_cases(tmp_path).items()):
        message = "is a directory" if name == "a folder" else message   # click's own check of the argument
        if i % 7 == 0:
            result = subprocess.run([sys.executable, "-m", "edge_runtime", str(path), "some text"],
                                    capture_output=True, text=True, cwd=REPO, timeout=60)
            code, errors = result.returncode, result.stderr
        else:
            result = CliRunner().invoke(main, [str(path), "some text"], prog_name="python -m edge_runtime")
            code, errors = result.exit_code, result.stderr
        assert code == 2, (name, errors)
        assert "Traceback" not in errors and len(errors.strip().splitlines()) == 1, errors
        assert errors.startswith("error: ") and message in errors, (name, errors)


def test_random_bit_flips_anywhere_in_the_associated_files_are_refused_never_a_traceback(tmp_path):
    data = INT8.read_bytes()
    start = len(read_bundle(data).flatbuffer)
    rng = random.Random(0)
    for _ in range(400):
        flipped = bytearray(data)
        position = rng.randrange(start, len(data))
        flipped[position] ^= 1 << rng.randrange(8)
        try:
            read_bundle(bytes(flipped), "flipped")
        except BundleError as error:
            assert "flipped" in str(error)
        else:   # a flip the zip reader never looks at (a header's time stamp, an extra field)
            bundle = read_bundle(bytes(flipped))
            assert (bundle.vocab_text, bundle.labels) == (read_bundle(data).vocab_text, read_bundle(data).labels)


def test_the_model_path_cannot_exhaust_memory_even_as_a_device_file():
    with pytest.raises(BundleError, match="/dev/zero is not a TFLite model"):
        TextClassifier("/dev/zero")
    with pytest.raises(BundleError, match="/dev/urandom is not a TFLite model"):
        TextClassifier("/dev/urandom")


def test_every_backend_that_is_installed_gives_the_same_answers():
    """auto picks ai-edge-litert; TensorFlow's own interpreter (the last resort, installed in the
    training environment) reads the same file to the same probabilities."""
    litert, tensorflow = TextClassifier(INT8), TextClassifier(INT8, backend="tensorflow")
    assert (litert.backend, tensorflow.backend) == ("ai_edge_litert", "tensorflow")
    for text in ("A wonderful, moving film.", "Dull and far too long.", ""):
        assert tensorflow.classify(text).probabilities == pytest.approx(litert.classify(text).probabilities, abs=1e-6)


def test_ctrl_c_inside_an_import_that_a_library_turned_into_import_error_stays_ctrl_c(monkeypatch):
    import importlib

    from edge_runtime import backends

    def interrupted_import(name):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise ImportError(f"cannot import {name}") from interrupt

    monkeypatch.setattr(importlib, "import_module", interrupted_import)
    with pytest.raises(KeyboardInterrupt):
        backends.interpreter_class("auto")
