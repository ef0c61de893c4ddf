"""One ``.tflite`` file is the whole deployable model: the flatbuffer, then a zip of its files.

The TFLite metadata convention appends a zip archive of "associated files" after the
flatbuffer. The interpreter reads only the flatbuffer and ignores what follows; this module
reads the zip from memory with :mod:`zipfile` (which finds an archive at the end of any byte
string) and never extracts anything to disk.

Members of a sparse-edge bundle (format 3; files of format 2 still load):

- ``config.json``: a :class:`BundleConfig` (what the file is, its variant, its input lengths
  stored once, tokenizer options, how its signatures are called, versions, provenance) and the
  flatbuffer's length;
- ``vocab.txt``: the WordPiece vocabulary, one token per line (a byte-level model has none);
- ``labels.txt``: class names, one per line, in output order;
- ``SHA256SUMS``: the SHA-256 of the flatbuffer and of each member above, in ``sha256sum``'s
  format. Any changed byte anywhere (a weight, a swapped vocab token, a label, the config) is
  refused rather than trusted.

The zip is STORED (uncompressed): MediaPipe reads associated files only from an uncompressed
archive, and nothing has to be decompressed here. Reads are capped (a member that claims to be
huge is refused before it is read) and member names must be plain file names, so a hostile
archive can neither exhaust memory nor name a path outside the bundle. Every problem is a
:class:`BundleError` that names the file and the member.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import asdict, dataclass, field

from edge_runtime.tokenizer import check_options, needs_vocabulary

CONFIG, VOCAB, LABELS, SUMS = "config.json", "vocab.txt", "labels.txt", "SHA256SUMS"   # the zip's members
REQUIRED = (CONFIG, LABELS, SUMS)   # and VOCAB, unless the config's tokenizer reads bytes
FLATBUFFER = "flatbuffer"        # the flatbuffer's name in SHA256SUMS
MAX_MEMBER_BYTES = 8 * 1024 * 1024   # vocab.txt of a 30k vocabulary is ~250 kB
MAX_MEMBERS = 16
FORMAT = "sparse-edge-bundle/3"
READABLE_FORMATS = (FORMAT, "sparse-edge-bundle/2")   # format 2: the shipped files of 2026 (lengths stored twice)
OLD_FORMATS = ("sparse-edge-bundle/1",)
CLASSIFIER, LANGUAGE_MODEL = "classifier", "language_model"   # what a file is called with
EDGE, MEDIAPIPE = "edge", "mediapipe"                          # whose signatures it has


class BundleError(ValueError):
    """The file is not a usable sparse-edge model; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Signatures:
    """How the flatbuffer's signatures are called: one per input length (edge), or MediaPipe's one."""

    target: str = EDGE                     # "edge" or "mediapipe"
    inputs: tuple = ("token_ids",)         # the input names, in order
    output: str = "probabilities"
    key: str | None = None                 # one signature for every length (MediaPipe's, the LM's); None: len_<n>
    length_rule: dict | None = None        # MediaPipe: how its one length was chosen

    def key_for(self, length: int) -> str:
        return self.key or f"len_{length}"


EDGE_CLASSIFIER = Signatures()
MEDIAPIPE_CLASSIFIER = Signatures(MEDIAPIPE, ("ids", "mask", "segment_ids"), key="serving_default")
LANGUAGE_MODEL_SIGNATURE = Signatures(EDGE, ("token_ids", "position"), "logits", key="next_token")


