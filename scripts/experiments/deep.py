import numpy as np, keras
from pathlib import Path
from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, train_validation_split
from training.train import predict_probabilities, TrainConfig
import model.transformer  # registers layers
d = Path("artifacts/imdb-transformer")   # the distilled Transformer, shipped alone before the hybrid
tok = WordPieceTokenizer.from_file(d / "vocab.txt")
cfg = TrainConfig.load(d / "train_config.json")
m = keras.models.load_model(d / "model.keras")
train_all = load_imdb("train"); test = load_imdb("test")
tr, va = train_validation_split(train_all, 0.1, 0)
out = {}
for name, r in (("validation", va), ("test", test)):
    p = predict_probabilities(m, tok, r, cfg, Path("runs/cache") / f"{name}.npz", False)
    out[name] = p[:, 1]; out[name + "_labels"] = r.labels
    print(name, ((p[:, 1] >= .5) == r.labels).mean(), flush=True)
np.savez("runs/exp/deep_probs.npz", **out)
