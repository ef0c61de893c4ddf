"""MediaPipe's tokenizer, reproduced: edge_runtime's ``mediapipe`` rules give the ids MediaPipe feeds.

MediaPipe shows its ids through a probe file (``convert/mediapipe_tokens.py``: a model whose outputs
are its input ids). Every code point is classed by the newest MediaPipe and compared with the
committed table the edge tokenizer reads; the hostile texts and IMDB reviews are tokenized by both
and compared id for id, at the shipped file's length (so the cut of a long text is compared too).
"""

import json
from pathlib import Path

import pytest

from edge_runtime.tokenizer import MEDIAPIPE_OPTIONS, TABLES, WordPieceTokenizer

REPO = Path(__file__).resolve().parents[1]
HOSTILE = json.loads((REPO / "convert" / "hostile_texts.json").read_text())["texts"]
NEWEST = "1.2.3"   # the newest mediapipe on PyPI (2026-12-04); the metadata is written by 0.10.21


@pytest.fixture(scope="module")
def vocab():
    return (REPO / "artifacts" / "imdb-transformer" / "vocab.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")


@pytest.fixture(scope="module")
def mediapipe_newest():
    from convert.mediapipe_export import MediaPipeMissing, mediapipe_python

    try:
        mediapipe_python(install=True)              # the metadata writer
        return mediapipe_python(install=True, version=NEWEST)
    except MediaPipeMissing as error:
        pytest.skip(f"mediapipe could not be installed here: {error}")


def test_mediapipes_rules_keep_what_berts_rules_change(vocab):
    mp, bert = WordPieceTokenizer(vocab, rules="mediapipe"), WordPieceTokenizer(vocab)
    assert mp.options == MEDIAPIPE_OPTIONS and WordPieceTokenizer.from_text("\n".join(vocab), MEDIAPIPE_OPTIONS).rules \
        == "mediapipe"
    assert mp.words("Great<br />FILM") == ["great", "<", "br", "/", ">", "film"]
    assert bert.words("Great<br />FILM") == ["great", "film"]
    assert mp.words("Café ÉLÈVE") == ["café", "ÉlÈve"]          # only A-Z lowercased, accents kept
    assert mp.words("zero\u200bwidth non\u00a0breaking") == ["zero\u200bwidth", "non\u00a0breaking"]
    assert mp.words("good\x00 bad bad bad") == ["good"]          # MediaPipe reads a C string: NUL ends it
    assert mp.words("a\tb\nc\x0cd\re f\x0bg") == ["a", "b", "c", "d", "e", "f\x0bg"]   # RE2's \s: no \v
    assert mp.words("很好") == ["很", "好"] and mp.words("a«b»") == ["a", "«", "b", "»"]
    assert mp.token_ids("é" * 50) == [mp.unk_id] and mp.token_ids("e" * 50) != [mp.unk_id]   # 100 bytes, not chars


def test_the_export_refuses_a_model_whose_tokenizer_mediapipe_does_not_reproduce(tmp_path):
    from convert.mediapipe_export import check_mediapipe_tokenizer
    from training.saved import CLASSIFIER, ModelFolder

    folder = ModelFolder(tmp_path / "bert-rules")
    folder.write_config(CLASSIFIER, {"vocab_size": 10}, labels=["negative", "positive"])
    with pytest.raises(ValueError, match=r"does not reproduce .* train the model with --tokenizer mediapipe"):
        check_mediapipe_tokenizer(folder)
    folder.write_config(CLASSIFIER, {"vocab_size": 10}, labels=["negative", "positive"], tokenizer=MEDIAPIPE_OPTIONS)
    check_mediapipe_tokenizer(folder)   # accepted
    with pytest.raises(ValueError, match="does not reproduce"):
        check_mediapipe_tokenizer(ModelFolder(REPO / "artifacts" / "imdb-classifier"))


def expected_classes(elsewhere: bool) -> dict:
    """The committed table's classes; ``elsewhere``: as the runtimes whose RE2 predates Unicode 16 split
    (mediapipe 0.10.21, the web's tasks-text), which read the table's ``letters_elsewhere`` as letters."""
    from convert.mediapipe_tokens import ranges

    table = json.loads(TABLES.read_text(encoding="ascii"))["mediapipe"]
    letters = {cp for a, b in table["letters_elsewhere"]["code_points"] for cp in range(a, b + 1)}
    delimiters = {cp for a, b in table["delimiters"] for cp in range(a, b + 1)} - (letters if elsewhere else set())
    return {"spaces": table["spaces"], "delimiters": ranges(delimiters)}


@pytest.mark.slow
@pytest.mark.parametrize("version", [NEWEST, None])
def test_every_code_point_is_split_by_mediapipe_as_the_committed_table_says(mediapipe_newest, version):
    """U+0001-U+10FFFF (surrogates excepted) through MediaPipe: the newest splits as the table says; the
    release that writes the metadata differs on the 14 code points the table names, and only there."""
    from convert.mediapipe_tokens import classes

    assert classes(version, progress=False) == expected_classes(elsewhere=version is None)


@pytest.mark.slow
@pytest.mark.imdb
@pytest.mark.parametrize("version", [None, NEWEST])
def test_mediapipe_feeds_the_edge_tokenizers_ids_on_hostile_texts_and_reviews(mediapipe_newest, vocab, version):
    """Id for id at the shipped MediaPipe file's length (896): hostile texts and 2,000 IMDB test reviews, in
    the release that writes the metadata and in the newest."""
    from convert.mediapipe_tokens import probe_ids
    from training.data import load_imdb

    shipped = REPO / "artifacts" / "imdb-classifier-mediapipe" / "mediapipe" / "conversion.json"
    length = json.loads(shipped.read_text())["length"]["length"]
    texts = HOSTILE + load_imdb("test", limit=2000).texts
    expected = [WordPieceTokenizer(vocab, rules="mediapipe").encode(t, length).ids.tolist() for t in texts]
    got = probe_ids(texts, vocab, version, length=length)
    differ = [(t[:60], e[:12], g[:12]) for t, e, g in zip(texts, expected, got) if e != g]
    assert not differ, differ[:5]
    assert max(len(e) for e in expected) == length    # long texts were cut, and cut alike
