"""Rendering a :class:`~.edits.RulesetDiff`: terminal text, Markdown, JSON, HTML (jinja2) and CSV.

The JSON document (``schema: "normrules.diff/1"``) is described in ``docs/diff.md``; the text,
Markdown and HTML views are made from the same dictionary. Text and Markdown list at most
``limit`` changed entities (``… N more``); JSON and CSV list them all.
"""

from __future__ import annotations

import csv
import io
import json

from .edits import Insert, Move, Remove, edit_name

SCHEMA = "normrules.diff/1"
_MARK = {"insert": "+", "remove": "-", "update": "~", "move": ">"}
_KIND_WORD = {"header": "header", "import": "import", "input": "input", "param": "param", "table": "table",
              "value": "value", "rule": "rule", "result": "result"}


# ------------------------------------------------------------------ the dictionary (JSON)


def _side(rs) -> dict:
    c = rs.checked
    return {"id": c.id, "version": c.version, "ref": c.ref, "status": str(c.meta_value("status", "")),
            "file": c.module.file, "sha256": c.content_hash}


def _edit(e) -> dict:
    return {
        "edit": edit_name(e),
        "kind": e.kind,
        "name": e.name,
        "old_name": None if isinstance(e, Insert) else (e.old_name if isinstance(e, Move) else e.name),
        "similarity": e.similarity if isinstance(e, Move) else None,
        "text": e.text if isinstance(e, (Insert, Remove)) else None,
        "changes": [c.to_dict() for c in getattr(e, "changes", ())],
        "affects": list(e.affects),
    }


def _impact(imp) -> dict | None:
    if imp is None:
        return None
    return {
        "entities": imp.n,
        "key": imp.key,
        "rules": [{"name": r.name, "old_name": r.old_name, "status": r.status, "before": r.before, "after": r.after,
                   "matrix": [list(row) for row in r.matrix], "transitions": [t.to_dict() for t in r.transitions],
                   "changed": r.changed} for r in imp.rules],
        "results": [{"name": r.name, "old_name": r.old_name, "status": r.status,
                     "labels_before": list(r.labels_before), "labels_after": list(r.labels_after),
                     "before": r.before, "after": r.after, "matrix": [list(row) for row in r.matrix],
                     "transitions": [t.to_dict() for t in r.transitions], "changed": r.changed} for r in imp.results],
        "changed_entities": {
            "count": len(imp.entities),
            "rows": [{"entity": x.entity, "key": x.key, "row": x.row,
                      "changes": [{"output": c.output, "before": c.before, "after": c.after} for c in x.changes]}
                     for x in imp.entities],
        },
        "values": [{"name": v.name, "old_name": v.old_name, "unit": v.unit, "changed": v.changed,
                    "became_unknown": v.became_unknown, "became_known": v.became_known,
                    "min_change": v.min_change, "max_change": v.max_change} for v in imp.values],
        "invalid": {"old": dict(imp.invalid_before), "new": dict(imp.invalid_after)},
        "warnings": list(imp.warnings),
    }


def to_dict(d) -> dict:
    return {
        "schema": SCHEMA,
        "old": _side(d.old),
        "new": _side(d.new),
        "empty": d.is_empty,
        "summary": d.summary(),
        "edits": [_edit(e) for e in d.changes],
        "impact": _impact(d.impact),
    }


def to_json(d, indent: int | None = 1) -> str:
    return json.dumps(to_dict(d), ensure_ascii=False, indent=indent) + "\n"


# ------------------------------------------------------------------ shared wording


