"""PACT v3 export (normrules.pact): complete footprints of the example PV modules validate against
the `ProductFootprint` schema of the published spec, read in place from ../shared/specs/pact-v3/
(never copied into the project); amounts are plain decimal strings; ids are deterministic; an
incomplete export stops with a message naming the PACT field, the products and what to add."""

from __future__ import annotations

import copy
import io
import json
import math
import re
import uuid
from decimal import Decimal
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import normrules
from normrules.pact import (PACT_SPEC_VERSION, PER_UNIT_EXTENSION_SCHEMA, PactExportError, PactMapping, decimal_text,
                            to_pact, write_pact, write_pact_output)
from normrules.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
SPEC = Path(__file__).resolve().parents[1].parent / "shared/specs/pact-v3/openapi.yaml"
PCR = ROOT / "rulesets" / "iec" / "pv_module_cfp.nr"
EXPORT = ROOT / "rulesets" / "intl" / "pv_export_markets.nr"
DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")                       # PACT's `Decimal`
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
CREATED = "2025-06-30"
DECIMAL_FIELDS = ("declaredUnitAmount", "productMassPerDeclaredUnit", "pcfExcludingBiogenicUptake",
                  "pcfIncludingBiogenicUptake", "fossilCarbonContent", "biogenicCarbonContent", "fossilGhgEmissions",
                  "landUseChangeGhgEmissions", "landManagementFossilGhgEmissions", "landManagementBiogenicCO2Emissions",
                  "landManagementBiogenicCO2Removals", "biogenicCO2Uptake", "biogenicNonCO2Emissions",
                  "exemptedEmissionsPercent")


@pytest.fixture(scope="module")
def spec() -> dict:
    assert SPEC.is_file(), (f"the PACT v3 spec is not at {SPEC}: the tests read it from ../shared/specs/pact-v3/ "
                            f"beside the repository (it is not copied into the project)")
    return yaml.safe_load(SPEC.read_text("utf-8"))


@pytest.fixture(scope="module")
def footprint_validator(spec):
    """A JSON Schema 2020-12 validator of `#/components/schemas/ProductFootprint`, refs resolved in the spec."""
    base = "urn:pact:v3:openapi"
    registry = Registry().with_resource(base, Resource.from_contents(spec, default_specification=DRAFT202012))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": f"{base}#/components/schemas/ProductFootprint"}
    return jsonschema.Draft202012Validator(schema, registry=registry,
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def lines() -> pa.Table:
    return read_table(ROOT / "examples" / "bom_lines.csv")


@pytest.fixture(scope="module")
def modules() -> pa.Table:
    """The example modules with a bill of materials (M004 has none: its footprint is unknown), with the
    one declaration the shipped table leaves out: the IPCC edition, which the PCR's source (the CESI
    slides) does not state. Here it stands for the data owner's declaration."""
    table = read_table(ROOT / "examples" / "modules.csv")
    table = table.filter(pc.not_equal(table["module_id"], "M004"))
    return table.append_column("ipcc_characterization_factors", pa.array(["AR6"] * table.num_rows))


def evaluate(path, modules, lines):
    return normrules.load(path).evaluate(modules, children={"line": lines})


def replace_column(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, pa.array(values))


def export_error(*args, **kwargs) -> PactExportError:
    with pytest.raises(PactExportError) as exc:
        to_pact(*args, **kwargs)
    return exc.value


# --------------------------------------------------------------------------- a complete export


def test_spec_version_is_the_specs(spec):
    assert PACT_SPEC_VERSION == spec["info"]["version"]


def test_complete_export_validates_against_product_footprint(modules, lines, footprint_validator):
    footprints = to_pact(evaluate(PCR, modules, lines), modules, created=CREATED)
    assert [f["productIds"] for f in footprints] == [[f"urn:pact:example.com:product-id:M00{i}"] for i in (1, 2, 3)]
    for footprint in footprints:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in footprint_validator.iter_errors(footprint)]
        assert not errors, errors


