"""One ``.tflite`` file is the whole deployable model: the flatbuffer, then a zip of its files.

The TFLite metadata convention appends a zip archive of "associated files" after the
flatbuffer. The interpreter reads only the flatbuffer and ignores what follows; this module
reads the zip from memory with :mod:`zipfile` (which finds an archive at the end of any byte
string) and never extracts anything to disk.

Members of a sparse-edge bundle:

- ``config.json``: max length, the input lengths (one signature per length), tokenizer options,
  pattern, versions, the source model's test metrics, and the flatbuffer's length and SHA-256;
- ``vocab.txt``: the WordPiece vocabulary, one token per line;
- ``labels.txt``: class names, one per line, in output order.

Reads are capped (a member that claims to be huge is refused before it is decompressed) and
member names must be plain file names, so a hostile archive can neither exhaust memory nor
name a path outside the bundle.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

CONFIG, VOCAB, LABELS = "config.json", "vocab.txt", "labels.txt"   # the members of the appended zip
REQUIRED = (CONFIG, VOCAB, LABELS)
MAX_MEMBER_BYTES = 8 * 1024 * 1024   # vocab.txt of a 30k vocabulary is ~250 kB
MAX_MEMBERS = 16
FORMAT = "sparse-edge-bundle/1"


class BundleError(ValueError):
    """The file is not a usable sparse-edge model; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Bundle:
    flatbuffer: bytes        # the TFLite model, without the appended zip
    config: dict
    vocab_text: str
    labels: list[str]


def pack_bundle(flatbuffer: bytes, config: dict, vocab_text: str, labels: list[str]) -> bytes:
    """The flatbuffer followed by a zip of config.json (with the flatbuffer's hash), vocab and labels."""
    config = dict(config, format=FORMAT, flatbuffer_bytes=len(flatbuffer),
                  flatbuffer_sha256=hashlib.sha256(flatbuffer).hexdigest())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(CONFIG, json.dumps(config, indent=2, sort_keys=True))
        zf.writestr(VOCAB, vocab_text)
        zf.writestr(LABELS, "\n".join(labels) + "\n")
    return flatbuffer + archive.getvalue()


def read_bundle(data: bytes, source: str = "model", verify: bool = True) -> Bundle:
    """Split a bundled ``.tflite`` into its flatbuffer and associated files.

    Args:
        data: the whole file's bytes.
        source: a name for error messages (usually the path).
        verify: check the flatbuffer's SHA-256 against the one recorded at conversion, so that a
            corrupted copy (a flipped bit in the weights still loads and runs) is refused.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise BundleError(f"{source} is not a TFLite model (no TFL3 identifier); "
                          "give a .tflite written by `sparse-edge convert`")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BundleError(f"{source} has no associated files (vocab.txt, labels.txt, config.json) "
                          "after the flatbuffer, or they are truncated; convert it with "
                          "`sparse-edge convert`, or copy the file again") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise BundleError(f"{source}: the associated-file archive has {len(members)} members "
                              f"(at most {MAX_MEMBERS} expected); the file is not a sparse-edge model")
        files = {}
        for info in members:
            name = info.filename
            if "/" in name or "\\" in name or name.startswith(".") or ":" in name:
                raise BundleError(f"{source}: associated file name {name!r} is not a plain file name; "
                                  "refusing the archive")
            if info.file_size > MAX_MEMBER_BYTES:
                raise BundleError(f"{source}: associated file {name} claims {info.file_size} bytes "
                                  f"(limit {MAX_MEMBER_BYTES}); refusing the archive")
            files[name] = _read_capped(zf, info, source)
    missing = [name for name in REQUIRED if name not in files]
    if missing:
        raise BundleError(f"{source} lacks the associated file(s) {', '.join(missing)}; "
                          "convert the model again with `sparse-edge convert`")
    try:
        config = json.loads(files[CONFIG])
    except json.JSONDecodeError as error:
        raise BundleError(f"{source}: config.json is not valid JSON ({error}); convert again") from None
    length = config.get("flatbuffer_bytes")
    if config.get("format") != FORMAT or not isinstance(length, int) or not 0 < length <= len(data):
        raise BundleError(f"{source}: config.json is not a {FORMAT} config; convert the model again "
                          "with `sparse-edge convert`")
    flatbuffer = data[:length]
    if verify and hashlib.sha256(flatbuffer).hexdigest() != config.get("flatbuffer_sha256"):
        raise BundleError(f"{source} is corrupted: the model bytes do not match the SHA-256 recorded "
                          "at conversion; copy the file again")
    vocab_text = files[VOCAB].decode("utf-8")
    labels = [line for line in files[LABELS].decode("utf-8").splitlines() if line]
    return Bundle(flatbuffer, config, vocab_text, labels)


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> bytes:
    """Decompress at most MAX_MEMBER_BYTES, whatever the header claims."""
    try:
        with zf.open(info) as member:
            data = member.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise BundleError(f"{source}: associated file {info.filename} is damaged ({error}); "
                          "copy the file again") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise BundleError(f"{source}: associated file {info.filename} is larger than "
                          f"{MAX_MEMBER_BYTES} bytes; refusing the archive")
    return data
