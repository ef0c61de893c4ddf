"""Generate review text with a bundled causal language model ``.tflite`` (no TensorFlow).

The file's single signature ``next_token`` takes a window of ``context`` token ids and the
position of its last real token, and returns the logits of the token after it. Decoding is
the loop below, shared with the Keras model (``model/generate.py``) so both sides pick tokens
the same way:

    window = the last ``context`` ids (a longer prompt slides: only its end is seen)
    logits = next_token(window padded to ``context``, position = len(window) - 1)
    greedy (temperature 0): the best token; else sample from the ``top_k`` best at ``temperature``

Generation stops at ``[SEP]`` (the end of a review) or after ``max_new_tokens``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edge_runtime.backends import interpreter_class
from edge_runtime.quiet import native_stderr_silenced
from edge_runtime.bundle import LANGUAGE_MODEL, LANGUAGE_MODEL_SIGNATURE, BundleError, read_bundle, read_model_file
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
    slid: bool                  # the prompt was longer than the context window; only its end was seen
    stopped_at_end: bool        # the model ended the review ([SEP])
    latency_ms: float


def decode_ids(next_logits: Callable[[np.ndarray, int], np.ndarray], prompt_ids: list[int], context: int,
               pad_id: int, banned: list[int], stop_id: int, max_new_tokens: int, temperature: float = 0.0,
               top_k: int = 0, seed: int | None = None, top_p: float = 1.0,
               repetition_penalty: float = 1.0) -> Iterator[int]:
    """Yield generated token ids one at a time (see the module docstring for the rule).

    ``repetition_penalty`` > 1 divides the (positive) logit of every token already in the window
    by it (multiplies a negative one), as in CTRL (Keskar et al. 2019); ``top_p`` < 1 samples among
    the most likely tokens whose probabilities add up to ``top_p`` (nucleus sampling, Holtzman et
    al. 2020), after ``top_k``.
    """
    if max_new_tokens < 0 or max_new_tokens > MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 0 and {MAX_NEW_TOKENS}, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 keeps every token), got {top_k}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if repetition_penalty < 1:
        raise ValueError(f"repetition_penalty must be >= 1 (1: none), got {repetition_penalty}")
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    for _ in range(max_new_tokens):
        window = ids[-context:]
        padded = np.full((1, context), pad_id, dtype=np.int32)
        padded[0, : len(window)] = window
        logits = np.asarray(next_logits(padded, len(window) - 1), dtype=np.float64).copy()
        logits[banned] = -np.inf
        if repetition_penalty != 1:
            seen = np.unique(window)
            logits[seen] = np.where(logits[seen] > 0, logits[seen] / repetition_penalty,
                                    logits[seen] * repetition_penalty)
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            if top_k:
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
            token = int(rng.choice(len(probs), p=probs))
        yield token
        if token == stop_id:
            return
        ids.append(token)


class TextGenerator:
    """A bundled sparse-edge language model; ``generate`` returns text, ``stream`` yields it piece by piece."""

    def __init__(self, path: str | Path, num_threads: int = 1, backend: str = "auto", verify: bool = True):
        self.path = Path(path)
        bundle = read_bundle(read_model_file(self.path), str(self.path), verify=verify)
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
        Interpreter, self.backend, self.backend_version = interpreter_class(backend)
        try:
            self._interpreter = Interpreter(model_content=bundle.flatbuffer, num_threads=num_threads)
            self._runner = self._interpreter.get_signature_runner(SIGNATURE)
            with native_stderr_silenced():   # the first invoke applies XNNPACK and says so on stderr
                self.next_logits(np.zeros((1, self.context), np.int32), 0)
        except (ValueError, RuntimeError) as error:
            raise BundleError(f"{self.path}: the TFLite interpreter refused the model "
                              f"({str(error).splitlines()[0]}); copy or convert it again") from None
        t = self.tokenizer
        self._banned = [t.pad_id, t.unk_id, t.cls_id, t.mask_id]

    def next_logits(self, window: np.ndarray, position: int) -> np.ndarray:
        out = self._runner(token_ids=window, position=np.array([position], dtype=np.int32))
        return out["logits"][0]

    def prompt_ids(self, prompt: str) -> list[int]:
        return [self.tokenizer.cls_id, *self.tokenizer.token_ids(prompt)]

    def stream(self, prompt: str, max_new_tokens: int = 50, temperature: float = SAMPLING["temperature"],
               top_k: int = SAMPLING["top_k"], seed: int | None = None, top_p: float = SAMPLING["top_p"],
               repetition_penalty: float = SAMPLING["repetition_penalty"]) -> Iterator[str]:
        """Yield the text as it grows: each item is the new piece since the previous one."""
        shown, generated = "", []
        for token in decode_ids(self.next_logits, self.prompt_ids(prompt), self.context, self.tokenizer.pad_id,
                                self._banned, self.tokenizer.sep_id, max_new_tokens, temperature, top_k, seed,
                                top_p, repetition_penalty):
            if token == self.tokenizer.sep_id:
                return
            generated.append(token)
            text = self.tokenizer.decode(generated)
            yield text[len(shown):]
            shown = text

    def generate(self, prompt: str, max_new_tokens: int = 50, temperature: float = SAMPLING["temperature"],
                 top_k: int = SAMPLING["top_k"], seed: int | None = None, top_p: float = SAMPLING["top_p"],
                 repetition_penalty: float = SAMPLING["repetition_penalty"]) -> Generation:
        start = time.perf_counter()
        prompt_ids = self.prompt_ids(prompt)
        ids = list(decode_ids(self.next_logits, prompt_ids, self.context, self.tokenizer.pad_id, self._banned,
                              self.tokenizer.sep_id, max_new_tokens, temperature, top_k, seed, top_p,
                              repetition_penalty))
        ended = bool(ids) and ids[-1] == self.tokenizer.sep_id
        body = ids[:-1] if ended else ids
        return Generation(self.tokenizer.decode(body), body, len(prompt_ids), len(prompt_ids) > self.context, ended,
                          round((time.perf_counter() - start) * 1000, 2))
