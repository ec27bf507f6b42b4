"""Rendering rulesets for people: the dependency graph (DOT, Mermaid, SVG) and the document a
standards committee circulates (Markdown, self-contained HTML).

    normrules graph RULESET --format dot|svg|mermaid [--lang zh|en] [--output FILE]
    normrules doc   RULESET --format md|html        [--lang zh|en] [--output FILE]

From Python::

    from normrules.render import render_document, render_graph
    html = render_document(normrules.load(path), "html", lang="en")

The click commands :data:`graph_command` and :data:`doc_command` are registered on the
``normrules`` group by :mod:`normrules.cli`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .document import document_model, render_document
from .graphs import render_graph

_GRAPH_SUFFIX = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".mmd": "mermaid", ".mermaid": "mermaid"}
_DOC_SUFFIX = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}


def _load_or_exit(path: str):
    from ..api import load
    from ..errors import CheckFailed, NormrulesError

    try:
        return load(path)
    except CheckFailed as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except NormrulesError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _emit(text: str, output: Path | None) -> None:
    """Print ``text``, or write it to ``output`` through a temporary file and a rename."""
    if output is None:
        click.echo(text, nl=False)
        return
    from ..atomic import write_text_atomic

    write_text_atomic(output, text)


def _format_from(fmt: str | None, output: Path | None, suffixes: dict[str, str], default: str) -> str:
    if fmt:
        return fmt
    if output is not None:
        return suffixes.get(output.suffix.lower(), default)
    return default


_LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                     help="Language of labels and headings; en falls back to the Chinese label where a "
                          "declaration has no English one.")
_OUTPUT = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                       help="Write here (atomically). Default: standard output.")


@click.command(name="graph")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["dot", "svg", "mermaid"]),
              help="dot (Graphviz), svg (laid out by normrules, no Graphviz needed) or mermaid; "
                   "default from the --output suffix (.dot/.gv, .svg, .mmd), else dot.")
@_LANG
@_OUTPUT
def graph_command(ruleset, fmt, lang, output):
    """Draw the dependency graph of RULESET: inputs → derived values → rules → results.

    Rule nodes show their id, clause and severity.

    \b
    Example:
      normrules graph rulesets/gb/zero_carbon_park.nr --format svg -o park.svg
      normrules graph rulesets/gb/zero_carbon_park.nr --format dot | dot -Tpng > park.png
    """
    rs = _load_or_exit(ruleset)
    _emit(render_graph(rs, _format_from(fmt, output, _GRAPH_SUFFIX, "dot"), lang), output)


@click.command(name="doc")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "html"]),
              help="md (Markdown) or html (one self-contained page); default from the --output suffix, else md.")
@_LANG
@_OUTPUT
def doc_command(ruleset, fmt, lang, output):
    """Render RULESET as the document a standards committee circulates.

    Header metadata (title, document number, issuer, version, dates, status, MIIT category),
    inputs with units and ranges, derived values with their formulas, every rule with its clause,
    severity, applicability, requirement and limits, the results' ordered branches, lookup
    tables with their provenance, the worked examples, and the dependency graph (inline SVG).

    \b
    Example:
      normrules doc rulesets/gb/zero_carbon_park.nr --format html -o park.html
      normrules doc rulesets/gb/zero_carbon_park.nr --lang en > park.en.md
    """
    rs = _load_or_exit(ruleset)
    _emit(render_document(rs, _format_from(fmt, output, _DOC_SUFFIX, "md"), lang), output)


__all__ = ["graph_command", "doc_command", "render_document", "render_graph", "document_model"]