@dataclass(frozen=True)
class BundleConfig:
    """``config.json`` of a bundle: the contract between ``convert/`` and the device.

    ``model`` is the Transformer's own config as the model folder saved it (vocab_size, d_model,
    num_classes, pattern, ...); ``lengths`` are the input lengths the file takes, one signature
    each (the longest is the longest input); labels live in labels.txt only.
    """

    kind: str                      # "classifier" (ids in, a probability per label out) or "language_model"
    architecture: str              # classifier, ensemble, hybrid, language_model
    variant: str
    lengths: tuple                 # ascending
    tokenizer: dict                # edge_runtime.tokenizer options
    model: dict
    signatures: Signatures = EDGE_CLASSIFIER
    quantization: dict = field(default_factory=dict)   # {"variant", "float_nodes", "calibration"}
    versions: dict = field(default_factory=dict)
    source_metrics: dict | None = None   # the Keras model's test metrics
    format: str = FORMAT
    decoder: dict | None = None          # a language model's cached decoder: signature keys, cache shapes

    @property
    def max_length(self) -> int:
        """The longest input the file takes (longer ones are cut to it)."""
        return self.lengths[-1]

    @property
    def trained_length(self) -> int:
        """Where training and the Keras model cut inputs: ``max_length`` unless the file reads longer
        documents whole (a model with relative positions, ``convert --longest``)."""
        return min(int(self.model.get("max_length", self.max_length)), self.max_length)

    @property
    def embedding_shape(self) -> tuple[int, int]:
        """(vocab_size, width) of the id embedding table: d_model, or d_model / patch when every
        ``patch`` ids are one position (their embeddings side by side)."""
        return self.model["vocab_size"], self.model["d_model"] // self.model.get("patch", 1)

    @property
    def float_nodes(self) -> list:
        return list(self.quantization.get("float_nodes") or [])

    def to_dict(self) -> dict:
        signatures = {k: v for k, v in asdict(self.signatures).items() if v is not None}
        return {"format": self.format, "kind": self.kind, "architecture": self.architecture, "variant": self.variant,
                "lengths": list(self.lengths), "tokenizer": dict(self.tokenizer), "model": dict(self.model),
                "signatures": {**signatures, "inputs": list(self.signatures.inputs)},
                "quantization": dict(self.quantization), "versions": dict(self.versions),
                "source_metrics": self.source_metrics, **({"decoder": self.decoder} if self.decoder else {})}

    @classmethod
    def from_dict(cls, config: dict, source: str = "model") -> "BundleConfig":
        """Every check of a config in one place; format 2 (``max_length`` and ``lengths``, ``signature``)
        is read too. A BundleError names the first thing that is wrong and the fix."""
        def fail(what: str):
            raise BundleError(f"{source}: config.json {what}; convert the model again with `sparse-edge convert`")

        if not isinstance(config, dict):
            fail("is not a JSON object")
        if config.get("format") not in READABLE_FORMATS:
            fail(f"is not a {FORMAT} config (format {config.get('format')!r})")
        kind = config.get("kind", CLASSIFIER)
        if kind not in (CLASSIFIER, LANGUAGE_MODEL):
            fail(f"names an unknown kind {kind!r}")
        model = config.get("model")
        if not isinstance(model, dict):
            fail("lacks the \"model\" object (vocab_size, d_model, ...)")
        for key in ("vocab_size", "d_model") + (("num_classes",) if kind == CLASSIFIER else ()):
            value = model.get(key)
            if not _positive_int(value):
                fail(f"has no positive integer model.{key} (got {value!r})")
        if config["format"] == FORMAT:
            lengths = config.get("lengths")
            signatures = _signatures(config.get("signatures"), fail)
        else:   # format 2: "max_length" (MediaPipe's files: the file's one length), "lengths" (classifiers)
            max_length = config.get("max_length")
            if not _positive_int(max_length) or max_length < 2:
                fail(f"has no integer max_length of at least 2 (got {max_length!r})")
            lengths = config.get("lengths", [max_length]) if kind == CLASSIFIER else [max_length]
            old = config.get("signature") or {}
            if kind == LANGUAGE_MODEL:
                signatures = LANGUAGE_MODEL_SIGNATURE
            elif old.get("target") == MEDIAPIPE:
                signatures = Signatures(MEDIAPIPE, tuple(old.get("inputs", MEDIAPIPE_CLASSIFIER.inputs)),
                                        key=old.get("key", MEDIAPIPE_CLASSIFIER.key), length_rule=old.get("length"))
            else:
                signatures = EDGE_CLASSIFIER
            if isinstance(lengths, list) and lengths and all(_positive_int(n) for n in lengths) \
                    and max(lengths) < max_length:
                fail(f"'s longest input length {max(lengths)} is below max_length {max_length}")
        if not isinstance(lengths, list) or not lengths or not all(_positive_int(n) and n >= 2 for n in lengths):
            fail(f"has no list of input lengths (got {lengths!r})")
        tokenizer = config.get("tokenizer")
        try:
            tokenizer = check_options(tokenizer)
        except ValueError:
            raise BundleError(f"{source} was converted for tokenizer options {tokenizer}, which this runtime "
                              "does not implement; upgrade sparse-edge or convert again") from None
        quantization = config.get("quantization") or {}
        decoder = config.get("decoder")
        if decoder is not None and (kind != LANGUAGE_MODEL or not isinstance(decoder, dict) or not all(
                isinstance(decoder.get(k), str) for k in ("prefill", "decode"))
                or not _positive_int(decoder.get("prefill_length"))
                or not isinstance(decoder.get("cache"), dict)):
            fail(f"has a \"decoder\" that is not a language model's prefill, decode, prefill_length and cache "
                 f"(got {decoder!r})")
        return cls(kind, config.get("architecture", kind), str(config.get("variant", "")), tuple(sorted(lengths)),
                   tokenizer, model, signatures, quantization if isinstance(quantization, dict) else {},
                   config.get("versions") or {}, config.get("source_metrics"), config["format"], decoder)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _signatures(values, fail) -> Signatures:
    if not isinstance(values, dict) or values.get("target") not in (EDGE, MEDIAPIPE) \
            or not isinstance(values.get("inputs"), list) or not values["inputs"]:
        fail(f"has no \"signatures\" object with a target and inputs (got {values!r})")
    return Signatures(values["target"], tuple(values["inputs"]), values.get("output", "probabilities"),
                      values.get("key"), values.get("length_rule"))


