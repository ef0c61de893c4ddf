"""Train the causal sparse language model on IMDB reviews (unsupervised + train texts).

Each review, tokenized with the project's WordPiece tokenizer as ``[CLS] ... [SEP]``, is cut
into windows of ``context + 1`` tokens; the model predicts every next token of a window
(teacher forcing) through the tied embedding. A seeded set of unlabelled reviews is held out
and never trained on: its perplexity per token and its bits per character (total loss over the
review's characters, comparable across tokenizers) go to ``metrics.json``.

Why WordPiece and not bytes: it is the tokenizer the device already ships, and a 256-token
window then holds about 200 words of a review instead of about 50 with bytes.

Where the time goes: for this small model most of a step is scoring every position against
all 12,000 vocabulary entries (a forward and two backward matmuls of (B*n, d) x (d, V)); the
sampled softmax below removes most of that (step times: the ``lm_log.csv`` files in artifacts/).
``sampled_softmax=S`` trains instead against the true next token and S tokens drawn once per
step from the training unigram distribution (raised to 0.75), the sampled softmax of Jean et
al. (2015): logits are corrected by log(S * q(token)), a sampled token equal to a position's
target is ignored there, and the loss is the cross-entropy of the true token among the S + 1.
Held-out perplexity is always computed with the full softmax. Measured here (the ``lm_log.csv``
files under ``artifacts/tried/init-from-lm-*``): 4,500 full-softmax steps took 36.2 min for a
held-out perplexity of 140.0; 11,000 steps with S=1024 (``configs/imdb-lm-sampled.json``) took
32.6 min for 111.4.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.config import TransformerConfig
from training.files import save_keras_atomic, write_json_atomic
from training.saved import LANGUAGE_MODEL, ModelFolder
from training.machine import describe_machine
from model.patterns import AttentionPattern
from model.strict import strict_from_dict


def _default_model() -> TransformerConfig:
    return TransformerConfig(vocab_size=12000, max_length=256, d_model=128, num_heads=4, num_layers=2, d_ff=256,
                             dropout=0.1, pattern=AttentionPattern("strided", block_size=32, causal=True))


@dataclass
class LMConfig:
    model: TransformerConfig = field(default_factory=_default_model)
    steps: int = 3000
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    val_reviews: int = 500        # unlabelled reviews held out for perplexity
    eval_every: int = 500
    seed: int = 0
    jit_compile: bool = True
    text_limit: int | None = None  # use only the first N training texts (tests)
    sampled_softmax: int = 0       # 0: full softmax in training; S: S sampled tokens per step
    pack: bool = False             # training windows cut from all reviews laid end to end (no padding)
    whole_reviews: bool = False    # one row per review from its start (cut every max_length), batched by length
    batch_tokens: int = 0          # whole_reviews: about this many tokens a batch (batch_size is then unused)
    checkpoint_minutes: float = 10.0   # a resumable checkpoint at least this often (rerun the command to resume)

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = TransformerConfig.from_dict(self.model)
        if not self.model.pattern.causal:
            raise ValueError(f"a language model needs a causal pattern; pattern {self.model.pattern.name!r} has "
                             "causal=false")
        for name in ("steps", "batch_size", "val_reviews", "eval_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.whole_reviews and (self.pack or not isinstance(self.batch_tokens, int)
                                   or self.batch_tokens < self.model.max_length):
            raise ValueError("whole_reviews needs pack=false and batch_tokens of at least max_length "
                             f"({self.model.max_length}), got pack={self.pack}, batch_tokens={self.batch_tokens!r}")
        if not self.checkpoint_minutes > 0:
            raise ValueError(f"checkpoint_minutes must be positive, got {self.checkpoint_minutes!r}")
        if not isinstance(self.sampled_softmax, int) or not 0 <= self.sampled_softmax < self.model.vocab_size:
            raise ValueError(f"sampled_softmax must be 0 (full softmax) or a number of sampled tokens below "
                             f"vocab_size {self.model.vocab_size}, got {self.sampled_softmax!r}")

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["model"] = self.model.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "LMConfig":
        return strict_from_dict(cls, values, "language-model config")


def packed_windows(sequences: list[np.ndarray], context: int) -> np.ndarray:
    """(N, context + 1) int32: the reviews laid end to end ([CLS] ... [SEP] [CLS] ...) and cut.

    Without padding, a long context costs no more per token than a short one: most reviews are
    shorter than 1,024 tokens, so one window per review would be mostly padding. A window may
    start in one review and go on into the next (the model learns that [SEP] ends a review); the
    incomplete tail is dropped.
    """
    stream = np.concatenate([np.asarray(s, np.int32) for s in sequences])
    count = (len(stream) - 1) // context
    if count < 1:
        raise ValueError(f"the training texts hold {len(stream)} tokens, fewer than one packed window of "
                         f"{context + 1}; use more texts or a shorter max_length")
    starts = np.arange(count) * context
    return stream[starts[:, None] + np.arange(context + 1)[None, :]]


def windows(sequences: list[np.ndarray], context: int, pad_id: int) -> np.ndarray:
    """(N, context + 1) int32: consecutive windows of each review (the last one padded)."""
    out = []
    for seq in sequences:
        for start in range(0, max(1, len(seq) - 1), context):
            chunk = seq[start:start + context + 1]
            if len(chunk) < 2:
                continue
            row = np.full(context + 1, pad_id, np.int32)
            row[: len(chunk)] = chunk
            out.append(row)
    return np.stack(out)


class LMTrainer:
    """One optimiser step per call of ``step``: loss, gradients and the update in one compiled function.

    ``unigram`` (token counts of the training windows) is needed when ``config.sampled_softmax``
    is set: it is the distribution the step's S negative tokens are drawn from.
    """

    def __init__(self, config: LMConfig, unigram: np.ndarray | None = None):
        import keras
        import tensorflow as tf

        from model.transformer import SparseTransformerLM

        keras.utils.set_random_seed(config.seed)
        self.config = config
        self.model = SparseTransformerLM(config.model)
        self.model.build(None)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * 0.01, decay_steps=max(1, config.steps - config.warmup_steps),
            warmup_target=config.learning_rate, warmup_steps=config.warmup_steps, alpha=0.05)
        self.optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay,
                                                global_clipnorm=1.0)
        self.optimizer.exclude_from_weight_decay(var_names=["embedding", "norm", "bias"])
        self.optimizer.build(self.model.trainable_variables)
        self._step = tf.function(self._train_step, jit_compile=config.jit_compile)
        self._loss = tf.function(self._token_losses, jit_compile=config.jit_compile)
        self._rng = np.random.default_rng(config.seed)
        if config.sampled_softmax:
            if unigram is None or len(unigram) != config.model.vocab_size:
                raise ValueError("sampled_softmax needs the training token counts (one per vocabulary entry)")
            weights = np.asarray(unigram, np.float64) ** 0.75
            weights[config.model.pad_id] = 0.0
            self._proposal = weights / weights.sum()
            expected = config.sampled_softmax * self._proposal
            # a token never drawn (padding, unseen ones) gets 0, not log(0): padding targets are
            # weighted out of the loss, but an infinity there would still make it NaN
            self._log_expected = tf.constant(np.log(np.where(expected > 0, expected, 1.0)), tf.float32)

    def _token_losses(self, batch, training=False):
        """(B, n) loss per predicted token and (B, n) weights (0 where the target is padding)."""
        import tensorflow as tf

        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = self.model(inputs, training=training)                          # (B, n, V)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
        weights = tf.cast(tf.not_equal(targets, self.config.model.pad_id), tf.float32)
        return losses * weights, weights

    def _sampled_token_losses(self, batch, sampled):
        """Like ``_token_losses`` (training) but against the true token and the (S,) ``sampled`` ones."""
        import tensorflow as tf

        inputs, targets = batch[:, :-1], batch[:, 1:]
        x, _ = self.model.encode(inputs, training=True)                          # (B, n, d)
        table = self.model.embedding.tokens                                      # (V, d)
        true_logits = tf.reduce_sum(x * tf.gather(table, targets), axis=-1)     # (B, n)
        true_logits -= tf.gather(self._log_expected, targets)
        sampled_logits = tf.einsum("bnd,sd->bns", x, tf.gather(table, sampled))  # (B, n, S)
        sampled_logits -= tf.gather(self._log_expected, sampled)[None, None, :]
        hit = tf.equal(targets[:, :, None], sampled[None, None, :])             # the target drawn as a negative
        sampled_logits = tf.where(hit, tf.constant(-1e9, sampled_logits.dtype), sampled_logits)
        logits = tf.concat([true_logits[:, :, None], sampled_logits], axis=-1)   # true token first
        losses = -tf.nn.log_softmax(logits)[:, :, 0]
        weights = tf.cast(tf.not_equal(targets, self.config.model.pad_id), tf.float32)
        return losses * weights, weights

    def _train_step(self, batch, sampled):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            if self.config.sampled_softmax:
                losses, weights = self._sampled_token_losses(batch, sampled)
            else:
                losses, weights = self._token_losses(batch, training=True)
            loss = tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(weights), 1.0)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def step(self, batch: np.ndarray, number: int | None = None) -> float:
        """One update on ``batch`` (B, context + 1); returns its training loss.

        ``number``: the step's number, which then alone decides its sampled tokens (a resumed run
        draws what an uninterrupted one would); None draws from the trainer's own stream.
        """
        size = self.config.sampled_softmax
        rng = self._rng if number is None else np.random.default_rng([self.config.seed, number])
        sampled = (rng.choice(len(self._proposal), size, p=self._proposal) if size
                   else np.zeros(1)).astype(np.int32)
        return float(self._step(batch, sampled))

    def losses_of(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, n) loss of each predicted token of ``batch`` (B, n + 1), full softmax, and (B, n) weights."""
        losses, weights = self._loss(batch)
        return np.asarray(losses), np.asarray(weights)

    def total_loss(self, rows: np.ndarray) -> tuple[float, int]:
        """Summed loss (nats) and number of predicted tokens over ``rows``."""
        total, count = 0.0, 0
        size = self.config.batch_size
        for start in range(0, len(rows), size):
            batch = rows[start:start + size]
            if len(batch) < size:   # one traced shape
                batch = np.concatenate([batch, np.zeros((size - len(batch), batch.shape[1]), np.int32)])
            losses, weights = self._loss(batch)
            total += float(np.sum(losses))
            count += int(np.sum(weights))
        return total, count


