"""normrules.diff: semantic diff and impact analysis between two revisions of a ruleset.

* Inline rulesets pin each kind of change: threshold after unit normalisation, strictness,
  direction, judgement and precision, applicability, renames, documentation-only changes,
  header metadata, limits chosen by a `let`, result branches, inputs, lookup tables.
* A formatting/comment/order-only revision of the park ruleset diffs as empty.
* The impact counts equal those of evaluating both revisions separately.
* Snapshots (tests/__snapshots__/test_diff/) pin the text and JSON output of the synthetic park
  revision (tests/data/diff/park_2026_synthetic.nr — SYNTHETIC, not a real document).
* The HTML page opens in headless Chromium without script errors.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import normrules
from normrules import types as T
from normrules.api import Ruleset
from normrules.diff import Insert, Keep, Move, Remove, Update, diff
from normrules.diff.command import diff_command
from normrules.diff.semantic import _contains, flip_regions, true_set
from normrules.execute import apply_rounding, compare
from normrules.tables import read_table

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "diff"
PARK = ROOT / "rulesets" / "gb" / "zero_carbon_park.nr"
OLD = DATA / "park_2025.nr"
NEW = DATA / "park_2026_synthetic.nr"
PARKS = DATA / "parks.csv"


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


class JsonSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "json"


HEADER = """ruleset demo.diff {
  title "示例" en "Example"
  document "demo"
  version "%s"
  status draft
}

entity plant "工厂" key id

input plant.energy   : tce/yr   in [0, inf)
input plant.co2      : t CO2/yr in [0, inf)
input plant.share    : percent  in [0, 100]
input plant.province : text {"北京", "上海", "广东"}
input plant.audited  : date

