"""Real revision pairs for the semantic diff (docs/revisions.md).

rulesets/gb/revisions/ holds two chains of revisions of an enterprise GHG inventory (GB/T
32150-2015 accounting, copied from rulesets/gb/ghg_accounting.nr):

* gb.ghg_inventory_gwp @ SAR → AR4 → AR5 → AR6: the IPCC GWP-100 edition (CH4, N2O, CF4, C2F6);
* gb.ghg_inventory_grid @ 2021 → 2022 → 2023: the data year of China's national average grid
  factor (MEE–NBS announcements, 0.5568 → 0.5366 → 0.5306 t CO2/MWh).

Each pair must diff to exactly the reference-data change (plus documentation), affect the right
outputs, and with the data set examples/inventory.csv report the same verdict/label/value
changes as evaluating both revisions separately.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
try:
    import normrules
except ImportError:  # not installed into the venv: run from the source tree
    sys.path.insert(0, str(ROOT / "src"))
    import normrules

from normrules import load
from normrules.cli import main
from normrules.diff import Keep, Update, diff
from normrules.tables import read_table

REV = ROOT / "rulesets" / "gb" / "revisions"
DATA = ROOT / "examples" / "inventory.csv"
FUELS = ROOT / "examples" / "inventory_fuels.csv"

GWP_FILES = {e: REV / f"ghg_inventory_gwp_{e.lower()}.nr" for e in ("SAR", "AR4", "AR5", "AR6")}
GRID_FILES = {y: REV / f"ghg_inventory_grid_{y}.nr" for y in ("2021", "2022", "2023")}

GWP = {  # rulesets/common/ipcc_gwp100.csv
    "SAR": {"CH4": 21, "N2O": 310, "CF4": 6500, "C2F6": 9200},
    "AR4": {"CH4": 25, "N2O": 298, "CF4": 7390, "C2F6": 12200},
    "AR5": {"CH4": 28, "N2O": 265, "CF4": 6630, "C2F6": 11100},
    "AR6": {"CH4": 27.9, "N2O": 273, "CF4": 7380, "C2F6": 12400},
}
GRID = {"2021": 0.5568, "2022": 0.5366, "2023": 0.5306}   # rulesets/common/china_grid_factor.csv

GWP_PAIRS = [("SAR", "AR4"), ("AR4", "AR5"), ("AR5", "AR6")]
GRID_PAIRS = [("2021", "2022"), ("2022", "2023")]

OUTPUTS = ["report.total", "ets.emissions", "accounting", "ets_screen"]

# ets.emissions verdict changes on examples/inventory.csv (key: old → new)
EXPECTED_FLIPS = {
    ("SAR", "AR4"): {"N02": ("fail", "pass")},
    ("AR4", "AR5"): {"N02": ("pass", "fail"), "N04": ("pass", "fail"), "N05": ("fail", "pass")},
    ("AR5", "AR6"): {"N02": ("fail", "pass"), "N04": ("fail", "pass"), "N05": ("pass", "fail")},
    ("2021", "2022"): {"N06": ("pass", "fail"), "N12": ("pass", "fail")},
    ("2022", "2023"): {"N07": ("pass", "fail")},
}


def _files(old, new):
    return (GWP_FILES if old in GWP else GRID_FILES)[old], (GWP_FILES if new in GWP else GRID_FILES)[new]


@pytest.fixture(scope="module")
def data():
    return read_table(DATA), read_table(FUELS)


# ------------------------------------------------------------------ the rulesets themselves


def test_every_revision_compiles_and_its_examples_cover_every_outcome():
    res = CliRunner().invoke(main, ["test", str(REV), "--coverage", "--min", "100"])
    assert res.exit_code == 0, res.output
    assert "7 rulesets" in res.output and "0 failed" in res.output


def test_headers_name_the_document_and_chain_by_supersedes():
    chains = [("gb.ghg_inventory_gwp", GWP_FILES), ("gb.ghg_inventory_grid", GRID_FILES)]
    for rid, files in chains:
        previous = None
        for version, path in files.items():
            text = path.read_text("utf-8")
            header = re.search(r"ruleset (\S+) \{(.*?)\n\}", text, re.S)
            assert header.group(1) == rid
            assert f'version   "{version}"' in header.group(2)
            if previous:
                assert f'supersedes {rid} @ "{previous}"' in header.group(2)
                # the comments cite the source of the superseded version too
                assert f"supersedes ({previous}):" in text
            else:
                assert "supersedes" not in header.group(2)
            document = re.search(r'document\s+"([^"]+)"', header.group(2)).group(1)
            assert version in document
            previous = version


def _csv_rows(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


def test_reference_data_are_copies_of_the_common_rulesets():
    gwp_csv = {(r[0], r[1]): float(r[2]) for r in _csv_rows(ROOT / "rulesets/common/ipcc_gwp100.csv")}
    for edition, path in GWP_FILES.items():
        assert load(path) is not None
        text = path.read_text("utf-8")
        for gas, value in GWP[edition].items():
            assert gwp_csv[(edition, gas)] == value
            assert re.search(rf'row "{gas}", {value}\n', text), (edition, gas)
        # every source of this edition's rows is cited in the ruleset's comments or table clause
        for (ed, gas), _ in gwp_csv.items():
            if ed == edition and gas in GWP[edition]:
                src = next(r[3] for r in _csv_rows(ROOT / "rulesets/common/ipcc_gwp100.csv")
                           if (r[0], r[1]) == (ed, gas))
                assert src.split(" (")[0].split(";")[0] in text
    grid_csv = {r[0]: (float(r[1]), r[3]) for r in _csv_rows(ROOT / "rulesets/common/china_grid_factor.csv")}
    for year, path in GRID_FILES.items():
        text = path.read_text("utf-8")
        assert grid_csv[year][0] == GRID[year]
        assert f'row "全国", {year}, {GRID[year]}' in text
        # the announcement, as cited in china_grid_factor.csv, is named in the comments
        title = re.search(r"《[^》]+》", grid_csv[year][1]).group(0)
        assert title in text
    fuels = (ROOT / "rulesets/gb/ghg_accounting_fuels.csv").read_bytes()
    assert (REV / "ghg_accounting_fuels.csv").read_bytes() == fuels


# ------------------------------------------------------------------ the diffs


def _table_change(d, table):
    edits = [e for e in d.changes if e.kind != "header"]
    assert [(type(e), e.kind, e.name) for e in edits] == [(Update, "table", table)]
    return edits[0]


@pytest.mark.parametrize("old,new", GWP_PAIRS)
def test_gwp_pair_changes_exactly_the_four_gwp_values(old, new):
    d = diff(load(GWP_FILES[old]), load(GWP_FILES[new]))
    assert not d.is_empty
    edit = _table_change(d, "gwp100")
    values = [c for c in edit.changes if c.aspect == "values"]
    assert {c.where for c in values} == {f'row ["{g}"]' for g in GWP[old]}
    for c in values:
        gas = c.where.split('"')[1]
        assert c.effect == "behaviour"
        assert c.before.replace(" ", "") == f"value{GWP[old][gas]:g}CO2e".replace(" ", "")
        assert c.after.replace(" ", "") == f"value{GWP[new][gas]:g}CO2e".replace(" ", "")
    assert all(c.effect == "documentation" for c in edit.changes if c.aspect != "values")
    assert set(edit.affects) == set(OUTPUTS)
    header = next(e for e in d.changes if e.kind == "header")
    wheres = " ".join(c.where for c in header.changes)
    assert "document" in wheres and "version" in wheres


@pytest.mark.parametrize("old,new", GRID_PAIRS)
def test_grid_pair_changes_exactly_the_factor(old, new):
    d = diff(load(GRID_FILES[old]), load(GRID_FILES[new]))
    edit = _table_change(d, "grid_factor")
    values = [c for c in edit.changes if c.aspect == "values"]
    assert len(values) == 1 and values[0].where == 'row ["全国"]'
    assert f"{GRID[old]} t CO2/MWh" in values[0].before and f"{GRID[new]} t CO2/MWh" in values[0].after
    assert f"data_year {old}," in values[0].before, "a year is shown without digit grouping"
    assert values[0].effect == "behaviour"
    assert set(edit.affects) == set(OUTPUTS)
    kept = {e.name for e in d.edits if isinstance(e, Keep)}
    assert {"gwp100", "fuel_defaults", "ets_threshold", "ets.emissions", "total"} <= kept


# ------------------------------------------------------------------ the impact on the data set


def _evaluate(path, data):
    table, fuels = data
    return load(path).evaluate(table, children={"fuel": fuels}, invalid="unknown")


@pytest.mark.parametrize("old,new", GWP_PAIRS + GRID_PAIRS)
def test_impact_equals_evaluating_both_revisions(old, new, data):
    old_path, new_path = _files(old, new)
    table, fuels = data
    d = diff(load(old_path), load(new_path), data=table, children={"fuel": fuels})
    ev_old, ev_new = _evaluate(old_path, data), _evaluate(new_path, data)
    keys = [str(k) for k in ev_old.keys]
    assert d.impact.n == len(keys) == 12

    for rule in ("report.total", "ets.emissions"):
        before, after = ev_old.verdicts(rule), ev_new.verdicts(rule)
        imp = d.impact.rule(rule)
        for a in ("pass", "fail", "not_applicable", "unknown"):
            for b in ("pass", "fail", "not_applicable", "unknown"):
                assert imp.count(a, b) == sum(x == a and y == b for x, y in zip(before, after)), (rule, a, b)
        assert imp.changed == sum(x != y for x, y in zip(before, after))

    flips = {k: (x, y) for k, x, y in zip(keys, ev_old.verdicts("ets.emissions"), ev_new.verdicts("ets.emissions"))
             if x != y}
    assert flips == EXPECTED_FLIPS[(old, new)]

    for result in ("accounting", "ets_screen"):
        before, after = ev_old.labels(result), ev_new.labels(result)
        assert d.impact.result(result).changed == sum(x != y for x, y in zip(before, after))

    changed = {e.key: {c.output for c in e.changes} for e in d.impact.entities}
    assert changed == {k: {"ets.emissions", "ets_screen"} for k in EXPECTED_FLIPS[(old, new)]}

    moved = {v.name: v for v in d.impact.values}
    for name in ("total", "scope1", "scope2", "gwp_ch4", "grid_ef"):
        a, b = ev_old.values(name), ev_new.values(name)
        both = ~np.isnan(a) & ~np.isnan(b)
        n = int(np.sum(both & ~np.isclose(a, b, rtol=1e-9, atol=0)))
        assert (moved[name].changed if name in moved else 0) == n, name
        if n:
            delta = (b - a)[both & ~np.isclose(a, b, rtol=1e-9, atol=0)]
            assert moved[name].min_change == pytest.approx(delta.min())
            assert moved[name].max_change == pytest.approx(delta.max())
    if old in GWP:
        assert "scope2" not in moved and "grid_ef" not in moved
        assert moved["gwp_cf4"].min_change == pytest.approx(GWP[new]["CF4"] - GWP[old]["CF4"])
    else:
        assert "scope1" not in moved and "gwp_ch4" not in moved
        assert moved["grid_ef"].min_change == pytest.approx(GRID[new] - GRID[old])


def test_cli_diff_with_data():
    old, new = GRID_FILES["2021"], GRID_FILES["2022"]
    res = CliRunner().invoke(main, ["diff", str(old), str(new), "--data", str(DATA), "--child", f"fuel={FUELS}"])
    assert res.exit_code == 0, res.output
    assert "gb.ghg_inventory_grid@2021 → gb.ghg_inventory_grid@2022" in res.output
    assert "factor 0.5568 t CO2/MWh → data_year" in res.output and "factor 0.5366 t CO2/MWh" in res.output
    assert "ets.emissions           2 changed: pass → fail 2" in res.output
    assert "N06: ets.emissions pass → fail" in res.output and "N12: ets.emissions pass → fail" in res.output
