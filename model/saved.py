"""Load a trained model folder (``model.keras``, ``config.json``, ``vocab.txt``) and classify text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.tokenizer import WordPieceTokenizer

LABELS = ("negative", "positive")


def load_trained(model_dir: str | Path):
    """Return (model, tokenizer, TrainConfig); a clear ValueError names whatever is missing or broken."""
    import keras

    import model.transformer  # noqa: F401 - registers the layers for deserialization
    from model.train import TrainConfig

    folder = Path(model_dir)
    required = ("model.keras", "vocab.txt", "train_config.json")
    missing = [name for name in required if not (folder / name).exists()]
    if missing:
        raise ValueError(f"{folder} is not a trained model folder: missing {', '.join(missing)}; "
                         "train one with `sparse-edge train --out DIR`")
    config = TrainConfig.load(folder / "train_config.json")
    tokenizer = WordPieceTokenizer.from_file(folder / "vocab.txt")
    try:
        model = keras.models.load_model(folder / "model.keras", safe_mode=True)
    except Exception as error:  # noqa: BLE001 - a damaged zip, weights or config
        raise ValueError(f"{folder / 'model.keras'} could not be loaded ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:200]}); retrain or restore the file") from error
    if model.config.vocab_size != len(tokenizer):
        raise ValueError(f"vocab.txt has {len(tokenizer)} tokens but the model's embedding has "
                         f"{model.config.vocab_size}; use the vocab.txt the model was trained with")
    return model, tokenizer, config


@dataclass
class KerasPrediction:
    label: str
    score: float
    probabilities: list[float]
    n_tokens: int
    truncated: bool

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def classify_texts(model, tokenizer: WordPieceTokenizer, texts: list[str]) -> list[KerasPrediction]:
    """Classify each text with the Keras model, one at a time, padded to its length bucket.

    A review always runs at its bucket length (as in training, evaluation and the ``.tflite``
    signatures), so a prediction never depends on which path computed it.
    """
    from model.batching import bucket_lengths, pad_batch

    c = model.config
    buckets = bucket_lengths(c.max_length, c.pattern.block_size)
    results = []
    for text in texts:
        encoding = tokenizer.encode(text, c.max_length)
        length = buckets[int(np.searchsorted(buckets, len(encoding.ids)))]
        ids, _ = pad_batch([encoding.ids], length)
        probs = np.asarray(model(ids, training=False))[0]
        best = int(np.argmax(probs))
        results.append(KerasPrediction(LABELS[best], float(probs[best]), [float(p) for p in probs],
                                       encoding.n_tokens, encoding.truncated))
    return results


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())