@dataclass
class LMData:
    """The token ids a language model trains on and is judged on (and a counting baseline too)."""
    train_sequences: list[np.ndarray]   # unsupervised reviews not held out, then the train split
    val_sequences: list[np.ndarray]     # the held-out unsupervised reviews, whole
    val_characters: int                 # their characters (normalised, single-spaced): bits per character
    held_out: np.ndarray                # their indices in the unsupervised split


def lm_data(config: LMConfig, tokenizer, data_dir: str | None, cache: Path, progress: bool = True) -> LMData:
    """IMDB's unsupervised and train reviews as token ids; ``val_reviews`` unsupervised ones held out (seeded)."""
    from edge_runtime.tokenizer import normalize_review
    from training.data import load_imdb, tokenize_cached

    unlabelled = load_imdb("unsupervised", data_dir, limit=config.text_limit)
    train = load_imdb("train", data_dir, limit=config.text_limit)
    order = np.random.default_rng(config.seed).permutation(len(unlabelled))
    held_out = np.sort(order[: config.val_reviews])
    trained = np.ones(len(unlabelled), bool)
    trained[held_out] = False
    sequences = tokenize_cached(unlabelled, tokenizer, cache / "unsupervised.npz", progress)
    sequences += tokenize_cached(train, tokenizer, cache / "train.npz", progress)
    val_chars = sum(len(" ".join(normalize_review(unlabelled.texts[i]).split())) for i in held_out)
    return LMData([s for i, s in enumerate(sequences) if i >= len(unlabelled) or trained[i]],
                  [sequences[i] for i in held_out], val_chars, held_out)


