"""Columns carried in the unit they were given in, masks known everywhere, limits of two numbers.

The executor folds a column's scale into limits (``compare_limit``) instead of converting the
column, skips mask work for columns without unknowns, and compares against ``if c then 0.3 t else
0.2 t`` as two scalar comparisons. These tests pin what that must not change: the same verdicts
and values as converting first — also where scaling is not exact (a limit of zero, values that
overflow or underflow in one unit) — and a reader that neither copies nor converts.
"""

from __future__ import annotations

import numpy as np
import pytest

import normrules
from normrules.columns import Col, all_known, both, compare, compare_limit, known_everywhere, scalable
from normrules.reference import Interpreter
from normrules.tables import InputReader

HEAD = """ruleset t { title "t" document "d" version "1" status draft }
entity site key id
input site.share : percent
input site.energy : tce/yr in [0, inf)
input site.co2 : t CO2/yr
"""


def reference(rs, table: dict[str, np.ndarray]) -> list[dict]:
    cols, n, _ = InputReader(rs.checked, "unknown").read(table)
    rows = [{k: (c.data[i].item() if c.known[i] else None) for k, c in cols.items()} for i in range(n)]
    return [Interpreter(rs.checked, row).run(rs.plan.steps) for row in rows]


def test_reader_keeps_a_float_column_as_given_with_its_factor():
    rs = normrules.loads(HEAD + "rule r\n  require share >= 90 percent\n")
    share = np.array([95.0, 89.0, 90.0])
    cols, n, _ = InputReader(rs.checked).read({"share": share, "energy": np.ones(3), "co2": np.ones(3)})
    col = cols["share"]
    assert col.raw is share                                  # not copied
    assert col.scale == pytest.approx(0.01)
    assert known_everywhere(col.known)                       # no NaN: no mask built
    assert col.data.tolist() == (share * 0.01).tolist()       # base units when read, as before
    assert col.bounds == (89.0, 95.0)
    cols, _, _ = InputReader(rs.checked).read({"share": np.array([95.0, np.nan]), "energy": np.ones(2),
                                               "co2": np.ones(2)})
    assert cols["share"].known.tolist() == [True, False]


def test_a_limit_of_zero_is_compared_in_base_units():
    # 5e-324 percent is 0 in base units (it underflows): `<= 0` must pass, as converting first gives
    rs = normrules.loads(HEAD + "rule r\n  require share <= 0 percent\n")
    table = {"share": np.array([5e-324, 1e-300, -0.0, 1.0]), "energy": np.ones(4), "co2": np.ones(4)}
    ev = rs.evaluate(table)
    want = [row["r"] for row in reference(rs, table)]
    assert ev.verdict_codes("r").tolist() == want
    assert ev.verdicts("r")[0] == "pass" and ev.verdicts("r")[3] == "fail"
    assert not scalable(0.0, 0.01) and scalable(0.9, 0.01)


def test_quotient_in_the_given_units_matches_base_units_and_falls_back_at_the_extremes():
    rs = normrules.loads(HEAD + """
let site.intensity : t CO2/tce = co2 / energy
rule r
  require intensity <= 0.2 t CO2/tce
""")
    # moderate operands: computed as given (scale folded), the same verdicts and values within rounding
    rng = np.random.default_rng(1)
    energy = rng.uniform(1e3, 1e6, 1000)
    co2 = energy * np.where(rng.random(1000) < 0.3, 0.2, rng.uniform(0.1, 0.3, 1000))
    table = {"share": np.ones(1000), "energy": energy, "co2": co2}
    ev = rs.evaluate(table)
    assert ev.columns["intensity"].scale != 1.0
    ref = reference(rs, table)
    assert ev.verdict_codes("r").tolist() == [row["r"] for row in ref]
    assert np.allclose(ev.columns["intensity"].data, [row["intensity"] for row in ref], rtol=1e-14, atol=0)
    # a zero or a huge quotient: computed in base units, so division by zero is counted and a quotient
    # infinite in tce but finite in base units stays known
    table = {"share": np.ones(3), "energy": np.array([0.0, 1e-310, 2.0]), "co2": np.array([1.0, 1e10, 1.0])}
    ev = rs.evaluate(table)
    assert ev.columns["intensity"].scale == 1.0
    assert ev.counters.total_division_by_zero == 1
    assert ev.verdict_codes("r").tolist() == [row["r"] for row in reference(rs, table)]


