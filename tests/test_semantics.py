"""Semantics of the executor on small inline rulesets: limits, rounding, verdict logic, plans."""

import numpy as np
import pytest

import normrules
from normrules.errors import CheckFailed

HEAD = 'ruleset t.s { title "t" document "d" version "1" status draft }\nentity e\n'


def rs(body: str):
    return normrules.loads(HEAD + body, "t.nr")


def test_unit_conversion_never_flips_a_limit():
    r = rs("input e.x : kg CO2/tce\nrule a.le require x <= 0.3 t CO2/tce\nrule a.lt require x < 0.3 t CO2/tce\n"
           "rule a.ge require x >= 0.3 t CO2/tce\nrule a.eq require x == 0.3 t CO2/tce\n")
    ev = r.evaluate({"x": np.array([300.0, 300.0000001, 299.9999])})
    assert ev.verdicts("a.le") == ["pass", "pass", "pass"]       # 1e-9 relative: float noise only
    assert ev.verdicts("a.lt") == ["fail", "fail", "pass"]
    assert ev.verdicts("a.ge") == ["pass", "pass", "fail"]
    assert ev.verdicts("a.eq") == ["pass", "pass", "fail"]


def test_gbt8170_rounded_value_judgement_rounds_half_to_even():
    r = rs("input e.x : t CO2/tce\nrule a.full require x <= 0.2 t CO2/tce\n"
           "rule a.rounded require x <= 0.2 t CO2/tce judge rounded\n"
           "rule a.explicit require x <= 0.2 t CO2/tce judge rounded to 0.01 t CO2/tce\n")
    ev = r.evaluate({"x": np.array([0.24, 0.25, 0.26, 0.35, 0.204, 0.205, 0.206])})
    assert ev.verdicts("a.full") == ["fail"] * 7
    # one decimal (the limit's stated precision): 0.24→0.2, 0.25→0.2 (half to even), 0.26→0.3, 0.35→0.4
    assert ev.verdicts("a.rounded") == ["pass", "pass", "fail", "fail", "pass", "pass", "pass"]
    # two decimals: 0.204→0.20, 0.205→0.20 (even), 0.206→0.21
    assert ev.verdicts("a.explicit") == ["fail", "fail", "fail", "fail", "pass", "pass", "fail"]


def test_kleene_logic_and_four_verdicts():
    r = rs("input e.a : boolean\ninput e.b : boolean\nrule r.and require a and b\nrule r.or require a or b\n"
           "rule r.not require not a\n")
    nan = None
    a = np.array([False, True, nan, nan, True, False], dtype=object)
    b = np.array([nan, nan, False, True, True, False], dtype=object)
    ev = r.evaluate({"a": a, "b": b})
    assert ev.verdicts("r.and") == ["fail", "unknown", "fail", "unknown", "pass", "fail"]
    assert ev.verdicts("r.or") == ["unknown", "pass", "unknown", "pass", "pass", "fail"]
    assert ev.verdicts("r.not") == ["pass", "fail", "unknown", "unknown", "fail", "pass"]


def test_all_of_rules_none_applicable_is_not_applicable_and_result_semantics():
    r = rs("input e.x : number\ninput e.on : boolean\n"
           "rule g.a applies when on require x > 1\nrule g.b applies when on require x > 2\n"
           'result e.out { "ok" when all(g.*) \n "no" when g.a is fail \n "rest" otherwise }\n')
    ev = r.evaluate({"x": np.array([3.0, 1.5, 0.0, np.nan, 5.0]),
                     "on": np.array([True, True, True, True, False])})
    assert ev.verdicts("g.a") == ["pass", "pass", "fail", "unknown", "not_applicable"]
    # not_applicable counts as false in a branch; unknown blocks later branches
    assert ev.labels("out") == ["ok", "rest", "no", None, "rest"]


def test_division_by_zero_is_unknown_and_counted_only_where_evaluated():
    r = rs("input e.a : t CO2/yr\ninput e.b : tce/yr\ninput e.use : boolean\n"
           "let e.i : t CO2/tce = a / b\n"
           "let e.j : t CO2/tce = if use then a / b else 0 t CO2/tce\n")
    ev = r.evaluate({"a": np.array([1.0, 1.0, 1.0]), "b": np.array([0.0, 2.0, 0.0]),
                     "use": np.array([True, True, False])})
    assert list(ev.columns["i"].known) == [False, True, False]
    assert list(ev.columns["j"].known) == [False, True, True]
    assert ev.counters.total_division_by_zero == 3   # two in `i`, one in `j` (row 3 takes `else`)


