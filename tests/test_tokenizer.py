"""The project's WordPiece tokenizer: parity with HF tokenizers, bad input, speed-independent facts."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_runtime.tokenizer import SPECIAL_TOKENS, WordPieceTokenizer, basic_tokenize, normalize_review

HOSTILE = [
    "", "   ", "\t\n\r", "Great movie!!! 😀👍🎬", "😀great", "Ça m'a plu, très élégant — naïve café",
    "电影很好看，我喜欢。", "映画は面白かった", "영화 정말 좋아요", "zero\u200bwidth\u200cjoin\u200d\ufeffbom",
    "control\x00\x01\x07\x1b[31mchars\x7f", "line\u2028separator\u2029para", "nbsp\u00a0thin\u2009space",
    "a" * 150, "supercalifragilisticexpialidocious" * 3, "İstanbul ǅemal ﬁne ß Straße", "<br /><br/>x<BR>y",
    "tabs\tand\nnewlines", "\ufffdreplacement", "x" * 99 + " " + "y" * 100 + " " + "z" * 101,
    "Ünïcödé ÀÉÎÕÜ", "don't won't it's", "$100 #1 @user 50% a&b <i>html</i>", "\U0001F1FA\U0001F1F8 flags",
    "math ∑∫√ and arrows →←", "e\u0301 combining", "\U000F0001private use", "\u0378unassigned",
]


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    from training.data import load_imdb
    from training.vocab import learn_vocab

    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    learn_vocab(load_imdb("train", limit=3000).texts + HOSTILE, 4000, path)
    return path


@pytest.mark.imdb
def test_ids_equal_hf_tokenizers_on_2000_reviews_and_hostile_strings(vocab_file):
    from tokenizers import BertWordPieceTokenizer

    from training.data import load_imdb

    ours = WordPieceTokenizer.from_file(vocab_file)
    hf = BertWordPieceTokenizer(str(vocab_file), clean_text=True, handle_chinese_chars=True,
                                strip_accents=True, lowercase=True)
    texts = load_imdb("test", limit=2000).texts + HOSTILE
    assert len(texts) >= 2000 + len(HOSTILE)
    mismatches = [t for t in texts if ours.token_ids(t) != hf.encode(normalize_review(t), add_special_tokens=False).ids]
    assert mismatches == []


@pytest.mark.imdb
def test_vocabulary_starts_with_the_special_tokens(vocab_file):
    lines = vocab_file.read_text(encoding="utf-8").splitlines()
    assert tuple(lines[:5]) == SPECIAL_TOKENS and 3000 <= len(lines) <= 4000


def test_review_html_is_normalised_before_tokenizing():
    assert basic_tokenize("Good.<br /><br />Bad<BR/>ugly") == ["good", ".", "bad", "ugly"]


def test_accents_case_punctuation_and_cjk():
    assert basic_tokenize("Ça, c'est NAÏVE!") == ["ca", ",", "c", "'", "est", "naive", "!"]
    assert basic_tokenize("好电影") == ["好", "电", "影"]
    assert basic_tokenize("zero\u200bwidth") == ["zerowidth"]


TOY = WordPieceTokenizer(list(SPECIAL_TOKENS) + ["good", "film", "##s", "!", "un", "##believ", "##able"])


def test_greedy_longest_match_with_continuations():
    assert TOY.tokenize("Unbelievable films!") == ["un", "##believ", "##able", "film", "##s", "!"]
    assert TOY.tokenize("goodz") == ["[UNK]"]  # no piece for "##z": the whole word is unknown
    assert TOY.tokenize("film" * 30) == ["[UNK]"]  # words over 100 characters are unknown


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_and_whitespace_only_text_encode_to_cls_sep(text):
    encoding = TOY.encode(text, 16)
    assert encoding.ids.tolist() == [TOY.cls_id, TOY.sep_id] and not encoding.truncated


def test_a_megabyte_of_text_is_truncated_and_says_so():
    encoding = TOY.encode("good film! " * 100_000, 64)
    assert len(encoding.ids) == 64 and encoding.truncated and encoding.n_tokens == 65   # stops at the cut
    assert encoding.ids[0] == TOY.cls_id and encoding.ids[-1] == TOY.sep_id


def test_non_utf8_bytes_decoded_with_replacement_are_dropped():
    text = b"good \xff\xfe film".decode("utf-8", errors="replace")
    assert TOY.tokenize(text) == ["good", "film"]


def test_vocab_without_special_tokens_is_refused():
    with pytest.raises(ValueError, match="vocabulary lacks the special tokens"):
        WordPieceTokenizer(["a", "b"])
    with pytest.raises(ValueError, match=r"\[PAD\] must have id 0"):
        WordPieceTokenizer(["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"])


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_unicode_string_encodes_within_the_vocabulary(text):
    encoding = TOY.encode(text, 32)
    assert encoding.ids.dtype == np.int32 and 2 <= len(encoding.ids) <= 32
    assert ((encoding.ids >= 0) & (encoding.ids < len(TOY))).all()
    assert TOY.encode(text, 32).ids.tolist() == encoding.ids.tolist()


def test_decode_writes_punctuation_and_contractions_as_people_do():
    tokenizer = WordPieceTokenizer.from_file(Path(__file__).resolve().parents[1] / "artifacts" / "imdb-classifier" / "vocab.txt")
    ids = tokenizer.encode("I'd say it's great (really), isn't it?", 64).ids
    assert tokenizer.decode(ids) == "i'd say it's great (really), isn't it?"


@pytest.mark.parametrize("lowercase, strip_accents", [(True, True), (True, False), (False, True), (False, False)])
def test_every_code_point_tokenizes_as_hf_tokenizers_does(lowercase, strip_accents):
    """U+0000 to U+10FFFF, each between two letters, through our steps 1-4 and HF's normalizer and
    pre-tokenizer, under each pair of tokenizer options. The only allowed difference is documented
    in edge_runtime/tokenizer.py: lone surrogates, which HF cannot receive, are removed. Compared
    512 code points per string (each in its own "a?b" word) for speed; a chunk that differs is
    compared code point by code point."""
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                            strip_accents=strip_accents, lowercase=lowercase)
    pre = pre_tokenizers.BertPreTokenizer()

    def theirs(text):
        return [word for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text))]

    def ours(text):
        return basic_tokenize(text, lowercase, strip_accents)

    code_points = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    assert len(code_points) == 1_112_064
    differences = []
    for start in range(0, len(code_points), 512):
        chunk = code_points[start:start + 512]
        text = " ".join(f"a{chr(cp)}b" for cp in chunk)
        if ours(text) != theirs(text):
            differences += [f"U+{cp:04X}" for cp in chunk if ours(f"a{chr(cp)}b") != theirs(f"a{chr(cp)}b")]
    assert differences == []
    assert ours("a\ud800b") == ["ab"]   # a lone surrogate is removed
    assert ours("Café") == [("café" if lowercase else "Café") if not strip_accents else ("cafe" if lowercase else "Cafe")]


def test_tokenizer_options_are_recorded_and_checked():
    from edge_runtime.tokenizer import check_options

    tok = WordPieceTokenizer(list(SPECIAL_TOKENS) + ["café", "cafe"], lowercase=True, strip_accents=False)
    assert tok.options == {"kind": "wordpiece", "lowercase": True, "strip_accents": False, "html": "br-to-space"}
    assert tok.token_ids("CAFÉ") == [5] and WordPieceTokenizer(list(tok.vocab)).token_ids("CAFÉ") == [6]
    assert WordPieceTokenizer.from_text("\n".join(tok.vocab), tok.options).token_ids("Café") == [5]
    assert check_options(None)["strip_accents"] is True   # files and folders from before the options
    with pytest.raises(ValueError, match="not ones this tokenizer implements"):
        check_options({"kind": "wordpiece", "lowercase": "yes", "strip_accents": True, "html": "br-to-space"})


def test_the_tokenizer_never_reads_the_running_pythons_unicode_database():
    source = (Path(__file__).parent.parent / "edge_runtime" / "tokenizer.py").read_text()
    assert "import unicodedata" not in source and "unicodedata." not in source
    # BERT's CJK block starts at U+2B920 (U+2B820-U+2B91F are not ideographs in its list)
    assert basic_tokenize("a\U0002B920b") == ["a", "\U0002B920", "b"]
    assert basic_tokenize("a\U0002B820b") == ["a\U0002B820b"]


def test_a_long_text_stops_tokenizing_once_the_longest_length_is_filled():
    tok = WordPieceTokenizer(list(SPECIAL_TOKENS) + ["good", "bad"])
    calls = []
    original = tok._word_ids

    def counting(word):
        calls.append(word)
        return original(word)

    tok._word_ids = counting
    encoding = tok.encode("good bad " * 500_000, max_length=1024)   # 5 MB, a million words
    assert encoding.truncated and len(encoding.ids) == 1024 and encoding.ids[-1] == tok.sep_id
    assert len(calls) == 1023                       # 1,022 body tokens fill it; one more proves it is cut
    assert tok.encode("good bad " * 511, max_length=1024).truncated is False
