"""``sparse-edge bench ...``: benchmarks that write JSON (never timed tests)."""

from __future__ import annotations

import click

from convert.variants import EDGE, FULL_INTEGER, names, quantized_names
from training.saved import ModelFolder

SHIPPED_CLASSIFIER = "artifacts/imdb-classifier"   # the defaults' model folder

from sparse_edge.commands.common import data_options, usage, with_tensorflow


@click.group()
def bench():
    """Measure speed, memory and output stability. Each benchmark writes JSON (and a plot) you can commit."""


def json_option(name: str):
    """``--json FILE``, by default ``runs/bench/NAME.json``: where a benchmark writes its results."""
    return click.option("--json", "json_path", default=f"runs/bench/{name}.json", show_default=True,
                        type=click.Path(dir_okay=False), help="Where to write the results.")


DATA_DIR = click.option("--data-dir", envvar="TFDS_DATA_DIR", type=click.Path(file_okay=False),
                        help="TensorFlow Datasets folder holding imdb_reviews [env: TFDS_DATA_DIR].")


def _csv(kind):
    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            return [kind(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise click.BadParameter(f"expected a comma-separated list, got {value!r}")
    return parse


@bench.command("attention")
@click.option("--lengths", default="512,1024,2048,4096,8192,16384", show_default=True,
              callback=_csv(int), help="Sequence lengths n, comma-separated.")
@click.option("--patterns", default="dense,local,strided,bigbird,logsparse", show_default=True,
              callback=_csv(str), help="Attention patterns, comma-separated.")
@click.option("--backends", default="tensorflow,tflite", show_default=True, callback=_csv(str),
              help="tensorflow (Keras forward) and/or tflite (dynamic-range .tflite, 1 thread).")
@json_option("attention")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="Log-log PNG plot [default: the JSON path with .png].")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1),
              help="Timed forward passes per measurement (after one warm-up); the median is kept.")
@click.option("--memory-limit-gb", default=12.0, show_default=True, type=click.FloatRange(0.5),
              help="A measurement whose process grows past this is stopped and recorded as 'oom'.")
@click.option("--timeout", default=300, show_default=True, type=click.IntRange(10),
              help="Seconds before one measurement is stopped and recorded as 'timeout'.")
def attention(lengths, patterns, backends, json_path, plot_path, repeats, memory_limit_gb, timeout):
    """Forward time and peak memory of a small sparse Transformer per pattern and length.

    Every measurement runs in a fresh process: a TensorFlow forward pass, or a dynamic-range
    TFLite model on one thread in a process that never imports TensorFlow. Results that run
    out of memory or time are recorded, not raised.
    """
    with_tensorflow("sparse-edge bench attention")
    from sparse_edge.bench.attention import BenchSettings, run_attention_benchmark

    settings = BenchSettings(repeats=repeats, memory_limit_gb=memory_limit_gb, timeout_s=timeout)
    report = run_attention_benchmark(lengths, patterns, backends, json_path, plot_path, settings)
    for line in report["summary"]["lines"]:
        click.echo(line)


@bench.command("tokenizer")
@click.option("--vocab", "vocab_path", default=str(ModelFolder(SHIPPED_CLASSIFIER).vocab_path), show_default=True,
              type=click.Path(exists=True, dir_okay=False))
@click.option("--limit", default=5000, show_default=True, type=click.IntRange(1), help="Test reviews to tokenize.")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1))
@json_option("tokenizer")
@DATA_DIR
def tokenizer(vocab_path, limit, repeats, json_path, data_dir):
    """Reviews per second of edge_runtime's tokenizer on one core (cold and warm word cache)."""
    with_tensorflow("sparse-edge bench tokenizer (it reads IMDB)")
    from sparse_edge.bench.tokenizer import run_tokenizer_benchmark

    report = run_tokenizer_benchmark(vocab_path, json_path, limit, repeats, data_dir)
    click.echo(f"{report['reviews_per_second_cold_median']:.0f} reviews/s cold, "
               f"{report['reviews_per_second_warm_median']:.0f} warm (median of {repeats}, {limit} reviews)")


