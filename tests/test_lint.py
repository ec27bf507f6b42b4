"""Static checks (`normrules check` lint warnings W402–W406)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import normrules
from normrules.cli import main
from normrules.examples import load_with_examples, ruleset_files
from normrules.lint import Interval, complement, intersect, lint, subset, union

ROOT = Path(__file__).resolve().parents[1]
PARK = ROOT / "rulesets/gb/zero_carbon_park.nr"

HEAD = """\
ruleset demo.lint {
  title "lint" en "Lint"
  document "demo"
  version "1"
  status draft
}

entity plant "工厂"

input plant.score  : number  in [0, 100]
input plant.energy : tce/yr  in [0, inf)
input plant.ok     : boolean
"""

RULES = """
rule core.score "分值" require score >= 60
rule core.ok "合格" require ok and energy >= 0 tce/yr
"""


def warnings(body: str, rules: str = RULES, result_reads_rules: bool = True):
    text = HEAD + rules + body
    if result_reads_rules and "all(core.*)" not in text:
        text += '\nresult plant.all_ok "全部" {\n  "yes" when all(core.*)\n  "no" otherwise\n}\n'
    rs = normrules.loads(text, "lint.nr")
    return lint(rs)


def codes(diags):
    return [d.code for d in diags]


def line_of(body: str, needle: str) -> int:
    text = HEAD + RULES + body
    return text[: text.index(needle)].count("\n") + 1


# ----------------------------------------------------------------- intervals


def test_interval_algebra():
    a = (Interval(0, True, 10, False),)
    b = (Interval(10, True, 20, True),)
    assert union(a, b) == (Interval(0, True, 20, True),)
    assert intersect(a, b) == ()
    assert intersect((Interval(0, True, 10, True),), b) == (Interval(10, True, 10, True),)
    assert complement(a) == (Interval(-float("inf"), False, 0, False), Interval(10, True, float("inf"), False))
    assert subset(a, union(a, b)) and not subset(union(a, b), a)


# ----------------------------------------------------------------- the shipped rulesets


def test_park_ruleset_has_no_lint_warnings():
    assert lint(load_with_examples(PARK)) == []


@pytest.mark.parametrize("path", ruleset_files([ROOT / "rulesets"]), ids=lambda p: p.name)
def test_shipped_rulesets_have_no_band_or_reachability_warnings(path):
    # W402–W404 are mistakes in limits; W405/W406 (unused rules and inputs) may be deliberate in
    # a ruleset that reports several independent verdicts, and are judged case by case.
    rs = load_with_examples(path)
    bad = [f"{d.span}: {d.code} {d.message}" for d in lint(rs) if d.code in ("W402", "W403", "W404")]
    assert bad == []


# ----------------------------------------------------------------- W402 gaps


def test_gap_between_two_sided_bands_in_a_result():
    body = """
result plant.grade "等级" {
  "A" when score > 90 and score <= 100
  "B" when score > 80 and score <= 85
  "C" when score > 70 and score <= 80
  "D" otherwise
}
"""
    (d,) = warnings(body)
    assert d.code == "W402" and d.severity == "warning"
    assert "(85, 90]" in d.message and 'falls to otherwise "D"' in d.message
    assert d.span.line == line_of(body, '"A" when')    # the band just above the gap
    assert len(d.notes) == 3


def test_a_single_boundary_value_in_no_band():
    body = """
let plant.limit : number = if energy < 20万tce/yr then 1 else if energy > 20万tce/yr then 2 else 3
rule core.limit "限值" require limit >= 1
"""
    (d,) = warnings(body)
    assert d.code == "W402"
    assert "the value 200_000 tce/yr exactly" in d.message and "falls to `else`" in d.message
    assert "energy >= 200_000 tce/yr" in d.help


def test_gap_without_otherwise_leaves_the_result_unknown():
    body = """
result plant.grade "等级" {
  "low"  when score < 50
  "high" when score >= 60
}
"""
    (d,) = warnings(body)
    assert d.code == "W402" and "[50, 60) matches no branch: the result is unknown there" in d.message
    assert "otherwise" in d.help


def test_edges_of_the_declared_range_are_not_gaps():
    body = """
result plant.grade "等级" {
  "low"  when score < 50
  "high" when score >= 50
}
"""
    assert warnings(body) == []


def test_a_fallback_covering_one_range_is_a_band_not_a_gap():
    body = """
let plant.band : number = case when score < 10 then 1 when score > 20 then 3 else 2 end
let plant.stars : number = if score >= 90 then 3 else if score >= 80 then 2 else if score >= 70 then 1 else 0
rule core.band "档" require band >= 1 and stars >= 0
"""
    assert warnings(body) == []


def test_gaps_only_in_chains_of_bands_on_one_name():
    body = """
result plant.grade "等级" {
  "out"  when energy < 1万tce/yr
  "met"  when all(core.*)
  "big"  when energy > 100万tce/yr
  "no"   otherwise
}
"""
    assert warnings(body) == []


def test_gap_in_a_case():
    body = """
let plant.w : number = case when score >= 0 and score < 50 then 1 when score > 50 and score <= 100 then 2 else 0 end
rule core.w "权重" require w >= 1
"""
    (d,) = warnings(body)
    assert d.code == "W402" and "the value 50 exactly" in d.message


# ----------------------------------------------------------------- W403 overlaps


def test_overlapping_bands():
    body = """
