"""Signed models (edge_runtime/signature.py): a file changed after signing is refused, even one
whose own SHA256SUMS were recomputed, by the API, the command line and the service."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_runtime import BundleError, TextClassifier
from edge_runtime.bundle import pack_bundle, read_bundle
from edge_runtime.signature import new_key_pair, sign, signature_path

REPO = Path(__file__).resolve().parents[1]
INT8 = REPO / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite"
SPARSE_EDGE = str(Path(sys.executable).parent / "sparse-edge")


@pytest.fixture
def signed(tmp_path):
    """(model, public key, another public key): a copy of the shipped int8 file signed with a new key."""
    model = tmp_path / "int8.tflite"
    shutil.copyfile(INT8, model)
    private, public = new_key_pair(tmp_path / "keys")
    _, other = new_key_pair(tmp_path / "other")
    assert sign(model, private) == signature_path(model) == tmp_path / "int8.tflite.sig"
    return model, public, other


def tamper_and_reseal(model: Path) -> None:
    """Change one byte of the weights, then write fresh SHA256SUMS: the bundle's own check passes."""
    bundle = read_bundle(model.read_bytes(), str(model))
    flatbuffer = bytearray(bundle.flatbuffer)
    flatbuffer[len(flatbuffer) // 2] ^= 0x01
    model.write_bytes(pack_bundle(bytes(flatbuffer), bundle.config, bundle.vocab_text, bundle.labels))


def test_a_signed_file_runs_under_its_key_and_gives_the_same_answer(signed):
    model, public, _ = signed
    assert TextClassifier(model, public_key=public).classify("A fine film.").probabilities == \
        TextClassifier(INT8).classify("A fine film.").probabilities
    assert private_key_mode(public.parent / "private.pem") == 0o600


def private_key_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_file_changed_after_signing_is_refused_even_with_recomputed_sums(signed):
    model, public, _ = signed
    tamper_and_reseal(model)
    TextClassifier(model)   # the sums inside the file were rewritten: without a key it loads
    with pytest.raises(BundleError, match="does not match its signature .* refused"):
        TextClassifier(model, public_key=public)


def test_another_key_a_missing_signature_and_a_missing_key_are_each_refused_with_the_fix(signed, tmp_path):
    model, public, other = signed
    with pytest.raises(BundleError, match="signed with another key"):
        TextClassifier(model, public_key=other)
    signature_path(model).unlink()
    with pytest.raises(BundleError, match="has no signature .*`sparse-edge sign"):
        TextClassifier(model, public_key=public)
    with pytest.raises(BundleError, match="public key .* not found"):
        TextClassifier(model, public_key=tmp_path / "nope.pem")


def test_the_pinned_key_comes_from_the_environment_too(signed, monkeypatch):
    model, public, other = signed
    monkeypatch.setenv("SPARSE_EDGE_PUBLIC_KEY", str(other))
    with pytest.raises(BundleError, match="signed with another key"):
        TextClassifier(model)
    monkeypatch.setenv("SPARSE_EDGE_PUBLIC_KEY", str(public))
    assert TextClassifier(model).classify("Dull.").label in ("negative", "positive")


def test_the_command_line_and_the_service_refuse_a_tampered_file_in_one_line(signed):
    model, public, _ = signed
    ok = subprocess.run([sys.executable, "-m", "edge_runtime", str(model), "A fine film.", "--json",
                         "--public-key", str(public)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["label"] == "positive", ok.stderr
    tamper_and_reseal(model)
    for command in ([sys.executable, "-m", "edge_runtime", str(model), "A fine film."],
                    [SPARSE_EDGE, "predict", str(model), "A fine film."],
                    [sys.executable, "-m", "edge_runtime", "serve", str(model), "--port", "0"]):
        result = subprocess.run([*command, "--public-key", str(public)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and result.stdout == "", (command, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and "does not match its signature" in result.stderr, result.stderr


def test_sign_makes_keys_signs_files_and_never_overwrites_a_key(tmp_path):
    model = tmp_path / "int8.tflite"
    shutil.copyfile(INT8, model)
    made = subprocess.run([SPARSE_EDGE, "sign", "--new-key", str(tmp_path / "keys"), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    keys = json.loads(made.stdout)
    again = subprocess.run([SPARSE_EDGE, "sign", "--new-key", str(tmp_path / "keys")], capture_output=True, text=True)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    signed = subprocess.run([SPARSE_EDGE, "sign", str(model), "--key", keys["private_key"], "--json"],
                            capture_output=True, text=True, timeout=120)
    assert signed.returncode == 0 and json.loads(signed.stdout) == {"signatures": [str(model) + ".sig"]}
    assert TextClassifier(model, public_key=keys["public_key"]).classify("fine").label
    bad = subprocess.run([SPARSE_EDGE, "sign", str(model), "--key", str(model)], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a usable elliptic-curve private key" in bad.stderr, bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8.tflite", "int8.tflite.sig", "keys"]   # no temp left


def test_the_install_sizes_with_and_without_verification_are_measured_and_the_plain_one_fits_its_budget():
    report = json.loads((REPO / "artifacts" / "bench" / "install-size.json").read_text())
    sizes = report["venv_mb"]
    assert sizes["edge"] <= 175 and sizes["edge-verify"] > sizes["edge"] and report["passed"]
    stated = (REPO / "docs" / "edge.md").read_text()
    assert f"{sizes['edge']:.0f} MB with\n`.[edge]`" in stated and f"{sizes['edge-verify']:.0f} MB with `.[edge-verify]`" in stated


def test_a_file_swapped_after_its_check_never_runs(signed, tmp_path):
    """The attack of issue 39: rename an unsigned file over the model while it is being loaded. The bytes
    checked are the bytes run, so every load either refuses or runs the signed file."""
    import hashlib
    import os
    import threading

    model, public, _ = signed
    signed_bytes = model.read_bytes()
    unsigned = tmp_path / "unsigned.tflite"
    shutil.copyfile(model, unsigned)
    tamper_and_reseal(unsigned)
    unsigned_bytes = unsigned.read_bytes()
    expected = hashlib.sha256(read_bundle(signed_bytes, "signed").flatbuffer).hexdigest()
    stop, swaps = threading.Event(), [0]

    def swap():   # put the unsigned file and the signed one back in place, over and over, atomically
        staged = tmp_path / "staged.tflite"
        while not stop.is_set():
            for data in (unsigned_bytes, signed_bytes):
                staged.write_bytes(data)
                os.replace(staged, model)
                swaps[0] += 1

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    loaded = refused = 0
    try:
        for _ in range(150):
            try:
                classifier = TextClassifier(model, public_key=public)
            except BundleError:
                refused += 1
                continue
            loaded += 1
            assert hashlib.sha256(classifier._flatbuffer).hexdigest() == expected
    finally:
        stop.set()
        thread.join(timeout=10)
    assert swaps[0] > 150 and loaded > 0 and refused > 0, (swaps[0], loaded, refused)


def test_an_empty_pin_is_an_error_not_no_pin(signed, monkeypatch):
    model, _, _ = signed
    with pytest.raises(BundleError, match="--public-key is empty"):
        TextClassifier(model, public_key="")
    monkeypatch.setenv("SPARSE_EDGE_PUBLIC_KEY", "")
    with pytest.raises(BundleError, match="SPARSE_EDGE_PUBLIC_KEY is set but empty"):
        TextClassifier(model)
    for command in ([sys.executable, "-m", "edge_runtime", str(model), "A fine film."],
                    [sys.executable, "-m", "edge_runtime", str(model), "A fine film.", "--public-key", ""]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and "empty" in result.stderr, result.stderr


def test_a_signature_binds_the_name_and_a_bad_key_file_says_so(signed, tmp_path):
    model, public, _ = signed
    renamed = tmp_path / "other.tflite"
    shutil.copyfile(model, renamed)
    shutil.copyfile(signature_path(model), signature_path(renamed))
    with pytest.raises(BundleError, match="was signed as 'int8.tflite'"):
        TextClassifier(renamed, public_key=public)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key at all\n")
    with pytest.raises(BundleError, match="is not a PEM elliptic-curve public key"):
        TextClassifier(model, public_key=garbage)


def test_the_generator_honours_the_pinned_key(tmp_path, monkeypatch):
    from edge_runtime.generator import TextGenerator

    lm = tmp_path / "dynamic.tflite"
    shutil.copyfile(REPO / "artifacts" / "imdb-lm" / "tflite" / "dynamic.tflite", lm)
    private, public = new_key_pair(tmp_path / "keys")
    monkeypatch.setenv("SPARSE_EDGE_PUBLIC_KEY", str(public))
    with pytest.raises(BundleError, match="has no signature"):
        TextGenerator(lm)
    sign(lm, private)
    assert TextGenerator(lm).generate("A fine", 3, temperature=0).token_ids
    tamper_and_reseal(lm)
    result = subprocess.run([SPARSE_EDGE, "generate", str(lm), "A fine"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "does not match its signature" in result.stderr, result.stderr
