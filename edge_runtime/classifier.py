"""Classify reviews with a bundled ``.tflite``: preprocess -> set input -> invoke -> postprocess.

Needs numpy and a TFLite interpreter only. Everything else (vocabulary, labels, the input
lengths the file was converted for) comes from the file's own associated files, so one file is
the whole model::

    from edge_runtime import TextClassifier

    classifier = TextClassifier("artifacts/imdb-classifier/tflite/int8.tflite")
    result = classifier.classify("A quiet, beautiful film.")
    print(result.label, result.score, result.latency_ms)

Cost follows length: the file holds one signature per input length (``len_128``, ``len_192``,
... ``len_1024``, sharing one set of weights) and a review runs at the smallest length that
holds it, padded exactly as in training.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from edge_runtime.backends import check_threads, interpreter_class
from edge_runtime.lengths import encode_padded, input_length, pad_rows
from edge_runtime.quiet import native_stderr_silenced
from edge_runtime.bundle import CLASSIFIER, EDGE_CLASSIFIER, MEDIAPIPE, MEDIAPIPE_CLASSIFIER, BundleError, read_bundle, read_model_file
from edge_runtime.tokenizer import DEFAULT_OPTIONS, load_tokenizer

TOKENIZER = DEFAULT_OPTIONS   # BERT's rules: the shipped models' but the MediaPipe one's (others: tokenizer.check_options)


# Reviews per invoke in classify_batch / classify_stream. On the 2-core x86 host that measured it
# (`sparse-edge bench serve`, artifacts/bench/serve.json: "offline") one review per invoke was fastest;
# larger batches cost more per review (the invoke is compute-bound; a batch only saves call overhead).
# Pass batch_size to try larger ones on your device.
BATCH_SIZE = 1


MEDIAPIPE_SIGNATURE = MEDIAPIPE_CLASSIFIER.key      # the one signature of a file for MediaPipe Tasks
MEDIAPIPE_INPUTS = MEDIAPIPE_CLASSIFIER.inputs     # BERT's three inputs, which MediaPipe feeds


def signature_key(length: int) -> str:
    """Name of the signature that takes ``(1, length)`` token ids."""
    return EDGE_CLASSIFIER.key_for(length)


@dataclass(frozen=True)
class Classification:
    label: str
    score: float                 # probability of ``label``
    probabilities: list[float]   # one per label, in the order of labels.txt
    n_tokens: int                # tokens of the review with [CLS] and [SEP], before any cut
    truncated: bool              # the review was longer than the model's max length and was cut
    latency_ms: float            # tokenize + invoke + postprocess

    def to_dict(self) -> dict:
        return asdict(self)


class TextClassifier:
    """A bundled sparse-edge ``.tflite`` classifier, safe to share between threads (each thread
    gets its own interpreter, created on its first call, so invokes run in parallel).

    Args:
        path: a ``.tflite`` written by ``sparse-edge convert`` (flatbuffer + associated files).
        num_threads: interpreter threads per invoke.
        backend: ``auto`` (ai-edge-litert, then tflite-runtime, then TensorFlow),
            ``ai_edge_litert``, ``tflite_runtime`` or ``tensorflow``.
        verify: check the SHA-256 of the model bytes recorded at conversion (its cost is in
            the edge benchmark's JSON); a corrupted copy is refused rather than trusted.
        public_key: run only a file signed by this key's private key (``MODEL.tflite.sig`` beside
            it; default ``$SPARSE_EDGE_PUBLIC_KEY``, else no signature is needed): :mod:`edge_runtime.signature`.
        max_length: cut inputs at this many tokens (default: the file's longest signature). A
            byte-level model with relative positions reads past its training cut (``trained_length``);
            ``max_length=classifier.trained_length`` reads exactly as training and the Keras model did.

    Raises:
        BundleError (a ValueError): the file is missing, not a bundled model, or damaged.
        BackendMissing: no interpreter is installed (the message says what to install).
    """

    def __init__(self, path: str | Path, num_threads: int = 1, backend: str = "auto", verify: bool = True,
                 max_length: int | None = None, public_key: str | Path | None = None):
        self.path = Path(path)
        from edge_runtime import signature

        num_threads = check_threads(num_threads)
        # read once: the bytes whose signature is checked are the bytes that run
        data = signature.verified(self.path, signature.pinned_key(public_key))
        bundle = read_bundle(data, str(self.path), verify=verify)
        self.config, self.labels = bundle.config, bundle.labels
        if self.config.kind != CLASSIFIER:
            raise BundleError(f"{self.path} is a {self.config.kind.replace('_', ' ')}, not a classifier; "
                              "use TextGenerator (sparse-edge generate), or give a classifier .tflite")
        self.max_length = self.config.max_length
        if max_length is not None:   # cut inputs sooner than the file's longest signature
            if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
                raise ValueError(f"max_length must be an integer of at least 2, got {max_length!r}")
            self.max_length = min(max_length, self.config.max_length)
        self.lengths = list(self.config.lengths)
        self.trained_length = self.config.trained_length
        try:
            self.tokenizer = load_tokenizer(self.config.tokenizer, bundle.vocab_text)
        except ValueError as error:
            raise BundleError(f"{self.path}: vocab.txt is not a BERT vocabulary ({error})") from None
        vocab_size, width = self.config.embedding_shape
        if len(self.tokenizer) != vocab_size:
            raise BundleError(f"{self.path}: vocab.txt has {len(self.tokenizer)} tokens but the model's "
                              f"embedding table has {vocab_size}; convert again with the model's own vocab.txt")
        Interpreter, self.backend, self.backend_version = interpreter_class(backend)
        self._flatbuffer, self._num_threads, self._Interpreter = bundle.flatbuffer, num_threads, Interpreter
        self._local = threading.local()   # one interpreter per thread: invokes run in parallel
        self._batchable = None
        self._interpreter = self._thread_interpreter()
        signatures = self._interpreter.get_signature_list()
        missing = [self._signature(n) for n in self.lengths if self._signature(n) not in signatures]
        if missing:
            raise BundleError(f"{self.path}: config.json lists input lengths whose signatures are missing "
                              f"({', '.join(missing)}); convert again")
        if not any(tuple(t["shape"]) == (vocab_size, width) for t in self._interpreter.get_tensor_details()):
            raise BundleError(f"{self.path}: no embedding table of shape ({vocab_size}, {width}) in the "
                              "flatbuffer: config.json does not describe this model; convert again")

    def _thread_interpreter(self):
        """This thread's interpreter (an interpreter must not be invoked from two threads at once)."""
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            try:
                interpreter = self._Interpreter(model_content=self._flatbuffer, num_threads=self._num_threads)
            except (ValueError, RuntimeError) as error:
                raise BundleError(f"{self.path}: the TFLite interpreter refused the model "
                                  f"({str(error).splitlines()[0]}); copy or convert it again") from None
            self._local.interpreter, self._local.runners = interpreter, {}
        return interpreter

    # -- preprocess -> invoke -> postprocess ---------------------------------------------------
    def encode(self, text: str) -> tuple[np.ndarray, int, bool]:
        """(1, L) int32 ids padded to the smallest input length L that holds the review."""
        ids, encoding = encode_padded(self.tokenizer, text, self.max_length, self.lengths)
        return ids, encoding.n_tokens, encoding.truncated

    def input_length(self, n_ids: int) -> int:
        """The smallest input length (signature) that holds ``n_ids`` token ids."""
        return input_length(self.lengths, n_ids)

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """Probabilities of one review's ``(1, L)`` ids: float32, one per label."""
        return self.batch_probabilities(ids)[0]

    def batch_probabilities(self, ids: np.ndarray) -> np.ndarray:
        """One invoke of the signature for ``ids.shape[1]`` on ``(B, L)`` ids: ``(B, labels)`` float32.

        The files' signatures take any batch size (the input is resized to ``B`` rows); a file
        whose signatures are fixed at one row is run a row at a time.
        """
        length = ids.shape[1]
        interpreter = self._thread_interpreter()
        runner = self._local.runners.get(length)
        if runner is None:
            runner = interpreter.get_signature_runner(self._signature(length))
            with native_stderr_silenced():   # the first invoke applies XNNPACK and says so on stderr
                runner(**self._inputs(ids[:1]))
            self._local.runners[length] = runner
        if len(ids) > 1 and not self.batchable:
            return np.concatenate([self.batch_probabilities(ids[i:i + 1]) for i in range(len(ids))])
        output = runner(**self._inputs(ids))["probabilities"]
        scale, zero_point = runner.get_output_details()["probabilities"]["quantization"]
        if output.dtype != np.float32 and scale:
            output = (output.astype(np.float32) - zero_point) * scale
        return np.asarray(output, dtype=np.float32)

    @property
    def mediapipe(self) -> bool:
        """Whether this is a file for MediaPipe Tasks: one signature, BERT's three inputs at one length."""
        return self.config.signatures.target == MEDIAPIPE

    def _signature(self, length: int) -> str:
        return self.config.signatures.key_for(length)

    def _inputs(self, ids: np.ndarray) -> dict:
        """The signature's inputs for ``(B, L)`` ids: the ids alone, or (MediaPipe) ids, mask and segment ids."""
        if not self.mediapipe:
            return {"token_ids": ids}
        return {"ids": ids, "mask": (ids != self.tokenizer.pad_id).astype(np.int32), "segment_ids": np.zeros_like(ids)}

    @property
    def batchable(self) -> bool:
        """Whether the signatures take more than one review per invoke (files converted since format 2)."""
        if self._batchable is None:
            runner = self._thread_interpreter().get_signature_runner(self._signature(self.lengths[0]))
            name = self.config.signatures.inputs[0]
            self._batchable = int(runner.get_input_details()[name]["shape_signature"][0]) == -1
        return self._batchable

    def classify(self, text: str | bytes) -> Classification:
        """Label one review. Bytes are decoded as UTF-8 with replacement (and a warning)."""
        start = time.perf_counter()
        ids, n_tokens, truncated = self.encode(_as_text(text))
        probs = self.probabilities(ids)
        return self._result(probs, n_tokens, truncated, (time.perf_counter() - start) * 1000)

    def _result(self, probs: np.ndarray, n_tokens: int, truncated: bool, latency_ms: float) -> Classification:
        best = int(np.argmax(probs))
        return Classification(self.labels[best], float(probs[best]), [float(p) for p in probs], n_tokens,
                              truncated, round(latency_ms, 3))

    def classify_batch(self, texts, batch_size: int = BATCH_SIZE) -> list[Classification]:
        """Label many reviews: those of one input length share an invoke. Results in input order."""
        return list(self.classify_stream(texts, batch_size))

    def classify_stream(self, texts: Iterable[str | bytes], batch_size: int = BATCH_SIZE) -> Iterator[Classification]:
        """Label reviews as they come, ``batch_size`` at a time; yields results in input order.

        Memory stays bounded by ``batch_size`` whatever the length of ``texts`` (a generator over
        a huge file is fine). Each result's ``latency_ms`` is its batch's time divided by the
        batch's reviews: the cost per review.
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer of at least 1, got {batch_size!r}")
        batch = []
        for text in texts:
            batch.append(_as_text(text))
            if len(batch) == batch_size:
                yield from self._classify_together(batch)
                batch = []
        if batch:
            yield from self._classify_together(batch)

    def _classify_together(self, texts: list[str]) -> list[Classification]:
        start = time.perf_counter()
        encoded = [self.tokenizer.encode(text, self.max_length) for text in texts]
        by_length: dict[int, list[int]] = {}
        for i, encoding in enumerate(encoded):
            length = self.input_length(len(encoding.ids))
            by_length.setdefault(length, []).append(i)
        probs = np.zeros((len(texts), len(self.labels)), np.float32)
        for length, rows in by_length.items():
            ids, _ = pad_rows([encoded[i].ids for i in rows], length, self.tokenizer.pad_id)
            probs[rows] = self.batch_probabilities(ids)
        each_ms = (time.perf_counter() - start) * 1000 / len(texts)
        return [self._result(p, e.n_tokens, e.truncated, each_ms) for p, e in zip(probs, encoded)]

    def __repr__(self) -> str:
        return (f"TextClassifier({str(self.path)!r}, variant={self.config.variant!r}, "
                f"backend={self.backend!r}, lengths={self.lengths})")


def _as_text(text) -> str:
    """A review as str: bytes are decoded as UTF-8 with replacement (and a warning)."""
    if isinstance(text, bytes):
        decoded = text.decode("utf-8", errors="replace")
        if "\ufffd" in decoded and b"\xef\xbf\xbd" not in text:
            warnings.warn("input is not valid UTF-8; undecodable bytes were replaced", stacklevel=3)
        return decoded
    if not isinstance(text, str):
        raise TypeError(f"classify expects str or bytes, got {type(text).__name__}")
    return text
