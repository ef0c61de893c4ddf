"""The shipped word model and a byte-level model together: does reading the bytes add anything?

``sparse-edge bench peers --combine-with BYTE_MODEL_DIR`` calls ``combination`` in the same run that
trains NB-LR: both models' log-odds are mixed by logistic regression fitted on the validation reviews
both held out (never on test), the mix is scored on the test reviews, and an exact McNemar test says
whether it beats NB-LR and the word model alone review by review.
"""

from __future__ import annotations

import numpy as np

from training.mix import fit_mix, logit, mcnemar_exact
from sparse_edge.bench.peers import _batched, load_predictor


def combination(word_dir: str, byte_dir: str, variant: str, word_test: np.ndarray, nb_lr_test: np.ndarray,
                test, data_dir, progress, limit: int | None = None) -> dict:
    """The byte model's and the word model's log-odds mixed by logistic regression fitted on the
    validation reviews both held out (never test), scored on the test reviews, and compared with NB-LR
    review by review (exact McNemar)."""
    from edge_runtime import TextClassifier
    from training.data import load_imdb, train_validation_split
    from training.saved import ModelFolder

    from training.train_config import TrainConfig

    splits = []
    for folder in (ModelFolder(word_dir), ModelFolder(byte_dir)):
        t = TrainConfig.load(folder.train_config_path)
        splits.append((t.val_fraction, t.validation_seed))
    if splits[0] != splits[1]:
        raise ValueError(f"{word_dir} and {byte_dir} held out different validation reviews {splits}; "
                         "the combination must be fitted on reviews neither trained on")
    _, val = train_validation_split(load_imdb("train", data_dir, limit=limit), *splits[0])
    byte_file = TextClassifier(ModelFolder(byte_dir).tflite(variant), num_threads=1)
    byte_file.max_length = byte_file.trained_length   # cut where training and the Keras model cut (as parity does)

    def byte_probs(texts):
        return np.array([0.5 + (p[1] - p[0]) / 2 for p in (byte_file.classify(t).probabilities for t in texts)])
    word = load_predictor("tflite", str(ModelFolder(word_dir).tflite(variant)))
    progress(f"combination: both {variant} files on {len(val):,} validation and {len(test):,} test reviews")
    features_val = np.stack([logit(_batched(word, val.texts, "word, validation")),
                             logit(_batched(byte_probs, val.texts, "bytes, validation"))], axis=1)
    byte_test = np.asarray(_batched(byte_probs, test.texts, "bytes, test"))
    features_test = np.stack([logit(word_test), logit(byte_test)], axis=1)
    mix = fit_mix(features_val, val.labels)
    combined = mix.predict_proba(features_test)[:, 1]
    labels = np.asarray(test.labels).astype(bool)
    right = {name: (np.asarray(p) > 0.5) == labels for name, p in
             (("combined", combined), ("word", word_test), ("bytes", byte_test), ("nb-lr", nb_lr_test))}
    versus = mcnemar_exact(right["combined"], right["nb-lr"])
    versus_word = mcnemar_exact(right["combined"], right["word"])
    beats = lambda other, test: bool(right["combined"].mean() > right[other].mean() and test["p_value"] < 0.05)  # noqa: E731
    better = beats("nb-lr", versus) and beats("word", versus_word)
    return {"word_model": f"{word_dir} ({variant})", "byte_model": f"{byte_dir} ({variant}, cut at "
            f"{byte_file.trained_length:,} ids as trained)", "validation_reviews": len(val),
            "weights": {"word": float(mix.coef_[0][0]), "bytes": float(mix.coef_[0][1]), "bias": float(mix.intercept_[0])},
            "accuracy": {name: float(r.mean()) for name, r in right.items()},
            "mcnemar_vs_nb_lr": versus, "mcnemar_vs_word_alone": versus_word,
            "word_alone_vs_nb_lr": mcnemar_exact(right["word"], right["nb-lr"]),
            "significantly_better": better,
            "decision": ("significantly more accurate (p < 0.05) than NB-LR and than the word model alone: worth an option"
                         if better else "not significantly more accurate than both NB-LR and the word model alone "
                         "(exact McNemar, p < 0.05 needed for each): not worth an option")}
