"""Run inside the mediapipe virtual environment (``.venv-mediapipe``), never imported by the project.

    python convert/mediapipe_metadata.py write MODEL VOCAB LABELS OUT   the flatbuffer + the bundle's vocabulary and
                                                                        labels files -> OUT, with metadata
    python convert/mediapipe_metadata.py classify MODEL  JSON lines {"text": ...} on stdin -> {"scores": [...]} lines

``write`` adds MediaPipe's metadata with mediapipe's own writer (``BertTokenizer`` with the vocabulary,
the labels), binding the three inputs by their tensor names. ``classify`` runs MediaPipe's
``TextClassifier`` and prints every label's score in the order of labels.txt.
"""

import json
import sys
from pathlib import Path

INPUTS = {"ids": "serving_default_ids:0", "mask": "serving_default_mask:0",
          "segment_ids": "serving_default_segment_ids:0"}


def write(model_path: str, vocab_path: str, labels_path: str, out_path: str) -> None:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, text_classifier

    writer = text_classifier.MetadataWriter.create_for_bert_model(
        bytearray(Path(model_path).read_bytes()),
        metadata_writer.BertTokenizer(vocab_path),
        metadata_writer.Labels().add_from_file(labels_path),
        ids_name=INPUTS["ids"], mask_name=INPUTS["mask"], segment_name=INPUTS["segment_ids"])
    model, _ = writer.populate()
    Path(out_path).write_bytes(bytes(model))


def classify(model: str) -> None:
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=model), max_results=-1)
    with text.TextClassifier.create_from_options(options) as classifier:
        for line in sys.stdin:
            result = classifier.classify(json.loads(line)["text"])
            categories = sorted(result.classifications[0].categories, key=lambda c: c.index)
            print(json.dumps({"scores": [c.score for c in categories]}), flush=True)


if __name__ == "__main__":
    {"write": write, "classify": classify}[sys.argv[1]](*sys.argv[2:])
