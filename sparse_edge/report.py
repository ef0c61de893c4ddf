"""README tables generated from the JSON the project wrote, never typed by hand.

The README holds blocks between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``. Each NAME
is a function below that reads committed JSON under ``artifacts/`` and returns markdown.
``sparse-edge report`` rewrites the blocks; ``sparse-edge report --check`` (and a test) fails
when the README no longer matches the JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from convert.variants import EDGE, REFERENCE, names as variant_names

ROOT = Path(__file__).resolve().parents[1]


def _load(path: str) -> dict:
    if not (ROOT / path).exists():
        raise FileNotFoundError(f"{path} is missing; the README's section that cites it says which command "
                                "writes it (rerun that command, or restore the file with `git checkout`)")
    return json.loads((ROOT / path).read_text())


def _machine(machine: dict) -> str:
    """"Linux-..., 2 CPUs (AMD EPYC: avx2, fma)": where a measurement was taken; older records lack the CPU."""
    cpu = f" ({machine['cpu']}: {', '.join(machine['extensions']) or 'no listed extensions'})" if "cpu" in machine else ""
    return f"{machine['platform']}, {machine['cpus']} CPUs{cpu}"


def _fmt(value, digits=1, suffix=""):
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def attention_bench() -> str:
    """Forward time and peak memory per pattern and length (artifacts/bench/attention.json)."""
    report = _load("artifacts/bench/attention.json")
    rows = report["rows"]
    lengths = sorted({r["n"] for r in rows})
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    lines = []
    for backend, title in (("tflite", "TFLite, dynamic range, 1 thread"), ("tensorflow", "TensorFlow (Keras)")):
        if not any(r["backend"] == backend for r in rows):
            continue
        lines.append(f"**{title}**: median forward time in ms / peak RSS in MB, batch 1\n")
        lines.append("| pattern | " + " | ".join(f"n={n:,}" for n in lengths) + " |")
        lines.append("|---|" + "---:|" * len(lengths))
        for p in patterns:
            cells = []
            for n in lengths:
                r = next((r for r in rows if (r["pattern"], r["n"], r["backend"]) == (p, n, backend)), None)
                if r is None:
                    cells.append("")
                elif r["status"] != "ok":
                    cells.append(r["status"])
                else:
                    cells.append(f"{r['median_ms']:,.1f} / {r['peak_rss_mb']:,.0f}")
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        lines.append("")
    summary = report["summary"]
    lines.append("Checks (from the same run):\n")
    for name, ok in summary["checks"].items():
        lines.append(f"- {'✅' if ok else '❌'} {name}")
    lines.append("")
    lines += [f"- {line}" for line in summary["lines"] if "growth" in line]
    lines.append("")
    lines.append(f"Machine: {_machine(report['machine'])}; {report['date']}. "
                 f"Reproduce: `{report['command']}`.")
    return "\n".join(lines)


def _training_time(m: dict) -> str:
    """Training time, and wall time with the language model's run (its own train_seconds are its wall time)."""
    pretrain = m.get("pretrain_seconds") or 0.0
    if not m.get("init_from"):
        return f"{m['train_seconds'] / 60:.1f} min train, {m['wall_seconds'] / 60:.1f} min wall"
    return (f"{m['train_seconds'] / 60:.1f} min train (language model {pretrain / 60:.1f}), "
            f"{(m['wall_seconds'] + pretrain) / 60:.1f} min wall")


def hybrid_metrics(m: dict, c: dict) -> str:
    """A hybrid's test metrics, with each half alone and how long each took."""
    cm = m["confusion_matrix"]["rows_true_cols_predicted"]
    base, ngram, settings = m["base"], m["ngram"], c["hybrid"]
    model, pattern = c["model"], c["model"]["pattern"]
    base_minutes = base["train_seconds"] / 60
    return "\n".join([
        "| test reviews | accuracy | precision | recall | F1 | validation accuracy | training time |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {m['n']:,} | **{m['accuracy'] * 100:.2f}%** | {m['precision'] * 100:.2f}% | {m['recall'] * 100:.2f}% | "
        f"{m['f1'] * 100:.2f}% | {m['val_accuracy'] * 100:.2f}% | {m['train_seconds'] / 60:.1f} min "
        f"(Transformer {base_minutes:.1f}, hybrid {m['hybrid_seconds'] / 60:.1f}) |",
        "",
        f"Each half alone on the same test reviews: the n-gram half (NB-LR on word-piece 1-{ngram['order']}-grams, "
        f"{ngram.get('ngrams_with_a_row', 0):,} n-grams in a table of {ngram['buckets']:,} rows) "
        f"{ngram['test_accuracy']:.2%}; the Transformer it started from {base['accuracy']:.2%}. "
        f"Mixed log-odds: {m['mix'][0]:.3f} x Transformer + {m['mix'][1]:.3f} x n-grams {m['mix'][2]:+.3f}; "
        + (f"{settings['epochs']} epoch(s) of residual fine-tuning on the {m['train_reviews']:,} training reviews "
           f"(learning rate {settings['learning_rate']:g}, {settings['folds']}-fold out-of-fold n-gram log-odds)."
           if settings["epochs"] else
           f"the three numbers fitted by logistic regression on the {m['val_reviews']:,} validation reviews "
           "(stacking; the Transformer is not fine-tuned)."),
        "",
        f"Confusion matrix (rows true, columns predicted; negative, positive): {cm}. "
        f"Transformer: {model['num_layers']} layers, width {model['d_model']}, {model['num_heads']} heads, "
        f"feed-forward {model['d_ff']}, vocabulary {model['vocab_size']:,}, max length {model['max_length']:,}, "
        f"`{pattern['name']}` attention (block {pattern['block_size']}, window {pattern['window']}, "
        f"{pattern['num_global']} global, {pattern['num_random']} random). "
        f"The Transformer was trained on {_machine(base['machine'])}; the hybrid stage on "
        f"{_machine(m['machine'])}, TensorFlow {m['machine']['tensorflow']}.",
    ])


