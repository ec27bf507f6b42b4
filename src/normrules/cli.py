"""The ``normrules`` command line.

    normrules check rulesets/                       every error of every ruleset, file:line:col
    normrules eval RULESET --input parks.csv        one row per entity: values, verdicts, results
    normrules explain RULESET --input parks.csv --id P004
    normrules test rulesets/                        run the examples written in the rulesets
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import click
import pyarrow as pa

from . import __version__
from .api import find_rulesets, load
from .errors import CheckFailed, DataError, NormrulesError, diagnostics_json, render_diagnostics

EPILOG = "Language reference: docs/language.md. Exit codes: 0 ok, 1 check/test/--fail-on failure, 2 usage or data error."


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="normrules")
def main() -> None:
    """normrules — rulesets for carbon standards: check them, evaluate them over tables of
    entities, explain a verdict, run their examples.

    A ruleset (.nr file) encodes one document — a policy notice, an evaluation standard, a PCR —
    as typed inputs with units, derived values, rules citing clauses, and results. Start with
    `normrules check rulesets/` and `normrules eval rulesets/gb/zero_carbon_park.nr --input
    examples/parks.csv`.
    """


# --------------------------------------------------------------------------- check


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: file:line:col with the source line and a caret; json: a list of diagnostics.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def check(paths, fmt, strict):
    """Check rulesets (files or directories of .nr files) and report every problem found.

    A ruleset that compiles is also linted: numeric bands with gaps or overlaps (W402, W403),
    result branches and conditions that can never be reached (W401, W404), rules used by no
    result (W405), inputs nothing reads (W406). Warnings do not fail the check unless --strict.
    Examples in `<name>.examples.nr` beside a ruleset are checked with it.

    \b
    Example:
      normrules check rulesets/
      normrules check --strict --format json my_standard.nr
    """
    from .examples import load_with_examples, ruleset_files
    from .lint import lint

    try:
        files = ruleset_files(paths)
    except NormrulesError as exc:
        _fail(str(exc))
    all_diags, text_parts, failed = [], [], 0
    for f in files:
        try:
            rs = load_with_examples(f)
            diags, sources = list(rs.warnings) + lint(rs), rs.sources
            diags.sort(key=lambda d: (d.span.file, d.span.line, d.span.col))
        except CheckFailed as exc:
            diags, sources = list(exc.diagnostics), exc.sources
        except NormrulesError as exc:
            _fail(str(exc))
        errors = [d for d in diags if d.severity == "error" or strict]
        failed += bool(errors)
        all_diags.extend(diags)
        if diags:
            text_parts.append(render_diagnostics(diags, sources))
    if fmt == "json":
        click.echo(diagnostics_json(all_diags))
    else:
        for part in text_parts:
            click.echo(part + "\n")
        ok = len(files) - failed
        click.echo(f"{len(files)} ruleset{'s' * (len(files) != 1)} checked: {ok} ok, {failed} with errors", err=True)
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------- eval


def _write_atomic(path: Path, writer) -> None:
    """Write through a temporary file in the same directory, then rename: no half-written output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_output(table: pa.Table, ref: str, sha: str, fmt: str, output: Path | None) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        if output is None:
            _fail("--format parquet needs --output FILE")
        _write_atomic(output, lambda tmp: pq.write_table(table, tmp))
        return
    if fmt == "json":
        doc = {"ruleset": ref, "sha256": sha, "rows": table.to_pylist()}
        text = json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n"
    else:
        n = table.num_rows
        table = table.append_column("_ruleset", pa.array([ref] * n)).append_column("_sha256", pa.array([sha] * n))
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        text = sink.getvalue().to_pybytes().decode("utf-8")
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_atomic(output, lambda tmp: Path(tmp).write_text(text, "utf-8"))


def _summary(ev) -> str:
    c = ev.ruleset.checked
    lines = [f"{c.ref} (sha256 {c.content_hash[:12]}) — {ev.n} {c.entity} entit{'ies' if ev.n != 1 else 'y'} evaluated"]
    counts = ev.counts()
    rules = [r for r in c.rules if r.id in counts]
    if rules:
        width = max(len(r.id) for r in rules)
        lines.append(f"  {'rule':<{width}}  {'pass':>7} {'fail':>7} {'n/a':>7} {'unknown':>7}")
        for r in rules:
            k = counts[r.id]
            lines.append(f"  {r.id:<{width}}  {k['pass']:>7} {k['fail']:>7} {k['not_applicable']:>7} {k['unknown']:>7}")
    for res in c.results:
        if res.name in counts:
            parts = ", ".join(f"{label} {n}" for label, n in counts[res.name].items())
            lines.append(f"  {res.name}: {parts}")
    for span, n in ev.counters.division_by_zero.items():
        if n:
            lines.append(f"  division by zero (unknown): {n} at {span}")
    for (table, span), n in ev.counters.lookup_misses.items():
        if n:
            lines.append(f"  no row in table `{table}` (unknown): {n} at {span}")
    for name, n in ev.invalid_counts.items():
        lines.append(f"  invalid values read as unknown: {n} in `{name}`")
    for w in ev.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def _load_or_exit(ruleset, roots=(), as_of=None):
    from .imports import default_roots

    try:
        return load(ruleset, roots=[*default_roots(), *map(Path, roots)], as_of=as_of)
    except CheckFailed as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except NormrulesError as exc:
        _fail(str(exc))


