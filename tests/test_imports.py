"""Imports between rulesets, resolved from ruleset roots made for each test (``tmp_path``).

* ``import x.base as b`` (no version) takes the *final* revision whose effective date is the latest
  on or before ``as_of``: a later revision once it is in force, the older one for a past date, never
  a draft; none in force is E214;
* ``import x.base@"2023" as b`` takes that revision, whatever ``as_of`` (an unknown version: E214);
* an unknown ruleset id is E214 at the import's position; an import cycle is E215;
* ``override b.limit = …`` replaces the imported param (the original is kept in ``.overridden``;
  ``normrules explain`` shows both); loosening an imported limit warns (W410, also from
  ``normrules check``), tightening does not;
* a table file outside the ruleset's directory (``rows from "../x.csv"``) is E335.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from click.testing import CliRunner

import normrules
from normrules.cli import main
from normrules.errors import CheckFailed


def base(version: str, effective: str, status: str = "final", limit: str = "100 t CO2/yr") -> str:
    return f"""ruleset x.base {{
  title "Base" document "d" version "{version}" published {effective} effective {effective} status {status}
}}

entity plant "Plant" key id

input plant.co2 : t CO2/yr
input plant.share : percent

param limit : t CO2/yr "排放上限" = {limit}
param floor : percent "清洁能源比例下限" = 50 percent

rule cap
  require co2 <= limit

rule clean
  require share >= floor
"""


USER = """ruleset y.user {{
  title "User" document "d" version "1" status draft
}}

import x.base{version} as b
{overrides}
rule both
  require b.cap and b.clean
"""


def user(version: str = "", overrides: str = "") -> str:
    return USER.format(version=f'@"{version}"' if version else "", overrides=overrides)


@pytest.fixture
def roots(tmp_path):
    """A ruleset root with three revisions of x.base (2023 and 2025 final, a 2024 draft in force
    from 2024-06-01 if it were final), and a folder for the importing rulesets."""
    root = tmp_path / "root"
    (root / "x").mkdir(parents=True)
    (root / "x" / "base_2023.nr").write_text(base("2023", "2023-01-01", limit="100 t CO2/yr"), "utf-8")
    (root / "x" / "base_2024_draft.nr").write_text(base("2024", "2024-06-01", "draft", limit="90 t CO2/yr"), "utf-8")
    (root / "x" / "base_2025.nr").write_text(base("2025", "2025-01-01", limit="80 t CO2/yr"), "utf-8")
    work = tmp_path / "work"
    work.mkdir()
    return root, work


def load_user(roots, text: str, as_of="2025-06-01", name: str = "user.nr"):
    root, work = roots
    path = work / name
    path.write_text(text, "utf-8")
    return normrules.load(path, roots=[root], as_of=as_of)


def imported(rs):
    (alias, sub), = rs.checked.imports
    assert alias == "b"
    return sub


def diagnostics(exc_info) -> list:
    return list(exc_info.value.diagnostics)


# ------------------------------------------------------------------ which revision


def test_import_without_version_takes_the_final_revision_in_force(roots):
    assert imported(load_user(roots, user(), as_of="2025-06-01")).ref == "x.base@2025"
    assert imported(load_user(roots, user(), as_of=dt.date(2025, 1, 1))).ref == "x.base@2025"   # in force that day


def test_a_past_date_takes_the_older_revision_and_a_draft_is_never_taken(roots):
    # on 2024-07-01 the 2024 draft would be the latest "in force" if drafts counted
    assert imported(load_user(roots, user(), as_of="2024-07-01")).ref == "x.base@2023"
    assert imported(load_user(roots, user(), as_of="2024-12-31")).ref == "x.base@2023"


def test_no_final_revision_in_force_is_E214(roots):
    with pytest.raises(CheckFailed) as info:
        load_user(roots, user(), as_of="2022-12-31")
    (d,) = [d for d in diagnostics(info) if d.code == "E214"]    # (names of `b` are then unknown too)
    assert d.code == "E214"
    assert "no final revision of `x.base` is in force on 2022-12-31" in d.message
    assert "2024 draft" in d.message


def test_the_revision_decides_the_values(roots):
    table = {"id": ["P1"], "co2": [85.0], "share": [60.0]}
    assert load_user(roots, user(), as_of="2025-06-01").evaluate(table).verdicts("both") == ["fail"]   # limit 80
    assert load_user(roots, user(), as_of="2024-01-01").evaluate(table).verdicts("both") == ["pass"]   # limit 100


def test_explicit_version(roots):
    assert imported(load_user(roots, user("2023"), as_of="2025-06-01")).ref == "x.base@2023"
    assert imported(load_user(roots, user("2025"), as_of="2025-06-01")).ref == "x.base@2025"
    assert imported(load_user(roots, user("2024"), as_of="2023-06-01")).ref == "x.base@2024"   # named: even a draft


def test_unknown_version_is_E214(roots):
    with pytest.raises(CheckFailed) as info:
        load_user(roots, user("2030"))
    (d,) = [d for d in diagnostics(info) if d.code == "E214"]
    assert d.code == "E214" and '`x.base` has no version "2030"' in d.message
    assert "2023, 2024, 2025" in d.message


# ------------------------------------------------------------------ unknown ids and cycles


def test_unknown_ruleset_id_is_E214_with_its_position(roots):
    text = user().replace("import x.base", "import x.bsae")
    with pytest.raises(CheckFailed) as info:
        load_user(roots, text)
    d = next(d for d in diagnostics(info) if d.code == "E214")
    assert "no ruleset `x.bsae`" in d.message and "x.base" in d.message       # did you mean
    lines = text.splitlines()
    line = next(i for i, l in enumerate(lines, start=1) if l.startswith("import "))
    assert (d.span.line, d.span.col) == (line, lines[line - 1].index("x.bsae") + 1)
    assert d.span.file.endswith("user.nr")
    assert "user.nr:%d:%d" % (d.span.line, d.span.col) in str(info.value)


def test_import_cycle_is_E215(roots):
    root, _ = roots
    (root / "c").mkdir()
    for me, other in (("a", "b"), ("b", "a")):
        (root / "c" / f"{me}.nr").write_text(f"""ruleset c.{me} {{
  title "{me}" document "d" version "1" published 2020-01-01 effective 2020-01-01 status final
}}
import c.{other} as other
entity plant key id
input plant.x : number
rule r
  require x >= 0
