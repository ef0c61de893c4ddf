"""Train the sparse classifier on labelled text: bucketed batches, XLA steps, tf.distribute, checkpoints.

The data is IMDB unless a ``training.sources.DataSpec`` names another source (a CSV, JSONL, a
folder per label, a TFDS dataset); any number of labels, one softmax output each.

``train(config, out_dir)`` fills a model folder (``training.saved.ModelFolder``): the best epoch's
model by validation accuracy, its configs and vocabulary, one log row per epoch, test metrics and
the last epoch's checkpoint (for ``--resume``). ``TrainConfig`` lives in ``training.train_config``,
evaluation in ``training.evaluate``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from training.checkpoint import load_checkpoint, save_checkpoint
from training.files import save_keras_atomic, write_json_atomic
from training.machine import describe_machine
from training.saved import CLASSIFIER, ModelFolder
from training.train_config import TrainConfig

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker needs TF_CONFIG describing the cluster and this "
                             "worker's task (see tf.distribute.MultiWorkerMirroredStrategy)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


class Trainer:
    """Holds the model, optimizer and compiled steps of one run."""

    def __init__(self, config: TrainConfig, strategy, steps_total: int):
        import keras
        import tensorflow as tf

        from model.transformer import SparseTransformerClassifier

        self.config, self.strategy = config, strategy
        self.replicas = strategy.num_replicas_in_sync
        with strategy.scope():
            keras.utils.set_random_seed(config.seed)
            self.model = SparseTransformerClassifier(config.model)
            self.model.build(None)
            if config.freeze_token_embeddings:
                # most of the parameters, and where rare words (names, titles) are memorised
                self.model.embedding.tokens.trainable = False
            warmup = max(1, int(steps_total * config.warmup_fraction))
            schedule = keras.optimizers.schedules.CosineDecay(
                initial_learning_rate=config.learning_rate * 0.01, decay_steps=max(1, steps_total - warmup),
                warmup_target=config.learning_rate, warmup_steps=warmup, alpha=0.02)
            self.optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay,
                                                    global_clipnorm=1.0, use_ema=config.ema_momentum > 0,
                                                    ema_momentum=config.ema_momentum or 0.99)
            # no weight decay on embeddings, norms and biases
            self.optimizer.exclude_from_weight_decay(var_names=["embedding", "norm", "bias"])
            self.optimizer.build(self.model.trainable_variables)
        self._loss = keras.losses.SparseCategoricalCrossentropy(reduction="none")
        self._train_step = tf.function(self._distributed_train_step)
        self._eval_step = tf.function(self._forward, jit_compile=config.jit_compile)
        self._grads = tf.function(self._compute_gradients, jit_compile=config.jit_compile)

    def _compute_gradients(self, ids, labels, global_batch):
        """Integer labels: the classes. Float labels: soft targets mixed with a teacher's, either
        P(label 1) per review (two labels) or one distribution per review (B, labels)."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            probs = self.model(ids, training=True)
            smoothing = self.config.label_smoothing
            if labels.dtype.is_floating:                                    # soft targets
                if labels.shape.rank == 1:
                    targets = tf.stack([1 - labels, labels], axis=-1)       # (B, 2)
                    labels = tf.cast(labels >= 0.5, tf.int64)               # for the agreement count
                else:
                    targets = labels                                        # (B, labels)
                    labels = tf.argmax(labels, axis=-1)
                per_example = -tf.reduce_sum(targets * tf.math.log(probs + 1e-7), axis=-1)
            else:
                per_example = self._loss(labels, probs)
            if smoothing:
                per_example = (1 - smoothing) * per_example - smoothing * tf.reduce_mean(
                    tf.math.log(probs + 1e-7), axis=-1)
            loss = tf.reduce_sum(per_example) / global_batch
        grads = tape.gradient(loss, self.model.trainable_variables)
        correct = tf.reduce_sum(tf.cast(tf.argmax(probs, -1) == tf.cast(labels, tf.int64), tf.float32))
        return loss, correct, grads

    def _replica_step(self, ids, labels, global_batch):
        loss, correct, grads = self._grads(ids, labels, global_batch)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss, correct

    def _distributed_train_step(self, ids, labels, global_batch):
        import tensorflow as tf

        loss, correct = self.strategy.run(self._replica_step, args=(ids, labels, global_batch))
        sum_ = tf.distribute.ReduceOp.SUM
        return self.strategy.reduce(sum_, loss, axis=None), self.strategy.reduce(sum_, correct, axis=None)

    def _forward(self, ids):
        return self.model(ids, training=False)

    def _shard(self, array):
        """Split one global batch across replicas (each worker computes the same global batch)."""
        if self.replicas == 1:
            return array
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: np.array_split(array, self.replicas)[ctx.replica_id_in_sync_group])

    @contextlib.contextmanager
    def averaged_weights(self):
        """With ``ema_momentum``: the moving-average weights in place of the trained ones, for a while."""
        if not self.config.ema_momentum:
            yield
            return
        variables = self.model.trainable_variables
        current = [v.numpy() for v in variables]
        for variable, average in zip(variables, self.optimizer._model_variables_moving_average):
            variable.assign(average)
        try:
            yield
        finally:
            for variable, value in zip(variables, current):
                variable.assign(value)

    def train_batch(self, batch) -> tuple[float, float]:
        import tensorflow as tf

        global_batch = tf.constant(float(len(batch.labels)))
        loss, correct = self._train_step(self._shard(batch.ids), self._shard(batch.labels), global_batch)
        return float(loss), float(correct)

    def predict_batches(self, batches) -> tuple[np.ndarray, np.ndarray]:
        """(rows, labels) probabilities and the row index of each real row."""
        probs, rows = [], []
        for batch in batches:
            p = self._eval_step(batch.ids).numpy()
            keep = batch.rows >= 0
            probs.append(p[keep])
            rows.append(batch.rows[keep])
        return np.concatenate(probs), np.concatenate(rows)


