"""Phase 2: name resolution.

Builds the symbol table of a parsed ruleset (entities, inputs, values, rules, results), checks the
header metadata, and reports every unknown or duplicate name with a suggestion. The checker then
looks names up in :class:`Resolved` and never sees an unresolved one.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping

from . import ast
from .errors import Diagnostic, Note, did_you_mean

STATUSES = ("draft", "final")
SEVERITIES = ("mandatory", "guidance")
REQUIRED_META = ("title", "document", "version", "status")


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: str            # "input" | "value" | "rule" | "result"
    name: str
    decl: object         # the ast declaration


@dataclass(frozen=True)
class Resolved:
    module: ast.Module
    entity: ast.EntityDecl | None
    symbols: Mapping[str, Symbol]
    globs: Mapping[str, tuple[str, ...]]        # glob prefix → matching rule ids
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    def lookup(self, ref: ast.Ref) -> Symbol | None:
        return lookup(self.symbols, self.entity, ref)


def lookup(symbols: Mapping[str, Symbol], entity: ast.EntityDecl | None, ref: ast.Ref) -> Symbol | None:
    name = ref.name
    if name in symbols:
        return symbols[name]
    if entity is not None and len(ref.parts) > 1 and ref.parts[0] == entity.name:
        return symbols.get(".".join(ref.parts[1:]))
    return None


@lru_cache(maxsize=1)
def taxonomy() -> dict:
    """The MIIT standards taxonomy of seed 004: ``{"category.sub": (zh, en)}`` plus categories."""
    data = json.loads(resources.files("normrules.data").joinpath("miit_taxonomy.json").read_text("utf-8"))
    out = {}
    for cat in data["categories"]:
        out[cat["id"]] = (cat["zh"], cat["en"])
        for sub in cat["subcategories"]:
            out[f"{cat['id']}.{sub['id']}"] = (sub["zh"], sub["en"])
    return out


def _check_header(module: ast.Module, diags: list[Diagnostic]) -> None:
    header = module.header
    seen: dict[str, ast.Meta] = {}
    for f in header.fields:
        if f.key in seen:
            diags.append(Diagnostic("E501", f"header field `{f.key}` is given twice", f.span,
                                    notes=(Note(seen[f.key].span, "first given here"),)))
        seen[f.key] = f
        if f.key == "status" and f.value not in STATUSES:
            hint = did_you_mean(str(f.value), STATUSES)
            diags.append(Diagnostic(
                "E502", f"unknown status `{f.value}`", f.span,
                help=(hint + " " if hint else "")
                + "status is `draft` (征求意见稿) or `final` (正式/已发布); "
                "`superseded` follows from a later final revision and is never written by hand",
            ))
        if f.key in ("published", "effective"):
            try:
                _dt.date.fromisoformat(str(f.value))
            except ValueError:
                diags.append(Diagnostic("E503", f"`{f.key}` needs a full date like 2025-07-08, not `{f.value}`", f.span))
        if f.key == "category":
            tax = taxonomy()
            if f.value not in tax:
                hint = did_you_mean(str(f.value), tax)
                diags.append(Diagnostic(
                    "E504", f"`{f.value}` is not a category of the MIIT standards taxonomy", f.span,
                    help=hint or "categories are written `category.subcategory`, e.g. "
                    "`management_evaluation.low_carbon_evaluation`; see docs/language.md",
                ))
    missing = [k for k in REQUIRED_META if k not in seen]
    if "/rulesets/gb/" in module.file.replace("\\", "/") or module.file.replace("\\", "/").startswith("rulesets/gb/"):
        if "category" not in seen:
            missing.append("category")
    if missing:
        diags.append(Diagnostic(
            "E505", "the ruleset header lacks " + ", ".join(f"`{m}`" for m in missing), header.id_span,
            help="a national standard (rulesets/gb/) also needs `category` from the MIIT taxonomy"
            if "category" in missing else None,
        ))
    pub, eff = seen.get("published"), seen.get("effective")
    if pub and eff:
        try:
            if _dt.date.fromisoformat(str(eff.value)) < _dt.date.fromisoformat(str(pub.value)):
                diags.append(Diagnostic("E506", "the effective date is before the publication date", eff.span,
                                        notes=(Note(pub.span, "published here"),)))
        except ValueError:
            pass


def _refs_in(expr) -> list:
    return [n for n in ast.walk(expr) if isinstance(n, (ast.Ref, ast.Glob))]


def resolve(module: ast.Module) -> Resolved:
    """Build the symbol table and report unknown and duplicate names (collected, not raised)."""
    diags: list[Diagnostic] = []
    _check_header(module, diags)

    entities = [d for d in module.items if isinstance(d, ast.EntityDecl)]
    entity = entities[0] if entities else None
    if not entities:
        diags.append(Diagnostic("E201", "the ruleset declares no entity", module.header.id_span,
                                help='add e.g. `entity park "园区"` before the inputs'))
    for extra in entities[1:]:
        diags.append(Diagnostic("E202", f"a second entity `{extra.name}`: one entity per ruleset in language v1",
                                extra.span, notes=(Note(entities[0].span, "the first entity"),)))

    symbols: dict[str, Symbol] = {}
    for decl in module.items:
        if isinstance(decl, (ast.EntityDecl, ast.ExampleDecl)):
            continue
        if isinstance(decl, ast.RuleDecl):
            kind, name, span = "rule", decl.id, decl.name_span
        else:
            kind = {ast.InputDecl: "input", ast.LetDecl: "value", ast.ResultDecl: "result"}[type(decl)]
            name, span = decl.name, decl.name_span
            if decl.entity is not None and entity is not None and decl.entity != entity.name:
                hint = did_you_mean(decl.entity, [e.name for e in entities])
                diags.append(Diagnostic("E203", f"unknown entity `{decl.entity}`", span,
                                        help=hint or f"the entity is `{entity.name}`"))
        if name in symbols:
            first = symbols[name].decl
            diags.append(Diagnostic("E204", f"`{name}` is declared twice", span,
                                    notes=(Note(getattr(first, "name_span", first.span), "first declared here"),)))
            continue
        symbols[name] = Symbol(kind, name, decl)
        if isinstance(decl, ast.RuleDecl) and decl.require is None:
            diags.append(Diagnostic("E205", f"rule `{name}` has no `require`", decl.name_span,
                                    help="add `require <condition>` saying what the rule demands"))
        if isinstance(decl, ast.RuleDecl) and decl.severity not in SEVERITIES:
            hint = did_you_mean(decl.severity, SEVERITIES)
            diags.append(Diagnostic("E206", f"unknown severity `{decl.severity}`", decl.severity_span or decl.span,
                                    help=hint or "severity is `mandatory` or `guidance`"))

    frozen = MappingProxyType(symbols)
    globs: dict[str, tuple[str, ...]] = {}
    rule_ids = [s.name for s in symbols.values() if s.kind == "rule"]

    def check_refs(expr, allow_examples: bool = False) -> None:
        for node in _refs_in(expr):
            if isinstance(node, ast.Glob):
                matched = tuple(r for r in rule_ids if r.startswith(node.prefix + "."))
                globs[node.prefix] = matched
                if not matched:
                    groups = sorted({r.rsplit(".", 1)[0] for r in rule_ids if "." in r})
                    hint = did_you_mean(node.prefix, groups)
                    diags.append(Diagnostic("E207", f"`{node.prefix}.*` matches no rule", node.span,
                                            help=hint or "rule ids are written `group.name`"))
                continue
            if lookup(frozen, entity, node) is None:
                if allow_examples and node.name in ("pass", "fail", "not_applicable", "unknown"):
                    continue
                # an entity-qualified name (`park.energie`) is compared with qualified names too
                qualified = [f"{entity.name}.{s}" for s in symbols] if entity is not None and len(node.parts) > 1 else []
                hint = did_you_mean(node.name, [*symbols, *qualified])
                diags.append(Diagnostic("E208", f"unknown name `{node.name}`", node.span,
                                        help=hint or "declare it with `input` or `let`"))

    for decl in module.items:
        if isinstance(decl, ast.LetDecl):
            check_refs(decl.expr)
        elif isinstance(decl, ast.RuleDecl):
            for e in (decl.applies, decl.require):
                if e is not None:
                    check_refs(e)
        elif isinstance(decl, ast.ResultDecl):
            for b in decl.branches:
                if b.cond is not None:
                    check_refs(b.cond)
        elif isinstance(decl, ast.ExampleDecl):
            for a in decl.given + decl.expect:
                check_refs(a.target)
                check_refs(a.value, allow_examples=True)
    return Resolved(module, entity, frozen, MappingProxyType(globs), tuple(diags))
