"""Block layouts: what each pattern lets a query block see, and how bad sizes are refused."""

import math

import numpy as np
import pytest

from model.patterns import PATTERNS, AttentionPattern, block_layout, token_mask


def layout(name, nb, **kw):
    return block_layout(AttentionPattern(name, **kw), nb)


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize("causal", [False, True])
def test_every_pattern_sees_its_own_block_and_causal_never_looks_ahead(name, causal):
    allowed = layout(name, 16, causal=causal, window=3, stride=4, num_random=2).allowed
    assert allowed.diagonal().all()
    if causal:
        assert not np.triu(allowed, 1).any()


@pytest.mark.parametrize("name", PATTERNS)
def test_gather_table_lists_exactly_the_allowed_blocks(name):
    lay = layout(name, 12, window=3, stride=3, num_random=2)
    assert lay.allowed[: lay.global_rows].all()  # global query rows are computed densely, apart
    for r, i in enumerate(lay.query_blocks):
        listed = set(lay.gather_index[r][lay.slot_valid[r]].tolist())
        assert listed == set(np.flatnonzero(lay.allowed[i]).tolist())
    assert lay.keys_per_query == lay.allowed[lay.global_rows:].sum(axis=1).max()


def test_local_window_is_a_band():
    allowed = layout("local", 6, window=3).allowed.astype(int)
    expected = np.eye(6, dtype=int) + np.eye(6, k=1, dtype=int) + np.eye(6, k=-1, dtype=int)
    np.testing.assert_array_equal(allowed, expected)
    causal = layout("local", 6, window=3, causal=True).allowed.astype(int)
    np.testing.assert_array_equal(causal, np.tril(np.ones((6, 6), int)) - np.tril(np.ones((6, 6), int), -3))


def test_strided_follows_child_et_al():
    allowed = layout("strided", 16, stride=4, causal=True).allowed
    # row 13 sees the previous stride (10..13) and every 4th block back (1, 5, 9).
    assert np.flatnonzero(allowed[13]).tolist() == [1, 5, 9, 10, 11, 12, 13]


def test_fixed_sees_its_segment_and_the_summary_blocks():
    allowed = layout("fixed", 12, stride=4, summary=1, causal=True).allowed
    assert np.flatnonzero(allowed[9]).tolist() == [3, 7, 8, 9]


def test_global_blocks_attend_and_are_attended_by_all():
    allowed = layout("global", 10, window=1, num_global=2).allowed
    assert allowed[:2].all() and allowed[:, :2].all()
    assert allowed[5].sum() == 3  # two global columns and itself


def test_logsparse_grows_like_log_n():
    for nb in (16, 64, 256):
        lay = layout("logsparse", nb, causal=True)
        assert lay.keys_per_query == 1 + int(math.log2(nb - 1)) + 1 or lay.keys_per_query <= 2 + math.log2(nb)
        assert np.flatnonzero(lay.allowed[nb - 1]).tolist() == sorted({nb - 1} | {nb - 1 - 2**m for m in range(int(math.log2(nb - 1)) + 1)})


def test_bigbird_random_blocks_are_seeded_and_stable():
    a = layout("bigbird", 32, window=3, num_global=1, num_random=3, seed=7).allowed
    b = block_layout(AttentionPattern("bigbird", window=3, num_global=1, num_random=3, seed=7), 32).allowed
    c = layout("bigbird", 32, window=3, num_global=1, num_random=3, seed=8).allowed
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    # window 3 + global column + 3 random for an ordinary row
    assert a[16].sum() == 3 + 1 + 3
    # the choice does not come from numpy's global random state
    np.random.seed(123)
    block_layout.cache_clear()
    np.testing.assert_array_equal(layout("bigbird", 32, window=3, num_global=1, num_random=3, seed=7).allowed, a)


@pytest.mark.parametrize("name", ["local", "bigbird", "logsparse", "strided"])
def test_sparse_patterns_grow_sublinearly_in_keys_per_query(name):
    # keys per query block at 256 blocks: a small fraction of the 256 a dense row has
    # quadrupling the blocks: local and bigbird keep k, logsparse adds 2, strided ~ doubles
    assert layout(name, 256).keys_per_query <= 2.2 * layout(name, 64).keys_per_query
    assert layout(name, 256).computed_fraction < 0.2


def test_token_mask_is_causal_inside_the_diagonal_block():
    lay = layout("local", 4, window=2, causal=True)
    mask = token_mask(lay, 3, causal=True)  # (nb, bs, k*bs)
    assert mask.shape == (4, 3, lay.keys_per_query * 3)
    slot = list(lay.gather_index[2]).index(2)
    np.testing.assert_array_equal(mask[2][:, slot * 3:(slot + 1) * 3], np.tril(np.ones((3, 3), bool)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="sparse"), "unknown attention pattern 'sparse'; choose one of dense, local"),
    (dict(name="local", block_size=0), "block_size must be a positive integer, got 0"),
    (dict(name="local", window=-2), "window must be a positive integer, got -2"),
    (dict(name="bigbird", num_random=-1), "num_random must be an integer >= 0, got -1"),
    (dict(name="strided", stride=0), "stride must be a positive integer or None, got 0"),
])
def test_bad_pattern_settings_name_the_value_and_the_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttentionPattern(**kwargs)


def test_sizes_that_do_not_fit_the_sequence_are_refused():
    with pytest.raises(ValueError, match="block_size 128 is longer than the sequence \\(100 tokens\\)"):
        AttentionPattern("local", block_size=128).check_fits(100)
    with pytest.raises(ValueError, match="window 9 does not fit a 256-token sequence, which has only 4 blocks"):
        AttentionPattern("local", block_size=64, window=9).check_fits(256)


def test_unknown_config_keys_are_refused():
    with pytest.raises(ValueError, match="unknown attention pattern keys \\['windw'\\]"):
        AttentionPattern.from_dict({"name": "local", "windw": 3})


@pytest.mark.parametrize("name", ["local", "bigbird", "strided"])
def test_mask_index_points_padding_slots_one_past_the_last_block(name):
    """The attention gathers key validity from nb + 1 blocks (the last all zeros) with this table: a
    padding slot reads block nb, so it is masked without a stored float mask."""
    lay = layout(name, 9, window=3, stride=3, num_random=2)
    index = lay.mask_index
    assert index.dtype == np.int32 and index.shape == lay.gather_index.shape
    np.testing.assert_array_equal(index[lay.slot_valid], lay.gather_index[lay.slot_valid])
    assert (index[~lay.slot_valid] == lay.num_blocks).all() and (~lay.slot_valid).any()
