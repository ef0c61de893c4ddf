"""``sparse-edge report``: regenerate (or check) the README's tables from the committed JSON."""

from __future__ import annotations

from pathlib import Path

import click

from model.files import write_text_atomic
from sparse_edge.commands.common import fail


@click.command("report")
@click.option("--readme", default="README.md", show_default=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if the README is out of date.")
def report(readme, check):
    """Rewrite the README blocks <!-- table:NAME --> ... <!-- /table:NAME --> from artifacts/ JSON."""
    from sparse_edge.report import render_readme

    path = Path(readme)
    current = path.read_text(encoding="utf-8")
    fresh = render_readme(current)
    if check:
        if fresh != current:
            fail(f"{readme} is out of date with the JSON under artifacts/; run `sparse-edge report`")
        click.echo(f"{readme} matches the JSON")
        return
    write_text_atomic(path, fresh)
    click.echo(f"{readme}: tables regenerated")