def classifier_metrics() -> str:
    """The shipped classifier's test metrics (artifacts/imdb-classifier/metrics.json)."""
    m = _load("artifacts/imdb-classifier/metrics.json")
    c = _load("artifacts/imdb-classifier/train_config.json")
    if m.get("kind") == "hybrid":
        return hybrid_metrics(m, c)
    model, pattern = c["model"], c["model"]["pattern"]
    cm = m["confusion_matrix"]["rows_true_cols_predicted"]
    steps = []
    if m.get("init_from"):
        steps.append(f"started from a causal language model (held-out perplexity {m['pretrain_val_perplexity']:.1f}, "
                     f"{m['pretrain_seconds'] / 60:.1f} min)")
    if m.get("teacher"):
        steps.append(f"distilled from the `{m['teacher']}` teacher ({m['teacher_val_accuracy']:.2%} validation "
                     f"accuracy, fitted in {m['teacher_seconds']:.0f} s) on the {m['train_reviews']:,} labelled and "
                     f"{m['unlabelled_reviews']:,} unlabelled reviews")
    return "\n".join([
        "| test reviews | accuracy | precision | recall | F1 | best epoch (val acc) | training time |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {m['n']:,} | **{m['accuracy'] * 100:.2f}%** | {m['precision'] * 100:.2f}% | {m['recall'] * 100:.2f}% | "
        f"{m['f1'] * 100:.2f}% | {m['best_epoch']} of {c['epochs']} ({m['val_accuracy'] * 100:.2f}%) | "
        f"{_training_time(m)} |",
        "",
        *([f"Recipe: {'; '.join(steps)}.", ""] if steps else []),
        f"Confusion matrix (rows true, columns predicted; negative, positive): {cm}. "
        f"Model: {model['num_layers']} layers, width {model['d_model']}, {model['num_heads']} heads, "
        f"feed-forward {model['d_ff']}, vocabulary {model['vocab_size']:,}, max length {model['max_length']:,}, "
        f"`{pattern['name']}` attention (block {pattern['block_size']}, window {pattern['window']}, "
        f"{pattern['num_global']} global, {pattern['num_random']} random). "
        f"Machine: {_machine(m['machine'])}, TensorFlow {m['machine']['tensorflow']}.",
    ])


def pattern_comparison() -> str:
    """Accuracy and time per pattern and max length at one budget (artifacts/experiments/*.json)."""
    runs = [json.loads(p.read_text()) for p in sorted((ROOT / "artifacts/experiments").glob("*.json"))]
    runs.sort(key=lambda r: (r["max_length"], r["pattern"]))
    lines = ["| pattern | max length | epochs | val accuracy | test accuracy | training time |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r['pattern']} | {r['max_length']:,} | {r['epochs']} | {r['val_accuracy'] * 100:.2f}% | "
                     f"{r['accuracy'] * 100:.2f}% | {r['train_seconds'] / 60:.1f} min |")
    if runs:
        lines.append("")
        lines.append(f"Each row: `{runs[0]['command_template']}`.")
    return "\n".join(lines)


def tokenizer_bench() -> str:
    """Tokenizer speed on one core (artifacts/bench/tokenizer.json)."""
    t = _load("artifacts/bench/tokenizer.json")
    return (f"Speed on one core: **{t['reviews_per_second_cold_median']:,.0f} reviews/s** with an empty word cache, "
            f"{t['reviews_per_second_warm_median']:,.0f} with a warm one (median of {t['repeats']}, "
            f"{t['reviews']:,} IMDB test reviews; goal {t['goal_reviews_per_second']:,}). Reproduce: `{t['command']}`.")