result plant.grade "等级" {
  "C" when score >= 70 and score <= 80
  "B" when score >= 80 and score <= 90
  "A" when score > 90
  "D" otherwise
}
"""
    (d,) = warnings(body)
    assert d.code == "W403" and 'branch "B"' in d.message and "`score` = 80" in d.message
    assert d.span.line == line_of(body, '"B" when')
    assert d.notes[0].span.line == line_of(body, '"C" when')


def test_descending_thresholds_are_not_overlaps():
    body = """
result plant.grade "等级" {
  "A" when score >= 90
  "B" when score >= 80
  "C" when score >= 70
  "D" otherwise
}
"""
    assert warnings(body) == []


# ----------------------------------------------------------------- W404 unreachable


def test_branch_implied_by_an_earlier_band():
    body = """
result plant.grade "等级" {
  "pass" when score >= 60
  "good" when score >= 80
  "fail" otherwise
}
"""
    (d,) = warnings(body)
    assert d.code == "W404" and 'branch "good"' in d.message and "can never be reached" in d.message
    assert d.notes and d.notes[0].span.line == line_of(body, '"pass" when')


def test_branch_inside_the_union_of_earlier_bands():
    body = """
result plant.grade "等级" {
  "low"  when score < 50
  "high" when score >= 50
  "mid"  when score >= 40 and score < 60
}
"""
    (d,) = warnings(body)
    assert d.code == "W404" and 'branch "mid"' in d.message and "inside the bands of earlier branches" in d.message


def test_branch_implied_by_an_earlier_condition_conjunct_by_conjunct():
    body = """
result plant.grade "等级" {
  "a" when core.ok and score > 10
  "b" when score > 20 and core.ok and energy > 0 tce/yr
  "c" when core.ok
  "d" otherwise
}
"""
    (d,) = warnings(body)
    assert d.code == "W404" and 'branch "b"' in d.message


def test_later_branch_with_a_weaker_condition_is_reachable():
    body = """
result plant.grade "等级" {
  "a" when core.ok and score > 90
  "b" when core.ok
  "c" otherwise
}
"""
    assert warnings(body) == []


def test_condition_that_can_never_be_true():
    body = """
result plant.grade "等级" {
  "a" when score < 10 and score > 20
  "b" when score > 100
  "c" otherwise
}
"""
    ds = warnings(body)
    assert codes(ds) == ["W404", "W404"]
    assert "can never be true" in ds[0].message
    assert "declared in [0, 100]" in ds[1].message


def test_after_otherwise_is_left_to_w401():
    body = """
result plant.grade "等级" {
  "a" when score > 10
  "b" otherwise
  "c" when score > 5
}
"""
    rs = normrules.loads(HEAD + RULES + body + '\nresult plant.x "x" {\n "y" when all(core.*)\n}\n', "l.nr")
    assert codes(rs.warnings) == ["W401"]
    assert lint(rs) == []


# ----------------------------------------------------------------- W405, W406


def test_rule_used_by_no_result():
    body = """
rule guide.extra "附加" require score >= 90
result plant.grade "等级" {
  "met" when all(core.*)
  "not met" otherwise
}
"""
    (d,) = warnings(body)
    assert d.code == "W405" and d.message == "rule `guide.extra` is used by no result"
    assert d.span.line == line_of(body, "rule guide.extra") and d.span.col == 6


def test_rule_used_through_a_value_counts_as_used():
    body = """
rule guide.extra "附加" require score >= 90
let plant.extra_ok : boolean = guide.extra
result plant.grade "等级" {
  "met" when all(core.*) and extra_ok
  "not met" otherwise
}
"""
    assert warnings(body) == []


def test_no_results_means_rules_are_the_outputs():
    assert warnings("", result_reads_rules=False) == []


def test_input_read_by_nothing():
    (d,) = warnings("", rules='\ninput plant.unused : percent in [0, 100]\n' + RULES)
    assert d.code == "W406" and d.message == "input `unused` is read by no value, rule or result"


# ----------------------------------------------------------------- the CLI


def _file(tmp_path, body):
    f = tmp_path / "lint.nr"
    f.write_text(HEAD + RULES + body, "utf-8")
    return f


def test_check_prints_lint_warnings_and_strict_fails(tmp_path):
    f = _file(tmp_path, """
result plant.grade "等级" {
  "met" when all(core.*) and score > 90
  "also" when all(core.*) and score > 95
  "not met" otherwise
}
""")
    r = CliRunner().invoke(main, ["check", str(f)])
    assert r.exit_code == 0, r.output
    assert "lint.nr:19:3: warning[W404]" in r.output and "0 errors, 1 warning" in r.output
    r = CliRunner().invoke(main, ["check", "--strict", str(f)])
    assert r.exit_code == 1
    r = CliRunner().invoke(main, ["check", "--format", "json", str(f)])
    assert '"code": "W404"' in r.output and '"severity": "warning"' in r.output


def test_check_lints_only_what_compiles(tmp_path):
    f = _file(tmp_path, "\nrule core.bad require nope > 1\n")
    r = CliRunner().invoke(main, ["check", str(f)])
    assert r.exit_code == 1 and "W40" not in r.output


def test_check_on_shipped_rulesets_is_clean_even_when_strict():
    r = CliRunner().invoke(main, ["check", "--strict", str(PARK)])
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output
