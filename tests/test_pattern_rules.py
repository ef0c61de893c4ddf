"""model/patterns.py's rules, checked on layouts small enough to work out by hand: the defaults, every size check
at its boundary, each pattern's matrix, the gather table and its padding, the token mask."""

import dataclasses

import numpy as np
import pytest

from model.patterns import PATTERNS, AttentionPattern, block_layout, token_mask


def rows(layout) -> list[str]:
    return ["".join(str(int(x)) for x in row) for row in layout.allowed]


def test_the_defaults_and_the_names():
    assert PATTERNS == ("dense", "local", "strided", "fixed", "global", "bigbird", "logsparse")
    assert AttentionPattern().to_dict() == {"name": "bigbird", "block_size": 64, "window": 3, "stride": None,
                                            "summary": 1, "num_global": 1, "num_random": 2, "seed": 0,
                                            "causal": False}
    assert AttentionPattern.from_dict({"name": "local", "window": 5}) == AttentionPattern("local", window=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        AttentionPattern().window = 4          # frozen: a pattern is a cache key (block_layout)
    a, b = block_layout(AttentionPattern("dense", block_size=1), 3), block_layout(AttentionPattern("local", block_size=1), 3)
    assert a != b and a == a                    # layouts compare by identity (their arrays cannot be compared as one)
    assert block_layout(AttentionPattern("dense", block_size=1), 3) is a      # cached
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.global_rows = 2                       # and shared by every layer: nobody may change it


@pytest.mark.parametrize("values, message", [
    ({"name": "sparse"}, "unknown attention pattern 'sparse'; choose one of dense, local, strided, fixed, global, "
                         "bigbird, logsparse"),
    ({"block_size": 0}, "block_size must be a positive integer, got 0"),
    ({"window": 0}, "window must be a positive integer, got 0"),
    ({"summary": 0}, "summary must be a positive integer, got 0"),
    ({"window": 2.0}, "window must be a positive integer, got 2.0"),
    ({"num_global": -1}, "num_global must be an integer >= 0, got -1"),
    ({"num_random": -1}, "num_random must be an integer >= 0, got -1"),
    ({"num_random": 1.5}, "num_random must be an integer >= 0, got 1.5"),
    ({"stride": 0}, "stride must be a positive integer or None, got 0"),
    ({"stride": "4"}, "stride must be a positive integer or None, got '4'"),
])
def test_each_size_is_checked_with_a_message_naming_it(values, message):
    with pytest.raises(ValueError) as error:
        AttentionPattern(**values)
    assert str(error.value) == message


def test_the_smallest_allowed_sizes_are_allowed():
    p = AttentionPattern("fixed", block_size=1, window=1, summary=1, num_global=0, num_random=0, stride=1)
    p.check_fits(1)
    assert AttentionPattern(block_size=np.int64(2), num_global=np.int32(0)).block_size == 2


@pytest.mark.parametrize("pattern, length, message", [
    (AttentionPattern("local", block_size=4), 0, "max_length must be a positive integer, got 0"),
    (AttentionPattern("local", block_size=4), 3,
     "block_size 4 is longer than the sequence (3 tokens); use a block_size of at most 3"),
    (AttentionPattern("local", block_size=4, window=3), 8,
     "window 3 does not fit a 8-token sequence, which has only 2 blocks of 4; use window <= 2 or a smaller block_size"),
    (AttentionPattern("global", block_size=4, window=1, num_global=3), 8,
     "num_global 3 does not fit a 8-token sequence, which has only 2 blocks of 4; use num_global <= 2 or a smaller "
     "block_size"),
    (AttentionPattern("bigbird", block_size=4, window=4), 12,
     "window 4 does not fit a 12-token sequence, which has only 3 blocks of 4; use window <= 3 or a smaller block_size"),
    (AttentionPattern("bigbird", block_size=4, window=1, num_global=4), 12,
     "num_global 4 does not fit a 12-token sequence, which has only 3 blocks of 4; use num_global <= 3 or a smaller "
     "block_size"),
    (AttentionPattern("strided", block_size=2, stride=3), 4,
     "stride 3 does not fit a 4-token sequence, which has only 2 blocks of 2; use stride <= 2 or a smaller block_size"),
    (AttentionPattern("fixed", block_size=2, stride=3), 4,
     "stride 3 does not fit a 4-token sequence, which has only 2 blocks of 2; use stride <= 2 or a smaller block_size"),
    (AttentionPattern("fixed", block_size=1, stride=2, summary=3), 8,
     "summary 3 is larger than the stride; use summary <= stride"),
    (AttentionPattern("fixed", block_size=1, summary=4), 9,            # stride None: ceil(sqrt(9)) = 3
     "summary 4 is larger than the stride; use summary <= stride"),
])
def test_sizes_that_cannot_fit_the_sequence_are_refused(pattern, length, message):
    with pytest.raises(ValueError) as error:
        pattern.check_fits(length)
    assert str(error.value) == message


def test_sizes_exactly_at_their_limits_fit():
    AttentionPattern("local", block_size=4, window=2).check_fits(8)            # window == blocks
    AttentionPattern("local", block_size=4, window=3).check_fits(9)            # 9 tokens: 3 blocks (one partial)
    AttentionPattern("local", block_size=4, window=1).check_fits(4)            # block_size == max_length
    AttentionPattern("global", block_size=4, window=1, num_global=3).check_fits(12)
    AttentionPattern("strided", block_size=2).check_fits(4)                    # stride None is never too long
    AttentionPattern("fixed", block_size=1, stride=2, summary=2).check_fits(8)  # summary == stride
    AttentionPattern("fixed", block_size=1, summary=3).check_fits(9)            # == ceil(sqrt(9))
    AttentionPattern("local", block_size=1, summary=99, stride=99, num_global=99).check_fits(4)  # unused sizes
    AttentionPattern("dense", block_size=1, window=99).check_fits(4)


def test_each_pattern_on_six_blocks_worked_out_by_hand():
    one = dict(block_size=1)
    # strided, stride 2: |i - j| < 2, or i - j a multiple of 2
    assert rows(block_layout(AttentionPattern("strided", stride=2, **one), 6)) == [
        "111010", "111101", "111110", "011111", "101111", "010111"]
    assert rows(block_layout(AttentionPattern("strided", **one), 4)) == [   # stride None: ceil(sqrt(4)) = 2
        "1110", "1111", "1111", "0111"]
    # fixed, stride 3, summary 1: the own segment {0,1,2} or {3,4,5}, and the segments' last blocks 2 and 5
    assert rows(block_layout(AttentionPattern("fixed", stride=3, summary=1, **one), 6)) == [
        "111001", "111001", "111001", "001111", "001111", "001111"]
    assert rows(block_layout(AttentionPattern("fixed", stride=3, summary=2, **one), 6)) == [
        "111011", "111011", "111011", "011111", "011111", "011111"]
    # logsparse, causal: i - 1, i - 2, i - 4 and i itself
    assert rows(block_layout(AttentionPattern("logsparse", causal=True, **one), 6)) == [
        "100000", "110000", "111000", "011100", "101110", "010111"]
    assert rows(block_layout(AttentionPattern("logsparse", **one), 7))[3] == "0111110"       # 3 +- 1, 2; not 3 away
    assert rows(block_layout(AttentionPattern("logsparse", **one), 7))[0] == "1110100"
    # local: a window of 3 around i (bidirectional) or ending at i (causal); a window of 4 leans right
    assert rows(block_layout(AttentionPattern("local", window=3, **one), 5)) == [
        "11000", "11100", "01110", "00111", "00011"]
    assert rows(block_layout(AttentionPattern("local", window=4, **one), 5))[2] == "01111"
    assert rows(block_layout(AttentionPattern("local", window=3, causal=True, **one), 5)) == [
        "10000", "11000", "11100", "01110", "00111"]
    # global: window 1 plus block 0 as a global row and column
    layout = block_layout(AttentionPattern("global", window=1, num_global=1, **one), 5)
    assert rows(layout) == ["11111", "11000", "10100", "10010", "10001"] and layout.global_rows == 1
    causal = block_layout(AttentionPattern("global", window=2, num_global=2, causal=True, **one), 5)
    assert rows(causal) == ["10000", "11000", "11100", "11110", "11011"] and causal.global_rows == 0
    assert rows(block_layout(AttentionPattern("dense", causal=True, **one), 3)) == ["100", "110", "111"]


def test_bigbird_draws_the_same_random_blocks_on_every_machine():
    """SplitMix64 of (seed, blocks, row, candidate): these layouts are what every run everywhere gets."""
    one = dict(block_size=1)
    assert rows(block_layout(AttentionPattern("bigbird", **one), 8)) == [
        "11111111", "11110100", "11111001", "11111001", "10111101", "11011110", "11100111", "11010011"]
    assert rows(block_layout(AttentionPattern("bigbird", seed=1, **one), 8)) == [
        "11111111", "11110001", "11110011", "11111001", "10111110", "10111110", "10110111", "10010111"]
    assert rows(block_layout(AttentionPattern("bigbird", causal=True, **one), 8)) == [
        "10000000", "11000000", "11100000", "11110000", "11111000", "11111100", "11101110", "11010111"]
    none = block_layout(AttentionPattern("bigbird", num_random=0, **one), 8)
    assert rows(none) == rows(block_layout(AttentionPattern("global", **one), 8))


def test_the_gather_table_pads_with_the_diagonal_and_masks_the_padding():
    layout = block_layout(AttentionPattern("local", block_size=2, window=3, causal=True), 3)
    assert layout.gather_index.tolist() == [[0, 0, 0], [0, 1, 1], [0, 1, 2]]
    assert layout.slot_valid.tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert layout.mask_index.tolist() == [[0, 3, 3], [0, 1, 3], [0, 1, 2]]
    assert layout.mask_index.dtype == np.int32 and layout.gather_index.dtype == np.int32
    assert layout.num_blocks == 3 and layout.keys_per_query == 3 and layout.query_blocks.tolist() == [0, 1, 2]
    assert layout.computed_fraction == 1.0          # 3 rows x 3 slots (padding counts) of 3 x 3
    assert not layout.gather_index.flags.writeable and not layout.allowed.flags.writeable
    assert token_mask(layout, 2, True).astype(int).tolist() == [
        [[1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]],
        [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]],
        [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]]
    assert token_mask(layout, 2, False).astype(int).tolist()[0] == [[1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]]
    globals_ = block_layout(AttentionPattern("global", block_size=1, window=1, num_global=1), 5)
    assert globals_.query_blocks.tolist() == [1, 2, 3, 4] and globals_.gather_index.tolist() == [
        [0, 1], [0, 2], [0, 3], [0, 4]]
    assert globals_.computed_fraction == (1 * 5 + 4 * 2) / 25
    mixed = block_layout(AttentionPattern("global", block_size=1, window=1, num_global=1), 2)
    assert mixed.global_rows == 1 and mixed.gather_index.tolist() == [[0, 1]]
    kept = block_layout(AttentionPattern("global", block_size=1, window=1, num_global=2), 2)
    assert kept.global_rows == 1                  # at least one row stays in the gather table
    assert block_layout(AttentionPattern("global", block_size=1, window=1, num_global=1), 1).global_rows == 0
    with pytest.raises(ValueError) as error:
        block_layout(AttentionPattern("dense"), 0)
    assert str(error.value) == "num_blocks must be a positive integer, got 0"
