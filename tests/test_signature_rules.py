"""edge_runtime/signature.py in-process, word for word: every refusal names the file and the fix, and what a
signature binds (the bytes and the file's name) is what is checked. tests/test_signing.py runs the commands."""

import os
import shutil
from pathlib import Path

import pytest

from edge_runtime import BundleError
from edge_runtime import signature as module
from edge_runtime.signature import (PUBLIC_KEY_ENV, new_key_pair, pinned_key, sign, signature_path, verified,
                                    verify, verify_bytes)

REPO = Path(__file__).resolve().parents[1]
INT8 = REPO / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite"


def refused(call, *args) -> str:
    with pytest.raises(BundleError) as error:
        call(*args)
    return str(error.value)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    private, public = new_key_pair(root / "mine")
    _, other = new_key_pair(root / "other")
    return private, public, other


@pytest.fixture
def model(tmp_path, keys):
    path = tmp_path / "int8.tflite"
    shutil.copyfile(INT8, path)
    sign(path, keys[0])
    return path


def test_the_signature_lives_beside_the_file():
    assert signature_path("a/int8.tflite") == Path("a/int8.tflite.sig")
    assert module.SUFFIX == ".sig" and PUBLIC_KEY_ENV == "SPARSE_EDGE_PUBLIC_KEY"


def test_the_pinned_key_is_the_one_given_then_the_variable_and_an_empty_one_is_an_error(monkeypatch):
    monkeypatch.delenv(PUBLIC_KEY_ENV, raising=False)
    assert pinned_key() is None and pinned_key("k.pem") == Path("k.pem")
    monkeypatch.setenv(PUBLIC_KEY_ENV, "env.pem")
    assert pinned_key() == Path("env.pem") and pinned_key("given.pem") == Path("given.pem")
    for empty in ("", "  "):
        assert refused(pinned_key, empty) == ("--public-key is empty; give the path of the public.pem that `sparse-edge "
                                              "sign --new-key` wrote, or leave the option out to run unsigned files")
        monkeypatch.setenv(PUBLIC_KEY_ENV, empty)
        assert refused(pinned_key) == ("SPARSE_EDGE_PUBLIC_KEY is set but empty; set it to the path of public.pem, or "
                                       "unset it to run unsigned files")
    assert pinned_key("k.pem") == Path("k.pem")          # a given key wins over an empty variable


def test_a_signed_file_verifies_and_its_bytes_are_what_runs(model, keys):
    _, public, _ = keys
    data = verified(model, public)
    assert data == model.read_bytes() and verified(model, None) == data
    verify(model, public)
    verify_bytes(data, model, public)


def test_each_refusal_names_the_file_and_the_fix(model, keys, tmp_path):
    _, public, other = keys
    data = model.read_bytes()
    missing_key = tmp_path / "none.pem"
    assert refused(verify_bytes, data, model, missing_key) == (
        f"public key {missing_key} not found; give the public.pem that `sparse-edge sign --new-key` wrote")
    unsigned = tmp_path / "dynamic.tflite"
    shutil.copyfile(INT8, unsigned)
    assert refused(verify_bytes, data, unsigned, public) == (
        f"{unsigned} has no signature ({unsigned}.sig is missing); sign it with `sparse-edge sign {unsigned} --key "
        "PRIVATE.pem`, or run it without a pinned key")
    assert refused(verify_bytes, data, model, other) == (
        f"{model}.sig is not a signature made by the key of {other}: the file was signed with another key, or its "
        "signature was changed; refused")
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 1
    assert refused(verify_bytes, bytes(changed), model, public) == (
        f"{model} does not match its signature under {public}: it was changed after signing or signed with another "
        "key; refused")
    renamed = tmp_path / "float32.tflite"
    shutil.copyfile(model, renamed)
    shutil.copyfile(signature_path(model), signature_path(renamed))
    assert refused(verify_bytes, data, renamed, public) == (
        f"{renamed} was signed as 'int8.tflite': a signature binds the file's name too; give the file its signed "
        "name, or sign it again as float32.tflite")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    message = refused(verify_bytes, data, model, garbage)
    assert message.startswith(f"public key {garbage} is not a PEM elliptic-curve public key (")
    assert message.endswith("); give the public.pem that `sparse-edge sign --new-key` wrote")
    signature_path(model).write_bytes(b"{}")
    assert refused(verify_bytes, data, model, public).startswith(f"{model}.sig is not a signature made by the key of")


def test_signing_refuses_what_it_cannot_sign_and_leaves_nothing_behind(tmp_path, keys):
    private, _, _ = keys
    missing = tmp_path / "none.tflite"
    assert refused(sign, missing, private) == f"{missing} not found; give a .tflite to sign"
    model = tmp_path / "m.tflite"
    shutil.copyfile(INT8, model)
    no_key = tmp_path / "none.pem"
    assert refused(sign, model, no_key) == (f"private key {no_key} not found; make a key pair with `sparse-edge sign "
                                            "--new-key DIR`")
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    message = refused(sign, model, bad)
    assert message.startswith(f"{bad} is not a usable elliptic-curve private key (")
    assert message.endswith("); make one with `sparse-edge sign --new-key DIR`")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pem", "m.tflite"]       # no .sig, no temporary file


def test_a_key_pair_is_new_private_and_never_overwritten(tmp_path):
    private, public = new_key_pair(tmp_path / "deep" / "keys")
    assert (private.name, public.name) == ("private.pem", "public.pem")
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    assert refused(new_key_pair, tmp_path / "deep" / "keys") == (
        f"{tmp_path / 'deep' / 'keys'} already holds a key pair; choose another folder (a key is never overwritten)")
    os.remove(private)
    assert refused(new_key_pair, tmp_path / "deep" / "keys").endswith("(a key is never overwritten)")  # public alone
    assert before != new_key_pair(tmp_path / "again")[0].read_bytes()
    (tmp_path / "empty").mkdir()
    assert new_key_pair(tmp_path / "empty")[1] == tmp_path / "empty" / "public.pem"   # an existing empty folder is fine


def test_without_the_package_the_message_says_what_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def without(name, *args, **kwargs):
        if name.startswith(("model_signing", "cryptography")):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    assert refused(module._model_signing) == ('checking or making a model signature needs the model-signing package: '
                                              'pip install "sparse-edge[edge-verify]"')
    assert refused(new_key_pair, "/nonexistent") == ('making a key pair needs the cryptography package: pip install '
                                                     '"sparse-edge[edge-verify]"')
