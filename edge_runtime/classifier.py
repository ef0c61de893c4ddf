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

import numpy as np

from edge_runtime.backends import interpreter_class
from edge_runtime.quiet import native_stderr_silenced
from edge_runtime.bundle import BundleError, read_bundle
from edge_runtime.tokenizer import WordPieceTokenizer

MAX_MODEL_BYTES = 512 * 1024 * 1024
TOKENIZER = {"kind": "wordpiece", "lowercase": True, "strip_accents": True, "html": "br-to-space"}


def signature_key(length: int) -> str:
    """Name of the signature that takes ``(1, length)`` token ids."""
    return f"len_{length}"


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

    Raises:
        BundleError (a ValueError): the file is missing, not a bundled model, or damaged.
        BackendMissing: no interpreter is installed (the message says what to install).
    """

    def __init__(self, path: str | Path, num_threads: int = 1, backend: str = "auto", verify: bool = True):
        self.path = Path(path)
        bundle = read_bundle(_read_model_file(self.path), str(self.path), verify=verify)
        self.config, self.labels = bundle.config, bundle.labels
        if self.config.get("kind", "classifier") != "classifier":
            raise BundleError(f"{self.path} is a {self.config['kind'].replace('_', ' ')}, not a classifier; "
                              "use TextGenerator (sparse-edge generate), or give a classifier .tflite")
        options = self.config.get("tokenizer")
        if options != TOKENIZER:
            raise BundleError(f"{self.path} was converted for tokenizer options {options}, this runtime "
                              f"implements {TOKENIZER}; upgrade sparse-edge or convert again")
        self.tokenizer = WordPieceTokenizer.from_text(bundle.vocab_text)
        self.max_length = int(self.config["max_length"])
        self.lengths = sorted(int(n) for n in self.config["lengths"])
        vocab_size, d_model = self.config["model"]["vocab_size"], self.config["model"]["d_model"]
        if len(self.tokenizer) != vocab_size:
            raise BundleError(f"{self.path}: vocab.txt has {len(self.tokenizer)} tokens but the model's "
                              f"embedding table has {vocab_size}; convert again with the model's own vocab.txt")
        if len(self.labels) != self.config["model"]["num_classes"]:
            raise BundleError(f"{self.path}: labels.txt names {len(self.labels)} classes but the model has "
                              f"{self.config['model']['num_classes']}; convert again")
        Interpreter, self.backend, self.backend_version = interpreter_class(backend)
        self._flatbuffer, self._num_threads, self._Interpreter = bundle.flatbuffer, num_threads, Interpreter
        self._local = threading.local()   # one interpreter per thread: invokes run in parallel
        self._interpreter = self._thread_interpreter()
        signatures = self._interpreter.get_signature_list()
        missing = [signature_key(n) for n in self.lengths if signature_key(n) not in signatures]
        if missing:
            raise BundleError(f"{self.path}: config.json lists input lengths whose signatures are missing "
                              f"({', '.join(missing)}); convert again")
        if not any(tuple(t["shape"]) == (vocab_size, d_model) for t in self._interpreter.get_tensor_details()):
            raise BundleError(f"{self.path}: no embedding table of shape ({vocab_size}, {d_model}) in the "
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
        encoding = self.tokenizer.encode(text, self.max_length)
        length = self.lengths[int(np.searchsorted(self.lengths, len(encoding.ids)))]
        ids = np.full((1, length), self.tokenizer.pad_id, dtype=np.int32)
        ids[0, : len(encoding.ids)] = encoding.ids
        return ids, encoding.n_tokens, encoding.truncated

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """Invoke the signature for ``ids.shape[1]``; float probabilities, one per label."""
        length = ids.shape[1]
        interpreter = self._thread_interpreter()
        runner = self._local.runners.get(length)
        if runner is None:
            runner = self._local.runners[length] = interpreter.get_signature_runner(signature_key(length))
            with native_stderr_silenced():   # the first invoke applies XNNPACK and says so on stderr
                output = runner(token_ids=ids)["probabilities"]
        else:
            output = runner(token_ids=ids)["probabilities"]
        details = runner.get_output_details()["probabilities"]
        scale, zero_point = details["quantization"]
        if output.dtype != np.float32 and scale:
            output = (output.astype(np.float32) - zero_point) * scale
        return np.asarray(output, dtype=np.float32)[0]

    def classify(self, text: str | bytes) -> Classification:
        """Label one review. Bytes are decoded as UTF-8 with replacement (and a warning)."""
        start = time.perf_counter()
        if isinstance(text, bytes):
            decoded = text.decode("utf-8", errors="replace")
            if "\ufffd" in decoded and b"\xef\xbf\xbd" not in text:
                warnings.warn("input is not valid UTF-8; undecodable bytes were replaced", stacklevel=2)
            text = decoded
        if not isinstance(text, str):
            raise TypeError(f"classify expects str or bytes, got {type(text).__name__}")
        ids, n_tokens, truncated = self.encode(text)
        probs = self.probabilities(ids)
        best = int(np.argmax(probs))
        return Classification(self.labels[best], float(probs[best]), [float(p) for p in probs], n_tokens,
                              truncated, round((time.perf_counter() - start) * 1000, 3))

    def classify_batch(self, texts) -> list[Classification]:
        return [self.classify(text) for text in texts]

    def __repr__(self) -> str:
        return (f"TextClassifier({str(self.path)!r}, variant={self.config.get('variant')!r}, "
                f"backend={self.backend!r}, lengths={self.lengths})")


def _read_model_file(path: Path) -> bytes:
    if not path.exists():
        raise BundleError(f"model file {path} does not exist; give the path of a .tflite written by "
                          "`sparse-edge convert`")
    if path.is_dir():
        raise BundleError(f"{path} is a folder; give a .tflite file (for example {path}/tflite/int8.tflite)")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise BundleError(f"{path} is {size} bytes, larger than any sparse-edge model "
                          f"({MAX_MODEL_BYTES} at most); check the path")
    return path.read_bytes()