def parity() -> str:
    """What quantization cost, per variant, on the whole test split (artifacts/imdb-classifier/parity.json)."""
    r = _load("artifacts/imdb-classifier/parity.json")
    lines = [f"Reference: the Keras float32 model, **{r['reference']['accuracy']:.2%}** on {r['n']:,} "
             f"{r['split']} reviews. Each `.tflite` runs through `edge_runtime` ({r['versions']['runtime']}), "
             "one review at a time on 1 thread.\n",
             "| variant | size | vs float32 | vs float32, integer tables left out | accuracy | Δ accuracy | agreement "
             "| max abs Δp | p50 / p95 ms per review | thresholds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    fixed, float32 = r.get("integer_table_bytes", 0), r["variants"][REFERENCE]["size_bytes"]
    for variant, row in r["variants"].items():
        failures = r["failures"].get(variant)
        lines.append(f"| `{variant}` | {row['size_bytes'] / 1e6:.2f} MB | {row['size_vs_float32']:.1%} | "
                     f"{(row['size_bytes'] - fixed) / (float32 - fixed):.1%} | "
                     f"{row['accuracy']:.2%} | {row['delta_accuracy_pp']:+.2f} pp | {row['agreement']:.2%} | "
                     f"{row['max_abs_prob_diff']:.1e} | {row['latency_ms_p50']:.1f} / {row['latency_ms_p95']:.1f} | "
                     f"{'❌ ' + '; '.join(failures) if failures else '✅ met'} |")
    lines.append("")
    conversion = ROOT / "artifacts/imdb-classifier/tflite/conversion.json"
    if conversion.exists():
        c = json.loads(conversion.read_text())
        lines.append(f"One file holds {len(c['lengths'])} input lengths ({', '.join(map(str, c['lengths']))}); the float32 "
                     f"flatbuffer is {c['float32_lengths_vs_single_length']:.2f}× the same model converted for one length "
                     f"(`tflite/conversion.json`). int8 keeps {len(c['float_nodes_int8'])} ops in float.")
        lines.append("")
    if fixed:
        lines.append(f"The size goal (at most 30% of float32) leaves out the {fixed / 1e6:.2f} MB of integer tables "
                     "that every variant stores as they are (the n-gram fingerprints: int8 data, nothing to quantize).")
        lines.append("")
    lines.append(f"Reproduce: `sparse-edge convert artifacts/imdb-classifier` then "
                 f"`sparse-edge parity artifacts/imdb-classifier --split {r['split']}` "
                 "(full table, flipped reviews: `artifacts/imdb-classifier/parity.md`, `parity.json`); "
                 "`--recheck` judges a recorded report against the thresholds again without rerunning it.")
    return "\n".join(lines)


def edge_bench() -> str:
    """Edge runtime latency, throughput, cold start and install size (artifacts/bench/edge.json)."""
    r = _load("artifacts/bench/edge.json")
    lines = ["| variant | average review (≈300 tokens) p50 / p95 | 4,096-token input p50 | `--file` throughput, 2 threads | cold start |",
             "|---|---:|---:|---:|---:|"]
    for variant, row in r["variants"].items():
        a, long, t, c = row["average_review_ms"], row["input_4096_tokens_ms"], row["file_throughput"], row["cold_start"]
        lines.append(f"| `{variant}` | {a['p50']:.1f} / {a['p95']:.1f} ms | {long['p50']:.1f} ms | "
                     f"{t['reviews_per_second']:,.0f} reviews/s ({t['reviews']:,} reviews) | "
                     f"{c['in_process_ms_median']:.0f} ms (process {c['process_wall_ms_median']:.0f} ms) |")
    lines.append("")
    lengths = next(iter(r["variants"].values()))["per_length_invoke_ms"]
    lines.append("The load-time SHA-256 check of the model bytes costs " + ", ".join(
        f"{row['sha256_check_ms']:.1f} ms (`{v}`)" for v, row in r["variants"].items() if "sha256_check_ms" in row) + ".")
    lines.append("")
    lines.append("Invoke time per input length (ms, median of 20): " + "; ".join(
        f"`{v}` " + ", ".join(f"{n}: {ms:.1f}" for n, ms in row["per_length_invoke_ms"].items())
        for v, row in r["variants"].items()) + f". A review runs at the smallest of {', '.join(lengths)} that holds it.")
    if "venv_mb" in r:
        lines.append("")
        lines.append("Size on disk of fresh virtual environments: " + ", ".join(
            f"{name} {mb:,.0f} MB" for name, mb in r["venv_mb"].items()) + ".")
    lines.append("")
    lines += [f"- {'✅' if line.startswith('MET') else '❌'} {line.split(': ', 1)[1]}" for line in r["goals"]]
    lines.append("")
    attention = _load("artifacts/bench/attention.json")
    at_4096 = next((a for a in attention["rows"] if (a["pattern"], a["n"], a["backend"]) == ("bigbird", 4096, "tflite")), None)
    if at_4096 and at_4096["status"] == "ok":
        lines.append(f"A model of the same shape and pattern (2 layers, width 128, `bigbird`) built for 4,096 tokens runs a "
                     f"4,096-token input in {at_4096['median_ms']:.1f} ms (dynamic range, 1 thread; "
                     "`artifacts/bench/attention.json`, table above).")
        lines.append("")
    lines.append(f"Note: {r['input_4096_tokens_note']}. Machine: {_machine(r['machine'])}; "
                 f"{r['date']}. Reproduce: `{r['command']}`.")
    return "\n".join(lines)


def pi_check() -> str:
    """Raspberry Pi OS, 64-bit and 32-bit, under emulation (artifacts/bench/pi-check.json)."""
    import hashlib

    r = _load("artifacts/bench/pi-check.json")
    if "arches" not in r:    # the first record: arm64 and int8 only
        return ("**Not yet rerun for the files shipped now** (an earlier record checked one file on arm64 only); "
                "rerun `PI_OUT=artifacts/bench/pi-check.json scripts/pi-check`.")
    current = {v: hashlib.sha256((ROOT / r["models"] / f"{v}.tflite").read_bytes()).hexdigest()
               for v in r["model_sha256"] if (ROOT / r["models"] / f"{v}.tflite").exists()}
    stale = "" if current == r["model_sha256"] else (
        "**Not yet rerun for the files shipped now**: rerun `PI_OUT=artifacts/bench/pi-check.json scripts/pi-check`. ")
    install = {"arm64": '`pip install ".[edge]"` from aarch64 wheels',
               "armhf": "tflite-runtime 2.14's armv7l wheel (`.[edge-legacy]`) with Debian's numpy"}
    lines = [stale + f"`scripts/pi-check` on {r['date']}: {r['reviews']:,} reviews (a seeded sample of IMDB's test "
             "split, then empty text, emoji, CJK, a 3,000-word review) through every shipped variant, on this "
             f"x86-64 host ({r['x86_64']['backend']}) and in Debian bookworm roots run through qemu-user-static. "
             "Passes when every label is the same and every probability within the spread the kernels "
             "themselves show on one host (per variant; `artifacts/bench/kernels.json`, at least 1e-6).", "",
             "| root | interpreter | numpy | " + " | ".join(f"`{v}`" for v in r["model_sha256"]) + " |",
             "|---|---|---|" + "---|" * len(r["model_sha256"])]
    for arch, a in r["arches"].items():
        cells = [f"{'same labels' if row['same_labels'] else '**labels differ**'}, max \|Δp\| {row['max_abs_prob_diff']:.1e}"
                 + (f" (≤ {row['tolerance']:.0e})" if "tolerance" in row else "") for row in a["variants"].values()]
        lines.append(f"| {arch} ({a['machine']}, Python {a['python']}) | {a['backend']}, {install.get(arch, '')} | "
                     f"{a['numpy']} | " + " | ".join(cells) + " |")
    lines += ["", f"TensorFlow imported in the roots: {any(a['tensorflow_imported'] for a in r['arches'].values())}. "
              "Emulated: correctness only; its times say nothing about a real Pi's speed. "
              f"Result: **{'passed' if r['passed'] else 'FAILED'}**."]
    return "\n".join(lines)


def serve_bench() -> str:
    """The service under load and overload (artifacts/bench/serve.json)."""
    r = _load("artifacts/bench/serve.json")
    o, load, over = r["offline"], r["load"], r["overload"]
    lat = load["latency_ms"]
    lines = ["| phase | requests | answered per s | p50 / p95 / p99 | status codes | errors, lost | server memory |",
             "|---|---:|---:|---:|---|---:|---:|",
             f"| load: {load['clients']} clients | {load['sent']:,} | {load['ok_per_s']:,.1f} | "
             f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f} ms | {', '.join(f'{k}: {v:,}' for k, v in load['codes'].items())} | "
             f"{load['errors']}, {load['lost']} | {load['server_rss_mb']['idle']:.0f} MB idle, peak {load['server_rss_mb']['peak']:.0f} MB |",
             f"| overload: {over['clients']} clients, queue {over['queue']}, {over['seconds']:.0f} s | {over['sent']:,} | "
             f"{over['ok_per_s']:,.1f} | — | {', '.join(f'{k}: {v:,}' for k, v in over['codes'].items())} | "
             f"{over['errors']}, {over['lost']} | {over['server_rss_mb']['after_warm_up']:.0f} MB after a warm-up of "
             f"{over['warm_up_requests']} requests, {over['server_rss_mb']['first_half_peak']:.0f} MB peak in the burst's "
             f"first half, {over['server_rss_mb']['second_half_peak']:.0f} MB in its second |",
             "",
             f"Offline in the same run, same model, {o['reviews']:,} of the same reviews (median of {o.get('rounds', 1)} interleaved rounds): `classify_batch` "
             f"{o['batch_reviews_per_s']:,.1f} reviews/s, one at a time {o['loop_reviews_per_s']:,.1f} reviews/s "
             f"(batch / loop {o['batch_vs_loop']:.2f}"
             + (f"; by batch size: {', '.join(f'{k}: {v:,.0f}/s' for k, v in sorted(o['batch_sizes'].items(), key=lambda kv: int(kv[0])))}"
                if o.get("batch_sizes") else "") + "). On this 2-core host an invoke is compute-bound: batching saves "
             f"Python and call overhead, not arithmetic. The service answers {r['service_vs_best_offline']:.0%} of the "
             f"best offline throughput ({r['best_offline_reviews_per_s']:,.1f} reviews/s). Latency under load is mostly waiting: {load['clients']} clients share one "
             "classifying worker.", ""]
    lines += [f"- {'✅' if met else '❌'} {goal.replace('_', ' ')}" for goal, met in r["goals"].items()]
    lines += ["", f"Machine: {_machine(r['machine'])}; {r['date']}. Reproduce: `{r['command']}`."]
    return "\n".join(lines)


