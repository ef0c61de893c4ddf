#!/usr/bin/env python3
"""A second real dataset that no one here wrote: Debian package descriptions labelled by section.

Reads this machine's apt lists (offline after ``apt-get update``): the section and description
checksum of every package from ``apt-cache dumpavail``, the long English descriptions from the
``Translation-en`` lists (``apt-get update -o Acquire::Languages=en`` fetches them), and writes a
CSV (``package,section,text``) for ``sparse-edge pipeline --data csv:...``. Sections lose their
``contrib/`` or ``non-free/`` prefix; only sections with at least ``--min-rows`` packages are kept;
a text that several packages share is kept once (so no text is both trained on and tested).

    scripts/debian_sections.py --out runs/debian/packages.csv
    sparse-edge pipeline --data csv:runs/debian/packages.csv --text-column text --label-column section \
        --out runs/debian

The CSV is not committed (about 30 MB); the commands rebuild it. Its summary (rows per section,
the Debian release, which lists were read) goes beside it as ``<out>.json``.
"""

from __future__ import annotations

import argparse
import collections
import csv
import glob
import io
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.files import write_json_atomic, write_text_atomic  # noqa: E402

LISTS = "/var/lib/apt/lists"


def stanzas(text: str):
    """Debian control stanzas as dicts (continuation lines joined with newlines)."""
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if fields:
            yield fields


def long_descriptions(lists: str) -> dict[str, str]:
    """Description-md5 -> the English description (short line, then the long text)."""
    found = {}
    for path in sorted(glob.glob(f"{lists}/*_i18n_Translation-en*")):
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], capture_output=True, check=True,
                              text=True).stdout
        for fields in stanzas(text):
            if "Description-md5" in fields and "Description-en" in fields:
                found[fields["Description-md5"]] = fields["Description-en"]
    return found


def readable(description: str) -> str:
    """A control-file description as plain text: ``.`` lines are paragraph breaks."""
    lines = [("" if line.strip() == "." else line.strip()) for line in description.split("\n")]
    return "\n".join(lines).strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/debian/packages.csv", help="the CSV to write [%(default)s]")
    parser.add_argument("--min-rows", type=int, default=200, help="keep sections with at least this many packages")
    parser.add_argument("--lists", default=LISTS, help="apt's list folder [%(default)s]")
    parser.add_argument("--top-sections", type=int, help="keep only this many of the largest sections")
    parser.add_argument("--per-section", type=int,
                        help="keep this many packages of each section (a seeded sample): a small dataset")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed [%(default)s]")
    args = parser.parse_args(argv)

    try:
        dump = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"error: apt-cache dumpavail failed ({error}); this needs Debian's apt", file=sys.stderr)
        return 2
    packages = list(stanzas(dump))
    if not packages:
        print("error: apt-cache dumpavail printed no packages; run `apt-get update -o Acquire::Languages=en` "
              "(root) first", file=sys.stderr)
        return 2
    long = long_descriptions(args.lists)
    if not long:
        print(f"error: no Translation-en lists in {args.lists}, so only one-line descriptions; run "
              "`apt-get update -o Acquire::Languages=en` (root) first", file=sys.stderr)
        return 2

    rows, seen, short_only = [], set(), 0
    for fields in packages:
        section = fields.get("Section", "").split("/")[-1]
        description = long.get(fields.get("Description-md5", ""))
        if description is None:
            description, short_only = fields.get("Description", ""), short_only + 1
        text = readable(description)
        if not section or not text or text in seen:
            continue
        seen.add(text)
        rows.append((fields["Package"], section, text))
    counts = collections.Counter(section for _, section, _ in rows)
    kept = {section for section, n in counts.items() if n >= args.min_rows}
    sections_found = len(counts)
    if args.top_sections:
        kept = set(sorted(kept, key=lambda s: (-counts[s], s))[: args.top_sections])
    rows = [row for row in rows if row[1] in kept]
    if args.per_section:   # a seeded sample of each section, in the file's order
        import random

        rng = random.Random(args.seed)
        chosen = set()
        for section in sorted(kept):
            indices = [i for i, row in enumerate(rows) if row[1] == section]
            chosen.update(rng.sample(indices, min(args.per_section, len(indices))))
        rows = [row for i, row in enumerate(rows) if i in chosen]

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["package", "section", "text"])
    writer.writerows(rows)
    out = Path(args.out)
    write_text_atomic(out, buffer.getvalue())
    release = next((line.split(":", 1)[1].strip() for path in glob.glob(f"{args.lists}/*debian_dists_*_InRelease")
                    for line in Path(path).read_text(errors="replace").splitlines() if line.startswith("Codename:")), None)
    summary = {"rows": len(rows), "sections": len(kept), "min_rows": args.min_rows, "release": release,
               "packages_read": len(packages), "short_description_only": short_only,
               "rows_per_section": dict(collections.Counter(section for _, section, _ in rows).most_common()),
               "dropped_sections": {s: n for s, n in sorted(counts.items()) if s not in kept},
               "command": "scripts/debian_sections.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_json_atomic(out.with_suffix(".json"), summary)
    print(f"{out}: {len(rows):,} packages in {len(kept)} sections (of {sections_found}); "
          f"{short_only:,} without a long description")
    return 0


if __name__ == "__main__":
    sys.exit(main())