def mask_tokens(batches, rate: float, mask_id: int, rng: np.random.Generator) -> None:
    """Augmentation: replace a share of real review tokens (not [CLS]/[SEP]/padding) by [MASK]."""
    for batch in batches:
        real = batch.ids > mask_id  # the special tokens have the first ids
        batch.ids[real & (rng.random(batch.ids.shape) < rate)] = mask_id


def _save_checkpoint(trainer: Trainer, directory: Path, state: dict) -> None:
    save_checkpoint(directory, trainer.model.variables, trainer.optimizer.variables, state)


def _load_checkpoint(trainer: Trainer, directory: Path) -> dict:
    return load_checkpoint(directory, trainer.model, trainer.optimizer.variables)


@dataclasses.dataclass
class _Run:
    """What one training run holds between its phases: data, tokenizer, folder and progress."""

    config: TrainConfig
    folder: ModelFolder
    source: object              # training.sources.LabelledData
    tokenizer: object
    train_set: object           # training.data.Reviews
    val_set: object
    train_seqs: list
    val_seqs: list
    targets: np.ndarray         # labels, or soft targets with a teacher
    cache: Path
    progress: bool
    distillation: dict = dataclasses.field(default_factory=dict)


def train(config: TrainConfig, out_dir: str | Path, data_dir: str | None = None,
          manual_dir: str | None = None, resume: bool | None = None, strategy: str = "default",
          vocab_path: str | None = None, progress: bool = True, cache_dir: str | None = None,
          data=None) -> dict:
    """Train, select the best epoch on validation, evaluate it once on test; return metrics.

    ``data`` is a ``training.sources.DataSpec`` (None: IMDB from ``data_dir``/``manual_dir``).
    ``resume``: continue the run in ``out_dir`` from its last checkpoint (None: when ``out_dir``
    holds a checkpoint of this same configuration, so rerunning a stopped command continues it).
    A checkpoint is written at the end of every epoch and every ``config.checkpoint_minutes``.
    """
    from training.sources import DataSpec, open_data

    source = open_data(data or DataSpec("imdb", data_dir=data_dir, manual_dir=manual_dir))   # bad data: nothing written
    folder = ModelFolder(out_dir)
    folder.path.mkdir(parents=True, exist_ok=True)
    started = time.time()
    distribution = make_strategy(strategy)  # with several workers, give each its own --out
    run, resume = _prepare(config, folder, source, vocab_path, cache_dir, progress, resume)
    trainer, state = _initialise(run, distribution, resume)
    _epochs(run, trainer, state, distribution.num_replicas_in_sync)
    return _report(run, state, started, strategy, distribution.num_replicas_in_sync)


