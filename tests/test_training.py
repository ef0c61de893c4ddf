"""Training on small IMDB slices: outputs, resume, bad checkpoints and configs, tf.distribute."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from model.config import TransformerConfig
from model.patterns import AttentionPattern
from training.train_config import TrainConfig
from tests.reference import remeasured_metrics

REPO = Path(__file__).resolve().parents[1]


def tiny_config(**changes) -> TrainConfig:
    model = TransformerConfig(vocab_size=2000, max_length=256, d_model=32, num_heads=2, num_layers=1, d_ff=64,
                              dropout=0.0, pattern=AttentionPattern("local", block_size=32, window=3))
    values = dict(model=model, epochs=1, batch_tokens=4096, max_batch=32, learning_rate=3e-3,
                  vocab_size=2000, train_limit=160, test_limit=64, jit_compile=False)
    values.update(changes)
    return TrainConfig(**values)


@pytest.mark.imdb
def test_training_writes_model_config_vocab_log_and_metrics(tmp_path, vocab):
    from training.saved import classify_texts, load_trained
    from training.train import train

    metrics = train(tiny_config(epochs=2), tmp_path, vocab_path=vocab, progress=False)
    for name in ("model.keras", "config.json", "train_config.json", "vocab.txt", "log.csv", "metrics.json"):
        assert (tmp_path / name).exists(), name
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    again = remeasured_metrics(tmp_path, 64)   # the saved model, reloaded, on the same 64 test reviews
    assert saved["n"] == again["n"] == 64 and saved["accuracy"] == pytest.approx(again["accuracy"])
    assert saved["confusion_matrix"]["rows_true_cols_predicted"] == again["confusion_matrix"]
    assert metrics["accuracy"] == saved["accuracy"]
    model, tokenizer, _ = load_trained(tmp_path)
    [result] = classify_texts(model, tokenizer, ["A wonderful film. " * 200])
    assert result.truncated and result.n_tokens > 256
    assert result.label == ("negative", "positive")[max(range(2), key=lambda i: result.probabilities[i])]
    assert result.score == max(result.probabilities)


@pytest.mark.imdb
def test_same_seed_same_run(tmp_path, vocab, tiny_trained):
    from training.train import train

    a = json.loads((tiny_trained / "metrics.json").read_text())   # the shared run of tiny_config()
    b = train(tiny_config(), tmp_path / "b", vocab_path=vocab, progress=False)
    assert a["accuracy"] == b["accuracy"]
    log = lambda d: [r["loss"] for r in csv.DictReader(open(d / "log.csv"))]  # noqa: E731
    assert log(tiny_trained) == log(tmp_path / "b")


@pytest.mark.imdb
def test_resume_continues_from_the_last_checkpoint(tmp_path, vocab):
    from training.train import train

    train(tiny_config(epochs=1), tmp_path, vocab_path=vocab, progress=False)
    with pytest.raises(ValueError, match="already holds a training run with another configuration; pass --resume"):
        train(tiny_config(epochs=2), tmp_path, vocab_path=vocab, progress=False)
    train(tiny_config(epochs=2), tmp_path, vocab_path=vocab, progress=False, resume=True)
    assert [r["epoch"] for r in csv.DictReader(open(tmp_path / "log.csv"))] == ["1", "2"]
    state = json.loads((tmp_path / "checkpoints" / "last" / "state.json").read_text())
    assert state["epoch"] == 2


@pytest.mark.imdb
def test_a_word_model_stopped_mid_epoch_resumes_weight_for_weight_to_the_uninterrupted_run(tmp_path, vocab,
                                                                                          tiny_trained):
    """The word model (WordPiece, the shipped kind), not only the byte one: interrupted at its third batch, the
    same command again ends at every weight of the uninterrupted run (tiny_trained: the same config, checkpointed
    only at the end)."""
    import numpy as np

    import training.train as training
    from training.saved import ModelFolder

    real, calls = training.Trainer.train_batch, {"n": 0}
    EVERY_BATCH = tiny_config(checkpoint_minutes=1e-6)   # a checkpoint after every batch; the same arithmetic

    def stop_at_the_third_batch(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt   # as a session cut off mid-epoch
        return real(self, batch)

    training.Trainer.train_batch = stop_at_the_third_batch
    try:
        with pytest.raises(KeyboardInterrupt):
            training.train(EVERY_BATCH, tmp_path, vocab_path=vocab, progress=False)
    finally:
        training.Trainer.train_batch = real
    state = json.loads((tmp_path / "checkpoints" / "last" / "state.json").read_text())
    assert (state["epoch"], state["batch"]) == (0, 2)
    resumed = training.train(EVERY_BATCH, tmp_path, vocab_path=vocab, progress=False)
    whole = [v.numpy() for v in ModelFolder(tiny_trained).load_keras().trainable_variables]
    again = [v.numpy() for v in ModelFolder(tmp_path).load_keras().trainable_variables]
    assert len(whole) == len(again) > 4
    for a, b in zip(whole, again):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert resumed["accuracy"] == json.loads((tiny_trained / "metrics.json").read_text())["accuracy"]


@pytest.mark.imdb
def test_a_corrupt_checkpoint_is_refused_clearly(tmp_path, vocab):
    from training.train import train

    train(tiny_config(epochs=1), tmp_path, vocab_path=vocab, progress=False)
    (tmp_path / "checkpoints" / "last" / "variables.npz").write_bytes(b"not an npz file")
    with pytest.raises(ValueError, match="is corrupt or from another model .*delete it or train without --resume"):
        train(tiny_config(epochs=2), tmp_path, vocab_path=vocab, progress=False, resume=True)


@pytest.mark.parametrize("values, message", [
    ({"epochs": 1, "learnig_rate": 0.1}, "unknown training config keys \\['learnig_rate'\\]"),
    ({"epochs": 0}, "epochs must be a positive integer, got 0"),
    ({"batch_tokens": 100}, "batch_tokens 100 cannot hold one review of max_length 1024"),
    ({"model": {"d_model": -4}}, "d_model must be a positive integer, got -4"),
    ({"teacher": "bert"}, "unknown teacher 'bert'; use \"ngram\" or null for none"),
    ({"teacher": "ngram", "teacher_weight": 1.5}, "teacher_weight must be in \\[0, 1\\], got 1.5"),
    ({"unlabelled_reviews": 100}, "unlabelled_reviews needs a teacher to label them"),
])
def test_impossible_training_configs_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


def test_missing_dataset_names_the_three_ways_to_provide_it(tmp_path):
    from training.data import DatasetMissing, load_imdb

    with pytest.raises(DatasetMissing) as error:
        load_imdb("train", data_dir=str(tmp_path), limit=10)
    message = str(error.value)
    assert "--data-dir" in message and "TFDS_DATA_DIR" in message and "--manual-dir" in message
    assert "network" in message


def _run(args, env=None, timeout=600):
    env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


DISTRIBUTED = """
import json, sys
import tensorflow as tf
if sys.argv[1] == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.test_training import tiny_config
from training.train import train
metrics = train(tiny_config(train_limit=96, test_limit=32), sys.argv[2], vocab_path=sys.argv[3],
                strategy=sys.argv[1], progress=False)
