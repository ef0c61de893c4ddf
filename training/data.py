"""Labelled texts (``Reviews``), IMDB from TensorFlow Datasets, seeded splits, and cached token ids.

Other data sources (any TFDS text dataset, CSV, JSONL, a folder per label) are read by
``training.sources`` into the same ``Reviews``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


DATASET = "imdb_reviews"
SENTIMENT_LABELS = ("negative", "positive")   # IMDB's ClassLabel order: 0 negative, 1 positive
DOWNLOAD_HOST = "ai.stanford.edu"  # where TFDS downloads aclImdb_v1.tar.gz from


class DatasetMissing(RuntimeError):
    """IMDB is not available; the message lists the three ways to provide it."""


MISSING_HELP = (
    "IMDB reviews (TensorFlow Datasets '{name}') are not available{where}. Provide them in one of three ways: "
    "(1) with network access, run again with no option: TFDS downloads and prepares them; "
    "(2) point --data-dir (or TFDS_DATA_DIR) at a folder that holds a prepared '{name}' "
    "(for example ../shared/data/tensorflow_datasets in this project's workspace); "
    "(3) download aclImdb_v1.tar.gz yourself and pass its folder with --manual-dir."
)


@dataclass
class Reviews:
    texts: list[str]
    labels: np.ndarray  # int64 class numbers in the order of the label names (IMDB: 1 = positive)
    ids: np.ndarray     # position in the source's split (a row, a TFDS example), stable across runs
    stratified: bool = False   # split off validation rows per label (own data; IMDB keeps its plain split)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> "Reviews":
        index = np.asarray(index, dtype=np.int64)
        return Reviews([self.texts[i] for i in index], self.labels[index], self.ids[index], self.stratified)


def default_data_dir() -> str | None:
    return os.environ.get("TFDS_DATA_DIR") or None


def load_imdb(split: str, data_dir: str | None = None, manual_dir: str | None = None,
              limit: int | None = None) -> Reviews:
    """Load an IMDB split (``train``, ``test``, ``unsupervised``) as Python strings.

    Raises:
        DatasetMissing: the data is neither prepared in ``data_dir`` nor obtainable.
    """
    import tensorflow_datasets as tfds

    data_dir = data_dir or default_data_dir()
    where = f" in {data_dir}" if data_dir else ""
    try:
        builder = tfds.builder(DATASET, data_dir=data_dir)
    except Exception as error:  # noqa: BLE001 - TFDS raises many kinds; the message matters
        raise DatasetMissing(MISSING_HELP.format(name=DATASET, where=where)) from error
    if not _is_prepared(builder):
        if not manual_dir and not _can_reach(DOWNLOAD_HOST):
            raise DatasetMissing(MISSING_HELP.format(name=DATASET, where=where)
                                 + f" (no network: {DOWNLOAD_HOST} cannot be reached)")
        try:
            config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
            builder.download_and_prepare(download_config=config)
        except Exception as error:  # noqa: BLE001
            raise DatasetMissing(MISSING_HELP.format(name=DATASET, where=where)
                                 + f" (the attempt to prepare them failed: {type(error).__name__})") from error
    split_spec = f"{split}[:{limit}]" if limit else split
    dataset = builder.as_dataset(split=split_spec, shuffle_files=False)
    texts, labels = [], []
    for example in tfds.as_numpy(dataset):
        texts.append(example["text"].decode("utf-8", errors="replace"))
        labels.append(int(example["label"]))
    return Reviews(texts, np.array(labels, dtype=np.int64), np.arange(len(texts)))


def _can_reach(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """A quick look before TFDS tries to download: offline, its retries take minutes."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _is_prepared(builder) -> bool:
    try:
        return bool(builder.info.splits) and Path(builder.data_dir).exists()
    except Exception:  # noqa: BLE001
        return False


def train_validation_split(reviews: Reviews, fraction: float = 0.1, seed: int = 0):
    """A seeded split of ``train`` into (train, validation). ``test`` is never used for selection.

    Own data is split per label (every label keeps training rows and gets validation rows);
    IMDB keeps the plain shuffled split its shipped models were selected with.
    """
    if reviews.stratified:
        kept, held = stratified_split(reviews.labels, fraction, seed)
        return reviews.subset(kept), reviews.subset(held)
    order = np.random.default_rng(seed).permutation(len(reviews))
    n_val = int(round(len(reviews) * fraction))
    return reviews.subset(np.sort(order[n_val:])), reviews.subset(np.sort(order[:n_val]))


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (kept, held out): each label gives ``round(fraction * its rows)`` rows, at least one,
    never all of them; the same ``seed`` always holds out the same rows."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        n = min(len(rows) - 1, max(1, int(round(fraction * len(rows)))))
        held.append(rng.permutation(rows)[:n])
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), held), held


def tokenize_cached(reviews: Reviews, tokenizer, cache_path: str | Path | None,
                    progress: bool = True) -> list[np.ndarray]:
    """Token ids ([CLS] ... [SEP], untruncated) per review, cached in an ``.npz`` file.

    The cache key is the tokenizer's fingerprint and the texts' hash, so a changed vocabulary
    or subset is re-tokenized, and epochs after the first never tokenize again.
    """
    digest = hashlib.sha256()
    for text in reviews.texts:
        digest.update(text.encode("utf-8", errors="replace"))
    key = f"{tokenizer.fingerprint}-{digest.hexdigest()[:16]}"
    if cache_path is not None:
        cache_path = Path(cache_path)
        if cache_path.exists():
            with np.load(cache_path) as cached:
                if str(cached["key"]) == key:
                    return np.split(cached["ids"], cached["offsets"][1:-1])
    texts = reviews.texts
    if progress:
        from tqdm import tqdm

        texts = tqdm(texts, desc="tokenizing", unit="review", leave=False)
    sequences = [tokenizer.sequence(t) for t in texts]
    if cache_path is not None:
        offsets = np.cumsum([0] + [len(s) for s in sequences])
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name(cache_path.name + ".tmp.npz")
        np.savez(tmp, key=key, ids=np.concatenate(sequences), offsets=offsets)
        os.replace(tmp, cache_path)
    return sequences
