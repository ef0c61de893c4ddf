"""Generate review text with a bundled causal language model ``.tflite`` (no TensorFlow).

Two ways to get the next token's logits, one decoding loop (``decode_ids``, shared with the Keras
model in ``training/generate.py`` so every side picks tokens the same way):

- ``Recompute``: the file's ``next_token`` signature takes a window of ``context`` ids and the
  position of its last real one; every new token runs the whole window again, and a text longer
  than the window slides (only its end is seen).
- ``Cached``: files whose model has a cache of fixed size (``model/decoder.py``) also have
  ``prefill`` (the prompt in, the cache out) and ``decode`` (one token and the cache in): each new
  token costs one position, the same at the 10th token or the 10,000th, and the text is never cut
  (the leading "sink" tokens stay, the window slides over the rest).

Each step: logits of the banned ids (padding, [UNK], [CLS], [MASK]) are -inf; greedy (temperature
0) takes the best token; otherwise sample among the ``top_k`` best, within ``top_p``, at
``temperature``. Generation stops at ``[SEP]`` (the end of a review) or after ``max_new_tokens``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edge_runtime.backends import check_threads, interpreter_class
from edge_runtime.quiet import native_stderr_silenced
from edge_runtime.bundle import LANGUAGE_MODEL, LANGUAGE_MODEL_SIGNATURE, BundleError, read_bundle
from edge_runtime.classifier import TOKENIZER
from edge_runtime.tokenizer import load_tokenizer

MAX_NEW_TOKENS = 512
SIGNATURE = LANGUAGE_MODEL_SIGNATURE.key
# Defaults that give varied text. Greedy decoding (temperature 0) of a small language model soon
# repeats itself ("the acting is a good movie." over and over); sampling among the likely tokens,
# with tokens already written made less likely, reads like a review. Greedy only on request.
SAMPLING = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "repetition_penalty": 1.3}


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: list[int]        # the generated ids only
    prompt_tokens: int
    slid: bool                  # the text outgrew the model's window and its start was no longer seen
    stopped_at_end: bool        # the model ended the review ([SEP])
    latency_ms: float


def check_sampling(max_new_tokens: int, temperature: float, top_k: int, top_p: float,
                   repetition_penalty: float) -> None:
    """Raise ValueError naming the first sampling setting outside its range (NaN and infinity included)."""
    if not isinstance(max_new_tokens, int) or not 0 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 0 and {MAX_NEW_TOKENS}, got {max_new_tokens}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0 (0 is greedy), got {temperature}")
    if not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0 (0 keeps every token), got {top_k}")
    if not (math.isfinite(top_p) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if not (math.isfinite(repetition_penalty) and repetition_penalty >= 1):
        raise ValueError(f"repetition_penalty must be a finite number >= 1 (1: none), got {repetition_penalty}")


def choose(logits: np.ndarray, recent: list[int], banned: list[int], temperature: float, top_k: int, top_p: float,
           repetition_penalty: float, rng: np.random.Generator) -> int:
    """The next token from ``logits`` (V,): see the module docstring.

    ``repetition_penalty`` > 1 divides the (positive) logit of every token in ``recent`` by it
    (multiplies a negative one), as in CTRL (Keskar et al. 2019); ``top_p`` < 1 samples among the
    most likely tokens whose probabilities add up to ``top_p`` (nucleus sampling, Holtzman et al.
    2020), after ``top_k``. A ``top_k`` at or above the vocabulary keeps every token.
    """
    logits = np.asarray(logits, dtype=np.float64).copy()
    logits[banned] = -np.inf
    if repetition_penalty != 1:
        seen = np.unique(recent)
        logits[seen] = np.where(logits[seen] > 0, logits[seen] / repetition_penalty, logits[seen] * repetition_penalty)
    if temperature == 0:
        return int(np.argmax(logits))
    if 0 < top_k < len(logits):
        cutoff = np.partition(logits, -top_k)[-top_k]
        logits[logits < cutoff] = -np.inf
    scaled = (logits - logits.max()) / temperature
    probs = np.exp(scaled)
    probs /= probs.sum()
    if top_p < 1:
        order = np.argsort(-probs)
        keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1]
        nucleus = np.zeros_like(probs)
        nucleus[keep] = probs[keep]
        probs = nucleus / nucleus.sum()
    return int(rng.choice(len(probs), p=probs))


class Recompute:
    """Next-token logits by running the window of the last ``context`` ids again for every token."""

    def __init__(self, next_logits: Callable[[np.ndarray, int], np.ndarray], context: int, pad_id: int):
        self.next_logits, self.context, self.pad_id = next_logits, context, pad_id
        self.ids: list[int] = []

    @property
    def slid(self) -> bool:
        return len(self.ids) > self.context

    def start(self, prompt_ids: list[int]) -> np.ndarray:
        self.ids = list(prompt_ids)
        return self._logits()

    def advance(self, token: int) -> np.ndarray:
        self.ids.append(token)
        return self._logits()

    def _logits(self) -> np.ndarray:
        window = self.ids[-self.context:]
        padded = np.full((1, self.context), self.pad_id, dtype=np.int32)
        padded[0, : len(window)] = window
        return self.next_logits(padded, len(window) - 1)


class Cached:
    """Next-token logits from a cache of fixed size: ``prefill`` the prompt once, then ``decode`` one token.

    ``prefill(ids (1, P), length (1,))`` and ``decode(token (1,), position (1,), cache)`` both return
    (logits (V,), cache), the cache a dict of arrays; a prompt longer than P continues one token at a time.

    ``horizon``: how far back a token's influence reaches. A query sees the sinks and at most
    ``ring - 1`` tokens back, and each of the L layers reaches that far again, so after n prompt
    tokens the cache depends on the sinks and the last ``ring + (L - 1) * (ring - 1)`` tokens only;
    the tokens between are skipped (their positions still count), and any prompt costs at most
    ``P + horizon`` steps, exactly as if every token had been fed.
    """

    def __init__(self, prefill: Callable, decode: Callable, prefill_length: int, pad_id: int,
                 horizon: int | None = None):
        self.prefill, self.decode, self.prefill_length, self.pad_id = prefill, decode, prefill_length, pad_id
        self.horizon = horizon
        self.position, self.cache = 0, None

    slid = False   # nothing is ever cut: the cache keeps the sinks and the window of the newest tokens

    def start(self, prompt_ids: list[int]) -> np.ndarray:
        first = prompt_ids[: self.prefill_length]
        padded = np.full((1, self.prefill_length), self.pad_id, dtype=np.int32)
        padded[0, : len(first)] = first
        logits, self.cache = self.prefill(padded, np.array([len(first)], np.int32))
        self.position = len(first)
        rest = prompt_ids[self.prefill_length:]
        if self.horizon is not None and len(rest) > self.horizon:   # what lies before cannot reach the end
            self.position += len(rest) - self.horizon
            rest = rest[-self.horizon:]
        for token in rest:
            logits = self.advance(token)
        return logits

    def advance(self, token: int) -> np.ndarray:
        logits, self.cache = self.decode(np.array([token], np.int32), np.array([self.position], np.int32), self.cache)
        self.position += 1
        return logits


def cache_horizon(ring: int, layers: int) -> int:
    """Tokens before the end of a text that can still change the cache (``Cached``)."""
    return ring + (layers - 1) * (ring - 1)


def decode_ids(model, prompt_ids: list[int], context: int, banned: list[int], stop_id: int, max_new_tokens: int,
               temperature: float = 0.0, top_k: int = 0, seed: int | None = None, top_p: float = 1.0,
               repetition_penalty: float = 1.0) -> Iterator[int]:
    """Yield generated token ids one at a time; ``model`` is a ``Recompute`` or a ``Cached``.

    The repetition penalty looks at the last ``context`` ids, whichever way the logits are computed.
    """
    check_sampling(max_new_tokens, temperature, top_k, top_p, repetition_penalty)
    if not prompt_ids:
        raise ValueError("the prompt needs at least one id ([CLS] starts every review)")
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    for i in range(max_new_tokens):
        logits = model.start(ids) if i == 0 else model.advance(ids[-1])
        token = choose(logits, ids[-context:], banned, temperature, top_k, top_p, repetition_penalty, rng)
        yield token
        if token == stop_id:
            return
        ids.append(token)


class TextGenerator:
    """A bundled sparse-edge language model; ``generate`` returns text, ``stream`` yields it piece by piece."""

    def __init__(self, path: str | Path, num_threads: int = 1, backend: str = "auto", verify: bool = True,
                 public_key: str | Path | None = None):
        from edge_runtime import signature

        self.path = Path(path)
        num_threads = check_threads(num_threads)
        # read once: the bytes whose signature is checked (a pinned key: ``public_key`` or
        # $SPARSE_EDGE_PUBLIC_KEY) are the bytes that run
        data = signature.verified(self.path, signature.pinned_key(public_key))
        bundle = read_bundle(data, str(self.path), verify=verify)
        self.config = bundle.config
        if self.config.kind != LANGUAGE_MODEL:
            raise BundleError(f"{self.path} is a {self.config.kind}, not a language model; "
                              "use TextClassifier, or give a file converted from a language model")
        if self.config.tokenizer != TOKENIZER:
            raise BundleError(f"{self.path} was converted for tokenizer options {self.config.tokenizer}; "
                              "upgrade sparse-edge or convert again")
        try:
            self.tokenizer = load_tokenizer(self.config.tokenizer, bundle.vocab_text)
        except ValueError as error:
            raise BundleError(f"{self.path}: vocab.txt is not a BERT vocabulary ({error})") from None
        if len(self.tokenizer) != self.config.model["vocab_size"]:
            raise BundleError(f"{self.path}: vocab.txt has {len(self.tokenizer)} tokens but the model has "
                              f"{self.config.model['vocab_size']}; convert again with the model's vocab.txt")
        self.context = self.config.max_length
        self.decoder = self.config.decoder   # None: the file recomputes the window for each token
        Interpreter, self.backend, self.backend_version = interpreter_class(backend)
        try:
            self._interpreter = Interpreter(model_content=bundle.flatbuffer, num_threads=num_threads)
            self._runner = self._interpreter.get_signature_runner(SIGNATURE)
            if self.decoder:
                self._prefill = self._interpreter.get_signature_runner(self.decoder["prefill"])
                self._decode = self._interpreter.get_signature_runner(self.decoder["decode"])
            with native_stderr_silenced():   # the first invoke applies XNNPACK and says so on stderr
                self.next_logits(np.zeros((1, self.context), np.int32), 0)
                if self.decoder:
                    self.model(cached=True).start([self.tokenizer.cls_id])
        except (ValueError, RuntimeError) as error:
            raise BundleError(f"{self.path}: the TFLite interpreter refused the model "
                              f"({str(error).splitlines()[0]}); copy or convert it again") from None
        t = self.tokenizer
        self._banned = [t.pad_id, t.unk_id, t.cls_id, t.mask_id]

    def next_logits(self, window: np.ndarray, position: int) -> np.ndarray:
        out = self._runner(token_ids=window, position=np.array([position], dtype=np.int32))
        return out["logits"][0]

    @staticmethod
    def _cached(out: dict):
        logits = out.pop("logits")
        return logits[0], out

    def model(self, cached: bool | None = None):
        """A fresh ``Cached`` (the file's decoder; the default when it has one) or ``Recompute``."""
        cached = bool(self.decoder) if cached is None else cached
        if cached and not self.decoder:
            raise BundleError(f"{self.path} has no cached decoder (its model recomputes the window); "
                              "convert a model with relative positions and a local or global pattern")
        if not cached:
            return Recompute(self.next_logits, self.context, self.tokenizer.pad_id)
        return Cached(lambda ids, length: self._cached(self._prefill(token_ids=ids, length=length)),
                      lambda token, position, cache: self._cached(self._decode(token=token, position=position,
                                                                               **cache)),
                      self.decoder["prefill_length"], self.tokenizer.pad_id,
                      cache_horizon(self.decoder["ring"], self.config.model["num_layers"]))

    def cache_bytes(self) -> int:
        """Bytes the cache holds (0 without a decoder): the same at every length of text."""
        if not self.decoder:
            return 0
        return int(sum(4 * np.prod(shape) for shape in self.decoder["cache"].values()))

    def prompt_ids(self, prompt: str) -> list[int]:
        return [self.tokenizer.cls_id, *self.tokenizer.token_ids(prompt)]

    def _ids(self, prompt: str, max_new_tokens, temperature, top_k, seed, top_p, repetition_penalty, cached):
        model = self.model(cached)
        prompt_ids = self.prompt_ids(prompt)
        ids = decode_ids(model, prompt_ids, self.context, self._banned, self.tokenizer.sep_id, max_new_tokens,
                         temperature, top_k, seed, top_p, repetition_penalty)
        return model, prompt_ids, ids

    def stream(self, prompt: str, max_new_tokens: int = 50, temperature: float = SAMPLING["temperature"],
               top_k: int = SAMPLING["top_k"], seed: int | None = None, top_p: float = SAMPLING["top_p"],
               repetition_penalty: float = SAMPLING["repetition_penalty"], cached: bool | None = None) -> Iterator[str]:
        """Yield the text as it grows: each item is the new piece since the previous one."""
        check_sampling(max_new_tokens, temperature, top_k, top_p, repetition_penalty)
        shown, generated = "", []
        _, _, ids = self._ids(prompt, max_new_tokens, temperature, top_k, seed, top_p, repetition_penalty, cached)
        for token in ids:
            if token == self.tokenizer.sep_id:
                return
            generated.append(token)
            text = self.tokenizer.decode(generated)
            yield text[len(shown):]
            shown = text

    def generate(self, prompt: str, max_new_tokens: int = 50, temperature: float = SAMPLING["temperature"],
                 top_k: int = SAMPLING["top_k"], seed: int | None = None, top_p: float = SAMPLING["top_p"],
                 repetition_penalty: float = SAMPLING["repetition_penalty"], cached: bool | None = None) -> Generation:
        start = time.perf_counter()
        model, prompt_ids, ids = self._ids(prompt, max_new_tokens, temperature, top_k, seed, top_p,
                                           repetition_penalty, cached)
        ids = list(ids)
        ended = bool(ids) and ids[-1] == self.tokenizer.sep_id
        body = ids[:-1] if ended else ids
        return Generation(self.tokenizer.decode(body), body, len(prompt_ids), model.slid, ended,
                          round((time.perf_counter() - start) * 1000, 2))
