"""Phase 1: ruleset text → :class:`normrules.ast.Module`.

The grammar is ``normrules/grammar/normrules.lark`` (LALR, contextual lexer). Syntax errors
become :class:`~normrules.errors.Diagnostic` values with the position, the source line and what
was expected; common mistakes get a hand-written message via lark's ``match_examples``. After a
syntax error the parser skips to the next declaration and goes on, so one run reports one error
per broken declaration.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .errors import CheckFailed, Diagnostic, SourceMap, Span, did_you_mean

KEYWORDS = (
    "and or not is in if then else case when end otherwise true false number boolean text date "
    "ruleset title zh en document issuer version published effective status category supersedes "
    "entity key input let rule clause severity applies require judge to result example given "
    "expect inf of param table column rows from row publisher import as override child latest where default"
).split()

DECLARATION_KEYWORDS = ("entity", "input", "let", "param", "table", "import", "override", "rule", "result", "example")


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return resources.files("normrules.grammar").joinpath("normrules.lark").read_text("utf-8")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)


def _span(file: str, meta) -> Span:
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)


def _tspan(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)


def _number_value(text: str) -> float:
    return float(text.replace("_", ""))


def _unquote(tok: Token) -> str:
    body = str(tok)[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


class _ToAst(Transformer):
    """Builds AST nodes bottom-up from the lark tree."""

    def __init__(self, file: str, source: str):
        super().__init__()
        self.file = file
        self.source = source

    def s(self, meta) -> Span:
        return _span(self.file, meta)

    def t(self, tok: Token) -> Span:
        return _tspan(self.file, tok)

    # -------------------------------------------------------------- names
    @v_args(meta=True)
    def ref(self, meta, names):
        return ast.Ref(tuple(str(n) for n in names), self.s(meta))

    @v_args(meta=True)
    def qname(self, meta, names):
        return (tuple(str(n) for n in names), self.s(meta))

    @v_args(meta=True)
    def dotted(self, meta, names):
        return (".".join(str(n) for n in names), self.s(meta))

    @v_args(meta=True)
    def glob(self, meta, children):
        return ast.Glob(str(children[0])[:-2], self.s(meta))

    # -------------------------------------------------------------- literals
    @v_args(meta=True)
    def number(self, meta, children):
        num, unit = children[0], (children[1] if len(children) > 1 else None)
        unit_text = str(unit) if unit is not None else None
        return ast.Number(str(num), _number_value(num), unit_text, self.s(meta))

    @v_args(meta=True)
    def string(self, meta, children):
        return ast.String(_unquote(children[0]), self.s(meta))

    @v_args(meta=True)
    def date(self, meta, children):
        return ast.DateLit(str(children[0]), self.s(meta))

    @v_args(meta=True)
    def true(self, meta, _):
        return ast.Bool(True, self.s(meta))

    @v_args(meta=True)
    def false(self, meta, _):
        return ast.Bool(False, self.s(meta))

    # -------------------------------------------------------------- operators
    @v_args(meta=True)
    def binary(self, meta, c):
        return ast.Binary(str(c[1]), c[0], c[2], self.s(meta))

    @v_args(meta=True)
    def neg(self, meta, c):
        return ast.Unary("-", c[0], self.s(meta))

    @v_args(meta=True)
    def compare(self, meta, c):
        return ast.Compare(str(c[1]), c[0], c[2], self.s(meta))

    @v_args(meta=True)
    def and_op(self, meta, c):
        return ast.Logic("and", c[0], c[1], self.s(meta))

    @v_args(meta=True)
    def or_op(self, meta, c):
        return ast.Logic("or", c[0], c[1], self.s(meta))

    @v_args(meta=True)
    def not_op(self, meta, c):
        return ast.Not(c[0], self.s(meta))

    @v_args(meta=True)
    def is_state(self, meta, c):
        return ast.IsState(c[0], str(c[1]), self.t(c[1]), self.s(meta))

    @v_args(meta=True)
    def in_set(self, meta, c):
        return ast.InSet(c[0], tuple(c[1:]), self.s(meta))

    @v_args(meta=True)
    def if_expr(self, meta, c):
        return ast.If(c[0], c[1], c[2], self.s(meta))

    def case_when(self, c):
        return (c[0], c[1])

    @v_args(meta=True)
    def case_expr(self, meta, c):
        return ast.Case(tuple(c[:-1]), c[-1], self.s(meta))

    def args(self, c):
        return tuple(c)

    @v_args(meta=True)
    def call(self, meta, c):
        return ast.Call(str(c[0]), self.t(c[0]), c[1] or (), self.s(meta), c[2])

    @v_args(meta=True)
    def where_arg(self, meta, c):
        return ast.Where(c[0], c[1], self.s(meta))

    def exact_keys(self, c):
        return (None, tuple(c))

    def latest_key(self, c):
        return (str(c[0]), (c[1],))

    @v_args(meta=True)
    def lookup(self, meta, c):
        table, (latest, keys), column = c
        return ast.Lookup(str(table), self.t(table), keys, latest, str(column), self.t(column), self.s(meta))

    # -------------------------------------------------------------- tables, params, imports
    @v_args(meta=True)
    def param_decl(self, meta, c):
        (parts, nspan), typ, label, expr = c
        entity, name = self._split(parts)
        return ast.ParamDecl(name, typ, label, expr, self.s(meta), nspan, entity)

    @v_args(meta=True)
    def table_key(self, meta, c):
        return ("key", ast.TableField(str(c[0]), c[1], self.s(meta)))

    @v_args(meta=True)
    def table_column(self, meta, c):
        return ("column", ast.TableField(str(c[0]), c[1], self.s(meta)))

    @v_args(meta=True)
    def table_file(self, meta, c):
        return ("file", (_unquote(c[0]), self.s(meta)))

    @v_args(meta=True)
    def table_row(self, meta, c):
        return ("row", tuple(c))

    def _provenance(key):
        @v_args(meta=True)
        def build(self, meta, c):
            tok = c[0]
            return ("provenance", (key, _unquote(tok) if tok.type == "STRING" else str(tok)))

        return build

    table_document = _provenance("document")
    table_clause_ref = _provenance("clause")
    table_publisher = _provenance("publisher")
    table_published = _provenance("published")

    @v_args(meta=True)
    def table_decl(self, meta, c):
        name, label, clauses = c[0], c[1], c[2:]
        keys = tuple(v for k, v in clauses if k == "key")
        columns = tuple(v for k, v in clauses if k == "column")
        rows = tuple(v for k, v in clauses if k == "row")
        files = [v for k, v in clauses if k == "file"]
        prov = tuple(v for k, v in clauses if k == "provenance")
        file, fspan = files[-1] if files else (None, None)
        return ast.TableDecl(str(name), label, keys, columns, rows, file, fspan, prov, self.s(meta), self.t(name))

    @v_args(meta=True)
    def import_decl(self, meta, c):
        (rid, rspan), version, alias = c
        return ast.ImportDecl(rid, _unquote(version) if version is not None else None, str(alias), self.s(meta), rspan)

    @v_args(meta=True)
    def override_decl(self, meta, c):
        return ast.OverrideDecl(c[0], c[1], self.s(meta))

    @v_args(meta=True)
    def child_rows(self, meta, c):
        return ast.ChildRows(str(c[0]), self.t(c[0]), c[1], self.s(meta))

    # -------------------------------------------------------------- header
    @v_args(meta=True)
    def label(self, meta, c):
        zh, en = c[0], c[1]
        return ast.Label(_unquote(zh), _unquote(en) if en is not None else None, self.s(meta))

    def _meta(key):
        @v_args(meta=True)
        def build(self, meta, c):
            value = c[0]
            if isinstance(value, Token):
                value = _unquote(value) if value.type == "STRING" else str(value)
            elif isinstance(value, tuple):
                value = value[0]
            return ast.Meta(key, value, self.s(meta))

        return build

    meta_title = _meta("title")
    meta_document = _meta("document")
    meta_issuer = _meta("issuer")
    meta_version = _meta("version")
    meta_published = _meta("published")
    meta_effective = _meta("effective")
    meta_status = _meta("status")
    meta_category = _meta("category")

    @v_args(meta=True)
    def meta_supersedes(self, meta, c):
        return ast.Meta("supersedes", (c[0][0], _unquote(c[1])), self.s(meta))

    @v_args(meta=True)
    def header(self, meta, c):
        (rid, rspan), fields = c[0], tuple(c[1:])
        return ast.Header(rid, rspan, fields, self.s(meta))

    # -------------------------------------------------------------- types
    @v_args(meta=True)
    def t_unit(self, meta, c):
        return ast.TypeSpec("unit", unit=str(c[0]), span=self.s(meta))

    @v_args(meta=True)
    def t_number(self, meta, c):
        return ast.TypeSpec("number", span=self.s(meta))

    @v_args(meta=True)
    def t_boolean(self, meta, c):
        return ast.TypeSpec("boolean", span=self.s(meta))

    @v_args(meta=True)
    def t_text(self, meta, c):
        return ast.TypeSpec("text", categories=tuple(_unquote(t) for t in c), span=self.s(meta))

    @v_args(meta=True)
    def t_date(self, meta, c):
        return ast.TypeSpec("date", precision=str(c[0]) if c[0] is not None else "day", span=self.s(meta))

    def signed(self, c):
        sign = -1.0 if (len(c) == 2 and str(c[0]) == "-") else 1.0
        tok = c[-1]
        text = "".join(str(x) for x in c)
        value = float("inf") if tok.type == "INF" else _number_value(tok)
        return (sign * value, text)

    @v_args(meta=True)
    def range(self, meta, c):
        opening, lo, hi, closing = c
        return ast.Range(
            ast.Bound(lo[0], str(opening) == "[", lo[1]), ast.Bound(hi[0], str(closing) == "]", hi[1]), self.s(meta)
        )

    # -------------------------------------------------------------- declarations
    @staticmethod
    def _split(parts: tuple[str, ...]) -> tuple[str | None, str]:
        return (parts[0], ".".join(parts[1:])) if len(parts) > 1 else (None, parts[0])

    @v_args(meta=True)
    def entity_decl(self, meta, c):
        name, label, parent, key = c
        return ast.EntityDecl(str(name), label, str(key) if key is not None else "id", self.s(meta),
                              str(parent) if parent is not None else None)

    @v_args(meta=True)
    def input_decl(self, meta, c):
        (parts, nspan), typ, rng, label = c
        entity, name = self._split(parts)
        return ast.InputDecl(entity, name, typ, rng, label, self.s(meta), nspan)

    @v_args(meta=True)
    def let_decl(self, meta, c):
        (parts, nspan), typ, label, expr = c
        entity, name = self._split(parts)
        return ast.LetDecl(entity, name, typ, label, expr, self.s(meta), nspan)

    @v_args(meta=True)
    def clause(self, meta, c):
        return ("clause", _unquote(c[0]), self.s(meta))

    @v_args(meta=True)
    def severity(self, meta, c):
        return ("severity", str(c[0]), self.t(c[0]))

    @v_args(meta=True)
    def applies(self, meta, c):
        return ("applies", c[0], self.s(meta))

    @v_args(meta=True)
    def require(self, meta, c):
        return ("require", c[0], self.s(meta))

    @v_args(meta=True)
    def judge(self, meta, c):
        method, num, unit = c[0], c[1], (c[2] if len(c) > 2 else None)
        precision = None
        if num is not None:
            nspan = self.t(num) if unit is None else self.t(num).to(self.t(unit))  # the number and its unit
            precision = ast.Number(str(num), _number_value(num), str(unit) if unit is not None else None, nspan)
        return ("judge", ast.Judge(str(method), precision, self.s(meta)), self.t(method))

    @v_args(meta=True)
    def rule_decl(self, meta, c):
        (rid, rspan), label, clauses = c[0], c[1], c[2:]
        found: dict[str, tuple] = {}
        self.duplicates = getattr(self, "duplicates", [])
        for kind, value, span in clauses:
            if kind in found:
                self.duplicates.append((kind, rid, span))
            found[kind] = (value, span)
        sev = found.get("severity")
        return ast.RuleDecl(
            id=rid,
            label=label,
            clause=found["clause"][0] if "clause" in found else None,
            severity=sev[0] if sev else "mandatory",
            severity_span=sev[1] if sev else None,
            applies=found["applies"][0] if "applies" in found else None,
            require=found["require"][0] if "require" in found else None,
            judge=found["judge"][0] if "judge" in found else None,
            span=self.s(meta),
            name_span=rspan,
        )

    @v_args(meta=True)
    def when_branch(self, meta, c):
        return ast.Branch(_unquote(c[0]), c[1], self.s(meta))

    @v_args(meta=True)
    def otherwise_branch(self, meta, c):
        return ast.Branch(_unquote(c[0]), None, self.s(meta))

    @v_args(meta=True)
    def result_decl(self, meta, c):
        (parts, nspan), label, branches = c[0], c[1], c[2:]
        entity, name = self._split(parts)
        return ast.ResultDecl(entity, name, label, tuple(branches), self.s(meta), nspan)

    @v_args(meta=True)
    def assignment(self, meta, c):
        return ast.Assignment(c[0], c[1], self.s(meta))

    def assignments(self, c):
        return tuple(c)

    @v_args(meta=True)
    def example_decl(self, meta, c):
        name, given, rest = c[0], c[1] or (), c[2:]
        children = tuple(x for x in rest[:-1])
        return ast.ExampleDecl(_unquote(name), given, rest[-1], self.s(meta), children)

    def start(self, c):
        return c[0], tuple(c[1:])


# ---------------------------------------------------------------------- syntax errors

# Snippets of common mistakes, matched against the parser state of a failure (lark's
# match_examples). Each label is the message shown for a matching error.
_MISTAKES: dict[str, list[str]] = {
    "a rule needs `require <condition>`; write the condition after `require`": [
        'ruleset a { }\nrule r.x "t" clause "1" x <= 1',
    ],
    "comparison for equality is written `==`": [
        'ruleset a { }\nrule r.x require x = 1',
        'ruleset a { }\nlet x = a = 1',
    ],
    "values in `given`/`expect` are separated by commas": [
        'ruleset a { }\nexample "e" { given a = 1 b = 2 expect x = pass }',
        'ruleset a { }\nexample "e" { given a = 1 tce\n b = 2 expect x = pass }',
    ],
    "an `if` needs both `then` and `else`": [
        'ruleset a { }\nlet x = if a then 1 end',
        'ruleset a { }\nlet x = if a then 1\nlet y = 2',
    ],
    "a `case` ends with `else <value> end`": [
        'ruleset a { }\nlet x = case when a then 1 end',
    ],
    "a rule pattern like `core.*` is only allowed inside all(…) or any(…)": [
        'ruleset a { }\nlet x = a.*',
    ],
    "a declaration's type follows a colon: `input park.energy : tce/yr`": [
        'ruleset a { }\ninput park.energy tce/yr',
    ],
    "an input needs a type after the colon: a unit (`t CO2/yr`), `percent`, `number`, `boolean`, `text {…}` or `date`": [
        'ruleset a { }\ninput park.energy : "x"',
    ],
}


@lru_cache(maxsize=1)
def _mistake_parser():
    return _parser()


@lru_cache(maxsize=1)
def _mistake_states() -> tuple:
    """(label, LALR state, accepted terminals, token) of each snippet's syntax error."""
    out = []
    for label, snippets in _MISTAKES.items():
        for snippet in snippets:
            try:
                _mistake_parser().parse(snippet)
            except UnexpectedInput as ut:
                if getattr(ut, "state", None) is not None:
                    out.append((label, ut.state.position, getattr(ut, "accepts", None), getattr(ut, "token", None)))
    return tuple(out)


