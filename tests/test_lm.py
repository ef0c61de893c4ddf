"""The causal language model: training output, conversion, and decoding that agrees everywhere."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_runtime import BundleError, TextClassifier
from edge_runtime.generator import TextGenerator

pytestmark = pytest.mark.imdb
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    from convert.lm import convert_lm_dir
    from model.config import TransformerConfig
    from model.patterns import AttentionPattern
    from training.train_lm import LMConfig, train_lm

    folder = tmp_path_factory.mktemp("lm")
    model = TransformerConfig(vocab_size=12000, max_length=64, d_model=32, num_heads=2, num_layers=2, d_ff=64,
                              dropout=0.0, pattern=AttentionPattern("strided", block_size=16, causal=True))
    config = LMConfig(model=model, steps=400, batch_size=8, val_reviews=20, eval_every=200, text_limit=300,
                      jit_compile=False)
    train_lm(config, folder, str(REPO / "artifacts" / "imdb-classifier" / "vocab.txt"), progress=False)
    convert_lm_dir(folder, ["float32", "dynamic"])
    return folder


def test_training_writes_perplexity_and_bits_per_character(lm_dir):
    metrics = json.loads((lm_dir / "metrics.json").read_text())
    assert 0 < metrics["val_bits_per_character"] < 10
    # well below a unigram model of the same training windows (token frequencies alone) on the same
    # held-out reviews: the model learned context, not just which tokens are common
    import numpy as np

    from training.data import load_imdb
    from training.saved import ModelFolder
    from training.train_lm import LMConfig

    config = LMConfig.from_dict(json.loads((lm_dir / "train_config.json").read_text()))
    tokenizer = ModelFolder(lm_dir).tokenizer()
    unlabelled = load_imdb("unsupervised", limit=config.text_limit)
    held_out = set(np.random.default_rng(config.seed).permutation(len(unlabelled))[: config.val_reviews].tolist())
    ids = [[tokenizer.cls_id, *tokenizer.token_ids(t), tokenizer.sep_id][: config.model.max_length]
           for t in unlabelled.texts]
    train_counts = np.bincount(np.concatenate([s[1:] for i, s in enumerate(ids) if i not in held_out]),
                               minlength=len(tokenizer)) + 1.0
    log_p = np.log(train_counts / train_counts.sum())
    val_targets = np.concatenate([s[1:] for i, s in enumerate(ids) if i in held_out])
    unigram_perplexity = float(np.exp(-log_p[val_targets].mean()))
    assert metrics["val_perplexity"] < 0.9 * unigram_perplexity, (metrics["val_perplexity"], unigram_perplexity)
    assert metrics["val_tokens"] > 0 and (lm_dir / "log.csv").read_text().count("\n") == 3


def test_greedy_decoding_from_tflite_equals_keras_token_for_token(lm_dir):
    from convert.lm import load_lm
    from edge_runtime.tokenizer import WordPieceTokenizer
    from training.generate import keras_generate_ids

    model = load_lm(lm_dir)
    tokenizer = WordPieceTokenizer.from_file(lm_dir / "vocab.txt")
    for prompt in ["This movie was", "I have never seen such a"]:
        keras_ids = keras_generate_ids(model, tokenizer, prompt, max_new_tokens=50, temperature=0)
        tflite = TextGenerator(lm_dir / "tflite" / "float32.tflite").generate(prompt, max_new_tokens=50, temperature=0)
        expected = [i for i in keras_ids if i != tokenizer.sep_id]
        assert tflite.token_ids == expected
        assert len(keras_ids) == 50 or keras_ids[-1] == tokenizer.sep_id   # 50 tokens unless the review ended


def test_sampling_with_a_seed_repeats_and_long_prompts_slide(lm_dir):
    generator = TextGenerator(lm_dir / "tflite" / "dynamic.tflite")
    a = generator.generate("The acting", 30, temperature=0.9, top_k=20, seed=7)
    b = generator.generate("The acting", 30, temperature=0.9, top_k=20, seed=7)
    assert a.token_ids == b.token_ids and a.text == b.text
    long = generator.generate("great film " * 100, 5)
    assert long.slid and long.prompt_tokens > 64 and len(long.token_ids) <= 5
    assert "".join(generator.stream("The acting", 10, seed=1)) == generator.generate("The acting", 10, seed=1).text
    with pytest.raises(ValueError, match="max_new_tokens must be between 0 and 512"):
        generator.generate("x", 10_000)


def test_the_wrong_kind_of_model_is_refused(lm_dir):
    with pytest.raises(BundleError, match="not a language model"):
        TextGenerator(REPO / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite")
    with pytest.raises(BundleError, match="is a language model, not a classifier"):
        TextClassifier(lm_dir / "tflite" / "float32.tflite")


def test_generate_command_streams_and_rejects_an_empty_prompt(lm_dir):
    run = lambda *a: subprocess.run([sys.executable, "-m", "sparse_edge.cli", "generate", *a],  # noqa: E731
                                    capture_output=True, text=True, cwd=REPO)
    out = run(str(lm_dir / "tflite" / "float32.tflite"), "This movie was", "--max-new-tokens", "8")
    assert out.returncode == 0 and out.stdout.startswith("This movie was ")
    out = run(str(lm_dir / "tflite" / "float32.tflite"), "   ")
    assert out.returncode == 2 and "the prompt is empty" in out.stderr
    out = run(str(lm_dir / "tflite" / "float32.tflite"), "word " * 200, "--max-new-tokens", "2")
    assert out.returncode == 0 and "only its end is used" in out.stderr


def test_a_classifier_starts_from_the_language_model_weights(lm_dir, tmp_path):
    import dataclasses

    import keras

    from model.config import TransformerConfig
    from model.patterns import AttentionPattern
    from training.pretrain import transfer_from_language_model
    from model.transformer import SparseTransformerClassifier

    lm = keras.models.load_model(lm_dir / "model.keras", safe_mode=True)
    # bidirectional bigbird and a longer max length than the LM's 64-token context: weights still fit
    config = TransformerConfig(vocab_size=12000, max_length=128, d_model=32, num_heads=2, num_layers=2, d_ff=64,
                               pattern=AttentionPattern("bigbird", block_size=16, num_random=1))
    classifier = SparseTransformerClassifier(config)
    classifier.build(None)
    before = classifier.embedding.positions.numpy()
    info = transfer_from_language_model(lm_dir, classifier, lm_dir / "vocab.txt")
    np.testing.assert_array_equal(classifier.embedding.tokens.numpy(), lm.embedding.tokens.numpy())
    np.testing.assert_array_equal(classifier.embedding.positions.numpy()[:64], lm.embedding.positions.numpy())
    np.testing.assert_array_equal(classifier.embedding.positions.numpy()[64:], before[64:])
    for a, b in zip(lm.blocks, classifier.blocks):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
    assert info["init_positions_copied"] == 64 and info["pretrain_seconds"] > 0

    narrow = SparseTransformerClassifier(dataclasses.replace(config, d_ff=128))
    narrow.build(None)
    with pytest.raises(ValueError, match="d_ff is 64 but the classifier's is 128"):
        transfer_from_language_model(lm_dir, narrow, lm_dir / "vocab.txt")
    other_vocab = tmp_path / "vocab.txt"
    other_vocab.write_text("[PAD]\n[UNK]\n")
    with pytest.raises(ValueError, match="differs from the classifier's vocabulary"):
        transfer_from_language_model(lm_dir, classifier, other_vocab)