@bench.command("edge")
@click.option("--model-dir", default=SHIPPED_CLASSIFIER, show_default=True,
              type=click.Path(exists=True, file_okay=False), help="A model folder with tflite/<variant>.tflite.")
@click.option("--variants", default=",".join(quantized_names()), show_default=True, callback=_csv(str))
@click.option("--limit", type=click.IntRange(1), help="Test reviews for the --file throughput [default: all 25,000].")
@click.option("--no-venv-sizes", is_flag=True, help="Skip building fresh environments to measure their size.")
@json_option("edge")
@DATA_DIR
def edge(model_dir, variants, limit, no_venv_sizes, json_path, data_dir):
    """Latency, throughput, cold start and install size of the edge runtime (1 thread per invoke)."""
    with_tensorflow("sparse-edge bench edge (it reads IMDB)")
    from sparse_edge.bench.edge import run_edge_benchmark

    report = run_edge_benchmark(model_dir, variants, json_path, data_dir, limit, sizes=not no_venv_sizes,
                                progress=lambda line: click.echo(line, err=True))
    for line in report["goals"]:
        click.echo(line)


@bench.command("kernels")
@click.option("--model-dir", default=SHIPPED_CLASSIFIER, show_default=True,
              type=click.Path(exists=True, file_okay=False), help="A model folder with tflite/<variant>.tflite.")
@click.option("--variants", default=None, callback=_csv(str),
              help="Comma-separated variants [default: every MODEL_DIR/tflite/<variant>.tflite there is].")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1), help="Test reviews to compare on.")
@json_option("kernels")
@DATA_DIR
def kernels(model_dir, variants, limit, json_path, data_dir):
    """How far each variant's probabilities move when other CPU kernels run it (XNNPACK vs built-in).

    Quantized files round activations while they run, so another CPU (AVX2, AVX-512, NEON) can
    give slightly different probabilities from the same file; this measures by how much.
    """
    with_tensorflow("sparse-edge bench kernels (it reads IMDB)")
    from sparse_edge.bench.kernels import run_kernel_benchmark

    variants = variants or [v for v in names(EDGE) if ModelFolder(model_dir).tflite(v).exists()]
    if not variants:
        usage(f"no .tflite in {ModelFolder(model_dir).tflite_dir}; run `sparse-edge convert {model_dir}` first")
    try:
        run_kernel_benchmark(model_dir, variants, json_path, data_dir, limit,
                             progress=lambda line: click.echo(line))
    except FileNotFoundError as error:
        usage(str(error))


@bench.command("peers")
@click.option("--model-dir", default=SHIPPED_CLASSIFIER, show_default=True,
              type=click.Path(exists=True, file_okay=False), help="A model folder with tflite/<variant>.tflite.")
@click.option("--variants", default=",".join(quantized_names()), show_default=True, callback=_csv(str))
@click.option("--latency-reviews", default=500, show_default=True, type=click.IntRange(10),
              help="Test reviews timed one per call for every system.")
@click.option("--cold-repeats", default=3, show_default=True, type=click.IntRange(1),
              help="Fresh processes per system for cold start and peak memory (median).")
@click.option("--out", "out_dir", default="runs/bench/peers", show_default=True, type=click.Path(file_okay=False),
              help="Where the peers' model files go.")
@click.option("--limit", type=click.IntRange(100), help="Only the first N train and N test reviews (quick checks; IMDB is stored shuffled).")
@json_option("peers")
@click.option("--combine-with", type=click.Path(exists=True, file_okay=False), metavar="BYTE_MODEL_DIR",
              help="Also mix a byte-level model's log-odds with the --model-dir model's (weights fitted on the "
                   "validation reviews both held out) and test the mix against NB-LR (exact McNemar).")