let plant.intensity : t CO2/tce = co2 / energy
"""


def rs(body: str, version: str = "1") -> Ruleset:
    return normrules.loads(HEADER % version + body, f"v{version}.nr")


def pair(old: str, new: str, **kw):
    """The diff of two bodies under the same header (so the header is unchanged)."""
    return diff(normrules.loads(HEADER % "1" + old, "old.nr"), normrules.loads(HEADER % "1" + new, "new.nr"), **kw)


def only(d, kind=None):
    edits = [e for e in d.changes if e.kind != "header" and (kind is None or e.kind == kind)]
    assert len(edits) == 1, edits
    return edits[0]


def flips(edit):
    return [f.text for c in edit.changes for f in c.flips]


def rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


@pytest.fixture(scope="module")
def park_pair():
    return normrules.loads(OLD.read_text("utf-8"), rel(OLD)), normrules.loads(NEW.read_text("utf-8"), rel(NEW))


# ------------------------------------------------------------------ no change


def _reformat(text: str) -> str:
    """The park ruleset with other comments, whitespace, declaration order and equivalent
    spellings of its constants — the same meaning."""
    lines = [re.sub(r"\s*#.*$", "", line) for line in text.splitlines()]
    text = "\n".join(line for line in lines if line.strip())
    text = text.replace("100万tce/yr", "1_000_000 tce/yr").replace("20万tce/yr", "200_000 tce/yr")
    text = text.replace("0.3 t CO2/tce", "300 kg CO2/tce").replace("90 percent", "90 %")
    parts = re.split(r'("(?:[^"\\]|\\.)*")', text)          # re-space outside string literals only
    text = "".join(p if i % 2 else re.sub(r"[ \t]+", "   ", p) for i, p in enumerate(parts))
    text = text.replace("\n   require", "\n\n      # a new comment\n      require")
    header, rest = text.split("\n}", 1)
    fields = header.split("\n")
    header = "\n".join([fields[0]] + list(reversed(fields[1:])))     # header fields in another order
    decls = re.split(r"\n(?=input |let |rule |result |example |entity )", rest.strip())
    inputs = [d for d in decls if d.startswith("input ")]
    others = [d for d in decls if not d.startswith("input ")]
    return "# reformatted\n" + header + "\n}\n\n" + "\n\n".join(others + inputs) + "\n# the end\n"


def test_formatting_comments_order_and_unit_spelling_diff_as_empty():
    original = PARK.read_text("utf-8")
    reformatted = _reformat(original)
    assert reformatted != original and "300 kg CO2/tce" in reformatted and "# a new comment" in reformatted
    a, b = normrules.loads(original, "a.nr"), normrules.loads(reformatted, "b.nr")
    assert a.content_hash != b.content_hash
    d = diff(a, b)
    assert d.is_empty and not d and d.changes == ()
    assert all(isinstance(e, Keep) for e in d.edits)
    assert d.summary()["keep"] == len(d.edits)
    assert d.to_dict()["empty"] is True and d.to_dict()["edits"] == []
    assert "no semantic changes" in d.to_text()


def test_same_limit_in_other_units_is_no_change():
    d = pair('rule r.a "A" require intensity <= 0.3 t CO2/tce\n', 'rule r.a "A" require intensity <= 300 kg CO2/tce\n')
    assert d.is_empty


def test_diff_of_a_ruleset_with_itself_is_empty():
    a = normrules.load(PARK)
    assert diff(a, a).is_empty


# ------------------------------------------------------------------ comparisons


def test_threshold_change_gives_the_flip_interval_and_scope():
    d = pair('rule r.a "A" applies when energy >= 20万tce/yr require intensity <= 0.2 t CO2/tce\n',
             'rule r.a "A" applies when energy >= 20万tce/yr require intensity <= 0.3 t CO2/tce\n')
    e = only(d)
    assert isinstance(e, Update) and e.name == "r.a"
    (c,) = e.changes
    assert c.aspect == "threshold" and c.where == "require" and c.effect == "behaviour"
    assert c.before == "intensity <= 0.2 t CO2/tce" and c.after == "intensity <= 0.3 t CO2/tce"
    assert c.note == "more lenient"
    (f,) = c.flips
    assert f.text == "`intensity` in (0.2, 0.3] t CO2/tce: fail → pass, for plants with energy ≥ 200 000 tce/yr"
    assert (f.interval.low, f.interval.high, f.interval.low_closed, f.interval.high_closed) == (0.2, 0.3, False, True)
    assert f.output == "r.a" and f.unit == "t CO2/tce"
    assert e.affects == ("r.a",) and c.affects == ("r.a",)


def test_strictness_change_flips_exactly_the_limit():
    e = only(pair('rule r.a "A" require intensity <= 0.2 t CO2/tce\n', 'rule r.a "A" require intensity < 0.2 t CO2/tce\n'))
    (c,) = e.changes
    assert c.aspects == ("strictness",)
    (f,) = c.flips
    assert f.interval.is_point and f.interval.low == 0.2
    assert f.text == "`intensity` = 0.2 t CO2/tce: pass → fail"


def test_threshold_and_strictness_together():
    e = only(pair('rule r.a "A" require share >= 90 percent\n', 'rule r.a "A" require share > 85 percent\n'))
    (c,) = e.changes
    assert c.aspects == ("threshold", "strictness")
    assert flips(e) == ["`share` in (85, 90) percent: fail → pass"]


def test_direction_change():
    e = only(pair('rule r.a "A" require intensity <= 0.2 t CO2/tce\n', 'rule r.a "A" require intensity >= 0.2 t CO2/tce\n'))
    (c,) = e.changes
    assert c.aspects == ("direction",)
    assert flips(e) == ["`intensity` < 0.2 t CO2/tce: pass → fail", "`intensity` > 0.2 t CO2/tce: fail → pass"]


def test_limit_written_on_the_left_is_read_as_the_same_bound():
    d = pair('rule r.a "A" require intensity <= 0.2 t CO2/tce\n', 'rule r.a "A" require 0.2 t CO2/tce >= intensity\n')
    assert d.is_empty


def test_rounded_judgement_precision_change_is_a_change():
    # 0.3 (one decimal) → 0.30 (two): rounded to 0.1, intensity passes below 0.35; rounded to 0.01, up to 0.305
    e = only(pair('rule r.a "A" judge rounded require intensity <= 0.3 t CO2/tce\n',
                  'rule r.a "A" judge rounded require intensity <= 0.30 t CO2/tce\n'))
    (c,) = e.changes
    assert c.aspects == ("precision",)
    assert c.before.endswith("[rounded to 0.1 t CO2/tce]") and c.after.endswith("[rounded to 0.01 t CO2/tce]")
    assert flips(e) == ["`intensity` in (0.305, 0.35) t CO2/tce: pass → fail"]
    # the same limit in kg, rounded to 1 kg CO2/tce
    e = only(pair('rule r.a "A" judge rounded require intensity <= 0.3 t CO2/tce\n',
                  'rule r.a "A" judge rounded require intensity <= 300 kg CO2/tce\n'))
    assert e.changes[0].aspects == ("precision",)
    assert flips(e) == ["`intensity` in (0.3005, 0.35) t CO2/tce: pass → fail"]


def test_rounded_judgement_same_precision_other_unit_is_no_change():
    d = pair('rule r.a "A" judge rounded require share >= 90 percent\n', 'rule r.a "A" judge rounded require share >= 90 %\n')
    assert d.is_empty


def test_judgement_full_to_rounded():
    e = only(pair('rule r.a "A" require intensity <= 0.2 t CO2/tce\n',
                  'rule r.a "A" judge rounded require intensity <= 0.2 t CO2/tce\n'))
    (c,) = e.changes
    assert c.aspects == ("judgement",)
    assert c.before.endswith("[full value]") and c.after.endswith("[rounded to 0.1 t CO2/tce]")
    assert flips(e) == ["`intensity` in (0.2, 0.25] t CO2/tce: fail → pass"]


def test_judgement_against_a_let_limit_without_constants_in_the_rule():
    body = 'let plant.lim : t CO2/tce = 0.2 t CO2/tce\nrule r.a "A" %s require intensity <= lim\n'
    e = only(pair(body % "", body % "judge rounded"))
    assert [c.aspect for c in e.changes] == ["judgement"]


def test_applicability_threshold():
    e = only(pair('rule r.a "A" applies when energy >= 20万tce/yr require share >= 50 percent\n',
                  'rule r.a "A" applies when energy >= 15万tce/yr require share >= 50 percent\n'))
    (c,) = e.changes
    assert c.aspects == ("applicability", "threshold") and c.where == "applies" and c.note == "wider scope"
    assert flips(e) == ["`energy` in [150 000, 200 000) tce/yr: not_applicable → applies"]


def test_applicability_added():
    e = only(pair('rule r.a "A" require share >= 50 percent\n',
                  'rule r.a "A" applies when energy >= 15万tce/yr require share >= 50 percent\n'))
    (c,) = e.changes
    assert c.aspect == "applicability" and c.before == "(always applies)" and c.after == "energy >= 15万tce/yr"


def test_flip_inside_and_states_the_other_operand_as_scope():
    e = only(pair('rule r.a "A" require share >= 50 percent and intensity <= 0.2 t CO2/tce\n',
                  'rule r.a "A" require share >= 50 percent and intensity <= 0.25 t CO2/tce\n'))
    assert flips(e) == ["`intensity` in (0.2, 0.25] t CO2/tce: fail → pass, for plants with share ≥ 50 percent"]


def test_flip_inside_not_and_or():
    e = only(pair('rule r.a "A" require not (intensity > 0.2 t CO2/tce)\n',
                  'rule r.a "A" require not (intensity > 0.25 t CO2/tce)\n'))
    assert flips(e) == ["`intensity` in (0.2, 0.25] t CO2/tce: fail → pass"]
    e = only(pair('rule r.a "A" require share >= 90 percent or intensity <= 0.2 t CO2/tce\n',
                  'rule r.a "A" require share >= 90 percent or intensity <= 0.1 t CO2/tce\n'))
    assert flips(e) == ["`intensity` in (0.1, 0.2] t CO2/tce: pass → fail, for plants with share < 90 percent"]


def test_a_scope_that_excludes_the_changed_bound_gives_no_flip():
    # the rule only applies below 10万 tce/yr, the changed branch of the limit only at ≥ 100万
    body = ('let plant.lim : t CO2/tce = if energy >= 100万tce/yr then %s t CO2/tce else 0.2 t CO2/tce\n'
            'rule r.a "A" applies when energy < 10万tce/yr require intensity <= lim\n')
    e = only(pair(body % "0.3", body % "0.25"))
    (c,) = e.changes
    assert c.aspect == "threshold" and c.flips == ()


def test_date_threshold():
    e = only(pair('rule r.a "A" require audited >= 2025-01-01\n', 'rule r.a "A" require audited >= 2025-06-01\n'))
    assert flips(e) == ["`audited` in [2025-01-01, 2025-06-01): pass → fail"]
    assert e.changes[0].flips[0].interval.low == "2025-01-01"


def test_category_set():
    e = only(pair('rule r.a "A" require province in {"北京"}\n', 'rule r.a "A" require province in {"上海", "北京"}\n'))
    (c,) = e.changes
    assert c.aspects == ("categories",) and c.note == 'now includes "上海"'
    assert pair('rule r.a "A" require province in {"北京", "上海"}\n', 'rule r.a "A" require province in {"上海", "北京"}\n').is_empty


def test_commutative_operands_in_another_order_are_no_change():
    d = pair('rule r.a "A" require share >= 50 percent and intensity <= 0.2 t CO2/tce\n',
             'rule r.a "A" require intensity <= 0.2 t CO2/tce and share >= 50 percent\n')
    assert d.is_empty
    e = only(pair('rule r.a "A" require share >= 50 percent and intensity <= 0.2 t CO2/tce\n',
                  'rule r.a "A" require intensity <= 0.3 t CO2/tce and share >= 50 percent\n'))
    assert flips(e) == ["`intensity` in (0.2, 0.3] t CO2/tce: fail → pass, for plants with share ≥ 50 percent"]


# ------------------------------------------------------------------ derived values


PARK_LIMIT = ('let plant.lim : t CO2/tce = if energy >= 100万tce/yr then %s else 0.2 t CO2/tce\n'
              'rule r.a "A" applies when energy >= 20万tce/yr require intensity <= lim\n'
              'result plant.ok { "small" when energy < 20万tce/yr "met" when all(r.*) "not met" otherwise }\n')


def test_limit_chosen_by_if_is_followed_to_the_rules_that_use_it():
    e = only(pair(PARK_LIMIT % "0.3 t CO2/tce", PARK_LIMIT % "250 kg CO2/tce"))
    assert isinstance(e, Update) and e.kind == "value" and e.name == "lim"
    (c,) = e.changes
    assert c.aspect == "threshold" and c.where == "formula"
    assert c.before == "0.3 t CO2/tce" and c.after == "250 kg CO2/tce (= 0.25 t CO2/tce)"
    assert c.note == "when energy ≥ 1 000 000 tce/yr, stricter"
    (f,) = c.flips
    assert f.output == "r.a"
    assert f.text == "`intensity` in (0.25, 0.3] t CO2/tce: pass → fail, for plants with energy ≥ 1 000 000 tce/yr"
    assert e.affects == ("r.a", "ok")


def test_limit_chosen_by_case():
    body = ('let plant.lim : t CO2/tce = case when energy >= 100万tce/yr then 0.3 t CO2/tce '
            'when energy >= 50万tce/yr then %s t CO2/tce else 0.2 t CO2/tce end\n'
            'rule r.a "A" applies when energy >= 20万tce/yr require intensity <= lim\n')
    e = only(pair(body % "0.25", body % "0.22"))
    assert flips(e) == ["`intensity` in (0.22, 0.25] t CO2/tce: pass → fail, "
                        "for plants with 500 000 ≤ energy < 1 000 000 tce/yr"]


def test_moved_band_boundary_of_a_limit():
    e = only(pair(PARK_LIMIT.replace("100万", "%s") % ("100万", "0.3 t CO2/tce"),
                  PARK_LIMIT.replace("100万", "%s") % ("50万", "0.3 t CO2/tce")))
    (c,) = e.changes
    assert c.aspect == "threshold"
    assert flips(e) == ["`energy` in [500 000, 1 000 000) tce/yr: 0.2 t CO2/tce → 0.3 t CO2/tce"]


def test_formula_change_and_display_unit_change():
    e = only(pair('let plant.x : t CO2/tce = co2 / energy\nrule r.a "A" require x <= 1 t CO2/tce\n',
                  'let plant.x : t CO2/tce = co2 / energy * 1.1\nrule r.a "A" require x <= 1 t CO2/tce\n'))
    (c,) = e.changes
    assert (c.aspect, c.before, c.after) == ("formula", "co2 / energy", "co2 / energy * 1.1")
    assert e.affects == ("r.a",)
    e = only(pair('let plant.x : t CO2/tce = co2 / energy\nrule r.a "A" require x <= 1 t CO2/tce\n',
                  'let plant.x : kg CO2/tce = co2 / energy\nrule r.a "A" require x <= 1 t CO2/tce\n'))
    (c,) = e.changes
    assert (c.aspect, c.effect, c.affects) == ("unit", "display", ())
    assert e.affects == ()


# ------------------------------------------------------------------ renames, inserts, removals


def test_rename_with_identical_content_is_a_move():
    e = only(pair('rule r.a "A" require share >= 90 percent\n', 'rule r.b "A" require share >= 90 percent\n'))
    assert isinstance(e, Move) and (e.old_name, e.name, e.similarity, e.changes) == ("r.a", "r.b", 1.0, ())


def test_rename_with_a_change_is_matched_by_similarity():
    e = only(pair('rule r.a "清洁能源占比" clause "4.1" require share >= 90 percent\n',
                  'rule r.clean "清洁能源占比" clause "4.1" require share >= 85 percent\n'))
    assert isinstance(e, Move) and e.old_name == "r.a" and e.name == "r.clean" and 0.7 <= e.similarity < 1
    assert [c.aspect for c in e.changes] == ["threshold"]
    assert flips(e) == ["`share` in [85, 90) percent: fail → pass"]


def test_unrelated_rules_are_insert_and_remove():
    d = pair('rule r.a "清洁能源占比" require share >= 90 percent\n',
             'rule r.b "核查日期" require audited >= 2025-01-01\n')
    kinds = sorted(type(e).__name__ for e in d.changes)
    assert kinds == ["Insert", "Remove"]
    ins = next(e for e in d.changes if isinstance(e, Insert))
    assert ins.text.startswith('rule r.b "核查日期"') and ins.affects == ("r.b",)


def test_forced_matchings_like_sqlglot():
    d = pair('rule r.a "清洁能源占比" require share >= 90 percent\n', 'rule r.b "核查日期" require audited >= 2025-01-01\n',
             matchings=[("rule", "r.a", "r.b")])
    e = only(d)
    assert isinstance(e, Move) and [(c.aspect, c.before, c.after) for c in e.changes] == [
        ("title", "清洁能源占比", "核查日期"), ("formula", "share >= 90 percent", "audited >= 2025-01-01")]


def test_renamed_input_does_not_change_formulas_reading_it():
    old = 'rule r.a "A" require share >= 90 percent\n'
    text_old = HEADER % "1" + old
    text_new = (HEADER % "2").replace("plant.share    : percent", "plant.clean_share : percent") + \
        old.replace("share >=", "clean_share >=")
    d = diff(normrules.loads(text_old, "a.nr"), normrules.loads(text_new, "b.nr"))
    e = only(d)
    assert isinstance(e, Move) and e.kind == "input" and (e.old_name, e.name) == ("share", "clean_share")
    assert isinstance(d.edit_for("r.a"), Keep)


def test_removed_value_and_rule_list_what_they_affected():
    d = pair('let plant.big : boolean = energy >= 100万tce/yr\nrule r.a "A" applies when big require share >= 90 percent\n'
             'rule r.b "B" require share >= 10 percent\n',
             'rule r.a "A" applies when energy >= 100万tce/yr require share >= 90 percent\n'
             'rule r.b "B" require share >= 10 percent\n')
    rem = d.edit_for("big")
    assert isinstance(rem, Remove) and rem.affects == ("r.a",)
    upd = d.edit_for("r.a")
    assert isinstance(upd, Update) and upd.changes[0].aspect == "applicability"


def test_new_rule_under_a_pattern_changes_the_result():
    base = 'rule r.a "A" require share >= 90 percent\n%sresult plant.s { "ok" when all(r.*) "no" otherwise }\n'
    d = pair(base % "", base % 'rule r.b "B" require share >= 10 percent\n')
    res = d.edit_for("s")
    assert isinstance(res, Update)
    (c,) = res.changes
    assert c.note == "now also covers r.b" and c.after == "all(r.a, r.b)"


# ------------------------------------------------------------------ documentation, header, inputs, results


def test_title_clause_severity_are_documentation_changes():
    e = only(pair('rule r.a "A" en "a" clause "4.1" severity guidance require share >= 90 percent\n',
                  'rule r.a "B" en "b" clause "4.2" severity mandatory require share >= 90 percent\n'))
    assert [(c.aspect, c.before, c.after, c.effect) for c in e.changes] == [
        ("title", "A / a", "B / b", "documentation"), ("clause", "4.1", "4.2", "documentation"),
        ("severity", "guidance", "mandatory", "documentation")]
    assert e.affects == () and all(c.affects == () for c in e.changes)


def test_header_metadata():
    a = rs('rule r.a "A" require share >= 90 percent\n', "2025")
    text = (HEADER % "2026").replace("status draft", "status final\n  effective 2026-01-01\n  supersedes demo.diff @ \"2025\"")
    b = normrules.loads(text + 'rule r.a "A" require share >= 90 percent\n', "b.nr")
    d = diff(a, b)
    (h,) = d.changes
    assert h.kind == "header"
    got = {c.where: (c.before, c.after) for c in h.changes}
    assert got == {"version": ("2025", "2026"), "effective": ("", "2026-01-01"), "status": ("draft", "final"),
                   "supersedes": ("", 'demo.diff @ "2025"')}
    assert next(c for c in h.changes if c.where == "supersedes").note == "names the old revision demo.diff@2025"
    assert all(c.effect == "documentation" for c in h.changes)


def test_input_unit_range_and_categories():
    old = HEADER % "1"
    new = (HEADER % "2").replace("tce/yr   in [0, inf)", "GJ/yr   in (0, inf)").replace(
        '{"北京", "上海", "广东"}', '{"北京", "上海", "江苏"}')
    d = diff(normrules.loads(old + 'rule r.a "A" require energy >= 1 tce/yr\n', "a.nr"),
             normrules.loads(new + 'rule r.a "A" require energy >= 1 tce/yr\n', "b.nr"))
    energy = d.edit_for("energy")
    assert [c.aspect for c in energy.changes] == ["unit", "range"]
    unit = energy.changes[0]
    assert (unit.before, unit.after) == ("tce/yr", "GJ/yr") and "(1 GJ/yr = 0.0341208 tce/yr)" in unit.note
    rng = energy.changes[1]
    assert [f.text for f in rng.flips] == ["`energy` = 0 GJ/yr: accepted → rejected"]
    assert energy.affects == ("r.a",)
    prov = d.edit_for("province")
    assert prov.changes[0].aspect == "categories" and prov.changes[0].note == 'adds "江苏"; drops "广东"'


def test_result_labels_and_branch_thresholds():
    body = 'rule r.a "A" require share >= 90 percent\nresult plant.s { "small" when energy < %s "%s" when all(r.*) "no" otherwise }\n'
    e = only(pair(body % ("20万tce/yr", "ok"), body % ("10万tce/yr", "good")))
    assert [c.aspect for c in e.changes] == ["threshold", "labels"]
    thr = e.changes[0]
    assert thr.where == 'branch "small"'
    assert [f.text for f in thr.flips] == ['`energy` in [100 000, 200 000) tce/yr: "small" → a later branch']
    lab = e.changes[1]
    assert (lab.before, lab.after) == ('"ok"', '"good"')


def test_result_with_another_number_of_branches():
    body = 'rule r.a "A" require share >= 90 percent\nresult plant.s { %s }\n'
    e = only(pair(body % '"ok" when all(r.*) "no" otherwise',
                  body % '"ok" when all(r.*) "partly" when share >= 50 percent "no" otherwise'))
    (c,) = e.changes
    assert c.aspect == "branches" and c.note == 'adds "partly"'


# ------------------------------------------------------------------ params and lookup tables


def test_param_limit_is_followed_to_the_rules_that_use_it():
    body = ('param limit : t CO2/tce "限值" = %s\n'
            'rule r.a "A" applies when energy >= 20万tce/yr require intensity <= limit\n')
    e = only(pair(body % "0.3 t CO2/tce", body % "250 kg CO2/tce"))
    assert e.kind == "param" and isinstance(e, Update)
    (c,) = e.changes
    assert (c.aspect, c.where, c.before, c.after) == ("threshold", "value", "0.3 t CO2/tce",
                                                      "250 kg CO2/tce (= 0.25 t CO2/tce)")
    assert [f.text for f in c.flips] == [
        "`intensity` in (0.25, 0.3] t CO2/tce: pass → fail, for plants with energy ≥ 200 000 tce/yr"]
    assert e.affects == ("r.a",)
    assert pair(body % "0.3 t CO2/tce", body % "300 kg CO2/tce").is_empty


def test_param_chosen_by_a_let_is_followed_through_the_branch_to_the_rule():
    body = ('param large : t CO2/tce "大型园区限值" = %s\n'
            'let plant.limit : t CO2/tce = if energy >= 100万tce/yr then large else 0.2 t CO2/tce\n'
            'rule r.a "A" require intensity <= limit\n')
    e = only(pair(body % "0.3 t CO2/tce", body % "0.25 t CO2/tce"))
    (c,) = e.changes
    assert (e.kind, c.aspect, c.note) == ("param", "threshold", "stricter")
    assert [(f.output, f.text) for f in c.flips] == [
        ("r.a", "`intensity` in (0.25, 0.3] t CO2/tce: pass → fail, for plants with energy ≥ 1 000 000 tce/yr")]
    assert e.affects == ("r.a",)


GWP = """table gwp "GWP-100" en "GWP-100"
  document "%s"
  key gas : text
  column value : CO2e
