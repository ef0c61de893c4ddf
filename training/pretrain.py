"""Masked-language-model pretraining on unlabelled reviews, before the classifier is trained.

IMDB ships 50,000 unlabelled reviews. A few minutes of BERT-style masked-token prediction on
them (and on the training reviews, without their labels) teaches the embeddings and attention
what reviews look like before the 22,500 labelled ones are used for sentiment.

Masking (Devlin et al. 2019): 15% of the real tokens are chosen; of those 80% become [MASK],
10% a random token, 10% stay. Logits are computed only at the chosen positions, through the
tied token embedding, so the vocabulary projection costs 15% of a full one.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.transformer import SparseTransformerClassifier, _SparseTransformer, register

MASK_RATE = 0.15


@register
class SparseTransformerMLM(_SparseTransformer):
    """Token ids (B, n) and positions (B, M) -> logits (B, M, V) at those positions."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.config.refuse_patches("masked-id pretraining predicts every id")

    def call(self, token_ids, positions=None, training=None):
        x, _ = self.encode(token_ids, training)                                # (B, n, d)
        if positions is not None:
            x = tf.gather(x, positions, batch_dims=1)                          # (B, M, d)
        return self.embedding.logits(x)


def mask_batch(ids: np.ndarray, rng: np.random.Generator, vocab_size: int, first_regular_id: int,
               mask_id: int, per_row: int):
    """Choose ``per_row`` positions per row among real tokens; return (inputs, positions, targets, weights)."""
    inputs = ids.copy()
    batch = ids.shape[0]
    positions = np.zeros((batch, per_row), np.int32)
    weights = np.zeros((batch, per_row), np.float32)
    for row in range(batch):
        candidates = np.flatnonzero(ids[row] >= first_regular_id)
        count = min(per_row, max(1, int(round(len(candidates) * MASK_RATE))), len(candidates))
        chosen = rng.choice(candidates, size=count, replace=False) if count else np.array([], np.int64)
        positions[row, :count] = chosen
        weights[row, :count] = 1.0
    targets = np.take_along_axis(ids, positions, axis=1)
    roll = rng.random(positions.shape)
    rows = np.arange(batch)[:, None].repeat(per_row, 1)
    replace_mask = (roll < 0.8) & (weights > 0)
    replace_random = (roll >= 0.8) & (roll < 0.9) & (weights > 0)
    inputs[rows[replace_mask], positions[replace_mask]] = mask_id
    inputs[rows[replace_random], positions[replace_random]] = rng.integers(
        first_regular_id, vocab_size, size=int(replace_random.sum()))
    return inputs, positions, targets.astype(np.int32), weights


