"""Embedding normrules in a service: one entity at a time, typed outputs, explanations, schemas.

    >>> import normrules
    >>> rs = normrules.load("rulesets/gb/zero_carbon_park.nr")
    >>> out = normrules.evaluate_one(rs, {"energy": 500_000, "co2": 90_000, "clean_share": 95,
    ...                                   "product_energy_level2": True, "solid_waste_util": 85,
    ...                                   "waste_heat_util": 60})
    >>> out["core.intensity"], out.intensity, out.meets_notice
    ('pass', 0.18, 'met')

Inputs are a dict ``{input name: value}``: numbers in the input's declared unit (or a string with
its own unit, ``"150 万tce/yr"``), booleans, category strings, dates (``datetime.date`` or
ISO text); a missing name or ``None`` is unknown. Child entity rows go under the child entity's
name as a list of dicts (``{"rated_power": 400, "line": [{"process": "cell", …}, …]}``).

Bad inputs raise :class:`InputError` (a :class:`~normrules.errors.DataError`): every problem at
once, each naming its field — a wrong type, an undeclared category, a value out of the declared
range, an unknown field name (with a did-you-mean). Pydantic is used for the *outputs* (a model
built from the ruleset with :func:`pydantic.create_model`) and for :func:`schema`; inputs are
validated by normrules itself, with the same rules as when a table is read, and the same range
and category checks (``invalid="unknown"`` reads out-of-range values and undeclared categories as
unknown, as :meth:`Ruleset.evaluate <normrules.api.Ruleset.evaluate>` does).

One entity is evaluated by closures compiled once per ruleset from its typed expression trees,
with exactly the semantics of the reference interpreter (:mod:`normrules.reference`, the
specification the vectorized executor is tested against), which keeps a call in the tens of
microseconds; :func:`evaluate_row` and :func:`explain` run the vectorized executor on the one row.

The API is here; :mod:`.inputs` reads input values (and defines :class:`FieldError` and
:class:`InputError`), :mod:`.closures` compiles the scalar evaluator, :mod:`.models` builds the
pydantic models, :mod:`.prepared` holds the per-ruleset state (:func:`prepare`) and
:mod:`.command` the ``normrules schema`` command.
"""

from __future__ import annotations

import numpy as np

from .. import explain as _explain_module
from ..columns import column_of_values
from .inputs import FieldError, InputError, _as_of_value
from .prepared import _Prepared, prepare


# =========================================================================== the API


def evaluate_one(ruleset, data: dict, as_of=None, *, invalid: str = "error"):
    """Evaluate one entity; return a pydantic model of its outputs.

    ``data`` maps input names to values (see the module docstring); child entity rows go under
    the child entity's name as a list of dicts. ``as_of`` (a date or ``YYYY-MM-DD``) fills an
    ``as_of`` input not given. The model has one field per value, rule and result of the root
    entity (and each imported value the ruleset reads, ``alias.name``): numbers in their display
    unit (rounded to 12 significant digits, as in ``Evaluation.to_arrow``), verdicts as
    ``"pass"``/``"fail"``/``"not_applicable"``/``"unknown"``, result labels as strings, ``None``
    for unknown. Read ``out["core.intensity"]`` or ``out.core_intensity``; ``out.to_dict()``.

    Raises :class:`InputError` (a :class:`~normrules.errors.DataError`) listing every bad field.
    """
    return prepare(ruleset).evaluate(data, as_of, invalid)


def output_model(ruleset):
    """The pydantic model class :func:`evaluate_one` returns for ``ruleset``."""
    return prepare(ruleset).output_model()


def input_model(ruleset):
    """A pydantic model class of the inputs :func:`evaluate_one` takes (used for :func:`schema`)."""
    return prepare(ruleset).input_model()


def schema(ruleset) -> dict:
    """A JSON Schema (draft 2020-12) of one entity's inputs and outputs.

    ``properties.inputs`` is what :func:`evaluate_one` accepts (numbers in the unit given as
    ``x-unit``, the declared ranges as minimum/maximum, categories as enums, child rows as arrays);
    ``properties.outputs`` is what it returns (``model_dump(mode="json", by_alias=True)``).
    """
    from pydantic.json_schema import models_json_schema

    prep = prepare(ruleset)
    c = prep.checked
    (refs, defs) = models_json_schema([(prep.input_model(), "validation"), (prep.output_model(), "serialization")],
                                      ref_template="#/$defs/{model}")
    inputs_ref = refs[(prep.input_model(), "validation")]
    outputs_ref = refs[(prep.output_model(), "serialization")]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{c.ref} — one {c.entity}",
        "description": f"Inputs and outputs of one `{c.entity}` of {c.ref} "
                       f"({c.meta_value('document', '')}), sha256 {c.content_hash}.",
        "type": "object",
        "properties": {"inputs": inputs_ref, "outputs": outputs_ref},
        "required": ["inputs", "outputs"],
        "x-normrules": {"ruleset": c.id, "version": c.version, "content_hash": c.content_hash, "entity": c.entity,
                        "key": prep.key},
        **defs,
    }


