"""``sparse-edge train-lm`` and ``sparse-edge generate``: the causal sparse language model."""

from __future__ import annotations

import json

import click

from edge_runtime.cli import PUBLIC_KEY_OPTION
from edge_runtime.generator import SAMPLING
from sparse_edge.commands.common import data_options, quiet_option, usage, with_tensorflow


@click.command("train-lm")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for model.keras, config.json, train_config.json, vocab.txt, log.csv, metrics.json.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="A language-model train_config.json (training/train_lm.py: LMConfig).")
@click.option("--vocab", "vocab_path", default="artifacts/imdb-classifier/vocab.txt", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The WordPiece vocabulary (shared with the classifier).")
@click.option("--steps", type=click.IntRange(1), help="Training steps (batches).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Reuse tokenized reviews cached here.")
@quiet_option
@data_options
def train_lm(out_dir, config_path, vocab_path, steps, cache_dir, quiet, data_dir, manual_dir):
    """Train the causal sparse language model on IMDB unsupervised + train reviews.

    Validation perplexity and bits per character on held-out unlabelled reviews go to
    OUT/metrics.json.
    """
    with_tensorflow("sparse-edge train-lm")
    from training.data import DatasetMissing
    from training.train_lm import LMConfig, train_lm as run

    try:
        config = LMConfig.from_dict(json.loads(open(config_path).read())) if config_path else LMConfig()
        if steps:
            config.steps = steps
        metrics = run(config, out_dir, vocab_path, data_dir, cache_dir, progress=not quiet)
    except (ValueError, DatasetMissing) as error:
        usage(str(error))
    click.echo(json.dumps({k: metrics[k] for k in ("val_perplexity", "val_bits_per_character", "train_seconds")}, indent=2))


MAX_PROMPT_CHARACTERS = 100_000   # a review is a few thousand; beyond this a prompt is a mistake


@click.command("generate")
@click.argument("model", type=click.Path(exists=True))
@click.argument("prompt")
@click.option("--max-new-tokens", default=50, show_default=True, type=int, help="At most this many tokens (0 to 512).")
@click.option("--temperature", default=SAMPLING["temperature"], show_default=True, type=float,
              help="Higher is more random; 0 picks the most likely token (greedy).")
@click.option("--top-k", default=SAMPLING["top_k"], show_default=True, type=int,
              help="Sample among the k most likely tokens (0, or k at least the vocabulary: all).")
@click.option("--top-p", default=SAMPLING["top_p"], show_default=True, type=float,
              help="Nucleus sampling: among the most likely tokens whose probabilities add up to p.")
@click.option("--repetition-penalty", default=SAMPLING["repetition_penalty"], show_default=True,
              type=float, help="Make tokens already in the text less likely (1: off).")
@click.option("--greedy", is_flag=True, help="Always the most likely token, no penalty (repeats itself soon).")
@click.option("--seed", type=int, help="Seed for sampling (repeatable output).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end instead of streaming.")
@PUBLIC_KEY_OPTION
def generate(model, prompt, max_new_tokens, temperature, top_k, top_p, repetition_penalty, greedy, seed, as_json,
             public_key):
    """Continue PROMPT with MODEL: a language-model .tflite (edge runtime, no TensorFlow) or folder (Keras).

    Tokens appear as they are produced. A file with a cached decoder reads the whole text however
    long it grows; with a file that recomputes its window, a text longer than the window is cut to
    its end (sliding window) and a note says so.
    """
    from pathlib import Path

    from edge_runtime.generator import check_sampling

    if greedy:
        temperature, top_k, top_p, repetition_penalty = 0.0, 0, 1.0, 1.0
    sampling = dict(temperature=temperature, top_k=top_k, seed=seed, top_p=top_p, repetition_penalty=repetition_penalty)
    try:
        check_sampling(max_new_tokens, temperature, top_k, top_p, repetition_penalty)
    except ValueError as error:
        usage(str(error).replace("max_new_tokens", "--max-new-tokens").replace("top_k", "--top-k")
              .replace("top_p", "--top-p").replace("repetition_penalty", "--repetition-penalty")
              .replace("temperature", "--temperature"))
    if not prompt.strip():
        usage("the prompt is empty; give a few words to continue")
    if len(prompt) > MAX_PROMPT_CHARACTERS:
        usage(f"the prompt has {len(prompt):,} characters; give at most {MAX_PROMPT_CHARACTERS:,}")
    if Path(model).is_file():
        from edge_runtime.backends import BackendMissing
        from edge_runtime.bundle import BundleError
        from edge_runtime.generator import TextGenerator

        try:
            generator = TextGenerator(model, public_key=public_key)
        except (BundleError, BackendMissing) as error:
            usage(str(error))
        if not generator.decoder and len(generator.prompt_ids(prompt)) > generator.context:
            click.echo(f"note: the prompt is longer than the {generator.context}-token context; only its end is used",
                       err=True)
        if as_json:   # Ctrl-C prints what was made so far, "interrupted": true, and exits 130
            _json_generation(generator, prompt, max_new_tokens, sampling)
            return
        click.echo(prompt + " ", nl=False)
        for piece in generator.stream(prompt, max_new_tokens, **sampling):
            click.echo(piece, nl=False)   # each piece appears as soon as its token is chosen
        click.echo()
        return
    if public_key is not None:
        usage("--public-key is for a .tflite file (a model folder is not signed)")
    with_tensorflow("generating with a Keras model folder")
    from convert.lm import load_lm
    from training.generate import keras_generate_ids
    from training.saved import ModelFolder

    try:
        lm = load_lm(model)
    except ValueError as error:
        usage(str(error))
    tokenizer = ModelFolder(model).tokenizer()
    ids = keras_generate_ids(lm, tokenizer, prompt, max_new_tokens, **sampling)
    ids = [i for i in ids if i != tokenizer.sep_id]
    text = tokenizer.decode(ids)
    click.echo(json.dumps({"text": text, "token_ids": ids}) if as_json else f"{prompt} {text}")


def _json_generation(generator, prompt: str, max_new_tokens: int, sampling: dict) -> None:
    import time

    started, ids = time.perf_counter(), []
    model, prompt_ids, tokens = generator._ids(prompt, max_new_tokens, sampling["temperature"], sampling["top_k"],
                                                sampling["seed"], sampling["top_p"], sampling["repetition_penalty"],
                                                None)

    def result(interrupted: bool) -> str:
        ended = bool(ids) and ids[-1] == generator.tokenizer.sep_id
        body = ids[:-1] if ended else ids
        return json.dumps({"text": generator.tokenizer.decode(body), "token_ids": body,
                           "prompt_tokens": len(prompt_ids), "slid": model.slid, "stopped_at_end": ended,
                           "interrupted": interrupted, "latency_ms": round((time.perf_counter() - started) * 1000, 2)})

    try:
        for token in tokens:
            ids.append(token)
    except KeyboardInterrupt:
        click.echo(result(True))
        raise
    click.echo(result(False))
