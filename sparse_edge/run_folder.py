"""A pipeline run's folder: the one place that knows its file names, and the ``Run`` the stages share.

``DIR`` of ``sparse-edge pipeline --out DIR`` holds::

    vocab.txt                   the WordPiece vocabulary (none for a byte-level model)
    lm/                         (full) the causal language model the classifier starts from
    model/                      the classifier (a ``training.saved.ModelFolder``)
    hybrid/                     (full) the hybrid built on it
    edge.json                   sample test texts classified by edge_runtime with every variant
    summary.json, summary.md    the final table
    pipeline.json               which stages finished, with what settings, in how long
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from training.saved import ModelFolder
from sparse_edge.presets import REPO, Preset


class RunFolder:
    """Paths of one pipeline run's folder; a stage asks it, never spells a file name."""

    VOCAB = ModelFolder.VOCAB     # shared by the language model and the classifier
    LM, MODEL, HYBRID = "lm", "model", "hybrid"
    EDGE = "edge.json"
    SUMMARY, SUMMARY_MARKDOWN = "summary.json", "summary.md"
    RECORD = "pipeline.json"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    vocab_path = property(lambda self: self.path / self.VOCAB)
    edge_path = property(lambda self: self.path / self.EDGE)
    summary_path = property(lambda self: self.path / self.SUMMARY)
    summary_markdown_path = property(lambda self: self.path / self.SUMMARY_MARKDOWN)
    record_path = property(lambda self: self.path / self.RECORD)

    def folder(self, name: str) -> ModelFolder:
        """The model folder ``lm``, ``model`` or ``hybrid``."""
        return ModelFolder(self.path / name)

    def converted(self) -> ModelFolder:
        """The folder whose model was converted: the hybrid if the run built one."""
        hybrid = self.folder(self.HYBRID)
        return hybrid if hybrid.metrics_path.exists() else self.folder(self.MODEL)

    @staticmethod
    def member(folder: str, *names: str) -> list[str]:
        """``folder/name`` for each name: the files a stage must leave for it to count as done."""
        return [f"{folder}/{name}" for name in names]


class StageFailed(RuntimeError):
    """A stage could not finish; the message says which and why."""


@dataclass
class Run:
    """One pipeline run: where it writes, what it was asked, and what earlier runs left."""

    out: Path
    preset: Preset
    data_dir: str | None
    manual_dir: str | None
    progress: bool
    echo: Callable[[str], None]
    record: dict = dataclasses.field(default_factory=dict)   # the contents of pipeline.json
    fingerprints: dict = dataclasses.field(default_factory=dict)
    seed: int | None = None   # replaces the preset's training seed (initialisation, batch order, split)
    data: object = None       # a training.sources.DataSpec (None: IMDB from data_dir/manual_dir)
    vocab_size: int | None = None   # replaces the preset's vocabulary size
    tokenizer_changes: dict = dataclasses.field(default_factory=dict)   # tokenizer / lowercase / strip_accents, if not the preset's
    source: object = None     # the opened data (training.sources.LabelledData), read once before any stage

    @property
    def vocabulary_size(self) -> int:
        return self.vocab_size or self.preset.vocab_size

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.out)

    @property
    def base_dir(self) -> Path:
        """Where the sparse Transformer classifier is trained."""
        return self.folder.folder(RunFolder.MODEL).path

    @property
    def model_name(self) -> str:
        """The folder (under ``out``) of the model that is converted and checked: the hybrid if there is one."""
        return RunFolder.HYBRID if self.preset.hybrid_config else RunFolder.MODEL

    @property
    def model_dir(self) -> Path:
        return self.out / self.model_name

    @property
    def model(self) -> ModelFolder:
        return ModelFolder(self.model_dir)

    @property
    def lm(self) -> ModelFolder:
        return self.folder.folder(RunFolder.LM)

    @functools.cached_property
    def train_config(self):
        from training.train_config import TrainConfig

        path = REPO / self.preset.train_config
        if not path.exists():
            raise StageFailed(f"the preset's training config {path} is missing; restore it with `git checkout`")
        config = TrainConfig.load(path)
        changes = {"seed": self.seed, **self.tokenizer_changes}
        return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
