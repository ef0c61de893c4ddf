"""Signed models: who made a ``.tflite``, checked before it is run.

A bundle's ``SHA256SUMS`` (:mod:`edge_runtime.bundle`) lives inside the file it describes, so it
catches a damaged copy but not a deliberate change: whoever edits the weights can write new sums.
A signature can only be made with a private key the user keeps; the device holds the matching
public key and refuses a file whose signature does not match it.

The format is the OpenSSF model-signing one (the ``model-signing`` package on PyPI, signing and
verifying offline with an elliptic-curve key pair): ``MODEL.tflite.sig`` beside the file, a
Sigstore bundle holding a signed in-toto statement of the file's SHA-256. Its package and
dependencies are only needed where a signature is made or checked (``pip install
"sparse-edge[edge-verify]"``); the plain edge install stays as it was.

    sparse-edge sign --new-key keys/                        # keys/private.pem, keys/public.pem
    sparse-edge sign MODEL.tflite --key keys/private.pem    # writes MODEL.tflite.sig
    python -m edge_runtime MODEL.tflite "text" --public-key keys/public.pem

``SPARSE_EDGE_PUBLIC_KEY`` pins the key for every command, for :class:`TextClassifier` and for
:class:`TextGenerator` (``public_key=``), so a device can be set up once to run only files signed
by its owner.

What a signature binds: the file's bytes (their SHA-256) and the file's name at signing time
(``int8.tflite``): a signed file renamed, even with its ``.sig``, is refused. What is checked is
what runs: the file is read once, the signature is checked against those bytes, and the
interpreter is built from the same bytes (``load``), so a file swapped on disk after the check
never runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edge_runtime.bundle import BundleError

SUFFIX = ".sig"
PUBLIC_KEY_ENV = "SPARSE_EDGE_PUBLIC_KEY"
INSTALL = 'pip install "sparse-edge[edge-verify]"'


def signature_path(model: str | Path) -> Path:
    """Where the signature of ``model`` is kept: beside it, ``NAME.tflite.sig``."""
    model = Path(model)
    return model.with_name(model.name + SUFFIX)


def pinned_key(public_key: str | Path | None = None) -> Path | None:
    """The public key to check against: the one given, else ``$SPARSE_EDGE_PUBLIC_KEY``, else none.

    An empty one (``--public-key ''``, or the variable set to nothing) is an error, not "no key":
    a pin that pins nothing would run any file.
    """
    if public_key is not None and str(public_key).strip() == "":
        raise BundleError("--public-key is empty; give the path of the public.pem that `sparse-edge sign --new-key` "
                          "wrote, or leave the option out to run unsigned files")
    if public_key is not None:
        return Path(public_key)
    chosen = os.environ.get(PUBLIC_KEY_ENV)
    if chosen is not None and chosen.strip() == "":
        raise BundleError(f"{PUBLIC_KEY_ENV} is set but empty; set it to the path of public.pem, or unset it "
                          "to run unsigned files")
    return Path(chosen) if chosen else None


def _model_signing():
    try:
        from model_signing import signing, verifying
    except ImportError:
        raise BundleError(f"checking or making a model signature needs the model-signing package: {INSTALL}") from None
    return signing, verifying


def _signed_manifest(signature: Path, public_key: Path):
    """The manifest ``signature`` signs, once its signature is checked against ``public_key``."""
    _, verifying = _model_signing()
    try:
        config = verifying.Config().use_elliptic_key_verifier(public_key=public_key)
    except Exception as error:  # noqa: BLE001 - a PEM that is no elliptic-curve public key fails here
        raise BundleError(f"public key {public_key} is not a PEM elliptic-curve public key "
                          f"({str(error).splitlines()[0] if str(error) else type(error).__name__}); give the "
                          "public.pem that `sparse-edge sign --new-key` wrote") from None
    try:   # model-signing 1.1.1 (pinned): its verifier checks a signature and returns what it signed
        read = verifying.sigstore_pb.Signature.read if not config._uses_sigstore else verifying.sigstore.Signature.read
        return config._verifier.verify(read(signature))
    except Exception:  # noqa: BLE001 - unreadable, or signed by another key: the same answer
        return None


def verify_bytes(data: bytes, model: str | Path, public_key: str | Path) -> None:
    """Refuse (a :class:`BundleError` naming the file and the fix) unless ``data``, the bytes about to be run,
    are the bytes that the private key of ``public_key`` signed under ``model``'s file name."""
    import hashlib

    model, public_key = Path(model), Path(public_key)
    signature = signature_path(model)
    if not public_key.is_file():
        raise BundleError(f"public key {public_key} not found; give the public.pem that `sparse-edge sign "
                          "--new-key` wrote")
    if not signature.is_file():
        raise BundleError(f"{model} has no signature ({signature} is missing); sign it with "
                          f"`sparse-edge sign {model} --key PRIVATE.pem`, or run it without a pinned key")
    manifest = _signed_manifest(signature, public_key)
    if manifest is None:
        raise BundleError(f"{signature} is not a signature made by the key of {public_key}: the file was signed "
                          "with another key, or its signature was changed; refused")
    if manifest.model_name != model.name:
        raise BundleError(f"{model} was signed as {manifest.model_name!r}: a signature binds the file's name too; "
                          f"give the file its signed name, or sign it again as {model.name}")
    digests = [(rd.identifier, rd.digest.algorithm, rd.digest.digest_value) for rd in manifest.resource_descriptors()]
    if digests != [(".", "sha256", hashlib.sha256(data).digest())]:
        raise BundleError(f"{model} does not match its signature under {public_key}: it was changed after signing "
                          "or signed with another key; refused")


def verified(model: str | Path, public_key: str | Path | None) -> bytes:
    """The bytes of ``model``, read once and, with a key, checked against its signature: what to run."""
    from edge_runtime.bundle import read_model_file

    data = read_model_file(model)
    if public_key is not None:
        verify_bytes(data, model, public_key)
    return data


def verify(model: str | Path, public_key: str | Path) -> None:
    """Refuse ``model`` unless its signature under ``public_key`` matches the file as it is now."""
    verified(model, public_key)


def sign(model: str | Path, private_key: str | Path) -> Path:
    """Write ``MODEL.sig`` for ``model`` with ``private_key`` (a PEM elliptic-curve key); returns its path.

    Written to a temporary file, then renamed: a failed signing leaves no signature behind."""
    model, private_key = Path(model), Path(private_key)
    if not model.is_file():
        raise BundleError(f"{model} not found; give a .tflite to sign")
    if not private_key.is_file():
        raise BundleError(f"private key {private_key} not found; make a key pair with `sparse-edge sign --new-key DIR`")
    signing, _ = _model_signing()
    out = signature_path(model)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        try:
            signing.Config().use_elliptic_key_signer(private_key=private_key).sign(model, tmp)
        except ValueError as error:
            raise BundleError(f"{private_key} is not a usable elliptic-curve private key ({error}); "
                              "make one with `sparse-edge sign --new-key DIR`") from None
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def new_key_pair(folder: str | Path) -> tuple[Path, Path]:
    """A new P-256 key pair: ``folder/private.pem`` (mode 0600; keep it off the device) and
    ``folder/public.pem`` (copy it to the device). Refuses to overwrite an existing key."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        raise BundleError(f"making a key pair needs the cryptography package: {INSTALL}") from None
    folder = Path(folder)
    private, public = folder / "private.pem", folder / "public.pem"
    if private.exists() or public.exists():
        raise BundleError(f"{folder} already holds a key pair; choose another folder (a key is never overwritten)")
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public
