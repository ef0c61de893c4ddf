"""The project's tokenizers, in pure Python and numpy: WordPiece (BERT-uncased conventions) and bytes.

``ByteTokenizer`` (at the end) reads UTF-8 bytes as they are and needs no vocabulary; what follows
here is about WordPiece.

The one WordPiece tokenizer of the project: training, conversion, parity and the device all call this
file, so token ids can never disagree between them. It reproduces HF ``tokenizers``'
``BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=True,
lowercase=True)`` id for id (tests/test_tokenizer.py), after one extra step that both
paths share: review HTML line breaks (``<br />``) become spaces (``normalize_review``).

Steps, in HF's order:
1. clean: drop NUL, U+FFFD and control/format/private-use characters (zero-width spaces are
   format characters); every whitespace character becomes a space;
2. put spaces around CJK ideographs, so each is its own word;
3. strip accents (NFD, drop combining marks), then lowercase;
4. split on spaces and on punctuation (ASCII symbols and Unicode P* categories);
5. WordPiece: greedy longest-match-first, continuations prefixed with ``##``; a word with no
   match, or longer than 100 characters, becomes ``[UNK]``.

A model may instead be trained with **MediaPipe's rules** (``MEDIAPIPE_OPTIONS``), the ones
MediaPipe's ``TextClassifier`` applies on a phone or in a browser (``BertPreprocessorCalculator``),
so that a MediaPipe file tokenizes exactly as its training did: ASCII letters lowercased and
nothing else changed (accents, zero-width and control characters stay, ``<br />`` is read as
``< br / >``); the text ends at its first NUL (MediaPipe reads it as a C string); words split on
ASCII whitespace (tab, newline, form feed, carriage return, space) and split off every delimiter
MediaPipe's RE2 pattern names (ASCII symbols, Unicode punctuation in RE2's Unicode version, CJK
ideographs); a word of more than 100 UTF-8 bytes is ``[UNK]``. Its character classes are read
off MediaPipe itself, code point by code point (``convert/mediapipe_tokens.py``).

Steps 1-4 read fixed tables (``unicode_tables.json``, written once by
``scripts/unicode_tables.py`` from HF's normalizer and pre-tokenizer, code point by code point),
never the running Python's ``unicodedata``: Python 3.10, 3.11 and 3.12 ship different Unicode
versions, and a device must give the same ids as the machine that trained the model.
tests/test_tokenizer.py compares every code point from U+0000 to U+10FFFF with HF. Known
differences, by design: lone surrogates (U+D800-U+DFFF, which HF cannot receive) are removed;
combining marks that NFD would reorder and that survive accent stripping keep their order.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.lengths import cut

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = SPECIAL_TOKENS
MAX_CHARS_PER_WORD = 100
TABLES = Path(__file__).with_name("unicode_tables.json")
_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
CHUNK_CHARS = 16_384   # a long text is normalized and split this many characters at a time


def normalize_review(text: str) -> str:
    """Review HTML that is markup, not words: ``<br />`` line breaks become spaces."""
    return _BR.sub(" ", text)


def end_at_nul(text: str) -> str:
    """MediaPipe's rules: the text as MediaPipe reads it, up to its first NUL."""
    nul = text.find("\x00")
    return text if nul < 0 else text[:nul]


def _char_class(ranges) -> str:
    """A regex character class body for ``[[first, last], ...]`` code point ranges."""
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)


def _hangul(cp: int) -> str:
    """NFD of a Hangul syllable (Unicode 3.12's algorithm): leading, vowel and trailing jamo."""
    index = cp - 0xAC00
    lead, vowel, trail = index // 588, (index % 588) // 28, index % 28
    return chr(0x1100 + lead) + chr(0x1161 + vowel) + (chr(0x11A7 + trail) if trail else "")


def option_name(lowercase: bool, strip_accents: bool) -> str:
    """The tables' name for a pair of options (``scripts/unicode_tables.py: OPTIONS``)."""
    return {(True, True): "lowercase+strip_accents", (True, False): "lowercase",
            (False, True): "strip_accents", (False, False): "none"}[(bool(lowercase), bool(strip_accents))]