@data_options
def peers(model_dir, variants, latency_reviews, cold_repeats, out_dir, limit, json_path, combine_with, data_dir,
          manual_dir):
    """Train TF-IDF + LR, NB-LR and fastText on IMDB train and measure them against the shipped .tflite
    variants in one run: accuracy, size, latency, throughput, cold start, memory, behaviour."""
    with_tensorflow("sparse-edge bench peers")
    from sparse_edge.bench.combine import combination
    from sparse_edge.bench.peers import run_peers_benchmark

    try:
        report = run_peers_benchmark(model_dir, variants, json_path, data_dir, out_dir, latency_reviews,
                                     cold_repeats, progress=lambda line: click.echo(line, err=True), limit=limit,
                                     combine_with=combine_with, combine=combination)
    except (FileNotFoundError, ValueError) as error:
        usage(str(error))
    for name, row in report["systems"].items():
        click.echo(f"{name:18s} {row['accuracy']:.2%}  {row['size_bytes'] / 1e6:6.2f} MB  "
                   f"p50 {row['latency_ms']['p50']:.2f} ms  behaviour {row['behaviour']['all']['pass_rate']:.0%}")
    if "combination" in report:
        c = report["combination"]
        click.echo(f"word + bytes     {c['accuracy']['combined']:.2%}  against NB-LR {c['accuracy']['nb-lr']:.2%}: "
                   f"McNemar p = {c['mcnemar_vs_nb_lr']['p_value']:.3g}; {c['decision']}")


@bench.command("baseline")
@click.option("--model-dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="A trained classifier folder; the baseline uses its data and split (data.json). With --lm: a "
                   "language-model folder (its train_config.json and vocab.txt).")
@json_option("baseline")
@click.option("--quiet", is_flag=True, help="Do not print each regularisation strength's validation accuracy.")
@click.option("--byte-ngrams", type=click.IntRange(1), metavar="N",
              help="Byte 1-5-grams of each text's first N UTF-8 bytes instead of word 1-2-grams (the counting "
                   "baseline of a byte-level model).")
@click.option("--lm", is_flag=True,
              help="The counting baseline of a language model: interpolated modified Kneser-Ney n-grams counted on "
                   "its training reviews' word pieces, perplexity and bits per character on its held-out reviews.")
@click.option("--orders", default="2,3,4,5", show_default=True, callback=_csv(int),
              help="With --lm: the n-gram orders to count, comma-separated (1 to 5).")
@data_options
def baseline(model_dir, json_path, quiet, byte_ngrams, lm, orders, data_dir, manual_dir):
    """TF-IDF + logistic regression on the model folder's own train/validation/test split:
    accuracy, macro-F1 and per-label scores on the same test rows as the Transformer.
    With --lm, Kneser-Ney n-grams on a language model's own tokens instead."""
    from sparse_edge.bench.baseline import run_baseline, run_lm_baseline

    if lm:
        if byte_ngrams:
            usage("--byte-ngrams is for classifiers; leave it out with --lm")
        if not orders or any(not 1 <= n <= 5 for n in orders):
            usage(f"--orders must be numbers from 1 to 5, got {','.join(map(str, orders))}")
        try:
            report = run_lm_baseline(model_dir, json_path, orders, data_dir, progress=not quiet)
        except ValueError as error:
            usage(str(error))
        click.echo(f"Kneser-Ney: best order {report['best_order']}, perplexity {report['best_perplexity']:.1f} on "
                   f"{report['val_tokens']:,} held-out tokens; {json_path}")
        return
    try:
        report = run_baseline(model_dir, json_path, data_dir, manual_dir, progress=not quiet, byte_ngrams=byte_ngrams)
    except ValueError as error:
        usage(str(error))
    click.echo(f"baseline: accuracy {report['test']['accuracy']:.4f}, macro-F1 {report['test']['macro_f1']:.4f} "
               f"on {report['test']['n']:,} test rows (C={report['C']}); {json_path}")