def _prepare(config: TrainConfig, folder: ModelFolder, source, vocab_path, cache_dir, progress, resume):
    """Data and tokenizer: the split, the token ids (cached), a teacher's targets; whether to resume."""
    from training.data import tokenize_cached, train_validation_split

    train_all = source.load("train", limit=config.train_limit)
    tokenizer = _tokenizer(config, folder, source, train_all, vocab_path)
    if len(tokenizer) != config.model.vocab_size:
        config.model = dataclasses.replace(config.model, vocab_size=len(tokenizer))
    if len(source.labels) != config.model.num_classes:
        config.model = dataclasses.replace(config.model, num_classes=len(source.labels))
    checkpoint = folder.checkpoint_dir
    if resume is None:   # rerunning the same command continues its run
        resume = checkpoint.exists() and folder.train_config_path.exists() \
            and json.loads(folder.train_config_path.read_text()) == config.to_dict()
    if not resume and checkpoint.exists():
        raise ValueError(f"{folder.path} already holds a training run with another configuration; pass --resume "
                         "to continue it or choose another --out")
    train_set, val_set = train_validation_split(train_all, config.val_fraction, config.validation_seed)
    cache = Path(cache_dir) if cache_dir else folder.cache_dir
    train_seqs = tokenize_cached(train_set, tokenizer, cache / "train.npz", progress)
    val_seqs = tokenize_cached(val_set, tokenizer, cache / "validation.npz", progress)
    run = _Run(config, folder, source, tokenizer, train_set, val_set, train_seqs, val_seqs, train_set.labels,
               cache, progress)
    if config.teacher:
        run.train_seqs, run.targets, run.distillation = _teacher_targets(
            config, train_set, train_seqs, val_set, val_seqs, tokenizer, source, cache, progress)
    return run, resume


def _initialise(run: _Run, distribution, resume: bool) -> tuple[Trainer, dict]:
    """The model and optimizer, from a checkpoint, a language model, masked-LM pretraining or scratch."""
    from training.batching import make_batches

    config, folder = run.config, run.folder
    per_epoch = len(make_batches(run.train_seqs, run.targets, config.model.bucket_lengths, config.batch_tokens,
                                 config.max_batch, np.random.default_rng(0),
                                 multiple_of=distribution.num_replicas_in_sync))
    trainer = Trainer(config, distribution, per_epoch * config.epochs)
    folder.write_config(CLASSIFIER, config.model, labels=run.source.labels, tokenizer=run.tokenizer.options)
    folder.write_data_record(run.source.record())
    write_json_atomic(folder.train_config_path, config.to_dict())
    state = {"epoch": 0, "best_val_accuracy": -1.0, "best_epoch": 0,
             "train_seconds": run.distillation.get("teacher_seconds", 0.0)}
    if resume and folder.checkpoint_dir.exists():
        state = _load_checkpoint(trainer, folder.checkpoint_dir)
    elif config.init_from:
        from training.pretrain import transfer_from_classifier, transfer_from_language_model

        source = ModelFolder(config.init_from)
        if source.exists() and source.kind == CLASSIFIER:
            state["pretrain"] = transfer_from_classifier(source, trainer.model, run.tokenizer.options,
                                                         folder.vocab_text() if folder.vocab_path.exists() else None)
        else:
            state["pretrain"] = transfer_from_language_model(config.init_from, trainer.model, folder.vocab_path)
        for variable, average in zip(trainer.model.trainable_variables,
                                     getattr(trainer.optimizer, "_model_variables_moving_average", None) or []):
            average.assign(variable)   # the weight average starts from the copied weights
        state["train_seconds"] += state["pretrain"]["pretrain_seconds"] or 0.0
    elif config.pretrain_steps > 0:
        state["pretrain"] = _pretrain_encoder(config, trainer, run.tokenizer, run.train_seqs, run.source, run.cache,
                                              run.progress, folder.checkpoint_dir.with_name("pretrain"))
        state["train_seconds"] += state["pretrain"]["pretrain_seconds"]
    if not (resume and folder.log_path.exists()):
        with open(folder.log_path, "w", newline="") as f:
            csv.writer(f).writerow(LOG_FIELDS)
    return trainer, state


