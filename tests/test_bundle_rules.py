"""edge_runtime/bundle.py's every refusal, word for word, and every rule at its boundary, on bundles made here.

A user reads these messages instead of a traceback: each names the file, what is wrong and the fix."""

import io
import json
import zipfile

import pytest

from edge_runtime import bundle as bundle_module
from edge_runtime.bundle import (FORMAT, LANGUAGE_MODEL_SIGNATURE, MAX_MEMBER_BYTES, MEDIAPIPE, BundleConfig,
                                 BundleError, Signatures, pack_bundle, read_bundle, read_model_file, sha256sums)
from tests.test_bundle_config import FLATBUFFER, MODEL, config, raw_bundle

WORDPIECE = {"kind": "wordpiece", "html": "br-to-space", "lowercase": True, "strip_accents": True}
CONVERT = "convert the model again with `sparse-edge convert`"
VALID = {"format": FORMAT, "kind": "classifier", "architecture": "classifier", "variant": "int8", "lengths": [128, 256],
         "tokenizer": {"kind": "bytes"}, "model": MODEL, "signatures": {"target": "edge", "inputs": ["token_ids"]}}


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(BundleError) as error:
        read_bundle(data, source="m.tflite", **kwargs)
    return str(error.value)


def config_refusal(values) -> str:
    with pytest.raises(BundleError) as error:
        BundleConfig.from_dict(values, "m.tflite")
    return str(error.value)


def zipped(members: dict, flatbuffer: bytes = FLATBUFFER, compression=zipfile.ZIP_STORED) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return flatbuffer + archive.getvalue()


def test_the_properties_a_runtime_reads():
    assert Signatures().key_for(128) == "len_128" and LANGUAGE_MODEL_SIGNATURE.key_for(128) == "next_token"
    assert LANGUAGE_MODEL_SIGNATURE.inputs == ("token_ids", "position") and LANGUAGE_MODEL_SIGNATURE.output == "logits"
    made = config(lengths=(128, 512), model={**MODEL, "max_length": 256, "patch": 4, "d_model": 16})
    assert made.max_length == 512 and made.trained_length == 256 and made.embedding_shape == (261, 4)
    assert config().trained_length == 256 and config().embedding_shape == (261, 16)
    assert config(model={**MODEL, "max_length": 999}).trained_length == 256
    assert config(quantization={"float_nodes": ["a", "b"]}).float_nodes == ["a", "b"] and config().float_nodes == []
    stored = config().to_dict()
    assert stored["signatures"] == {"target": "edge", "inputs": ["token_ids"], "output": "probabilities"}
    assert "decoder" not in stored and stored["format"] == FORMAT and stored["source_metrics"] is None
    assert config(decoder={"x": 1}).to_dict()["decoder"] == {"x": 1}


@pytest.mark.parametrize("change, message", [
    ("not a dict", "is not a JSON object"),
    ({"format": "sparse-edge-bundle/9"}, "is not a sparse-edge-bundle/3 config (format 'sparse-edge-bundle/9')"),
    ({"kind": "regressor"}, "names an unknown kind 'regressor'"),
    ({"model": None}, 'lacks the "model" object (vocab_size, d_model, ...)'),
    ({"model": {**MODEL, "vocab_size": 0}}, "has no positive integer model.vocab_size (got 0)"),
    ({"model": {**MODEL, "d_model": True}}, "has no positive integer model.d_model (got True)"),
    ({"model": {**MODEL, "num_classes": "2"}}, "has no positive integer model.num_classes (got '2')"),
    ({"lengths": []}, "has no list of input lengths (got [])"),
    ({"lengths": [1, 128]}, "has no list of input lengths (got [1, 128])"),
    ({"lengths": "128"}, "has no list of input lengths (got '128')"),
    ({"signatures": {"target": "phone", "inputs": ["x"]}},
     "has no \"signatures\" object with a target and inputs (got {'target': 'phone', 'inputs': ['x']})"),
    ({"signatures": {"target": "edge", "inputs": []}},
     "has no \"signatures\" object with a target and inputs (got {'target': 'edge', 'inputs': []})"),
    ({"signatures": {"target": "edge", "inputs": "token_ids"}},
     "has no \"signatures\" object with a target and inputs (got {'target': 'edge', 'inputs': 'token_ids'})"),
    ({"kind": "language_model", "decoder": {"prefill": "p", "decode": "d", "prefill_length": 0, "cache": {}}},
     "has a \"decoder\" that is not a language model's prefill, decode, prefill_length and cache (got {'prefill': "
     "'p', 'decode': 'd', 'prefill_length': 0, 'cache': {}})"),
    ({"decoder": {"prefill": "p", "decode": "d", "prefill_length": 8, "cache": {}}},
     "has a \"decoder\" that is not a language model's prefill, decode, prefill_length and cache (got {'prefill': "
     "'p', 'decode': 'd', 'prefill_length': 8, 'cache': {}})"),
])
def test_each_wrong_config_is_named_with_the_fix(change, message):
    values = change if isinstance(change, str) else {**VALID, **change}
    assert config_refusal(values) == f"m.tflite: config.json {message}; convert the model again with `sparse-edge convert`"


