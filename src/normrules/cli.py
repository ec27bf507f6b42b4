"""The ``normrules`` command line.

    normrules check rulesets/                       every error of every ruleset, file:line:col
    normrules eval RULESET --input parks.csv        one row per entity: values, verdicts, results
    normrules explain RULESET --input parks.csv --id P004
    normrules test rulesets/                        run the examples written in the rulesets
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from . import __version__
from .api import input_paths, load
from .errors import CheckFailed, DataError, NormrulesError, diagnostics_json, render_diagnostics
from .stream import DEFAULT_BATCH_ROWS

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


def _output_format(fmt: str | None, output: Path | None) -> str:
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else "csv"
        fmt = {"pq": "parquet", "parquet": "parquet", "json": "json"}.get(suffix, "csv")
    if fmt == "parquet" and output is None:
        _fail("--format parquet needs --output FILE")
    return fmt


@contextmanager
def _progress(run, shown: bool):
    """A progress bar on standard error over the bytes of the input files read; yields the
    function to call after each batch. Nothing is drawn when ``shown`` is false."""
    if not shown:
        yield lambda: None
        return
    done, total = run.progress()
    with click.progressbar(length=max(total, 1), label="evaluating", file=sys.stderr, show_pos=False,
                           show_percent=True, show_eta=True) as bar:
        def tick():
            now, _ = run.progress()
            if now > bar.pos:
                bar.update(now - bar.pos)
        yield tick
        bar.update(max(total - bar.pos, 0))


def _stream_to(run, writer, tick) -> None:
    for table in run.tables():
        writer.write(table)
        tick()
    writer.close()


def _evaluate_streaming(rs, files: dict, fmt: str, output: Path | None, *, batch_rows: int, as_of, invalid: str,
                        progress: bool):
    """Evaluate batch by batch (normrules.stream), writing each batch's rows as they come:
    to ``output`` through a temporary file renamed at the end, else to standard output."""
    from .atomic import atomic_path
    from .stream import OutputWriter, StreamEvaluation

    run = StreamEvaluation(rs, files, batch_rows=batch_rows, as_of=as_of, invalid=invalid)
    ref, sha = rs.ref, rs.content_hash
    with _progress(run, progress) as tick:
        if output is None:
            writer = OutputWriter(fmt, ref, sha, emit=lambda data: click.echo(data.decode("utf-8"), nl=False))
            _stream_to(run, writer, tick)
        elif fmt == "parquet":
            with atomic_path(output) as tmp:
                _stream_to(run, OutputWriter(fmt, ref, sha, path=tmp), tick)
        else:
            with atomic_path(output) as tmp, open(tmp, "wb") as fh:
                _stream_to(run, OutputWriter(fmt, ref, sha, emit=fh.write), tick)
    return run.summary


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


def _input_files(rs, inputs: tuple[str, ...]) -> dict[str, str]:
    """``--input FILE`` (the root entity) or ``--input entity=FILE`` for each entity: entity → path."""
    files = input_paths(rs, inputs)
    for path in files.values():
        if not Path(path).is_file():
            _fail(f"no input file {path}")
    if rs.checked.entity not in files:
        _fail(f"no table for `{rs.checked.entity}`: pass --input {rs.checked.entity}=FILE")
    return files


def _tables(rs, inputs: tuple[str, ...]) -> tuple[object, dict]:
    """The whole input tables: the root entity's, and the child entities' by entity."""
    from .tables import read_table

    by_entity: dict[str, object] = {}
    for entity, path in _input_files(rs, inputs).items():
        try:
            by_entity[entity] = read_table(path)
        except DataError as exc:
            _fail(f"{path}: {exc}")
    root = by_entity.pop(rs.checked.entity)
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
@click.option("--output", "-o", type=click.Path(path_type=Path),
              help="Write results here (written atomically: a temporary file renamed when complete, removed "
                   "on error or interruption). Default: standard output. With --dask, a path without a "
                   "suffix is a directory of part files written by the workers.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet", "pact"]),
              help="Output format; default from the --output suffix, else csv. `pact`: one WBCSD PACT v3 "
                   "ProductFootprint per product of a PCR ruleset (docs/embedding.md, \"PACT export\"); "
                   "stops naming any field PACT requires that neither the ruleset nor the input gives.")
@click.option("--fail-on", type=click.Choice(["fail", "unknown"]),
              help="Exit 1 when any verdict is fail (or, with `unknown`, fail or unknown).")
@click.option("--invalid", type=click.Choice(["error", "unknown"]), default="error", show_default=True,
              help="Out-of-range values and undeclared categories: stop with an error naming column and row, "
                   "or read them as unknown and count them.")
@click.option("--batch-rows", type=click.IntRange(min=1), default=DEFAULT_BATCH_ROWS, show_default=True,
              metavar="N", help="Rows of the root entity evaluated at a time: memory grows with N, not with the "
                                "file. Child rows come with their parents (files grouped by parent: "
                                "docs/streaming.md).")
@click.option("--dask", "dask_address", metavar="ADDRESS",
              help="Evaluate on a running Dask cluster (scheduler address, e.g. tcp://10.0.0.5:8786): the workers "
                   "read the inputs and evaluate them partition by partition, children co-partitioned with their "
                   "parent. Needs `pip install normrules[dask]`; see docs/scale.md.")
@click.option("--quiet", "-q", is_flag=True, help="No summary and no progress bar on standard error "
                                                  "(the bar is only drawn when standard error is a terminal).")
def eval_(ruleset, inputs, as_of, roots, output, fmt, fail_on, invalid, batch_rows, dask_address, quiet):
    """Evaluate RULESET over every entity of an input table.

    Writes one row per entity with every derived value (unit in the header), every rule's
    verdict (pass / fail / not_applicable / unknown) and every result, plus the ruleset's
    id@version and content hash; prints the counts per verdict on standard error.

    Files larger than memory are fine: rows are read, evaluated and written in batches of
    --batch-rows (child rows with their parent), with the same rows, order and summary as
    evaluating the whole table at once.

    \b
    Examples:
      normrules eval rulesets/gb/zero_carbon_park.nr -i examples/parks.csv -o out.csv
      normrules eval rulesets/iec/pv_module_cfp.nr -i module=modules.csv -i line=bom.csv \\
          --format pact --as-of 2025-06-30 -o footprints.json
      normrules eval rulesets/gb/zero_carbon_park.nr -i 'parks/*.csv' --dask tcp://scheduler:8786 -o out/
    """
    if dask_address:
        if fmt == "pact":
            _fail("--format pact is not available with --dask: export PACT from an in-process run")
        try:
            from .dask import run_eval_command
        except ImportError as exc:
            _fail(f"{exc}; install the Dask extra: pip install 'normrules[dask]'")
        sys.exit(run_eval_command(ruleset, inputs, address=dask_address, as_of=as_of, roots=roots, output=output,
                                  fmt=fmt, invalid=invalid, fail_on=fail_on, quiet=quiet))
    if output is not None and output.is_dir():
        _fail(f"--output {output} is a directory; give a file name (directories of part files are for --dask)")
    rs = _load_or_exit(ruleset, roots, as_of)
    fmt = _output_format(fmt, output)
    if fmt == "pact":
        summary = _export_pact(rs, inputs, output, as_of, invalid)
    else:
        summary = _evaluate_streaming_or_exit(rs, inputs, fmt, output, batch_rows, as_of, invalid, quiet)
    if not quiet:
        click.echo(_summary(summary), err=True)
    if fail_on:
        counts = summary.counts()
        bad = sum(k.get("fail", 0) + (k.get("unknown", 0) if fail_on == "unknown" else 0)
                  for name, k in counts.items() if "fail" in k)
        if bad:
            sys.exit(1)


def _export_pact(rs, inputs, output, as_of, invalid):
    """``--format pact``: the whole product table at once (one footprint per product)."""
    from .pact import write_pact_output

    root, children = _tables(rs, inputs)
    try:
        ev = rs.evaluate(root, children=children or None, as_of=as_of, invalid=invalid)
        write_pact_output(ev, root, output, created=as_of)
    except NormrulesError as exc:
        _fail(str(exc))
    return ev


def _evaluate_streaming_or_exit(rs, inputs, fmt, output, batch_rows, as_of, invalid, quiet):
    files = _input_files(rs, inputs)
    try:
        return _evaluate_streaming(rs, files, fmt, output, batch_rows=batch_rows, as_of=as_of, invalid=invalid,
                                   progress=not quiet and sys.stderr.isatty())
    except DataError as exc:
        _fail(str(exc))


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
