"""Markdown tables of the committed model records (metrics.json, train_config.json, the tried recipes),
and the helpers every generated table uses (``sparse_edge.report`` collects the tables).

Each table function reads committed JSON under ``artifacts/`` and returns markdown; measured figures
live there, never in the prose that shows them.
"""

from __future__ import annotations

import json
from pathlib import Path

from training.saved import ModelFolder

ROOT = Path(__file__).resolve().parents[2]


def load_artifact(path: str) -> dict:
    """A committed JSON file under the repository (``artifacts/...``), or a FileNotFoundError naming it."""
    if not (ROOT / path).exists():
        raise FileNotFoundError(f"{path} is missing; the section that cites it says which command "
                                "writes it (rerun that command, or restore the file with `git checkout`)")
    return json.loads((ROOT / path).read_text())


def machine_line(machine: dict) -> str:
    """"Linux-..., 2 CPUs (AMD EPYC: avx2, fma)": where a measurement was taken; older records lack the CPU."""
    cpu = f" ({machine['cpu']}: {', '.join(machine['extensions']) or 'no listed extensions'})" if "cpu" in machine else ""
    return f"{machine['platform']}, {machine['cpus']} CPUs{cpu}"


def fmt(value, digits=1, suffix=""):
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


BASELINE_RECIPE = "configs/imdb-classifier.json"   # from scratch, one epoch: what the tried table compares with


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
        f"The Transformer was trained on {machine_line(base['machine'])}; the hybrid stage on "
        f"{machine_line(m['machine'])}, TensorFlow {m['machine']['tensorflow']}.",
    ])


def classifier_metrics() -> str:
    """The shipped classifier's test metrics (artifacts/imdb-classifier/metrics.json)."""
    m = load_artifact("artifacts/imdb-classifier/metrics.json")
    c = load_artifact("artifacts/imdb-classifier/train_config.json")
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
        f"Machine: {machine_line(m['machine'])}, TensorFlow {m['machine']['tensorflow']}.",
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


def lm_metrics() -> str:
    """The shipped language model's held-out perplexity (artifacts/imdb-lm/metrics.json)."""
    m = load_artifact("artifacts/imdb-lm/metrics.json")
    c = load_artifact("artifacts/imdb-lm/train_config.json")
    p = c["model"]["pattern"]
    return (f"Validation: {m['split']}. Perplexity **{m['val_perplexity']:.1f}** per WordPiece token, "
            f"**{m['val_bits_per_character']:.2f} bits per character** ({m['val_tokens']:,} tokens, "
            f"{m['val_characters']:,} characters). Model: {c['model']['num_layers']} layers, width "
            f"{c['model']['d_model']}, context {c['model']['max_length']} tokens, causal `{p['name']}` attention "
            f"(block {p['block_size']}); {m['steps']:,} steps of {c['batch_size']} windows, "
            f"{m['train_seconds'] / 60:.1f} min on {m['machine']['cpus']} CPUs. "
            "Reproduce: `sparse-edge train-lm --config configs/imdb-lm.json --out artifacts/imdb-lm` then "
            "`sparse-edge convert artifacts/imdb-lm`.")


def tried_recipes() -> str:
    """The shipped recipe and every other one trained on the full data (artifacts/tried/*/), each
    against the from-scratch baseline recipe."""
    from training.train_config import TrainConfig   # no TensorFlow: fills in the defaults of older configs

    baseline = TrainConfig.from_dict(load_artifact(BASELINE_RECIPE)).to_dict()
    lines = [f"| run | changed from the from-scratch recipe (`{BASELINE_RECIPE}`) | val accuracy | test accuracy "
             "| training time |",
             "|---|---|---:|---:|---:|"]

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
            config = TrainConfig.from_dict(json.loads(model_folder.train_config_path.read_text())).to_dict()
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