def _match_mistake(err: UnexpectedInput) -> str | None:
    """Like lark's ``match_examples``, but compares only the LALR state on top of the stack: lark's
    ``ParserState.__eq__`` also compares the stack depth, which differs between a snippet and a file
    with declarations before the error, so no snippet ever matched a real file."""
    state = getattr(err, "state", None)
    if state is None:
        return None
    accepts = getattr(err, "accepts", None) if isinstance(err, UnexpectedToken) else None
    candidate = None
    for label, position, ut_accepts, token in _mistake_states():
        if position != state.position or (accepts is not None and ut_accepts is not None and ut_accepts != accepts):
            continue
        if token is not None and token == getattr(err, "token", None):
            return label
        candidate = candidate or label
    return candidate


def _expected_text(expected: set[str]) -> str:
    names = []
    for term in sorted(expected):
        if term == "$END":
            names.append("the end of the file")
            continue
        try:
            pattern = _parser().get_terminal(term).pattern
        except KeyError:
            names.append(term)
            continue
        if pattern.type == "str":
            names.append(f"`{pattern.value}`")
        else:
            names.append({"NAME": "a name", "NUMBER": "a number", "STRING": "a quoted string",
                          "DATE": "a date", "UNIT": "a unit", "GLOB": "a rule pattern like `core.*`",
                          "COMP_OP": "a comparison", "ADD_OP": "`+` or `-`", "MUL_OP": "`*` or `/`",
                          "RANGE_OPEN": "`[` or `(`", "RANGE_CLOSE": "`]` or `)`",
                          "SIGN": "`-`", "INF": "`inf`"}.get(term, term))
    uniq = list(dict.fromkeys(names))
    if len(uniq) > 8:
        uniq = uniq[:8] + ["…"]
    return ", ".join(uniq)