def test_what_a_config_may_leave_out_or_give_in_another_form():
    language_model = {**VALID, "kind": "language_model", "model": {"vocab_size": 5, "d_model": 4},
                      "decoder": {"prefill": "p", "decode": "d", "prefill_length": 8, "cache": {"k": [1]}}}
    loaded = BundleConfig.from_dict(language_model)
    assert loaded.kind == "language_model" and loaded.architecture == "classifier" and loaded.decoder["prefill"] == "p"
    bare = BundleConfig.from_dict({k: v for k, v in VALID.items() if k not in ("kind", "architecture", "variant")}
                                  | {"lengths": [512, 128], "quantization": [1], "versions": None})
    assert bare.kind == bare.architecture == "classifier" and bare.variant == "" and bare.lengths == (128, 512)
    assert bare.quantization == {} and bare.versions == {} and bare.signatures == Signatures()
    assert BundleConfig.from_dict({**VALID, "signatures": {"target": "mediapipe", "inputs": ["ids"], "key": "k"}}
                                  ).signatures == Signatures(MEDIAPIPE, ("ids",), "probabilities", "k")
    with pytest.raises(BundleError) as error:
        BundleConfig.from_dict({**VALID, "tokenizer": {"kind": "sentencepiece"}}, "m.tflite")
    assert str(error.value) == ("m.tflite was converted for tokenizer options {'kind': 'sentencepiece'}, which this "
                                "runtime does not implement; upgrade sparse-edge or convert again")


def test_format_2_configs_are_read_as_they_were_written():
    old = {k: v for k, v in VALID.items() if k not in ("signatures",)} | {"format": "sparse-edge-bundle/2",
                                                                           "max_length": 256}
    assert BundleConfig.from_dict(old).lengths == (128, 256)
    one = BundleConfig.from_dict({k: v for k, v in old.items() if k != "lengths"})
    assert one.lengths == (256,) and one.signatures == Signatures()
    lm = BundleConfig.from_dict({**old, "kind": "language_model", "model": {"vocab_size": 5, "d_model": 4}})
    assert lm.lengths == (256,) and lm.signatures == LANGUAGE_MODEL_SIGNATURE
    mediapipe = BundleConfig.from_dict({**old, "lengths": [256], "signature": {"target": "mediapipe",
                                                                               "length": {"rule": "p95"}}})
    assert mediapipe.signatures == Signatures(MEDIAPIPE, ("ids", "mask", "segment_ids"), key="serving_default",
                                              length_rule={"rule": "p95"})
    custom = BundleConfig.from_dict({**old, "lengths": [256], "signature": {"target": "mediapipe", "inputs": ["a"],
                                                                            "key": "k"}})
    assert custom.signatures.inputs == ("a",) and custom.signatures.key == "k"
    for max_length, got in ((1, "1"), ("256", "'256'"), (None, "None")):
        assert config_refusal({**old, "max_length": max_length}) == (
            f"m.tflite: config.json has no integer max_length of at least 2 (got {got}); {CONVERT}")
    assert config_refusal({**old, "max_length": 512}) == (
        f"m.tflite: config.json 's longest input length 256 is below max_length 512; {CONVERT}")
    assert BundleConfig.from_dict({**old, "max_length": 2, "lengths": [2]}).lengths == (2,)


