"""``sparse-edge report``: regenerate (or check) the README's tables from the committed JSON."""

from __future__ import annotations

import click

from training.files import write_text_atomic
from sparse_edge.commands.common import fail


@click.command("report")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a document is out of date.")
def report(check):
    """Rewrite the blocks <!-- table:NAME --> ... <!-- /table:NAME --> of README.md and
    docs/experiments.md from the JSON under artifacts/."""
    from sparse_edge.report import DOCUMENTS, ROOT, render_readme

    stale = []
    for name in DOCUMENTS:
        path = ROOT / name
        current = path.read_text(encoding="utf-8")
        fresh = render_readme(current)
        if fresh == current:
            continue
        stale.append(name)
        if not check:
            write_text_atomic(path, fresh)
    if check and stale:
        fail(f"{', '.join(stale)} out of date with the JSON under artifacts/; run `sparse-edge report`")
    click.echo(f"{', '.join(stale)}: tables regenerated" if stale and not check else
               f"{', '.join(DOCUMENTS)} match the JSON")
