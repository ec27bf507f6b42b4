"""Readable notation for checked expressions: ``intensity ≤ intensity_limit``, ``energy ≥ 20万tce/yr 且 …``.

The typed tree (:mod:`normrules.types`) gives the structure; literals are quoted from the ruleset
source through their spans, so units and numbers stay exactly as the author wrote them (only the
``_`` digit grouping of the language becomes a space: ``199_999`` → ``199 999``). Operators are
shown as ≤ ≥ ≠ × ÷ −, ``and``/``or``/``not`` as 且/或/非 in Chinese and and/or/not in English, and
parentheses appear only where precedence needs them.
"""

from __future__ import annotations

import re

from .. import types as T

# binding strength, loosest first (docs/language.md §8.1)
_IF, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _ATOM = range(1, 10)

_CMP_OPS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
_ARITH_OPS = {"+": "+", "-": "−", "*": "×", "/": "÷"}

WORDS = {
    "zh": {
        "and": "且", "or": "或", "not": "非",
        "if": "若", "then": "则", "else": "否则", "when": "当", "otherwise": "其他情况",
        "is": "为", "known": "已知", "unknown": "未知",
        "pass": "通过", "fail": "不通过", "not_applicable": "不适用",
        "true": "是", "false": "否",
    },
    "en": {
        "and": "and", "or": "or", "not": "not",
        "if": "if", "then": "then", "else": "else", "when": "when", "otherwise": "otherwise",
        "is": "is", "known": "known", "unknown": "unknown",
        "pass": "pass", "fail": "fail", "not_applicable": "not applicable",
        "true": "true", "false": "false",
    },
}

_DIGIT_GROUP = re.compile(r"(?<=\d)_(?=\d)")
_SPACES = re.compile(r"\s+")


def literal(text: str) -> str:
    """A literal as written, with the language's ``_`` digit grouping shown as a space."""
    return _DIGIT_GROUP.sub(" ", _SPACES.sub(" ", text.strip()))


def state_word(state: str, lang: str) -> str:
    """A verdict state or ``known``/``unknown`` in words."""
    return WORDS[lang].get(state, state)


def _precedence(e) -> int:
    if type(e).__name__ == "Up":
        return _precedence(e.operand)
    if isinstance(e, (T.IfElse, T.CaseWhen)):   # `case` loses its `end` when shown: treat it like `if`
        return _IF
    if isinstance(e, T.BoolOp):
        return _OR if e.op == "or" else _AND
    if isinstance(e, T.NotOp):
        return _NOT
    if isinstance(e, (T.Cmp, T.IsState, T.InSet)):
        return _CMP
    if isinstance(e, T.Arith):
        return _ADD if e.op in "+-" else _MUL
    if isinstance(e, T.Neg):
        return _NEG
    return _ATOM


