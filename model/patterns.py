"""Sparse attention patterns as block layouts.

A sequence of n tokens is cut into ``nb = ceil(n / block_size)`` blocks. A *pattern* says, for
each query block ``i``, which key blocks ``j`` it may look at: a boolean matrix
``allowed[i, j]`` of shape (nb, nb). That matrix is tiny (a 16,384-token review with 64-token
blocks has 256 x 256 entries) and is computed once per sequence length in plain numpy.

The attention layer never expands it to the n x n token matrix. It turns it into a *gather
table*: for query block i, the list of the key blocks it attends, padded to the longest row
(``keys_per_query`` slots) with a validity flag per slot. Cost is then
n x keys_per_query x block_size instead of n x n.

Seven patterns, each a small function below (``dense``, ``local``, ``strided``, ``fixed``,
``global_blocks``, ``bigbird``, ``logsparse``) with its shape and its paper, chosen by name from
``LAYOUTS``. Every pattern includes the diagonal block, so a real token can always see itself.
A causal pattern is the bidirectional one restricted to ``j <= i`` (random blocks are drawn
among earlier blocks only). Inside the diagonal block the attention layer adds the usual
token-level causal triangle.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from model.strict import strict_from_dict

@dataclass(frozen=True)
class AttentionPattern:
    """Which pattern to use and its sizes, all counted in blocks except ``block_size``.

    Args:
        name: one of ``PATTERNS``.
        block_size: tokens per block; the sequence is padded to a multiple of it.
        window: blocks in the sliding window (``local``, ``global``, ``bigbird``).
        stride: segment length in blocks for ``strided`` and ``fixed``; ``None`` picks
            ``ceil(sqrt(nb))``, the choice that makes the pattern O(n sqrt n).
        summary: ``fixed`` only: the last ``summary`` blocks of each segment are seen by all.
        num_global: leading global blocks (``global``, ``bigbird``).
        num_random: random key blocks per query block (``bigbird``).
        seed: seed of the ``bigbird`` random blocks. Same seed, same layout, on any machine.
        causal: a query never sees a later token.

    Example:
        >>> layout = block_layout(AttentionPattern("local", block_size=2, window=3), 4)
        >>> layout.allowed.astype(int)
        array([[1, 1, 0, 0],
               [1, 1, 1, 0],
               [0, 1, 1, 1],
               [0, 0, 1, 1]])
    """

    name: str = "bigbird"
    block_size: int = 64
    window: int = 3
    stride: int | None = None
    summary: int = 1
    num_global: int = 1
    num_random: int = 2
    seed: int = 0
    causal: bool = False

    def __post_init__(self) -> None:
        if self.name not in PATTERNS:
            raise ValueError(
                f"unknown attention pattern {self.name!r}; choose one of {', '.join(PATTERNS)}"
            )
        for field in ("block_size", "window", "summary"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{field} must be a positive integer, got {value!r}")
        for field in ("num_global", "num_random"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{field} must be an integer >= 0, got {value!r}")
        if self.stride is not None and (not isinstance(self.stride, (int, np.integer)) or self.stride < 1):
            raise ValueError(f"stride must be a positive integer or None, got {self.stride!r}")

    def check_fits(self, max_length: int) -> None:
        """Raise ValueError if the sizes cannot work for sequences of ``max_length`` tokens."""
        if max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        if self.block_size > max_length:
            raise ValueError(
                f"block_size {self.block_size} is longer than the sequence ({max_length} tokens); "
                f"use a block_size of at most {max_length}"
            )
        nb = math.ceil(max_length / self.block_size)
        used = {"local": ("window",), "global": ("window", "num_global"),
                "bigbird": ("window", "num_global"), "strided": ("stride",), "fixed": ("stride",)}
        for field in used.get(self.name, ()):
            value = getattr(self, field)
            if value is not None and value > nb:
                raise ValueError(
                    f"{field} {value} does not fit a {max_length}-token sequence, which has only "
                    f"{nb} blocks of {self.block_size}; use {field} <= {nb} or a smaller block_size"
                )
        if self.name == "fixed" and self.summary > _stride(self, nb):
            raise ValueError(f"summary {self.summary} is larger than the stride; use summary <= stride")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "AttentionPattern":
        return strict_from_dict(cls, values, "attention pattern")


@dataclass(frozen=True, eq=False)
class BlockLayout:
    """The gather table of one pattern at one sequence length.

    Global query blocks (the first ``global_rows`` blocks of a bidirectional ``global`` or
    ``bigbird`` pattern) attend to every block. Putting such a row in the gather table would
    pad every other row to nb slots and make the whole layer dense, so they are computed apart,
    as g·bs queries against all n keys: O(n·g), still linear in n (as in BigBird).

    Attributes:
        allowed: (nb, nb) bool, query block i may attend key block j.
        global_rows: g, the leading query blocks that attend to all blocks.
        gather_index: (nb - g, keys_per_query) int32, the key blocks of query block g + r,
            padded with the query block's own index.
        slot_valid: (nb - g, keys_per_query) bool, False on padding slots.
    """

    allowed: np.ndarray
    global_rows: int
    gather_index: np.ndarray
    slot_valid: np.ndarray

    @property
    def num_blocks(self) -> int:
        return self.allowed.shape[0]

    @property
    def keys_per_query(self) -> int:
        """Key blocks gathered per (non-global) query block: the k in the n·k cost."""
        return self.gather_index.shape[1]

    @property
    def mask_index(self) -> np.ndarray:
        """``gather_index`` with every padding slot pointing at block nb, one past the last.

        Gathering the keys' validity from nb + 1 blocks, the last all zeros, masks padding slots
        and padding tokens in one gather: the graph stores this (nb - g, k) int32 table instead of
        a (nb - g, k * bs) float mask (measured: that float mask was a fifth of a byte model's
        int8 file, one copy per input length).
        """
        return np.where(self.slot_valid, self.gather_index, self.num_blocks).astype(np.int32)

    @property
    def query_blocks(self) -> np.ndarray:
        """The query block index of each row of the gather table."""
        return np.arange(self.global_rows, self.num_blocks)

    @property
    def computed_fraction(self) -> float:
        """Share of the dense n x n score matrix this layout computes (padding slots count)."""
        nb, g = self.num_blocks, self.global_rows
        return (g * nb + (nb - g) * self.keys_per_query) / (nb * nb)


def _window(nb: int, window: int, causal: bool) -> np.ndarray:
    i, j = np.indices((nb, nb))
    if causal:
        return (j <= i) & (j > i - window)
    return (j >= i - (window - 1) // 2) & (j <= i + window // 2)


def _stride(p: AttentionPattern, nb: int) -> int:
    """The segment length in blocks: ``stride``, or ceil(sqrt(nb)), which makes the pattern O(n sqrt n)."""
    return p.stride or math.ceil(math.sqrt(nb))


def _splitmix64(x: int) -> int:
    """One step of SplitMix64: a tiny, well-mixed hash that is the same everywhere."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _seeded_choice(candidates: np.ndarray, count: int, seed: int, row: int, nb: int) -> np.ndarray:
    """Pick ``count`` candidates by sorting them on a hash of (seed, nb, row, candidate)."""
    keys = [_splitmix64(_splitmix64(_splitmix64(seed) ^ nb) ^ row) ^ int(c) for c in candidates]
    keys = [_splitmix64(k) for k in keys]
    order = np.argsort(np.array(keys, dtype=np.uint64), kind="stable")
    return candidates[order[:count]]