%s
input plant.gas : text {"CH4", "N2O", "SF6"}
input plant.mass : t/yr in [0, inf)
let plant.co2e : t CO2e/yr = mass * gwp[gas].value
rule r.small "small emitter" require co2e <= 1000 t CO2e/yr
"""
AR5 = '  row "CH4", 28\n  row "N2O", 265\n  row "SF6", 23500\n'
AR6 = '  row "CH4", 27.9\n  row "N2O", 273\n  row "SF6", 23500\n'


def test_lookup_table_rows_gwp_ar5_to_ar6():
    d = pair(GWP % ("IPCC AR5 WG1 Table 8.A.1", AR5), GWP % ("IPCC AR6 WG1 Table 7.15", AR6))
    e = only(d)
    assert isinstance(e, Update) and e.kind == "table" and e.name == "gwp"
    got = [(c.aspect, c.where, c.before, c.after, c.effect) for c in e.changes]
    assert got == [
        ("provenance", "document", "IPCC AR5 WG1 Table 8.A.1", "IPCC AR6 WG1 Table 7.15", "documentation"),
        ("values", 'row ["CH4"]', "value 28 CO2e", "value 27.9 CO2e", "behaviour"),
        ("values", 'row ["N2O"]', "value 265 CO2e", "value 273 CO2e", "behaviour"),
    ]
    assert e.affects == ("r.small",)
    # rows added and removed; the same rows in another order and other spellings are no change
    more = AR6.replace('  row "SF6", 23500\n', '') + '  row "NF3", 17400\n'
    d = pair(GWP % ("x", AR6), GWP.replace('"SF6"}', '"SF6", "NF3"}') % ("x", more))
    changes = {(c.aspect, c.where, c.note) for c in only(d, "table").changes}
    assert changes == {("rows", 'row ["NF3"]', "row added"),
                       ("rows", 'row ["SF6"]', "row removed: lookups of this key are now unknown")}
    reordered = '  row "SF6", 23_500\n  row "N2O", 273.0\n  row "CH4", 27.9\n'
    assert pair(GWP % ("x", AR6), GWP % ("x", reordered)).is_empty


def test_renamed_table_is_a_move_and_lookups_through_it_are_unchanged():
    old = GWP % ("x", AR5)
    new = old.replace("table gwp ", "table gwp100 ").replace("gwp[gas]", "gwp100[gas]")
    d = pair(old, new)
    e = only(d)
    assert isinstance(e, Move) and (e.kind, e.old_name, e.name, e.changes) == ("table", "gwp", "gwp100", ())
    assert isinstance(d.edit_for("co2e"), Keep)


def test_changed_imported_revision_is_an_import_edit_with_what_it_affects(tmp_path):
    importer = ROOT / "rulesets" / "intl" / "pv_export_markets.nr"
    imported = tmp_path / "rulesets" / "iec" / "pv_module_cfp.nr"
    if not importer.is_file():
        pytest.skip("no shipped ruleset with an import")
    shutil.copytree(ROOT / "rulesets", tmp_path / "rulesets")
    text = imported.read_text("utf-8")
    changed = re.sub(r'(row "polysilicon", "CN", )[0-9.]+', r"\g<1>150.0", text, count=1)
    if changed == text:
        pytest.skip("the imported ruleset no longer has the row this test edits")
    imported.write_text(changed, "utf-8")
    old = normrules.load(importer)
    d = diff(old, normrules.load(tmp_path / "rulesets/intl/pv_export_markets.nr", roots=[tmp_path / "rulesets"]))
    (e,) = d.changes
    (c,) = e.changes
    ref = dict(old.checked.imports)["pcr"].ref
    assert isinstance(e, Update) and (e.kind, e.name) == ("import", "pcr")
    assert (c.aspect, c.where, c.before, c.after) == ("revision", "ruleset", ref, ref)
    assert "table pv_factor" in c.note and c.effect == "behaviour"
    assert e.affects and set(e.affects) == set(c.affects)


# ------------------------------------------------------------------ imports and overrides

PROVINCE = """ruleset demo.province {
  title "省级零碳园区" en "Provincial zero-carbon park"
  document "demo"
  version "1"
  status draft
}