LOG_FIELDS = ["epoch", "loss", "train_accuracy", "val_accuracy", "learning_rate", "epoch_seconds",
              "truncated_reviews"]


def _epochs(run: _Run, trainer: Trainer, state: dict, replicas: int) -> None:
    """Epochs from ``state["epoch"]`` on: each one validated, the best kept, a checkpoint after it."""
    from tqdm import tqdm

    from training.batching import make_batches

    config = run.config
    buckets = config.model.bucket_lengths
    val_batches = make_batches(run.val_seqs, run.val_set.labels, buckets, config.batch_tokens, config.max_batch,
                               drop_remainder=False)
    for epoch in range(state["epoch"], config.epochs):
        epoch_start = time.time()
        batches = make_batches(run.train_seqs, run.targets, buckets, config.batch_tokens, config.max_batch,
                               np.random.default_rng(config.seed * 1000 + epoch), multiple_of=replicas)
        if config.token_dropout:
            mask_tokens(batches, config.token_dropout, run.tokenizer.mask_id, np.random.default_rng(config.seed + epoch))
        totals, done_seconds = _epoch_batches(run, trainer, state, batches, epoch, epoch_start)
        with trainer.averaged_weights():
            probs, rows = trainer.predict_batches(val_batches)
            val_accuracy = float((_predicted(probs) == run.val_set.labels[rows]).mean())
            seconds = done_seconds + time.time() - epoch_start
            state["train_seconds"] += seconds
            if val_accuracy > state["best_val_accuracy"]:
                state.update(best_val_accuracy=val_accuracy, best_epoch=epoch + 1)
                save_keras_atomic(trainer.model, run.folder.model_path)
        state["epoch"] = epoch + 1
        loss, correct, seen = totals
        row = [epoch + 1, round(loss / max(seen, 1), 5), round(correct / max(seen, 1), 5), round(val_accuracy, 5),
               float(trainer.optimizer.learning_rate.numpy()), round(seconds, 1), sum(b.truncated for b in batches)]
        with open(run.folder.log_path, "a", newline="") as f:
            csv.writer(f).writerow(row)
        _save_checkpoint(trainer, run.folder.checkpoint_dir, state)
        if run.progress:
            tqdm.write(f"epoch {epoch + 1}: loss {row[1]:.4f}  train acc {row[2]:.4f}  "
                       f"val acc {val_accuracy:.4f}  ({seconds:.0f}s)")
        if config.patience and state["epoch"] - state["best_epoch"] >= config.patience:
            state["stopped_early"] = state["epoch"]
            if run.progress:
                tqdm.write(f"no better validation accuracy for {config.patience} epoch(s): stopping early")
            break