# --------------------------------------------------------------------------- explain


def _is_row(data, prep: _Prepared) -> bool:
    if not isinstance(data, dict):
        return hasattr(data, "to_dict") and not hasattr(data, "columns") and not hasattr(data, "num_rows")
    for name, value in data.items():
        if name in prep.child_field_specs:
            if isinstance(value, (list, tuple)) and all(isinstance(r, dict) for r in value):
                continue
            return False
        if isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, "__array__") and not np.isscalar(value):
            return False
    return True


def _executor_columns(prep: _Prepared, canon) -> tuple[dict, object]:
    """The vectorized executor over one entity (and its child rows) from canonical values."""
    from ..execute import Entities, execute

    root, kids, subs = canon
    imported = {}
    for alias, sub, sub_canon in subs:
        inner, _ = _executor_columns(sub, sub_canon)
        imported.update({f"{alias}.{k}": v for k, v in inner.items()})
    c = prep.checked
    types = {i.name: i.type for i in c.inputs}
    cols = {name: column_of_values(types[name], [v]) for name, v in root.items()}
    for entity, rows in kids.items():
        for s in prep.child_inputs[entity]:
            cols[s.name] = column_of_values(types[s.name], [r.get(s.name) for r in rows])
    sizes = {c.entity: 1, **{e: len(rows) for e, rows in kids.items()}}
    for e in c.entities:
        sizes.setdefault(e.name, 0)
    entities = Entities(c.entity, sizes, {e: np.zeros(n, dtype=np.int64) for e, n in sizes.items() if e != c.entity},
                        {e.name: e.parent for e in c.entities if e.parent is not None})
    return execute(prep.ruleset.plan, cols, entities, imported)


def evaluate_row(ruleset, data: dict, as_of=None, *, invalid: str = "error"):
    """One entity through the vectorized executor: an :class:`~normrules.api.Evaluation` of one row.

    Takes what :func:`evaluate_one` takes (and validates it the same way); the entity's key is
    ``data[key]`` if given, else ``"1"``.
    """
    from ..api import Evaluation

    prep = prepare(ruleset)
    if not isinstance(data, dict):
        data = data.to_dict()
    errors: list[FieldError] = []
    children = prep.check_fields(data, errors)
    canon = prep.canonical(data, children, _as_of_value(as_of), invalid, errors)
    if errors:
        raise InputError(errors)
    env, counters = _executor_columns(prep, canon)
    key = data.get(prep.key)
    keys = np.array(["1" if key is None else str(key)], dtype=object)
    c = prep.checked
    keys_by = {c.entity: keys}
    for e in prep.children_of_root:
        rows = children.get(e, ())
        ck = prep.child_keys.get(e)
        keys_by[e] = np.array([str(r.get(ck, i + 1)) for i, r in enumerate(rows)], dtype=object)
    return Evaluation(ruleset, ruleset.plan, env, 1, keys, counters, (), {}, keys_by)


def explain(ruleset, data, key=None, *, children: dict | None = None, as_of=None, invalid: str = "error") -> str:
    """The explanation of one entity (as ``normrules explain`` prints it).

    ``data`` is one entity as a dict (as for :func:`evaluate_one`; ``key`` then defaults to its key
    field, else ``"1"``) or a table of entities (pandas DataFrame, pyarrow Table, dict of
    arrays; ``children`` as for :meth:`~normrules.api.Ruleset.evaluate`) with ``key`` naming the
    row (default: the only row).
    """
    from ..errors import NormrulesError

    prep = prepare(ruleset)
    if _is_row(data, prep):
        ev = evaluate_row(ruleset, data, as_of, invalid=invalid)
        return _explain_module.explain(ev, str(ev.keys[0]) if key is None else str(key))
    ev = ruleset.evaluate(data, children=children, as_of=as_of, invalid=invalid)
    if key is None:
        if ev.n != 1:
            raise NormrulesError(f"the table has {ev.n} entities: name one with key=…")
        key = ev.keys[0]
    return _explain_module.explain(ev, str(key))


# --------------------------------------------------------------------------- the command


def __getattr__(name: str):
    if name == "schema_command":          # built on first use: `import normrules` does not need click
        from .command import make_schema_command

        cmd = make_schema_command()
        globals()["schema_command"] = cmd
        return cmd
    raise AttributeError(name)


__all__ = ["evaluate_one", "evaluate_row", "explain", "schema", "output_model", "input_model", "prepare",
           "InputError", "FieldError"]
