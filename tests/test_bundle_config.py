"""The bundle's config.json: typed, validated in one place, the previous format still read."""

import io
import json
import zipfile
from pathlib import Path

import pytest

from edge_runtime.bundle import (FORMAT, MEDIAPIPE, BundleConfig, BundleError, EDGE_CLASSIFIER, Signatures,
                                 pack_bundle, read_bundle, sha256sums)

SHIPPED = Path(__file__).resolve().parents[1] / "artifacts" / "imdb-classifier"
MODEL = {"vocab_size": 261, "d_model": 16, "num_classes": 2}
TOKENIZER = {"kind": "bytes"}


def config(**changes) -> BundleConfig:
    values = dict(kind="classifier", architecture="classifier", variant="int8", lengths=(128, 256),
                  tokenizer=TOKENIZER, model=MODEL)
    return BundleConfig(**{**values, **changes})


def raw_bundle(flatbuffer: bytes, config_dict: dict, labels=("a", "b")) -> bytes:
    """A bundle whose config.json is written as given (what a damaged or hand-made file holds)."""
    members = {"config.json": json.dumps({**config_dict, "flatbuffer_bytes": len(flatbuffer)}).encode(),
               "labels.txt": ("\n".join(labels) + "\n").encode()}
    members["SHA256SUMS"] = sha256sums({"flatbuffer": flatbuffer, **members}).encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return flatbuffer + archive.getvalue()


FLATBUFFER = b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64   # enough for the bundle's own checks


def test_a_config_round_trips_through_the_file():
    mediapipe = Signatures(MEDIAPIPE, ("ids", "mask", "segment_ids"), key="serving_default", length_rule={"length": 256})
    for original in (config(), config(signatures=mediapipe, lengths=(256,), quantization={"float_nodes": ["x"]})):
        loaded = read_bundle(pack_bundle(FLATBUFFER, original, None, ["a", "b"])).config
        assert loaded == original and loaded.format == FORMAT
        assert BundleConfig.from_dict(original.to_dict()) == original


def test_the_input_lengths_are_stored_once():
    stored = config().to_dict()
    assert stored["lengths"] == [128, 256] and "max_length" not in stored and "labels" not in stored
    assert config().max_length == 256


def test_format_2_files_still_load_as_they_were_written():
    """The shipped files of format 2 (max_length beside lengths) keep working; the MediaPipe file is format 3."""
    mediapipe = read_bundle((SHIPPED.parent / "imdb-classifier-mediapipe" / "mediapipe" / "dynamic.tflite").read_bytes())
    assert mediapipe.config.format == "sparse-edge-bundle/3" and mediapipe.config.signatures.target == "mediapipe"
    for path in (SHIPPED / "tflite" / "int8.tflite",):
        bundle = read_bundle(path.read_bytes())
        old = json.loads(zipfile.ZipFile(io.BytesIO(path.read_bytes())).read("config.json"))
        assert old["format"] == "sparse-edge-bundle/2" and bundle.config.format == old["format"]
        assert bundle.config.max_length == old["max_length"] and list(bundle.config.lengths) == old["lengths"]
        assert bundle.config.signatures.target == old.get("signature", {}).get("target", "edge")


@pytest.mark.parametrize("change, message", [
    ({"format": "sparse-edge-bundle/9"}, "is not a sparse-edge-bundle/3 config"),
    ({"lengths": []}, "has no list of input lengths"),
    ({"lengths": [1]}, "has no list of input lengths"),
    ({"model": {"vocab_size": 261, "d_model": 16}}, "has no positive integer model.num_classes"),
    ({"kind": "regressor"}, "names an unknown kind"),
    ({"tokenizer": {"kind": "sentencepiece"}}, "tokenizer options .* which this runtime does not implement"),
    ({"signatures": {"target": "phone"}}, "has no \"signatures\" object"),
])
def test_every_bad_config_is_refused_with_the_fix(change, message):
    with pytest.raises(BundleError, match=message):
        read_bundle(raw_bundle(FLATBUFFER, {**config().to_dict(), **change}))


def test_labels_must_match_the_classes_and_a_wordpiece_file_needs_its_vocabulary():
    with pytest.raises(BundleError, match="labels.txt names 3 classes but the model has 2"):
        read_bundle(raw_bundle(FLATBUFFER, config().to_dict(), labels=("a", "b", "c")))
    wordpiece = {"kind": "wordpiece", "lowercase": True, "strip_accents": True, "html": "br-to-space"}
    with pytest.raises(BundleError, match="lacks the associated file vocab.txt"):
        read_bundle(raw_bundle(FLATBUFFER, config(tokenizer=wordpiece).to_dict()))
    with pytest.raises(ValueError, match="needs its vocab.txt"):
        pack_bundle(FLATBUFFER, config(tokenizer=wordpiece), None, ["a", "b"])
    with pytest.raises(ValueError, match="has no vocab.txt"):
        pack_bundle(FLATBUFFER, config(), "[PAD]\n", ["a", "b"])
    assert EDGE_CLASSIFIER.key_for(128) == "len_128"