def _epoch_batches(run: _Run, trainer: Trainer, state: dict, batches: list, epoch: int, epoch_start: float):
    """One epoch's training batches, from where a stopped run left off; a checkpoint every
    ``checkpoint_minutes``. Returns (loss sum, correct, seen) and the seconds spent before a resume."""
    from tqdm import tqdm

    first = state.pop("batch", 0)   # a run stopped inside this epoch goes on after its last checkpoint
    total_loss, total_correct, seen = state.pop("totals", (0.0, 0.0, 0.0)) if first else (0.0, 0.0, 0.0)
    done_seconds = state.pop("epoch_seconds", 0.0) if first else 0.0
    last_save = time.time()
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{run.config.epochs}", unit="batch", disable=not run.progress,
               initial=first, total=len(batches))
    for index in range(first, len(batches)):
        batch = batches[index]
        loss, correct = trainer.train_batch(batch)
        n = len(batch.labels)
        total_loss, total_correct, seen = total_loss + loss * n, total_correct + correct, seen + n
        bar.update(1)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.4f}")
        if time.time() - last_save >= run.config.checkpoint_minutes * 60 and index + 1 < len(batches):
            _save_checkpoint(trainer, run.folder.checkpoint_dir, {
                **state, "batch": index + 1, "totals": [total_loss, total_correct, seen],
                "epoch_seconds": done_seconds + time.time() - epoch_start})
            last_save = time.time()
    bar.close()
    return (total_loss, total_correct, seen), done_seconds


def _report(run: _Run, state: dict, started: float, strategy: str, replicas: int) -> dict:
    """The best epoch's model on test, once; metrics.json."""
    import tensorflow as tf

    from training.data import tokenize_cached
    from training.evaluate import evaluate_model

    config, distillation = run.config, run.distillation
    best = run.folder.load_keras()
    test = run.source.load("test", limit=config.test_limit)
    test_start = time.time()
    metrics = evaluate_model(best, run.tokenizer, test, config, run.cache / "test.npz", run.progress,
                             names=run.source.labels)
    test_seconds = time.time() - test_start
    if config.teacher:   # the teacher alone on the same test rows, for comparison (it chose nothing)
        from training.evaluate import classification_metrics

        test_seqs = tokenize_cached(test, run.tokenizer, run.cache / "test.npz", run.progress)
        teacher_test = classification_metrics(test.labels, distillation.pop("model").predict_classes(test_seqs),
                                              run.source.labels)
        distillation["teacher_test"] = {k: teacher_test[k] for k in ("accuracy", "macro_f1")}
    metrics.update(
        split="test", best_epoch=state["best_epoch"], val_accuracy=state["best_val_accuracy"],
        train_seconds=round(state["train_seconds"], 1), test_seconds=round(test_seconds, 1),
        wall_seconds=round(time.time() - started, 1),
        machine={**describe_machine(), "tensorflow": tf.__version__}, strategy=strategy, replicas=replicas,
        train_reviews=len(run.train_set), val_reviews=len(run.val_set), labels=run.source.labels,
        stopped_early=state.get("stopped_early"), **distillation, **state.get("pretrain", {}))
    run.folder.write_metrics(metrics)
    return metrics


def _tokenizer(config: TrainConfig, folder: ModelFolder, source, train_all, vocab_path: str | None):
    """Bytes, or WordPiece from ``vocab_path``, the folder's vocab.txt or one learned on the training texts."""
    from edge_runtime.tokenizer import TOKENIZERS, WordPieceTokenizer, load_tokenizer
    from training.vocab import learn_vocab

    choice = TOKENIZERS[config.tokenizer]
    options = choice.options_for(config.lowercase, config.strip_accents)
    if choice.rules is None:
        if vocab_path:
            raise ValueError("--vocab is a WordPiece vocabulary; a byte-level model (--tokenizer bytes) has none")
        return load_tokenizer(options)
    vocab_file = folder.vocab_path
    if vocab_path:
        shutil.copyfile(vocab_path, vocab_file)
    if not vocab_file.exists():
        texts = train_all.texts
        if config.train_limit is None and source.has_unlabelled:
            texts = texts + source.load("unsupervised").texts
        learn_vocab(texts[: config.vocab_limit], config.vocab_size, vocab_file, lowercase=config.lowercase,
                    strip_accents=config.strip_accents, rules=choice.rules)
    return WordPieceTokenizer.from_file(vocab_file, options)


