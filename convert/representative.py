"""The representative set that calibrates full-integer quantization: training reviews, never test.

Each signature (input length) is calibrated on reviews that would run at that length, so
activation ranges match what the device will see: reviews are sampled (seeded) from the
training part of the train split, tokenized with the project's tokenizer, and grouped by the
smallest input length that holds them, until every length has ``per_length`` reviews (or the
pool runs out).
"""

from __future__ import annotations

import numpy as np

from edge_runtime.classifier import signature_key
from edge_runtime.lengths import input_length, pad_rows


def representative_reviews(texts: list[str], tokenizer, lengths: list[int],
                           max_length: int, per_length: int = 32, seed: int = 0) -> dict[int, list[np.ndarray]]:
    """Length -> up to ``per_length`` padded (1, length) int32 id arrays from ``texts``."""
    if not texts:
        raise ValueError("the representative set is empty: no training reviews to calibrate int8 with; "
                         "check the dataset (TFDS_DATA_DIR) or use another variant")
    lengths = sorted(lengths)
    chosen: dict[int, list[np.ndarray]] = {n: [] for n in lengths}   # each length's reviews, their ids unpadded
    for index in np.random.default_rng(seed).permutation(len(texts)):
        ids = tokenizer.encode(texts[index], min(max_length, lengths[-1])).ids
        n = input_length(lengths, len(ids))
        if len(chosen[n]) < per_length:
            chosen[n].append(ids)
        if all(len(v) >= per_length for v in chosen.values()):
            break
    empty = [n for n in lengths if not chosen[n]]
    if len(empty) == len(lengths):
        raise ValueError("the representative set is empty after tokenization; check the training texts")
    # a length no training review needs still gets calibrated: reuse the longest reviews, cut (keeping their
    # [SEP]) and padded to it by the one rule of edge_runtime.lengths
    donors = [ids for m in lengths for ids in chosen[m]][-per_length:]
    for n in empty:
        chosen[n] = donors
    return {n: [pad_rows([ids], n, tokenizer.pad_id)[0] for ids in reviews] for n, reviews in chosen.items()}


def signature_dataset(samples: dict[int, list[np.ndarray]]):
    """A ``representative_dataset`` callable for a multi-signature converter."""
    def generate():
        for n, arrays in samples.items():
            for ids in arrays:
                yield signature_key(n), {"token_ids": ids}
    return generate
