"""The outputs of one entity as a pydantic model, and the pydantic models behind :func:`~normrules.embed.schema`.

Computed values are converted to their display form (numbers in display units at 12 significant
digits, verdict and label names, dates) by :func:`_converter`, and an output model instance is
built from them without validation by :func:`_construct`. The output model class is shared by
every ruleset with the same text and output signature.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import TYPE_CHECKING

from .. import types as T
from .inputs import _EPOCH_ORDINAL

if TYPE_CHECKING:  # pragma: no cover
    from .inputs import _InputSpec
    from .prepared import _Prepared


def _significant(v: float) -> float:
    """:func:`normrules.api._significant` for one float: 12 significant digits."""
    if v == 0 or not math.isfinite(v):
        return v
    scale = 10.0 ** (11 - math.floor(math.log10(abs(v))))
    return round(v * scale) / scale


_NUM, _BOOL, _TEXT, _DAYK, _MONTHK, _VERDICT, _LABEL = range(7)


def _field_name(name: str, taken: set) -> str:
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit() or base.startswith("_") or base.startswith("model_"):
        base = "f_" + base.lstrip("_")
    from pydantic import BaseModel

    if hasattr(BaseModel, base):
        base += "_"
    out, k = base, 2
    while out in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


def _converter(conv, extra):
    if conv == _VERDICT:
        return T.VERDICT_NAMES.__getitem__
    if conv == _NUM:
        return lambda v: None if v is None else _significant(v / extra)
    if conv in (_LABEL, _TEXT):
        return lambda v: None if v is None else extra[int(v)]
    if conv == _BOOL:
        return lambda v: None if v is None else bool(v)
    if conv == _DAYK:
        return lambda v: None if v is None else _dt.date.fromordinal(int(v) + _EPOCH_ORDINAL)

    def month(v):
        if v is None:
            return None
        y, m = divmod(int(v), 12)
        return f"{y}-{m + 1:02d}"
    return month


def _construct(model, values: dict):
    """An instance of ``model`` from values already of the fields' types (what ``model_construct``
    does, without its per-field Python loop)."""
    m = model.__new__(model)
    _set = object.__setattr__
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", model.__normrules_field_set__)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


# =========================================================================== pydantic models


def _class_name(ruleset_id: str, suffix: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[\W_]+", ruleset_id) if p) + suffix


_OUTPUT_BASE = None
_MODELS: dict[tuple, type] = {}


def _output_base():
    global _OUTPUT_BASE
    if _OUTPUT_BASE is None:
        from pydantic import BaseModel, ConfigDict

        class Outputs(BaseModel):
            """The outputs of one entity. Fields are named like the outputs with `.` → `_`
            (``core_intensity``); ``out["core.intensity"]`` reads by the ruleset's own name and
            ``model_dump(by_alias=True)`` writes those names."""

            model_config = ConfigDict(frozen=True, populate_by_name=True)

            def __getitem__(self, name: str):
                field = type(self).__normrules_fields__.get(name)
                if field is None:
                    if name in type(self).model_fields:
                        return getattr(self, name)
                    raise KeyError(name)
                return getattr(self, field)

            def to_dict(self) -> dict:
                """``{output name: value}`` (verdicts and labels as strings, numbers in display units)."""
                return self.model_dump(by_alias=True)

        _OUTPUT_BASE = Outputs
    return _OUTPUT_BASE


def _num_extra(unit) -> dict:
    return {"x-unit": unit.text, "x-dimension": unit.dimension_text()}


def _label_text(label) -> str | None:
    if label is None:
        return None
    return label.zh + (f" / {label.en}" if label.en else "")


def _make_output_model(prep: _Prepared):
    from typing import Literal, Optional

    from pydantic import Field, create_model

    fields = {}
    for name, field, conv, extra, item in prep.outputs():
        desc = _label_text(getattr(item, "label", None))
        if conv == _VERDICT:
            ann = Literal[T.VERDICT_NAMES]
            info = Field(..., alias=name, description=desc,
                         json_schema_extra={"x-kind": "rule", "x-clause": item.clause, "x-severity": item.severity})
        elif conv == _LABEL:
            ann = Optional[Literal[tuple(extra)]]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "result"})
        elif conv == _NUM:
            ann = Optional[float]
            info = Field(..., alias=name, description=desc,
                         json_schema_extra={"x-kind": "value", **_num_extra(item.type.unit)})
        elif conv == _BOOL:
            ann = Optional[bool]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "value"})
        elif conv == _TEXT:
            ann = Optional[Literal[tuple(extra)]]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "value"})
        elif conv == _DAYK:
            ann = Optional[_dt.date]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "value"})
        else:
            ann = Optional[str]
            info = Field(..., alias=name, description=desc, pattern=r"^\d{4}-\d{2}$",
                         json_schema_extra={"x-kind": "value"})
        fields[field] = (ann, info)
    c = prep.checked
    model = create_model(_class_name(c.id, "Outputs"), __base__=_output_base(), __module__=__package__, **fields)
    model.__doc__ = f"Outputs of {c.ref} for one `{c.entity}` (None = unknown)."
    model.__normrules_fields__ = {name: field for name, field, *_ in prep.outputs()}
    model.__normrules_field_set__ = frozenset(model.model_fields)
    return model


def _input_field(spec: _InputSpec, label):
    from typing import Literal, Optional

    from pydantic import Field

    desc = _label_text(label)
    if spec.kind == "number":
        kw = {}
        f = spec.factor
        if spec.low is not None:
            kw["ge" if spec.low_inc else "gt"] = float(f"{spec.low / f:.12g}")
        if spec.high is not None:
            kw["le" if spec.high_inc else "lt"] = float(f"{spec.high / f:.12g}")
        unit = "" if spec.unit.text == "1" else f" (in {spec.unit.text})"
        return Optional[float], Field(None, description=(desc or spec.name) + unit,
                                      json_schema_extra=_num_extra(spec.unit), **kw)
    if spec.kind == "boolean":
        return Optional[bool], Field(None, description=desc)
    if spec.kind == "text":
        return Optional[Literal[tuple(spec.categories)]], Field(None, description=desc)
    if spec.kind == "date_day":
        return Optional[_dt.date], Field(None, description=desc)
    return Optional[str], Field(None, description=desc, pattern=r"^\d{4}-\d{2}$")


def _labels_of(prep: _Prepared) -> dict:
    out = {}

    def walk(p):
        for i in p.checked.inputs:
            out.setdefault(i.name, i.label)
        for _, sub in p.imports:
            walk(sub)

    walk(prep)
    return out


def _make_input_model(prep: _Prepared):
    from typing import Optional

    from pydantic import ConfigDict, Field, create_model

    labels = _labels_of(prep)
    c = prep.checked
    config = ConfigDict(extra="forbid")
    fields = {prep.key: (Optional[str], Field(None, description=f"The {c.entity}'s key (not evaluated; names the entity in explanations)."))}
    for name, spec in prep.field_specs.items():
        fields[name] = _input_field(spec, labels.get(name))
    for entity, specs in prep.child_field_specs.items():
        child_fields = {}
        ckey = prep.child_keys.get(entity)
        if ckey:
            child_fields[ckey] = (Optional[str], Field(None, description=f"The {entity} row's key."))
        for name, spec in specs.items():
            child_fields[name] = _input_field(spec, labels.get(name))
        child = create_model(_class_name(f"{c.id}.{entity}", "Row"), __config__=config, __module__=__package__,
                             **child_fields)
        fields[entity] = (list[child], Field(default_factory=list, description=f"The `{entity}` rows of this {c.entity}."))
    model = create_model(_class_name(c.id, "Inputs"), __config__=config, __module__=__package__, **fields)
    model.__doc__ = f"Inputs of {c.ref} for one `{c.entity}`: numbers in their declared unit; null = unknown."
    return model