""", "utf-8")
    with pytest.raises(CheckFailed) as info:
        normrules.load(root / "c" / "a.nr", roots=[root], as_of="2025-01-01")
    codes = [d.code for d in diagnostics(info)]
    assert "E215" in codes
    d = next(d for d in diagnostics(info) if d.code == "E215")
    assert "import cycle" in d.message and "c.a" in d.message and "c.b" in d.message
    assert d.span.file.endswith("a.nr") and d.span.line == 4


# ------------------------------------------------------------------ overrides


def test_override_replaces_the_param_and_keeps_the_original(roots):
    rs = load_user(roots, user(overrides="override b.limit = 90 t CO2/yr\n"), as_of="2025-06-01")
    params = {p.name: p for p in imported(rs).checked.params}
    limit = params["limit"]
    assert limit.overridden is not None
    assert limit.overridden.text == "80 t CO2/yr" and limit.expr.text == "90 t CO2/yr"
    assert params["floor"].overridden is None
    table = {"id": ["P1", "P2"], "co2": [85.0, 95.0], "share": [60.0, 60.0]}
    assert rs.evaluate(table).verdicts("both") == ["pass", "fail"]             # 90, not 80
    assert rs.evaluate(table).verdicts("b.cap") == ["pass", "fail"]


def test_explain_shows_the_override(roots, tmp_path):
    root, work = roots
    path = work / "user.nr"
    path.write_text(user(overrides="override b.limit = 90 t CO2/yr\n"), "utf-8")
    data = tmp_path / "plants.csv"
    data.write_text("id,co2 [t CO2/yr],share [percent]\nP1,85,60\n", "utf-8")
    result = CliRunner().invoke(main, ["explain", str(path), "--input", str(data), "--id", "P1",
                                       "--rulesets", str(root), "--as-of", "2025-06-01"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if "b.limit" in l)
    assert "90 t CO2/yr" in line and "overridden" in line and "80 t CO2/yr" in line


def test_loosening_an_upper_limit_warns_W410(roots):
    rs = load_user(roots, user(overrides="override b.limit = 120 t CO2/yr\n"), as_of="2025-06-01")
    (w,) = [d for d in rs.warnings if d.code == "W410"]
    assert w.severity == "warning"
    assert "loosens `x.base`'s limit `limit`: 80 t CO2/yr → 120 t CO2/yr" in w.message


def test_loosening_a_lower_limit_warns_and_tightening_does_not(roots):
    loose = load_user(roots, user(overrides="override b.floor = 40 percent\n"))
    assert [d.code for d in loose.warnings if d.code == "W410"] == ["W410"]
    tight = load_user(roots, user(overrides="override b.limit = 70 t CO2/yr\noverride b.floor = 60 percent\n"))
    assert not [d for d in tight.warnings if d.code == "W410"]


def test_check_command_reports_W410_only_for_loosening(roots):
    root, work = roots
    loose, tight = work / "loose.nr", work / "tight.nr"
    loose.write_text(user(overrides="override b.limit = 120 t CO2/yr\n"), "utf-8")
    tight.write_text(user(overrides="override b.limit = 70 t CO2/yr\n"), "utf-8")
    env = {"NORMRULES_PATH": str(root)}
    out_loose = CliRunner().invoke(main, ["check", str(loose)], env=env)
    out_tight = CliRunner().invoke(main, ["check", str(tight)], env=env)
    assert out_loose.exit_code == 0, out_loose.output                  # a warning does not fail the check
    assert "W410" in out_loose.output and "loosens" in out_loose.output
    assert out_tight.exit_code == 0, out_tight.output
    assert "W410" not in out_tight.output
    strict = CliRunner().invoke(main, ["check", "--strict", str(loose)], env=env)
    assert strict.exit_code == 1


# ------------------------------------------------------------------ table files


def test_table_rows_from_outside_the_ruleset_directory_is_E335(tmp_path):
    (tmp_path / "x.csv").write_text("k,v\na,1\n", "utf-8")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "y.csv").write_text("k,v\na,1\n", "utf-8")
    text = """ruleset t.files {{ title "t" document "d" version "1" status draft }}
entity e key id
input e.k : text {{"a", "b"}}
table f
  key k : text
  column v : number
  rows from "{file}"
let e.v = f[k].v
"""
    bad = inner / "bad.nr"
    bad.write_text(text.format(file="../x.csv"), "utf-8")
    with pytest.raises(CheckFailed) as info:
        normrules.load(bad)
    (d,) = [d for d in diagnostics(info) if d.code == "E335"]
    assert "`../x.csv` is outside the ruleset's directory" in d.message
    assert (d.span.line, d.span.col) == (7, text.splitlines()[6].index("rows") + 1)
    good = inner / "good.nr"
    good.write_text(text.format(file="y.csv"), "utf-8")
    ev = normrules.load(good).evaluate({"k": ["a", "b"]})
    assert list(np.asarray(ev.values("v"), dtype=float)[:1]) == [1.0]