def lm_metrics() -> str:
    """The shipped language model's held-out perplexity (artifacts/imdb-lm/metrics.json)."""
    m = _load("artifacts/imdb-lm/metrics.json")
    c = _load("artifacts/imdb-lm/train_config.json")
    p = c["model"]["pattern"]
    return (f"Validation: {m['split']}. Perplexity **{m['val_perplexity']:.1f}** per WordPiece token, "
            f"**{m['val_bits_per_character']:.2f} bits per character** ({m['val_tokens']:,} tokens, "
            f"{m['val_characters']:,} characters). Model: {c['model']['num_layers']} layers, width "
            f"{c['model']['d_model']}, context {c['model']['max_length']} tokens, causal `{p['name']}` attention "
            f"(block {p['block_size']}); {m['steps']:,} steps of {c['batch_size']} windows, "
            f"{m['train_seconds'] / 60:.1f} min on {m['machine']['cpus']} CPUs. "
            "Reproduce: `sparse-edge train-lm --config configs/imdb-lm.json --out artifacts/imdb-lm` then "
            "`sparse-edge convert artifacts/imdb-lm`.")


def pipeline_quick() -> str:
    """The quick preset's run on a fresh clone (artifacts/pipeline-quick: summary.json, pipeline.json)."""
    from sparse_edge.pipeline import summary_markdown

    summary = _load("artifacts/pipeline-quick/summary.json")
    record = _load("artifacts/pipeline-quick/pipeline.json")
    seconds = record["stages"]
    stages = ", ".join(f"{name} {stage['seconds']:.0f} s" for name, stage in seconds.items())
    total = sum(stage["seconds"] for stage in seconds.values())
    table = summary_markdown(summary)
    seeds = sorted((ROOT / "artifacts" / "pipeline-quick" / "seeds").glob("*.json"))
    spread = ""
    if seeds:
        runs = [json.loads(p.read_text()) for p in seeds]
        accuracies = ", ".join(f"seed {p.stem}: {r['test_accuracy']:.2%} ({r['total_seconds'] / 60:.1f} min)"
                               for p, r in zip(seeds, runs))
        spread = (f"\n\nHow much it depends on the seed: {accuracies} "
                  "(`scripts/run pipeline --preset quick --seed N --out runs/quick-seed-N`, summaries in "
                  "`artifacts/pipeline-quick/seeds/`). A busy host takes several times as long.")
    return (f"{table}\nStage times: {stages}; **{total / 60:.1f} min** for the whole pipeline. "
            f"Machine: {_machine(summary['machine'])}; {summary['date']}. "
            "Reproduce: `scripts/run` (the same as `sparse-edge pipeline --preset quick --out runs/quick`), "
            "which writes only under `runs/quick/`; the `summary.json`, `summary.md` and `pipeline.json` "
            f"shown here were copied from there to `artifacts/pipeline-quick/` by hand.{spread}")