def test_a_limit_that_is_one_of_two_numbers_is_never_built_unless_read():
    rs = normrules.loads(HEAD + """
let site.limit : t CO2/tce = if energy >= 100万tce/yr then 0.3 t CO2/tce else 0.2 t CO2/tce
rule r
  require co2 / energy <= limit
""")
    energy = np.array([5e5, 1e6, 2e6, 1e6 - 1, 3e5])
    co2 = energy * np.array([0.2, 0.3, 0.31, 0.2000000001, 0.19])
    table = {"share": np.ones(5), "energy": energy, "co2": co2}
    ev = rs.evaluate(table)
    limit = ev.columns["limit"]
    assert limit.choice is not None and limit._raw is None        # not materialised by the evaluation
    assert ev.verdicts("r") == ["pass", "pass", "fail", "pass", "pass"]
    assert ev.verdict_codes("r").tolist() == [row["r"] for row in reference(rs, table)]
    assert ev.values("limit").tolist() == pytest.approx([0.2, 0.3, 0.3, 0.2, 0.2])


def test_masks_known_everywhere_are_views_and_combine_without_work():
    everywhere = all_known(4)
    mask = np.array([True, False, True, False])
    assert known_everywhere(everywhere) and not known_everywhere(np.ones(4, dtype=bool))
    assert both(everywhere, mask) is mask and both(mask, everywhere) is mask
    assert both(mask, ~mask).tolist() == [False] * 4
    assert everywhere.nbytes == 4 and everywhere.strides == (0,)           # a view of one value
    with pytest.raises(ValueError):
        everywhere[0] = False                                              # read-only


@pytest.mark.parametrize("op", ["<=", "<", ">=", ">", "==", "!="])
def test_compare_limit_equals_compare_in_base_units(op):
    rng = np.random.default_rng(2)
    limit, scale = 0.9, 0.01
    raw = np.concatenate([rng.uniform(80, 100, 1000), [90.0, 90 * (1 + 1e-10), 90 * (1 - 1e-10), np.nan]])
    assert compare_limit(op, raw, limit, scale).tolist() == compare(op, raw * scale, limit).tolist()
    assert compare_limit(op, raw * scale, limit).tolist() == compare(op, raw * scale, limit).tolist()


def test_col_unpacks_and_converts_once():
    raw = np.array([1.0, 2.0])
    col = Col(raw, all_known(2), 0.5)
    data, known = col
    assert data.tolist() == [0.5, 1.0] and col.data is data          # kept after the first read
    assert known.tolist() == [True, True]


def test_a_value_read_by_two_expressions_is_never_overwritten_in_place():
    """Arithmetic may write its result over a scratch operand (a temporary read once); a `let` read
    by several expressions is kept and must keep its values."""
    rs = normrules.loads(HEAD + """
let site.x = energy * 2 - co2 / (1 t CO2/yr) * 1 tce/yr
let site.y = x * 3
let site.z = x + 1 tce/yr
let site.w = (x - 1 tce/yr) / (x - 1 tce/yr)
""")
    rng = np.random.default_rng(3)
    data = {"id": np.arange(500).astype(str), "share": rng.uniform(0, 100, 500),
            "energy": rng.uniform(0, 10, 500), "co2": rng.uniform(0, 10, 500)}
    data["energy"][:5] = [np.nan, 0.5, 1.0, 0.0, 2.0]
    data["co2"][:5] = [1.0, 0.0, 1.0, np.nan, 3.0]
    ev = rs.evaluate(data)
    x = np.where(np.isnan(data["energy"]) | np.isnan(data["co2"]), np.nan, data["energy"] * 2 - data["co2"])
    w = np.array([np.nan if v is None else v for v in ev.values("w")], dtype=float)
    assert np.all(np.isnan(w[np.isnan(x)]))                           # unknown where x is
    assert np.all(w[~np.isnan(w)] == 1.0)
    for i, row in enumerate(reference(rs, data)):       # and the same known/unknown as the reference
        for name in ("x", "y", "z", "w"):
            v = ev.values(name)[i]
            assert (v is None or np.isnan(v)) == (row[name] is None), (name, i)


def test_key_texts_read_like_the_array_of_key_strings():
    from normrules.tables import read_table

    rs = normrules.loads(HEAD)
    table = {"id": np.array([7, 8, 10_000_000]), "share": np.array([1.0, 2.0, 3.0]),
             "energy": np.array([1.0, 2.0, 3.0]), "co2": np.array([1.0, 2.0, 3.0])}
    ev = rs.evaluate(table)
    keys = ev.keys
    assert len(keys) == 3
    assert list(keys) == ["7", "8", "10000000"]
    assert keys[2] == "10000000" and list(keys[[0, 1]]) == ["7", "8"]
    assert list(np.asarray(keys)) == ["7", "8", "10000000"]
    assert (keys == "8").tolist() == [False, True, False]
    assert read_table is not None
