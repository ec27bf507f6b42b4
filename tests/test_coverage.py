"""Example coverage (`normrules test --coverage`) and examples files beside a ruleset."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import normrules
from normrules import types as T
from normrules.cli import main
from normrules.coverage import coverage, format_percent, render
from normrules.errors import CheckFailed
from normrules.examples import (example_verdicts, examples_file_for, load_with_examples, ruleset_file_for,
                                ruleset_files, run_examples)

ROOT = Path(__file__).resolve().parents[1]
PARK = ROOT / "rulesets/gb/zero_carbon_park.nr"

SMALL = """\
ruleset demo.cov {
  title "覆盖率" en "Coverage"
  document "demo"
  version "1"
  status draft
}

entity plant "工厂"

input plant.energy : tce/yr in [0, inf)
input plant.share  : percent in [0, 100]

rule core.share "占比" clause "4.1"
  applies when energy >= 1万tce/yr
  require share >= 90 percent

rule core.energy "能耗" clause "4.2"
  require energy <= 100万tce/yr

rule core.none "暂不作要求" clause "4.3"
  applies when false
  require share >= 0 percent

result plant.ok "结论" {
  "met"     when all(core.*)
  "not met" otherwise
}
"""

EX_PASS = """
example "a large plant within both limits" {
  given energy = 2万tce/yr, share = 95 percent
  expect core.share = pass, core.energy = pass, ok = "met"
}
"""

EX_REST = """\
# the remaining outcome slots
example "a small plant is out of the share rule's scope" {
  given energy = 5_000 tce/yr, share = 10 percent
  expect core.share = not_applicable
}

example "both limits missed" {
  given energy = 200万tce/yr, share = 89 percent
  expect core.share = fail, core.energy = fail, ok = "not met"
}
"""


def _write(tmp_path: Path, examples: str | None = None, body: str = SMALL + EX_PASS) -> Path:
    f = tmp_path / "cov.nr"
    f.write_text(body, "utf-8")
    if examples is not None:
        (tmp_path / "cov.examples.nr").write_text(examples, "utf-8")
    return f


# ----------------------------------------------------------------- coverage


def test_example_verdicts_give_every_rule_a_verdict(tmp_path):
    rs = normrules.load(_write(tmp_path))
    ((ex, verdicts),) = example_verdicts(rs)
    assert ex.name == "a large plant within both limits"
    assert verdicts == {"core.share": T.PASS, "core.energy": T.PASS, "core.none": T.NOT_APPLICABLE}


def test_slots_per_rule_and_the_percentage(tmp_path):
    cov = coverage(normrules.load(_write(tmp_path)))
    by_rule = {r.rule: r for r in cov.rules}
    share, energy, none = by_rule["core.share"], by_rule["core.energy"], by_rule["core.none"]
    assert [(s.name, s.required, s.covered) for s in share.slots] == [
        ("pass", True, True), ("fail", True, False), ("not_applicable", True, False)]
    # no `applies when`: not_applicable is not a slot
    assert [(s.name, s.required) for s in energy.slots] == [("pass", True), ("fail", True), ("not_applicable", False)]
    # `applies when false`: only not_applicable can happen
    assert [(s.name, s.required) for s in none.slots] == [("pass", False), ("fail", False), ("not_applicable", True)]
    assert none.slots[0].impossible == "its `applies when` is never true"
    assert (cov.covered, cov.required) == (3, 6)
    assert cov.missing() == [("core.share", "fail"), ("core.share", "not_applicable"), ("core.energy", "fail")]
    assert format_percent(cov.percent) == "50 %"


def test_render_groups_by_clause_and_names_what_is_missing(tmp_path):
    text = render(coverage(normrules.load(_write(tmp_path))))
    assert "clause  rule         pass     fail      n/a  covered" in text
    assert "4.1     core.share      1  MISSING  MISSING      1/3" in text
    assert "4.2     core.energy     1  MISSING        -      1/2" in text
    assert "4.3     core.none       -        -        1      1/1" in text
    assert "missing: no example makes `core.share` fail" in text
    assert "not required: `core.none` pass or fail — its `applies when` is never true" in text
    assert 'result ok: "met" 1, "not met" 0' in text
    assert "coverage: 3/6 outcome slots = 50 %" in text


def test_rules_sharing_a_clause_are_grouped(tmp_path):
    body = (SMALL + EX_PASS).replace('clause "4.2"', 'clause "4.1"')
    text = render(coverage(normrules.load(_write(tmp_path, body=body))))
    rows = [l for l in text.splitlines() if "core." in l and "missing" not in l and "not required" not in l]
    assert rows[0].lstrip().startswith("4.1") and rows[1].lstrip().startswith("core.energy")


def test_a_shortfall_is_never_shown_as_100():
    assert format_percent(99.99) == "99.9 %"
    assert format_percent(100.0) == "100 %"
    assert format_percent(100 * 2 / 3) == "66.6 %"


def test_counted_by_evaluation_even_when_not_expected(tmp_path):
    # the example expects nothing about core.energy, yet it makes it pass
    body = SMALL + """