def test_plan_only_computes_what_outputs_need():
    r = rs("input e.x : number\ninput e.y : number\nlet e.a = x * 2\nlet e.b = y * 2\nrule r.a require a > 1\n")
    plan = r.plan_for(["r.a"])
    assert plan.steps == (("input", "x"), ("value", "a"), ("rule", "r.a"))
    ev = r.evaluate({"x": np.array([1.0])}, outputs=["r.a"])
    assert ev.verdicts("r.a") == ["pass"]


def test_text_categories_and_dates():
    r = rs('input e.region : text {"urban", "rural"}\ninput e.when : date\ninput e.m : date(month)\n'
           'rule r.u applies when region == "urban" require when >= 2025-07-08\n'
           'rule r.m require m >= 2025-07 and region in {"urban", "rural"}\n')
    ev = r.evaluate({"region": ["urban", "rural", None, "urban"],
                     "when": ["2025-07-08", "2025-01-01", "2026-01-01", "2025-07-07"],
                     "m": ["2025-07", "2025-06", "2025-08", "2025-07-31"]})
    assert ev.verdicts("r.u") == ["pass", "not_applicable", "unknown", "fail"]
    assert ev.verdicts("r.m") == ["pass", "fail", "unknown", "pass"]


def test_cycle_names_every_member():
    with pytest.raises(CheckFailed) as exc:
        rs("input e.x : number\nlet e.a = b + x\nlet e.b = c + 1\nlet e.c = a * 2\n")
    (d,) = exc.value.errors
    assert d.code == "E401"
    assert {n.message.split("`")[1] for n in d.notes} == {"a", "b", "c"}
    assert all(f"t.nr:{line}:5: `" in str(exc.value) for line in (4, 5, 6))


def test_emissions_are_not_product_mass_and_co2_is_not_co2e():
    with pytest.raises(CheckFailed) as exc:
        rs("input e.m : t\ninput e.c : t CO2\ninput e.q : t CO2e\nrule r.a require m <= c\nrule r.b require c <= q\n")
    messages = [d.message for d in exc.value.errors]
    assert messages == ["cannot compare t with t CO2", "cannot compare t CO2 with t CO2e"]
    r = rs("input e.c : t CO2\nlet e.ce : t CO2e = c * 1 CO2e/CO2\nrule r.a require ce <= 1 t CO2e\n")
    assert r.evaluate({"c": np.array([0.5])}).verdicts("r.a") == ["pass"]


def test_check_reports_semantic_errors_beside_syntax_errors_but_not_their_cascades():
    text = """ruleset t.recover {
  title "t"
  document "x"
  version "1"
  status final
}
entity park
input energy : tce/yr
import cn.grid_factor as grid
rule core.broken require energy >= >= 1 tce/yr
rule core.unit require energy >= 1 kg
let typo = enrgy * 2
result park.r {
  "ok"  when all(core.*)
  "no"  otherwise
}
example "reads the broken rule" {
  given energy = 1 tce/yr
  expect core.broken = pass
}
"""
    with pytest.raises(CheckFailed) as info:
        normrules.loads(text, "t.nr")
    found = [(d.code, d.span.line) for d in info.value.diagnostics]
    assert ("E101", 10) in found                 # the syntax error
    assert ("E311", 11) in found                 # a unit error elsewhere is still reported
    assert any(code == "E208" and line == 12 for code, line in found)   # and an unknown name elsewhere
    assert not any(line >= 17 for _, line in found), "the example's `core.broken` only follows from the syntax error"
    # a broken import: names under its alias are cascades, other errors are not
    text2 = text.replace("import cn.grid_factor as grid", "import as grid").replace(
        "let typo = enrgy * 2", "let g = grid.factor * 2")
    with pytest.raises(CheckFailed) as info:
        normrules.loads(text2, "t.nr")
    found = [(d.code, d.span.line) for d in info.value.diagnostics]
    assert ("E101", 9) in found and ("E311", 11) in found
    assert not any(line == 12 for _, line in found)
