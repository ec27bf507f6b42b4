"""The embedding API (normrules.embed): evaluate_one, explain, schema, the `schema` command.

* ``evaluate_one`` gives, for every park of examples/parks.csv and every generated PV module (with
  its BOM lines), exactly the row ``Ruleset.evaluate(...).to_arrow()`` gives — from source and
  from IR; its compiled scalar engine agrees with the reference interpreter on every example of
  every shipped ruleset and on random rulesets of the differential tests;
* bad inputs raise InputError (a DataError) naming each field;
* the schema is valid JSON Schema and describes what goes in and what comes out;
* the Python snippets of docs/embedding.md run.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from functools import lru_cache
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

import normrules
from normrules import embed, ir
from normrules.errors import CheckFailed, DataError
from normrules.examples import _example_data, _local, _sub_given, reference_env
from normrules.explain import explain as explain_evaluation
from normrules.reference import Interpreter
from normrules.tables import InputReader, read_table, split_header

from test_ir import EXPORT, PARK, PARKS, PCR, pv_tables

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "embedding.md"


@lru_cache(maxsize=None)
def load(path: Path):
    return normrules.load(path)


@lru_cache(maxsize=None)
def load_from_ir(path: Path):
    return ir.load_ir(ir.dumps_ir(load(path)))


def shipped() -> list[Path]:
    return sorted((ROOT / "rulesets").rglob("*.nr"))


def park_rows() -> list[dict]:
    """The parks of examples/parks.csv as evaluate_one dicts: units written with the values."""
    table = read_table(PARKS)
    rows = []
    for record in table.to_pylist():
        row = {}
        for header, value in record.items():
            name, unit = split_header(header)
            if name == "name":
                continue                       # a label column, not an input
            row[name] = f"{value} {unit}" if unit and value is not None else value
        rows.append(row)
    return rows


def arrow_rows(evaluation) -> dict[str, dict]:
    """``{key: {output name: value}}`` from Evaluation.to_arrow: headers without their units, and a
    result's "unknown" as None (as evaluate_one gives it)."""
    table = evaluation.to_arrow()
    key = table.column_names[0]
    out = {}
    for record in table.to_pylist():
        k = record.pop(key)
        row = {}
        for header, value in record.items():
            name = split_header(header)[0]
            if hasattr(evaluation._item(name), "branches") and value == "unknown":
                value = None
            row[name] = value
        out[k] = row
    return out


def assert_same_outputs(got: dict, want: dict, context: str) -> None:
    assert list(got) == list(want), context
    for name in want:
        g, w = got[name], want[name]
        if isinstance(w, float) and isinstance(g, float) and math.isnan(w):
            assert math.isnan(g), f"{context}: {name}"
        else:
            assert g == w and type(g) is type(w), f"{context}: {name}: evaluate_one {g!r}, evaluate {w!r}"


# --------------------------------------------------------------------------- identical to Ruleset.evaluate


@pytest.mark.parametrize("source", ["nr", "ir"])
def test_parks_one_by_one_equal_the_table_evaluation(source):
    rs = load(PARK) if source == "nr" else load_from_ir(PARK)
    want = arrow_rows(rs.evaluate(read_table(PARKS)))
    rows = park_rows()
    assert len(rows) == len(want) == 10
    for row in rows:
        out = normrules.evaluate_one(rs, row)
        assert_same_outputs(out.to_dict(), want[row["id"]], row["id"])
        # the same row through the vectorized executor
        assert_same_outputs(arrow_rows(embed.evaluate_row(rs, row))[row["id"]], want[row["id"]], row["id"])
        assert out.model_dump(by_alias=True) == out.to_dict()


def module_rows(modules: dict, lines: dict) -> list[dict]:
    rows = []
    for i, mid in enumerate(modules["module_id"]):
        row = {"module_id": mid}
        for name, values in modules.items():
            if name != "module_id":
                v = values[i]
                row[name] = None if isinstance(v, float) and math.isnan(v) else float(v)
        row["line"] = [{k: lines[k][j] for k in lines if k != "module_id"}
                       for j in range(len(lines["module_id"])) if lines["module_id"][j] == mid]
        rows.append(row)
    return rows