def _one_line(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary_line(d) -> str:
    s = d.summary()
    changed = s["insert"] + s["remove"] + s["update"] + s["move"]
    if not changed:
        return f"no semantic changes ({s['keep']} declarations unchanged)"
    parts = [f"{s['update']} changed", f"{s['insert']} added", f"{s['remove']} removed", f"{s['move']} renamed"]
    return f"{changed} edits: " + ", ".join(parts) + f"; {s['keep']} unchanged"


def _title(e) -> str:
    if isinstance(e, Move):
        return f"{e.kind} {e.old_name} → {e.name} (renamed, similarity {e.similarity:.2f})"
    word = {"insert": "added", "remove": "removed", "update": "changed"}[edit_name(e)]
    return f"{e.kind} {e.name} ({word})"


def _status(e) -> str:
    if isinstance(e, Move):
        return f"renamed from {e.old_name} (similarity {e.similarity:.2f})"
    return {"insert": "added", "remove": "removed", "update": "changed"}[edit_name(e)]


def _change_line(c) -> str:
    aspects = "/".join(c.aspects)
    where = "" if c.where in (c.aspect, "title") else f" ({c.where})"
    before = c.before if c.before != "" else "—"
    after = c.after if c.after != "" else "—"
    line = f"{aspects}{where}: {before} → {after}"
    if c.effect != "behaviour":
        line += f" [{c.effect}]"
    if c.note:
        line += f" — {c.note}"
    return line


def _flip_line(f, edit_name_: str) -> str:
    return (f"{f.output}: " if f.output != edit_name_ else "") + f.text


def _value(v) -> str:
    return "unknown" if v is None else str(v)


def _label(v, result: bool) -> str:
    if v is None:
        return "unknown"
    return f'"{v}"' if result else str(v)


def _transition_text(t, result: bool) -> str:
    return f"{_label(t.before, result)} → {_label(t.after, result)} {t.count}"


def _entity_line(x, results: set[str], root: str = "") -> str:
    parts = [f"{c.output} {_label(c.before, c.output in results)} → {_label(c.after, c.output in results)}"
             for c in x.changes]
    who = x.key if not x.entity or x.entity == root else f"{x.entity} {x.key}"
    return f"{who}: " + "; ".join(parts)


# ------------------------------------------------------------------ text


def to_text(d, limit: int = 20) -> str:
    out = [f"normrules diff  {d.old.ref} → {d.new.ref}",
           f"  old: {d.old.checked.module.file} (sha256 {d.old.content_hash[:12]})",
           f"  new: {d.new.checked.module.file} (sha256 {d.new.content_hash[:12]})",
           _summary_line(d)]
    for e in d.changes:
        out.append("")
        if e.kind == "header":
            out.append(f"header {e.name}")
            for c in e.changes:
                out.append(f"  ~ {c.where}: {c.before or '—'} → {c.after or '—'}" + (f" — {c.note}" if c.note else ""))
            if e.affects:
                out.append(f"    affects: {', '.join(e.affects)}")
            continue
        out.append(f"{_MARK[edit_name(e)]} {_title(e)}")
        if isinstance(e, (Insert, Remove)):
            out.append(f"    {_one_line(e.text)}")
        for c in getattr(e, "changes", ()):
            out.append(f"    {_change_line(c)}")
            for f in c.flips:
                out.append(f"      {_flip_line(f, e.name)}")
        if e.affects:
            out.append(f"    affects: {', '.join(e.affects)}")
    imp = d.impact
    if imp is not None:
        out += [""] + _impact_text(d, imp, limit)
    return "\n".join(out) + "\n"


def _impact_text(d, imp, limit: int) -> list[str]:
    entity = d.new.checked.entity
    out = [f"impact on {imp.n} {entity} entit{'y' if imp.n == 1 else 'ies'} (key {imp.key})"]
    results = {r.name for r in imp.results}
    rows = [r for r in imp.rules if r.status == "matched" and r.changed]
    quiet = sum(1 for r in imp.rules if r.status == "matched" and not r.changed)
    width = max([len(r.name) for r in rows] + [len(r.name) + 7 for r in imp.results if r.changed] + [10])
    for r in rows:
        out.append(f"  {r.name:<{width}}  {r.changed:>6} changed: " + ", ".join(_transition_text(t, False) for t in r.transitions))
    if quiet:
        out.append(f"  {quiet} other rule{'s' if quiet != 1 else ''}: no verdict changed")
    for r in imp.rules:
        if r.status != "matched":
            counts = r.after if r.status == "added" else r.before
            out.append(f"  {r.status} rule {r.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for r in imp.results:
        if r.status != "matched":
            counts = r.after if r.status == "added" else r.before
            out.append(f"  {r.status} result {r.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            continue
        name = f"result {r.name}"
        out.append(f"  {name:<{width}}  {r.changed:>6} changed" + (": " + ", ".join(_transition_text(t, True) for t in r.transitions) if r.transitions else ""))
    for v in imp.values:
        out.append("  " + _value_line(v))
    for side, counts in (("old", imp.invalid_before), ("new", imp.invalid_after)):
        for name, k in counts.items():
            out.append(f"  invalid values read as unknown ({side} revision): {k} in `{name}`")
    out.append(f"changed entities: {len(imp.entities)}")
    for x in imp.entities[:limit]:
        out.append(f"  {_entity_line(x, results, d.new.checked.entity)}")
    if len(imp.entities) > limit:
        out.append(f"  … {len(imp.entities) - limit} more (all of them with --format json or csv)")
    return out


def _value_line(v) -> str:
    from ..explain import format_number

    u = f" {v.unit}" if v.unit else ""
    parts = []
    if v.changed:
        lo, hi = format_number(v.min_change), format_number(v.max_change)
        span = f"{'+' if v.min_change > 0 else ''}{lo}{u}" if lo == hi else \
            f"{'+' if v.min_change > 0 else ''}{lo} … {'+' if v.max_change > 0 else ''}{hi}{u}"
        parts.append(f"{v.changed} moved ({span})")
    if v.became_unknown:
        parts.append(f"{v.became_unknown} became unknown")
    if v.became_known:
        parts.append(f"{v.became_known} became known")
    return f"value {v.name}: " + ", ".join(parts)


# ------------------------------------------------------------------ Markdown


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_md(text)}`" if text else "—"


def to_markdown(d, limit: int = 20) -> str:
    out = [f"# Diff: `{d.old.ref}` → `{d.new.ref}`", "",
           f"- old: `{d.old.checked.module.file}` (sha256 `{d.old.content_hash[:12]}`)",
           f"- new: `{d.new.checked.module.file}` (sha256 `{d.new.content_hash[:12]}`)",
           f"- {_summary_line(d)}", ""]
    for e in d.changes:
        if e.kind == "header":
            out += ["## Header", "", "| field | old | new | note |", "|---|---|---|---|"]
            out += [f"| {c.where} | {_md(c.before)} | {_md(c.after)} | {_md(c.note)} |" for c in e.changes]
            out.append("")
            continue
        out += [f"## {_MARK[edit_name(e)]} {_title(e)}", ""]
        if isinstance(e, (Insert, Remove)):
            out += ["```text", e.text, "```", ""]
        changes = getattr(e, "changes", ())
        if changes:
            out += ["| aspect | where | old | new | note |", "|---|---|---|---|---|"]
            for c in changes:
                note = "; ".join(x for x in (c.note, c.effect if c.effect != "behaviour" else "") if x)
                out.append(f"| {'/'.join(c.aspects)} | {_md(c.where)} | {_code(c.before)} | {_code(c.after)} | {_md(note)} |")
            out.append("")
            flips = [(f, e.name) for c in changes for f in c.flips]
            if flips:
                out.append("Outcome flips:")
                out.append("")
                out += [f"- {_md(_flip_line(f, n))}" for f, n in flips]
                out.append("")
        if e.affects:
            out += [f"Affects: {', '.join(f'`{a}`' for a in e.affects)}", ""]
    imp = d.impact
    if imp is not None:
        results = {r.name for r in imp.results}
        out += [f"## Impact on {imp.n} entities", "", "| output | changed | transitions |", "|---|---:|---|"]
        for r in imp.rules:
            if r.status == "matched" and r.changed:
                out.append(f"| `{r.name}` | {r.changed} | {_md(', '.join(_transition_text(t, False) for t in r.transitions))} |")
        for r in imp.results:
            if r.status == "matched":
                out.append(f"| result `{r.name}` | {r.changed} | {_md(', '.join(_transition_text(t, True) for t in r.transitions))} |")
        out.append("")
        out += [f"- {_md(_value_line(v))}" for v in imp.values]
        for r in list(imp.rules) + list(imp.results):
            if r.status != "matched":
                counts = r.after if r.status == "added" else r.before
                out.append(f"- {r.status} `{r.name}`: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        out += ["", f"### Changed entities ({len(imp.entities)})", ""]
        if imp.entities:
            out += [f"| {imp.key} | changes |", "|---|---|"]
            for x in imp.entities[:limit]:
                out.append(f"| {_md(x.key if x.entity == d.new.checked.entity else x.entity + ' ' + x.key)} | "
                           f"{_md(_entity_line(x, results).split(': ', 1)[1])} |")
            if len(imp.entities) > limit:
                out += ["", f"… {len(imp.entities) - limit} more (all of them in the JSON or CSV output)"]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------ CSV


def to_csv(d) -> str:
    """Every changed entity, one row per changed output: key, output, before, after."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    imp = d.impact
    multi = imp is not None and any(x.entity != d.new.checked.entity for x in imp.entities)
    head = [imp.key if imp is not None else "key", "output", "before", "after"]
    w.writerow((["entity"] if multi else []) + head)
    if imp is not None:
        for x in imp.entities:
            for c in x.changes:
                w.writerow(([x.entity] if multi else []) + [x.key, c.output, _value(c.before), _value(c.after)])
    return buf.getvalue()


# ------------------------------------------------------------------ HTML


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("normrules.diff", "templates"), autoescape=select_autoescape(["html", "j2"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def to_html(d, limit: int = 500) -> str:
    """A self-contained HTML page (inline CSS and a small inline script, nothing fetched)."""
    data = to_dict(d)
    imp = d.impact
    results = {r.name for r in imp.results} if imp is not None else set()
    view = {
        "d": data,
        "summary": _summary_line(d),
        "edits": [{"mark": _MARK[edit_name(e)], "title": _status(e), "edit": edit_name(e), "e": _edit(e),
                   "changes": [{"line": _change_line(c), "c": c.to_dict(),
                                "flips": [_flip_line(f, e.name) for f in c.flips]} for c in getattr(e, "changes", ())]}
                  for e in d.changes if e.kind != "header"],
        "header": next((e for e in d.changes if e.kind == "header"), None),
        "impact": imp,
        "rules": [r for r in imp.rules if r.status == "matched" and r.changed] if imp is not None else [],
        "quiet": sum(1 for r in imp.rules if r.status == "matched" and not r.changed) if imp is not None else 0,
        "unmatched": [r for r in list(imp.rules) + list(imp.results) if r.status != "matched"] if imp is not None else [],
        "result_rows": [r for r in imp.results if r.status == "matched"] if imp is not None else [],
        "entities": [{"key": x.key if x.entity == d.new.checked.entity else f"{x.entity} {x.key}", "changes": [{"output": c.output, "before": _label(c.before, c.output in results),
                                                 "after": _label(c.after, c.output in results)} for c in x.changes]}
                     for x in (imp.entities[:limit] if imp is not None else ())],
        "more": max(0, len(imp.entities) - limit) if imp is not None else 0,
        "values": [_value_line(v) for v in imp.values] if imp is not None else [],
        "tr": lambda t, result: _transition_text(t, result),
        "label": _label,
    }
    return _environment().get_template("diff.html.j2").render(**view)


__all__ = ["to_dict", "to_json", "to_text", "to_markdown", "to_html", "to_csv", "SCHEMA"]
