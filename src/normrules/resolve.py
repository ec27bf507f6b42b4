"""Phase 2: name resolution.

Builds the symbol table of a parsed ruleset (entities, inputs, values, rules, results), checks the
header metadata, and reports every unknown or duplicate name with a suggestion. The checker then
looks names up in :class:`Resolved` and never sees an unresolved one.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Callable, Mapping

from . import ast
from .errors import Diagnostic, Note, did_you_mean

STATUSES = ("draft", "final")
SEVERITIES = ("mandatory", "guidance")
REQUIRED_META = ("title", "document", "version", "status")


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: str            # "input" | "value" | "param" | "rule" | "result" | "entity"
    name: str            # as referenced: `energy`, `core.intensity`, `pcr.cfp_per_kw` (imported)
    decl: object         # the ast declaration, or the checked item of an imported ruleset
    entity: str | None = None
    imported: str | None = None    # the alias of the import it comes from


@dataclass(frozen=True)
class Resolved:
    module: ast.Module
    entity: ast.EntityDecl | None                  # the root entity
    symbols: Mapping[str, Symbol]
    globs: Mapping[str, tuple[str, ...]]           # glob prefix → matching rule ids
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    entities: Mapping[str, ast.EntityDecl] = field(default_factory=dict)
    tables: Mapping[str, ast.TableDecl] = field(default_factory=dict)
    imports: Mapping[str, object] = field(default_factory=dict)     # alias → compiled Ruleset
    overrides: tuple[tuple[str, object, object], ...] = ()          # (target, new value, old value)

    def lookup(self, ref: ast.Ref) -> Symbol | None:
        return lookup(self.symbols, self.entity, ref, self.entities, self.imports)


def lookup(symbols: Mapping[str, Symbol], entity: ast.EntityDecl | None, ref: ast.Ref,
           entities: Mapping[str, ast.EntityDecl] | None = None, imports: Mapping[str, object] | None = None
           ) -> Symbol | None:
    name = ref.name
    if name in symbols:
        return symbols[name]
    entities = entities or ({entity.name: entity} if entity is not None else {})
    if len(ref.parts) > 1 and ref.parts[0] in entities:
        sym = symbols.get(".".join(ref.parts[1:]))
        if sym is not None and (sym.entity in (None, ref.parts[0])):
            return sym
    if len(ref.parts) == 1 and name in entities:
        return Symbol("entity", name, entities[name], name)
    if imports and len(ref.parts) > 1 and ref.parts[0] in imports:
        return imported_symbol(ref.parts[0], imports[ref.parts[0]], ".".join(ref.parts[1:]))
    return None


def imported_symbol(alias: str, ruleset, name: str) -> Symbol | None:
    """The symbol for `alias.name` in an imported (compiled) ruleset."""
    checked = ruleset.checked
    item = checked.by_name().get(name)
    if item is None:
        return None
    kind = _kind_of(checked, name)
    return Symbol(kind, f"{alias}.{name}", item, checked.entity_of(name), alias)


def _kind_of(checked, name: str) -> str:
    for kind, group in (("input", checked.inputs), ("value", checked.values), ("param", checked.params),
                        ("rule", checked.rules), ("result", checked.results)):
        if any((getattr(i, "name", None) or i.id) == name for i in group):
            return kind
    raise KeyError(name)


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


def _header_date_span(value) -> tuple[_dt.date, _dt.date] | None:
    """First and last day of a header date: ``2025-07-08`` (a day) or ``2025-07`` (a month).

    ``None`` when the text is neither (``2025-7``, ``2025-02-30``, ``2025-13``).
    """
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = _dt.date.fromisoformat(text)
        except ValueError:
            return None
        return day, day
    if re.fullmatch(r"\d{4}-\d{2}", text):
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            return None
        first = _dt.date(year, month, 1)
        last = _dt.date(year + month // 12, month % 12 + 1, 1) - _dt.timedelta(days=1)
        return first, last
    return None


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
        if f.key in ("published", "effective") and _header_date_span(f.value) is None:
            diags.append(Diagnostic(
                "E503", f"`{f.key}` needs a date like 2025-07-08 or a month like 2025-07, not `{f.value}`", f.span))
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
        pub_days, eff_days = _header_date_span(pub.value), _header_date_span(eff.value)
        # a month stands for every day in it: only an effective date that is surely before the
        # publication date (its last possible day before the first possible day of `published`)
        # is an error, so `published 2025-07-08` / `effective 2025-07` is accepted.
        if pub_days and eff_days and eff_days[1] < pub_days[0]:
            diags.append(Diagnostic("E506", "the effective date is before the publication date", eff.span,
                                    notes=(Note(pub.span, "published here"),)))


def _refs_in(expr) -> list:
    return [n for n in ast.walk(expr) if isinstance(n, (ast.Ref, ast.Glob))]


ImportLoader = Callable[[ast.ImportDecl, dict], tuple[object | None, list[Diagnostic]]]


def _check_entities(module: ast.Module, diags: list[Diagnostic]) -> dict[str, ast.EntityDecl]:
    entities: dict[str, ast.EntityDecl] = {}
    for e in (d for d in module.items if isinstance(d, ast.EntityDecl)):
        if e.name in entities:
            diags.append(Diagnostic("E204", f"`{e.name}` is declared twice", e.span,
                                    notes=(Note(entities[e.name].span, "first declared here"),)))
            continue
        entities[e.name] = e
    roots = [e for e in entities.values() if e.parent is None]
    for e in entities.values():
        if e.parent is None:
            continue
        parent = entities.get(e.parent)
        if parent is None:
            hint = did_you_mean(e.parent, entities)
            diags.append(Diagnostic("E203", f"unknown entity `{e.parent}`", e.span, help=hint))
        elif parent.parent is not None:
            diags.append(Diagnostic("E209", f"`{e.name}` is a child of `{e.parent}`, itself a child: language v1 has "
                                    "one level of child entities", e.span))
    for extra in roots[1:]:
        diags.append(Diagnostic("E202", f"a second top-level entity `{extra.name}`: a ruleset is about one kind of entity "
                                "(declare others as children with `of`)", extra.span,
                                notes=(Note(roots[0].span, "the first entity"),)))
    return entities


def resolve(module: ast.Module, load_import: ImportLoader | None = None) -> Resolved:
    """Build the symbol table and report unknown and duplicate names (collected, not raised).

    ``load_import`` compiles an imported ruleset (with the overrides that apply to it); without
    it, any ``import`` is an error.
    """
    diags: list[Diagnostic] = []
    _check_header(module, diags)

    # imports first: a ruleset with no entity of its own takes the entities of what it imports
    overrides: dict[str, dict] = {}
    for d in module.items:
        if isinstance(d, ast.OverrideDecl):
            overrides.setdefault(d.target.parts[0], {})[".".join(d.target.parts[1:])] = d
    imports: dict[str, object] = {}
    for d in module.items:
        if not isinstance(d, ast.ImportDecl):
            continue
        if d.alias in imports:
            diags.append(Diagnostic("E204", f"`{d.alias}` is declared twice", d.span))
            continue
        if load_import is None:
            diags.append(Diagnostic("E210", f"cannot import `{d.ruleset}` here", d.name_span,
                                    help="imports are resolved from ruleset roots when compiling from a file"))
            continue
        loaded, problems = load_import(d, overrides.get(d.alias, {}))
        diags.extend(problems)
        if loaded is not None:
            imports[d.alias] = loaded
    for alias, targets in overrides.items():
        if alias not in imports:
            for d in targets.values():
                if not any(isinstance(i, ast.ImportDecl) and i.alias == alias for i in module.items):
                    hint = did_you_mean(alias, [i.alias for i in module.items if isinstance(i, ast.ImportDecl)])
                    diags.append(Diagnostic("E211", f"`{alias}` is not an imported ruleset", d.target.span,
                                            help=hint or "write `import <ruleset id> as <alias>` first"))

    entities = _check_entities(module, diags)
    if not entities and imports:
        first = next(iter(imports.values()))
        entities = {e.name: e for e in first.resolved_entities()}
    entity = next((e for e in entities.values() if e.parent is None), None)
    if not entities:
        diags.append(Diagnostic("E201", "the ruleset declares no entity", module.header.id_span,
                                help='add e.g. `entity park "园区"` before the inputs'))
    for alias, imp in imports.items():
        root = imp.checked.entity
        if entity is not None and root != entity.name:
            decl = next(i for i in module.items if isinstance(i, ast.ImportDecl) and i.alias == alias)
            diags.append(Diagnostic("E212", f"`{imp.checked.id}` is about `{root}`, this ruleset about `{entity.name}`",
                                    decl.span, help=f"an imported ruleset is evaluated on the same entities: "
                                    f"declare `entity {root}`"))

    tables: dict[str, ast.TableDecl] = {}
    symbols: dict[str, Symbol] = {}
    for decl in module.items:
        if isinstance(decl, ast.TableDecl):
            if decl.name in tables:
                diags.append(Diagnostic("E204", f"`{decl.name}` is declared twice", decl.name_span,
                                        notes=(Note(tables[decl.name].name_span, "first declared here"),)))
            tables[decl.name] = decl
            continue
        if not isinstance(decl, (ast.InputDecl, ast.LetDecl, ast.ParamDecl, ast.RuleDecl, ast.ResultDecl)):
            continue
        if isinstance(decl, ast.RuleDecl):
            kind, name, span, owner = "rule", decl.id, decl.name_span, None
        else:
            kind = {ast.InputDecl: "input", ast.LetDecl: "value", ast.ParamDecl: "param",
                    ast.ResultDecl: "result"}[type(decl)]
            name, span, owner = decl.name, decl.name_span, decl.entity
            if owner is not None and entities and owner not in entities:
                hint = did_you_mean(owner, entities)
                diags.append(Diagnostic("E203", f"unknown entity `{owner}`", span,
                                        help=hint or f"the entity is `{entity.name}`" if entity else hint))
                owner = None
        if kind == "param":
            owner = None
        elif owner is None and entity is not None:
            owner = entity.name
        if name in symbols or name in entities:
            first = symbols[name].decl if name in symbols else entities[name]
            diags.append(Diagnostic("E204", f"`{name}` is declared twice", span,
                                    notes=(Note(getattr(first, "name_span", first.span), "first declared here"),)))
            continue
        symbols[name] = Symbol(kind, name, decl, owner)
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
    for alias, imp in imports.items():
        rule_ids += [f"{alias}.{r.id}" for r in imp.checked.rules]

    def imported_input(node) -> bool:
        """A child row of an example may set an imported ruleset's child inputs by their own name."""
        return any(isinstance(sym := imported_symbol(alias, imp, node.name), Symbol) and sym.kind == "input"
                   for alias, imp in imports.items())

    def check_refs(expr, allow_examples: bool = False, allow_imported: bool = False) -> None:
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
            if lookup(frozen, entity, node, entities, imports) is None:
                if allow_examples and node.name in ("pass", "fail", "not_applicable", "unknown"):
                    continue
                if allow_imported and imported_input(node):
                    continue
                candidates = [*symbols]
                if len(node.parts) > 1:
                    candidates += [f"{e}.{s}" for e in entities for s in symbols]
                    for alias, imp in imports.items():
                        candidates += [f"{alias}.{n}" for n in imp.checked.by_name()]
                hint = did_you_mean(node.name, candidates)
                diags.append(Diagnostic("E208", f"unknown name `{node.name}`", node.span,
                                        help=hint or "declare it with `input` or `let`"))

    for decl in module.items:
        if isinstance(decl, (ast.LetDecl, ast.ParamDecl)):
            check_refs(decl.expr)
        elif isinstance(decl, ast.RuleDecl):
            for e in (decl.applies, decl.require):
                if e is not None:
                    check_refs(e)
        elif isinstance(decl, ast.ResultDecl):
            for b in decl.branches:
                if b.cond is not None:
                    check_refs(b.cond)
        elif isinstance(decl, ast.TableDecl):
            for row in decl.rows:
                for cell in row:
                    check_refs(cell)
        elif isinstance(decl, ast.ExampleDecl):
            for a in decl.given + decl.expect:
                check_refs(a.target)
                check_refs(a.value, allow_examples=True)
            for a in (x for c in decl.children for x in c.given):
                check_refs(a.target, allow_imported=True)
                check_refs(a.value, allow_examples=True)
        for node in _lookups_in(decl):
            if node.table not in tables:
                hint = did_you_mean(node.table, tables)
                diags.append(Diagnostic("E213", f"unknown table `{node.table}`", node.table_span,
                                        help=hint or "declare it with `table`"))
    return Resolved(module, entity, frozen, MappingProxyType(globs), tuple(diags), MappingProxyType(entities),
                    MappingProxyType(tables), MappingProxyType(imports))


def _lookups_in(decl) -> list[ast.Lookup]:
    exprs = []
    if isinstance(decl, (ast.LetDecl, ast.ParamDecl)):
        exprs = [decl.expr]
    elif isinstance(decl, ast.RuleDecl):
        exprs = [e for e in (decl.applies, decl.require) if e is not None]
    elif isinstance(decl, ast.ResultDecl):
        exprs = [b.cond for b in decl.branches if b.cond is not None]
    return [n for e in exprs for n in ast.walk(e) if isinstance(n, ast.Lookup)]
