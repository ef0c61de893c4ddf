"""What every exploration script starts from: the shipped Transformer's split, tokenized and cut to 1,024."""

from pathlib import Path

from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, tokenize_cached, train_validation_split
from training.train_hybrid import truncate

CACHE = Path("runs/cache")


def imdb_split(unsupervised: bool = False):
    """(tokenizer, train, validation, test Reviews, {split: token ids}); 22,500 / 2,500 / 25,000 reviews."""
    tokenizer = WordPieceTokenizer.from_file("artifacts/imdb-classifier/vocab.txt")
    train, validation = train_validation_split(load_imdb("train"), 0.1, 0)
    splits = {"train": train, "validation": validation, "test": load_imdb("test")}
    if unsupervised:
        splits["unsupervised"] = load_imdb("unsupervised")
    ids = {name: truncate(tokenize_cached(r, tokenizer, CACHE / f"{name}.npz", False), 1024) for name, r in splits.items()}
    return tokenizer, train, validation, splits["test"], ids
