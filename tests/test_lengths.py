"""One cut-and-pad: training batches, Keras prediction and the device pad a review the same way."""

import numpy as np

from edge_runtime.lengths import bucket_lengths, cut, input_length, pad_rows
from edge_runtime.tokenizer import ByteTokenizer


def test_buckets_are_block_multiples_ending_at_max_length():
    assert bucket_lengths(1024, 64) == [128, 192, 320, 448, 704, 1024]
    assert bucket_lengths(4096, 64) == [128, 192, 320, 448, 704, 1024, 1472, 2240, 3328, 4096]


def test_input_length_is_the_smallest_bucket_that_holds_the_ids():
    buckets = [128, 192, 320]
    assert [input_length(buckets, n) for n in (1, 128, 129, 320, 10_000)] == [128, 128, 192, 320, 320]


def test_cut_keeps_the_final_sep():
    assert cut(np.arange(10), 4).tolist() == [0, 1, 2, 9]
    ids, truncated = pad_rows([np.array([2, 5, 6, 3]), np.arange(10)], 6, pad_id=0)
    assert ids.tolist() == [[2, 5, 6, 3, 0, 0], [0, 1, 2, 3, 4, 9]] and truncated == 1


def test_training_batches_keras_prediction_and_the_device_pad_alike():
    """The three paths, fed the same texts, give the same padded arrays."""
    from types import SimpleNamespace

    from edge_runtime.classifier import TextClassifier
    from training.batching import make_batches
    from training.saved import classify_texts

    tok = ByteTokenizer()
    texts = ["short", "x" * 150, "é" * 300, "y" * 5000]
    buckets = bucket_lengths(512, 64)
    # training: make_batches over the cached (uncut) sequences, one review per batch
    batches = make_batches([tok.sequence(t) for t in texts], np.zeros(len(texts), np.int64), buckets,
                           batch_tokens=512, max_batch=1, drop_remainder=False)
    training = {int(b.rows[0]): b.ids.tolist() for b in batches}
    # Keras prediction: what classify_texts hands the model
    seen = []

    def model(ids, training=False):
        seen.append(np.asarray(ids).tolist())
        return np.array([[0.5, 0.5]], np.float32)
    model.config = SimpleNamespace(max_length=512, bucket_lengths=buckets)
    classify_texts(model, tok, texts)
    # the device: TextClassifier.encode, without a file (its tokenizer, lengths and max length)
    device = SimpleNamespace(tokenizer=tok, max_length=512, lengths=buckets)
    on_device = [TextClassifier.encode(device, t)[0].tolist() for t in texts]
    assert [training[i] for i in range(len(texts))] == seen == on_device
    assert [len(row[0]) for row in seen] == [128, 192, 512, 512]   # 602 and 5,002 ids: cut to 512


def test_device_lengths_go_on_growing_by_half_past_the_buckets_to_the_longest():
    from edge_runtime.lengths import device_lengths

    # 1,024 -> 1,536 -> 2,304 -> 3,456 -> (5,184, capped at) 4,096: each 1.5x, rounded up to a block of 64
    assert device_lengths(1024, 64, 4096) == [128, 192, 320, 448, 704, 1024, 1536, 2304, 3456, 4096]
    assert device_lengths(1024, 64, 1024) == bucket_lengths(1024, 64)
    assert device_lengths(256, 32, 300) == [128, 192, 256, 300]                 # 384 is capped at 300
    assert bucket_lengths(192, 64) == [128, 192] and bucket_lengths(200, 64) == [128, 192, 200]


def test_a_cut_never_splits_a_unit_and_a_fitting_sequence_is_never_touched():
    """Ids 91-99 continue the unit before them (as UTF-8 continuation bytes do); 2 and 3 are [CLS] and [SEP]."""
    continues = lambda i: 91 <= i <= 99  # noqa: E731
    ids = np.array([2, 10, 11, 90, 91, 92, 3])
    assert cut(ids, 5, continues).tolist() == [2, 10, 11, 3]          # 90 91 92 is one unit: all of it goes
    assert cut(ids, 4, continues).tolist() == [2, 10, 11, 3]
    assert cut(ids, 6, continues).tolist() == [2, 10, 11, 3]
    assert cut(ids, 7, continues).tolist() == ids.tolist()
    assert cut(ids, 5).tolist() == [2, 10, 11, 90, 3]                    # without the rule: cut anywhere
    assert cut(np.array([2, 91, 92, 93, 94, 3]), 4, continues).tolist() == [2, 3]     # never past [CLS]
    assert cut(np.array([2, 90, 91]), 3, continues).tolist() == [2, 90, 91]           # fits: not cut at all


def test_pad_rows_counts_every_cut_row_and_only_those():
    rows, truncated = pad_rows([np.arange(6), np.arange(7), np.arange(9), np.array([1])], 6, pad_id=5)
    assert truncated == 2                          # 7 and 9 ids are cut; exactly 6 is not
    assert rows.tolist() == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 6], [0, 1, 2, 3, 4, 8], [1, 5, 5, 5, 5, 5]]
    assert rows.dtype == np.int32
