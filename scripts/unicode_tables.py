#!/usr/bin/env python3
"""Write edge_runtime/unicode_tables.json: the tokenizer's character classes, fixed once.

The tokenizer must give the same ids on every device, whatever Python (and so whatever Unicode
version in ``unicodedata``) runs it. So its character classes are data, read off the reference
it reproduces, HF ``tokenizers``' BERT normalizer and pre-tokenizer, one code point at a time:

- removed:   normalized to nothing (NUL, U+FFFD, control, format, private-use, unassigned ...)
- spaces:    normalized to one space (whitespace)
- cjk:       normalized to `` c `` (a CJK ideograph is a word of its own)
- mapped:    normalized to another string (lowercase, accents stripped; e.g. "É" -> "e")
- punctuation: split off as a word of its own by the pre-tokenizer

The pre-tokenizer also splits on whitespace; the script checks that every such character is
already a space or removed after normalization, so the tokenizer splits on ' ' alone.

Hangul syllables (U+AC00-U+D7A3) decompose by the fixed algorithm of Unicode chapter 3.12;
the tokenizer computes them instead of storing 11,172 entries. Surrogates (U+D800-U+DFFF) cannot
reach HF (Rust strings exclude them); the tokenizer removes them.

    .venv/bin/python scripts/unicode_tables.py      # needs `tokenizers` (the dev extra)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from tokenizers import normalizers, pre_tokenizers

import tokenizers

OUT = Path(__file__).resolve().parent.parent / "edge_runtime" / "unicode_tables.json"
HANGUL = (0xAC00, 0xD7A3)
SURROGATES = (0xD800, 0xDFFF)


def ranges(code_points: list[int]) -> list[list[int]]:
    out = []
    for cp in code_points:
        if out and cp == out[-1][1] + 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def main() -> None:
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                            strip_accents=True, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    removed, spaces, cjk, punctuation, split, mapped = [], [], [], [], [], {}
    for cp in range(0x110000):
        if SURROGATES[0] <= cp <= SURROGATES[1] or HANGUL[0] <= cp <= HANGUL[1]:
            continue
        char = chr(cp)
        out = normalizer.normalize_str(char)
        if out == "":
            removed.append(cp)
        elif out == " ":
            spaces.append(cp)
        elif out == f" {char} ":
            cjk.append(cp)
        elif out != char:
            mapped[cp] = out
        words = [w for w, _ in pre.pre_tokenize_str(f"a{char}b")]
        if words == ["a", char, "b"]:
            punctuation.append(cp)
        elif words == ["a", "b"]:
            split.append(cp)
        elif words != [f"a{char}b"]:
            raise SystemExit(f"U+{cp:04X}: unexpected pre-tokenization {words}")
    stray = sorted(set(split) - set(removed) - set(spaces))
    if stray:
        raise SystemExit(f"whitespace that survives normalization: {[hex(cp) for cp in stray]}")
    tables = {
        "source": f"HF tokenizers {tokenizers.__version__}: BertNormalizer(clean_text, handle_chinese_chars, "
                  "strip_accents, lowercase) and BertPreTokenizer, one code point at a time "
                  "(scripts/unicode_tables.py)",
        "removed": ranges(removed), "spaces": ranges(spaces), "cjk": ranges(cjk),
        "punctuation": ranges(punctuation),
        "mapped": [[cp, text] for cp, text in sorted(mapped.items())],
    }
    fd, tmp = tempfile.mkstemp(dir=OUT.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(tables, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, OUT)
    print(f"{OUT}: {OUT.stat().st_size:,} bytes; " + ", ".join(
        f"{k} {len(v)}" for k, v in tables.items() if k != "source"), file=sys.stderr)


if __name__ == "__main__":
    main()
