"""docs/cli.md is generated from the click commands and must stay up to date."""

from __future__ import annotations

from pathlib import Path

import click

from normrules.cli import main
from normrules.clidoc import generate

ROOT = Path(__file__).resolve().parents[1]
CLI_MD = ROOT / "docs" / "cli.md"
REGENERATE = "python -m normrules.clidoc > docs/cli.md"


def test_cli_reference_is_up_to_date():
    expected = generate()
    actual = CLI_MD.read_text("utf-8") if CLI_MD.is_file() else ""
    assert actual == expected, (
        f"docs/cli.md is out of date with the commands in src/normrules/cli.py; regenerate it with\n"
        f"    {REGENERATE}\n(run from the repository root, with the package's venv active)"
    )


def test_every_command_and_option_is_documented():
    text = generate()
    ctx = click.Context(main, info_name="normrules")
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        assert f"## `normrules {name}`" in text
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert f"`{p.opts[0]}`" in text, f"{name} {p.opts[0]}"


def test_generated_text_is_stable_and_markdown_safe():
    text = generate()
    assert text == generate() and text.endswith("\n") and not text.endswith("\n\n")
    assert "`--coverage`" in text and "`--min`" in text and "`--strict`" in text
    for line in text.splitlines():
        if line.startswith("| ") and "`" not in line:
            assert "<" not in line.replace("<!--", "")   # no raw tags in table cells


def test_help_paragraphs_keep_literal_blocks():
    @click.command()
    def cmd():
        """First line.

        Second paragraph
        wrapped.

        \b
        Example:
          x --y
        """

    g = click.Group("g", commands={"cmd": cmd})
    text = generate(g)
    assert "Second paragraph wrapped.\n" in text
    assert "```text\nExample:\n  x --y\n```" in text
