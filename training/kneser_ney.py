"""Interpolated modified Kneser-Ney n-gram language model (Chen & Goodman 1999), in numpy.

The counting baseline a language model has to beat, on the same token ids. Every review is one
sequence that starts with [CLS]; n-grams never cross two reviews.

For an n-gram ``h w`` (history h, next token w) of order n the model uses an *adjusted count* a:

- the highest order, and any n-gram that starts a review (its first token is the review's first
  token, so it has no left neighbour): the raw count, how often ``h w`` occurs;
- every other lower order: the continuation count, how many different tokens precede ``h w``
  (Kneser-Ney's idea: "Francisco" is frequent but follows only "San", so it should get little
  probability in a new context). Review-initial n-grams keep their raw counts as KenLM does.

Then, with D(a) one of three discounts D1, D2, D3+ of that order (from the counts of counts n1..n4:
Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2, D3+ = 3 - 4Y n4/n3),

    P(w | h) = max(a(h w) - D(a(h w)), 0) / A(h) + gamma(h) * P(w | h')
    gamma(h) = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / A(h)

where A(h) is the sum of a(h .) over the tokens seen after h, Nk(h) how many of them have a = k
(k >= 3 for N3+), and h' is h without its first token. A history never seen gives its mass to
P(w | h') whole. The unigram level interpolates with the uniform distribution over the
vocabulary, so every token has a probability above zero and every distribution sums to one.

Keys: the order-n n-gram starting at a position is numbered by ``np.unique`` of
(number of its first n-1 tokens) * V + (its last token), so no key overflows int64 at any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Order:
    keys: np.ndarray        # sorted unique (history number * V + token) of this order
    adjusted: np.ndarray    # a(h w) per key
    histories: np.ndarray   # sorted unique history numbers with at least one n-gram
    totals: np.ndarray      # A(h) per history
    gammas: np.ndarray      # gamma(h) per history (the mass left for the lower order), times A(h)
    discounts: np.ndarray   # [0, D1, D2, D3+]


def discounts(adjusted: np.ndarray) -> np.ndarray:
    """[0, D1, D2, D3+] from the counts of counts of ``adjusted`` (Chen & Goodman's estimates)."""
    n = [int(np.sum(adjusted == k)) for k in (1, 2, 3, 4)]
    if min(n) == 0:   # a tiny corpus: plain absolute discounting with D = 0.5 at each level
        return np.array([0.0, 0.5, 0.5, 0.5])
    y = n[0] / (n[0] + 2 * n[1])
    return np.array([0.0, 1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]])


