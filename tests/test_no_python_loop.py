"""The executor has no Python loop over entities.

``sys.setprofile`` counts every Python function call ('call') and every call of a builtin or C
function from Python ('c_call') made during :meth:`normrules.Ruleset.evaluate` — reading the table,
converting units, executing the plan. For the zero-carbon park ruleset that count must be the same
for 100 parks and for 10 000 parks (same data generator, with missing values): the Python work
depends on the size of the ruleset, never on the number of rows. A second test counts executed
Python lines (``sys.settrace``) the same way, which also catches a loop that makes no calls.

The same holds with child entities: the PV module footprint (``rulesets/iec/pv_module_cfp.nr``:
per-line unit conversion and factor lookups, sums per module) and the export-market thresholds
importing it (``rulesets/intl/pv_export_markets.nr``) make as many Python calls, and run each
line as often, for 100 modules × 10 BOM lines as for 10 000 modules × 10 lines — no loop over
modules (parents) or over lines.
"""

from __future__ import annotations

import gc
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import normrules

from strategies import park_table, pv_tables

ROOT = Path(__file__).resolve().parents[1]
PARK = ROOT / "rulesets" / "gb" / "zero_carbon_park.nr"
PV_RULESETS = {"pcr": ROOT / "rulesets" / "iec" / "pv_module_cfp.nr",
               "export": ROOT / "rulesets" / "intl" / "pv_export_markets.nr"}


def trace_lines(fn) -> Counter:
    """Python lines executed while running ``fn()``, by (file, line). Catches loops that call nothing
    (``for x in column: total += x``), which the profile hook cannot see."""
    lines: Counter = Counter()

    def tracer(frame, event, arg):
        if event == "line":
            lines[(frame.f_code.co_filename, frame.f_lineno)] += 1
        return tracer

    gc.collect()
    gc.disable()              # see profile_calls
    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(old)
        gc.enable()
    return lines


def profile_calls(fn) -> Counter:
    """Calls made while running ``fn()``, by (event, function)."""
    calls: Counter = Counter()

    def hook(frame, event, arg):
        if event == "call":
            code = frame.f_code
            calls[("call", f"{code.co_filename}:{code.co_firstlineno}:{code.co_name}")] += 1
        elif event == "c_call":
            calls[("c_call", getattr(arg, "__qualname__", None) or repr(arg))] += 1

    # garbage collection runs callbacks of other libraries (hypothesis registers one) at moments
    # that depend on allocation history, not on the code under test: keep it out of the count
    gc.collect()
    gc.disable()
    old = sys.getprofile()
    sys.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(old)
        gc.enable()
    return calls


@pytest.fixture(scope="module")
def park():
    return normrules.load(PARK)


def test_park_data_has_missing_values():
    table = park_table(100, seed=1)
    for name in ("energy", "co2", "clean_share", "solid_waste_util", "waste_heat_util"):
        assert 0 < sum(v != v for v in table[name]) < 100, name          # NaN
    assert 0 < table["product_energy_level2"].count(None) < 100


def test_call_count_does_not_depend_on_rows(park):
    small, large = park_table(100, seed=1), park_table(10_000, seed=2)
    park.evaluate(small)                                      # warm caches (units, pyarrow kernels)
    park.evaluate(large)
    counts = {n: profile_calls(lambda t=t: park.evaluate(t)) for n, t in ((100, small), (10_000, large))}
    a, b = counts[100], counts[10_000]
    differing = {k: (a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)}
    assert not differing, f"Python calls that depend on the number of rows (100 vs 10 000): {differing}"
    assert sum(a.values()) == sum(b.values())
    assert sum(a.values()) > 100          # the hook did see the evaluation


def test_executed_lines_do_not_depend_on_rows(park):
    small, large = park_table(100, seed=4), park_table(10_000, seed=5)
    park.evaluate(small)
    park.evaluate(large)
    a, b = (trace_lines(lambda t=t: park.evaluate(t)) for t in (small, large))
    differing = {k: (a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)}
    assert not differing, f"lines run a number of times that depends on the number of rows: {differing}"
    assert sum(a.values()) > 100


def test_evaluation_of_generated_park_data_is_sane(park):
    ev = park.evaluate(park_table(10_000, seed=3))
    counts = ev.counts()
    assert set(counts["core.intensity"]) == {"pass", "fail", "not_applicable", "unknown"}
    assert all(v > 0 for v in counts["core.intensity"].values())
    assert all(v > 0 for v in counts["meets_notice"].values())


# ------------------------------------------------------------------ child entities: PV footprint


@pytest.fixture(scope="module", params=sorted(PV_RULESETS))
def pv(request):
    return normrules.load(PV_RULESETS[request.param])


def _pv_evaluate(ruleset, data):
    modules, lines, _ = data
    return ruleset.evaluate(modules, children={"line": lines})


def _differing(a: Counter, b: Counter) -> dict:
    return {k: (a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)}


def test_pv_data_has_missing_values():
    modules, lines, _ = pv_tables(100, seed=1)
    assert 0 < int(np.isnan(lines["quantity"]).sum()) < 1000
    assert 0 < int(np.isnan(modules["rated_power"]).sum()) < 100


def test_pv_call_count_does_not_depend_on_modules(pv):
    small, large = pv_tables(100, seed=1), pv_tables(10_000, seed=2)
    _pv_evaluate(pv, small)                                # warm caches
    _pv_evaluate(pv, large)
    a, b = (profile_calls(lambda d=d: _pv_evaluate(pv, d)) for d in (small, large))
    differing = _differing(a, b)
    assert not differing, f"Python calls that depend on the number of modules (100 vs 10 000, × 10 lines): {differing}"
    assert sum(a.values()) > 100


def test_pv_executed_lines_do_not_depend_on_modules(pv):
    small, large = pv_tables(100, seed=3), pv_tables(10_000, seed=4)
    _pv_evaluate(pv, small)
    _pv_evaluate(pv, large)
    a, b = (trace_lines(lambda d=d: _pv_evaluate(pv, d)) for d in (small, large))
    differing = _differing(a, b)
    assert not differing, f"lines run a number of times that depends on the number of modules: {differing}"
    assert sum(a.values()) > 100


def test_pv_evaluation_of_generated_data_is_sane():
    export = normrules.load(PV_RULESETS["export"])
    ev = _pv_evaluate(export, pv_tables(10_000, seed=5))
    counts = ev.counts()
    assert all(v > 0 for v in counts["fr.cre"].values())        # pass, fail, not_applicable, unknown
    assert all(v > 0 for k, v in counts["epeat"].items())
    assert ev.counters.total_lookup_misses == 0
