"""How a classifier is trained: ``TrainConfig``, saved as ``train_config.json`` beside the model.

Plain data with no TensorFlow import, so the CLI, the report and the pipeline can read and check
a config without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from edge_runtime.tokenizer import TOKENIZERS
from model.config import TransformerConfig
from model.strict import strict_from_dict



@dataclass
class HybridSettings:
    """The n-gram half of a hybrid classifier and how its Transformer is fine-tuned (``training.train_hybrid``).

    ``base`` is a trained classifier folder whose Transformer becomes the deep half; the hybrid
    keeps its vocabulary, validation split and sizes.
    """

    base: str = "artifacts/imdb-transformer"
    order: int = 3                  # n-grams up to pairs (2) or triples (3)
    bigram_buckets: int = 800_000
    trigram_buckets: int = 800_000
    regularization: float = 0.1     # NB-LR's inverse L2 strength (scikit-learn's C)
    folds: int = 5                  # out-of-fold NB-LR log-odds for the training reviews
    epochs: int = 1                 # residual fine-tuning passes over the labelled training reviews (0: none,
                                    # the mix is then fitted on the validation reviews: stacking)
    learning_rate: float = 3e-4
    token_dropout: float = 0.1
    mix: tuple = (0.55, 0.67, 0.0)  # starting (deep, n-gram, bias) weights of the mixed log-odds

    def __post_init__(self) -> None:
        self.mix = tuple(float(x) for x in self.mix)
        if self.order not in (1, 2, 3):
            raise ValueError(f"hybrid order must be 1, 2 or 3, got {self.order!r}")
        for name in ("bigram_buckets", "trigram_buckets", "folds", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "epochs" else 1) or (name == "folds" and value < 2):
                raise ValueError(f"hybrid {name} must be a positive integer (folds >= 2, epochs >= 0), got {value!r}")
        if not 0 < self.learning_rate < 1 or self.regularization <= 0:
            raise ValueError("hybrid learning_rate must be in (0, 1) and regularization > 0")
        if len(self.mix) != 3:
            raise ValueError(f"hybrid mix is (deep, n-gram, bias), got {self.mix!r}")

    def hashing(self, vocab_size: int) -> dict:
        return {"vocab_size": vocab_size, "bigram_buckets": self.bigram_buckets,
                "trigram_buckets": self.trigram_buckets, "order": self.order}

    @classmethod
    def from_dict(cls, values: dict) -> "HybridSettings":
        return strict_from_dict(cls, values, "hybrid settings")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``train_config.json`` beside the model."""

    model: TransformerConfig = field(default_factory=TransformerConfig)
    epochs: int = 4
    patience: int = 0               # stop after this many epochs without a better validation accuracy (0: never)
    batch_tokens: int = 16384       # tokens per batch; short buckets get more reviews
    max_batch: int = 128
    learning_rate: float = 1e-3
    warmup_fraction: float = 0.05
    weight_decay: float = 0.02
    ema_momentum: float = 0.0       # >0: validate and ship an exponential moving average of the weights
    label_smoothing: float = 0.0
    token_dropout: float = 0.0      # share of review tokens replaced by [MASK] in training batches
    pretrain_steps: int = 0         # masked-LM batches on unlabelled + train texts first (0: none)
    pretrain_learning_rate: float = 1e-3
    pretrain_unlabelled: bool = True   # pretraining also reads the source's unlabelled texts (IMDB: 50,000)
    val_fraction: float = 0.1
    seed: int = 0                   # initialisation, batch order, token dropout
    split_seed: int | None = None   # the validation split's seed (None: ``seed``); ensemble members share it
    jit_compile: bool = True
    checkpoint_minutes: float = 15.0   # a checkpoint at least this often inside an epoch, and after each one
    tokenizer: str = "wordpiece"    # "wordpiece" (a vocabulary learned or given), "mediapipe" (the same with MediaPipe's
                                    # rules: what its TextClassifier reproduces) or "bytes" (UTF-8 bytes, no vocabulary)
    vocab_size: int = 12000         # learned from train + unsupervised when no vocab is given
    lowercase: bool = True          # the tokenizer's options (recorded in the model folder and every .tflite)
    strip_accents: bool = True
    train_limit: int | None = None  # use only the first N train reviews (tests, quick runs)
    test_limit: int | None = None
    vocab_limit: int | None = None  # texts used to learn the vocabulary (None: all)
    init_from: str | None = None    # a `sparse-edge train-lm` folder (same vocab, sizes) or a classifier folder of
                                    # the same model config to start from (a warm restart: every weight copied)
    freeze_token_embeddings: bool = False  # keep the token table as initialised (with init_from: the LM's)
    teacher: str | None = None      # "ngram": distil from a bag-of-n-grams model (training/teacher.py)
    teacher_weight: float = 0.5     # share of a labelled review's target that is the teacher's probability
    unlabelled_reviews: int = 0     # unsupervised reviews the teacher labels and training adds
    hybrid: HybridSettings | None = None   # set in a hybrid's folder: how its n-gram half was built

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = TransformerConfig.from_dict(self.model)
        if isinstance(self.hybrid, dict):
            self.hybrid = HybridSettings.from_dict(self.hybrid)
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"patience must be a count of epochs >= 0, got {self.patience!r}")
        for name in ("epochs", "batch_tokens", "max_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if not 0 <= self.ema_momentum < 1:
            raise ValueError(f"ema_momentum must be in [0, 1), got {self.ema_momentum!r}")
        if not 0 <= self.token_dropout < 1:
            raise ValueError(f"token_dropout must be in [0, 1), got {self.token_dropout!r}")
        if self.teacher not in (None, "ngram"):
            raise ValueError(f"unknown teacher {self.teacher!r}; use \"ngram\" or null for none")
        if not 0 <= self.teacher_weight <= 1:
            raise ValueError(f"teacher_weight must be in [0, 1], got {self.teacher_weight!r}")
        if not isinstance(self.unlabelled_reviews, int) or self.unlabelled_reviews < 0:
            raise ValueError(f"unlabelled_reviews must be a count >= 0, got {self.unlabelled_reviews!r}")
        if self.unlabelled_reviews and not self.teacher:
            raise ValueError("unlabelled_reviews needs a teacher to label them; set \"teacher\": \"ngram\"")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {self.tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
        if not self.checkpoint_minutes > 0:
            raise ValueError(f"checkpoint_minutes must be > 0, got {self.checkpoint_minutes!r}")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction!r}")
        if self.pretrain_steps > 0:
            self.model.refuse_patches("masked-id pretraining predicts every id")
        if self.batch_tokens < self.model.max_length:
            raise ValueError(f"batch_tokens {self.batch_tokens} cannot hold one review of max_length "
                             f"{self.model.max_length}; use batch_tokens >= {self.model.max_length}")

    @property
    def validation_seed(self) -> int:
        return self.seed if self.split_seed is None else self.split_seed

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["model"] = self.model.to_dict()
        if self.hybrid is not None:
            values["hybrid"] = {**dataclasses.asdict(self.hybrid), "mix": list(self.hybrid.mix)}
        else:
            values.pop("hybrid")
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        return strict_from_dict(cls, values, "training config")

    @classmethod
    def load(cls, path) -> "TrainConfig":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); fix or regenerate it") from error
