"""The model's configuration: plain data (``to_dict``/``from_dict``; the model folder saves it as JSON)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from edge_runtime.lengths import bucket_lengths, device_lengths
from model.patterns import AttentionPattern
from model.strict import strict_from_dict

POOLING = ("mean", "mean_max")
LONG_INPUT_FACTOR = 4   # a model that reads any length is converted to take inputs 4x its training cut
# conv: relative, any length (TokenAndPositionEmbedding); relative: a learned bias per distance in the
# attention (SparseSelfAttention), any length, and a decoder cache of fixed size
POSITIONAL = ("learned", "sinusoidal", "conv", "relative")


@dataclass
class TransformerConfig:
    """Sizes of a sparse Transformer. ``pattern`` is the attention layout of every layer.

    Example:
        >>> TransformerConfig(vocab_size=100, max_length=64,
        ...                   pattern=AttentionPattern("local", block_size=16)).d_head
        32
    """

    vocab_size: int = 12000
    max_length: int = 1024
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    dropout: float = 0.1
    positional: str = "learned"
    num_classes: int = 2
    pad_id: int = 0
    pooling: str = "mean"   # classifier: "mean" over real tokens, or "mean_max" (both, concatenated)
    pattern: AttentionPattern = field(default_factory=AttentionPattern)
    patch: int = 1          # ids per attention position: >1 concatenates that many id embeddings (bytes)

    def __post_init__(self) -> None:
        if isinstance(self.pattern, dict):
            self.pattern = AttentionPattern.from_dict(self.pattern)
        for name in ("vocab_size", "max_length", "d_model", "num_heads", "num_layers", "d_ff",
                     "num_classes", "patch"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by num_heads {self.num_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.positional not in POSITIONAL:
            raise ValueError(f"unknown positional {self.positional!r}; choose one of {', '.join(POSITIONAL)}")
        if self.pooling not in POOLING:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLING)}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id {self.pad_id} is outside the vocabulary of {self.vocab_size}")
        if self.d_model % self.patch or self.max_length % self.patch:
            raise ValueError(f"patch {self.patch} must divide d_model {self.d_model} and max_length {self.max_length}")
        self.pattern.check_fits(self.max_length // self.patch)

    @property
    def d_head(self) -> int:
        return self.d_model // self.num_heads

    @property
    def length_unit(self) -> int:
        """Input lengths are multiples of this many ids: one attention block of ``patch``-id positions."""
        return self.patch * self.pattern.block_size

    @property
    def bucket_lengths(self) -> list[int]:
        """The input lengths a review is padded to (training batches, prediction, one signature each)."""
        return bucket_lengths(self.max_length, self.length_unit)

    @property
    def reads_any_length(self) -> bool:
        """Whether the weights fit any input length: positions from a convolution over neighbours, not a
        table of ``max_length`` rows, so a document longer than the training cut can be read whole."""
        return self.positional in ("conv", "relative")

    def device_lengths(self, longest: int | None = None) -> list[int]:
        """The input lengths a ``.tflite`` file takes: the buckets, then (a model that reads any length)
        longer ones up to ``longest`` (default ``LONG_INPUT_FACTOR`` x ``max_length``)."""
        if not self.reads_any_length:
            if longest not in (None, self.max_length):
                raise ValueError(f"this model's positions are a table of {self.max_length} rows, so it cannot read "
                                 f"{longest} tokens; leave --longest out (inputs are cut at {self.max_length})")
            return self.bucket_lengths
        longest = LONG_INPUT_FACTOR * self.max_length if longest is None else longest
        if longest < self.max_length:
            raise ValueError(f"--longest {longest} is below the model's max_length {self.max_length}; "
                             f"give at least {self.max_length}")
        return device_lengths(self.max_length, self.length_unit, longest)

    def refuse_patches(self, why: str) -> None:
        """Raise ValueError for a patched model where a use needs one position per id."""
        if self.patch > 1:
            raise ValueError(f"{why}, so it needs one position per id; this model has patch {self.patch} "
                             "(set \"patch\": 1, or leave pretraining and language models out)")

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["pattern"] = self.pattern.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TransformerConfig":
        return strict_from_dict(cls, values, "model config")