class Notation:
    """Turns typed expressions of one ruleset into text in one language (``zh`` or ``en``)."""

    def __init__(self, source: str, lang: str = "zh", file: str | None = None):
        if lang not in WORDS:
            raise ValueError(f"unknown language {lang!r}: use zh or en")
        self.source = source
        self.file = file        # spans of other files (an imported ruleset) are not quoted from `source`
        self.lang = lang
        self.w = WORDS[lang]

    # ------------------------------------------------------------------ helpers
    def source_text(self, node, fallback: str = "") -> str:
        span = getattr(node, "span", None)
        if span is None or span.end <= span.start or span.end > len(self.source):
            return fallback
        if self.file is not None and span.file != self.file:
            return fallback
        return self.source[span.start:span.end]

    def _sub(self, e, level: int) -> str:
        text = self.expr(e)
        return f"({text})" if _precedence(e) < level else text

    # ------------------------------------------------------------------ expressions
    def expr(self, e) -> str:
        """The readable form of a typed expression."""
        method = getattr(self, f"_{type(e).__name__}", None)
        if method is None:   # a node kind this module does not know yet: quote the source
            return literal(self.source_text(e, "?"))
        return method(e)

    def _Const(self, e: T.Const) -> str:
        return literal(self.source_text(e, e.text))

    def _Load(self, e: T.Load) -> str:
        return e.name

    def _Neg(self, e: T.Neg) -> str:
        return "−" + self._sub(e.operand, _NEG)

    def _Arith(self, e: T.Arith) -> str:
        level = _precedence(e)
        return f"{self._sub(e.left, level)} {_ARITH_OPS[e.op]} {self._sub(e.right, level + 1)}"

    def _Cmp(self, e: T.Cmp) -> str:
        return f"{self._sub(e.left, _CMP + 1)} {_CMP_OPS[e.op]} {self._sub(e.right, _CMP + 1)}"

    def _BoolOp(self, e: T.BoolOp) -> str:
        level = _precedence(e)
        return f"{self._sub(e.left, level)} {self.w[e.op]} {self._sub(e.right, level + 1)}"

    def _NotOp(self, e: T.NotOp) -> str:
        return f"{self.w['not']} {self._sub(e.operand, _NOT)}"

    def _IsState(self, e: T.IsState) -> str:
        subject = self._sub(e.operand, _CMP + 1)
        if self.lang == "zh":   # `co2 未知`, `core.intensity 为不通过`
            word = state_word(e.state, "zh")
            return f"{subject} {word}" if e.state in ("known", "unknown") else f"{subject} 为{word}"
        return f"{subject} is {e.state}"

    def _InSet(self, e: T.InSet) -> str:
        cats = getattr(e.operand.type, "categories", ())
        options = ", ".join(f'"{cats[c]}"' if 0 <= c < len(cats) else str(c) for c in e.codes)
        return f"{self._sub(e.operand, _CMP + 1)} ∈ {{{options}}}"

    def _IfElse(self, e: T.IfElse) -> str:
        w = self.w
        sep = "，" if self.lang == "zh" else ", "
        return (f"{w['if']} {self._sub(e.cond, _IF + 1)} {w['then']} {self._sub(e.then, _IF + 1)}"
                f"{sep}{w['else']} {self._sub(e.else_, _IF)}")

    def _CaseWhen(self, e: T.CaseWhen) -> str:
        w = self.w
        sep = "；" if self.lang == "zh" else "; "
        if self.lang == "zh":   # 当 c 时 v；…；否则 e
            parts = [f"当 {self._sub(c, _IF + 1)} 时 {self._sub(v, _IF + 1)}" for c, v in e.whens]
        else:
            parts = [f"when {self._sub(c, _IF + 1)} then {self._sub(v, _IF + 1)}" for c, v in e.whens]
        parts.append(f"{w['else']} {self._sub(e.else_, _IF + 1)}")
        return sep.join(parts)

    def _Func(self, e: T.Func) -> str:
        args = e.args
        if e.name == "convert":                 # the checker appends internal arguments after the written three
            args = args[:3]
        elif e.name not in ("min", "max", "abs", "year"):
            written = self.source_text(e)       # a function this module does not know: as written
            if written:
                return _SPACES.sub(" ", written)
        return f"{e.name}({', '.join(self.expr(a) for a in args)})"

    def _Up(self, e) -> str:            # a parent's value read in a child row
        return self.expr(e.operand)

    def _Aggregate(self, e) -> str:     # sum(line.emissions where …) default 0 kg CO2e
        inner = self.expr(e.value) if e.value is not None else e.child
        if e.where is not None:
            inner += (" 其中 " if self.lang == "zh" else " where ") + self.expr(e.where)
        text = f"{e.func}({inner})"
        if e.default is not None:
            text += (" 缺省 " if self.lang == "zh" else " default ") + self.expr(e.default)
        return text

    def _Lookup(self, e) -> str:        # pv_factor[process, country].factor, grid[latest ≤ year].factor
        keys = ", ".join(self.expr(k) for k in e.keys)
        if e.latest:
            keys = f"latest {_CMP_OPS.get(e.latest, e.latest)} {keys}"
        return f"{e.table}[{keys}].{e.column}"

    def _VerdictSet(self, e: T.VerdictSet) -> str:
        written = self.source_text(e)   # keep the patterns as written: all(core.*, guide.*)
        if written:
            return _SPACES.sub(" ", written).replace("( ", "(").replace(" )", ")")
        return f"{e.func}({', '.join(e.rules)})"

    # ------------------------------------------------------------------ limits
    def branches(self, e) -> list[tuple[str | None, object]]:
        """An ``if``/``case`` chain as ordered (condition text or None for the rest, value) pairs."""
        if isinstance(e, T.IfElse):
            return [(self.expr(e.cond), e.then)] + self.branches(e.else_)
        if isinstance(e, T.CaseWhen):
            return [(self.expr(c), v) for c, v in e.whens] + self.branches(e.else_)
        return [(None, e)]

    def limits(self, require, values: dict) -> list[str]:
        """The numeric limits a requirement compares against, one line each.

        A limit that is a ``let`` defined by ``if``/``case`` is spelt out branch by branch, with the
        condition under which each limit holds: ``intensity ≤ 0.3 t CO2/tce（当 energy ≥ 100万tce/yr）``.
        """
        out: list[str] = []
        for cmp in _comparisons(require):
            subject, op = self._sub(cmp.left, _CMP + 1), _CMP_OPS[cmp.op]
            right = cmp.right
            if isinstance(right, T.Load) and right.kind == "value" and right.name in values:
                definition = values[right.name]
                pairs = self.branches(definition)
                if len(pairs) > 1:
                    for cond, value in pairs:
                        out.append(f"{subject} {op} {self._limit_value(value, values)}{self._condition_note(cond)}")
                    continue
                if _is_constant(definition):
                    out.append(f"{subject} {op} {self.expr(definition)}（{right.name}）" if self.lang == "zh"
                               else f"{subject} {op} {self.expr(definition)} ({right.name})")
                    continue
            out.append(f"{subject} {op} {self._limit_value(right, values)}")
        return out

    def _limit_value(self, value, values: dict) -> str:
        """A limit as text; a param is shown with its value: ``0.3 t CO2/tce（core_limit_large）``."""
        if isinstance(value, T.Load) and value.kind == "param" and value.name in values:
            shown = self.expr(values[value.name])
            return f"{shown}（{value.name}）" if self.lang == "zh" else f"{shown} ({value.name})"
        return self.expr(value)

    def _condition_note(self, cond: str | None) -> str:
        if self.lang == "zh":
            return f"（当 {cond}）" if cond is not None else "（其他情况）"
        return f" (when {cond})" if cond is not None else " (otherwise)"


