"""Finding and compiling imported rulesets.

``import <id>[@"<version>"] as <alias>`` is resolved from ruleset roots: the shipped
``rulesets/`` folder, ``$NORMRULES_PATH`` and paths given by the user. Without a version, the
*final* revision whose effective date is the latest on or before the reporting date (``as_of``)
is taken, so a past date picks what was in force then. ``override alias.param = literal``
replaces a param of the imported ruleset; loosening an imported limit is warned about.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import ast
from . import types as T
from .errors import CheckFailed, Diagnostic, Note, did_you_mean


def default_roots() -> list[Path]:
    roots = []
    shipped = Path(__file__).resolve().parents[2] / "rulesets"
    for p in [shipped, Path.cwd() / "rulesets", *(Path(x) for x in os.environ.get("NORMRULES_PATH", "").split(os.pathsep) if x)]:
        if p.is_dir() and p.resolve() not in [r.resolve() for r in roots]:
            roots.append(p)
    return roots


@dataclass(frozen=True)
class Entry:
    id: str
    version: str
    status: str
    effective: str
    path: Path


@lru_cache(maxsize=32)
def _scan(root: str, stamp: float) -> tuple[Entry, ...]:
    from .parse import parse

    out = []
    for path in sorted(Path(root).rglob("*.nr")):
        try:
            module = parse(path.read_text("utf-8"), str(path))
        except (CheckFailed, UnicodeDecodeError):
            continue
        h = module.header
        meta = {f.key: f.value for f in h.fields}
        out.append(Entry(h.id, str(meta.get("version", "")), str(meta.get("status", "")),
                         str(meta.get("effective", "")), path))
    return tuple(out)


def index(roots: list[Path]) -> list[Entry]:
    entries: list[Entry] = []
    for root in roots:
        stamp = max((p.stat().st_mtime for p in Path(root).rglob("*.nr")), default=0.0)
        entries.extend(_scan(str(Path(root).resolve()), stamp))
    return entries


def _as_date(text: str) -> _dt.date | None:
    try:
        return _dt.date.fromisoformat(text if len(text) == 10 else text + "-01")
    except ValueError:
        return None


def choose(entries: list[Entry], rid: str, version: str | None, as_of: _dt.date) -> tuple[Entry | None, str | None]:
    """The revision an import names; or None and the reason."""
    same = [e for e in entries if e.id == rid]
    if not same:
        hint = did_you_mean(rid, {e.id for e in entries})
        return None, f"no ruleset `{rid}` in the ruleset roots" + (f"; {hint}" if hint else "")
    if version is not None:
        match = [e for e in same if e.version == version]
        if not match:
            return None, f"`{rid}` has no version \"{version}\" (versions: {', '.join(sorted(e.version for e in same))})"
        return match[0], None
    in_force = [e for e in same if e.status == "final" and _as_date(e.effective) and _as_date(e.effective) <= as_of]
    if not in_force:
        return None, (f"no final revision of `{rid}` is in force on {as_of} (revisions: "
                      + ", ".join(f"{e.version} {e.status} effective {e.effective or '?'}" for e in same) + ")")
    return max(in_force, key=lambda e: _as_date(e.effective)), None


def _literal(expr) -> bool:
    return isinstance(expr, (ast.Number, ast.String, ast.Bool, ast.DateLit)) or (
        isinstance(expr, ast.Unary) and isinstance(expr.operand, ast.Number))


def _limit_directions(checked, param: str) -> set[str]:
    """How a param is used as a limit: "upper" (x <= p) or "lower" (x >= p), following lets."""
    users = {param}
    for v in checked.values:
        if any(isinstance(n, T.Load) and n.name in users for n in T.texpr_walk(v.expr)):
            users.add(v.name)
    found = set()
    for r in checked.rules:
        for node in T.texpr_walk(r.require):
            if isinstance(node, T.Cmp):
                right = isinstance(node.right, T.Load) and node.right.name in users
                left = isinstance(node.left, T.Load) and node.left.name in users
                if right:
                    found.add("upper" if node.op in ("<", "<=") else "lower" if node.op in (">", ">=") else "")
                if left:
                    found.add("lower" if node.op in ("<", "<=") else "upper" if node.op in (">", ">=") else "")
    return found - {""}


class ImportLoader:
    """Compiles the rulesets a ruleset imports (used by :func:`normrules.api.compile_text`)."""

    def __init__(self, roots: list[Path] | None, as_of: _dt.date | None, stack: tuple[str, ...] = ()):
        self.roots = list(roots) if roots is not None else default_roots()
        self.as_of = as_of or _dt.date.today()
        self.stack = stack

    def __call__(self, decl: ast.ImportDecl, overrides: dict[str, ast.OverrideDecl]):
        from .api import compile_module
        from .parse import parse

        entry, why = choose(index(self.roots), decl.ruleset, decl.version, self.as_of)
        if entry is None:
            return None, [Diagnostic("E214", why, decl.name_span,
                                     help="ruleset roots: " + ", ".join(str(r) for r in self.roots))]
        if entry.id in self.stack:
            path = " → ".join([*self.stack, entry.id])
            return None, [Diagnostic("E215", f"import cycle: {path}", decl.span)]
        module = parse(entry.path.read_text("utf-8"), str(entry.path))
        loader = ImportLoader(self.roots, self.as_of, (*self.stack, entry.id))
        try:
            original = compile_module(module, loader)
        except CheckFailed as exc:
            cycle = next((d for d in exc.errors if d.code == "E215"), None)
            if cycle is not None:
                return None, [Diagnostic("E215", cycle.message, decl.span)]
            return None, [Diagnostic("E216", f"the imported ruleset `{entry.id}` does not compile", decl.span,
                                     notes=tuple(Note(d.span, d.message) for d in exc.errors[:5]))]
        if not overrides:
            return original, []
        diags: list[Diagnostic] = []
        params = {p.name: p for p in original.checked.params}
        items = list(module.items)
        for name, od in overrides.items():
            if name not in params:
                hint = did_you_mean(name, params)
                diags.append(Diagnostic("E217", f"`{entry.id}` has no param `{name}` to override", od.target.span,
                                        help=hint or ("its params: " + ", ".join(params) if params else
                                                      "only `param` declarations can be overridden")))
                continue
            if not _literal(od.value):
                diags.append(Diagnostic("E218", "an override is a literal value", od.value.span))
                continue
            i = next(k for k, d in enumerate(items) if isinstance(d, ast.ParamDecl) and d.name == name)
            items[i] = dataclasses.replace(items[i], expr=od.value)
        if diags:
            return None, diags
        try:
            changed = compile_module(dataclasses.replace(module, items=tuple(items)), loader)
        except CheckFailed as exc:
            return None, [Diagnostic(d.code, d.message, od.value.span if d.span.file == str(entry.path) else d.span,
                                     d.help) for d in exc.errors]
        new_params = {p.name: p for p in changed.checked.params}
        for name, od in overrides.items():
            old, new = params[name].expr, new_params[name].expr
            directions = _limit_directions(original.checked, name)
            looser = (("upper" in directions and new.value > old.value) or ("lower" in directions and new.value < old.value))
            if looser:
                diags.append(Diagnostic(
                    "W410", f"the override loosens `{entry.id}`'s limit `{name}`: {old.text} → {new.text}", od.span,
                    help="an override normally tightens an imported limit", severity="warning"))
        changed = dataclasses.replace(changed, checked=dataclasses.replace(changed.checked, params=tuple(
            dataclasses.replace(p, overridden=params[p.name].expr) if p.name in overrides else p
            for p in changed.checked.params)))
        return changed, diags