@pytest.mark.parametrize("source", ["nr", "ir"])
@pytest.mark.parametrize("path", [PCR, EXPORT], ids=["pv_module_cfp", "pv_export_markets"])
def test_pv_modules_one_by_one_equal_the_table_evaluation(path, source):
    rs = load(path) if source == "nr" else load_from_ir(path)
    modules, lines = pv_tables(120, seed=11)
    want = arrow_rows(rs.evaluate(modules, children={"line": lines}))
    for row in module_rows(modules, lines):
        row = dict(row)
        if path == PCR:
            row.pop("project_capacity")
        out = normrules.evaluate_one(rs, row)
        assert_same_outputs(out.to_dict(), want[row["module_id"]], row["module_id"])
    if path == EXPORT:
        assert "pcr.cfp_per_kw" in out.to_dict()          # an imported value the ruleset reads


def test_as_of_fills_the_as_of_input():
    path = ROOT / "rulesets" / "gb" / "ghg_accounting.nr"
    rs = load(path)
    if not any(i.name == "as_of" for i in rs.checked.inputs):
        pytest.skip("ghg_accounting has no as_of input any more")
    with_date = normrules.evaluate_one(rs, {"as_of": "2023-06-30"})
    filled = normrules.evaluate_one(rs, {}, as_of="2023-06-30")
    also = normrules.evaluate_one(rs, {}, as_of=_dt.date(2023, 6, 30))
    assert with_date == filled == also
    assert normrules.evaluate_one(rs, {"as_of": "2023-06-30"}, as_of="1999-01-01") == with_date   # given wins
    if "reporting_year" in with_date.to_dict():
        assert with_date["reporting_year"] == 2023.0


# --------------------------------------------------------------------------- the compiled scalar engine


def _canonical_run(ruleset, given: dict, children: dict) -> dict:
    """The compiled engine's root env for canonical example values (imports as alias.name)."""
    prep = embed.prepare(ruleset)

    def canon(p, given):
        root, kids = _local(p.checked, given, children)
        subs = [(alias, sub, canon(sub, _sub_given(alias, given))) for alias, sub in p.imports]
        return root, kids, subs

    return prep.run(canon(prep, given))


@pytest.mark.parametrize("path", shipped(), ids=lambda p: str(p.relative_to(ROOT)))
def test_compiled_engine_equals_reference_on_every_example(path):
    try:
        rs = load(path)
    except CheckFailed:
        pytest.skip("does not compile")
    for rs_ in (rs, load_from_ir(path)):
        for ex in rs_.checked.examples:
            given, children = _example_data(rs_, ex)
            want = reference_env(rs_, given, children)
            got = _canonical_run(rs_, given, children)
            assert got == want, f"{ex.name}: " + ", ".join(f"{k}: {got.get(k)!r} vs {v!r}" for k, v in want.items()
                                                            if got.get(k) != v)


try:
    from strategies import cases
except Exception:  # pragma: no cover
    cases = None


@pytest.mark.skipif(cases is None, reason="tests/strategies.py has no `cases`")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases() if cases is not None else None)
def test_compiled_engine_equals_reference_on_random_rulesets(case):
    rs = normrules.loads(case.source)
    c = rs.checked
    reader = InputReader(c, "unknown")
    children = getattr(case, "children", None)
    try:
        if len(c.entities) > 1 or children:
            cols, entities, _ = reader.read_all({c.entity: case.table, **(children or {})})
            n = entities.sizes[c.entity]
            parent_rows = entities.parent_rows
        else:
            cols, n, _ = reader.read(case.table)
            parent_rows = {}
    except DataError:
        return
    prep = embed.prepare(rs)
    root_names = [i.name for i in c.inputs if (i.entity or c.entity) == c.entity]
    for row in range(n):
        root = {name: (cols[name].data[row].item() if cols[name].known[row] else None) for name in root_names}
        kids = {}
        for e in prep.children_of_root:
            idx = np.flatnonzero(parent_rows.get(e, np.zeros(0, dtype=np.int64)) == row)
            names = [s.name for s in prep.child_inputs[e]]
            kids[e] = [{name: (cols[name].data[j].item() if cols[name].known[j] else None) for name in names} for j in idx]
        try:
            want = Interpreter(c, dict(root), {e: [dict(r) for r in rows] for e, rows in kids.items()}).run(rs.plan.steps)
        except DataError as exc:
            with pytest.raises(DataError) as again:
                prep.run((dict(root), {e: [dict(r) for r in rows] for e, rows in kids.items()}, []))
            assert str(again.value) == str(exc)
            continue
        got = prep.run((dict(root), {e: [dict(r) for r in rows] for e, rows in kids.items()}, []))
        assert got == want, f"row {row}: " + ", ".join(f"{k}: {got.get(k)!r} vs {v!r}" for k, v in want.items()
                                                       if got.get(k) != v)