BASELINE_RECIPE = "configs/imdb-classifier.json"   # from scratch, one epoch: what the tried table compares with


def tried_recipes() -> str:
    """The shipped recipe and every other one trained on the full data (artifacts/tried/*/), each
    against the from-scratch baseline recipe."""
    from model.train_config import TrainConfig   # no TensorFlow: fills in the defaults of older configs

    baseline = TrainConfig.from_dict(_load(BASELINE_RECIPE)).to_dict()
    lines = [f"| run | changed from the from-scratch recipe (`{BASELINE_RECIPE}`) | val accuracy | test accuracy "
             "| training time |",
             "|---|---|---:|---:|---:|"]
    from model.saved import ModelFolder

    folders = [ROOT / "artifacts" / "imdb-transformer"] + sorted((ROOT / "artifacts" / "tried").iterdir())
    for folder in folders:
        name = ("the hybrid's Transformer (`artifacts/imdb-transformer`)" if folder.name == "imdb-transformer"
                else f"`{folder.name}`")
        model_folder = ModelFolder(folder)
        if not model_folder.metrics_path.exists():   # e.g. hybrid-exploration: logs, not a training run
            continue
        metrics = model_folder.metrics()
        time = f"{metrics['train_seconds'] / 60:.1f} min"
        if metrics.get("kind") == "hybrid":   # `sparse-edge train-hybrid`: n-grams + a trained Transformer
            config = TrainConfig.load(model_folder.train_config_path)
            settings, defaults = config.hybrid, TrainConfig.from_dict({"hybrid": {}}).hybrid
            changes = [f"hybrid: NB-LR on hashed word-piece 1-{settings.order}-grams ({metrics['ngram']['buckets']:,} "
                       f"weights; alone {metrics['ngram']['test_accuracy']:.2%}) + `{Path(metrics['base']['dir']).name}` "
                       f"({metrics['base']['accuracy']:.2%})"]
            changes += [f"{key}={getattr(settings, key)}" for key in ("epochs", "learning_rate", "mix", "folds")
                        if getattr(settings, key) != getattr(defaults, key)]
            time += f" (of which {metrics['hybrid_seconds'] / 60:.1f} for the hybrid)"
        elif "members" in metrics:   # `sparse-edge ensemble`: each member's own test accuracy
            what = "weights averaged over " if metrics.get("average") == "weights" else "average of "
            changes = [what + ", ".join(f"`{Path(m['dir']).name}` ({m['accuracy']:.2%})"
                                                 for m in metrics["members"])]
            time += " (all members)"
        else:
            config = TrainConfig.from_dict(json.loads((folder / "train_config.json").read_text())).to_dict()
            changes = [f"{key}={config[key]}" for key in config if key != "model" and config[key] != baseline.get(key)]
            changes += [f"model.{key}={value}" for key, value in config["model"].items()
                        if value != baseline["model"].get(key) and key != "pattern"]
            if metrics.get("pretrain_seconds"):
                time += f" (of which {metrics['pretrain_seconds'] / 60:.1f} pretraining)"
        lines.append(f"| {name} | {', '.join(changes) or '—'} | {metrics['val_accuracy']:.2%} | "
                     f"{metrics['accuracy']:.2%} | {time} |")
    lines += ["", "All on 25,000 test reviews, on this project's 2-core machines, whose CPUs differ from session to "
              "session (below): compare training times between rows with care. Rerun one with `sparse-edge train "
              "--config artifacts/tried/NAME/train_config.json --vocab artifacts/imdb-classifier/vocab.txt --out "
              "runs/NAME`."]
    return "\n".join(lines)


