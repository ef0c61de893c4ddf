"""Whatever a program hands TextClassifier, it gets a result or a ValueError/TypeError naming the argument: never a
traceback from inside numpy or the interpreter, never an attempt at a million threads (hypothesis, issue 39)."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_runtime import TextClassifier
from edge_runtime.backends import MAX_THREADS

INT8 = Path(__file__).resolve().parents[1] / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite"
ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5),
                     st.binary(max_size=5), st.lists(st.integers(), max_size=2))


@pytest.fixture(scope="module")
def classifier():
    return TextClassifier(INT8)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=300), st.binary(max_size=300), ANYTHING))
def test_any_value_to_classify_is_a_result_or_a_type_error_naming_what_it_takes(classifier, value):
    if isinstance(value, (str, bytes)):
        result = classifier.classify(value)
        assert result.label in classifier.labels and abs(sum(result.probabilities) - 1) < 0.02
    else:
        with pytest.raises(TypeError, match="^classify expects str or bytes, got "):
            classifier.classify(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch_size=ANYTHING)
def test_any_batch_size_is_used_or_refused_by_name(classifier, batch_size):
    if isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1:
        assert [r.label for r in classifier.classify_batch(["Great.", "Dull."], batch_size=batch_size)] == \
            [classifier.classify(t).label for t in ("Great.", "Dull.")]
    else:
        with pytest.raises(ValueError, match=f"^batch_size must be an integer of at least 1, got {batch_size!r}"[:40]):
            classifier.classify_batch(["Great."], batch_size=batch_size)


@settings(max_examples=40, deadline=None)
@given(num_threads=st.one_of(st.integers(-3, 10**7), ANYTHING), max_length=st.one_of(st.none(), ANYTHING))
def test_any_threads_and_max_length_load_or_are_refused_by_name(num_threads, max_length):
    threads_ok = isinstance(num_threads, int) and not isinstance(num_threads, bool) and 1 <= num_threads <= MAX_THREADS
    length_ok = max_length is None or (isinstance(max_length, int) and not isinstance(max_length, bool)
                                       and max_length >= 2)
    if threads_ok and length_ok:
        loaded = TextClassifier(INT8, num_threads=num_threads, max_length=max_length)
        assert loaded.max_length == min(max_length or 10**9, 1024) and loaded.classify("fine").label
        return
    with pytest.raises(ValueError) as error:
        TextClassifier(INT8, num_threads=num_threads, max_length=max_length)
    assert str(error.value).startswith("num_threads must be an integer from 1 to 64" if not threads_ok
                                       else "max_length must be an integer of at least 2")