def pretrain(model_config, sequences: list[np.ndarray], steps: int, batch_tokens: int, max_batch: int,
             learning_rate: float, seed: int, mask_id: int, first_regular_id: int, jit_compile: bool = True,
             progress: bool = True, checkpoint: Path | None = None, checkpoint_minutes: float = 15.0,
             fingerprint: str = "") -> tuple[SparseTransformerMLM, dict]:
    """Train an MLM for ``steps`` batches (cycling over the data if needed); return it and a summary.

    With ``checkpoint`` (a folder), the MLM and its optimizer are saved there every
    ``checkpoint_minutes`` and a later call with the same ``fingerprint`` goes on from the last one:
    each step's batch and masks depend only on the seed and the step, so a resumed run is the run
    it continues. A checkpoint with another fingerprint is refused.
    """
    from tqdm import tqdm

    from training.batching import make_batches
    from training.checkpoint import load_checkpoint, save_checkpoint

    keras.utils.set_random_seed(seed)
    mlm = SparseTransformerMLM(model_config)
    mlm.build(None)
    buckets = model_config.bucket_lengths
    rng = np.random.default_rng(seed)   # the batches' order; each step's masks have their own generator
    labels = np.zeros(len(sequences), np.int64)
    batches = []
    while len(batches) < steps:
        batches += make_batches(sequences, labels, buckets, batch_tokens, max_batch, rng)
    batches = batches[:steps]
    warmup = max(1, steps // 20)
    optimizer = keras.optimizers.AdamW(learning_rate=keras.optimizers.schedules.CosineDecay(
        learning_rate * 0.01, decay_steps=max(1, steps - warmup), warmup_target=learning_rate,
        warmup_steps=warmup, alpha=0.05), weight_decay=0.01, global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=["embedding", "norm", "bias"])
    optimizer.build(mlm.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    @tf.function(jit_compile=jit_compile)
    def step(inputs, positions, targets, weights):
        with tf.GradientTape() as tape:
            logits = mlm(inputs, positions, training=True)
            loss = tf.reduce_sum(loss_fn(targets, logits) * weights) / tf.reduce_sum(weights)
        grads = tape.gradient(loss, mlm.trainable_variables)
        optimizer.apply_gradients(zip(grads, mlm.trainable_variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == targets, tf.float32) * weights)
        return loss, correct / tf.reduce_sum(weights)

    state = {"step": 0, "seconds": 0.0, "losses": [], "accuracy": [], "fingerprint": fingerprint}
    if checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint, mlm, optimizer.variables)
        if state.get("fingerprint") != fingerprint:
            raise ValueError(f"{checkpoint} holds the pretraining of another configuration; delete it or "
                             "choose another --out")
    started = last_save = time.time()
    losses, accuracy = state["losses"], state["accuracy"]
    bar = tqdm(total=steps, initial=state["step"], desc="MLM pretraining", unit="batch", disable=not progress)
    for index in range(state["step"], steps):
        batch = batches[index]
        per_row = int(np.ceil(batch.ids.shape[1] * MASK_RATE))
        inputs, positions, targets, weights = mask_batch(batch.ids, np.random.default_rng([seed, index]),
                                                         model_config.vocab_size, first_regular_id, mask_id, per_row)
        loss, acc = step(inputs, positions, targets, weights)
        losses, accuracy = (losses + [float(loss)])[-50:], (accuracy + [float(acc)])[-50:]
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", acc=f"{np.mean(accuracy):.3f}")
        if checkpoint is not None and time.time() - last_save >= checkpoint_minutes * 60 and index + 1 < steps:
            save_checkpoint(checkpoint, mlm.variables, optimizer.variables, {
                "step": index + 1, "seconds": state["seconds"] + time.time() - started, "losses": losses,
                "accuracy": accuracy, "fingerprint": fingerprint})
            last_save = time.time()
    bar.close()
    seconds = state["seconds"] + time.time() - started
    if checkpoint is not None:   # finished: what the classifier starts from, if the run is stopped later
        save_checkpoint(checkpoint, mlm.variables, optimizer.variables, {
            "step": steps, "seconds": seconds, "losses": losses, "accuracy": accuracy, "fingerprint": fingerprint})
    return mlm, {"pretrain_batches": steps, "pretrain_seconds": round(seconds, 1),
                 "pretrain_final_loss": round(float(np.mean(losses)), 4),
                 "pretrain_final_masked_accuracy": round(float(np.mean(accuracy)), 4),
                 "pretrain_sequences": len(sequences)}


def transfer_encoder(source: _SparseTransformer, target: SparseTransformerClassifier) -> None:
    """Copy embeddings, encoder blocks and the final norm from the MLM into the classifier."""
    pairs = [(source.embedding, target.embedding), (source.final_norm, target.final_norm)]
    pairs += list(zip(source.blocks, target.blocks))
    for a, b in pairs:
        b.set_weights(a.get_weights())


def transfer_from_classifier(folder, target: SparseTransformerClassifier, tokenizer_options: dict,
                             vocab_text: str | None = None) -> dict:
    """Start ``target`` from a trained classifier of the same shape (a second cycle of training).

    Every weight is copied, the head included: the new run is a warm restart (its learning rate
    rises and decays again, Loshchilov & Hutter 2017) of the run in ``folder``. The tokenizer and the
    model's sizes must match; WordPiece rules may differ when the vocabulary (``vocab_text``) is the same
    (a model moved to MediaPipe's rules: every id still names the same piece). Returns what was copied;
    its training time counts toward this run's.
    """
    if folder.tokenizer_options != tokenizer_options and not (   # checked before the model is read
            vocab_text is not None and folder.tokenizer_options["kind"] == tokenizer_options["kind"] == "wordpiece"
            and folder.vocab_text() == vocab_text):
        raise ValueError(f"{folder.path} was trained with tokenizer {folder.tokenizer_options} but this run uses "
                         f"{tokenizer_options}; use the same tokenizer settings (or, for WordPiece rules, the "
                         "same vocab.txt) in both configs")
    source = folder.load_keras()
    s, t = source.config.to_dict(), target.config.to_dict()
    for field in sorted(set(s) | set(t)):
        if field != "dropout" and s.get(field) != t.get(field):
            raise ValueError(f"the classifier in {folder.path} has {field} {s.get(field)!r} but this run's model has "
                             f"{t.get(field)!r}; use the same model config in both")
    target.set_weights(source.get_weights())
    metrics = folder.metrics()
    return {"init_from": str(folder.path), "init_kind": "classifier", "init_tokenizer": folder.tokenizer_options,
            "pretrain_seconds": metrics.get("train_seconds"), "init_val_accuracy": metrics.get("val_accuracy")}


def transfer_from_language_model(lm_dir, target: SparseTransformerClassifier, vocab_path) -> dict:
    """Start ``target`` from the causal language model in ``lm_dir`` (``sparse-edge train-lm``).

    ULMFiT's recipe (Howard & Ruder 2018) with this project's blocks: the LM learned, on the
    unlabelled and training reviews, what reviews look like; its token embeddings, encoder
    blocks and final norm are copied. The attention *pattern* may differ (the LM is causal), the
    weights do not depend on it. Position rows beyond the LM's context keep their initial values
    and are learned in fine-tuning. Returns what was copied (for ``metrics.json``).
    """
    from pathlib import Path

    from training.saved import ModelFolder

    folder = ModelFolder(lm_dir)
    folder.require(folder.MODEL, folder.VOCAB, hint="train one with `sparse-edge train-lm --out DIR`")
    if folder.vocab_text() != Path(vocab_path).read_text(encoding="utf-8"):
        raise ValueError(f"{folder.vocab_path} differs from the classifier's vocabulary {vocab_path}; "
                         "pretrain the language model with the same vocab.txt")
    source = folder.load_keras()
    s, t = source.config, target.config
    for field in ("vocab_size", "d_model", "num_heads", "num_layers", "d_ff"):
        if getattr(s, field) != getattr(t, field):
            raise ValueError(f"the language model's {field} is {getattr(s, field)} but the classifier's is "
                             f"{getattr(t, field)}; use the same sizes in both configs")
    target.embedding.tokens.assign(source.embedding.tokens)
    rows = min(s.max_length, t.max_length)
    if s.positional == t.positional == "learned":
        target.embedding.positions.assign(tf.concat([source.embedding.positions[:rows],
                                                     target.embedding.positions[rows:]], axis=0))
    for a, b in [(source.final_norm, target.final_norm)] + list(zip(source.blocks, target.blocks)):
        b.set_weights(a.get_weights())
    metrics = folder.metrics()
    return {"init_from": str(folder.path), "init_positions_copied": rows,
            "pretrain_seconds": metrics.get("train_seconds"), "pretrain_val_perplexity": metrics.get("val_perplexity")}
