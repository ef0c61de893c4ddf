#!/usr/bin/env python3
"""Write edge_runtime/unicode_tables.json: the tokenizer's character classes, fixed once.

The tokenizer must give the same ids on every device, whatever Python (and so whatever Unicode
version in ``unicodedata``) runs it. So its character classes are data, read off the reference
it reproduces, HF ``tokenizers``' BERT normalizer and pre-tokenizer, one code point at a time:

- removed:   normalized to nothing (NUL, U+FFFD, control, format, private-use, unassigned ...)
- spaces:    normalized to one space (whitespace)
- cjk:       normalized to `` c `` (a CJK ideograph is a word of its own)
- punctuation: split off as a word of its own by the pre-tokenizer
- options:   per tokenizer option (lowercase and/or strip accents, or neither), what else is
             removed (combining marks, when accents are stripped) and what is mapped to another
             string (e.g. "É" -> "e" with both, "é" with lowercase alone)

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


OPTIONS = {   # name -> (lowercase, strip_accents): the tokenizer options a model can be trained with
    "lowercase+strip_accents": (True, True),   # BERT uncased: the default, every shipped model
    "lowercase": (True, False),                # what MediaPipe's BERT tokenizer does
    "strip_accents": (False, True),
    "none": (False, False),
}


def option_name(lowercase: bool, strip_accents: bool) -> str:
    return next(name for name, flags in OPTIONS.items() if flags == (lowercase, strip_accents))


def main() -> None:
    pre = pre_tokenizers.BertPreTokenizer()
    normalizers_by_option = {name: normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                              strip_accents=strip, lowercase=lower)
                             for name, (lower, strip) in OPTIONS.items()}
    spaces, cjk, punctuation, split = [], [], [], []
    removed = {name: [] for name in OPTIONS}
    mapped = {name: {} for name in OPTIONS}
    for cp in range(0x110000):
        if SURROGATES[0] <= cp <= SURROGATES[1]:
            continue
        char = chr(cp)
        outs = {name: normalizer.normalize_str(char) for name, normalizer in normalizers_by_option.items()}
        if HANGUL[0] <= cp <= HANGUL[1]:   # computed by the tokenizer where accents are stripped (NFD)
            for name, out in outs.items():
                if out != char and not OPTIONS[name][1]:
                    raise SystemExit(f"U+{cp:04X}: a Hangul syllable changes without accent stripping ({name})")
            continue
        kinds = set()
        for name, out in outs.items():
            if out == "":
                removed[name].append(cp)
                kinds.add("removed")
            elif out == " ":
                kinds.add("space")
            elif out == f" {char} ":
                kinds.add("cjk")
            elif out != char:
                mapped[name][cp] = out
                kinds.add("mapped")
            else:
                kinds.add("kept")
        if "space" in kinds:
            if len(kinds) > 1:
                raise SystemExit(f"U+{cp:04X}: a space under some options only: {outs}")
            spaces.append(cp)
        elif "cjk" in kinds:   # a CJK compatibility ideograph is also mapped where NFD applies (accents stripped)
            if not kinds <= {"cjk", "mapped"}:
                raise SystemExit(f"U+{cp:04X}: a CJK ideograph under some options only: {outs}")
            cjk.append(cp)
        words = [w for w, _ in pre.pre_tokenize_str(f"a{char}b")]
        if words == ["a", char, "b"]:
            punctuation.append(cp)
        elif words == ["a", "b"]:
            split.append(cp)
        elif words != [f"a{char}b"]:
            raise SystemExit(f"U+{cp:04X}: unexpected pre-tokenization {words}")
    common = sorted(set.intersection(*(set(v) for v in removed.values())))
    stray = sorted(set(split) - set(common) - set(spaces))
    if stray:
        raise SystemExit(f"whitespace that survives normalization: {[hex(cp) for cp in stray]}")
    tables = {
        "source": f"HF tokenizers {tokenizers.__version__}: BertNormalizer(clean_text, handle_chinese_chars, "
                  "strip_accents, lowercase) under each option and BertPreTokenizer, one code point at a time "
                  "(scripts/unicode_tables.py)",
        "removed": ranges(common), "spaces": ranges(spaces), "cjk": ranges(cjk),
        "punctuation": ranges(punctuation),
        "options": {name: {"removed": ranges(sorted(set(removed[name]) - set(common))),
                           "mapped": [[cp, text] for cp, text in sorted(mapped[name].items())]}
                    for name in OPTIONS},
    }
    if OUT.exists():   # MediaPipe's rules come from MediaPipe (scripts/mediapipe_tables.py), not from HF
        tables["mediapipe"] = json.loads(OUT.read_text(encoding="ascii"))["mediapipe"]
    fd, tmp = tempfile.mkstemp(dir=OUT.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(tables, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, OUT)
    print(f"{OUT}: {OUT.stat().st_size:,} bytes; removed {len(common)}, spaces {len(spaces)}, cjk {len(cjk)}, "
          f"punctuation {len(punctuation)}; " + ", ".join(
              f"{name}: removed +{len(removed[name]) - len(common)}, mapped {len(mapped[name])}" for name in OPTIONS),
          file=sys.stderr)


if __name__ == "__main__":
    main()