def _tables(rs, inputs: tuple[str, ...]) -> tuple[object, dict]:
    """``--input FILE`` (the root entity) or ``--input entity=FILE`` for each entity."""
    from .tables import read_table

    c = rs.checked
    names = [e.name for e in c.entities] or [c.entity]
    by_entity: dict[str, object] = {}
    for spec in inputs:
        entity, sep, path = spec.partition("=")
        if not sep or entity not in names:
            entity, path = c.entity, spec
        if not Path(path).is_file():
            _fail(f"no input file {path}")
        try:
            by_entity[entity] = read_table(path)
        except DataError as exc:
            _fail(f"{path}: {exc}")
    if c.entity not in by_entity:
        _fail(f"no table for `{c.entity}`: pass --input {c.entity}=FILE")
    root = by_entity.pop(c.entity)
    return root, by_entity


def _evaluate_or_exit(rs, inputs, invalid, as_of=None):
    root, children = _tables(rs, inputs)
    try:
        return rs.evaluate(root, children=children or None, as_of=as_of, invalid=invalid)
    except DataError as exc:
        _fail(f"{', '.join(inputs)}: {exc}")


_INPUT_HELP = ("Entity table: CSV (UTF-8 or GBK; units in headers like `energy [万tce/yr]`), Parquet or JSON. "
               "For a ruleset with child entities give one per entity: `--input module=modules.csv --input "
               "line=bom.csv` (child rows name their parent in a column named like the parent's key).")
_AS_OF_HELP = ("Reporting date (YYYY-MM-DD): fills an `as_of` input and picks, for imports without a version, "
               "the revision in force on that date. Default: today.")
_ROOTS_HELP = "More folders to find imported rulesets in (besides the shipped rulesets/ and $NORMRULES_PATH)."


@main.command(name="eval")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "-i", "inputs", required=True, multiple=True, metavar="[ENTITY=]FILE", help=_INPUT_HELP)
@click.option("--as-of", "as_of", metavar="DATE", help=_AS_OF_HELP)
@click.option("--rulesets", "roots", multiple=True, type=click.Path(file_okay=False), help=_ROOTS_HELP)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write results here (written atomically). Default: standard output.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]),
              help="Output format; default from the --output suffix, else csv.")
@click.option("--fail-on", type=click.Choice(["fail", "unknown"]),
              help="Exit 1 when any verdict is fail (or, with `unknown`, fail or unknown).")
@click.option("--invalid", type=click.Choice(["error", "unknown"]), default="error", show_default=True,
              help="Out-of-range values and undeclared categories: stop with an error naming column and row, "
                   "or read them as unknown and count them.")
@click.option("--quiet", "-q", is_flag=True, help="No summary on standard error.")
def eval_(ruleset, inputs, as_of, roots, output, fmt, fail_on, invalid, quiet):
    """Evaluate RULESET over every entity of an input table.

    Writes one row per entity with every derived value (unit in the header), every rule's
    verdict (pass / fail / not_applicable / unknown) and every result, plus the ruleset's
    id@version and content hash; prints the counts per verdict on standard error.

    \b
    Example:
      normrules eval rulesets/gb/zero_carbon_park.nr -i examples/parks.csv -o out.csv
    """
    rs = _load_or_exit(ruleset, roots, as_of)
    ev = _evaluate_or_exit(rs, inputs, invalid, as_of)
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else "csv"
        fmt = {"pq": "parquet", "parquet": "parquet", "json": "json"}.get(suffix, "csv")
    _write_output(ev.to_arrow(), rs.ref, rs.content_hash, fmt, output)
    if not quiet:
        click.echo(_summary(ev), err=True)
    if fail_on:
        counts = ev.counts()
        bad = sum(k.get("fail", 0) + (k.get("unknown", 0) if fail_on == "unknown" else 0)
                  for name, k in counts.items() if "fail" in k)
        if bad:
            sys.exit(1)