# --------------------------------------------------------------------------- input errors

GOOD = {"energy": 500_000, "co2": 90_000, "clean_share": 95, "product_energy_level2": True,
        "solid_waste_util": 85, "waste_heat_util": 60}


def errors_of(rs, data, **kw) -> dict[str, embed.FieldError]:
    with pytest.raises(embed.InputError) as exc:
        normrules.evaluate_one(rs, data, **kw)
    assert isinstance(exc.value, DataError) and isinstance(exc.value, normrules.InputError)
    assert exc.value.column == exc.value.errors[0].field
    return {e.field: e for e in exc.value.errors}


def test_input_errors_name_every_field():
    rs = load(PARK)
    errs = errors_of(rs, {**GOOD, "energy": "lots", "co2": -5, "clean_share": 101, "product_energy_level2": "maybe",
                          "solid_waste_util": True, "clean_shar": 3})
    assert set(errs) == {"energy", "co2", "clean_share", "product_energy_level2", "solid_waste_util", "clean_shar"}
    assert errs["energy"].kind == "type" and "tce/yr" in errs["energy"].message
    assert errs["co2"].kind == "range" and "[0, inf) t CO2/yr" in errs["co2"].message
    assert errs["clean_share"].kind == "range" and "[0, 100] percent" in errs["clean_share"].message
    assert errs["product_energy_level2"].kind == "type"
    assert errs["solid_waste_util"].kind == "type"                # a boolean is not a number
    assert errs["clean_shar"].kind == "unknown_field" and "did you mean `clean_share`?" in errs["clean_shar"].message
    with pytest.raises(DataError, match=r"6 invalid inputs: .*`clean_shar`"):
        normrules.evaluate_one(rs, {**GOOD, "energy": "lots", "co2": -5, "clean_share": 101,
                                    "product_energy_level2": "maybe", "solid_waste_util": True, "clean_shar": 3})


def test_units_in_values_are_converted_and_checked():
    rs = load(PARK)
    base = normrules.evaluate_one(rs, GOOD)
    assert normrules.evaluate_one(rs, {**GOOD, "energy": "50 万tce/yr", "co2": "9万t CO2/yr",
                                       "clean_share": "95%"}) == base
    assert normrules.evaluate_one(rs, {**GOOD, "energy": np.float64(500_000), "co2": np.int64(90_000)}) == base
    errs = errors_of(rs, {**GOOD, "energy": "5 kg", "co2": "9 furlongs"})
    assert errs["energy"].kind == "unit" and "cannot be converted to tce/yr" in errs["energy"].message
    assert errs["co2"].kind == "unit"
    assert "`%` given" in errors_of(rs, {**GOOD, "energy": "95%"})["energy"].message