def _syntax_diagnostic(err: UnexpectedInput, file: str, text: str) -> Diagnostic:
    line, col = err.line, err.column
    if line is None or line < 1:
        line, col = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
    help_text = None
    try:
        label = None if isinstance(err, UnexpectedCharacters) else _match_mistake(err)
    except Exception:  # matching re-parses snippets; never let that hide the real error
        label = None
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        span = Span(file, line, col, line, col + 1, err.pos_in_stream, err.pos_in_stream + 1)
        message = f"unexpected character `{ch}`"
        expected = _expected_text(err.allowed) if err.allowed else None
        if expected:
            message += f"; expected {expected}"
        if ch in _LOOKALIKES:
            help_text = f"write `{_LOOKALIKES[ch]}` instead of `{ch}`"
    elif isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        tok = getattr(err, "token", None)
        if tok is not None and getattr(tok, "end_line", None):  # lark puts $END on the last token: point after it
            line, col = tok.end_line, tok.end_column
        span = Span(file, line, col, line, col + 1)
        message = f"the file ends too early; expected {_expected_text(err.expected)}"
    else:
        assert isinstance(err, UnexpectedToken)
        tok = err.token
        span = _tspan(file, tok)
        message = f"unexpected `{tok}`; expected {_expected_text(err.accepts or err.expected)}"
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(tok)):  # a word may lex as NAME or UNIT
            keywords = [
                _parser().get_terminal(t).pattern.value
                for t in (err.accepts or err.expected)
                if t in {tt.name for tt in _parser().terminals} and _parser().get_terminal(t).pattern.type == "str"
            ]
            hint = did_you_mean(str(tok), [k for k in keywords if k.isalpha()])
            if hint:
                help_text = hint
    if label:
        help_text = label if help_text is None else f"{label}; {help_text}"
    return Diagnostic("E101", message, span, help=help_text)