def pipeline_full() -> str:
    """The full preset's run (artifacts/pipeline-full), against the shipped classifier."""
    summary = _load("artifacts/pipeline-full/summary.json")
    record = _load("artifacts/pipeline-full/pipeline.json")
    shipped = _load("artifacts/imdb-classifier/metrics.json")
    hybrid = shipped.get("kind") == "hybrid"
    shipped = shipped["base"] if hybrid else shipped   # a hybrid: compare with the Transformer inside it
    total = sum(stage["seconds"] for stage in record["stages"].values())
    retrained = _load("artifacts/pipeline-full/metrics.json")
    same = ("the very same predictions" if retrained["confusion_matrix"] == shipped["confusion_matrix"] else
            "the same recipe and vocabulary, but not bit-identical training: confusion matrix "
            f"{retrained['confusion_matrix']['rows_true_cols_predicted']} against the shipped "
            f"{shipped['confusion_matrix']['rows_true_cols_predicted']}")
    rows = {row["model"]: row for row in summary["variants"]}
    variants = ", ".join(f"`{name}` {rows[name]['accuracy']:.2%}" for name in variant_names(EDGE))
    training = ""
    if "lm" in record["stages"]:
        minutes = (record["stages"]["lm"]["seconds"] + record["stages"]["train"]["seconds"]) / 60
        training = f" ({minutes:.1f} min of wall time for the language-model and training stages together)"
    return (f"`scripts/run pipeline --preset full --out runs/full` on {summary['date']}: the retrained Keras model "
            f"scored **{summary['test_accuracy']:.2%}** on {summary['test_reviews']:,} test reviews ("
            f"{'the Transformer inside the shipped hybrid' if hybrid else 'shipped'}: {shipped['accuracy']:.2%}; {same}), "
            f"trained in {summary['train_seconds'] / 60:.1f} min{training}; its variants on {summary['parity_reviews']:,} test "
            f"reviews: {variants}, every parity threshold met; {total / 60:.0f} min for the whole pipeline. "
            "Summary and stage record: `artifacts/pipeline-full/`.")


def kernel_spread() -> str:
    """How far each variant's outputs move when other CPU kernels run it (artifacts/bench/kernels.json)."""
    r = _load("artifacts/bench/kernels.json")
    machine = r["machine"]
    rows = [f"| `{v}` | {row['max_abs_prob_diff']:.1e} | {row['p99_abs_prob_diff']:.1e} | "
            f"{row['reviews_above_1e-6']:,} of {row['reviews']:,} | {row['labels_changed']} |"
            for v, row in r["variants"].items()]
    return "\n".join([
        "| variant | max abs Δp | p99 abs Δp | reviews above 1e-6 | labels changed |", "|---|---:|---:|---:|---:|",
        *rows, "",
        f"The same file and runtime ({next(iter(r['variants'].values()))['runtime']}), with XNNPACK and with the "
        f"interpreter's built-in kernels, on {_machine(machine)}. Reproduce: `{r['command']}`."])


PEER_NAMES = {"tfidf-lr": "TF-IDF word 1-2-grams + logistic regression", "nb-lr": "NB-LR, binary word 1-3-grams",
              "fasttext": "fastText, word bigrams, quantized `.ftz`"}


