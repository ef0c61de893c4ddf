"""What MediaPipe's BERT tokenizer makes of a text, read back from MediaPipe itself.

MediaPipe's ``TextClassifier`` tokenizes inside its C++ graph (``BertPreprocessorCalculator``:
ASCII lowercasing, an RE2 split, TF.Text's WordPiece) and never shows the ids. A *probe* file
makes it show them: a model with MediaPipe's three inputs whose "probabilities" are its token
ids, cast to float (exact below 2**24), with one label per position. Classifying a text with the
probe returns the ids MediaPipe fed, position by position, from the real runtime.

``probe_ids(texts, vocab)`` runs the probe in a mediapipe release; ``scan_code_points`` uses it to
classify every code point as MediaPipe's split sees it (a space, a delimiter kept as its own token,
or a letter of a word), and ``classes`` turns that into the table that ``scripts/mediapipe_tables.py``
commits for the edge tokenizer's ``mediapipe`` rules and that ``tests/test_mediapipe_tokens.py`` re-proves.
"""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import numpy as np

from edge_runtime.tokenizer import SPECIAL_TOKENS

PROBE_LENGTH = 512
#  a code point c is tested as "a" c "a." : [a, a] space, [a, X, a] kept delimiter, [UNK] part of a word,
#  [a, ##a] dropped; "." closes each group
PROBE_WORDS = ("a", "##a", ".")


def probe_flatbuffer(length: int = PROBE_LENGTH) -> bytes:
    """A MediaPipe-shaped model whose outputs are its inputs' token ids as float32."""
    import tensorflow as tf

    from edge_runtime.classifier import MEDIAPIPE_INPUTS, MEDIAPIPE_SIGNATURE

    class Probe(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, length], tf.int32, name=n) for n in MEDIAPIPE_INPUTS])
        def serve(self, ids, mask, segment_ids):
            return {"probabilities": tf.cast(ids, tf.float32) + 0.0 * tf.cast(mask + segment_ids, tf.float32)}

    probe = Probe()
    with tempfile.TemporaryDirectory() as saved:
        tf.saved_model.save(probe, saved, signatures={MEDIAPIPE_SIGNATURE: probe.serve})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[MEDIAPIPE_SIGNATURE])
        return converter.convert()


def probe_file(vocab: list[str], out: Path, length: int = PROBE_LENGTH) -> Path:
    """``out``: the probe with MediaPipe's metadata (``vocab`` as its BertTokenizer vocabulary)."""
    from convert.mediapipe_export import write_metadata

    out.write_bytes(write_metadata(probe_flatbuffer(length), "\n".join(vocab) + "\n",
                                   [str(i) for i in range(length)]))
    return out


def probe_ids(texts: list[str], vocab: list[str], version: str | None = None, length: int = PROBE_LENGTH,
              progress: bool = False) -> list[list[int]]:
    """The ids MediaPipe's TextClassifier (release ``version``) feeds its model for each text, padding cut."""
    from convert.mediapipe_parity import mediapipe_probabilities

    with tempfile.TemporaryDirectory() as work:
        path = probe_file(vocab, Path(work) / "probe.tflite", length)
        scores = mediapipe_probabilities(path, texts, length, progress, version)
    return ids_of_scores(scores)


def scan_vocabulary() -> list[str]:
    """The probe's vocabulary: the special tokens, "a", "##a", "." and "##" + every letter's lowercase,
    so that a letter MediaPipe lowercased is found and one it kept is [UNK]."""
    lowered = sorted({c.lower() for c in map(chr, range(0x41, 0x30000)) if c.lower() != c} - {"a"})
    return [*SPECIAL_TOKENS, *PROBE_WORDS, *("##" + c for c in lowered)]


