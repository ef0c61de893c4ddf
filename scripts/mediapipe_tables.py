#!/usr/bin/env python3
"""Write the ``mediapipe`` entry of edge_runtime/unicode_tables.json: MediaPipe's split, read off MediaPipe.

Every code point (U+0001-U+10FFFF, surrogates excepted) goes through MediaPipe's own
``TextClassifier`` in a probe file (``convert/mediapipe_tokens.py``) and is classed as MediaPipe's
tokenizer treats it: a space (dropped between words), a delimiter (a token of its own) or a letter
(part of a word; only ASCII A-Z lowercased). NUL is checked to end the text. The script stops if
MediaPipe does anything else, so the edge tokenizer's ``mediapipe`` rules can be this table alone.

    .venv/bin/python scripts/mediapipe_tables.py [--mediapipe 1.2.3]   # needs the mediapipe venvs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convert.mediapipe_tokens import classes  # noqa: E402
from training.files import write_text_atomic  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "edge_runtime" / "unicode_tables.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mediapipe", default="1.2.3", help="the mediapipe release to read (its own venv)")
    parser.add_argument("--check", action="store_true",
                        help="compare that release with the committed table, write nothing (exit 1 if they differ)")
    args = parser.parse_args()
    if args.check:
        committed = json.loads(OUT.read_text(encoding="ascii"))["mediapipe"]
        measured = classes(args.mediapipe)
        differ = {}
        for kind in ("spaces", "delimiters"):
            a, b = (set().union(*(range(x, y + 1) for x, y in t[kind])) for t in (committed, measured))
            differ.update({cp: f"{kind} in the table only" for cp in a - b})
            differ.update({cp: f"{kind} in mediapipe {args.mediapipe} only" for cp in b - a})
        print(json.dumps({"mediapipe": args.mediapipe, "table": committed["source"], "code_points_that_differ": len(differ),
                          "differ": {f"U+{cp:04X}": why for cp, why in sorted(differ.items())}}, indent=1))
        sys.exit(1 if differ else 0)
    entry = {"source": f"mediapipe {args.mediapipe} TextClassifier, every code point through a probe file "
                       "(scripts/mediapipe_tables.py)", **classes(args.mediapipe),
             "lowercased": "ASCII A-Z", "ends_text": "NUL", "max_bytes_per_word": 100}
    tables = json.loads(OUT.read_text(encoding="ascii"))
    if "letters_elsewhere" in tables.get("mediapipe", {}):   # measured on other runtimes (tests/test_web.py)
        entry["letters_elsewhere"] = tables["mediapipe"]["letters_elsewhere"]
    tables["mediapipe"] = entry
    write_text_atomic(OUT, json.dumps(tables, ensure_ascii=True, separators=(",", ":")) + "\n")
    print(f"{OUT}: mediapipe {args.mediapipe}: {sum(b - a + 1 for a, b in entry['spaces'])} spaces, "
          f"{sum(b - a + 1 for a, b in entry['delimiters']):,} delimiters", file=sys.stderr)


if __name__ == "__main__":
    main()
