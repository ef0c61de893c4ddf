"""The mutation-testing record (``scripts/mutation``) as a table: how many changes to each file its fast tests catch."""

from __future__ import annotations

import json
from pathlib import Path

from sparse_edge.reports.tables import ROOT

RECORD = "artifacts/bench/mutation.json"


def mutation_table(path: str = RECORD) -> str:
    """Per file: mutants, killed (failed or hung tests), survivors, the score against the goal; then every survivor
    and why it changes nothing a caller can see."""
    report = json.loads((Path(ROOT) / path).read_text())
    lines = [f"{report['tool']} on {report['date']}, each file against its fast tests (`{report['command']}`); "
             f"goal: at least {report['goal']:.0%} of each file's mutants killed.", "",
             "| file | tests | mutants | killed | of which hung | survived | score |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, row in report["files"].items():
        mark = "✅" if row["score"] >= report["goal"] else "❌"
        tests = ", ".join(f"`{Path(t).name}`" for t in row["tests"])
        lines.append(f"| `{name}` | {tests} | {row['mutants']} | {row['killed']} | {row['timed_out']} | "
                     f"{row['survived']} | {mark} {row['score']:.1%} |")
    lines += ["", f"In all {report['killed']:,} of {report['mutants']:,} mutants killed; "
              + ("every survivor is explained below." if not report["unexplained_survivors"] else
                 f"{len(report['unexplained_survivors'])} survivors not explained: "
                 + ", ".join(report["unexplained_survivors"]) + ".")]
    survivors = [(name, s) for name, row in report["files"].items() for s in row["survivors"]]
    if survivors:
        lines += ["", "| file:line | original | mutant | why it changes nothing a caller can see |", "|---|---|---|---|"]
        for name, s in survivors:
            lines.append(f"| `{name}:{s['line']}` | `{_cell(s['original'])}` | `{_cell(s['mutant'])}` | "
                         f"{_cell(s['equivalent_because'], None) if s['equivalent_because'] else '**not explained**'} |")
    return "\n".join(lines)


def _cell(text: str, limit: int | None = 90) -> str:
    """Text for a table cell: its pipes escaped (a cell ends at a bare one), code cut at ``limit`` characters."""
    return text.replace("|", "\\|")[:limit]
