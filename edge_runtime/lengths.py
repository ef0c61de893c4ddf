"""Input lengths: which padded length a text runs at, and how its ids are cut and padded.

One owner for the three places that must agree (training batches, Keras prediction, the device):
a sequence of ids goes to the smallest *bucket* length that holds it; a longer one is cut to the
last bucket (the model's ``max_length``) keeping its final [SEP]; the rest of the row is padding.
A ``.tflite`` file has one signature per bucket, so a review runs on the device at exactly the
shape it was trained and evaluated at.

Example:
    >>> bucket_lengths(1024, 64)
    [128, 192, 320, 448, 704, 1024]
    >>> pad_rows([np.array([2, 7, 3])], input_length([128, 192], 3))[0].shape
    (1, 128)
"""

from __future__ import annotations

import numpy as np


def bucket_lengths(max_length: int, block_size: int, smallest: int = 128) -> list[int]:
    """Bucket lengths that grow by about 1.5x, each a multiple of the block size, ending at ``max_length``."""
    lengths, length = [], max(block_size, smallest)
    while length < max_length:
        lengths.append(int(np.ceil(length / block_size) * block_size))
        length = int(length * 1.5)
    lengths.append(max_length)
    return sorted(set(min(n, max_length) for n in lengths))


def device_lengths(max_length: int, block_size: int, longest: int) -> list[int]:
    """The model's buckets, then longer ones (growing by about 1.5x) up to ``longest``.

    For a model whose positions are relative (a convolution over neighbours) the weights do not
    depend on the length, so a ``.tflite`` file can read documents longer than the training cut
    whole; ``longest == max_length`` gives the buckets alone.
    """
    lengths = bucket_lengths(max_length, block_size)
    length = max_length
    while length < longest:
        length = min(longest, int(np.ceil(length * 1.5 / block_size) * block_size))
        lengths.append(length)
    return lengths


def bucket_index(lengths: list[int], n_ids) -> np.ndarray:
    """For each count of ids, the index of the smallest bucket that holds it (the last bucket if none)."""
    return np.searchsorted(lengths, np.minimum(np.asarray(n_ids), lengths[-1]))


def input_length(lengths: list[int], n_ids: int) -> int:
    """The smallest bucket length that holds ``n_ids`` ids (the last one if none does)."""
    return int(lengths[int(bucket_index(lengths, n_ids))])


def cut(ids: np.ndarray, length: int, continues=None) -> np.ndarray:
    """``ids`` cut to ``length``, keeping the final id ([SEP]); unchanged when it fits.

    ``continues(id)``: whether an id continues the unit before it (a UTF-8 continuation byte); the
    cut then moves back so that no unit is split (a byte model never reads half a character).
    """
    if len(ids) <= length:
        return ids
    keep = length - 1
    if continues is not None:
        while keep > 1 and continues(int(ids[keep])):
            keep -= 1
    return np.concatenate([ids[:keep], ids[-1:]])


def pad_rows(sequences, length: int, pad_id: int = 0) -> tuple[np.ndarray, int]:
    """(rows, length) int32: each sequence cut to ``length`` (``cut``) and padded; and how many were cut."""
    out = np.full((len(sequences), length), pad_id, dtype=np.int32)
    truncated = 0
    for row, ids in enumerate(sequences):
        truncated += len(ids) > length
        ids = cut(ids, length)
        out[row, : len(ids)] = ids
    return out, truncated


def encode_padded(tokenizer, text: str, max_length: int, lengths: list[int]):
    """One text as a model reads it: (1, L) int32 ids at its input length, and its ``Encoding``.

    What Keras prediction (``training.saved.classify_texts``) and the device (``TextClassifier``) call;
    training batches cut and pad the cached sequences with the same ``pad_rows``.
    """
    encoding = tokenizer.encode(text, max_length)
    ids, _ = pad_rows([encoding.ids], input_length(lengths, len(encoding.ids)), tokenizer.pad_id)
    return ids, encoding
