import json
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
def pipeline_run(tmp_path_factory):
    """``sparse-edge pipeline`` with a tiny preset: a small classifier trained on an IMDB slice,
    converted to all four variants, checked for parity on 1,000 test reviews, run on the edge.

    Shared by the pipeline, conversion, parity and edge-runtime tests (it takes a minute or two,
    so it happens once per session). Returns (output folder, presets, the stage lines printed).
    """
    from sparse_edge.pipeline import STAGES, Preset, run_pipeline
    from tests.test_training import tiny_config

    folder = tmp_path_factory.mktemp("pipeline")
    config_path = folder.parent / "tiny-train-config.json"
    config_path.write_text(json.dumps(tiny_config(epochs=3, train_limit=2400, test_limit=200).to_dict()))
    presets = {"tiny": Preset(str(config_path), vocab_size=2000, vocab_unsupervised=False, calibration_reviews=16,
                              parity_limit=1000, minutes={name: 0.5 for name, _, _ in STAGES})}
    lines = []
    run_pipeline("tiny", folder, presets=presets, progress=False, echo=lines.append)
    return folder, presets, lines


@pytest.fixture(scope="session")
def converted_model(pipeline_run):
    """The pipeline's model folder: model.keras, vocab.txt, tflite/<variant>.tflite, parity.json."""
    return pipeline_run[0] / "model"