entity park "园区" key id

import gb.zero_carbon_park@"2025" as national
%s
input park.green_power : percent in [0, 100]

rule prov.green_power "绿电占比"
  applies when not (national.core.intensity is not_applicable)
  require green_power >= 50 percent

result park.provincial "省级结论" {
  "met"     when national.core.intensity and prov.green_power
  "not met" otherwise
}
"""
OVERRIDE = "override national.core_limit_medium = %s"
MEDIUM = "for parks with 200 000 ≤ energy < 1 000 000 tce/yr"


def province(tmp_path, name: str, overrides: str = "") -> Ruleset:
    path = tmp_path / f"{name}.nr"
    path.write_text(PROVINCE % overrides, "utf-8")
    return normrules.load(path)


def test_changed_override_is_an_import_edit_with_the_flips_of_the_imported_rule(tmp_path):
    old = province(tmp_path, "old", OVERRIDE % "0.18 t CO2/tce")
    new = province(tmp_path, "new", OVERRIDE % "170 kg CO2/tce")
    d = diff(old, new)
    e = only(d)
    assert isinstance(e, Update) and (e.kind, e.name) == ("import", "national")
    (c,) = e.changes
    assert (c.aspect, c.aspects, c.where, c.before, c.after, c.effect, c.note) == (
        "override", ("override", "threshold"), "national.core_limit_medium", "0.18 t CO2/tce",
        "170 kg CO2/tce (= 0.17 t CO2/tce)", "behaviour", "stricter")
    assert [(f.output, f.text) for f in c.flips] == [
        ("national.core.intensity", f"`intensity` in (0.17, 0.18] t CO2/tce: pass → fail, {MEDIUM}")]
    assert e.affects == c.affects == ("prov.green_power", "provincial")
    assert [x.kind for x in d.edits[:3]] == ["header", "import", "input"]       # imports come first
    text = d.to_text()
    assert "~ import national (changed)" in text
    assert "override/threshold (national.core_limit_medium): 0.18 t CO2/tce → 170 kg CO2/tce" in text
    assert f"national.core.intensity: `intensity` in (0.17, 0.18] t CO2/tce: pass → fail, {MEDIUM}" in text
    assert "| override/threshold | national.core_limit_medium |" in d.to_markdown()
    assert 'data-kind="import" data-name="national"' in d.to_html()
    (doc,) = json.loads(d.to_json())["edits"]
    assert (doc["kind"], doc["edit"], doc["changes"][0]["aspect"]) == ("import", "update", "override")


def test_added_and_removed_override_name_the_imported_value(tmp_path):
    plain = province(tmp_path, "plain")
    tight = province(tmp_path, "tight", OVERRIDE % "0.18 t CO2/tce")
    (added,) = only(diff(plain, tight)).changes
    assert (added.before, added.after) == ("", "0.18 t CO2/tce")
    assert added.note == "override added; the imported ruleset says 0.2 t CO2/tce, stricter"
    assert [f.text for f in added.flips] == [f"`intensity` in (0.18, 0.2] t CO2/tce: pass → fail, {MEDIUM}"]
    (removed,) = only(diff(tight, plain)).changes
    assert (removed.before, removed.after) == ("0.18 t CO2/tce", "")
    assert removed.note == "override removed; the imported ruleset says 0.2 t CO2/tce, more lenient"
    assert [f.text for f in removed.flips] == [f"`intensity` in (0.18, 0.2] t CO2/tce: fail → pass, {MEDIUM}"]


def test_override_in_another_unit_is_not_a_change_and_one_equal_to_the_import_is_documentation(tmp_path):
    t = province(tmp_path, "t", OVERRIDE % "0.18 t CO2/tce")
    kg = province(tmp_path, "kg", OVERRIDE % "180 kg CO2/tce")
    d = diff(t, kg)
    assert d.is_empty and isinstance(d.edit_for("national", "import"), Keep)
    (c,) = only(diff(province(tmp_path, "plain"), province(tmp_path, "same", OVERRIDE % "200 kg CO2/tce"))).changes
    assert (c.aspect, c.effect, c.flips, c.affects) == ("override", "documentation", (), ())
    assert c.note == "override added; the imported ruleset says 0.2 t CO2/tce, the value in effect is the same"


def test_revised_import_summary_leaves_out_what_the_overrides_explain(tmp_path):
    shutil.copytree(ROOT / "rulesets", tmp_path / "rulesets")
    park = tmp_path / "rulesets" / "gb" / "zero_carbon_park.nr"
    text = park.read_text("utf-8")
    edited = text.replace('severity mandatory\n  applies when energy >= 20万tce/yr', 'severity guidance\n  applies when energy >= 20万tce/yr', 1)
    if edited == text:
        pytest.skip("the shipped park ruleset no longer has the line this test edits")
    park.write_text(edited, "utf-8")
    old = province(tmp_path, "old", OVERRIDE % "0.18 t CO2/tce")
    (tmp_path / "new.nr").write_text(PROVINCE % (OVERRIDE % "0.17 t CO2/tce"), "utf-8")
    new = normrules.load(tmp_path / "new.nr", roots=[tmp_path / "rulesets"])
    revision, override = only(diff(old, new)).changes
    assert (revision.aspect, override.aspect) == ("revision", "override")
    assert revision.note == ("the imported ruleset differs: 1 changed, 0 added, 0 removed, 0 renamed "
                             "(rule core.intensity)")
    assert (override.before, override.after, override.note) == ("0.18 t CO2/tce", "0.17 t CO2/tce", "stricter")


def test_override_changes_are_found_in_compiled_ir_too(tmp_path):
    from normrules.ir import dumps_ir, load_ir

    old = load_ir(dumps_ir(province(tmp_path, "old", OVERRIDE % "0.18 t CO2/tce")))
    new = load_ir(dumps_ir(province(tmp_path, "new", OVERRIDE % "0.15 t CO2/tce")))
    (c,) = only(diff(old, new)).changes
    assert (c.where, c.before, c.after, c.note) == ("national.core_limit_medium", "0.18 t CO2/tce",
                                                    "0.15 t CO2/tce", "stricter")


def test_added_and_removed_import(tmp_path):
    old = province(tmp_path, "old", OVERRIDE % "0.18 t CO2/tce")
    text = (PROVINCE % (OVERRIDE % "0.18 t CO2/tce")).replace("national.", "n2.").replace(" as national", " as n2")
    (tmp_path / "renamed.nr").write_text(text, "utf-8")
    d = diff(old, normrules.load(tmp_path / "renamed.nr"))
    added, removed = d.of("import")
    assert isinstance(added, Insert) and added.name == "n2" and isinstance(removed, Remove) and removed.name == "national"
    assert added.text == 'import gb.zero_carbon_park@"2025" as n2\noverride n2.core_limit_medium = 0.18 t CO2/tce'
    assert added.affects == removed.affects == ("prov.green_power", "provincial")
    assert "+ import n2 (added)" in d.to_text() and "- import national (removed)" in d.to_text()


def test_pinning_the_revision_in_force_is_documentation(tmp_path):
    (tmp_path / "unpinned.nr").write_text((PROVINCE % "").replace('@"2025"', ""), "utf-8")
    unpinned = normrules.load(tmp_path / "unpinned.nr", as_of=datetime.date(2025, 12, 31))
    (c,) = only(diff(unpinned, province(tmp_path, "pinned"))).changes
    assert (c.aspect, c.before, c.after, c.effect, c.affects) == (
        "version", "(no version: the final revision in force)", '@"2025"', "documentation", ())
    assert c.note == "both take gb.zero_carbon_park@2025"


def test_pinned_version_changed_gives_the_revision_and_its_own_diff(tmp_path):
    grid = """ruleset demo.grid_user {
  title "排放报告" en "Emission report"
  document "demo"
  version "1"
  status draft
}

