"""The ``normrules schema`` command (built on first use: ``import normrules`` does not need click)."""

from __future__ import annotations


def make_schema_command():
    """The click command printing the JSON Schema of one entity's inputs and outputs."""
    import json

    import click

    from . import schema

    @click.command(name="schema")
    @click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
    @click.option("--as-of", "as_of", metavar="DATE",
                  help="Reporting date (YYYY-MM-DD) that picks, for imports without a version, the revision in "
                       "force on that date. Default: today.")
    @click.option("--rulesets", "roots", multiple=True, type=click.Path(file_okay=False),
                  help="More folders to find imported rulesets in (besides the shipped rulesets/ and $NORMRULES_PATH).")
    def schema_command(ruleset, as_of, roots):
        """Print the JSON Schema (draft 2020-12) of one entity's inputs and outputs, as the
        embedding API (normrules.evaluate_one) takes and returns them: input types, units
        (x-unit), declared ranges and categories; every value, verdict and result. RULESET is a
        .nr file or compiled IR (.json).

        \b
        Example:
          normrules schema rulesets/gb/zero_carbon_park.nr > park.schema.json
        """
        from ..cli import _fail, _load_or_exit
        from ..errors import NormrulesError

        if str(ruleset).lower().endswith(".json"):
            from ..ir import load_ir

            try:
                rs = load_ir(ruleset)
            except NormrulesError as exc:
                _fail(str(exc))
        else:
            rs = _load_or_exit(ruleset, roots, as_of)
        click.echo(json.dumps(schema(rs), ensure_ascii=False, indent=2))

    return schema_command