@dataclass(frozen=True)  # pragma: no mutate (mutmut 2.5.1 crashes recording this line's mutants; docs/testing.md)
class Bundle:
    flatbuffer: bytes        # the TFLite model, without the appended zip
    config: BundleConfig
    vocab_text: str | None   # None: a byte-level model
    labels: list[str]


def sha256sums(named: dict[str, bytes]) -> str:
    """``sha256sum`` output for ``{name: bytes}``: one ``<hex>  <name>`` line each, sorted by name."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(named.items()))


def pack_bundle(flatbuffer: bytes, config: BundleConfig, vocab_text: str | None, labels: list[str]) -> bytes:
    """The flatbuffer followed by a STORED zip of config.json, vocab.txt (None: a byte-level model,
    no vocabulary), labels.txt and SHA256SUMS."""
    if (vocab_text is None) == needs_vocabulary(config.tokenizer):
        raise ValueError(f"a {config.tokenizer['kind']} tokenizer " + ("needs its vocab.txt" if vocab_text is None
                                                                       else "has no vocab.txt"))
    config = {**config.to_dict(), "format": FORMAT, "flatbuffer_bytes": len(flatbuffer)}
    members = {CONFIG: json.dumps(config, indent=2, sort_keys=True).encode(),
               LABELS: ("\n".join(labels) + "\n").encode("utf-8")}
    if vocab_text is not None:
        members[VOCAB] = vocab_text.encode("utf-8")
    members[SUMS] = sha256sums({FLATBUFFER: flatbuffer, **members}).encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return flatbuffer + archive.getvalue()


def read_bundle(data: bytes, source: str = "model", verify: bool = True) -> Bundle:
    """Split a bundled ``.tflite`` into its flatbuffer and associated files.

    Args:
        data: the whole file's bytes.
        source: a name for error messages (usually the path).
        verify: check every SHA-256 in SHA256SUMS, so that a corrupted or edited copy (a flipped
            bit in the weights still loads and runs; a swapped vocab line still tokenizes) is
            refused. Without it, the structure is still checked.

    Raises:
        BundleError: naming ``source`` (and the member) and what to do.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise BundleError(f"{source} is not a TFLite model (no TFL3 identifier); "
                          "give a .tflite written by `sparse-edge convert`")
    files = _members(data, source)
    try:
        config = json.loads(files[CONFIG].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BundleError(f"{source}: config.json is not valid JSON ({error}); convert again") from None
    if not isinstance(config, dict):
        raise BundleError(f"{source}: config.json is not a JSON object; convert again")
    if config.get("format") in OLD_FORMATS:
        raise BundleError(f"{source} was written by an older sparse-edge ({config['format']}, without a "
                          "digest of its vocab, labels and config); convert it again with `sparse-edge convert`")
    length = config.get("flatbuffer_bytes")
    if config.get("format") not in READABLE_FORMATS or not isinstance(length, int) or not 0 < length <= len(data):
        raise BundleError(f"{source}: config.json is not a {FORMAT} config; convert the model again "
                          "with `sparse-edge convert`")
    flatbuffer = data[:length]
    if verify:
        _verify(source, files, flatbuffer)
    parsed = BundleConfig.from_dict(config, source)
    if VOCAB not in files and needs_vocabulary(parsed.tokenizer):
        raise BundleError(f"{source} lacks the associated file {VOCAB}; convert the model again with "
                          "`sparse-edge convert`")
    texts = {VOCAB: None}
    for name in (VOCAB, LABELS):
        if name not in files:
            continue
        try:
            texts[name] = files[name].decode("utf-8")
        except UnicodeDecodeError as error:
            raise BundleError(f"{source}: {name} is not UTF-8 (byte {error.start}); convert again") from None
    labels = [line for line in texts[LABELS].split("\n") if line]
    if parsed.kind == CLASSIFIER and len(labels) != parsed.model["num_classes"]:
        raise BundleError(f"{source}: labels.txt names {len(labels)} classes but the model has "
                          f"{parsed.model['num_classes']}; convert again")
    return Bundle(flatbuffer, parsed, texts[VOCAB], labels)


def _members(data: bytes, source: str) -> dict[str, bytes]:
    """Every member of the appended zip, read with caps; any damage is a BundleError."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, IndexError,
            KeyError, NotImplementedError, OverflowError, UnicodeDecodeError) as error:
        raise BundleError(f"{source} has no readable associated files (vocab.txt, labels.txt, config.json) "
                          f"after the flatbuffer ({type(error).__name__}); convert it with "
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
            if name in files:
                raise BundleError(f"{source}: associated file {name} appears twice; refusing the archive")
            if info.file_size > MAX_MEMBER_BYTES:
                raise BundleError(f"{source}: associated file {name} claims {info.file_size} bytes "
                                  f"(limit {MAX_MEMBER_BYTES}); refusing the archive")
            files[name] = _read_capped(zf, info, source)
    missing = [name for name in REQUIRED if name not in files]
    if missing == [SUMS] and CONFIG in files:
        raise BundleError(f"{source} was written by an older sparse-edge (no {SUMS}); convert it again "
                          "with `sparse-edge convert`")
    if missing:
        raise BundleError(f"{source} lacks the associated file(s) {', '.join(missing)}; "
                          "convert the model again with `sparse-edge convert`")
    return files


def _verify(source: str, files: dict[str, bytes], flatbuffer: bytes) -> None:
    """Every line of SHA256SUMS must match, and every member (and the flatbuffer) must have one."""
    try:
        lines = files[SUMS].decode("ascii").splitlines()
        recorded = dict(reversed(line.split("  ", 1)) for line in lines if line)
    except (UnicodeDecodeError, ValueError):
        raise BundleError(f"{source}: {SUMS} is damaged; copy the file again") from None
    actual = {FLATBUFFER: flatbuffer, **{name: data for name, data in files.items() if name != SUMS}}
    for name, content in actual.items():
        if name not in recorded:
            raise BundleError(f"{source}: {SUMS} has no digest for {name}; the file was edited after "
                              "conversion; convert it again")
        if hashlib.sha256(content).hexdigest() != recorded[name]:
            what = "the model bytes" if name == FLATBUFFER else f"associated file {name}"
            raise BundleError(f"{source} is corrupted: {what} do not match the SHA-256 recorded at "
                              "conversion; copy the file again")
    extra = sorted(set(recorded) - set(actual))
    if extra:
        raise BundleError(f"{source}: {SUMS} lists {', '.join(extra)}, which the file lacks; copy the file again")


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> bytes:
    """Read at most MAX_MEMBER_BYTES, whatever the header claims; any damage is a BundleError."""
    try:
        with zf.open(info) as member:
            data = member.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError, OverflowError, IndexError, KeyError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method
        raise BundleError(f"{source}: associated file {info.filename} is damaged "
                          f"({type(error).__name__}: {str(error)[:80]}); copy the file again") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise BundleError(f"{source}: associated file {info.filename} is larger than "
                          f"{MAX_MEMBER_BYTES} bytes; refusing the archive")
    return data


MAX_MODEL_BYTES = 512 * 1024 * 1024


def read_model_file(path) -> bytes:
    """The bytes of a model file, read with a cap that holds for pipes and device files too.

    ``/dev/zero`` or a FIFO reports size 0 and never ends: the first 8 bytes must already say
    TFL3, and the read stops at MAX_MODEL_BYTES whatever the file claims.
    """
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise BundleError(f"model file {path} does not exist; give the path of a .tflite written by "
                          "`sparse-edge convert`")
    if path.is_dir():
        raise BundleError(f"{path} is a folder; give a .tflite file (for example {path}/tflite/int8.tflite)")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8 or head[4:8] != b"TFL3":
                raise BundleError(f"{path} is not a TFLite model (no TFL3 identifier); "
                                  "give a .tflite written by `sparse-edge convert`")
            data = head + f.read(MAX_MODEL_BYTES + 1 - len(head))
    except OSError as error:
        raise BundleError(f"cannot read model file {path} ({error.strerror}); check the path and its permissions") from None
    if len(data) > MAX_MODEL_BYTES:
        raise BundleError(f"{path} is larger than any sparse-edge model ({MAX_MODEL_BYTES} bytes at most); "
                          "check the path")
    return data