class KneserNey:
    """Counts n-grams of order 1..``order`` from token sequences; ``log_probs`` scores sequences.

    Example:
        >>> lm = KneserNey([np.array([1, 2, 3, 2, 3]), np.array([1, 3, 2])], order=2, vocab_size=4)
        >>> round(float(lm.probabilities([1]).sum()), 6)
        1.0
    """

    def __init__(self, sequences: list[np.ndarray], order: int, vocab_size: int):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order, self.vocab_size = order, vocab_size
        tokens = np.concatenate([np.asarray(s, np.int64) for s in sequences])
        if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
            raise ValueError(f"token ids must be in [0, {vocab_size}); got {tokens.min()}..{tokens.max()}")
        lengths = np.array([len(s) for s in sequences])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        offset = np.arange(len(tokens)) - np.repeat(starts, lengths)      # position within its review
        remaining = np.repeat(lengths, lengths) - offset                  # tokens from here to its review's end
        numbers = [tokens]              # numbers[n-1][i]: the number of the order-n n-gram starting at i (or -1)
        self._numbering = []            # per order: sorted unique keys, to number n-grams of new text
        self.levels: list[_Order] = []
        raw = []
        for n in range(1, order + 1):
            fits = remaining >= n
            if n == 1:
                keys = tokens
            else:
                after = np.where(fits, np.roll(tokens, -(n - 1)), 0)
                keys = np.where(fits, numbers[n - 2] * vocab_size + after, -1)
            unique, inverse, counts = np.unique(keys[fits], return_inverse=True, return_counts=True)
            number = np.full(len(tokens), -1, np.int64)
            number[fits] = inverse
            if n > 1:
                numbers.append(number)
            else:
                numbers[0] = number
            self._numbering.append(unique)
            raw.append((unique, counts, fits, number, offset))
        for n in range(1, order + 1):
            unique, counts, fits, number, offset = raw[n - 1]
            if n == order:
                adjusted = counts.astype(np.int64)
            else:   # continuation counts: distinct (n+1)-grams whose last n tokens are this n-gram
                longer_fits, longer_number = raw[n][2], raw[n][3]
                first = np.unique(longer_number[longer_fits], return_index=True)[1]   # one position per (n+1)-gram
                positions = np.flatnonzero(longer_fits)[first] + 1                     # where its suffix starts
                adjusted = np.bincount(number[positions], minlength=len(unique)).astype(np.int64)
                initial = np.zeros(len(unique), bool)
                initial[number[fits & (offset == 0)]] = True
                adjusted[initial] = counts[initial]   # review-initial n-grams keep their raw counts
            self.levels.append(self._level(unique, adjusted))

    def _level(self, unique: np.ndarray, adjusted: np.ndarray) -> _Order:
        d = discounts(adjusted)
        histories_of = unique // self.vocab_size
        histories, first = np.unique(histories_of, return_index=True)
        totals = np.add.reduceat(adjusted, first).astype(np.float64)
        left = np.add.reduceat(d[np.minimum(adjusted, 3)], first)
        return _Order(unique, adjusted, histories, totals, left, d)

    def _history_numbers(self, tokens: np.ndarray) -> list[np.ndarray]:
        """numbers[n-1][i]: the training number of the n-gram tokens[i:i+n] (-1: never seen or past the end)."""
        numbers, previous = [], None
        for n in range(1, self.order + 1):
            fits = np.arange(len(tokens)) + n <= len(tokens)
            if n == 1:
                keys = tokens.astype(np.int64)
            else:
                after = np.where(fits, np.roll(tokens, -(n - 1)), 0)
                keys = np.where(fits & (previous >= 0), previous * self.vocab_size + after, -1)
            table = self._numbering[n - 1]
            at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
            found = fits & (keys >= 0) & (table[at] == keys)
            previous = np.where(found, at, -1)
            numbers.append(previous)
        return numbers

    def _lookup(self, level: _Order, history: np.ndarray, token: np.ndarray):
        """(adjusted count of h w, A(h), gamma(h)*A(h)) for arrays of history numbers (-1: unseen) and tokens."""
        seen = history >= 0
        key = np.where(seen, history * self.vocab_size + token, -1)
        at = np.minimum(np.searchsorted(level.keys, key), len(level.keys) - 1)
        count = np.where(seen & (level.keys[at] == key), level.adjusted[at], 0)
        h_at = np.minimum(np.searchsorted(level.histories, history), len(level.histories) - 1)
        h_seen = seen & (level.histories[h_at] == history)
        total = np.where(h_seen, level.totals[h_at], 0.0)
        left = np.where(h_seen, level.gammas[h_at], 0.0)
        return count, total, left

    def _probability(self, histories: list[np.ndarray], token: np.ndarray, order: np.ndarray) -> np.ndarray:
        """P(token | its history) for arrays, ``histories[n-1]`` the number of each history of n-1 tokens,
        ``order`` the highest order usable at each position (1 + the tokens of history there)."""
        unigram = self.levels[0]
        at = np.minimum(np.searchsorted(unigram.keys, token), len(unigram.keys) - 1)
        count = np.where(unigram.keys[at] == token, unigram.adjusted[at], 0)
        total = unigram.totals[0]
        p = (np.maximum(count - unigram.discounts[np.minimum(count, 3)], 0) + unigram.gammas[0] / self.vocab_size) / total
        for n in range(2, self.order + 1):
            count, total, left = self._lookup(self.levels[n - 1], histories[n - 2], token)
            d = self.levels[n - 1].discounts[np.minimum(count, 3)]
            higher = (np.maximum(count - d, 0) + left * p) / np.where(total > 0, total, 1.0)
            p = np.where((total > 0) & (order >= n), higher, p)
        return p

    def log_probs(self, sequence: np.ndarray) -> np.ndarray:
        """Natural-log probability of each token of ``sequence`` after its first, given the ones before
        (at most order - 1 of them): (len(sequence) - 1,)."""
        tokens = np.asarray(sequence, np.int64)
        numbers = self._history_numbers(tokens)
        position = np.arange(1, len(tokens))                                  # the predicted tokens
        histories = []
        for n in range(1, self.order):          # the history of n tokens before each predicted token
            start = position - n
            histories.append(np.where(start >= 0, numbers[n - 1][np.maximum(start, 0)], -1))
        order = np.minimum(position + 1, self.order)
        return np.log(self._probability(histories, tokens[1:], order))

    def probabilities(self, history) -> np.ndarray:
        """(V,) P(w | history) for every token w: what the tests sum to one."""
        history = np.asarray(history, np.int64)[-(self.order - 1):] if self.order > 1 else np.zeros(0, np.int64)
        numbers = self._history_numbers(history) if len(history) else []
        histories = []
        for n in range(1, self.order):
            number = numbers[n - 1][len(history) - n] if n <= len(history) else -1
            histories.append(np.full(self.vocab_size, number, np.int64))
        order = np.full(self.vocab_size, min(len(history) + 1, self.order))
        return self._probability(histories, np.arange(self.vocab_size), order)