def scan_code_points(code_points, probe) -> dict[int, str]:
    """Each code point as MediaPipe's tokenizer treats it between two "a"s: "space" (a delimiter,
    dropped), "delimiter" (split off as its own token), "dropped" (removed from the word), "word" (a
    letter of the word, as it is) or "word:X" (a letter of the word, turned into X: lowercasing);
    anything else is returned as the raw ids. "." closes each group, so it is scanned on its own.
    ``probe``: texts -> the ids MediaPipe fed for each (``probe_ids`` with ``scan_vocabulary()``, or the
    web page's)."""
    vocab = scan_vocabulary()
    index = {t: i for i, t in enumerate(vocab)}
    a, cont, dot, unk = index["a"], index["##a"], index["."], index[SPECIAL_TOKENS[1]]
    code_points = [cp for cp in code_points if cp != ord(".")]
    per_text = (PROBE_LENGTH - 2) // 4
    chunks = [code_points[i:i + per_text] for i in range(0, len(code_points), per_text)]
    rows = probe(["".join(f"a{chr(cp)}a." for cp in chunk) for chunk in chunks])
    out: dict[int, str] = {}
    for chunk, ids in zip(chunks, rows):
        groups, group = [], []
        for i in ids[1:-1]:          # [CLS] ... [SEP]
            if i == dot:
                groups.append(group)
                group = []
            else:
                group.append(i)
        if len(groups) != len(chunk):
            raise RuntimeError(f"probe text from code point {chunk[0]:#x}: {len(groups)} groups for {len(chunk)}")
        for cp, g in zip(chunk, groups):
            if g == [a, a]:
                out[cp] = "space"
            elif len(g) == 3 and g[0] == a and g[2] == a:
                out[cp] = "delimiter"
            elif g == [a, cont]:
                out[cp] = "dropped"
            elif g == [unk] or (len(g) == 3 and g[0] == a and g[2] == cont and vocab[g[1]] == "##" + chr(cp)):
                out[cp] = "word"
            elif len(g) == 3 and g[0] == a and g[2] == cont:
                out[cp] = "word:" + vocab[g[1]][2:]
            else:
                out[cp] = repr(g)
    return out


ALL = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF]


def ranges(code_points) -> list[list[int]]:
    out = []
    for cp in sorted(code_points):
        if out and cp == out[-1][1] + 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def classes(version: str | None = None, progress: bool = True, probe=None) -> dict:
    """The table entry (spaces, delimiters) as MediaPipe ``version`` shows it, or as ``probe`` (texts ->
    ids, e.g. the web page's) does; a SystemExit if it does anything else than split, keep or
    lowercase ASCII, or if NUL does not end the text."""
    vocab = scan_vocabulary()
    probe = probe or (lambda texts: probe_ids(texts, vocab, version, progress=progress))
    seen = scan_code_points(ALL, probe)
    dot, nul = probe(["a.a", "a\x00b c"])
    if [vocab[i] for i in dot] != ["[CLS]", "a", ".", "a", "[SEP]"]:
        raise SystemExit(f"'.' is not a delimiter in mediapipe {version}: {[vocab[i] for i in dot]}")
    if [vocab[i] for i in nul] != ["[CLS]", "a", "[SEP]"]:
        raise SystemExit(f"a NUL does not end the text in mediapipe {version}: {[vocab[i] for i in nul]}")
    seen[ord(".")] = "delimiter"
    lowered = {cp for cp, kind in seen.items() if kind.startswith("word:")}
    if {chr(cp) for cp in lowered} != set(string.ascii_uppercase) or any(
            seen[cp] != "word:" + chr(cp).lower() for cp in lowered):
        raise SystemExit(f"lowercasing beyond ASCII A-Z: {sorted(hex(cp) for cp in lowered)[:20]}")
    odd = {cp: kind for cp, kind in seen.items() if kind not in ("space", "delimiter", "word") and cp not in lowered}
    if odd:
        raise SystemExit(f"code points MediaPipe neither splits nor keeps: {list(odd.items())[:20]}")
    return {"spaces": ranges(cp for cp, k in seen.items() if k == "space"),
            "delimiters": ranges(cp for cp, k in seen.items() if k == "delimiter")}


def ids_of_scores(scores) -> list[list[int]]:
    """A probe's scores (texts, positions) as token ids, the padding cut."""
    ids = np.rint(np.asarray(scores)).astype(np.int64)
    return [row[: int(np.flatnonzero(row)[-1]) + 1].tolist() if row.any() else [] for row in ids]
