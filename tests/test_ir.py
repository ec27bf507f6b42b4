"""The compiled IR (normrules.ir, compiler/ir.schema.json).

* every shipped ruleset that compiles gives IR valid against the JSON Schema (draft 2020-12), and
  the IR reads back into the same IR;
* a ruleset loaded from IR evaluates exactly like the one compiled from source — every column and
  every verdict — on the park data (examples/parks.csv) and on generated bills of materials for
  the PV rulesets (the footprint PCR and the export-market ruleset that imports it), and on random
  rulesets of the differential tests; its examples pass; its explanations are the same text;
* loading IR neither parses nor checks; the cache; the command.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from functools import lru_cache
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

import normrules
import normrules.api
import normrules.check
import normrules.parse
import normrules.resolve
from normrules import ir
from normrules.errors import CheckFailed
from normrules.examples import run_examples
from normrules.explain import explain as explain_evaluation
from normrules.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
PARKS = ROOT / "examples" / "parks.csv"
PARK = ROOT / "rulesets" / "gb" / "zero_carbon_park.nr"
PCR = ROOT / "rulesets" / "iec" / "pv_module_cfp.nr"
EXPORT = ROOT / "rulesets" / "intl" / "pv_export_markets.nr"


def shipped() -> list[Path]:
    return sorted((ROOT / "rulesets").rglob("*.nr"))


@lru_cache(maxsize=None)
def compiled(path: Path):
    """(source-compiled ruleset, IR text) — or None when the ruleset does not compile."""
    try:
        rs = normrules.load(path)
    except CheckFailed:
        return None
    return rs, ir.dumps_ir(rs)


def compiled_or_skip(path: Path):
    hit = compiled(path)
    if hit is None:
        pytest.skip(f"{path.relative_to(ROOT)} does not compile")
    return hit


@lru_cache(maxsize=1)
def validator():
    schema = ir.ir_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def same_table(a: pa.Table, b: pa.Table) -> None:
    assert a.column_names == b.column_names
    for name in a.column_names:
        assert a.column(name).to_pylist() == b.column(name).to_pylist(), name
    assert a.schema.metadata == b.schema.metadata


# --------------------------------------------------------------------------- schema


def test_schema_is_a_valid_draft_2020_12_schema():
    schema = ir.ir_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator()


@pytest.mark.parametrize("path", shipped(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_ruleset_ir_is_valid_and_reads_back(path):
    rs, text = compiled_or_skip(path)
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])
    assert doc["normrules_ir"] == "1"
    assert doc["ruleset"]["content_hash"] == rs.content_hash and doc["ruleset"]["ref"] == rs.ref
    back = ir.load_ir(doc)
    assert ir.to_ir(back) == doc                       # nothing lost on the way back
    assert back.plan.steps == rs.plan.steps
    assert [n for n in back.graph.graph.nodes] == [n for n in rs.graph.graph.nodes]
    assert set(back.graph.graph.edges) == set(rs.graph.graph.edges)


@pytest.mark.parametrize("path", shipped(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_ruleset_examples_pass_from_ir(path):
    rs, text = compiled_or_skip(path)
    from_ir = ir.load_ir(text)
    outcomes = run_examples(from_ir)
    assert len(outcomes) == len(rs.checked.examples)
    failures = [f"{o.name}: {m.name} expected {m.expected}, {m.engine} gave {m.actual}"
                for o in outcomes for m in o.mismatches]
    assert not failures, "\n".join(failures)
    assert [(o.name, o.file, o.line) for o in outcomes] == [(o.name, o.file, o.line) for o in run_examples(rs)]


def test_constants_are_canonical_and_spans_kept():
    rs, text = compiled_or_skip(PARK)
    doc = json.loads(text)
    energy = next(i for i in doc["inputs"] if i["name"] == "energy")
    assert energy["type"]["unit"]["text"] == "tce/yr"
    assert energy["type"]["unit"]["dimension"] == {"[length]": 2, "[mass]": 1, "[time]": -3}
    assert energy["type"]["unit"]["factor"] == pytest.approx(29.3076e9 / (365.25 * 86400))
    assert energy["range"]["low"] == 0 and energy["range"]["high"] is None
    share = next(i for i in doc["inputs"] if i["name"] == "clean_share")
    assert share["range"]["high"] == pytest.approx(1.0)          # 100 percent, canonical
    rule = next(r for r in doc["rules"] if r["id"] == "guide.clean_energy")
    assert rule["clause"] == "引导指标" and rule["severity"] == "guidance"
    limit = rule["require"]["children"][1]
    assert limit["node"] == "const" and limit["value"] == pytest.approx(0.9) and limit["text"] == "90 percent"
    span = rule["require"]["span"]
    assert set(span) >= {"file", "line", "col", "end_line", "end_col"} and span["line"] > 1
    assert doc["source"]["text"][span["start"]:span["end"]] == "clean_share >= 90 percent"
    assert [s[0] for s in doc["plan"]["steps"][:6]] == ["input"] * 6


# --------------------------------------------------------------------------- identical evaluation


def test_parks_evaluate_identically_from_ir():
    rs, text = compiled_or_skip(PARK)
    from_ir = ir.load_ir(text)
    table = read_table(PARKS)
    a, b = rs.evaluate(table), from_ir.evaluate(table)
    same_table(a.to_arrow(include_inputs=True), b.to_arrow(include_inputs=True))
    assert a.counts() == b.counts()
    for rule in rs.checked.rules:
        assert a.verdicts(rule.id) == b.verdicts(rule.id)
    for name, col in a.columns.items():
        np.testing.assert_array_equal(col.data, b.columns[name].data)
        np.testing.assert_array_equal(col.known, b.columns[name].known)
    for key in a.keys:
        assert explain_evaluation(a, key) == explain_evaluation(b, key)
    # invalid values read as unknown: the declared ranges come through the IR
    bad = table.set_column(table.column_names.index("clean_share"), "clean_share",
                           pa.array(["150%"] + ["90%"] * (table.num_rows - 1)))
    with pytest.raises(normrules.DataError) as e1:
        rs.evaluate(bad)
    with pytest.raises(normrules.DataError) as e2:
        from_ir.evaluate(bad)
    assert str(e1.value) == str(e2.value)
    same_table(rs.evaluate(bad, invalid="unknown").to_arrow(), from_ir.evaluate(bad, invalid="unknown").to_arrow())


PROCESS_UNITS = {"polysilicon": ["kg", "g", "t"], "ingot": ["kg", "g"], "wafer": ["wafer"], "cell": ["cell"],
                 "glass": ["kg", "g", "t"], "glass_tempering": ["kg"], "eva": ["kg", "g"], "pet": ["kg"], "pvf": ["g", "kg"]}


def pv_tables(n_modules: int = 300, seed: int = 7):
    """Modules (rated power, project capacity) and their BOM lines: every process and country,
    quantities in convertible units, missing values, modules without lines."""
    rng = np.random.default_rng(seed)
    processes = list(PROCESS_UNITS)
    countries = ["CN", "FR", "DE", "US"]
    ids = [f"M{i:04d}" for i in range(n_modules)]
    power = rng.choice([300.0, 400.0, 550.0, 610.5, 1000.0], n_modules)
    power[rng.random(n_modules) < 0.03] = np.nan
    capacity = rng.choice([50.0, 99.0, 100.0, 250.0, 5000.0], n_modules)
    capacity[rng.random(n_modules) < 0.03] = np.nan
    modules = {"module_id": ids, "rated_power": power, "project_capacity": capacity}
    lines = {"line_id": [], "module_id": [], "process": [], "country": [], "quantity": [], "unit": []}
    for m in ids:
        for k in range(int(rng.integers(0, 7))):          # some modules have no lines
            process = processes[int(rng.integers(len(processes)))]
            unit = PROCESS_UNITS[process][int(rng.integers(len(PROCESS_UNITS[process])))]
            q = float(rng.choice([0.0, 1.0, 12.5, 108.0, 1200.0, 526.3157894736842]))
            lines["line_id"].append(f"{m}-{k}")
            lines["module_id"].append(m)
            lines["process"].append(process)
            lines["country"].append(None if rng.random() < 0.02 else countries[int(rng.integers(4))])
            lines["quantity"].append(None if rng.random() < 0.02 else q)
            lines["unit"].append(unit)
    return modules, lines


@pytest.mark.parametrize("path", [PCR, EXPORT], ids=["pv_module_cfp", "pv_export_markets"])
def test_pv_rulesets_evaluate_identically_from_ir(path):
    rs, text = compiled_or_skip(path)
    from_ir = ir.load_ir(text)
    modules, lines = pv_tables()
    a = rs.evaluate(modules, children={"line": lines})
    b = from_ir.evaluate(modules, children={"line": lines})
    same_table(a.to_arrow(include_inputs=True), b.to_arrow(include_inputs=True))
    if any(e.parent for e in rs.checked.entities) and path == PCR:
        same_table(a.to_arrow(include_inputs=True, entity="line"), b.to_arrow(include_inputs=True, entity="line"))
    assert a.counts() == b.counts()
    assert set(a.columns) == set(b.columns)
    for name, col in a.columns.items():
        np.testing.assert_array_equal(col.data, b.columns[name].data, err_msg=name)
        np.testing.assert_array_equal(col.known, b.columns[name].known, err_msg=name)
    for key in list(a.keys[:25]):
        assert explain_evaluation(a, key) == explain_evaluation(b, key)
    if path == EXPORT:
        # the imported PCR is nested in the IR, and evaluated from there
        doc = json.loads(text)
        (imp,) = doc["imports"]
        assert imp["alias"] == "pcr" and imp["ir"]["ruleset"]["id"] == "iec.pv_module_cfp"
        assert a.counts()["epeat"] == b.counts()["epeat"]


def test_imports_are_inlined_with_overrides_applied(tmp_path):
    provincial = """ruleset local.stricter_park {
  title     zh "更严的零碳园区" en "A stricter park ruleset"
  document  "test"
  version   "1"
  status    draft
}