def test_the_validator_rejects_what_the_spec_forbids(modules, lines, footprint_validator):
    good = to_pact(evaluate(PCR, modules, lines), modules, created=CREATED)[0]
    for path, bad in ((("pcf", "pcfExcludingBiogenicUptake"), "2.14066e2"), (("pcf", "declaredUnitOfMeasurement"), "kW"),
                      (("pcf", "biogenicCO2Uptake"), "1"), (("id",), "M001"), (("companyIds",), ["pv-co"])):
        broken = copy.deepcopy(good)
        target = broken
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = bad
        assert not footprint_validator.is_valid(broken), path
    del good["pcf"]["exemptedEmissionsPercent"]
    assert not footprint_validator.is_valid(good)


def test_figures_come_from_the_evaluation_and_the_declarations(modules, lines):
    m1, m2, m3 = to_pact(evaluate(PCR, modules, lines), modules, created=CREATED)
    pcf = m1["pcf"]
    # the PCR's own example: 214.066 kg CO2e per module, 535.165 kg CO2e/kW for 400 W
    assert pcf["pcfExcludingBiogenicUptake"] == pcf["pcfIncludingBiogenicUptake"] == pcf["fossilGhgEmissions"] == "214.066"
    assert (pcf["declaredUnitOfMeasurement"], pcf["declaredUnitAmount"]) == ("piece", "1")
    assert "Carbon footprint per kW (declared unit): 535.165 kg CO2e/kW (value `cfp_per_kw`)" in m1["comment"]
    assert m2["pcf"]["pcfExcludingBiogenicUptake"] == "400" and "400 kg CO2e/kW" in m2["comment"]
    assert pcf["productMassPerDeclaredUnit"] == "21.5"
    assert pcf["fossilCarbonContent"] == "0.8"                               # 800 g in the table: converted to kg
    assert pcf["exemptedEmissionsPercent"] == "4.5" and pcf["ccsTechnologicalCO2CaptureIncluded"] is False
    assert pcf["crossSectoralStandards"] == ["ISO14067"]                      # the PCR's param
    assert pcf["ipccCharacterizationFactors"] == ["AR6"]
    assert pcf["productOrSectorSpecificRules"] == [{"operator": "Other", "ruleNames": ["SJ/T 11926-2024"],
                                                    "otherOperatorName": "工业和信息化部 (MIIT); IEC TC 82 (IEC 63667-1)"}]
    assert (pcf["referencePeriodStart"], pcf["referencePeriodEnd"]) == ("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
    assert pcf["geographyCountry"] == "CN" and m2["pcf"]["geographyCountry"] == "FR"
    assert {pcf[f] for f in ("biogenicCarbonContent", "biogenicCO2Uptake", "landUseChangeGhgEmissions")} == {"0"}
    assert (m1["created"], m1["status"], m1["specVersion"]) == ("2025-06-30T00:00:00Z", "Active", PACT_SPEC_VERSION)
    assert m1["companyName"] == "Example PV Co. (synthetic)" and m3["productNameCompany"] == "EX-550-CN"


def test_amounts_are_decimal_strings_and_dates_rfc3339(modules, lines):
    for footprint in to_pact(evaluate(PCR, modules, lines), modules, created=CREATED):
        pcf = footprint["pcf"]
        for name in DECIMAL_FIELDS:
            assert isinstance(pcf[name], str) and DECIMAL.match(pcf[name]), (name, pcf[name])
        for stamp in (footprint["created"], pcf["referencePeriodStart"], pcf["referencePeriodEnd"]):
            assert RFC3339.match(stamp), stamp
    # M003's 606.578363636… kg CO2e/kW: 12 significant digits, never an exponent
    assert decimal_text(606.5783636363636) == "606.578363636"


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_decimal_text_never_writes_an_exponent(x):
    text = decimal_text(x)
    assert DECIMAL.match(text), text
    assert math.isclose(float(Decimal(text)), x, rel_tol=1e-11, abs_tol=1e-300)


# --------------------------------------------------------------------------- determinism


def test_repeated_runs_write_the_same_file(modules, lines, tmp_path):
    texts = []
    for _ in range(2):
        stream = io.StringIO()
        write_pact(evaluate(PCR, modules, lines), modules, stream, created=CREATED)
        texts.append(stream.getvalue())
    assert texts[0] == texts[1]
    path = tmp_path / "out" / "footprints.json"
    written = write_pact(evaluate(PCR, modules, lines), modules, path, created=CREATED)
    assert path.read_text("utf-8") == texts[0] and json.loads(texts[0]) == written
    ids = [f["id"] for f in written]
    assert len(set(ids)) == 3 and all(uuid.UUID(i).version == 5 for i in ids)


def test_a_changed_footprint_gets_a_new_id_and_the_others_keep_theirs(modules, lines):
    before = to_pact(evaluate(PCR, modules, lines), modules, created=CREATED)
    more_glass = replace_column(lines, "quantity", [q * 2 if lid == "L0003" else q for lid, q in
                                                    zip(lines["line_id"].to_pylist(), lines["quantity"].to_pylist())])
    after = to_pact(evaluate(PCR, modules, more_glass), modules, created=CREATED)
    assert before[0]["pcf"]["pcfExcludingBiogenicUptake"] != after[0]["pcf"]["pcfExcludingBiogenicUptake"]
    assert before[0]["id"] != after[0]["id"]
    assert [f["id"] for f in before[1:]] == [f["id"] for f in after[1:]]


def test_the_same_pcf_through_an_importing_ruleset_is_the_same_footprint(modules, lines):
    # pv_export_markets imports the PCR as `pcr`: the footprint is `pcr.cfp`, the PCR's header and params apply
    assert to_pact(evaluate(EXPORT, modules, lines), modules, created=CREATED) == \
        to_pact(evaluate(PCR, modules, lines), modules, created=CREATED)


# --------------------------------------------------------------------------- incomplete exports


def test_a_missing_mass_column_names_the_field_and_how_to_give_it(modules, lines):
    table = modules.drop_columns(["product_mass_per_declared_unit [kg]"])
    exc = export_error(evaluate(PCR, table, lines), table, created=CREATED)
    assert [p.field for p in exc.problems] == ["pcf.productMassPerDeclaredUnit"]
    assert "pcf.productMassPerDeclaredUnit: not declared: add a column `product_mass_per_declared_unit [kg]` to the " \
           "product table (e.g. `21.5`) or declare a param `pact_product_mass_per_declared_unit` in the ruleset" in str(exc)


def test_a_blank_cell_names_the_product(modules, lines):
    table = replace_column(modules, "product_mass_per_declared_unit [kg]", [21.5, None, 28.6])
    exc = export_error(evaluate(PCR, table, lines), table, created=CREATED)
    assert str(exc).splitlines()[1] == ("  pcf.productMassPerDeclaredUnit (module M002): empty in the column "
                                        "`product_mass_per_declared_unit`")


def test_the_shipped_example_table_says_what_is_missing():
    # no IPCC edition (neither the PCR nor the table declares one) and M004 has no bill of materials
    table, lines = read_table(ROOT / "examples" / "modules.csv"), read_table(ROOT / "examples" / "bom_lines.csv")
    exc = export_error(evaluate(PCR, table, lines), table, created=CREATED)
    assert {p.field: p.keys for p in exc.problems} == {"pcf.ipccCharacterizationFactors": (),
                                                       "pcf.pcfExcludingBiogenicUptake": ("M004",)}
    assert "pcf.pcfExcludingBiogenicUptake (module M004): `cfp` is unknown" in str(exc)
    assert "add a column `ipcc_characterization_factors`" in str(exc)


def test_no_creation_date_is_taken_from_the_clock(modules, lines):
    exc = export_error(evaluate(PCR, modules, lines), modules)
    assert [p.field for p in exc.problems] == ["created"] and "--as-of DATE" in str(exc)


def test_values_outside_what_pact_allows_are_refused(modules, lines):
    table = replace_column(modules, "exempted_emissions_percent", [4.5, 120.0, 3.1])
    table = replace_column(table, "product_ids", ["urn:pact:example.com:product-id:M001", "M002", "urn:x:M003"])
    exc = export_error(evaluate(PCR, table, lines), table, created=CREATED)
    # each bad value is reported once (not also as missing)
    assert [(p.field, p.keys) for p in exc.problems] == [("productIds", ("M002",)),
                                                         ("pcf.exemptedEmissionsPercent", ("M002",))]
    assert "120 % in the column `exempted_emissions_percent` is outside [0, 100]" in str(exc)


# --------------------------------------------------------------------------- declarations in a ruleset

WRAPPER = '''
ruleset acme.pv_pact {
  title "PACT declarations of a PV maker" en "PACT declarations of a PV maker"
  document "internal"
  version "1"
  status draft
}

import iec.pv_module_cfp as pcr

param pact_ipcc_characterization_factors : text {"AR5", "AR6", "AR5;AR6"} = "AR5;AR6"
param pact_exempted_emissions_percent : percent = 2.5 percent
'''


def test_a_ruleset_importing_the_pcr_declares_what_it_lacks(modules, lines, footprint_validator):
    table = modules.drop_columns(["ipcc_characterization_factors", "exempted_emissions_percent"])
    ev = normrules.loads(WRAPPER, "acme.nr").evaluate(table, children={"line": lines})
    footprints = to_pact(ev, table, created=CREATED)
    assert [f["pcf"]["ipccCharacterizationFactors"] for f in footprints] == [["AR5", "AR6"]] * 3
    assert {f["pcf"]["exemptedEmissionsPercent"] for f in footprints} == {"2.5"}
    assert footprints[0]["pcf"]["productOrSectorSpecificRules"][0]["ruleNames"] == ["SJ/T 11926-2024"]
    assert all(footprint_validator.is_valid(f) for f in footprints)


def test_a_declaration_given_twice_or_differently_is_refused(modules, lines):
    ev = normrules.loads(WRAPPER, "acme.nr").evaluate(modules, children={"line": lines})
    exc = export_error(ev, modules, created=CREATED)
    assert "given twice, by the column `ipcc_characterization_factors` and by the param " \
           "`pact_ipcc_characterization_factors` of acme.pv_pact@1: keep one" in str(exc)
    other = WRAPPER + 'param pact_cross_sectoral_standards : text {"PEF"} = "PEF"\n'
    table = modules.drop_columns(["ipcc_characterization_factors", "exempted_emissions_percent"])
    exc = export_error(normrules.loads(other, "acme.nr").evaluate(table, children={"line": lines}), table,
                       created=CREATED)
    assert [p.field for p in exc.problems] == ["pcf.crossSectoralStandards"]
    assert "declared differently by `pact_cross_sectoral_standards` of acme.pv_pact@1 and " \
           "`pact_cross_sectoral_standards` of iec.pv_module_cfp@2024" in str(exc)


# --------------------------------------------------------------------------- biogenic figures, extension, output


def test_biogenic_figures_where_they_apply(modules, lines, footprint_validator):
    table = replace_column(modules, "biogenic_emissions_applicable", [True, False, False])
    figures = {"biogenic_carbon_content [kg]": [0.2, None, None], "land_use_change_ghg_emissions [kg CO2e]": [1.5, None, None],
               "land_management_fossil_ghg_emissions [kg CO2e]": [0.0, None, None],
               "land_management_biogenic_co2_emissions [kg CO2e]": [0.25, None, None],
               "land_management_biogenic_co2_removals [kg CO2e]": [-0.5, None, None],
               "biogenic_co2_uptake [kg CO2e]": [-0.7, None, None], "biogenic_non_co2_emissions [g CO2e]": [66.0, None, None]}
    for name, values in figures.items():
        table = table.append_column(name, pa.array(values, pa.float64()))
    m1, m2, _ = to_pact(evaluate(PCR, table, lines), table, created=CREATED)
    pcf = m1["pcf"]
    # fossil = 214.066 − (1.5 + 0.25 − 0.5 + 0.066); including = 214.066 − 0.7
    assert (pcf["fossilGhgEmissions"], pcf["pcfIncludingBiogenicUptake"]) == ("212.75", "213.366")
    assert (pcf["biogenicNonCO2Emissions"], pcf["biogenicCarbonContent"]) == ("0.066", "0.2")
    assert m2["pcf"]["biogenicCO2Uptake"] == "0" and m2["pcf"]["fossilGhgEmissions"] == "400"
    assert footprint_validator.is_valid(m1)
    gap = table.drop_columns(["biogenic_co2_uptake [kg CO2e]"])
    exc = export_error(evaluate(PCR, gap, lines), gap, created=CREATED)
    assert [(p.field, p.keys) for p in exc.problems] == [("pcf.biogenicCO2Uptake", ("M001",))]
    stray = replace_column(table, "biogenic_co2_uptake [kg CO2e]", [-0.7, None, -0.2])    # M003: not applicable
    exc = export_error(evaluate(PCR, stray, lines), stray, created=CREATED)
    assert [(p.field, p.keys) for p in exc.problems] == [("pcf.biogenicCO2Uptake", ("M003",))]
    assert "given, but biogenic_emissions_applicable is false" in str(exc)


def test_the_per_kw_figure_as_a_data_model_extension(modules, lines, footprint_validator):
    url = "https://example.com/pact/normrules-per-unit.schema.json"
    footprints = to_pact(evaluate(PCR, modules, lines), modules, created=CREATED,
                         mapping=PactMapping(extension_schema=url))
    extension = footprints[0]["extensions"][0]
    assert extension == {"specVersion": "2.0.0", "dataSchema": url,
                         "data": {"value": "535.165", "unit": "kg CO2e/kW", "name": "cfp_per_kw",
                                  "label": "Carbon footprint per kW (declared unit)", "ruleset": "iec.pv_module_cfp@2024"}}
    jsonschema.Draft202012Validator(PER_UNIT_EXTENSION_SCHEMA).validate(extension["data"])
    assert all(footprint_validator.is_valid(f) for f in footprints)
    without = to_pact(evaluate(PCR, modules, lines), modules, created=CREATED, mapping=PactMapping(per_unit=None))
    assert "extensions" not in without[0] and "kg CO2e/kW" not in without[0]["comment"]


def test_a_mapping_to_a_value_that_is_not_a_footprint_is_refused(modules, lines):
    exc = export_error(evaluate(PCR, modules, lines), modules, created=CREATED, mapping=PactMapping(footprint="lines"))
    assert "`lines` is number, not a quantity in kg CO2e" in str(exc)
    exc = export_error(evaluate(PCR, modules, lines), modules, created=CREATED, mapping=PactMapping(footprint="cfp_total"))
    assert "iec.pv_module_cfp@2024 has no value `cfp_total`" in str(exc)


def test_write_pact_output_writes_standard_output(modules, lines, capsys):
    write_pact_output(evaluate(PCR, modules, lines), modules, None, created=CREATED)
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_cli_format_pact_writes_valid_footprints_or_names_what_is_missing(modules, lines, footprint_validator, tmp_path):
    from click.testing import CliRunner
    import pyarrow.csv as pacsv

    from normrules.cli import main

    complete = tmp_path / "modules.csv"
    pacsv.write_csv(modules, complete)
    out = tmp_path / "footprints.json"
    args = ["eval", str(PCR), "-i", f"module={complete}", "-i", f"line={ROOT / 'examples' / 'bom_lines.csv'}",
            "--format", "pact", "--as-of", CREATED, "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    footprints = json.loads(out.read_text("utf-8"))
    assert len(footprints) == modules.num_rows
    for fp in footprints:
        footprint_validator.validate(fp)
    # the shipped table lacks the IPCC edition (and M004 has no BOM): exit 2, the fields named, nothing written
    out2 = tmp_path / "incomplete.json"
    args2 = ["eval", str(PCR), "-i", f"module={ROOT / 'examples' / 'modules.csv'}",
             "-i", f"line={ROOT / 'examples' / 'bom_lines.csv'}", "--format", "pact", "--as-of", CREATED, "-o", str(out2)]
    result = CliRunner().invoke(main, args2)
    assert result.exit_code == 2
    assert "pcf.ipccCharacterizationFactors" in result.output and "M004" in result.output
    assert not out2.exists()
