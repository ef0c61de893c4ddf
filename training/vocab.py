"""Learn the WordPiece vocabulary from IMDB texts with HF ``tokenizers``' trainer.

Only the *learning* uses HF; every later stage tokenizes with ``edge_runtime.tokenizer``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from edge_runtime.tokenizer import SPECIAL_TOKENS, WordPieceTokenizer, normalize_review


def learn_vocab(texts: Iterable[str], vocab_size: int, out_path: str | Path,
                min_frequency: int = 2, lowercase: bool = True, strip_accents: bool = True,
                rules: str = "bert") -> WordPieceTokenizer:
    """Train a WordPiece vocabulary (BERT uncased by default; case and accents kept if asked; with
    ``rules="mediapipe"``, on the words MediaPipe's rules split) and write it as ``vocab.txt`` (atomically)."""
    if not 1000 <= vocab_size <= 100_000:
        raise ValueError(f"vocab_size must be between 1000 and 100000, got {vocab_size}")
    from tokenizers import BertWordPieceTokenizer

    trainer = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=strip_accents,
                                     lowercase=lowercase)
    if rules == "mediapipe":   # the words come from edge_runtime's rules; HF only counts and merges them
        from tokenizers import normalizers, pre_tokenizers

        trainer._tokenizer.normalizer = normalizers.Sequence([])
        trainer._tokenizer.pre_tokenizer = pre_tokenizers.Split("\n", behavior="removed")
        splitter = WordPieceTokenizer(list(SPECIAL_TOKENS), rules="mediapipe")
        texts = ("\n".join(splitter.words(t)) for t in texts)   # "\n" is a space there: never in a word
    else:
        texts = (normalize_review(t) for t in texts)
    trainer.train_from_iterator(texts, vocab_size=vocab_size,
                                min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
                                limit_alphabet=1000, wordpieces_prefix="##", show_progress=False)
    vocab = sorted(trainer.get_vocab().items(), key=lambda item: item[1])
    tokens = [token for token, _ in vocab]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".vocab.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, out_path)
    return WordPieceTokenizer(tokens, lowercase, strip_accents, rules)