POSITION_BINS = ((0, 64), (64, 256), (256, 1024), (1024, None))   # where a predicted token sits in its review


def review_rows(sequences: list[np.ndarray], context: int) -> list[np.ndarray]:
    """Each review from its start in rows of at most ``context + 1`` tokens, unpadded.

    A review longer than the context goes on in a second row that starts where the first one's
    predictions ended (the second row does not see the first; it is a minority of reviews).
    """
    rows = []
    for seq in sequences:
        for start in range(0, max(1, len(seq) - 1), context):
            chunk = np.asarray(seq[start:start + context + 1], np.int32)
            if len(chunk) >= 2:
                rows.append(chunk)
    return rows


def epoch_batches(rows: list[np.ndarray], lengths: list[int], batch_tokens: int, seed: int,
                  epoch: int) -> list[np.ndarray]:
    """One epoch's batches as arrays of row indices, each batch from one length bucket, in a seeded order.

    The order depends on (seed, epoch) only, so a resumed run finds the same batches again; every
    epoch has the same number of batches (a bucket's last partial batch waits for another epoch).
    """
    from edge_runtime.lengths import bucket_index

    rng = np.random.default_rng([seed, epoch])
    which = bucket_index(lengths, [len(r) - 1 for r in rows])
    batches = []
    for b, length in enumerate(lengths):
        members = rng.permutation(np.flatnonzero(which == b))
        size = max(1, batch_tokens // length)
        batches += [members[i:i + size] for i in range(0, len(members) - size + 1, size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def padded(rows: list[np.ndarray], length: int, pad_id: int) -> np.ndarray:
    """(len(rows), length + 1) int32: rows of at most length + 1 tokens, padded at the end."""
    out = np.full((len(rows), length + 1), pad_id, np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row[: length + 1]
    return out


def position_losses(trainer: "LMTrainer", sequences: list[np.ndarray], lengths: list[int],
                    batch_tokens: int, offsets: list[int] | None = None) -> dict:
    """Summed loss and token count per ``POSITION_BINS`` bin over rows of reviews (every token but the first).

    Each row is read at the smallest of ``lengths`` that holds it; ``offsets`` says where each row
    starts in its review (a review cut in windows), so the bins are positions in the review.
    """
    from edge_runtime.lengths import bucket_index

    which = bucket_index(lengths, [len(s) - 1 for s in sequences])
    sums, counts = np.zeros(len(POSITION_BINS)), np.zeros(len(POSITION_BINS), np.int64)
    edges = [low for low, _ in POSITION_BINS[1:]]
    for b, length in enumerate(lengths):
        members = np.flatnonzero(which == b)
        size = max(1, batch_tokens // length)
        for start in range(0, len(members), size):
            chosen = members[start:start + size]
            batch = padded([sequences[i] for i in chosen], length, trainer.config.model.pad_id)
            losses, weights = trainer.losses_of(batch)
            shift = np.zeros((len(chosen), 1), np.int64) if offsets is None else np.array(offsets)[chosen][:, None]
            position = np.searchsorted(edges, shift + np.arange(1, length + 1), side="right")   # each target's bin
            for k in range(len(POSITION_BINS)):
                sums[k] += float(np.sum(losses[position == k]))
                counts[k] += int(np.sum(weights[position == k]))
    return {"sums": sums, "counts": counts}


def position_table(measured: dict) -> dict:
    """{bin name: {tokens, loss, perplexity}} from ``position_losses``."""
    table = {}
    for (low, high), total, count in zip(POSITION_BINS, measured["sums"], measured["counts"]):
        name = f"{low}-{high - 1}" if high else f"{low}+"
        table[name] = {"tokens": int(count), "loss_nats": float(total / count) if count else None,
                       "perplexity": float(math.exp(total / count)) if count else None}
    return table


@dataclass
class LMRows:
    """What one run trains on and is judged on, cut for its model."""
    rows: object                 # whole_reviews: a list of unpadded rows; else (N, context + 1) windows
    targets: np.ndarray          # every predicted training token (its counts draw the sampled softmax)
    lengths: list[int]           # the training length buckets (whole_reviews)
    val_rows: list[np.ndarray]   # held-out reviews, whole or cut in windows
    val_offsets: list[int]       # where each held-out row starts in its review
    val_lengths: list[int]       # the lengths they are read at


def lm_rows(config: LMConfig, data: LMData, pad_id: int) -> LMRows:
    context, model = config.model.max_length, config.model
    val = data.val_sequences
    if model.reads_any_length and config.whole_reviews:   # each held-out review read whole, past max_length too
        longest = max(len(s) for s in val) - 1
        val_rows, val_offsets, val_lengths = val, [0] * len(val), model.device_lengths(max(longest, context))
    else:
        val_rows = review_rows(val, context)
        val_offsets = [start for s in val for start in range(0, max(1, len(s) - 1), context) if len(s[start:]) >= 2]
        val_lengths = model.bucket_lengths if config.whole_reviews else [context]
    if config.whole_reviews:
        rows = review_rows(data.train_sequences, context)
        return LMRows(rows, np.concatenate([r[1:] for r in rows]), model.bucket_lengths, val_rows, val_offsets,
                      val_lengths)
    train = data.train_sequences
    if config.pack:   # neighbours in a window: unrelated reviews, not one movie's
        train = [train[i] for i in np.random.default_rng(config.seed).permutation(len(train))]
        rows = packed_windows(train, context)
    else:
        rows = windows(train, context, pad_id)
    targets = rows[:, 1:]
    return LMRows(rows, targets[targets != pad_id], [context], val_rows, val_offsets, val_lengths)


def _open_run(config: LMConfig, out_dir, vocab_path: str):
    """The run's folder and tokenizer, and whether a checkpoint there is resumed (the same config only)."""
    import json
    import shutil

    from edge_runtime.tokenizer import WordPieceTokenizer

    folder = ModelFolder(out_dir)
    folder.path.mkdir(parents=True, exist_ok=True)
    tokenizer = WordPieceTokenizer.from_file(vocab_path)
    if len(tokenizer) != config.model.vocab_size:
        config.model = dataclasses.replace(config.model, vocab_size=len(tokenizer))
    resume = folder.checkpoint_dir.exists()
    if resume and (not folder.train_config_path.exists()
                   or json.loads(folder.train_config_path.read_text()) != config.to_dict()):
        raise ValueError(f"{folder.path} holds a language-model run with another configuration; rerun it with its "
                         f"own config ({folder.train_config_path}) to resume, or choose another --out")
    write_json_atomic(folder.train_config_path, config.to_dict())
    shutil.copyfile(vocab_path, folder.vocab_path)
    return folder, tokenizer, resume


class _Batches:
    """The batch of each step: seeded epochs of whole-review batches, or random windows."""

    def __init__(self, config: LMConfig, data: LMRows, pad_id: int):
        self.config, self.data, self.pad_id = config, data, pad_id
        self.rng = np.random.default_rng(config.seed)
        self.epoch, self.plan = -1, []
        self.per_epoch = (len(epoch_batches(data.rows, data.lengths, config.batch_tokens, config.seed, 0))
                          if config.whole_reviews else 0)

    def __call__(self, step: int) -> np.ndarray:
        from edge_runtime.lengths import input_length

        c, rows = self.config, self.data.rows
        if not c.whole_reviews:
            return rows[self.rng.integers(0, len(rows), c.batch_size)]
        if self.epoch != (step - 1) // self.per_epoch:   # the batches depend on (seed, epoch) only: a resume finds them
            self.epoch = (step - 1) // self.per_epoch
            self.plan = epoch_batches(rows, self.data.lengths, c.batch_tokens, c.seed, self.epoch)
        chosen = self.plan[(step - 1) % self.per_epoch]
        length = input_length(self.data.lengths, max(len(rows[i]) - 1 for i in chosen))
        return padded([rows[i] for i in chosen], length, self.pad_id)


def train_lm(config: LMConfig, out_dir: str | Path, vocab_path: str, data_dir: str | None = None,
             cache_dir: str | None = None, progress: bool = True) -> dict:
    """Train, evaluate on held-out reviews, save ``model.keras``, configs, vocab, log and metrics.

    Rerunning the same command on the same ``out_dir`` resumes from the last checkpoint (written at
    least every ``checkpoint_minutes`` and at every evaluation); another config there is refused.
    """
    from tqdm import tqdm

    from training.checkpoint import load_checkpoint, save_checkpoint

    folder, tokenizer, resume = _open_run(config, out_dir, vocab_path)
    data = lm_data(config, tokenizer, data_dir, Path(cache_dir) if cache_dir else folder.cache_dir, progress)
    cut = lm_rows(config, data, tokenizer.pad_id)
    eval_tokens = max(config.batch_tokens, config.batch_size * config.model.max_length)
    trainer = LMTrainer(config, np.bincount(cut.targets, minlength=len(tokenizer)))
    state = {"step": 0, "seconds": 0.0, "best_val_loss": None, "runs": []}
    if resume:
        state = load_checkpoint(folder.checkpoint_dir, trainer.model, trainer.optimizer.variables)
    else:
        with open(folder.log_path, "w", newline="") as f:
            csv.writer(f).writerow(["step", "train_loss", "val_loss", "val_perplexity", "seconds"])
    run = {"machine": describe_machine(), "from_step": state["step"], "seconds": 0.0}
    state["runs"].append(run)
    started, last_checkpoint = time.time() - state["seconds"], time.time()

    def checkpoint() -> None:
        state["seconds"] = round(time.time() - started, 1)
        run["to_step"], run["seconds"] = state["step"], round(state["seconds"] - sum(
            r["seconds"] for r in state["runs"][:-1]), 1)
        save_checkpoint(folder.checkpoint_dir, trainer.model.variables, trainer.optimizer.variables, state)

    batches, running = _Batches(config, cut, tokenizer.pad_id), []
    bar = tqdm(range(state["step"] + 1, config.steps + 1), desc="lm", unit="step", disable=not progress,
               initial=state["step"], total=config.steps)
    for step in bar:
        running.append(trainer.step(batches(step), step))
        state["step"] = step
        bar.set_postfix(loss=f"{np.mean(running[-50:]):.3f}")
        if step % config.eval_every == 0 or step == config.steps:
            measured = position_losses(trainer, cut.val_rows, cut.val_lengths, eval_tokens, cut.val_offsets)
            val_loss = float(measured["sums"].sum() / max(measured["counts"].sum(), 1))
            with open(folder.log_path, "a", newline="") as f:
                csv.writer(f).writerow([step, round(float(np.mean(running[-config.eval_every:])), 4),
                                        round(val_loss, 4), round(math.exp(val_loss), 2),
                                        round(time.time() - started, 1)])
            if state["best_val_loss"] is None or val_loss < state["best_val_loss"]:
                state["best_val_loss"] = val_loss
                save_keras_atomic(trainer.model, folder.model_path)
        if step % config.eval_every == 0 or time.time() - last_checkpoint > 60 * config.checkpoint_minutes:
            checkpoint()
            last_checkpoint = time.time()
    checkpoint()
    trainer.model = folder.load_keras()
    measured = position_losses(trainer, cut.val_rows, cut.val_lengths, eval_tokens, cut.val_offsets)
    metrics = _metrics(config, data, cut, measured, state)
    folder.write_config(LANGUAGE_MODEL, config.model, labels=[])
    folder.write_metrics(metrics)
    return metrics


def _metrics(config: LMConfig, data: LMData, cut: LMRows, measured: dict, state: dict) -> dict:
    total, count = float(measured["sums"].sum()), int(measured["counts"].sum())
    whole = config.model.reads_any_length and config.whole_reviews
    return {
        "split": f"{len(data.held_out)} held-out unlabelled reviews (never trained on)",
        "val_tokens": count, "val_characters": data.val_characters,
        "val_loss_nats_per_token": total / count, "val_perplexity": math.exp(total / count),
        "val_bits_per_character": total / math.log(2) / data.val_characters,
        "val_by_position": position_table(measured),
        "val_reading": ("each held-out review whole, from its start" if whole else
                        f"each held-out review from its start in windows of {config.model.max_length} tokens"),
        "train_rows": int(len(cut.rows)), "train_tokens": int(len(cut.targets)),
        "steps": config.steps, "train_seconds": state["seconds"], "runs": state["runs"],
        "machine": describe_machine(),
        "tokenizer": "WordPiece (edge_runtime/tokenizer.py), the classifier's vocab.txt",
    }
