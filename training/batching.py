"""Length bucketing: a batch of short reviews costs what short reviews cost.

Each review goes to the smallest bucket length that holds it (longer ones are cut to the last
bucket, the model's ``max_length``). A batch holds about ``batch_tokens`` tokens, so short
buckets get many reviews per batch and long buckets few. Every bucket has one fixed batch
shape, so a compiled step is traced once per bucket, not once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.lengths import bucket_index, pad_rows


@dataclass
class Batch:
    ids: np.ndarray      # (batch, length) int32, padded with 0
    labels: np.ndarray   # (batch,) int64 classes; with a teacher's soft targets float32 P(label 1) (batch,)
                         # or, with more than two labels, (batch, labels) distributions
    rows: np.ndarray     # (batch,) index into the dataset, -1 for filler rows
    truncated: int       # how many reviews in it were cut to length


def batch_size_for(length: int, batch_tokens: int, max_batch: int, multiple_of: int = 1) -> int:
    size = max(1, min(max_batch, batch_tokens // length))
    return max(multiple_of, size // multiple_of * multiple_of)


def pad_batch(sequences: list[np.ndarray], length: int) -> tuple[np.ndarray, int]:
    """(batch, length) int32: each sequence cut to ``length`` (keeping its final [SEP]) and padded."""
    return pad_rows(sequences, length)


def make_batches(sequences: list[np.ndarray], labels: np.ndarray, buckets: list[int],
                 batch_tokens: int, max_batch: int, rng: np.random.Generator | None = None,
                 drop_remainder: bool = True, multiple_of: int = 1) -> list[Batch]:
    """Group reviews into batches by bucket; shuffled if ``rng`` is given.

    With ``drop_remainder`` (training) each bucket's last partial batch is left out; a fresh
    shuffle each epoch leaves out other reviews. Without it (evaluation) the last batch is
    filled with empty rows marked ``rows == -1``, so every batch of a bucket has one shape.
    """
    lengths = np.array([len(s) for s in sequences])
    which = bucket_index(buckets, lengths)
    batches = []
    for b, length in enumerate(buckets):
        members = np.flatnonzero(which == b)
        if rng is not None:
            members = rng.permutation(members)
        size = batch_size_for(length, batch_tokens, max_batch, multiple_of)
        for start in range(0, len(members), size):
            chunk = members[start:start + size]
            if len(chunk) < size:
                if drop_remainder:
                    continue
                chunk = np.concatenate([chunk, -np.ones(size - len(chunk), dtype=chunk.dtype)])
            real = chunk[chunk >= 0]
            ids, truncated = pad_batch([sequences[i] for i in real], length)
            if len(real) < size:
                ids = np.concatenate([ids, np.zeros((size - len(real), length), np.int32)])
            batch_labels = np.zeros((size, *labels.shape[1:]), dtype=labels.dtype)
            batch_labels[: len(real)] = labels[real]
            batches.append(Batch(ids, batch_labels, chunk, truncated))
    if rng is not None:
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
    return batches