import gb.zero_carbon_park as national
override national.core_limit_medium = 0.15 t CO2/tce

rule local.core "国家核心指标" en "The national core indicator"
  severity mandatory
  require national.core.intensity
"""
    rs = normrules.loads(provincial, str(tmp_path / "stricter.nr"))
    doc = ir.to_ir(rs)
    assert not list(validator().iter_errors(json.loads(ir.dumps_ir(rs))))
    (imp,) = doc["imports"]
    assert imp["alias"] == "national" and imp["requested_version"] is None
    (ov,) = imp["overrides"]
    assert ov["param"] == "core_limit_medium"
    factor = ov["value"]["type"]["unit"]["factor"]             # canonical: kg CO2 per joule
    assert ov["value"]["value"] / factor == pytest.approx(0.15) and ov["original"]["value"] / factor == pytest.approx(0.2)
    nested = {p["name"]: p for p in imp["ir"]["params"]}
    assert nested["core_limit_medium"]["value"]["value"] == ov["value"]["value"]
    assert nested["core_limit_medium"]["overridden"]["value"] == ov["original"]["value"]
    from_ir = ir.load_ir(doc)
    table = read_table(PARKS)
    same_table(rs.evaluate(table).to_arrow(), from_ir.evaluate(table).to_arrow())
    assert from_ir.evaluate(table).verdicts("local.core") == rs.evaluate(table).verdicts("local.core")
    ev = from_ir.evaluate(table)
    assert "overridden; the imported ruleset says 0.2 t CO2/tce" in explain_evaluation(ev, "P002")


def test_as_of_is_filled_from_ir():
    for path in shipped():
        hit = compiled(path)
        if hit is None or not any(i.name == "as_of" for i in hit[0].checked.inputs):
            continue
        rs, text = hit
        from_ir = ir.load_ir(text)
        table = {i.name: [None] for i in rs.checked.inputs if not i.entity or i.entity == rs.checked.entity}
        table.pop("as_of")
        kids = {e.name: {} for e in rs.checked.entities if e.parent is not None}
        a = rs.evaluate(table, children=kids or None, as_of="2023-06-30", invalid="unknown")
        b = from_ir.evaluate(table, children=kids or None, as_of="2023-06-30", invalid="unknown")
        same_table(a.to_arrow(include_inputs=True), b.to_arrow(include_inputs=True))
        return
    pytest.skip("no shipped ruleset has an as_of input")


# --------------------------------------------------------------------------- random rulesets

try:  # the generator of the differential tests (tests/strategies.py)
    from strategies import cases
except Exception:  # pragma: no cover - the generator is being rebuilt
    cases = None


@pytest.mark.skipif(cases is None, reason="tests/strategies.py has no `cases`")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases() if cases is not None else None)
def test_random_rulesets_evaluate_identically_from_ir(case):
    rs = normrules.loads(case.source)
    text = ir.dumps_ir(rs)
    assert not list(validator().iter_errors(json.loads(text)))
    from_ir = ir.load_ir(text)
    children = getattr(case, "children", None)
    try:
        a = rs.evaluate(case.table, children=children, invalid="unknown")
    except normrules.DataError as exc:
        with pytest.raises(normrules.DataError) as again:
            from_ir.evaluate(case.table, children=children, invalid="unknown")
        assert str(again.value) == str(exc)
        return
    b = from_ir.evaluate(case.table, children=children, invalid="unknown")
    for name, col in a.columns.items():
        np.testing.assert_array_equal(col.data, b.columns[name].data, err_msg=name)
        np.testing.assert_array_equal(col.known, b.columns[name].known, err_msg=name)
    assert a.counters.total_division_by_zero == b.counters.total_division_by_zero


# --------------------------------------------------------------------------- no parsing, cache, command


def test_loading_ir_neither_parses_nor_checks(monkeypatch, tmp_path):
    rs, text = compiled_or_skip(EXPORT)
    path = tmp_path / "export.ir.json"
    path.write_text(text, "utf-8")

    def forbidden(*args, **kwargs):
        raise AssertionError("load_ir must not parse, resolve or check")

    for module, name in ((normrules.parse, "parse"), (normrules.api, "parse"), (normrules.api, "check"),
                         (normrules.api, "resolve"), (normrules.check, "check"), (normrules.resolve, "resolve"),
                         (normrules.api, "compile_module")):
        monkeypatch.setattr(module, name, forbidden)
    ir.clear_cache()
    from_ir = ir.load_ir(path)
    cached = ir.compile_cached(path)
    assert ir.compile_cached(path) is cached
    modules, lines = pv_tables(20)
    same_table(rs.evaluate(modules, children={"line": lines}).to_arrow(),
               from_ir.evaluate(modules, children={"line": lines}).to_arrow())
    assert all(o.passed for o in run_examples(from_ir))
    row = {"project_capacity": 150, "rated_power": 400, "line": [{"process": "cell", "country": "CN", "quantity": 108,
                                                                  "unit": "cell"}]}
    assert normrules.evaluate_one(cached, row)["fr.cre"] == "pass"


def test_load_ir_rejects_other_versions_and_other_json():
    _, text = compiled_or_skip(PARK)
    doc = json.loads(text)
    doc["normrules_ir"] = "2"
    with pytest.raises(ir.IRError, match="version"):
        ir.load_ir(doc)
    with pytest.raises(ir.IRError):
        ir.load_ir("{not json")
    with pytest.raises(ir.IRError, match="malformed"):
        ir.load_ir({"normrules_ir": "1", "ruleset": {}})
    assert isinstance(ir.IRError("x"), normrules.NormrulesError)


def test_compile_cached_keys_by_content_hash(tmp_path):
    ir.clear_cache()
    path = tmp_path / "park.nr"
    shutil.copy(PARK, path)
    first = ir.compile_cached(path)
    assert ir.compile_cached(path) is first and ir.cache_size() == 1
    copy = tmp_path / "same_text.nr"
    shutil.copy(PARK, copy)
    assert ir.compile_cached(copy) is first                  # same text, same hash: the same compiled ruleset
    path.write_text(PARK.read_text("utf-8").replace("0.2 t CO2/tce", "0.25 t CO2/tce"), "utf-8")
    changed = ir.compile_cached(path)
    assert changed is not first and changed.content_hash != first.content_hash
    assert ir.compile_cached(path) is changed
    assert ir.compile_cached(path, as_of=_dt.date(2025, 12, 31)) is not changed     # another compile date
    ir_path = tmp_path / "park.ir.json"
    ir.write_ir(first, ir_path)
    loaded = ir.compile_cached(ir_path)
    assert ir.compile_cached(ir_path) is loaded and loaded.content_hash == first.content_hash
    ir.clear_cache()
    assert ir.cache_size() == 0 and ir.compile_cached(path) is not changed


def test_compile_cached_notices_a_changed_import(tmp_path):
    ir.clear_cache()
    root = tmp_path / "rulesets"
    shutil.copytree(ROOT / "rulesets" / "iec", root / "iec")
    shutil.copytree(ROOT / "rulesets" / "intl", root / "intl")
    export = root / "intl" / "pv_export_markets.nr"
    first = ir.compile_cached(export, roots=[root])
    assert ir.compile_cached(export, roots=[root]) is first
    pcr = root / "iec" / "pv_module_cfp.nr"
    pcr.write_text(pcr.read_text("utf-8").replace('"cell", "CN", 0.520', '"cell", "CN", 0.530'), "utf-8")
    again = ir.compile_cached(export, roots=[root])
    assert again is not first
    sub = dict(again.checked.imports)["pcr"]
    assert sub.content_hash != dict(first.checked.imports)["pcr"].content_hash


def test_compile_command(tmp_path):
    from normrules.cli import main

    out = tmp_path / "park.ir.json"
    result = CliRunner().invoke(main, ["compile", str(PARK), "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text("utf-8"))
    assert not list(validator().iter_errors(doc))
    rs = ir.load_ir(out)
    assert rs.evaluate(read_table(PARKS)).verdicts("core.intensity") == \
        normrules.load(PARK).evaluate(read_table(PARKS)).verdicts("core.intensity")
    assert ir.compile_file(PARK, tmp_path / "again.json") == doc == json.loads((tmp_path / "again.json").read_text("utf-8"))
    pretty = CliRunner().invoke(main, ["compile", str(PARK), "--indent", "2"])
    assert pretty.exit_code == 0 and json.loads(pretty.output) == doc
    bad = tmp_path / "bad.nr"
    bad.write_text("ruleset x {", "utf-8")
    assert CliRunner().invoke(main, ["compile", str(bad)]).exit_code == 1
