"""The byte-level tokenizer: every string has one encoding, the same in training and on the device."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_runtime.inputs import text_lines
from edge_runtime.tokenizer import BYTE_OPTIONS, ByteTokenizer, check_options, load_tokenizer, needs_vocabulary
from tests.test_tokenizer import HOSTILE

tok = ByteTokenizer()


def test_ids_are_utf8_bytes_after_the_five_special_tokens():
    assert len(tok) == 261
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert tok.encode("A\x00é", 16).ids.tolist() == [2, 65 + 5, 0 + 5, 0xC3 + 5, 0xA9 + 5, 3]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_texts_round_trip_byte_for_byte(text):
    ids = tok.sequence(text)
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    body = ids[1:-1] - tok.OFFSET
    clean = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if any(
        0xD800 <= ord(c) <= 0xDFFF for c in text) else text
    assert bytes(body.astype(np.uint8)) == clean.encode("utf-8")
    assert tok.decode(ids) == clean


def test_nul_and_control_characters_are_bytes_like_any_other():
    assert (tok.token_ids("\x00\x01\x1b\x7f") - tok.OFFSET).tolist() == [0, 1, 0x1B, 0x7F]


def test_a_lone_surrogate_becomes_the_replacement_character_as_an_undecodable_byte_does():
    from_str = tok.sequence("a\ud800b")
    read = next(text_lines(io.BytesIO(b"a\xffb\n"), "file"))   # what the CLI reads from a file
    assert from_str.tolist() == tok.sequence(read.text).tolist() == tok.sequence("a\ufffdb").tolist()


def test_a_one_megabyte_text_is_cut_keeping_sep_and_counted_whole():
    text = "é" * 1_000_000          # 2,000,000 bytes
    encoding = tok.encode(text, 4096)
    assert len(encoding.ids) == 4096 and encoding.ids[-1] == tok.sep_id and encoding.truncated
    assert encoding.n_tokens == 2_000_002
    assert encoding.ids[1:-1].tolist() == tok.sequence(text)[1:4095].tolist()


def test_a_text_that_fits_exactly_is_not_cut():
    encoding = tok.encode("x" * 4094, 4096)
    assert not encoding.truncated and len(encoding.ids) == 4096 and encoding.n_tokens == 4096


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(2, 64))
def test_encode_is_the_cut_sequence(text, max_length):
    from edge_runtime.lengths import cut

    whole = tok.sequence(text)
    encoding = tok.encode(text, max_length)
    assert encoding.ids.tolist() == cut(whole, max_length, tok.continues).tolist()
    assert encoding.n_tokens == len(whole) and encoding.truncated == (len(whole) > max_length)


def test_options_need_no_vocabulary_and_refuse_unknown_kinds():
    assert check_options({"kind": "bytes"}) == BYTE_OPTIONS and not needs_vocabulary(BYTE_OPTIONS)
    assert isinstance(load_tokenizer(BYTE_OPTIONS), ByteTokenizer)
    with pytest.raises(ValueError, match="not ones this tokenizer implements"):
        check_options({"kind": "bytes", "lowercase": True})
    with pytest.raises(ValueError, match="needs its vocab.txt"):
        load_tokenizer(None)


def test_a_cut_never_splits_a_character_and_the_longest_whole_text_is_two_ids_short():
    from edge_runtime.tokenizer import ByteTokenizer

    tok = ByteTokenizer()
    for text in ("映画はとても良かった。" * 50, "great 🎬🍿 film " * 60, "é" * 500, "a" * 199 + "€" * 10):
        for n in range(2, 120):
            encoding = tok.encode(text, n)
            body = bytes(int(i) - tok.OFFSET for i in encoding.ids[1:-1])
            body.decode("utf-8")                       # whole characters only
            assert encoding.truncated == (len(text.encode()) > n - 2)
            assert n - 2 - 3 <= len(body) <= n - 2 or not encoding.truncated
            assert text.encode().startswith(body)
    assert not tok.encode("x" * 98, 100).truncated and tok.encode("x" * 99, 100).truncated


def test_the_shipped_byte_model_reads_16382_bytes_whole_and_cuts_between_characters():
    from pathlib import Path

    from edge_runtime import TextClassifier

    model = Path(__file__).resolve().parents[1] / "artifacts" / "lra-text" / "model" / "tflite" / "int8.tflite"
    classifier = TextClassifier(model)
    assert classifier.max_length == 16_384
    whole = classifier.classify("a" * 16_382)
    assert not whole.truncated and whole.n_tokens == 16_384
    assert classifier.classify("a" * 16_383).truncated
    text = "a" + "🎬" * 5_000                                   # 20,001 bytes; 16,382 falls inside an emoji
    encoding = classifier.tokenizer.encode(text, classifier.max_length)
    body = bytes(int(i) - classifier.tokenizer.OFFSET for i in encoding.ids[1:-1])
    assert body.decode("utf-8") == "a" + "🎬" * 4_095 and encoding.truncated
