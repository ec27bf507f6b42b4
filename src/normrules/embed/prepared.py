"""The per-ruleset state of :func:`~normrules.embed.evaluate_one`, built once and cached.

:class:`_Prepared` holds a ruleset's input readers, its compiled steps, its output fields and
models; :func:`prepare` keeps one per ruleset object while that object lives.
"""

from __future__ import annotations

import weakref

from .. import types as T
from .closures import _compile, _compile_result, _compile_rule, _State
from .inputs import FieldError, InputError, _as_of_value, _hint, _InputSpec, _short
from .models import (_BOOL, _DAYK, _LABEL, _MODELS, _MONTHK, _NUM, _TEXT, _VERDICT, _construct, _converter,
                     _field_name, _label_text, _make_input_model, _make_output_model)


class _Prepared:
    """What evaluating one entity of one ruleset needs, computed once per ruleset."""

    def __init__(self, ruleset):
        c = ruleset.checked
        self.ruleset = ruleset
        self.checked = c
        self.root = c.entity
        self.key = c.key_of(c.entity) if c.entities else c.key
        self.params = {p.name: p.expr.value for p in c.params}
        self.tables = {t.name: t for t in c.tables}
        self.inputs = [_InputSpec(i) for i in c.inputs if (i.entity or c.entity) == c.entity]
        self.children_of_root = [e.name for e in c.entities if e.parent == c.entity]
        self.child_inputs = {e: [_InputSpec(i) for i in c.inputs if i.entity == e] for e in self.children_of_root}
        self.child_keys = {e.name: e.key for e in c.entities if e.parent is not None}
        self.imports = [(alias, prepare(sub)) for alias, sub in c.imports]
        by_name = c.by_name()
        steps = []
        for kind, name in ruleset.plan.steps:
            if kind not in ("value", "rule", "result"):
                continue
            item = by_name[name]
            owner = item.entity or c.entity
            fn = (_compile(item.expr, self) if kind == "value" else _compile_rule(item, self) if kind == "rule"
                  else _compile_result(item, self))
            steps.append((name, fn, None if owner == c.entity else owner))
        self.steps = tuple(steps)
        # every field name a caller may give, across this ruleset and its imports (same table)
        self.field_specs: dict[str, _InputSpec] = {}
        self.child_field_specs: dict[str, dict[str, _InputSpec]] = {e: {} for e in self.children_of_root}
        self._collect_fields(self)
        self._outputs = None
        self._converters = None
        self._output_model = None
        self._input_model = None

    def _collect_fields(self, prep: "_Prepared") -> None:
        for s in prep.inputs:
            self.field_specs.setdefault(s.name, s)
        for e, specs in prep.child_inputs.items():
            target = self.child_field_specs.setdefault(e, {})
            for s in specs:
                target.setdefault(s.name, s)
        for _, sub in prep.imports:
            self._collect_fields(sub)

    # ------------------------------------------------------------------ outputs
    def outputs(self) -> list[tuple]:
        """(output name, field name, conversion kind, extra, item) for every root output, in plan order."""
        if self._outputs is not None:
            return self._outputs
        c = self.checked
        out, taken = [], set()
        imports = dict(c.imports)
        by_name = c.by_name()
        for kind, name in self.ruleset.plan.steps:
            if kind not in ("value", "rule", "result", "import"):
                continue
            item = by_name.get(name)
            if item is None and "." in name:
                alias, rest = name.split(".", 1)
                sub = imports.get(alias)
                item = sub.checked.by_name().get(rest) if sub is not None else None
            if item is None or (getattr(item, "entity", "") or c.entity) != c.entity:
                continue
            if hasattr(item, "require"):
                conv, extra = _VERDICT, None
            elif hasattr(item, "branches"):
                conv, extra = _LABEL, item.labels
            elif isinstance(item.type, T.NumT):
                conv, extra = _NUM, item.type.unit.factor
            elif isinstance(item.type, T.BoolT):
                conv, extra = _BOOL, None
            elif isinstance(item.type, T.TextT):
                conv, extra = _TEXT, item.type.categories
            elif isinstance(item.type, T.DateT):
                conv, extra = (_DAYK if item.type.precision == "day" else _MONTHK), None
            else:  # pragma: no cover
                continue
            out.append((name, _field_name(name, taken), conv, extra, item))
        self._outputs = out
        return out

    def output_model(self):
        if self._output_model is None:
            # one class per ruleset text and output signature: the same ruleset compiled again or
            # loaded from IR gives outputs of the same class (pydantic models of different classes
            # are never equal)
            c = self.checked
            key = (c.ref, c.content_hash, tuple(
                (name, field, conv, extra if not isinstance(extra, float) else repr(extra),
                 _label_text(getattr(item, "label", None)), getattr(item, "clause", None),
                 getattr(item, "severity", None), item.type.unit.text if conv == _NUM else None)
                for name, field, conv, extra, item in self.outputs()))
            model = _MODELS.get(key)
            if model is None:
                model = _MODELS[key] = _make_output_model(self)
            self._output_model = model
        return self._output_model

    def input_model(self):
        if self._input_model is None:
            self._input_model = _make_input_model(self)
        return self._input_model

    # ------------------------------------------------------------------ reading one entity
    def check_fields(self, data: dict, errors: list) -> dict:
        """Unknown field names (with did-you-mean); returns the child rows by entity."""
        children = {}
        specs = self.field_specs
        for name, raw in data.items():
            if name in specs or name == self.key:
                continue
            if name in self.child_field_specs:
                if raw is None:
                    continue
                if not isinstance(raw, (list, tuple)) or not all(isinstance(r, dict) for r in raw):
                    errors.append(FieldError(name, "type", f"the `{name}` rows are a list of dicts, got {_short(raw)}",
                                             raw))
                    continue
                children[name] = raw
                allowed = self.child_field_specs[name]
                ckey = self.child_keys.get(name)
                for i, row in enumerate(raw):
                    for field in row:
                        if field not in allowed and field != ckey and field != self.key:
                            hint = _hint(str(field), list(allowed))
                            errors.append(FieldError(f"{name}[{i}].{field}", "unknown_field",
                                                     f"`{name}` has no input `{field}`; {hint}", row[field]))
                continue
            hint = _hint(str(name), list(specs) + list(self.child_field_specs))
            errors.append(FieldError(str(name), "unknown_field", f"`{self.checked.id}` has no input `{name}`; {hint}",
                                     raw))
        return children

    def canonical(self, data: dict, children: dict, as_of, invalid: str, errors: list):
        """(root inputs, child rows) of this ruleset in canonical values, and those of each import."""
        root = {}
        for s in self.inputs:
            raw = data.get(s.name)
            if raw is None and s.name == "as_of" and as_of is not None:
                raw = as_of
            root[s.name] = s.read(raw, s.name, invalid, errors)
        kids = {}
        for e, specs in self.child_inputs.items():
            rows = []
            for i, row in enumerate(children.get(e, ())):
                rows.append({s.name: s.read(row.get(s.name), f"{e}[{i}].{s.name}", invalid, errors) for s in specs})
            kids[e] = rows
        subs = [(alias, sub, sub.canonical(data, children, as_of, invalid, errors)) for alias, sub in self.imports]
        return root, kids, subs

    def run(self, canon) -> dict:
        """The root env of the scalar interpreter: values, verdict codes, label indexes (imports as alias.name)."""
        root, kids, subs = canon
        for alias, sub, sub_canon in subs:
            inner = sub.run(sub_canon)
            for k, v in inner.items():
                root[f"{alias}.{k}"] = v
        st = _State(root, kids)
        for name, fn, owner in self.steps:
            if owner is None:
                root[name] = fn(root, st)
            else:
                for env in kids.get(owner, ()):
                    env[name] = fn(env, st)
        return root

    def converters(self) -> tuple:
        """(field, output name, function from the canonical value to the display value) per output."""
        if self._converters is None:
            self._converters = tuple((field, name, _converter(conv, extra)) for name, field, conv, extra, _ in self.outputs())
        return self._converters

    def convert_outputs(self, env: dict) -> dict:
        return {field: fn(env.get(name)) for field, name, fn in self.converters()}

    def evaluate(self, data, as_of, invalid: str):
        if not isinstance(data, dict):
            if hasattr(data, "to_dict") and not hasattr(data, "columns"):      # a pandas Series: one row
                data = data.to_dict()
            else:
                raise TypeError(f"evaluate_one takes a dict of input values, not a {type(data).__name__}")
        if invalid not in ("error", "unknown"):
            raise ValueError("invalid must be 'error' or 'unknown'")
        errors: list[FieldError] = []
        children = self.check_fields(data, errors)
        canon = self.canonical(data, children, _as_of_value(as_of), invalid, errors)
        if errors:
            raise InputError(errors)
        env = self.run(canon)
        return _construct(self.output_model(), self.convert_outputs(env))


_PREPARED: dict[int, tuple] = {}


def prepare(ruleset) -> _Prepared:
    """The per-ruleset state of :func:`evaluate_one` (built on first use, kept while the ruleset lives)."""
    hit = _PREPARED.get(id(ruleset))
    if hit is not None and hit[0]() is ruleset:
        return hit[1]
    prep = _Prepared(ruleset)
    key = id(ruleset)
    _PREPARED[key] = (weakref.ref(ruleset, lambda _r, key=key, cache=_PREPARED: cache.pop(key, None)), prep)
    return prep