@main.command()
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "-i", "inputs", required=True, multiple=True, metavar="[ENTITY=]FILE",
              help="Entity table(s), as for eval.")
@click.option("--as-of", "as_of", metavar="DATE", help=_AS_OF_HELP)
@click.option("--rulesets", "roots", multiple=True, type=click.Path(file_okay=False), help=_ROOTS_HELP)
@click.option("--id", "key", required=True, help="The entity's key (the entity's key column, e.g. `id`).")
@click.option("--invalid", type=click.Choice(["error", "unknown"]), default="error", show_default=True)
def explain(ruleset, inputs, as_of, roots, key, invalid):
    """Explain one entity: each rule's verdict with its clause and the values and limits it
    compared; for an unknown, the missing inputs behind it.

    \b
    Example:
      normrules explain rulesets/gb/zero_carbon_park.nr -i examples/parks.csv --id P004
    """
    from .explain import explain as explain_row

    rs = _load_or_exit(ruleset, roots, as_of)
    ev = _evaluate_or_exit(rs, inputs, invalid, as_of)
    try:
        click.echo(explain_row(ev, key))
    except NormrulesError as exc:
        _fail(str(exc))


# --------------------------------------------------------------------------- test


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Also print, per ruleset, which outcomes (pass, fail, not_applicable) of each rule the "
                   "examples reach, grouped by clause, and the share of outcome slots covered.")
@click.option("--min", "min_pct", type=click.FloatRange(0, 100), metavar="PCT",
              help="Exit 1 when the coverage of any ruleset is below PCT percent (implies --coverage).")
def test(paths, show_coverage, min_pct):
    """Run the examples of rulesets (default: rulesets/) with both the vectorized executor and
    the reference interpreter; print expected vs actual for each failure.

    Examples are written in the ruleset or in `<name>.examples.nr` beside it (a file of `example`
    blocks only). With --coverage, each rule needs an example that makes it pass, one that makes
    it fail and, if it has `applies when`, one that makes it not_applicable; the table shows how
    many examples reach each outcome and MISSING where none does.

    \b
    Example:
      normrules test rulesets/gb
      normrules test rulesets/ --coverage --min 100
    """
    from .coverage import coverage, format_percent, render, total
    from .examples import load_with_examples, ruleset_files, run_examples

    show_coverage = show_coverage or min_pct is not None
    try:
        files = ruleset_files(paths or ["rulesets"])
    except NormrulesError as exc:
        _fail(str(exc))
    total_examples = failed = broken = below = 0
    coverages = []
    for f in files:
        try:
            rs = load_with_examples(f)
        except CheckFailed as exc:
            click.echo(f"{f}: does not compile\n{exc}", err=True)
            broken += 1
            continue
        except NormrulesError as exc:
            _fail(str(exc))
        outcomes = run_examples(rs)
        bad = [o for o in outcomes if not o.passed]
        total_examples += len(outcomes)
        failed += len(bad)
        click.echo(f"{rs.ref:<40} {len(outcomes) - len(bad)} passed, {len(bad)} failed   ({f})")
        for o in bad:
            click.echo(f"  FAIL {o.file}:{o.line} example \"{o.name}\"")
            for m in o.mismatches:
                click.echo(f"    {m.name}: expected {m.expected}, got {m.actual} ({m.engine})")
        if show_coverage:
            cov = coverage(rs)
            coverages.append(cov)
            below += min_pct is not None and cov.percent < min_pct
            click.echo(render(cov) + "\n")
    click.echo(f"{total_examples - failed} passed, {failed} failed")
    if show_coverage:
        covered, required, pct = total(coverages)
        line = f"coverage: {covered}/{required} outcome slots = {format_percent(pct)} over {len(coverages)} ruleset" \
               + "s" * (len(coverages) != 1)
        if min_pct is not None:
            line += f"; {below} below --min {min_pct:g} %" if below else f"; every ruleset at or above --min {min_pct:g} %"
        click.echo(line)
    sys.exit(1 if failed or broken or below else 0)


def _register() -> None:
    """Commands that live in their own modules."""
    from .catalog import catalog_command
    from .embed import schema_command
    from .fmt import fmt_command
    from .ir import compile_command
    from .render import doc_command, graph_command

    for command in (fmt_command, doc_command, graph_command, catalog_command, compile_command, schema_command):
        main.add_command(command)
    try:
        from .diff import diff_command
    except ImportError:  # pragma: no cover - the diff package is optional while it is being built
        return
    main.add_command(diff_command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