import gb.ghg_inventory_grid@"%s" as grid

result enterprise.in_ets "纳入" en "In the ETS" {
  "yes" when grid.ets.emissions
  "no"  otherwise
}
"""
    for v in ("2022", "2023"):
        (tmp_path / f"grid_{v}.nr").write_text(grid % v, "utf-8")
    e = only(diff(tmp_path / "grid_2022.nr", tmp_path / "grid_2023.nr"))
    assert (e.kind, e.name) == ("import", "grid")
    version, revision = e.changes
    assert (version.aspect, version.before, version.after, version.effect) == (
        "version", '@"2022"', '@"2023"', "behaviour")
    assert (revision.aspect, revision.before, revision.after) == (
        "revision", "gb.ghg_inventory_grid@2022", "gb.ghg_inventory_grid@2023")
    assert revision.note.startswith("the imported ruleset differs: ") and "table grid_factor" in revision.note
    assert e.affects == ("in_ets",)


# ------------------------------------------------------------------ the synthetic park revision


def test_park_synthetic_revision(park_pair):
    d = diff(*park_pair)
    lim = d.edit_for("intensity_limit")
    assert isinstance(lim, Update)
    (c,) = lim.changes
    assert [f.text for f in c.flips] == [
        "`intensity` in (0.25, 0.3] t CO2/tce: pass → fail, for parks with energy ≥ 1 000 000 tce/yr"]
    assert lim.affects == ("core.intensity", "meets_notice")
    clean = d.edit_for("guide.clean_energy")
    assert flips(clean) == ["`clean_share` in [85, 90) percent: fail → pass, for parks with energy ≥ 200 000 tce/yr"]
    heat = d.edit_for("guide.waste_heat")
    assert flips(heat) == ["`waste_heat_util` = 50 percent: pass → fail, for parks with energy ≥ 200 000 tce/yr"]
    solid = d.edit_for("guide.solid_waste")
    assert isinstance(solid, Move) and solid.name == "guide.solid_waste_util" and solid.changes == ()
    assert isinstance(d.edit_for("guide.green_power"), Insert)
    assert isinstance(d.edit_for("green_power_share"), Insert)
    prod = d.edit_for("guide.product_energy")
    assert [(c.aspect, c.effect) for c in prod.changes] == [("severity", "documentation")]
    # core.intensity itself is unchanged (its applicability is written 200_000 tce/yr instead of 20万tce/yr)
    assert isinstance(d.edit_for("core.intensity"), Keep)
    header = d.edit_for("gb.zero_carbon_park", "header")
    assert {c.where for c in header.changes} >= {"version", "status", "supersedes", "document"}


def test_synthetic_revision_is_labelled_as_such():
    text = NEW.read_text("utf-8")
    assert text.startswith("# SYNTHETIC example revision, not a real document.")
    rs_new = normrules.load(NEW)
    assert rs_new.checked.meta_value("status") == "draft"
    assert "SYNTHETIC" in rs_new.checked.meta_value("title_en") and "SYNTHETIC" in rs_new.checked.meta_value("document")


# ------------------------------------------------------------------ impact


def _crosstab(a: np.ndarray, b: np.ndarray, n_a: int, n_b: int) -> list[list[int]]:
    m = [[0] * n_b for _ in range(n_a)]
    for x, y in zip(a, b):
        m[x][y] += 1
    return m


def test_impact_counts_equal_separate_evaluations(park_pair):
    old, new = park_pair
    table = read_table(PARKS)
    d = diff(old, new, data=PARKS)
    imp = d.impact
    ev_old, ev_new = old.evaluate(table, invalid="unknown"), new.evaluate(table, invalid="unknown")
    assert imp.n == ev_old.n == ev_new.n == 22
    verdicts = list(T.VERDICT_NAMES)
    pairs = {"core.intensity": "core.intensity", "guide.clean_energy": "guide.clean_energy",
             "guide.product_energy": "guide.product_energy", "guide.solid_waste": "guide.solid_waste_util",
             "guide.waste_heat": "guide.waste_heat"}
    changed_rows = set()
    for o_name, n_name in pairs.items():
        a = [verdicts.index(v) for v in ev_old.verdicts(o_name)]
        b = [verdicts.index(v) for v in ev_new.verdicts(n_name)]
        r = imp.rule(n_name)
        assert r.old_name == o_name and r.status == "matched"
        assert [list(row) for row in r.matrix] == _crosstab(np.array(a), np.array(b), 4, 4)
        assert r.changed == sum(x != y for x, y in zip(a, b))
        assert r.before == ev_old.counts()[o_name] and r.after == ev_new.counts()[n_name]
        changed_rows |= {i for i, (x, y) in enumerate(zip(a, b)) if x != y}
    assert imp.rule("core.intensity").count("pass", "fail") == 4
    assert imp.rule("guide.clean_energy").count("fail", "pass") == 3
    assert imp.rule("guide.waste_heat").count("pass", "fail") == 2
    added = imp.rule("guide.green_power")
    assert added.status == "added" and added.after == ev_new.counts()["guide.green_power"] and added.matrix == ()
    # the result: a label transition matrix
    res = imp.result("meets_notice")
    la, lb = ev_old.labels("meets_notice"), ev_new.labels("meets_notice")
    rows, cols = list(res.labels_before) + [None], list(res.labels_after) + [None]
    assert [list(row) for row in res.matrix] == _crosstab(np.array([rows.index(x) for x in la]),
                                                         np.array([cols.index(x) for x in lb]), len(rows), len(cols))
    assert res.changed == sum(x != y for x, y in zip(la, lb)) == 7
    changed_rows |= {i for i, (x, y) in enumerate(zip(la, lb)) if x != y}
    # the changed entities: keys and before/after
    assert [x.row for x in imp.entities] == sorted(changed_rows)
    keys = list(table.column("id").to_pylist())
    p04 = next(x for x in imp.entities if x.key == "P04")
    assert keys[p04.row] == "P04"
    assert [(c.output, c.before, c.after) for c in p04.changes] == [
        ("core.intensity", "pass", "fail"), ("meets_notice", "met", "not met")]
    p18 = next(x for x in imp.entities if x.key == "P18")
    assert [(c.output, c.before, c.after) for c in p18.changes] == [("meets_notice", "met", None)]


def test_impact_feeds_a_renamed_input_from_the_old_column():
    old = 'rule r.a "A" require share >= 90 percent\n'
    text_new = (HEADER % "2").replace("plant.share    : percent", "plant.clean_share : percent") + \
        'rule r.a "A" require clean_share >= 85 percent\n'
    data = {"id": ["a", "b", "c"], "share [%]": [80.0, 87.0, 95.0]}
    d = diff(rs(old), normrules.loads(text_new, "b.nr"), data=data)
    r = d.impact.rule("r.a")
    assert r.count("fail", "pass") == 1 and r.count("pass", "pass") == 1 and r.count("fail", "fail") == 1
    assert [x.key for x in d.impact.entities] == ["b"]


def test_impact_reads_values_outside_a_new_range_as_unknown():
    old = HEADER % "1"
    new = (HEADER % "2").replace("percent  in [0, 100]", "percent  in [0, 90]")
    body = 'rule r.a "A" require share >= 50 percent\n'
    d = diff(normrules.loads(old + body, "a.nr"), normrules.loads(new + body, "b.nr"),
             data={"share": [40.0, 95.0]})
    assert d.impact.invalid_after == {"share": 1} and d.impact.invalid_before == {}
    assert d.impact.rule("r.a").count("pass", "unknown") == 1


# ------------------------------------------------------------------ flip sets against the executor


@given(op=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), k=st.integers(-30, 30),
       decimals=st.integers(0, 3), offset=st.integers(-12, 12))
def test_rounded_true_set_agrees_with_the_executor(op, k, decimals, offset):
    q = 10.0 ** -decimals
    c = k * q
    x = c + offset * q / 4          # on, between and halfway between the multiples of the quantum
    rounding = T.Rounding(1.0, decimals, "")
    executor = bool(compare(op, apply_rounding(np.array([x]), rounding), c)[0])
    assert _contains(true_set(op, c, q), x) == executor


@given(op=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), c=st.integers(-5, 5), x=st.integers(-8, 8))
def test_full_true_set_agrees_with_the_executor(op, c, x):
    assert _contains(true_set(op, float(c)), float(x)) == bool(compare(op, np.array([float(x)]), float(c))[0])


@given(op1=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), op2=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
       c1=st.integers(-3, 3), c2=st.integers(-3, 3), x=st.integers(-12, 12))
def test_flip_regions_are_exactly_where_outcomes_differ(op1, op2, c1, c2, x):
    old, new = true_set(op1, float(c1)), true_set(op2, float(c2))
    xv = x / 2
    inside = any(lo < xv < hi or (xv == lo and lc) or (xv == hi and hc) for lo, hi, lc, hc, _, _ in flip_regions(old, new))
    assert inside == (_contains(old, xv) != _contains(new, xv))


# ------------------------------------------------------------------ output formats and the command


def test_text_snapshot(park_pair, snapshot):
    d = diff(*park_pair, data=PARKS)
    assert d.to_text(limit=5) == snapshot(extension_class=TextSnapshot)


def test_json_snapshot(park_pair, snapshot):
    d = diff(*park_pair, data=PARKS)
    assert d.to_json() == snapshot(extension_class=JsonSnapshot)


SCHEMA_SHAPE = {
    "schema": str, "old": dict, "new": dict, "empty": bool, "summary": dict, "edits": list, "impact": (dict, type(None)),
}
SIDE = {"id": str, "version": str, "ref": str, "status": str, "file": str, "sha256": str}
EDIT = {"edit": str, "kind": str, "name": str, "old_name": (str, type(None)), "similarity": (float, type(None)),
        "text": (str, type(None)), "changes": list, "affects": list}
CHANGE = {"aspect": str, "aspects": list, "where": str, "before": str, "after": str, "effect": str, "note": str,
          "flips": list, "affects": list}
FLIP = {"output": str, "quantity": str, "unit": str, "low": (float, int, str, type(None)),
        "high": (float, int, str, type(None)), "low_closed": bool, "high_closed": bool, "interval": str,
        "before": str, "after": str, "condition": (str, type(None)), "text": str}
IMPACT = {"entities": int, "key": str, "rules": list, "results": list, "changed_entities": dict, "values": list,
          "invalid": dict, "warnings": list}
VALUE_IMPACT = {"name": str, "old_name": str, "unit": str, "changed": int, "became_unknown": int, "became_known": int,
                "min_change": (float, type(None)), "max_change": (float, type(None))}
RULE_IMPACT = {"name": str, "old_name": (str, type(None)), "status": str, "before": (dict, type(None)),
               "after": (dict, type(None)), "matrix": list, "transitions": list, "changed": int}
RESULT_IMPACT = RULE_IMPACT | {"labels_before": list, "labels_after": list}
TRANSITION = {"from": (str, type(None)), "to": (str, type(None)), "count": int}
ENTITY = {"entity": str, "key": str, "row": int, "changes": list}
OUTPUT_CHANGE = {"output": str, "before": (str, type(None)), "after": (str, type(None))}


def _shape(obj: dict, spec: dict, where: str) -> None:
    assert set(obj) == set(spec), f"{where}: keys {sorted(obj)} != {sorted(spec)}"
    for k, t in spec.items():
        assert isinstance(obj[k], t), f"{where}.{k}: {type(obj[k]).__name__}"


def test_json_document_has_the_documented_shape(park_pair):
    doc = json.loads(diff(*park_pair, data=PARKS).to_json())
    _shape(doc, SCHEMA_SHAPE, "$")
    assert doc["schema"] == "normrules.diff/1"
    _shape(doc["old"], SIDE, "old")
    _shape(doc["new"], SIDE, "new")
    assert set(doc["summary"]) == {"insert", "remove", "move", "update", "keep"}
    assert {e["edit"] for e in doc["edits"]} <= {"insert", "remove", "move", "update"}
    for e in doc["edits"]:
        _shape(e, EDIT, "edit")
        assert e["kind"] in ("header", "import", "input", "param", "table", "value", "rule", "result")
        for c in e["changes"]:
            _shape(c, CHANGE, "change")
            assert c["effect"] in ("behaviour", "display", "documentation")
            for f in c["flips"]:
                _shape(f, FLIP, "flip")
    imp = doc["impact"]
    _shape(imp, IMPACT, "impact")
    for r in imp["rules"]:
        _shape(r, RULE_IMPACT, "rule")
        for t in r["transitions"]:
            _shape(t, TRANSITION, "transition")
    for r in imp["results"]:
        _shape(r, RESULT_IMPACT, "result")
    assert set(imp["changed_entities"]) == {"count", "rows"}
    assert imp["changed_entities"]["count"] == len(imp["changed_entities"]["rows"]) == 9
    for x in imp["changed_entities"]["rows"]:
        _shape(x, ENTITY, "entity")
        for c in x["changes"]:
            _shape(c, OUTPUT_CHANGE, "entity change")
    for v in imp["values"]:
        _shape(v, VALUE_IMPACT, "value")
    assert set(imp["invalid"]) == {"old", "new"}
    # without data the impact is null
    assert json.loads(diff(*park_pair).to_json())["impact"] is None


def test_markdown(park_pair):
    md = diff(*park_pair, data=PARKS).to_markdown(limit=3)
    assert md.startswith("# Diff: `gb.zero_carbon_park@2025` → `gb.zero_carbon_park@2026-synthetic`")
    assert "`intensity` in (0.25, 0.3] t CO2/tce: pass → fail" in md
    assert "| `core.intensity` | 4 | pass → fail 4 |" in md
    assert "… 6 more" in md


def test_command_text_caps_entities_json_and_csv_are_complete(tmp_path):
    runner = CliRunner()
    args = [rel(OLD), rel(NEW), "--data", rel(PARKS)]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = runner.invoke(diff_command, args + ["--limit", "3"])
        assert res.exit_code == 0, res.output
        assert "changed entities: 9" in res.output and "… 6 more" in res.output
        res = runner.invoke(diff_command, args + ["--format", "json"])
        doc = json.loads(res.output)
        assert len(doc["impact"]["changed_entities"]["rows"]) == 9
        out = tmp_path / "changed.csv"
        res = runner.invoke(diff_command, args + ["--format", "csv", "--output", str(out)])
        assert res.exit_code == 0
        lines = out.read_text("utf-8").splitlines()
        assert lines[0] == "id,output,before,after"
        assert "P04,core.intensity,pass,fail" in lines and "P18,meets_notice,met,unknown" in lines
        assert len(lines) - 1 == sum(len(r["changes"]) for r in doc["impact"]["changed_entities"]["rows"])
        html_out = tmp_path / "d.html"
        res = runner.invoke(diff_command, [rel(OLD), rel(NEW), "-o", str(html_out)])    # format from the suffix
        assert res.exit_code == 0 and html_out.read_text("utf-8").startswith("<!DOCTYPE html>")
        res = runner.invoke(diff_command, [rel(OLD), rel(NEW), "--format", "md"])
        assert res.output.startswith("# Diff:")
        res = runner.invoke(diff_command, [rel(OLD), rel(OLD), "--exit-code"])
        assert res.exit_code == 0 and "no semantic changes" in res.output
        res = runner.invoke(diff_command, [rel(OLD), rel(NEW), "--exit-code"])
        assert res.exit_code == 1
        res = runner.invoke(diff_command, [rel(OLD), rel(NEW), "--format", "csv"])
        assert res.exit_code == 2 and "needs --data" in res.output
    finally:
        os.chdir(cwd)


def test_command_with_child_tables(tmp_path):
    modified = tmp_path / "gb"
    shutil.copytree(ROOT / "rulesets" / "gb", modified)
    text = (modified / "ghg_accounting.nr").read_text("utf-8")
    (modified / "ghg_accounting.nr").write_text(text.replace('edition" = "SAR"', 'edition" = "AR5"'), "utf-8")
    res = CliRunner().invoke(diff_command, [str(ROOT / "rulesets/gb/ghg_accounting.nr"), str(modified / "ghg_accounting.nr"),
                                            "--data", str(ROOT / "examples/enterprises.csv"),
                                            "--child", f"fuel={ROOT / 'examples/enterprise_fuels.csv'}",
                                            "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    (edit,) = doc["edits"]
    assert (edit["kind"], edit["name"], edit["changes"][0]["before"], edit["changes"][0]["after"]) == (
        "param", "gwp_edition", '"SAR"', '"AR5"')
    moved = {v["name"] for v in doc["impact"]["values"]}
    assert "gwp_ch4" in moved
    res = CliRunner().invoke(diff_command, [str(OLD), str(NEW), "--child", "fuel=nope.csv"])
    assert res.exit_code == 2 and "ENTITY=FILE" in res.output


def test_command_reports_a_ruleset_that_does_not_compile(tmp_path):
    bad = tmp_path / "bad.nr"
    bad.write_text(HEADER % "1" + 'rule r.a "A" require nope >= 1\n', "utf-8")
    res = CliRunner().invoke(diff_command, [str(bad), str(OLD)])
    assert res.exit_code == 1 and "does not compile" in res.output


# ------------------------------------------------------------------ HTML in a browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_is_self_contained(park_pair):
    page = diff(*park_pair, data=PARKS).to_html()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script>" in page and "<style>" in page


def test_html_opens_in_headless_chromium(park_pair, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium); the CI needs it for this test")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    d = diff(*park_pair, data=PARKS)
    page = tmp_path / "diff.html"
    page.write_text(d.to_html(), "utf-8")
    profile = tmp_path / "profile"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = html.unescape(proc.stdout)
    assert 'data-ready="1"' in dom, "the page's script did not run to its end"
    assert "Uncaught" not in proc.stderr, proc.stderr[-2000:]
    for e in d.changes:
        if e.kind == "rule":
            assert e.name in dom
            if isinstance(e, Move):
                assert e.old_name in dom
    for e in d.changes:
        for c in getattr(e, "changes", ()):
            for f in c.flips:
                assert f.text in dom, f.text
    assert "(0.25, 0.3] t CO2/tce" in dom


def test_rounded_rule_against_a_let_limit_written_in_other_units():
    body = ('let plant.lim : t CO2/tce = if energy >= 100万tce/yr then %s else 0.2 t CO2/tce\n'
            'rule r.a "A" judge rounded require intensity <= lim\n')
    # full-value judgement would see no change; the rounded judgement's step follows the limit's digits
    assert pair(body.replace("judge rounded ", "") % "0.3 t CO2/tce",
                body.replace("judge rounded ", "") % "300 kg CO2/tce").is_empty
    d = pair(body % "0.3 t CO2/tce", body % "300 kg CO2/tce")
    assert d.edit_for("lim") is not None and isinstance(d.edit_for("lim"), Keep)
    e = d.edit_for("r.a")
    assert isinstance(e, Update) and [c.aspects for c in e.changes] == [("precision",)]