def _comparisons(e) -> list[T.Cmp]:
    """Numeric comparisons of a condition, through and/or/not, in source order."""
    if isinstance(e, T.Cmp):
        return [e] if isinstance(e.left.type, T.NumT) and isinstance(e.right.type, T.NumT) else []
    if isinstance(e, T.BoolOp):
        return _comparisons(e.left) + _comparisons(e.right)
    if isinstance(e, T.NotOp):
        return _comparisons(e.operand)
    return []


def _is_constant(e) -> bool:
    return all(isinstance(n, (T.Const, T.Neg, T.Arith)) for n in T.texpr_walk(e))


def rounding_text(r: T.Rounding) -> str:
    """The precision of a GB/T 8170 rounding: ``0.1 t CO2/tce``, ``1 percent``, ``100 kg``."""
    if r.decimals > 0:
        step = "0." + "0" * (r.decimals - 1) + "1"
    else:
        step = "1" + "0" * (-r.decimals)
    return f"{step} {r.unit_text}".strip()


def roundings(require) -> list[T.Rounding]:
    """The distinct roundings attached to a requirement's comparisons, in source order."""
    seen: list[T.Rounding] = []
    for cmp in _comparisons(require):
        if cmp.rounding is not None and cmp.rounding not in seen:
            seen.append(cmp.rounding)
    return seen


__all__ = ["Notation", "literal", "state_word", "rounding_text", "roundings", "WORDS"]