def test_categories_and_child_rows():
    rs = load(PCR)
    errs = errors_of(rs, {"rated_power": 400, "line": [
        {"process": "cel", "country": "CN", "quantity": 1, "unit": "cell"},
        {"process": "cell", "country": "CN", "quantity": 1, "unit": "cell", "quantiy": 3},
        {"process": ["cell"], "country": "CN", "quantity": 1, "unit": "cell"}]})
    assert errs["line[0].process"].kind == "category" and "did you mean `cell`?" in errs["line[0].process"].message
    assert errs["line[1].quantiy"].kind == "unknown_field" and "did you mean `quantity`?" in errs["line[1].quantiy"].message
    assert errs["line[2].process"].kind == "type"
    assert errors_of(rs, {"rated_power": 400, "line": {"process": "cell"}})["line"].kind == "type"
    assert errors_of(rs, {"rated_power": 400, "lines": []})["lines"].message.endswith("did you mean `line`?")
    assert "(inputs: rated_power, line)" in errors_of(rs, {"xyz": 1})["xyz"].message
    # invalid="unknown": out-of-range values and undeclared categories are unknown, as in a table
    out = normrules.evaluate_one(rs, {"rated_power": 0, "line": [{"process": "cel", "country": "CN", "quantity": 1,
                                                                  "unit": "cell"}]}, invalid="unknown")
    assert out["cfp_per_kw"] is None and out["cfp"] is None and out["lines"] == 1.0
    # a wrong type is always an error
    assert errors_of(rs, {"rated_power": "x"}, invalid="unknown")["rated_power"].kind == "type"
    # a row whose unit cannot be converted is a data error, as in a table
    with pytest.raises(DataError, match="cannot be converted"):
        normrules.evaluate_one(rs, {"rated_power": 400, "line": [{"process": "cell", "country": "CN", "quantity": 1,
                                                                  "unit": "kg"}]})


def test_missing_and_none_are_unknown():
    rs = load(PARK)
    out = normrules.evaluate_one(rs, {**GOOD, "co2": None})
    assert out["intensity"] is None and out["core.intensity"] == "unknown" and out["meets_notice"] is None
    assert normrules.evaluate_one(rs, {k: v for k, v in GOOD.items() if k != "co2"}) == out
    assert normrules.evaluate_one(rs, {**GOOD, "co2": float("nan")}) == out
    empty = normrules.evaluate_one(rs, {})
    assert set(empty.to_dict().values()) <= {None, "unknown"}


def test_output_model():
    rs = load(PARK)
    out = normrules.evaluate_one(rs, GOOD)
    model = embed.output_model(rs)
    assert isinstance(out, model) and type(out).__name__ == "GbZeroCarbonParkOutputs"
    assert out.core_intensity == out["core.intensity"] == "pass"
    assert out.intensity == pytest.approx(0.18) and out["intensity"] == out.intensity
    validated = model.model_validate(out.to_dict())            # the fast construction gives a valid model
    assert validated == out and validated.model_dump() == out.model_dump()
    assert model.model_validate_json(out.model_dump_json(by_alias=True)) == out
    with pytest.raises(Exception):
        out.intensity = 1.0                                    # frozen
    with pytest.raises(KeyError):
        out["nope"]
    with pytest.raises(Exception):
        model.model_validate({**out.to_dict(), "core.intensity": "maybe"})


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("path", [PARK, PCR, EXPORT, ROOT / "rulesets" / "gb" / "ghg_accounting.nr"],
                         ids=lambda p: p.stem)
def test_schema_describes_inputs_and_outputs(path):
    rs = load(path)
    doc = normrules.schema(rs)
    jsonschema.Draft202012Validator.check_schema(doc)
    validator = jsonschema.Draft202012Validator(doc)
    inputs_schema = {**doc, "properties": {}, "required": [], **doc["properties"]["inputs"]}
    outputs_schema = {**doc, "properties": {}, "required": [], **doc["properties"]["outputs"]}
    check_in = jsonschema.Draft202012Validator(inputs_schema)
    check_out = jsonschema.Draft202012Validator(outputs_schema)
    if path == PARK:
        rows = [{k: v for k, v in GOOD.items()}]
    elif path in (PCR, EXPORT):
        modules, lines = pv_tables(15, seed=3)
        rows = [{**r, "line": [dict(x) for x in r["line"]]} for r in module_rows(modules, lines)]
        for r in rows:
            if path == PCR:
                r.pop("project_capacity")
            for x in r["line"]:
                x.pop("line_id")
                if x["country"] is None:
                    x.pop("country")
    else:
        rows = [{}]
    for row in rows:
        assert not list(check_in.iter_errors(row)), row
        out = normrules.evaluate_one(rs, row)
        dumped = json.loads(out.model_dump_json(by_alias=True))
        assert not list(check_out.iter_errors(dumped)), dumped
        assert not list(validator.iter_errors({"inputs": row, "outputs": dumped}))
    assert list(check_in.iter_errors({"no_such_input": 1}))       # unknown fields are rejected
    props = doc["$defs"][doc["properties"]["outputs"]["$ref"].split("/")[-1]]["properties"]
    assert set(props) == set(out.to_dict())