# -- the seven patterns: each maps (pattern, nb) to the (nb, nb) bool matrix allowed[i, j] -----------------
# (the diagonal and, causal, the cut to j <= i are added by _pattern_matrix below)

def dense(p: AttentionPattern, nb: int) -> np.ndarray:
    """Every block sees every block: nb x nb, the O(n^2) baseline (Vaswani et al. 2017)."""
    return np.ones((nb, nb), dtype=bool)


def local(p: AttentionPattern, nb: int) -> np.ndarray:
    """A band of ``window`` blocks around block i (causal: ending at i): nb x window, O(n).
    Sliding-window attention (Beltagy et al. 2020, Longformer)."""
    return _window(nb, p.window, p.causal)


def strided(p: AttentionPattern, nb: int) -> np.ndarray:
    """The ``stride`` blocks next to i, plus every block a multiple of ``stride`` away:
    nb x (2 stride + nb / stride), O(n sqrt n) (Child et al. 2019, Sparse Transformers)."""
    i, j = np.indices((nb, nb))
    stride = _stride(p, nb)
    return (np.abs(i - j) < stride) | ((i - j) % stride == 0)


def fixed(p: AttentionPattern, nb: int) -> np.ndarray:
    """The blocks of i's own segment of ``stride`` blocks, plus the last ``summary`` blocks of every
    segment: nb x (stride + summary nb / stride), O(n sqrt n) (Child et al. 2019, Sparse Transformers)."""
    i, j = np.indices((nb, nb))
    stride = _stride(p, nb)
    summary = (j % stride) >= stride - min(p.summary, stride)
    return ((i // stride) == (j // stride)) | summary


def global_blocks(p: AttentionPattern, nb: int) -> np.ndarray:
    """A local window, plus ``num_global`` leading blocks that see and are seen by every block:
    nb x (window + g) + g x nb, O(n) (Beltagy et al. 2020, Longformer; causal: the attention sinks of
    StreamingLLM, Xiao et al. 2023)."""
    allowed = _window(nb, p.window, p.causal)
    allowed[:p.num_global, :] = True
    allowed[:, :p.num_global] = True
    return allowed


def bigbird(p: AttentionPattern, nb: int) -> np.ndarray:
    """``global_blocks`` plus ``num_random`` random blocks per row, from a seeded hash (causal: among
    earlier blocks): nb x (window + g + r), O(n) (Zaheer et al. 2020, BigBird)."""
    i, j = np.indices((nb, nb))
    allowed = global_blocks(p, nb)
    if p.causal:
        allowed &= j <= i
    for row in range(nb):
        candidates = np.flatnonzero(~allowed[row] & ((j[row] < row) if p.causal else True))
        allowed[row, _seeded_choice(candidates, p.num_random, p.seed, row, nb)] = True
    return allowed


def logsparse(p: AttentionPattern, nb: int) -> np.ndarray:
    """Block i sees i - 2^0, i - 2^1, i - 2^2, ... (bidirectional: i + 2^m too): nb x log nb,
    O(n log n) (Li et al. 2019, LogSparse Transformer)."""
    i, j = np.indices((nb, nb))
    distance = np.abs(i - j) if not p.causal else i - j
    return (distance > 0) & ((distance & (distance - 1)) == 0)


LAYOUTS = {"dense": dense, "local": local, "strided": strided, "fixed": fixed, "global": global_blocks,
           "bigbird": bigbird, "logsparse": logsparse}   # the pattern names of configs, and their functions
PATTERNS = tuple(LAYOUTS)


def _pattern_matrix(p: AttentionPattern, nb: int) -> np.ndarray:
    i, j = np.indices((nb, nb))
    allowed = LAYOUTS[p.name](p, nb) | (i == j)
    if p.causal:
        allowed &= j <= i
    return allowed


@functools.lru_cache(maxsize=256)
def block_layout(pattern: AttentionPattern, num_blocks: int) -> BlockLayout:
    """Compute the block layout of ``pattern`` for a sequence of ``num_blocks`` blocks.

    Cached: every layer and every call at the same length shares one layout.
    """
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be a positive integer, got {num_blocks!r}")
    allowed = _pattern_matrix(pattern, num_blocks)
    global_rows = 0
    if pattern.name in ("global", "bigbird") and not pattern.causal:
        global_rows = min(pattern.num_global, num_blocks - 1)  # keep at least one gathered row
    rows = [np.flatnonzero(row) for row in allowed[global_rows:]]
    k = max(len(r) for r in rows)
    gather_index = np.empty((len(rows), k), dtype=np.int32)
    slot_valid = np.zeros((len(rows), k), dtype=bool)
    for r, cols in enumerate(rows):
        gather_index[r, : len(cols)] = cols
        gather_index[r, len(cols):] = global_rows + r  # padding slots point at the diagonal, masked
        slot_valid[r, : len(cols)] = True
    for array in (allowed, gather_index, slot_valid):
        array.setflags(write=False)
    return BlockLayout(allowed, global_rows, gather_index, slot_valid)


def token_mask(layout: BlockLayout, block_size: int, causal: bool) -> np.ndarray:
    """Token-level mask inside the gathered blocks: (nb, block_size, keys_per_query * block_size).

    Entry [r, t, s*bs + c] says whether token t of the r-th gathered query block may see token
    c of the key block in slot s. Off for padding slots and, when causal, above the diagonal.
    Shape (nb - g, bs, k * bs); global rows need no table.
    """
    bs, rows, k = block_size, len(layout.gather_index), layout.keys_per_query
    mask = np.repeat(layout.slot_valid[:, None, :, None], bs, axis=1)  # (rows, bs, k, 1)
    mask = np.broadcast_to(mask, mask.shape[:3] + (bs,)).copy()       # (rows, bs, k, bs)
    if causal:
        query_pos = layout.query_blocks[:, None, None, None] * bs + np.arange(bs)[None, :, None, None]
        key_pos = layout.gather_index[:, None, :, None] * bs + np.arange(bs)[None, None, None, :]
        mask &= key_pos <= query_pos
    return mask.reshape(rows, bs, k * bs)

