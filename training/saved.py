"""A trained model's folder: the one place that knows its file names, its kind and its labels.

Every stage (training, the language model, ensembles, the hybrid, conversion, parity, the CLI,
the demo) talks about a ``ModelFolder`` and asks it for what it needs; none spells a file name.
A folder holds::

    config.json         {"kind": ..., "labels": [...], "tokenizer": {options}, "model": {TransformerConfig}}
    train_config.json   how it was trained (TrainConfig, LMConfig)
    model.keras         the weights (the best epoch)
    vocab.txt           the WordPiece vocabulary the tokenizer reads
    data.json           which data it was trained on and how it was split (``training.sources``)
    metrics.json        test metrics (or held-out perplexity), timing, machine
    log.csv             one row per epoch (or evaluation step)
    checkpoints/        the last epoch, for --resume
    tflite/             <variant>.tflite and conversion.json (``sparse-edge convert``)
    parity.json, parity.md, quant_debug.csv   (``sparse-edge convert`` / ``parity``)
    mediapipe/          <variant>.tflite for MediaPipe Tasks, conversion.json, parity.json, parity.md,
                        quant_debug.csv (``--target mediapipe``)

Example:
    >>> folder = ModelFolder("runs/quick/model")
    >>> folder.tflite("int8").as_posix()
    'runs/quick/model/tflite/int8.tflite'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.tokenizer import check_options, load_tokenizer, needs_vocabulary
from training.data import SENTIMENT_LABELS
from training.files import write_json_atomic

CLASSIFIER, LANGUAGE_MODEL, ENSEMBLE, HYBRID = "classifier", "language_model", "ensemble", "hybrid"
KINDS = (CLASSIFIER, LANGUAGE_MODEL, ENSEMBLE, HYBRID)


class ModelFolder:
    """Paths, kind, labels and loading of one model folder."""

    CONFIG = "config.json"
    TRAIN_CONFIG = "train_config.json"
    MODEL = "model.keras"
    VOCAB = "vocab.txt"
    METRICS = "metrics.json"
    DATA = "data.json"
    LOG = "log.csv"
    CHECKPOINT = "checkpoints/last"
    TFLITE = "tflite"
    CONVERSION = "tflite/conversion.json"
    PARITY = "parity.json"
    PARITY_MARKDOWN = "parity.md"
    QUANT_DEBUG = "quant_debug.csv"
    CACHE = "cache"
    MEDIAPIPE = "mediapipe"   # holds the same names: <variant>.tflite, conversion.json, parity.*, quant_debug.csv
    MEDIAPIPE_WEB = "mediapipe/web"   # parity.* of the MediaPipe files run in the web page

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # -- file paths ------------------------------------------------------------------------------
    config_path = property(lambda self: self.path / self.CONFIG)
    train_config_path = property(lambda self: self.path / self.TRAIN_CONFIG)
    model_path = property(lambda self: self.path / self.MODEL)
    vocab_path = property(lambda self: self.path / self.VOCAB)
    metrics_path = property(lambda self: self.path / self.METRICS)
    data_path = property(lambda self: self.path / self.DATA)
    log_path = property(lambda self: self.path / self.LOG)
    checkpoint_dir = property(lambda self: self.path / self.CHECKPOINT)
    tflite_dir = property(lambda self: self.path / self.TFLITE)
    conversion_path = property(lambda self: self.path / self.CONVERSION)
    parity_path = property(lambda self: self.path / self.PARITY)
    parity_markdown_path = property(lambda self: self.path / self.PARITY_MARKDOWN)
    quant_debug_path = property(lambda self: self.path / self.QUANT_DEBUG)
    cache_dir = property(lambda self: self.path / self.CACHE)
    mediapipe_dir = property(lambda self: self.path / self.MEDIAPIPE)
    mediapipe_web_dir = property(lambda self: self.path / self.MEDIAPIPE_WEB)

    def tflite(self, variant: str, tflite_dir: str | Path | None = None) -> Path:
        """Where ``sparse-edge convert`` writes (or wrote) one variant."""
        return Path(tflite_dir or self.tflite_dir) / f"{variant}.tflite"

    def mediapipe_file(self, variant: str) -> Path:
        """Where ``sparse-edge convert --target mediapipe`` writes one variant."""
        return self.tflite(variant, self.mediapipe_dir)

    @classmethod
    def holding(cls, converted: str | Path) -> "ModelFolder":
        """The folder a converted file was written into (``<folder>/tflite/<variant>.tflite``, or mediapipe/).

        Example:
            >>> ModelFolder.holding("runs/pipeline/model/tflite/int8.tflite")
            ModelFolder('runs/pipeline/model')
        """
        path = Path(converted)
        if path.parent.name not in (cls.TFLITE, cls.MEDIAPIPE):
            raise ValueError(f"{path} is not in a model folder's {cls.TFLITE}/ or {cls.MEDIAPIPE}/ folder")
        return cls(path.parent.parent)

    # -- what the folder records -----------------------------------------------------------------
    def write_config(self, kind: str, model_config, labels=SENTIMENT_LABELS, tokenizer: dict | None = None,
                     **extra) -> None:
        """Record the folder's kind, labels, tokenizer options and model sizes (``config.json``)."""
        if kind not in KINDS:
            raise ValueError(f"unknown model kind {kind!r}; one of {', '.join(KINDS)}")
        config = model_config if isinstance(model_config, dict) else model_config.to_dict()
        write_json_atomic(self.config_path, {"kind": kind, "labels": list(labels), "model": config,
                                             "tokenizer": check_options(tokenizer), **extra})

    def read_config(self) -> dict:
        """``config.json`` as ``{"kind", "labels", "model", ...}``.

        Folders written before the kind was recorded hold the bare model config; their kind is
        read from it (a causal pattern: a language model) and their labels are IMDB's.
        """
        try:
            config = json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise ValueError(f"{self.path} is not a model folder: {self.CONFIG} is missing; train one with "
                             "`sparse-edge train --out DIR`") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{self.config_path} is not valid JSON ({error}); restore or retrain it") from None
        if "kind" in config:
            return config
        causal = config.get("pattern", {}).get("causal", False)
        return {"kind": LANGUAGE_MODEL if causal else CLASSIFIER,
                "labels": [] if causal else list(SENTIMENT_LABELS), "model": config}

    @property
    def kind(self) -> str:
        return self.read_config()["kind"]

    @property
    def labels(self) -> list[str]:
        return list(self.read_config()["labels"])

    def exists(self) -> bool:
        return self.model_path.exists()

    def metrics(self) -> dict:
        """``metrics.json``, or ``{}`` when the folder has none yet."""
        return json.loads(self.metrics_path.read_text()) if self.metrics_path.exists() else {}

    def write_metrics(self, metrics: dict) -> None:
        write_json_atomic(self.metrics_path, metrics)

    def data_record(self) -> dict | None:
        """``data.json`` (the data source and its split), or None for folders trained before it was kept
        (they were trained on IMDB)."""
        return json.loads(self.data_path.read_text()) if self.data_path.exists() else None

    def write_data_record(self, record: dict) -> None:
        write_json_atomic(self.data_path, record)

    def vocab_text(self) -> str | None:
        """The WordPiece vocabulary's text; None for a byte-level model, which has none."""
        if not needs_vocabulary(self.tokenizer_options):
            return None
        return self.vocab_path.read_text(encoding="utf-8")

    @property
    def tokenizer_options(self) -> dict:
        """How texts are normalised before WordPiece (lowercase, accents); BERT uncased for older folders."""
        return check_options(self.read_config().get("tokenizer")) if self.config_path.exists() else check_options(None)

    def tokenizer(self):
        """The folder's tokenizer: WordPiece from its vocab.txt, or bytes (no file)."""
        return load_tokenizer(self.tokenizer_options, self.vocab_text())

    # -- loading ---------------------------------------------------------------------------------
    def require(self, *names: str, hint: str = "train one with `sparse-edge train --out DIR`") -> None:
        missing = [name for name in names if not (self.path / name).exists()]
        if missing:
            raise ValueError(f"{self.path} is not a trained model folder: missing {', '.join(missing)}; {hint}")

    def load_keras(self):
        """The Keras model; a clear ValueError when the file is damaged."""
        import keras

        import model.transformer  # noqa: F401 - registers the layers for deserialization
        import training.ensemble_model  # noqa: F401
        import training.hybrid  # noqa: F401

        self.require(self.MODEL)
        try:
            return keras.models.load_model(self.model_path, safe_mode=True)
        except Exception as error:  # noqa: BLE001 - a damaged zip, weights or config
            raise ValueError(f"{self.model_path} could not be loaded ({type(error).__name__}: "
                             f"{str(error).splitlines()[0][:200]}); retrain or restore the file") from error

    def load(self):
        """A classifier folder's (model, tokenizer, TrainConfig)."""
        from training.train_config import TrainConfig

        self.require(self.MODEL, self.TRAIN_CONFIG, *([self.VOCAB] if needs_vocabulary(self.tokenizer_options) else []))
        config = TrainConfig.load(self.train_config_path)
        tokenizer = self.tokenizer()
        model = self.load_keras()
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(f"{self.vocab_path} has {len(tokenizer)} tokens but the model's embedding has "
                             f"{model.config.vocab_size}; use the vocab.txt the model was trained with")
        return model, tokenizer, config


def load_trained(model_dir: str | Path):
    """Return (model, tokenizer, TrainConfig) of a classifier folder; a clear ValueError names what is wrong."""
    return ModelFolder(model_dir).load()


@dataclass
class KerasPrediction:
    label: str
    score: float
    probabilities: list[float]
    n_tokens: int
    truncated: bool

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def classify_texts(model, tokenizer, texts: list[str],
                   labels=SENTIMENT_LABELS) -> list[KerasPrediction]:
    """Classify each text with the Keras model, one at a time, padded to its length bucket.

    A review always runs at its bucket length (as in training, evaluation and the ``.tflite``
    signatures), so a prediction never depends on which path computed it.
    """
    from edge_runtime.lengths import encode_padded

    c = model.config
    results = []
    for text in texts:
        ids, encoding = encode_padded(tokenizer, text, c.max_length, c.bucket_lengths)
        probs = np.asarray(model(ids, training=False))[0]
        best = int(np.argmax(probs))
        results.append(KerasPrediction(labels[best], float(probs[best]), [float(p) for p in probs],
                                       encoding.n_tokens, encoding.truncated))
    return results