def test_park_schema_details():
    doc = normrules.schema(load(PARK))
    inputs = doc["$defs"]["GbZeroCarbonParkInputs"]["properties"]
    energy = inputs["energy"]
    assert energy["x-unit"] == "tce/yr" and energy["anyOf"][0]["minimum"] == 0
    share = inputs["clean_share"]["anyOf"][0]
    assert share["minimum"] == 0 and share["maximum"] == 100
    outputs = doc["$defs"]["GbZeroCarbonParkOutputs"]["properties"]
    assert outputs["core.intensity"]["enum"] == ["pass", "fail", "not_applicable", "unknown"]
    assert outputs["core.intensity"]["x-clause"] == "核心指标"
    assert outputs["intensity"]["x-unit"] == "t CO2/tce"
    assert {"enum": ["not in scope", "met", "not met"], "type": "string"} in outputs["meets_notice"]["anyOf"]
    assert doc["x-normrules"]["content_hash"] == load(PARK).content_hash


def test_schema_command(tmp_path):
    from normrules.cli import main

    result = CliRunner().invoke(main, ["schema", str(PARK)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc == json.loads(json.dumps(normrules.schema(load(PARK)), ensure_ascii=False))
    ir_path = tmp_path / "park.ir.json"
    ir.write_ir(load(PARK), ir_path)
    from_ir = CliRunner().invoke(main, ["schema", str(ir_path)])
    assert from_ir.exit_code == 0 and json.loads(from_ir.output) == doc
    bad = tmp_path / "bad.json"
    bad.write_text("{}", "utf-8")
    assert CliRunner().invoke(main, ["schema", str(bad)]).exit_code == 2


# --------------------------------------------------------------------------- explain


def test_explain_a_row_or_a_table():
    rs = load(PARK)
    table = read_table(PARKS)
    ev = rs.evaluate(table)
    for row in park_rows():
        want = explain_evaluation(ev, row["id"])
        assert normrules.explain(rs, table, row["id"]) == want
        assert normrules.explain(rs, row) == want                 # one entity as a dict, keyed by its `id`
        assert normrules.explain(load_from_ir(PARK), row) == want
    anonymous = normrules.explain(rs, GOOD)
    assert anonymous.startswith("park 1 — gb.zero_carbon_park@") and "core.intensity PASS" in anonymous
    with pytest.raises(normrules.NormrulesError, match="key="):
        normrules.explain(rs, table)
    with pytest.raises(embed.InputError):
        normrules.explain(rs, {**GOOD, "energy": "lots"})
    # the module stays reachable under the same name
    assert normrules.explain.Explainer is normrules.explain._module.Explainer
    assert normrules.explain.__doc__ == embed.explain.__doc__


def test_explain_child_rows():
    rs = load(EXPORT)
    modules, lines = pv_tables(10, seed=5)
    ev = rs.evaluate(modules, children={"line": lines})
    for row in module_rows(modules, lines)[:5]:
        assert normrules.explain(rs, row) == explain_evaluation(ev, row["module_id"])


# --------------------------------------------------------------------------- the documentation


def test_embedding_doc_snippets_run(tmp_path, monkeypatch):
    text = DOC.read_text("utf-8")
    blocks = [(text.count("\n", 0, m.start(1)), m.group(1))
              for m in re.finditer(r"^```python[ \t]*\n(.*?)^```", text, re.M | re.S)]
    assert len(blocks) >= 5
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": "embedding_doc"}
    for line, block in blocks:
        code = "\n" * line + block.replace("/tmp/", f"{tmp_path}/")     # errors point at the doc's lines
        exec(compile(code, str(DOC), "exec"), namespace)