# Characters of copied (full-width, typographic) documents and what to write instead.
_LOOKALIKES = {"≤": "<=", "≥": ">=", "≠": "!=", "＝": "==", "，": ",", "：": ":", "（": "(", "）": ")",
               "“": '"', "”": '"', "＜": "<", "＞": ">"}


_DECL_START = re.compile(r"^[ \t]*(?:" + "|".join(DECLARATION_KEYWORDS) + r")\b", re.M)


def _blank_out(text: str, start: int, end: int) -> str:
    """Replace text[start:end] by spaces, keeping newlines so positions stay valid."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


class SyntaxFailed(CheckFailed):
    """Syntax errors (one per broken declaration). ``partial`` is the module of the declarations that
    did parse (None when nothing could be recovered); ``broken`` holds the names the broken
    declarations would have declared, so that later phases can drop errors that only follow from them."""

    def __init__(self, diagnostics, sources=None, partial: ast.Module | None = None, broken: frozenset = frozenset()):
        super().__init__(diagnostics, sources)
        self.partial = partial
        self.broken = broken

    def is_cascade(self, diagnostic: Diagnostic) -> bool:
        """Whether ``diagnostic`` (from checking ``partial``) may only follow from a broken declaration:
        its span or one of its `quoted` names is a broken name, its last segment or a glob matching it."""
        source = self.partial.source if self.partial is not None else ""
        span = diagnostic.span
        words = set(re.findall(r"`([^`]+)`", diagnostic.message))
        if span is not None and span.file == getattr(self.partial, "file", None) and 0 <= span.start < span.end:
            words.add(source[span.start:span.end].strip())
        for word in words:
            if word in self.broken or word.rsplit(".", 1)[-1] in self.broken:
                return True
            if word.endswith("*") and any(b.startswith(word[:-1]) for b in self.broken if "." in b):
                return True
            if any(word.startswith(b + ".") for b in self.broken):
                return True
        return False


_DECLARED_NAME = re.compile(r"^[ \t]*(?:entity|input|let|param|table|rule|result)\s+([A-Za-z_][\w.]*)"
                            r"|\bas\s+([A-Za-z_]\w*)|^[ \t]*override\s+([A-Za-z_][\w.]*)")


def _broken_names(declaration: str) -> set[str]:
    """The names a (broken) declaration would have declared: ``rule core.x`` gives ``core.x`` and ``x``."""
    first = declaration.lstrip().split("\n", 1)[0]
    names: set[str] = set()
    for m in _DECLARED_NAME.finditer(first):
        name = next(g for g in m.groups() if g)
        names.add(name)
        names.add(name.rsplit(".", 1)[-1])
    return names


def parse(text: str, file: str = "<string>", sources: SourceMap | None = None) -> ast.Module:
    """Parse ruleset text into a :class:`~normrules.ast.Module`.

    Raises :class:`SyntaxFailed` (a :class:`~normrules.errors.CheckFailed`) listing one diagnostic per
    broken declaration, with the module of the declarations that parsed, so that the later phases
    can still report their errors (see :func:`normrules.api.compile_text`).
    """
    if sources is not None:
        sources.add(file, text)
    diagnostics: list[Diagnostic] = []
    broken: set[str] = set()
    work = text
    for _ in range(50):
        try:
            tree = _parser().parse(work)
            break
        except UnexpectedInput as err:
            diagnostics.append(_syntax_diagnostic(err, file, text))
            pos = getattr(err, "pos_in_stream", None)
            if pos is None or isinstance(err, UnexpectedEOF):
                tree = None
                break
            starts = [m.start() for m in _DECL_START.finditer(work)]
            before = [s for s in starts if s <= pos]
            after = [s for s in starts if s > pos]
            if not before:
                tree = None
                break
            end = after[0] if after else len(work)
            broken |= _broken_names(text[before[-1]:end])
            work = _blank_out(work, before[-1], end)
    else:
        tree = None
    transformer = _ToAst(file, text)
    module = None
    if tree is not None:
        try:
            header, items = transformer.transform(tree)
        except VisitError as err:  # a bug in the transformer, not in the ruleset
            raise err.orig_exc from err
        module = ast.Module(file, text, header, items)
    dups = [Diagnostic("E102", f"rule `{rid}` has more than one `{kind}`", span, help=f"keep one `{kind}` clause")
            for kind, rid, span in getattr(transformer, "duplicates", [])]
    if diagnostics or dups:
        raise SyntaxFailed(sorted(diagnostics + dups, key=lambda d: (d.span.line, d.span.col)), sources,
                           module, frozenset(broken | {rid for _, rid, _ in getattr(transformer, "duplicates", [])}))
    return module


def comments(text: str) -> list[tuple[int, int, str]]:
    """Every comment of ruleset text, in source order: ``(line, column, text)``, both 1-based, the
    text from ``#`` to the end of the line.

    The grammar ignores comments, so :func:`parse` never sees them. This lexes the text with a
    second parser built from the same grammar whose lexer hands each ``COMMENT`` token to a
    callback: a ``#`` inside a string is part of the string, never a comment, exactly as when
    parsing. :func:`parse` is not affected. Text with a syntax error raises
    :class:`~normrules.errors.CheckFailed`, as :func:`parse` does.
    """
    import threading

    state = comments.__dict__  # the parser is built once (on first use) and shared, behind a lock
    with state.setdefault("lock", threading.Lock()):
        if "parser" not in state:
            found: list[Token] = []
            state["found"] = found
            state["parser"] = Lark(grammar_text(), parser="lalr", lexer="contextual",
                                   lexer_callbacks={"COMMENT": lambda tok: found.append(tok) or tok})
        state["found"].clear()
        try:
            state["parser"].parse(text)
        except UnexpectedInput:
            parse(text)  # raises CheckFailed with the diagnostics of the syntax error
            raise
        out = [(tok.line, tok.column, str(tok)) for tok in state["found"]]
        state["found"].clear()
        return out
