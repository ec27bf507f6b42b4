"""``normrules diff OLD NEW [--data FILE] [--format text|md|json|html|csv] [--output FILE]``.

A click command, registered on the ``normrules`` group by ``cli.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

FORMATS = ("text", "md", "json", "html", "csv")


def _fail(message: str, code: int = 2):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _load(path: str):
    from ..api import load
    from ..errors import CheckFailed, NormrulesError

    try:
        return load(path)
    except CheckFailed as exc:
        click.echo(f"{path}: does not compile\n{exc}", err=True)
        sys.exit(1)
    except NormrulesError as exc:
        _fail(str(exc))


def _write(path: Path, text: str) -> None:
    """Atomic write: a temporary file in the same directory, then a rename."""
    from ..atomic import write_text_atomic

    write_text_atomic(path, text)


@click.command(name="diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", "-d", "data", type=click.Path(exists=True, dir_okay=False),
              help="Entity table (CSV, Parquet or JSON, as for eval): evaluate both revisions on it and report "
                   "which verdicts and results change.")
@click.option("--child", "child_tables", multiple=True, metavar="ENTITY=FILE",
              help="The table of a child entity (e.g. --child fuel=fuels.csv), with --data. Repeatable.")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD",
              help="Fill an `as_of` input where --data has no such column (as for eval).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="text (default), md, json, html, or csv (the changed entities, needs --data). "
                   "Default from the --output suffix.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (atomically) instead of standard output.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Changed entities listed by text and md (json and csv list all; html up to 500).")
@click.option("--invalid", type=click.Choice(["unknown", "error"]), default="unknown", show_default=True,
              help="Values outside a declared range in --data: read as unknown and count them, or stop.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when the revisions differ (like `git diff --exit-code`).")
def diff_command(old, new, data, child_tables, as_of, fmt, output, limit, invalid, exit_code):
    """Compare two revisions of a ruleset by meaning, not text.

    Lists inputs, values, rules and results added, removed, renamed or changed — limits (after
    unit conversion), comparison direction and strictness, judgement method, applicability,
    severity, units, formulas, clause references, titles, header metadata — with the range of
    each changed limit whose outcome flips and the outputs each change can affect. With --data,
    evaluates both revisions on the same entities and counts verdict transitions.

    \b
    Example:
      normrules diff old.nr new.nr
      normrules diff old.nr new.nr --data parks.csv --format html -o diff.html
    """
    from ..errors import DataError
    from .semantic import diff

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = {"json": "json", "md": "md", "markdown": "md", "html": "html", "htm": "html", "csv": "csv"}.get(suffix, "text")
    if fmt == "csv" and data is None:
        _fail("--format csv lists changed entities and needs --data FILE")
    children = {}
    for spec in child_tables:
        entity, sep, path = spec.partition("=")
        if not sep or not entity or not Path(path).is_file():
            _fail(f"--child takes ENTITY=FILE with an existing file, not `{spec}`")
        children[entity.strip()] = path
    if children and data is None:
        _fail("--child needs --data FILE (the table of the root entity)")
    a, b = _load(old), _load(new)
    try:
        d = diff(a, b, data=data, children=children or None, as_of=as_of, invalid=invalid)
    except DataError as exc:
        _fail(f"{data}: {exc}")
    except ValueError as exc:      # e.g. a malformed --as-of date
        _fail(str(exc))
    text = {"text": lambda: d.to_text(limit), "md": lambda: d.to_markdown(limit), "json": d.to_json,
            "html": d.to_html, "csv": d.to_csv}[fmt]()
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)
        click.echo(f"wrote {output}", err=True)
    sys.exit(1 if exit_code and not d.is_empty else 0)


__all__ = ["diff_command"]