print(json.dumps({"replicas": metrics["replicas"], "accuracy": metrics["accuracy"]}))
"""


@pytest.mark.imdb
@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus_trains(tmp_path, vocab):
    result = _run(["-c", DISTRIBUTED, "mirrored", str(tmp_path / "run"), vocab])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["replicas"] == 2
    assert (tmp_path / "run" / "model.keras").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.imdb
@pytest.mark.slow
def test_multiworker_strategy_with_two_local_workers_trains(tmp_path, vocab):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    env = dict(os.environ)
    workers = []
    for index in range(2):
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen([sys.executable, "-c", DISTRIBUTED, "multiworker",
                                         str(tmp_path / f"worker{index}"), vocab], cwd=REPO, env=dict(env),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        results = [worker.communicate(timeout=600) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    outputs = []
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert [o["replicas"] for o in outputs] == [2, 2]
    # both workers hold the same all-reduced weights, so they agree on the test slice
    assert outputs[0]["accuracy"] == outputs[1]["accuracy"]


@pytest.mark.imdb
def test_masked_lm_pretraining_runs_and_hands_its_encoder_to_the_classifier(tmp_path, vocab):
    import numpy as np

    from training.pretrain import mask_batch
    from training.train import train

    ids = np.array([[2, 10, 11, 12, 13, 14, 15, 16, 3, 0, 0]], np.int32)
    inputs, positions, targets, weights = mask_batch(ids, np.random.default_rng(0), 100, 5, 4, per_row=2)
    assert (targets[weights > 0] == ids[0, positions[weights > 0]]).all()
    assert set(positions[weights > 0].tolist()) <= set(range(1, 8))  # never [CLS], [SEP] or padding
    metrics = train(tiny_config(pretrain_steps=3), tmp_path, vocab_path=vocab, progress=False)
    assert metrics["pretrain_batches"] == 3 and metrics["pretrain_final_loss"] > 0
    # the hand-over: the classifier's embeddings, blocks and final norm become the MLM's
    from training.pretrain import SparseTransformerMLM, transfer_encoder
    from model.transformer import SparseTransformerClassifier

    config = tiny_config().model
    mlm, classifier = SparseTransformerMLM(config), SparseTransformerClassifier(config)
    mlm.build(None)
    classifier.build(None)
    transfer_encoder(mlm, classifier)
    for a, b in [(mlm.embedding, classifier.embedding), (mlm.final_norm, classifier.final_norm),
                 *zip(mlm.blocks, classifier.blocks)]:
        for x, y in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(x, y)


@pytest.mark.imdb
def test_evaluate_and_predict_commands_use_the_trained_folder(tmp_path, tiny_trained):
    from click.testing import CliRunner

    from sparse_edge.cli import main

    model = str(tiny_trained)
    reviews = tmp_path / "reviews.txt"
    reviews.write_bytes(b"A great film.\nTerrible \xff\xfe acting.\n")
    result = CliRunner().invoke(main, ["predict", model, "Loved it", "--file", str(reviews), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert "not valid UTF-8" in result.stderr
    assert len(rows) == 3
    assert [r["label"] for r in rows] == [("negative", "positive")[int(r["probabilities"][1] > 0.5)] for r in rows]
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-5 for r in rows)
    before = sorted(p.name for p in tiny_trained.iterdir())
    result = CliRunner().invoke(main, ["evaluate", model, "--limit", "40", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 40
    assert sorted(p.name for p in tiny_trained.iterdir()) == before   # nothing written beside the model
    result = CliRunner().invoke(main, ["evaluate", model, "--limit", "40", "--quiet",
                                       "--json", str(tmp_path / "eval.json")])
    assert json.loads((tmp_path / "eval.json").read_text())["n"] == 40
    result = CliRunner().invoke(main, ["predict", str(tmp_path), "text"])
    assert result.exit_code == 2 and "is not a trained model folder: missing model.keras" in result.output


@pytest.mark.imdb
def test_frozen_token_embeddings_stay_as_initialised(tmp_path, vocab, tiny_trained):
    import keras
    import numpy as np

    from training.train import Trainer, train

    initial = Trainer(tiny_config(freeze_token_embeddings=True), _default_strategy(), 10).model
    before = np.asarray(initial.embedding.tokens)
    train(tiny_config(freeze_token_embeddings=True), tmp_path / "frozen", vocab_path=vocab, progress=False)
    frozen = keras.models.load_model(tmp_path / "frozen" / "model.keras")
    free = keras.models.load_model(tiny_trained / "model.keras")   # the same config, embeddings free
    np.testing.assert_array_equal(np.asarray(frozen.embedding.tokens), before)   # same seed, same start
    assert np.abs(np.asarray(free.embedding.tokens) - before).max() > 1e-4
    assert np.abs(np.asarray(frozen.blocks[0].ffn.get_weights()[0]) -
                  np.asarray(initial.blocks[0].ffn.get_weights()[0])).max() > 1e-4


@pytest.mark.imdb
def test_distillation_adds_teacher_labelled_reviews_and_reports_the_teacher(tmp_path, vocab):
    import numpy as np

    from training.train import train

    metrics = train(tiny_config(teacher="ngram", unlabelled_reviews=48), tmp_path, vocab_path=vocab,
                    progress=False)
    assert metrics["teacher"] == "ngram" and metrics["unlabelled_reviews"] == 48
    assert 0.5 < metrics["teacher_val_accuracy"] <= 1 and metrics["train_seconds"] >= metrics["teacher_seconds"]
    with np.load(tmp_path / "cache" / "unsupervised.npz") as cached:
        assert len(cached["offsets"]) - 1 == 48   # only the first 48 unsupervised reviews were read


def _default_strategy():
    import tensorflow as tf

    return tf.distribute.get_strategy()