@bench.command("decode")
@click.option("--model-dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="A converted language-model folder (tflite/<variant>.tflite with prefill and decode signatures).")
@click.option("--variants", default="float32,dynamic", show_default=True, callback=_csv(str),
              help="Which of the folder's .tflite files to time, comma-separated.")
@click.option("--positions", default="64,1024,4096,16384", show_default=True, callback=_csv(int),
              help="Positions in the text where tokens per second are measured (the text grows to the last).")
@click.option("--prompt-tokens", default=256, show_default=True, type=click.IntRange(1),
              help="Prompt length whose prefill is the first-token latency.")
@json_option("decode")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def decode(model_dir, variants, positions, prompt_tokens, json_path, quiet):
    """Tokens per second of the cached decoder at growing positions, first-token latency, peak memory,
    against recomputing the whole window for every token; one thread, each file in its own process."""
    from sparse_edge.bench.decode import run_decode_benchmark

    if not positions or min(positions) < 2:
        usage("--positions must be positions of at least 2, comma-separated")
    try:
        report = run_decode_benchmark(model_dir, variants, sorted(positions), prompt_tokens, json_path,
                                      progress=not quiet)
    except (ValueError, RuntimeError) as error:
        usage(str(error))
    for name, row in report["variants"].items():
        speeds = ", ".join(f"{p}: {v['tokens_per_s']:.0f}" for p, v in row["decode"].items())
        click.echo(f"{name:8s} tokens/s at {speeds}; first token {row['prefill_ms']:.1f} ms; "
                   f"{row['speedup_vs_recompute']:.1f}x recomputing; peak {row['peak_rss_mb']:.0f} MB")
    click.echo(f"goals met: {report['goals_met']}; {json_path}")


@bench.command("long")
@click.option("--model-dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="A converted byte-level model folder (tflite/<variant>.tflite), for example artifacts/lra-text/model.")
@click.option("--variant", default=FULL_INTEGER, show_default=True, help="Which .tflite of the folder to time.")
@click.option("--lengths", default="1024,4096,16384", show_default=True, callback=_csv(int),
              help="Input lengths in ids, comma-separated, each one of the file's signatures: each document is "
                   "that many bytes less two ([CLS], [SEP]).")
@click.option("--dense-at", default=4096, show_default=True, type=click.IntRange(64),
              help="Also time the same model with dense attention (same weights and variant) at this length, "
                   "one of --lengths; 0 skips it.")
@click.option("--documents", "docs_per_length", default=5, show_default=True, type=click.IntRange(1),
              help="Different documents per length.")
@click.option("--repeats", default=4, show_default=True, type=click.IntRange(1),
              help="Timed classifications of each document (after one warm-up).")
@json_option("long")
@click.option("--work-dir", default="runs/bench/long-dense", show_default=True, type=click.Path(file_okay=False),
              help="Where the dense twin's model folder and .tflite are written.")
@data_options
def long(model_dir, variant, lengths, dense_at, docs_per_length, repeats, json_path, work_dir, data_dir, manual_dir):
    """Time per document and memory of a byte-level model as documents grow (one thread, through
    edge_runtime), and the same model with dense attention at one length, in the same run."""
    with_tensorflow("sparse-edge bench long")
    from sparse_edge.bench.long import run_long_benchmark

    try:
        report = run_long_benchmark(model_dir, variant, lengths, dense_at or None, json_path, docs_per_length,
                                    repeats, data_dir, manual_dir, work_dir)
    except (ValueError, FileNotFoundError) as error:
        usage(str(error))
    for row in report["rows"]:
        click.echo(f"{row['length']:>6,} ids ({row['bytes']:,} bytes): p50 {row['p50_ms']:.1f} ms, memory {row['model_memory_mb']:.0f} MB")
    for line in report["summary"]["lines"]:
        click.echo(line)
    for name, ok in report["summary"]["checks"].items():
        click.echo(f"{'pass' if ok else 'FAIL'}: {name}")


@bench.command("train-step")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A training recipe (configs/*.json); its model, with each pattern in turn, is measured.")
@click.option("--patterns", default="local,bigbird,dense", show_default=True, callback=_csv(str),
              help="Attention patterns, comma-separated.")
@click.option("--length", default=4096, show_default=True, type=click.IntRange(64),
              help="Ids per document; the batch is the recipe's batch_tokens / length.")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1), help="Timed steps (after two warm-ups).")
@click.option("--memory-limit-gb", default=16.0, show_default=True, type=click.FloatRange(0.5),
              help="A pattern whose process grows past this is stopped and recorded as 'oom'.")
@click.option("--timeout", default=900, show_default=True, type=click.IntRange(10),
              help="Seconds before one pattern's measurement is stopped and recorded as 'timeout'.")
@json_option("train-step")
@data_options
def train_step(config_path, patterns, length, repeats, memory_limit_gb, timeout, json_path, data_dir, manual_dir):
    """Time and peak memory of one training step of a recipe's model per attention pattern, and the
    hours an epoch would take: what a pattern costs before it is trained."""
    with_tensorflow("sparse-edge bench train-step")
    from sparse_edge.bench.attention import BenchSettings
    from sparse_edge.bench.train_step import run_train_step_benchmark

    settings = BenchSettings(repeats=repeats, memory_limit_gb=memory_limit_gb, timeout_s=timeout)
    try:
        report = run_train_step_benchmark(config_path, patterns, length, json_path, settings, data_dir, manual_dir)
    except ValueError as error:
        usage(str(error))
    for r in report["rows"]:
        click.echo(f"{r['pattern']:9s} " + (f"{r['median_step_s']:.2f} s a step, {r['us_per_id']:.1f} µs an id, "
                                            f"{r['epoch_seconds'] / 3600:.2f} h an epoch, {r['peak_rss_mb']:,.0f} MB"
                                            if r["status"] == "ok" else r["status"]))


@bench.command("serve")
@click.option("--model", "model_path", default=str(ModelFolder(SHIPPED_CLASSIFIER).tflite(FULL_INTEGER)), show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The .tflite the service runs.")
@click.option("--requests", default=20_000, show_default=True, type=click.IntRange(1),
              help="Requests of the load phase (one test review each).")
@click.option("--clients", default=64, show_default=True, type=click.IntRange(1, 1024),
              help="Concurrent clients of the load phase (keep-alive connections).")
@click.option("--batch-size", default=1, show_default=True, type=click.IntRange(1, 256),
              help="The service's --batch-size; the offline phase measures 1, 4, 8 and 16 anyway.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--offline-reviews", default=600, show_default=True, type=click.IntRange(64),
              help="Test reviews for the in-process loop and batch throughput (3 interleaved rounds).")
@click.option("--overload-seconds", default=20.0, show_default=True, type=click.FloatRange(1, 600))
@json_option("serve")
@DATA_DIR
def serve(model_path, requests, clients, batch_size, workers, offline_reviews, overload_seconds, json_path, data_dir):
    """Load-test `sparse-edge serve` on loopback: 64 clients, 20,000 real reviews, then an overload.

    Reports throughput against the same model's offline batch throughput in this run, p50/p95/p99
    latency, errors and lost requests, and the 503s and server memory of an overload phase.
    """
    with_tensorflow("sparse-edge bench serve (it reads IMDB)")
    from sparse_edge.bench.serve import run_serve_benchmark

    report = run_serve_benchmark(model_path, json_path, data_dir, requests, clients, batch_size, workers,
                                 offline_reviews, overload_seconds=overload_seconds,
                                 progress=lambda line: click.echo(line, err=True))
    for goal, met in report["goals"].items():
        click.echo(f"{'met    ' if met else 'MISSED '} {goal}")
    click.echo(f"wrote {json_path}")
