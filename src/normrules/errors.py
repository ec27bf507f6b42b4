"""Source spans, diagnostics and the error hierarchy.

Every error normrules raises derives from :class:`NormrulesError`. Compile-time problems are
collected as :class:`Diagnostic` values (one per problem, each with a source span) and raised
together as :class:`CheckFailed`, so that ``normrules check`` reports every error in one run.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based lines and columns, 0-based character offsets."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def to(self, other: "Span") -> "Span":
        """The span from the start of this one to the end of ``other``."""
        return Span(self.file, self.line, self.col, other.end_line, other.end_col, self.start, other.end)


NO_SPAN = Span("<builtin>", 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Note:
    """A secondary location mentioned by a diagnostic (e.g. the other members of a cycle)."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a ruleset.

    ``code`` names the error class (``E1xx`` syntax, ``E2xx`` names, ``E3xx`` types and units,
    ``E4xx`` graph, ``E5xx`` metadata and examples, ``W…`` warnings).
    """

    code: str
    message: str
    span: Span
    help: str | None = None
    notes: tuple[Note, ...] = ()
    severity: str = "error"

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.col,
            "end_line": self.span.end_line,
            "end_column": self.span.end_col,
            "help": self.help,
            "notes": [
                {"file": n.span.file, "line": n.span.line, "column": n.span.col, "message": n.message}
                for n in self.notes
            ],
        }


class SourceMap:
    """The text of every file read in one compilation, to print source lines under diagnostics."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}

    def add(self, file: str, text: str) -> None:
        self._texts[file] = text.splitlines()

    def line(self, file: str, lineno: int) -> str | None:
        lines = self._texts.get(file)
        if lines is None or not 1 <= lineno <= len(lines):
            return None
        return lines[lineno - 1]


def _display_width(text: str) -> int:
    """Terminal columns taken by ``text``: CJK characters are two columns wide."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def render_diagnostic(diag: Diagnostic, sources: SourceMap | None = None) -> str:
    """Format one diagnostic as ``file:line:col: error[code]: message`` with the line and a caret."""
    span = diag.span
    out = [f"{span}: {diag.severity}[{diag.code}]: {diag.message}"]
    src = sources.line(span.file, span.line) if sources else None
    if src is not None:
        gutter = str(span.line)
        pad = " " * len(gutter)
        out.append(f" {gutter} | {src.rstrip()}")
        start = _display_width(src[: max(span.col - 1, 0)])
        if span.end_line == span.line and span.end_col > span.col:
            width = max(_display_width(src[span.col - 1 : span.end_col - 1]), 1)
        else:
            width = max(_display_width(src[span.col - 1 :].rstrip()), 1)
        out.append(f" {pad} | {' ' * start}{'^' * width}")
    for note in diag.notes:
        out.append(f"  note: {note.span}: {note.message}")
    if diag.help:
        out.append(f"  help: {diag.help}")
    return "\n".join(out)


def render_diagnostics(diags: Iterable[Diagnostic], sources: SourceMap | None = None) -> str:
    diags = list(diags)
    text = "\n\n".join(render_diagnostic(d, sources) for d in diags)
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    return f"{text}\n\n{summary}" if text else summary


def diagnostics_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_dict() for d in diags], ensure_ascii=False, indent=2)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """``"did you mean `x`?"`` for the closest candidate, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


class NormrulesError(Exception):
    """Root of every error normrules raises."""


class CheckFailed(NormrulesError):
    """A ruleset has compile-time errors; ``diagnostics`` lists all of them (and warnings)."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: SourceMap | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = sources
        super().__init__(render_diagnostics(self.diagnostics, sources))

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


class RulesetNotFound(NormrulesError):
    """A path or ruleset id that does not exist."""


class DataError(NormrulesError):
    """Input data that does not fit the ruleset: a bad unit, an undeclared category, a bad row."""

    def __init__(self, message: str, column: str | None = None, row: int | None = None):
        self.column = column
        self.row = row
        where = []
        if column is not None:
            where.append(f"column `{column}`")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
