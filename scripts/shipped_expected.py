#!/usr/bin/env python3
"""Write tests/data/shipped_expected.json: what each shipped .tflite answers, length by length.

Reviews that reach every signature length (128 ... 1024): the 24 sample reviews of
scripts/pi_check_reviews.json, and longer ones made by joining them, each padded to land in a
chosen length. For every shipped variant it records the label and probabilities that
ai-edge-litert gives, and keeps only reviews whose probability is at least 0.1 from 0.5 in every
variant, so another runtime's kernels (tflite-runtime 2.14, an arm64 or armv7 build) cannot
flip a label by rounding. tests/test_edge_shipped.py and tests/test_edge_venv.py compare the
files against it; rerun after converting the shipped model again.

    .venv/bin/python scripts/shipped_expected.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_runtime import TextClassifier  # noqa: E402
from training.files import write_json_atomic  # noqa: E402

SHIPPED = REPO / "artifacts" / "imdb-classifier" / "tflite"
VARIANTS = tuple(v for v in ("float32", "float16", "dynamic", "int8") if (SHIPPED / f"{v}.tflite").exists())
OUT = REPO / "tests" / "data" / "shipped_expected.json"


def reviews_for_every_length(classifier) -> list[str]:
    sample = json.loads((REPO / "scripts" / "pi_check_reviews.json").read_text())
    texts = list(sample)
    for i in range(len(sample)):   # joined neighbours: longer reviews with one overall tone
        joined = " ".join(sample[i:i + 4])
        texts += [joined, joined + " " + joined, (joined + " ") * 4]
    by_length = {}
    for text in texts:
        length = classifier.encode(text)[0].shape[1]
        by_length.setdefault(length, []).append(text)
    return by_length


def main() -> None:
    classifiers = {v: TextClassifier(SHIPPED / f"{v}.tflite") for v in VARIANTS}
    by_length = reviews_for_every_length(classifiers["float32"])
    missing = [n for n in classifiers["float32"].lengths if n not in by_length]
    if missing:
        raise SystemExit(f"no sample review lands in lengths {missing}")
    cases = []
    for length, texts in sorted(by_length.items()):
        kept = 0
        for text in texts:
            results = {v: c.classify(text) for v, c in classifiers.items()}
            if all(abs(r.probabilities[1] - 0.5) >= 0.1 for r in results.values()) and kept < 6:
                cases.append({"length": length, "text": text,
                              "expected": {v: {"label": r.label, "probabilities": r.probabilities}
                                           for v, r in results.items()}})
                kept += 1
    lengths = sorted({c["length"] for c in cases})
    if lengths != classifiers["float32"].lengths:
        raise SystemExit(f"confident reviews cover lengths {lengths} only")
    write_json_atomic(OUT, {"made_by": "scripts/shipped_expected.py", "runtime": classifiers["int8"].backend +
                            " " + classifiers["int8"].backend_version,
                            "sha256": {v: __import__("hashlib").sha256((SHIPPED / f"{v}.tflite").read_bytes()).hexdigest()
                                       for v in VARIANTS},
                            "cases": cases})
    print(f"{OUT}: {len(cases)} reviews over lengths {lengths}")


if __name__ == "__main__":
    main()