example "only the share is asserted" {
  given energy = 2万tce/yr, share = 95 percent
  expect core.share = pass
}
"""
    cov = coverage(normrules.load(_write(tmp_path, body=body)))
    energy = next(r for r in cov.rules if r.rule == "core.energy")
    assert energy.slots[0].examples == ("only the share is asserted",)


def test_park_ruleset_is_fully_covered():
    cov = coverage(load_with_examples(PARK))
    assert cov.missing() == []
    assert cov.percent == 100.0 and cov.required == 15


def test_every_shipped_ruleset_is_fully_covered():
    for f in ruleset_files([ROOT / "rulesets"]):
        cov = coverage(load_with_examples(f))
        assert cov.missing() == [], f"{f}: {cov.missing()}"


# ----------------------------------------------------------------- examples files


def test_examples_file_names():
    assert examples_file_for("a/park.nr") == Path("a/park.examples.nr")
    assert ruleset_file_for("a/park.examples.nr") == Path("a/park.nr")
    assert ruleset_file_for("a/park.nr") == Path("a/park.nr")


def test_examples_file_is_appended_and_keeps_its_own_positions(tmp_path):
    f = _write(tmp_path, EX_REST)
    rs = load_with_examples(f)
    outcomes = run_examples(rs)
    assert [o.passed for o in outcomes] == [True, True, True]
    assert (outcomes[0].file, outcomes[0].line) == (str(f), SMALL.count("\n") + 2)
    ex_file = str(tmp_path / "cov.examples.nr")
    assert (outcomes[1].file, outcomes[1].line) == (ex_file, 2)
    assert (outcomes[2].file, outcomes[2].line) == (ex_file, 7)
    assert coverage(rs).percent == 100.0


def test_a_ruleset_without_final_newline_still_joins_cleanly(tmp_path):
    f = _write(tmp_path, EX_REST, body=(SMALL + EX_PASS).rstrip("\n"))
    assert all(o.passed for o in run_examples(load_with_examples(f)))


def test_errors_in_the_examples_file_point_into_it(tmp_path):
    bad = EX_REST.replace("share = 89 percent", "share = 89")
    f = _write(tmp_path, bad)
    with pytest.raises(CheckFailed) as exc:
        load_with_examples(f)
    (d,) = exc.value.errors
    assert d.code == "E309" and d.span.file == str(tmp_path / "cov.examples.nr") and d.span.line == 8
    assert "cov.examples.nr:8:" in str(exc.value)
    assert "given energy = 200万tce/yr, share = 89" in str(exc.value)   # the source line is shown


def test_syntax_errors_in_the_examples_file_point_into_it(tmp_path):
    f = _write(tmp_path, 'example "x" {\n  given energy = = 1\n  expect ok = "met"\n}\n')
    with pytest.raises(CheckFailed) as exc:
        load_with_examples(f)
    assert exc.value.errors[0].span.file == str(tmp_path / "cov.examples.nr")
    assert exc.value.errors[0].span.line == 2


def test_an_examples_file_holds_only_examples(tmp_path):
    f = _write(tmp_path, EX_REST + "\ninput plant.extra : number\n")
    with pytest.raises(CheckFailed) as exc:
        load_with_examples(f)
    (d,) = exc.value.errors
    assert d.code == "E520" and d.span.file.endswith("cov.examples.nr")


def test_ruleset_files_skip_examples_files(tmp_path):
    f = _write(tmp_path, EX_REST)
    assert ruleset_files([tmp_path]) == [f]
    assert ruleset_files([tmp_path / "cov.examples.nr"]) == [f]


# ----------------------------------------------------------------- the CLI


def test_cli_coverage_table_and_min(tmp_path):
    f = _write(tmp_path)
    r = CliRunner().invoke(main, ["test", str(f), "--coverage"])
    assert r.exit_code == 0, r.output
    assert "coverage: 3/6 outcome slots = 50 %" in r.output
    assert "coverage: 3/6 outcome slots = 50 % over 1 ruleset" in r.output
    r = CliRunner().invoke(main, ["test", str(f), "--min", "100"])
    assert r.exit_code == 1 and "1 below --min 100 %" in r.output and "core.share" in r.output
    assert CliRunner().invoke(main, ["test", str(f), "--min", "50"]).exit_code == 0
    r = CliRunner().invoke(main, ["test", str(f)])
    assert r.exit_code == 0 and "outcome slots" not in r.output


def test_cli_picks_up_the_examples_file(tmp_path):
    f = _write(tmp_path, EX_REST)
    r = CliRunner().invoke(main, ["test", str(tmp_path), "--min", "100"])
    assert r.exit_code == 0, r.output
    assert "3 passed, 0 failed" in r.output and "= 100 %" in r.output
    assert r.output.count("passed, 0 failed   (") == 1     # the examples file is not a ruleset of its own
    r = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert r.exit_code == 0, r.output
    (tmp_path / "cov.examples.nr").write_text(EX_REST.replace('ok = "not met"', 'ok = "nope"'), "utf-8")
    r = CliRunner().invoke(main, ["check", str(f)])
    assert r.exit_code == 1 and "cov.examples.nr:9:" in r.output
    r = CliRunner().invoke(main, ["test", str(f)])
    assert r.exit_code == 1


def test_cli_failing_example_in_the_examples_file_names_it(tmp_path):
    _write(tmp_path, EX_REST.replace("core.energy = fail", "core.energy = pass"))
    r = CliRunner().invoke(main, ["test", str(tmp_path)])
    assert r.exit_code == 1
    assert f"FAIL {tmp_path / 'cov.examples.nr'}:7 example \"both limits missed\"" in r.output


def test_cli_park_reaches_full_coverage():
    r = CliRunner().invoke(main, ["test", str(PARK), "--coverage", "--min", "100"])
    assert r.exit_code == 0, r.output
    assert "coverage: 15/15 outcome slots = 100 %" in r.output


CHILDREN = """\
ruleset demo.children {
  title "子实体" en "Children"
  document "demo"
  version "1"
  status draft
}

entity module "组件" key module_id
entity line "物料清单行" of module key line_id

input module.limit : kg in [0, inf)
input line.mass : kg in [0, inf)

let module.total : kg = sum(mass)

rule line.under_limit "每行不超过限值" clause "5.1"
  require mass <= limit

rule core.total "总质量" clause "5.2"
  require total <= limit

example "one heavy line among light ones" {
  given limit = 20 kg
  child line { mass = 12 kg }
  child line { mass = 25 kg }
  expect total = 37 kg, core.total = fail
}
"""


def test_a_rule_on_a_child_entity_is_covered_by_any_row(tmp_path):
    f = tmp_path / "children.nr"
    f.write_text(CHILDREN, "utf-8")
    cov = coverage(load_with_examples(f))
    line = next(r for r in cov.rules if r.rule == "line.under_limit")
    assert [(s.name, s.covered) for s in line.slots if s.required] == [("pass", True), ("fail", True)]
    total = next(r for r in cov.rules if r.rule == "core.total")
    assert total.missing == ("pass",)