def peers() -> str:
    """The shipped classifier against the models a user would pick instead, one run (artifacts/bench/peers.json)."""
    report = _load("artifacts/bench/peers.json")
    lines = ["| system | test accuracy | size | p50 / p95 ms, one review, 1 thread | batch reviews/s | cold start "
             "(process) | peak RSS | training |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    best_peer = max((r["accuracy"], n) for n, r in report["systems"].items() if r["kind"] != "tflite")
    for name, row in report["systems"].items():
        label = PEER_NAMES.get(name, f"`{name.split()[-1]}.tflite` (this project)" if row["kind"] == "tflite" else name)
        accuracy = f"{row['accuracy']:.2%}"
        if row["kind"] == "tflite" or name == best_peer[1]:
            accuracy = f"**{accuracy}**"
        seconds = row["train_seconds"]
        if row["kind"] == "tflite":   # not trained by the benchmark: the model folder's own record
            seconds = _load(f"{report['model_dir']}/metrics.json").get("train_seconds")
        train = "—" if seconds is None else f"{seconds / 60:.1f} min"
        cold = row["cold_start"]
        # runs before the VmHWM fix recorded ru_maxrss, which a child inherits from its parent: not shown
        rss = f"{cold['peak_rss_mb']:,.0f} MB" if cold.get("peak_rss_source") == "VmHWM" and cold["peak_rss_mb"] else "—"
        lines.append(f"| {label} | {accuracy} | {row['size_bytes'] / 1e6:.1f} MB | {row['latency_ms']['p50']:.2f} / "
                     f"{row['latency_ms']['p95']:.2f} | {row['batch_reviews_per_second']:,.0f} | {cold['ms']:,.0f} ms "
                     f"({cold['process_ms']:,.0f} ms) | {rss} | {train} |")
    if any(row["cold_start"].get("peak_rss_source") != "VmHWM" for row in report["systems"].values()):
        lines.append("\nPeak RSS is not shown for this run: it read `ru_maxrss`, which on Linux a child inherits "
                     "from its parent (every system showed the benchmark's own 2.2 GB); the command now reads VmHWM.")
    tfidf = report["systems"].get("tfidf-lr", {}).get("latency_ms", {}).get("p50")
    for name, row in report["systems"].items():
        if row["kind"] == "tflite" and tfidf:
            ratio = row["latency_ms"]["p50"] / tfidf
            lines.append(f"\n{'✅' if ratio <= 2 else '❌'} `{name.split()[-1]}` p50 is {ratio:.1f}x TF-IDF + LR's "
                         "in this run (goal: at most 2x).")
    lines += ["", f"All trained on the same {report['train_reviews']:,} training reviews and measured in one run on "
              f"{report['test_reviews']:,} test reviews; one review per call, the systems taking turns review by review "
              f"({report['systems'][next(iter(report['systems']))]['latency_ms']['n']} reviews each). Machine: "
              f"{_machine(report['machine'])}; {report['date']}."
              + (f" {report['fasttext_note']}." if report.get("fasttext_note") else "")
              + f" Reproduce: `{report['command']}`."]
    return "\n".join(lines)


def behaviour() -> str:
    """Pass rates of the behavioural suite per capability and system (artifacts/bench/peers.json)."""
    report = _load("artifacts/bench/peers.json")
    systems = report["systems"]
    capabilities = [c for c in next(iter(systems.values()))["behaviour"] if c != "all"]
    names = [n if systems[n]["kind"] != "tflite" else f"{n.split()[-1]}.tflite" for n in systems]
    lines = ["| capability | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for capability in capabilities + ["all"]:
        cells = [f"{s['behaviour'][capability]['passed']}/{s['behaviour'][capability]['total']}" for s in systems.values()]
        lines.append(f"| {capability} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


DEBIAN = "artifacts/debian-sections"


def debian_sections() -> str:
    """The worked second dataset (artifacts/debian-sections): the pipeline's summary, parity, the teacher
    and the TF-IDF baseline on the same split."""
    data = _load(f"{DEBIAN}/packages.json")
    split = _load(f"{DEBIAN}/data.json")
    summary = _load(f"{DEBIAN}/summary.json")
    parity_report = _load(f"{DEBIAN}/parity.json")
    baseline = _load(f"{DEBIAN}/baseline.json")
    metrics = _load(f"{DEBIAN}/metrics.json")
    counts = split["counts"]
    rows = ["| model | test accuracy | macro-F1 | Δ vs Keras (pp) | agreement with Keras | size (MB) |",
            "|---|---:|---:|---:|---:|---:|",
            f"| sparse Transformer, Keras float32 | {metrics['accuracy']:.2%} | {metrics['macro_f1']:.3f} | – | – | "
            f"{summary['variants'][0]['size_bytes'] / 1e6:.2f} |"]
    for variant, row in parity_report["variants"].items():
        rows.append(f"| its `{variant}.tflite` (edge_runtime) | {row['accuracy']:.2%} | {row['macro_f1']:.3f} | "
                    f"{row['delta_accuracy_pp']:+.2f} | {row['agreement']:.2%} | {row['size_bytes'] / 1e6:.2f} |")
    teacher = metrics.get("teacher_test")
    if teacher:
        rows.append(f"| the n-gram teacher alone (NB-LR one-vs-rest; training only, not shipped) | "
                    f"{teacher['accuracy']:.2%} | {teacher['macro_f1']:.3f} | | | |")
    rows.append(f"| TF-IDF + logistic regression (C={baseline['C']:g} of {', '.join(baseline['C_validation_accuracy'])}, "
                "chosen on the same validation rows) | "
                f"{baseline['test']['accuracy']:.2%} | {baseline['test']['macro_f1']:.3f} | | | |")
    worst = sorted(metrics["per_label"].items(), key=lambda item: item[1]["f1"])
    best = worst[::-1]
    from convert.parity import check

    missed = {v: f for v, row in parity_report["variants"].items() if (f := check(v, row, None))}
    parity_verdict = ("every variant met the accuracy and agreement thresholds" if not missed else
                      "thresholds missed: " + "; ".join(f"{v}: {', '.join(f)}" for v, f in missed.items()))
    sizes = {v: f for v, f in parity_report["failures"].items() if v not in missed}
    if sizes:   # the file-size goals are the shipped IMDB classifier's; here they are a note, as in the pipeline
        parity_verdict += " (the size goal of the shipped classifier, not required here: " + "; ".join(
            f"{v} {', '.join(f)}" for v, f in sizes.items()) + ")"
    stages = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in summary["stage_seconds"].items())
    return "\n".join([
        f"{data['rows']:,} packages of Debian {data['release']} in {data['sections']} sections; {counts['test']:,} "
        f"held out for test (stratified {split['split']['test_fraction']:.0%}, seed {split['split']['seed']}; 10% of "
        "the rest validates each epoch). "
        f"Largest section `{max(counts['test_per_label'], key=counts['test_per_label'].get)}`, "
        f"{max(data['rows_per_section'].values()):,} packages; smallest kept "
        f"{min(data['rows_per_section'].values()):,}. Preset `{summary['preset']}`, "
        f"best epoch {metrics['best_epoch']}"
        + (f" (stopped early after epoch {metrics['stopped_early']})" if metrics.get("stopped_early") else "")
        + f"; {parity_verdict} on all {parity_report['n']:,} test rows.", "",
        *rows, "",
        "Per section (F1 on test), the best: " + ", ".join(f"`{n}` {m['f1']:.2f}" for n, m in best[:5])
        + "; the worst: " + ", ".join(f"`{n}` {m['f1']:.2f}" for n, m in worst[:5]) + ". "
        f"Stage times: {stages}; machine: {_machine(summary['machine'])}; {summary['date']}. "
        f"Files: `{DEBIAN}/` (`summary.json`, `metrics.json`, `data.json`, `parity.json`, `baseline.json`, "
        "`packages.json`), copied from `runs/debian/` by hand.", "",
        _debian_small(),
    ])


def _debian_small() -> str:
    """The small-data case: a 3,000-row sample through the same command (artifacts/debian-sections/small)."""
    data = _load(f"{DEBIAN}/small/packages.json")
    summary = _load(f"{DEBIAN}/small/summary.json")
    metrics = _load(f"{DEBIAN}/small/metrics.json")
    baseline = _load(f"{DEBIAN}/small/baseline.json")
    teacher = metrics["teacher_test"]
    return (f"**Small data**: {data['rows']:,} rows ({data['sections']} largest sections, "
            f"{min(data['rows_per_section'].values())} packages each: `{data['command']}`, then the same `pipeline` "
            "command on it with `--out runs/debian-small/run`): "
            f"the whole pipeline took **{summary['total_seconds'] / 60:.1f} min** on this 2-core host; on "
            f"{metrics['n']:,} test rows the model has {metrics['accuracy']:.2%} (macro-F1 {metrics['macro_f1']:.3f}), the "
            f"teacher alone {teacher['accuracy']:.2%} ({teacher['macro_f1']:.3f}), TF-IDF + logistic regression "
            f"{baseline['test']['accuracy']:.2%} ({baseline['test']['macro_f1']:.3f}). "
            f"Files: `{DEBIAN}/small/`.")


def mediapipe_parity() -> str:
    """MediaPipe's TextClassifier against edge_runtime on the shipped MediaPipe files: both files on all 25,000
    test reviews (mediapipe/parity-25000.json) and on the first 2,000 (mediapipe/parity.json)."""
    from convert.mediapipe_parity import parity_markdown

    blocks = []
    reports = {name: _load(f"artifacts/imdb-classifier/mediapipe/{name}") for name in ("parity-25000.json", "parity.json")}
    whole = reports["parity-25000.json"]
    for report in reports.values():
        table = parity_markdown(report).split("\n", 2)[2].strip().rsplit("\n\n", 1)[0]   # no title, no goal line
        verdict = ("met" if report["passed"] else "**not met**: " + ", ".join(
            f"{v} (agreement {row['agreement']:.2%}, {row['delta_accuracy_pp']:+.2f} pp)"
            for v, row in report["variants"].items() if not row["met"]))
        blocks.append(f"{report['n']:,} IMDB test reviews, {', '.join(report['variants'])}: the goal is {verdict}.\n\n"
                      f"{table}")
    newer = _load("artifacts/imdb-classifier/mediapipe/parity-mediapipe-1.2.3.json")
    blocks.append(f"The same {newer['n']:,} reviews through mediapipe {newer['mediapipe']}'s TextClassifier (files "
                  f"written by {newer['metadata_written_by']}): " + "; ".join(
                      f"{v} {row['mediapipe_accuracy']:.2%}, agreement {row['agreement']:.2%}, max abs Δp "
                      f"{row['max_abs_prob_diff']:.3f}" for v, row in newer["variants"].items())
                  + f" (`{newer['command']}`).")
    return ("\n\n".join(blocks) + "\n\nGoal: accuracy through MediaPipe within 0.3 pp of edge_runtime's and "
            f"agreement at least 99%. All {whole['n']:,} through both runtimes took "
            + " and ".join(f"{row['seconds'] / 60:.0f} minutes ({variant})" for variant, row in whole["variants"].items())
            + " here.")


TABLES = {"mediapipe_parity": mediapipe_parity, "debian_sections": debian_sections, "pipeline_full": pipeline_full, "tried_recipes": tried_recipes, "pipeline_quick": pipeline_quick, "lm_metrics": lm_metrics, "pi_check": pi_check, "attention_bench": attention_bench, "tokenizer_bench": tokenizer_bench, "classifier_metrics": classifier_metrics,
          "pattern_comparison": pattern_comparison, "parity": parity, "edge_bench": edge_bench,
          "kernel_spread": kernel_spread, "peers": peers, "behaviour": behaviour, "serve_bench": serve_bench}
BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(<!-- /table:\2 -->)", re.S)
DOCUMENTS = ("README.md", "docs/experiments.md")   # the files whose table blocks are generated


def render_readme(text: str) -> str:
    """The README with every table block regenerated from the JSON."""
    def replace(match):
        name = match.group(2)
        if name not in TABLES:
            raise ValueError(f"README names an unknown table {name!r}; known: {', '.join(TABLES)}")
        return f"{match.group(1)}{TABLES[name]()}\n{match.group(4)}"

    return BLOCK.sub(replace, text)