_TABLES = json.loads(TABLES.read_text(encoding="ascii"))
_SPACES = re.compile(f"[{_char_class(_TABLES['spaces'])}]")
_CJK = re.compile(f"([{_char_class(_TABLES['cjk'])}])")
_PUNCT = _char_class(_TABLES["punctuation"])
_WORDS = re.compile(f"[{_PUNCT}]|[^{_PUNCT} ]+")
_MP = _TABLES["mediapipe"]
_MP_SPACES, _MP_DELIMITERS = _char_class(_MP["spaces"]), _char_class(_MP["delimiters"])
_MP_WORDS = re.compile(f"[{_MP_DELIMITERS}]|[^{_MP_DELIMITERS}{_MP_SPACES}]+")
_SURROGATES = re.compile("[\ud800-\udfff]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_ASCII_SPACES = re.compile("[\t\n\r]")


@dataclass(frozen=True)
class _Normalizer:
    """Steps 1-3 for one pair of options, compiled from the committed tables on first use."""

    lowercase: bool
    removed: re.Pattern
    mapping: dict

    @classmethod
    def build(cls, lowercase: bool, strip_accents: bool) -> "_Normalizer":
        table = _TABLES["options"][option_name(lowercase, strip_accents)]
        removed = _TABLES["removed"] + table["removed"] + [[0xD800, 0xDFFF]]   # lone surrogates: HF never sees them
        mapping = {cp: text for cp, text in table["mapped"]}
        if strip_accents:   # NFD splits a Hangul syllable into its jamo
            mapping.update((cp, _hangul(cp)) for cp in range(0xAC00, 0xD7A4))
        return cls(lowercase, re.compile(f"[{_char_class(removed)}]+"), mapping)

    def __call__(self, text: str) -> str:
        if text.isascii():  # the fast path: no accents, no CJK, only ASCII control characters
            text = _ASCII_SPACES.sub(" ", _ASCII_CONTROLS.sub("", text))
            return text.lower() if self.lowercase else text
        text = _CJK.sub(r" \1 ", _SPACES.sub(" ", self.removed.sub("", text)))
        return text.translate(self.mapping)


_NORMALIZERS: dict = {}


def _normalizer(lowercase: bool = True, strip_accents: bool = True) -> _Normalizer:
    key = (bool(lowercase), bool(strip_accents))
    if key not in _NORMALIZERS:
        _NORMALIZERS[key] = _Normalizer.build(*key)
    return _NORMALIZERS[key]


def basic_tokenize(text: str, lowercase: bool = True, strip_accents: bool = True) -> list[str]:
    """Steps 1-4: normalised words and punctuation marks, before WordPiece."""
    return list(_words(normalize_review(text), _normalizer(lowercase, strip_accents)))


def _mediapipe_normalize(text: str) -> str:
    """MediaPipe's rules: ASCII letters lowercased (``absl::AsciiStrToLower``), every other character
    as it is; a lone surrogate (which no runtime receives as such) becomes U+FFFD."""
    if text.isascii():
        return text.lower()
    return _SURROGATES.sub("\ufffd", text).translate(_ASCII_LOWER)


def _words(text: str, normalize, pattern: re.Pattern = _WORDS):
    """Words of ``text`` in order, normalized a chunk at a time (cut at a space, so no word is split)."""
    start, n = 0, len(text)
    while start < n:
        end = n if n - start <= CHUNK_CHARS else _cut(text, start + CHUNK_CHARS)
        yield from pattern.findall(normalize(text[start:end]))
        start = end


def _cut(text: str, at: int) -> int:
    """The first ASCII space at or after ``at`` (or the end): chunks never split a word."""
    space = text.find(" ", at)
    return len(text) if space < 0 else space


CLOSING = {".", ",", "!", "?", ";", ":", ")", "%"}   # written without a space before them
DEFAULT_OPTIONS = {"kind": "wordpiece", "lowercase": True, "strip_accents": True, "html": "br-to-space"}
BYTE_OPTIONS = {"kind": "bytes"}   # UTF-8 bytes as they are: no vocabulary, no normalisation
MEDIAPIPE_OPTIONS = {"kind": "wordpiece", "rules": "mediapipe"}   # WordPiece as MediaPipe's TextClassifier splits


@dataclass(frozen=True)
class TokenizerChoice:
    """One tokenizer a new model can be trained with: the name configs and ``--tokenizer`` use, the options
    its model folder and every ``.tflite`` record, and its WordPiece rules (None: bytes, no vocabulary)."""

    name: str
    options: dict
    rules: str | None
    help: str

    @property
    def case_and_accents(self) -> bool:
        """Whether ``lowercase`` and ``strip_accents`` are choices (``--keep-case``, ``--keep-accents``)."""
        return "lowercase" in self.options

    def options_for(self, lowercase: bool = True, strip_accents: bool = True) -> dict:
        """The options a model trained with this tokenizer records."""
        if not self.case_and_accents:
            return dict(self.options)
        return {**self.options, "lowercase": lowercase, "strip_accents": strip_accents}


# The one table of tokenizer choices: the training config, the CLI's --tokenizer, its case guard, the
# pipeline's stages, training and the bundle's check all read it.
TOKENIZERS = {c.name: c for c in (
    TokenizerChoice("wordpiece", DEFAULT_OPTIONS, "bert",
                    "a vocabulary learned from the training texts, BERT's rules [default]"),
    TokenizerChoice("mediapipe", MEDIAPIPE_OPTIONS, "mediapipe",
                    "the same with MediaPipe's rules (ASCII lowercased, accents and control characters kept, "
                    "<br /> read as < br / >), the only one `convert --target mediapipe` accepts"),
    TokenizerChoice("bytes", BYTE_OPTIONS, None, "UTF-8 bytes as they are, 261 ids, no vocabulary, any language"),
)}


def refuse_case_options(name: str, keep_case: bool, keep_accents: bool) -> None:
    """A ValueError when case or accent options are given for a tokenizer that fixes them itself."""
    if (keep_case or keep_accents) and not TOKENIZERS[name].case_and_accents:
        raise ValueError(f"--keep-case and --keep-accents are WordPiece options of BERT's rules; --tokenizer {name} "
                         "fixes case and accents itself (bytes: as they are; mediapipe: ASCII lowercased, accents kept)")


def check_options(options: dict | None) -> dict:
    """Recorded tokenizer options, complete; a ValueError names what this tokenizer cannot do."""
    if options is None:
        return dict(DEFAULT_OPTIONS)
    if isinstance(options, dict) and options in [c.options for c in TOKENIZERS.values() if not c.case_and_accents]:
        return dict(options)
    if not isinstance(options, dict) or options.get("kind") != "wordpiece" or options.get("html") != "br-to-space" \
            or not all(isinstance(options.get(k), bool) for k in ("lowercase", "strip_accents")):
        raise ValueError(f"tokenizer options {options!r} are not ones this tokenizer implements (bytes, wordpiece "
                         "with rules mediapipe, or wordpiece with html br-to-space, lowercase and strip_accents true "
                         "or false); upgrade sparse-edge")
    return dict(options)


def needs_vocabulary(options: dict | None) -> bool:
    """Whether a model with these options reads a ``vocab.txt`` (WordPiece) or none (bytes)."""
    return check_options(options)["kind"] == "wordpiece"


def load_tokenizer(options: dict | None, vocab_text: str | None = None):
    """The tokenizer a model folder or a ``.tflite`` records: WordPiece from its ``vocab_text``, or bytes."""
    options = check_options(options)
    if options["kind"] == "bytes":
        return ByteTokenizer()
    if vocab_text is None:
        raise ValueError("a WordPiece tokenizer needs its vocab.txt; none was given")
    return WordPieceTokenizer.from_text(vocab_text, options)


@dataclass
class Encoding:
    """Token ids of one text. ``ids`` starts with [CLS] and ends with [SEP]."""

    ids: np.ndarray
    n_tokens: int          # ids with [CLS] and [SEP]; for a cut text, those read before stopping
    truncated: bool


class WordPieceTokenizer:
    """Text -> WordPiece ids, from a ``vocab.txt`` (one token per line, the line number is the id).

    Example:
        >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "film", "##s", "!"])
        >>> tok.tokenize("Good films!<br />")
        ['good', 'film', '##s', '!']
        >>> tok.encode("Good films!", max_length=8).ids.tolist()
        [2, 5, 6, 7, 8, 3]
    """

    def __init__(self, vocab: list[str] | dict[str, int], lowercase: bool = True, strip_accents: bool = True,
                 rules: str = "bert"):
        if not isinstance(vocab, dict):
            vocab = {token: i for i, token in enumerate(vocab)}
        missing = [t for t in SPECIAL_TOKENS if t not in vocab]
        if missing:
            raise ValueError(f"vocabulary lacks the special tokens {missing}; a BERT vocab.txt starts "
                             f"with {', '.join(SPECIAL_TOKENS)}")
        if vocab[PAD] != 0:
            raise ValueError(f"[PAD] must have id 0, got {vocab[PAD]}; put it on the first line of vocab.txt")
        self.vocab = vocab
        self.inverse = {i: t for t, i in vocab.items()}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (vocab[t] for t in SPECIAL_TOKENS)
        self._cache: dict[str, list[int]] = {}
        if rules not in ("bert", "mediapipe"):
            raise ValueError(f"unknown WordPiece rules {rules!r}; use bert or mediapipe")
        self.rules = rules
        if rules == "mediapipe":   # ASCII lowercasing only, accents kept, the text cut at a NUL, no HTML step
            self.lowercase, self.strip_accents = True, False
            self._prepare, self._normalize, self._pattern = end_at_nul, _mediapipe_normalize, _MP_WORDS
        else:
            self.lowercase, self.strip_accents = bool(lowercase), bool(strip_accents)
            self._prepare, self._normalize = normalize_review, _normalizer(self.lowercase, self.strip_accents)
            self._pattern = _WORDS

    @property
    def options(self) -> dict:
        """What a model folder and a ``.tflite`` record, so the device tokenizes as training did."""
        if self.rules == "mediapipe":
            return dict(MEDIAPIPE_OPTIONS)
        return {"kind": "wordpiece", "lowercase": self.lowercase, "strip_accents": self.strip_accents,
                "html": "br-to-space"}

    def words(self, text: str) -> list[str]:
        """Steps 1-4 under this tokenizer's rules: the words WordPiece then splits."""
        return list(_words(self._prepare(text), self._normalize, self._pattern))

    @classmethod
    def from_file(cls, path: str | Path, options: dict | None = None) -> "WordPieceTokenizer":
        return cls.from_text(Path(path).read_text(encoding="utf-8"), options)

    @classmethod
    def from_text(cls, text: str, options: dict | None = None) -> "WordPieceTokenizer":
        """A vocabulary's text and recorded ``options`` (None: BERT uncased, what every model before
        the options existed used); options this tokenizer does not implement are a ValueError."""
        options = check_options(options)
        vocab = text.rstrip("\n").split("\n")
        if options == MEDIAPIPE_OPTIONS:
            return cls(vocab, rules="mediapipe")
        return cls(vocab, options["lowercase"], options["strip_accents"])

    def __len__(self) -> int:
        return len(self.vocab)

    def _word_ids(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids, start, n = [], 0, len(word)
        if n > MAX_CHARS_PER_WORD or (self.rules == "mediapipe" and n > MAX_CHARS_PER_WORD // 4
                                      and len(word.encode("utf-8")) > MAX_CHARS_PER_WORD):   # bytes there
            ids = [self.unk_id]
        while start < n and ids != [self.unk_id]:
            end = n
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:  # no piece matched: the whole word is unknown
                ids = [self.unk_id]
                break
            start = end
        if len(self._cache) > 500_000:
            self._cache.clear()
        self._cache[word] = ids
        return ids

    def token_ids(self, text: str, limit: int | None = None) -> list[int]:
        """WordPiece ids of ``text``, without [CLS]/[SEP]; with ``limit``, stops once it has more
        than ``limit`` ids (a 5 MB text costs what its first words cost)."""
        ids = []
        for word in _words(self._prepare(text), self._normalize, self._pattern):
            ids.extend(self._word_ids(word))
            if limit is not None and len(ids) > limit:
                break
        return ids

    def tokenize(self, text: str) -> list[str]:
        return [self.inverse[i] for i in self.token_ids(text)]

    def sequence(self, text: str) -> np.ndarray:
        """[CLS] tokens [SEP], uncut: what training caches."""
        return np.array([self.cls_id, *self.token_ids(text), self.sep_id], np.int32)

    @property
    def fingerprint(self) -> str:
        """A hash of the vocabulary: what a token cache is keyed on."""
        joined = "\n".join(sorted(self.vocab, key=self.vocab.get))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    def encode(self, text: str, max_length: int) -> Encoding:
        """[CLS] tokens [SEP], cut to ``max_length`` (the [SEP] is kept) and flagged if cut.

        Tokenizing stops as soon as the text is known not to fit, so for a cut text
        ``n_tokens`` counts the tokens read until then (more than ``max_length``), not the whole text.
        """
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 ([CLS] and [SEP]), got {max_length}")
        body = self.token_ids(text, limit=max_length - 2)
        n_tokens = len(body) + 2
        ids = cut(np.array([self.cls_id, *body, self.sep_id], dtype=np.int32), max_length)
        return Encoding(ids=ids, n_tokens=n_tokens, truncated=n_tokens > max_length)

    def decode(self, ids) -> str:
        """Ids back to text, joining ``##`` continuations (lowercased, accents stripped).

        Punctuation is written the way people write it: no space before ``. , ! ? ; : )``, none
        after ``(``, and none around an apostrophe (``i ' d`` -> ``i'd``).
        """
        words = []
        for i in ids:
            token = self.inverse.get(int(i), UNK)
            if token in (PAD, CLS, SEP):
                continue
            if token.startswith("##") and words:
                words[-1] += token[2:]
            else:
                words.append(token)
        text = ""
        for word in words:
            glued = not text or word in CLOSING or word == "'" or text.endswith(("'", "("))
            text += word if glued else " " + word
        return text


class ByteTokenizer:
    """Text -> its UTF-8 bytes, each byte one id: no vocabulary, nothing to learn, no normalisation.

    Ids 0-4 are the special tokens in WordPiece's order ([PAD] [UNK] [CLS] [SEP] [MASK], so code
    that reads ``pad_id`` or ``cls_id`` works with either tokenizer); byte ``b`` is id ``b + 5``, so
    the table has 261 rows. Every string has one encoding: NUL and control characters are bytes
    like any other, a lone surrogate (a ``str`` that is not valid Unicode) becomes U+FFFD's bytes,
    as an undecodable byte in a file does when it is read (``edge_runtime.inputs``).

    Example:
        >>> tok = ByteTokenizer()
        >>> tok.encode("hé", max_length=8).ids.tolist()
        [2, 109, 200, 174, 3]
        >>> tok.decode([2, 109, 200, 174, 3])
        'hé'
    """

    OFFSET = len(SPECIAL_TOKENS)    # id of byte 0
    pad_id, unk_id, cls_id, sep_id, mask_id = range(len(SPECIAL_TOKENS))
    options = property(lambda self: dict(BYTE_OPTIONS))
    fingerprint = "bytes-utf8"      # what a token cache is keyed on (a WordPiece one: its vocabulary's hash)

    def __len__(self) -> int:
        return self.OFFSET + 256

    @staticmethod
    def utf8(text: str) -> bytes:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:   # lone surrogates
            return _SURROGATES.sub("\ufffd", text).encode("utf-8")

    def token_ids(self, text: str, limit: int | None = None) -> np.ndarray:
        """Byte ids of ``text`` without [CLS]/[SEP]; with ``limit``, at most ``limit + 1`` of them
        (enough to know the text is longer; a 5 MB text costs what its first bytes cost)."""
        if limit is not None:
            text = text[: limit + 1]   # every character is at least one byte
        data = self.utf8(text)
        if limit is not None:
            data = data[: limit + 1]
        return np.frombuffer(data, dtype=np.uint8).astype(np.int32) + self.OFFSET

    def continues(self, token_id: int) -> bool:
        """Whether a byte id continues a UTF-8 character (10xxxxxx): where a cut must not fall."""
        return (token_id - self.OFFSET) & 0xC0 == 0x80 and token_id >= self.OFFSET

    def sequence(self, text: str) -> np.ndarray:
        """[CLS] bytes [SEP], uncut: what training caches."""
        body = self.token_ids(text)
        out = np.empty(len(body) + 2, np.int32)
        out[0], out[1:-1], out[-1] = self.cls_id, body, self.sep_id
        return out

    def encode(self, text: str, max_length: int) -> Encoding:
        """[CLS] bytes [SEP], cut to ``max_length`` (the [SEP] is kept) and flagged if cut;
        ``n_tokens`` counts every byte of the text (two more for [CLS] and [SEP]).

        A text of ``max_length - 2`` bytes is read whole. A longer one is cut before the character
        that would not fit whole: a cut never splits a UTF-8 character (up to 3 bytes of room stay
        unused), so the bytes read are always text.
        """
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 ([CLS] and [SEP]), got {max_length}")
        body = self.token_ids(text, limit=max_length - 2)
        truncated = len(body) > max_length - 2
        n_tokens = (len(self.utf8(text)) if truncated else len(body)) + 2
        ids = cut(np.concatenate([[self.cls_id], body, [self.sep_id]]).astype(np.int32), max_length, self.continues)
        return Encoding(ids=ids, n_tokens=n_tokens, truncated=truncated)

    def tokenize(self, text: str) -> list[str]:
        return [f"<{b:02x}>" for b in self.utf8(text)]

    def decode(self, ids) -> str:
        """Ids back to text (special tokens dropped); bytes that are not UTF-8 become U+FFFD."""
        data = bytes(int(i) - self.OFFSET for i in ids if self.OFFSET <= int(i) < self.OFFSET + 256)
        return data.decode("utf-8", errors="replace")