def test_pack_bundle_writes_a_stored_zip_with_the_sums_and_refuses_a_vocabulary_mismatch():
    data = pack_bundle(FLATBUFFER, config(), None, ["neg", "pos"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert [i.filename for i in archive.infolist()] == ["config.json", "labels.txt", "SHA256SUMS"]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
    stored = json.loads(archive.read("config.json"))
    assert stored["flatbuffer_bytes"] == len(FLATBUFFER) and stored["format"] == FORMAT
    assert archive.read("labels.txt") == b"neg\npos\n" and data.startswith(FLATBUFFER)
    assert archive.read("SHA256SUMS").decode() == sha256sums({"flatbuffer": FLATBUFFER, "config.json":
                                                             archive.read("config.json"), "labels.txt": b"neg\npos\n"})
    assert sha256sums({"b": b"", "a": b"x"}) == (
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  a\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  b\n")
    read = read_bundle(data)
    assert read.labels == ["neg", "pos"] and read.vocab_text is None and read.flatbuffer == FLATBUFFER
    with_vocab = read_bundle(pack_bundle(FLATBUFFER, config(tokenizer=WORDPIECE), "[PAD]\nhi\n", ["a", "b"]))
    assert with_vocab.vocab_text == "[PAD]\nhi\n"
    with pytest.raises(ValueError) as error:
        pack_bundle(FLATBUFFER, config(tokenizer=WORDPIECE), None, ["a", "b"])
    assert str(error.value) == "a wordpiece tokenizer needs its vocab.txt"
    with pytest.raises(ValueError) as error:
        pack_bundle(FLATBUFFER, config(), "x\n", ["a", "b"])
    assert str(error.value) == "a bytes tokenizer has no vocab.txt"


def test_a_file_that_is_not_a_bundle_is_refused_by_what_is_wrong():
    assert refusal(b"\x00" * 4 + b"TFL") == ("m.tflite is not a TFLite model (no TFL3 identifier); give a .tflite "
                                             "written by `sparse-edge convert`")
    assert refusal(b"\x00" * 4 + b"TFL4" + b"\x00" * 32).startswith("m.tflite is not a TFLite model")
    assert refusal(FLATBUFFER) == ("m.tflite has no readable associated files (vocab.txt, labels.txt, config.json) after "
                                   "the flatbuffer (BadZipFile); convert it with `sparse-edge convert`, or copy the file "
                                   "again")
    good = raw_bundle(FLATBUFFER, VALID)
    assert read_bundle(good, verify=False).labels == ["a", "b"]
    members = dict(zipfile.ZipFile(io.BytesIO(good)).read(n) and (n, zipfile.ZipFile(io.BytesIO(good)).read(n))
                   for n in ("config.json", "labels.txt", "SHA256SUMS"))
    assert refusal(zipped({**members, "config.json": b"{not json"}), verify=False).startswith(
        "m.tflite: config.json is not valid JSON (Expecting property name")
    assert refusal(zipped({**members, "config.json": b"[1]"}), verify=False) == (
        "m.tflite: config.json is not a JSON object; convert again")
    assert refusal(zipped({**members, "config.json": json.dumps({"format": "sparse-edge-bundle/1"}).encode()}),
                   verify=False) == ("m.tflite was written by an older sparse-edge (sparse-edge-bundle/1, without a "
                                     "digest of its vocab, labels and config); convert it again with `sparse-edge "
                                     "convert`")
    for length in (0, 10**9, "72", None):
        bad = zipped({**members, "config.json": json.dumps({**VALID, "flatbuffer_bytes": length}).encode()})
        assert refusal(bad, verify=False) == f"m.tflite: config.json is not a {FORMAT} config; {CONVERT}", length
    whole = zipped({**members, "config.json": json.dumps({**VALID, "flatbuffer_bytes": len(good)}).encode()})
    assert read_bundle(whole, verify=False).flatbuffer == whole[:len(good)]


def test_the_members_are_checked_before_they_are_read():
    base = {"config.json": b"{}", "labels.txt": b"a\n", "SHA256SUMS": b""}
    for name in ("a/b", "a\\b", ".hidden", "c:d"):
        assert refusal(zipped({**base, name: b"x"})) == (
            f"m.tflite: associated file name {name!r} is not a plain file name; refusing the archive")
    too_many = zipped({**base, **{f"x{i}": b"" for i in range(14)}})         # 17 members
    assert refusal(too_many) == ("m.tflite: the associated-file archive has 17 members (at most 16 expected); the file "
                                 "is not a sparse-edge model")
    sixteen = zipped({**base, **{f"x{i}": b"" for i in range(13)}})
    assert "members" not in refusal(sixteen)
    twice = io.BytesIO()
    with zipfile.ZipFile(twice, "w") as zf:
        for name in ("config.json", "labels.txt", "labels.txt", "SHA256SUMS"):
            zf.writestr(name, b"a")
    assert refusal(FLATBUFFER + twice.getvalue()) == ("m.tflite: associated file labels.txt appears twice; refusing "
                                                      "the archive")
    assert refusal(zipped({"config.json": b"{}", "labels.txt": b""})) == (
        "m.tflite was written by an older sparse-edge (no SHA256SUMS); convert it again with `sparse-edge convert`")
    assert refusal(zipped({"labels.txt": b""})) == ("m.tflite lacks the associated file(s) config.json, SHA256SUMS; "
                                                    "convert the model again with `sparse-edge convert`")
    assert refusal(zipped({"config.json": b"{}", "SHA256SUMS": b""})) == (
        "m.tflite lacks the associated file(s) labels.txt; convert the model again with `sparse-edge convert`")


def test_a_member_is_read_only_up_to_its_cap_whatever_it_claims(monkeypatch):
    assert MAX_MEMBER_BYTES == 8 * 1024 * 1024 and bundle_module.MAX_MEMBERS == 16
    big = zipped({"config.json": b"{}", "labels.txt": b"a" * (MAX_MEMBER_BYTES + 1), "SHA256SUMS": b""})
    assert refusal(big) == f"m.tflite: associated file labels.txt claims {MAX_MEMBER_BYTES + 1} bytes (limit " \
                           f"{MAX_MEMBER_BYTES}); refusing the archive"
    exact = zipped({"config.json": b"{}", "labels.txt": b"a" * MAX_MEMBER_BYTES, "SHA256SUMS": b""})
    assert "claims" not in refusal(exact)
    damaged = zipped({"config.json": b"{}", "labels.txt": b"a" * 100, "SHA256SUMS": b""}, compression=zipfile.ZIP_DEFLATED)
    broken = bytearray(damaged)
    start = broken.find(b"labels.txt", len(FLATBUFFER)) + len(b"labels.txt")
    broken[start:start + 4] = b"\xff\xff\xff\xff"     # the deflated data is garbage now
    assert refusal(bytes(broken)).startswith("m.tflite: associated file labels.txt is damaged (")
    assert refusal(bytes(broken)).endswith("); copy the file again")
    monkeypatch.setattr(bundle_module, "MAX_MEMBER_BYTES", 10)   # a header that lies: claims 10, holds 11
    lying = bytearray(zipped({"config.json": b"{}", "labels.txt": b"a" * 11, "SHA256SUMS": b""}))
    # the central directory records 11; set it to 10 so that only the read itself can catch it
    entry = lying.rfind(b"PK\x01\x02", 0, lying.rfind(b"labels.txt"))
    lying[entry + 24:entry + 28] = (10).to_bytes(4, "little")
    message = refusal(bytes(lying))
    assert message in ("m.tflite: associated file labels.txt is larger than 10 bytes; refusing the archive",
                       ) or message.startswith("m.tflite: associated file labels.txt is damaged (BadZipFile")


def test_the_sums_cover_every_member_and_the_flatbuffer():
    good = raw_bundle(FLATBUFFER, VALID)
    members = {n: zipfile.ZipFile(io.BytesIO(good)).read(n) for n in ("config.json", "labels.txt", "SHA256SUMS")}
    sums = members["SHA256SUMS"].decode()
    assert refusal(zipped({**members, "SHA256SUMS": "é".encode()})) == "m.tflite: SHA256SUMS is damaged; copy the file again"
    assert refusal(zipped({**members, "SHA256SUMS": b"no-separator\n"})) == (
        "m.tflite: SHA256SUMS is damaged; copy the file again")
    without = "".join(l + "\n" for l in sums.splitlines() if not l.endswith("labels.txt"))
    assert refusal(zipped({**members, "SHA256SUMS": without.encode()})) == (
        "m.tflite: SHA256SUMS has no digest for labels.txt; the file was edited after conversion; convert it again")
    assert refusal(zipped({**members, "labels.txt": b"b\na\n"})) == (
        "m.tflite is corrupted: associated file labels.txt do not match the SHA-256 recorded at conversion; copy the "
        "file again")
    flipped = bytearray(good)
    flipped[20] ^= 1
    assert refusal(bytes(flipped)) == ("m.tflite is corrupted: the model bytes do not match the SHA-256 recorded at "
                                       "conversion; copy the file again")
    extra = sums + "0" * 64 + "  ghost.txt\n"
    assert refusal(zipped({**members, "SHA256SUMS": extra.encode()})) == (
        "m.tflite: SHA256SUMS lists ghost.txt, which the file lacks; copy the file again")
    assert read_bundle(zipped({**members, "labels.txt": b"b\na\n"}), verify=False).labels == ["b", "a"]


def test_what_the_members_must_say():
    wordpiece = {**VALID, "tokenizer": WORDPIECE}
    assert refusal(raw_bundle(FLATBUFFER, wordpiece)) == (
        "m.tflite lacks the associated file vocab.txt; convert the model again with `sparse-edge convert`")
    assert refusal(raw_bundle(FLATBUFFER, VALID, labels=("a", "b", "c"))) == (
        "m.tflite: labels.txt names 3 classes but the model has 2; convert again")
    lm = {**VALID, "kind": "language_model", "model": {"vocab_size": 5, "d_model": 4}}
    assert read_bundle(raw_bundle(FLATBUFFER, lm, labels=("a", "b", "c"))).labels == ["a", "b", "c"]
    good = raw_bundle(FLATBUFFER, VALID)
    members = {n: zipfile.ZipFile(io.BytesIO(good)).read(n) for n in ("config.json", "SHA256SUMS")}
    latin = zipped({**members, "labels.txt": b"caf\xe9\nb\n"})
    assert refusal(latin, verify=False) == "m.tflite: labels.txt is not UTF-8 (byte 3); convert again"
    assert read_bundle(zipped({**members, "labels.txt": b"a\n\nb\n"}), verify=False).labels == ["a", "b"]


def test_a_model_file_is_read_with_a_cap(tmp_path, monkeypatch):
    missing = tmp_path / "none.tflite"
    with pytest.raises(BundleError) as error:
        read_model_file(missing)
    assert str(error.value) == (f"model file {missing} does not exist; give the path of a .tflite written by "
                                "`sparse-edge convert`")
    with pytest.raises(BundleError) as error:
        read_model_file(tmp_path)
    assert str(error.value) == f"{tmp_path} is a folder; give a .tflite file (for example {tmp_path}/tflite/int8.tflite)"
    text = tmp_path / "notes.tflite"
    text.write_bytes(b"1234TFL")
    with pytest.raises(BundleError) as error:
        read_model_file(text)
    assert str(error.value) == f"{text} is not a TFLite model (no TFL3 identifier); give a .tflite written by " \
                               "`sparse-edge convert`"
    model = tmp_path / "m.tflite"
    model.write_bytes(FLATBUFFER + b"x" * 28)       # 100 bytes
    assert read_model_file(model) == FLATBUFFER + b"x" * 28
    monkeypatch.setattr(bundle_module, "MAX_MODEL_BYTES", 100)
    assert len(read_model_file(model)) == 100
    monkeypatch.setattr(bundle_module, "MAX_MODEL_BYTES", 99)
    with pytest.raises(BundleError) as error:
        read_model_file(model)
    assert str(error.value) == f"{model} is larger than any sparse-edge model (99 bytes at most); check the path"
    assert bundle_module.read_model_file.__defaults__ is None
    monkeypatch.undo()
    assert bundle_module.MAX_MODEL_BYTES == 512 * 1024 * 1024          # the cap the message names
    eight = tmp_path / "eight.tflite"
    eight.write_bytes(b"12345678" + b"\0" * 64)                        # long enough, but no TFL3
    with pytest.raises(BundleError) as error:
        read_model_file(eight)
    assert str(error.value).startswith(f"{eight} is not a TFLite model (no TFL3 identifier)")
    with pytest.raises(BundleError) as error:
        read_model_file("/proc/self/mem")                               # exists, opens, cannot be read
    assert str(error.value) == ("cannot read model file /proc/self/mem (Input/output error); check the path and its "
                                "permissions")


def test_a_config_is_frozen_and_writes_exactly_these_keys():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        config().variant = "float32"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Signatures().key = "x"
    made = config(versions={"tensorflow": "2.21"}, source_metrics={"accuracy": 0.5}, quantization={"variant": "int8"})
    assert made.to_dict() == {
        "format": FORMAT, "kind": "classifier", "architecture": "classifier", "variant": "int8", "lengths": [128, 256],
        "tokenizer": {"kind": "bytes"}, "model": MODEL,
        "signatures": {"target": "edge", "inputs": ["token_ids"], "output": "probabilities"},
        "quantization": {"variant": "int8"}, "versions": {"tensorflow": "2.21"}, "source_metrics": {"accuracy": 0.5}}
    shape = config(model={**MODEL, "d_model": 16, "patch": 4}).embedding_shape
    assert shape == (261, 4) and all(type(n) is int for n in shape)      # whole numbers: a table's shape
    with pytest.raises(BundleError) as error:
        BundleConfig.from_dict([])
    assert str(error.value).startswith("model: config.json is not a JSON object")   # the default source name


def test_what_is_written_is_read_back_whole_and_in_a_stable_form():
    made = config(versions={"tensorflow": "2.21"}, source_metrics={"accuracy": 0.5}, format="sparse-edge-bundle/2")
    data = pack_bundle(FLATBUFFER, made, None, ["a", "b"])
    text = zipfile.ZipFile(io.BytesIO(data)).read("config.json").decode()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True)       # sorted, indented: a stable file
    assert json.loads(text)["format"] == FORMAT                                 # always written as the newest format
    loaded = read_bundle(data).config
    assert loaded.versions == {"tensorflow": "2.21"} and loaded.source_metrics == {"accuracy": 0.5}
    assert BundleConfig.from_dict({**VALID, "model": {"vocab_size": 1, "d_model": 1, "num_classes": 1}}).model[
        "vocab_size"] == 1                                                     # 1 is a positive integer
    signatures = BundleConfig.from_dict({**VALID, "signatures": {"target": "edge", "inputs": ["t"], "output": "logits"}})
    assert signatures.signatures.output == "logits"
    with pytest.raises(BundleError) as error:
        read_bundle(b"\x00" * 4 + b"TFL3")                                     # 8 bytes: a TFLite header, no zip
    assert str(error.value).startswith("model has no readable associated files")


def test_the_flatbuffer_length_may_be_anything_from_1_to_the_whole_file():
    good = raw_bundle(FLATBUFFER, VALID)
    members = {n: zipfile.ZipFile(io.BytesIO(good)).read(n) for n in ("labels.txt", "SHA256SUMS")}
    one = zipped({**members, "config.json": json.dumps({**VALID, "flatbuffer_bytes": 1}).encode()})
    assert read_bundle(one, verify=False).flatbuffer == FLATBUFFER[:1]
    whole = 10_000                                              # a config that names the file's own length
    for _ in range(5):
        data = zipped({**members, "config.json": json.dumps({**VALID, "flatbuffer_bytes": whole}).encode()})
        whole = len(data) if len(data) != whole else whole
    assert len(data) == whole and read_bundle(data, verify=False).flatbuffer == data


def test_names_with_spaces_several_ghosts_and_a_member_of_exactly_the_cap(monkeypatch):
    good = raw_bundle(FLATBUFFER, VALID)
    members = {n: zipfile.ZipFile(io.BytesIO(good)).read(n) for n in ("config.json", "labels.txt")}
    with_notes = lambda size: sha256sums({"flatbuffer": FLATBUFFER, **members, "my  notes.txt": b"x" * size})  # noqa
    cap = max(*(len(data) for data in members.values()), len(with_notes(1)))   # a digest line's length is fixed
    notes = {"my  notes.txt": b"x" * cap}                      # a double space inside a member's name
    sums = with_notes(cap)
    assert read_bundle(zipped({**members, **notes, "SHA256SUMS": sums.encode()})).labels == ["a", "b"]
    ghosts = sums + "0" * 64 + "  a.txt\n" + "0" * 64 + "  b.txt\n"
    assert refusal(zipped({**members, **notes, "SHA256SUMS": ghosts.encode()})) == (
        "m.tflite: SHA256SUMS lists a.txt, b.txt, which the file lacks; copy the file again")
    monkeypatch.setattr(bundle_module, "MAX_MEMBER_BYTES", cap)      # "my  notes.txt" is exactly the cap: read whole
    assert read_bundle(zipped({**members, **notes, "SHA256SUMS": sums.encode()}), verify=True).labels == ["a", "b"]


def test_a_damaged_members_message_keeps_80_characters_of_the_reason(monkeypatch):
    data = zipped({"config.json": b"{}", "labels.txt": b"a\n", "SHA256SUMS": b""})

    def failing_open(self, *args, **kwargs):
        raise zipfile.BadZipFile("r" * 200)

    monkeypatch.setattr(zipfile.ZipFile, "open", failing_open)
    assert refusal(data) == f"m.tflite: associated file config.json is damaged (BadZipFile: {'r' * 80}); copy " \
                                    "the file again"


def test_a_read_bundle_is_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        read_bundle(pack_bundle(FLATBUFFER, config(), None, ["a", "b"])).labels = ["c"]
