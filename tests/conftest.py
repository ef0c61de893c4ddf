import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = Path(__file__).resolve().parents[1]
SHARED_TFDS = (REPO.parent / "shared" / "data" / "tensorflow_datasets").resolve()
if "TFDS_DATA_DIR" not in os.environ and SHARED_TFDS.exists():
    os.environ["TFDS_DATA_DIR"] = str(SHARED_TFDS)


def pytest_collection_modifyitems(config, items):
    """Tests that read IMDB need the prepared copy (../shared/data) or TFDS_DATA_DIR."""
    data_dir = os.environ.get("TFDS_DATA_DIR")
    if data_dir and (Path(data_dir) / "imdb_reviews").exists():
        return
    skip = pytest.mark.skip(reason="IMDB not found: set TFDS_DATA_DIR (see ../shared/data/README.md)")
    for item in items:
        if "imdb" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def converted_model(tmp_path_factory):
    """A small classifier trained on an IMDB slice and converted to all four variants.

    Shared by the conversion, parity and edge-runtime tests (training and conversion take about
    a minute, so they happen once per session). Returns the model folder.
    """
    from convert.export import convert_model_dir
    from model.data import load_imdb
    from model.train import train
    from model.vocab import learn_vocab
    from tests.test_training import tiny_config

    folder = tmp_path_factory.mktemp("converted")
    vocab = folder.parent / "converted-vocab.txt"
    learn_vocab(load_imdb("train", limit=2400).texts, 2000, vocab)
    train(tiny_config(epochs=3, train_limit=2400, test_limit=200), folder, vocab_path=str(vocab), progress=False)
    convert_model_dir(folder, ["float32", "float16", "dynamic", "int8"], calibration_reviews=16, progress=False)
    return folder
