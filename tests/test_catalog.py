"""The MIIT catalogue (seed 004, annex 1) and the `normrules catalog` command."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from normrules.catalog import (catalog_command, catalogue, catalogue_source, default_ruleset_dirs, encodings,
                               normalize_number, select, shipped_rulesets)
from normrules.resolve import taxonomy

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared/seeds/004_5bbae0771fa86518.txt"

RULESET = """ruleset t.{name} {{
  title "t"
  document "{document}"
  version "1"
  status final
}}
entity e
input e.x : number
rule r.x require x >= 0
example "e" {{
  given x = 1
  expect r.x = pass
}}
"""


def _invoke(*args):
    return CliRunner().invoke(catalog_command, list(args))


# --------------------------------------------------------------------------- the data


def test_every_row_of_the_annex_is_there():
    # 4 基础通用 + 85 核算与核查 + 21 技术与装备 + 14 监测 + 26 管理与评价 (the "~150" of the guide)
    stds = catalogue()
    assert len(stds) == 150
    assert Counter(s.category.split(".")[0] for s in stds) == {
        "basic_general": 4, "accounting_verification": 85, "technology_equipment": 21,
        "monitoring": 14, "management_evaluation": 26}
    assert len({s.id for s in stds}) == 150
    for section in "12345":
        seqs = [int(s.id.split(".")[1]) for s in stds if s.id.split(".")[0] == section]
        assert seqs == list(range(1, len(seqs) + 1))


def test_categories_come_from_the_taxonomy():
    tax = taxonomy()
    for s in catalogue():
        assert s.category in tax and "." in s.category
        assert tax[s.category][0] == s.position_zh
    used = {s.category for s in catalogue()}
    assert len(used) == 15 and "basic_general.labels_marks" not in used


def test_status_vocabulary_and_identifiers():
    mapping = {"已发布": "published", "制定中": "drafting", "修订中": "revising"}
    stds = catalogue()
    assert Counter(s.status for s in stds) == {"published": 34, "drafting": 112, "revising": 4}
    for s in stds:
        assert mapping[s.status_zh] == s.status
        if s.status == "published":
            assert s.number and s.plan is None
            assert re.fullmatch(r"(GB/T|SJ/T|YS/T|HG/T|SH/T|YB/T) \d+(\.\d+)?-\d{4}", s.number)
        elif s.status == "drafting":
            assert s.number is None and s.plan
        else:
            assert s.number and s.plan and s.number_note
        if s.plan:
            assert re.fullmatch(r"\d{8}-T-\d{3}|\d{4}-\d{4}T-[A-Z]+(/[A-Z]+)?", s.plan)
    src = catalogue_source()
    assert set(src["status_mapping"]) == set(mapping)
    assert src["source"]["seed"] == "004_5bbae0771fa86518.txt"


def test_known_entries():
    by_number = {s.number: s for s in catalogue() if s.number}
    gb32150 = by_number["GB/T 32150-2015"]
    assert (gb32150.status, gb32150.plan, gb32150.title) == ("revising", "20220807-T-467", "工业企业温室气体排放核算和报告通则")
    assert gb32150.category == "accounting_verification.ghg_accounting"
    parts = sorted(n for n in by_number if n.startswith("GB/T 32151."))
    assert parts == sorted([f"GB/T 32151.{i}-2015" for i in range(1, 11)] + ["GB/T 32151.11-2018", "GB/T 32151.12-2018"])
    assert {by_number[n].status for n in ("GB/T 32151.4-2015", "GB/T 32151.5-2015", "GB/T 32151.11-2018")} == {"revising"}
    assert by_number["GB/T 34415-2017"].category == "monitoring.equipment_systems"
    assert by_number["HG/T 4488-2012"].title == "硝酸生产企业氧化亚氮（N₂O）排放量计算方法"
    last = catalogue()[-1]
    assert (last.id, last.plan, last.category) == ("5.26", "2021-1816T-SJ", "management_evaluation.carbon_asset_management")


@pytest.mark.skipif(not SEED.is_file(), reason="seed documents not available")
def test_seed_lines_point_at_the_rows():
    lines = SEED.read_text("utf-8").splitlines()
    for s in catalogue():
        row = lines[s.seed_line - 1]
        printed = s.plan if s.status != "published" else s.number
        assert f"| {printed} |" in row, (s.id, row)
        assert s.status_zh in row and s.position_zh in row


def test_normalize_number():
    assert normalize_number("GB/T 32150—2015") == normalize_number("gb/t32150-2015") == "GB/T32150-2015"
    assert normalize_number("ＧＢ／Ｔ　３２１５０－２０１５") == "GB/T32150-2015"
    assert normalize_number("GB/T 32151.1-2015") != normalize_number("GB/T 32151.11-2015")


# --------------------------------------------------------------------------- matching rulesets


def _write(tmp_path: Path, name: str, document: str) -> Path:
    path = tmp_path / f"{name}.nr"
    path.write_text(RULESET.format(name=name, document=document), "utf-8")
    return path


def test_rulesets_are_matched_on_number_or_plan(tmp_path):
    _write(tmp_path, "a", "GB/T 32150—2015")
    _write(tmp_path, "b", "2021-1808T-SJ")
    _write(tmp_path, "c", "GB/T 32150")                  # no year: not the catalogued standard
    (tmp_path / "broken.nr").write_text('ruleset t.broken {\n  document "GB/T 8984-2008"\n  oops\n', "utf-8")
    refs = shipped_rulesets([tmp_path])
    assert {r.id for r in refs} == {"t.a", "t.b", "t.c", "t.broken"}
    enc = encodings(catalogue(), refs)
    assert {k: [r.id for r in v] for k, v in enc.items()} == {"2.1": ["t.a"], "2.63": ["t.b"], "4.1": ["t.broken"]}


def test_default_ruleset_dirs_find_the_shipped_rulesets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                          # no rulesets/ here: the repository's are used
    dirs = default_ruleset_dirs()
    assert [d.resolve() for d in dirs] == [(ROOT / "rulesets").resolve()]
    ids = {r.id for r in shipped_rulesets()}
    assert {"gb.zero_carbon_park", "local.t_ceca_g0171_2022", "local.pv_self_consumption.jilin"} <= ids
    (tmp_path / "rulesets").mkdir()
    _write(tmp_path / "rulesets", "mine", "GB/T 34415-2017")
    assert [d.resolve() for d in default_ruleset_dirs()] == [(tmp_path / "rulesets").resolve(), (ROOT / "rulesets").resolve()]
    assert "t.mine" in {r.id for r in shipped_rulesets()}


def test_select():
    assert len(select(catalogue(), "monitoring")) == 14
    assert len(select(catalogue(), "monitoring.analysis_methods")) == 7
    assert len(select(catalogue(), "accounting_verification", "revising")) == 4
    assert select(catalogue(), status="published")[0].number == "GB/T 32151.1-2015"


# --------------------------------------------------------------------------- the command


def test_text_listing():
    result = _invoke()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(1 for l in lines if re.match(r"^\d\.\d+ ", l)) == 150
    assert "150 of 150 standards" in lines[-1]
    first = next(l for l in lines if l.startswith("2.1 "))
    assert "GB/T 32150-2015 (plan 20220807-T-467)" in first and "revising" in first
    assert "工业企业温室气体排放核算和报告通则" in first


def test_filters():
    result = _invoke("--category", "monitoring", "--status", "published")
    assert result.exit_code == 0, result.output
    rows = [l for l in result.output.splitlines() if re.match(r"^\d\.\d+ ", l)]
    assert len(rows) == 7 and all("published" in r and "monitoring." in r for r in rows)
    assert "7 of 150 standards (category monitoring, status published)" in result.output


def test_json_output():
    result = _invoke("--status", "revising", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["count"] == 4 and data["total"] == 150
    assert [s["number"] for s in data["standards"]] == [
        "GB/T 32150-2015", "GB/T 32151.4-2015", "GB/T 32151.5-2015", "GB/T 32151.11-2018"]
    assert all(s["plan"] and s["status_zh"] == "修订中" and isinstance(s["rulesets"], list) for s in data["standards"])


def test_shows_which_rulesets_encode_a_standard(tmp_path):
    _write(tmp_path, "acct", "GB/T 32150-2015")
    result = _invoke("--rulesets", str(tmp_path), "--category", "accounting_verification.ghg_accounting")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    i = next(n for n, l in enumerate(lines) if l.startswith("2.1 "))
    assert "encoded by t.acct@1" in lines[i + 1]
    assert "1 encoded by a ruleset (1 rulesets searched)" in lines[-1]
    data = json.loads(_invoke("--rulesets", str(tmp_path), "--format", "json").output)
    hit = next(s for s in data["standards"] if s["id"] == "2.1")
    assert [r["id"] for r in hit["rulesets"]] == ["t.acct"]
    assert sum(bool(s["rulesets"]) for s in data["standards"]) == 1


def test_unknown_category_is_a_usage_error():
    result = _invoke("--category", "monitorin")
    assert result.exit_code == 2
    assert "did you mean `monitoring`?" in result.output
    assert _invoke("--status", "withdrawn").exit_code == 2
