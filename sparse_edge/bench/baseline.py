"""A TF-IDF + logistic-regression baseline on a model folder's own split: what the Transformer must beat.

Reads the folder's data as it was split for training (``data.json``): the regression learns from
the same training rows, its regularisation is chosen on the same validation rows, and it is
scored once on the same test rows, with the same metrics (accuracy, macro-F1, per label).

Example: ``sparse-edge bench baseline --model-dir runs/debian/model --json runs/debian/baseline.json``
"""

from __future__ import annotations

import time

from sparse_edge.reports.tables import load_artifact, machine_line

C_GRID = (1.0, 4.0, 16.0)   # inverse L2 strengths tried on the validation rows


def run_baseline(model_dir: str, json_path: str, data_dir: str | None = None, manual_dir: str | None = None,
                 progress: bool = True, byte_ngrams: int | None = None) -> dict:
    """``byte_ngrams`` N: TF-IDF of byte 1-5-grams of each text's first N UTF-8 bytes (what a byte-level
    model reads, nothing normalised) instead of word 1-2-grams."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from edge_runtime.tokenizer import normalize_review
    from training.data import train_validation_split
    from training.evaluate import classification_metrics
    from training.files import write_json_atomic
    from training.saved import ModelFolder
    from training.sources import data_for_folder
    from training.train_config import TrainConfig

    folder = ModelFolder(model_dir)
    folder.require(ModelFolder.TRAIN_CONFIG, hint="train one first (`sparse-edge train --out DIR`)")
    config = TrainConfig.load(folder.train_config_path)
    data = data_for_folder(folder, data_dir, manual_dir)
    train_all = data.load("train", limit=config.train_limit)
    train, validation = train_validation_split(train_all, config.val_fraction, config.validation_seed)
    test = data.load("test", limit=config.test_limit)

    started = time.time()
    if byte_ngrams:   # each byte one character (latin-1), so the n-grams are byte n-grams
        from edge_runtime.tokenizer import ByteTokenizer

        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 5), min_df=2, sublinear_tf=True, lowercase=False,
                                     preprocessor=lambda t: ByteTokenizer.utf8(t)[:byte_ngrams].decode("latin-1"))
        described = f"TF-IDF (byte 1-5-grams of the first {byte_ngrams:,} bytes, sublinear tf, min_df 2)"
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, preprocessor=lambda t:
                                     normalize_review(t).lower())
        described = "TF-IDF (word 1-2-grams, sublinear tf, min_df 2)"
    x_train = vectorizer.fit_transform(train.texts)
    x_val, x_test = vectorizer.transform(validation.texts), vectorizer.transform(test.texts)
    tried, models = {}, {}
    for c in C_GRID:
        # liblinear, as the IMDB peers benchmark's TF-IDF model (sparse_edge/bench/peers.py); one-vs-rest
        # beyond two labels (multinomial lbfgs took over half an hour per C on the Debian sections here)
        regression = LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=2000)
        models[c] = (OneVsRestClassifier(regression) if len(data.labels) > 2 else regression).fit(x_train, train.labels)
        tried[c] = float((models[c].predict(x_val) == validation.labels).mean())
        if progress:
            print(f"C={c}: validation accuracy {tried[c]:.4f}")
    best = max(tried, key=tried.get)
    probs = models[best].predict_proba(x_test)
    metrics = classification_metrics(test.labels, probs, data.labels)
    report = {"model": f"{described} + logistic regression (liblinear; one-vs-rest beyond two labels)",
              "byte_ngrams": byte_ngrams,
              "data": data.spec.source, "labels": data.labels, "train_rows": len(train),
              "validation_rows": len(validation), "C_validation_accuracy": {str(c): a for c, a in tried.items()},
              "C": best, "features": int(x_train.shape[1]), "seconds": round(time.time() - started, 1),
              "test": metrics, "model_dir": str(folder.path),
              "command": f"sparse-edge bench baseline --model-dir {folder.path} --json {json_path}"
                         + (f" --byte-ngrams {byte_ngrams}" if byte_ngrams else "")}
    write_json_atomic(json_path, report)
    return report


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
DEBIAN = "artifacts/debian-sections"


def debian_sections() -> str:
    """The worked second dataset (artifacts/debian-sections): the pipeline's summary, parity, the teacher
    and the TF-IDF baseline on the same split."""
    data = load_artifact(f"{DEBIAN}/packages.json")
    split = load_artifact(f"{DEBIAN}/data.json")
    summary = load_artifact(f"{DEBIAN}/summary.json")
    parity_report = load_artifact(f"{DEBIAN}/parity.json")
    baseline = load_artifact(f"{DEBIAN}/baseline.json")
    metrics = load_artifact(f"{DEBIAN}/metrics.json")
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
        f"Stage times: {stages}; machine: {machine_line(summary['machine'])}; {summary['date']}. "
        f"Files: `{DEBIAN}/` (`summary.json`, `metrics.json`, `data.json`, `parity.json`, `baseline.json`, "
        "`packages.json`), copied from `runs/debian/` by hand.", "",
        _debian_small(),
    ])


def _debian_small() -> str:
    """The small-data case: a 3,000-row sample through the same command (artifacts/debian-sections/small)."""
    data = load_artifact(f"{DEBIAN}/small/packages.json")
    summary = load_artifact(f"{DEBIAN}/small/summary.json")
    metrics = load_artifact(f"{DEBIAN}/small/metrics.json")
    baseline = load_artifact(f"{DEBIAN}/small/baseline.json")
    teacher = metrics["teacher_test"]
    return (f"**Small data**: {data['rows']:,} rows ({data['sections']} largest sections, "
            f"{min(data['rows_per_section'].values())} packages each: `{data['command']}`, then the same `pipeline` "
            "command on it with `--out runs/debian-small/run`): "
            f"the whole pipeline took **{summary['total_seconds'] / 60:.1f} min** on this 2-core host; on "
            f"{metrics['n']:,} test rows the model has {metrics['accuracy']:.2%} (macro-F1 {metrics['macro_f1']:.3f}), the "
            f"teacher alone {teacher['accuracy']:.2%} ({teacher['macro_f1']:.3f}), TF-IDF + logistic regression "
            f"{baseline['test']['accuracy']:.2%} ({baseline['test']['macro_f1']:.3f}). "
            f"Files: `{DEBIAN}/small/`.")


# -- the counting baseline of a language model ------------------------------------------------------------

LM_ORDERS = (2, 3, 4, 5)


def run_lm_baseline(model_dir: str, json_path: str, orders=LM_ORDERS, data_dir: str | None = None,
                    progress: bool = True, cache_dir: str = "runs/cache/lm-tokens") -> dict:
    """Interpolated modified Kneser-Ney n-grams (``training/kneser_ney.py``) on a language model's
    own tokens: counted on its training reviews, scored on its held-out reviews (every token after each
    review's [CLS], as the model is scored), perplexity and bits per character for each order."""
    import json
    import math
    from pathlib import Path

    from training.files import write_json_atomic
    from training.machine import describe_machine
    from training.saved import ModelFolder
    from training.train_lm import LMConfig, lm_data
    from training.kneser_ney import KneserNey

    folder = ModelFolder(model_dir)
    folder.require(ModelFolder.TRAIN_CONFIG, ModelFolder.VOCAB,
                   hint="train a language model first (`sparse-edge train-lm --out DIR`)")
    config = LMConfig.from_dict(json.loads(folder.train_config_path.read_text()))
    tokenizer = folder.tokenizer()
    data = lm_data(config, tokenizer, data_dir, Path(cache_dir), progress)
    rows = {}
    for order in orders:
        started = time.time()
        lm = KneserNey(data.train_sequences, order, len(tokenizer))
        total = -sum(float(lm.log_probs(s).sum()) for s in data.val_sequences)
        count = sum(len(s) - 1 for s in data.val_sequences)
        rows[str(order)] = {"perplexity": math.exp(total / count), "loss_nats_per_token": total / count,
                            "bits_per_character": total / math.log(2) / data.val_characters,
                            "discounts": [round(float(d), 4) for d in lm.levels[-1].discounts[1:]],
                            "seconds": round(time.time() - started, 1)}
        if progress:
            print(f"order {order}: perplexity {rows[str(order)]['perplexity']:.1f} "
                  f"({rows[str(order)]['seconds']:.0f} s)")
        del lm
    best = min(rows, key=lambda k: rows[k]["perplexity"])
    report = {"model": "interpolated modified Kneser-Ney (Chen & Goodman), review-initial n-grams at raw counts",
              "orders": rows, "best_order": int(best), "best_perplexity": rows[best]["perplexity"],
              "train_reviews": len(data.train_sequences),
              "train_tokens": int(sum(len(s) for s in data.train_sequences)),
              "val_reviews": len(data.val_sequences), "val_tokens": count,
              "val_characters": data.val_characters, "model_dir": str(folder.path),
              "machine": describe_machine(),
              "command": f"sparse-edge bench baseline --lm --model-dir {folder.path} --json {json_path}"}
    write_json_atomic(json_path, report)
    return report