def _predicted(probs: np.ndarray) -> np.ndarray:
    """The predicted class of each row: P(label 1) >= 0.5 for two labels (as always), else the argmax."""
    return (probs[:, 1] >= 0.5).astype(np.int64) if probs.shape[1] == 2 else probs.argmax(axis=1)


def _teacher_targets(config, train_set, train_seqs, val_set, val_seqs, tokenizer, source, cache,
                     progress) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """Fit the n-gram teacher on the training reviews; return sequences, soft targets and a summary.

    A labelled review's target is ``(1 - teacher_weight) * label + teacher_weight * teacher``
    (with more than two labels: the one-hot label and the teacher's distribution); each of the
    first ``unlabelled_reviews`` unlabelled texts is added with the teacher's probabilities alone.
    Validation and test reviews are never seen by the teacher's fit.
    """
    from training.data import tokenize_cached
    from training.teacher import NgramTeacher

    start = time.time()
    teacher = NgramTeacher(config.model.vocab_size).fit(train_seqs, train_set.labels)
    weight = config.teacher_weight
    truth = train_set.labels if teacher.num_classes == 2 else np.eye(teacher.num_classes)[train_set.labels]
    targets = ((1 - weight) * truth + weight * teacher.predict(train_seqs)).astype(np.float32)
    sequences = list(train_seqs)
    if config.unlabelled_reviews and source.has_unlabelled:
        unlabelled = source.load("unsupervised", limit=config.unlabelled_reviews)
        unlabelled_seqs = tokenize_cached(unlabelled, tokenizer, cache / "unsupervised.npz", progress)
        sequences += unlabelled_seqs
        targets = np.concatenate([targets, teacher.predict(unlabelled_seqs)])
    val_accuracy = float((_predicted(teacher.predict_classes(val_seqs)) == val_set.labels).mean())
    summary = {"teacher": config.teacher, "teacher_val_accuracy": val_accuracy, "model": teacher,
               "unlabelled_reviews": len(sequences) - len(train_seqs),
               "teacher_seconds": round(time.time() - start, 1)}
    if progress:
        print(f"teacher: {val_accuracy:.4f} validation accuracy; {summary['unlabelled_reviews']} unlabelled "
              f"reviews added ({summary['teacher_seconds']:.0f}s)")
    return sequences, targets, summary


def _pretrain_encoder(config, trainer, tokenizer, train_seqs, source, cache, progress, checkpoint: Path) -> dict:
    """Masked-LM pretraining on the training texts (never validation or test), and on the unlabelled
    ones where the source has them and ``pretrain_unlabelled`` says so; resumable from ``checkpoint``."""
    import hashlib

    from training.data import tokenize_cached
    from training.pretrain import pretrain, transfer_encoder

    sequences = list(train_seqs)
    if config.pretrain_unlabelled and config.train_limit is None and source.has_unlabelled:
        unlabelled = source.load("unsupervised")
        sequences += tokenize_cached(unlabelled, tokenizer, cache / "unsupervised.npz", progress)
    fingerprint = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    mlm, summary = pretrain(config.model, sequences, config.pretrain_steps, config.batch_tokens,
                            config.max_batch, config.pretrain_learning_rate, config.seed, tokenizer.mask_id,
                            first_regular_id=1 + max(tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id,
                                                     tokenizer.sep_id, tokenizer.mask_id),
                            jit_compile=config.jit_compile, progress=progress, checkpoint=checkpoint,
                            checkpoint_minutes=config.checkpoint_minutes, fingerprint=fingerprint)
    transfer_encoder(mlm, trainer.model)
    return summary
