"""The pipeline's presets: what a run trains and how much it checks (``sparse-edge pipeline --preset``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Preset:
    """What a pipeline run trains and how much it checks."""

    train_config: str               # a train_config.json, relative to the repository
    vocab_size: int
    vocab_unsupervised: bool        # learn the vocabulary from train + the 50,000 unlabelled reviews
    calibration_reviews: int        # training reviews per input length that calibrate int8
    parity_limit: int | None        # test reviews the parity stage compares (None: all 25,000)
    minutes: dict[str, float]       # measured stage times here (2 cores), for "time left"
    vocab_file: str | None = None   # use this vocab.txt (relative to the repository) instead of learning one
    lm_config: str | None = None    # pretrain a language model with this config first (`sparse-edge train-lm`)
    hybrid_config: str | None = None  # then build the hybrid (n-grams + Transformer) with these settings


PRESETS = {
    # A small model on 8,000 training reviews: about two minutes on 2 cores (stage times measured
    # by a run of `scripts/run`, artifacts/pipeline-quick/pipeline.json).
    "quick": Preset("configs/quick.json", 8000, False, 16, 2000,
                    {"data": 0.1, "vocab": 0.05, "train": 1.1, "convert": 0.3, "parity": 0.25, "edge": 0.01,
                     "summary": 0.0}),
    # The shipped classifier (artifacts/imdb-classifier), from its committed configs and vocabulary:
    # a language model on the unlabelled and training reviews, then the Transformer started from it
    # and distilled from the n-gram teacher (artifacts/imdb-transformer), then the hybrid: NB-LR on
    # hashed n-grams mixed with that Transformer (configs/hybrid.json). Stage times: the lm and
    # train stages from artifacts/pipeline-full/pipeline.json, the hybrid from its metrics.json.
    # Learning the vocabulary again gives the same 12,000 tokens, but HF's trainer breaks frequency
    # ties differently from run to run, so their ids (and every weight row) would move.
    "full": Preset("artifacts/imdb-transformer/train_config.json", 12000, True, 64, None,
                   {"data": 0.4, "vocab": 0.05, "lm": 33.5, "train": 20.0, "hybrid": 4.0, "convert": 2.0,
                    "parity": 10.0, "edge": 0.01, "summary": 0.0}, vocab_file="artifacts/imdb-transformer/vocab.txt",
                   lm_config="artifacts/imdb-transformer/language-model/train_config.json",
                   hybrid_config="configs/hybrid.json"),
    # Your own data, a few thousand rows: a small model, many epochs with early stopping on the
    # validation rows, distilled from the n-gram teacher; every test row checks parity. Stage
    # times: a run on the Debian package descriptions (scripts/debian_sections.py) here.
    "small": Preset("configs/small.json", 6000, False, 16, None,
                    {"data": 0.1, "vocab": 0.05, "train": 3.0, "convert": 0.6, "parity": 0.3, "edge": 0.01,
                     "summary": 0.0}),
}
IMDB_ONLY = ("full",)   # presets that reproduce a shipped IMDB model, not for other data


def default_preset(data) -> str:
    """quick for IMDB, small for anything else (a user's few thousand rows)."""
    return "quick" if data is None or data.is_imdb else "small"
