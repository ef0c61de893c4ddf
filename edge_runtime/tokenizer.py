"""WordPiece tokenizer with BERT-uncased conventions, in pure Python and numpy.

The one tokenizer of the project: training, conversion, parity and the device all call this
file, so token ids can never disagree between them. It reproduces HF ``tokenizers``'
``BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=True,
lowercase=True)`` id for id (tests/test_tokenizer.py), after one extra step that both
paths share: review HTML line breaks (``<br />``) become spaces (``normalize_review``).

Steps, in HF's order:
1. clean: drop NUL, U+FFFD and control/format characters (zero-width spaces are format
   characters); every whitespace character becomes a space;
2. put spaces around CJK ideographs, so each is its own word;
3. strip accents (NFD, drop combining marks), then lowercase;
4. split on spaces and on punctuation (ASCII symbols and Unicode P* categories);
5. WordPiece: greedy longest-match-first, continuations prefixed with ``##``; a word with no
   match, or longer than 100 characters, becomes ``[UNK]``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = SPECIAL_TOKENS
MAX_CHARS_PER_WORD = 100
_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)


def normalize_review(text: str) -> str:
    """Review HTML that is markup, not words: ``<br />`` line breaks become spaces."""
    return _BR.sub(" ", text)


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_punctuation(cp: int, char: str) -> bool:
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _char_class(code_points: list[int]) -> str:
    """A regex character class body for sorted code points, written as ranges."""
    ranges, start = [], code_points[0]
    for prev, cp in zip(code_points, code_points[1:] + [-1]):
        if cp != prev + 1:
            ranges.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = cp
    return "".join(ranges)


def _build_tables():
    """One pass over Unicode, done once at import: the character classes of steps 1-4.

    As in HF's BertNormalizer: removed are NUL, U+FFFD and the control, format, private-use
    and surrogate characters (Cc, Cf, Co, Cs) except tab, newline and carriage return
    (unassigned code points, Cn, are kept as HF keeps them); whitespace is Unicode White_Space
    (Zs, line and paragraph separators) plus tab, newline and carriage return.
    """
    removed, spaces, cjk, punctuation = [], [], [], []
    # Planes 4-13 are unassigned (kept as letters) and 15-16 private use (removed): no need to
    # look at each of their code points.
    scanned = [*range(0x40000), *range(0xE0000, 0xF0000)]
    for cp in scanned:
        char = chr(cp)
        category = unicodedata.category(char)
        if char in "\t\n\r" or category in ("Zs", "Zl", "Zp"):
            spaces.append(cp)
        elif category in ("Cc", "Cf", "Co", "Cs") or cp == 0xFFFD:
            removed.append(cp)
        elif _is_cjk(cp):
            cjk.append(cp)
        elif _is_punctuation(cp, char):
            punctuation.append(cp)
    removed += range(0xF0000, sys.maxunicode + 1)
    punct = _char_class(punctuation)
    return (re.compile(f"[{_char_class(removed)}]+"), re.compile(f"[{_char_class(spaces)}]"),
            re.compile(f"([{_char_class(cjk)}])"), re.compile(f"[{punct}]|[^{punct} ]+"))


_REMOVED, _SPACES, _CJK, _WORDS = _build_tables()
_ASCII_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_ASCII_SPACES = re.compile("[\t\n\r]")


def basic_tokenize(text: str) -> list[str]:
    """Steps 1-4: normalised words and punctuation marks, before WordPiece."""
    text = normalize_review(text)
    if text.isascii():  # the fast path: no accents, no CJK, only ASCII control characters
        text = _ASCII_SPACES.sub(" ", _ASCII_CONTROLS.sub("", text)).lower()
    else:
        text = _CJK.sub(r" \1 ", _SPACES.sub(" ", _REMOVED.sub("", text)))
        text = unicodedata.normalize("NFD", text)
        text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    return _WORDS.findall(text)


CLOSING = {".", ",", "!", "?", ";", ":", ")", "%"}   # written without a space before them


@dataclass
class Encoding:
    """Token ids of one text. ``ids`` starts with [CLS] and ends with [SEP]."""

    ids: np.ndarray
    n_tokens: int          # ids before truncation, [CLS] and [SEP] included
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

    def __init__(self, vocab: list[str] | dict[str, int]):
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

    @classmethod
    def from_file(cls, path: str | Path) -> "WordPieceTokenizer":
        return cls.from_text(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def from_text(cls, text: str) -> "WordPieceTokenizer":
        return cls(text.rstrip("\n").split("\n"))

    def __len__(self) -> int:
        return len(self.vocab)

    def _word_ids(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids, start, n = [], 0, len(word)
        if n > MAX_CHARS_PER_WORD:
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

    def token_ids(self, text: str) -> list[int]:
        """WordPiece ids of ``text``, without [CLS]/[SEP]."""
        ids = []
        for word in basic_tokenize(text):
            ids.extend(self._word_ids(word))
        return ids

    def tokenize(self, text: str) -> list[str]:
        return [self.inverse[i] for i in self.token_ids(text)]

    def encode(self, text: str, max_length: int) -> Encoding:
        """[CLS] tokens [SEP], cut to ``max_length`` (the [SEP] is kept) and flagged if cut."""
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 ([CLS] and [SEP]), got {max_length}")
        body = self.token_ids(text)
        n_tokens = len(body) + 2
        body = body[: max_length - 2]
        ids = np.array([self.cls_id, *body, self.sep_id], dtype=np.int32)
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
