"""A TF-IDF + logistic-regression baseline on a model folder's own split: what the Transformer must beat.

Reads the folder's data as it was split for training (``data.json``): the regression learns from
the same training rows, its regularisation is chosen on the same validation rows, and it is
scored once on the same test rows, with the same metrics (accuracy, macro-F1, per label).

Example: ``sparse-edge bench baseline --model-dir runs/debian/model --json runs/debian/baseline.json``
"""

from __future__ import annotations

import time

import numpy as np

C_GRID = (1.0, 4.0, 16.0)   # inverse L2 strengths tried on the validation rows


def run_baseline(model_dir: str, json_path: str, data_dir: str | None = None, manual_dir: str | None = None,
                 progress: bool = True) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from edge_runtime.tokenizer import normalize_review
    from model.data import train_validation_split
    from model.evaluate import classification_metrics
    from model.files import write_json_atomic
    from model.saved import ModelFolder
    from model.sources import data_for_folder
    from model.train_config import TrainConfig

    folder = ModelFolder(model_dir)
    folder.require(ModelFolder.TRAIN_CONFIG, hint="train one first (`sparse-edge train --out DIR`)")
    config = TrainConfig.load(folder.train_config_path)
    data = data_for_folder(folder, data_dir, manual_dir)
    train_all = data.load("train", limit=config.train_limit)
    train, validation = train_validation_split(train_all, config.val_fraction, config.validation_seed)
    test = data.load("test", limit=config.test_limit)

    started = time.time()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, preprocessor=lambda t:
                                 normalize_review(t).lower())
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
    report = {"model": "TF-IDF (word 1-2-grams, sublinear tf, min_df 2) + logistic regression (liblinear; "
                       "one-vs-rest beyond two labels)",
              "data": data.spec.source, "labels": data.labels, "train_rows": len(train),
              "validation_rows": len(validation), "C_validation_accuracy": {str(c): a for c, a in tried.items()},
              "C": best, "features": int(x_train.shape[1]), "seconds": round(time.time() - started, 1),
              "test": metrics, "model_dir": str(folder.path),
              "command": f"sparse-edge bench baseline --model-dir {folder.path} --json {json_path}"}
    write_json_atomic(json_path, report)
    return report
