#!/usr/bin/env python
"""Benchmark: the PV module footprint (``rulesets/iec/pv_module_cfp.nr``) in normrules vs numpy.

Run by hand (not collected by pytest)::

    .venv/bin/python benchmarks/bench_pcr.py [--modules 1e6] [--lines 10] [--repeat 3] [--profile]

Data: ``--modules`` modules with ``--lines`` bill-of-materials lines each (default 10⁶ × 10 =
10⁷ child rows), from ``tests/strategies.py::pv_tables`` (seeded): every process × country, lines
in kg, g or t of a material, in wafers or in cells (each fitting its process), about 2 % of the
quantities and rated powers missing (NaN). Module keys are integers (``module_id``); the text
columns are Arrow dictionary arrays, as a Parquet file or a categorical DataFrame column gives them.

It times (best of ``--repeat``, ``time.perf_counter``):

* normrules compile (``normrules.load``), reported apart;
* ``Ruleset.evaluate(modules, children={"line": lines})``: reading and validating both tables,
  linking every line to its module by key, and executing the plan (per line: unit conversion into
  the process's unit, two factor lookups, the product; per module: five sums, a count, a division);
  split into reading + linking (``InputReader.read_all``) and executing the plan;
* a hand-written numpy version of the footprint: per line ``quantity × conversion[unit, process
  unit] × factor[process, country]`` from dense lookup arrays, then per module ``np.bincount``
  (sums in line order) — and the same with ``np.add.reduceat`` over the module-by-module line
  order. It works on the integer codes behind the columns (no text, no key matching, no
  validation) and computes only ``cfp`` (unknown when a line's quantity is missing or the module
  has no line).

The footprints must be identical: normrules vs bincount float-equal, reduceat within 1e-12
relative (it may add in another order) — asserted. ``--profile`` prints a cProfile of one
evaluation.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RULESET = ROOT / "rulesets" / "iec" / "pv_module_cfp.nr"

try:
    import normrules  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))
import normrules  # noqa: E402
from normrules.execute import execute  # noqa: E402
from normrules.tables import InputReader  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from strategies import PV_COUNTRIES, PV_PROCESSES, PV_UNITS, pv_tables  # noqa: E402


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


# --------------------------------------------------------------------------- numpy by hand


def factor_arrays(ruleset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense lookup arrays from the ruleset's factor table (data, not logic): factor [kg CO2e] and
    the process's unit per (process, country), and the conversion factor between line units."""
    table = next(t for t in ruleset.checked.tables if t.name == "pv_factor")
    factor = np.full((len(PV_PROCESSES), len(PV_COUNTRIES)), np.nan)
    target = np.zeros((len(PV_PROCESSES), len(PV_COUNTRIES)), dtype=np.int64)
    for process, country, f, unit in table.rows:
        i, j = PV_PROCESSES.index(process), PV_COUNTRIES.index(country)
        factor[i, j], target[i, j] = f, PV_UNITS.index(unit)
    mass = {"kg": 1.0, "g": 0.001, "t": 1000.0}
    conversion = np.full((len(PV_UNITS), len(PV_UNITS)), np.nan)
    for a, ua in enumerate(PV_UNITS):
        for b, ub in enumerate(PV_UNITS):
            if ua in mass and ub in mass:
                conversion[a, b] = mass[ua] / mass[ub]
            elif ua == ub:
                conversion[a, b] = 1.0
    return factor, target, conversion


def line_emissions(codes, quantity, arrays) -> np.ndarray:
    factor, target, conversion = arrays
    p, c = codes["process"], codes["country"]
    return quantity * conversion[codes["unit"], target[p, c]] * factor[p, c]


def numpy_bincount(codes, quantity, n: int, arrays) -> np.ndarray:
    e = line_emissions(codes, quantity, arrays)
    module = codes["module"]
    missing = np.isnan(e)
    total = np.bincount(module, weights=np.where(missing, 0.0, e), minlength=n)
    unknown = np.bincount(module[missing], minlength=n) > 0
    lines = np.bincount(module, minlength=n)
    return np.where((lines > 0) & ~unknown, total, np.nan)


def numpy_reduceat(codes, quantity, n: int, arrays) -> np.ndarray:
    """The same over lines stored module by module (every module has lines here)."""
    e = line_emissions(codes, quantity, arrays)
    module = codes["module"]
    starts = np.flatnonzero(np.r_[True, module[1:] != module[:-1]])
    total = np.add.reduceat(e, starts)                    # NaN propagates: a missing line → unknown
    out = np.full(n, np.nan)
    out[module[starts]] = total
    return out


# --------------------------------------------------------------------------- run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", type=float, default=1e6)
    ap.add_argument("--lines", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    n, k = int(args.modules), args.lines

    t = time.perf_counter()
    ruleset = normrules.load(RULESET)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    modules, lines, codes = pv_tables(n, k, seed=20240101, arrow=True)
    gen_s = time.perf_counter() - t
    children = {"line": lines}
    arrays = factor_arrays(ruleset)

    ruleset.evaluate(modules, children=children)            # warm up (kernels, caches)
    eval_s, ev = best(lambda: ruleset.evaluate(modules, children=children), args.repeat)

    def read():
        return InputReader(ruleset.checked).read_all({"module": modules, **children})

    read_s, (inputs, entities, _) = best(read, args.repeat)
    exec_s, _ = best(lambda: execute(ruleset.plan, inputs, entities), args.repeat)
    bincount_s, cfp_bincount = best(lambda: numpy_bincount(codes, lines["quantity"], n, arrays), args.repeat)
    reduceat_s, cfp_reduceat = best(lambda: numpy_reduceat(codes, lines["quantity"], n, arrays), args.repeat)

    cfp = ev.values("cfp")
    assert np.array_equal(cfp, cfp_bincount, equal_nan=True), "normrules and numpy (bincount) differ"
    assert np.array_equal(np.isnan(cfp), np.isnan(cfp_reduceat))
    both = ~np.isnan(cfp)
    assert np.all(np.abs(cfp[both] - cfp_reduceat[both]) <= 1e-12 * np.abs(cfp[both])), "reduceat differs"
    unknown = int(np.isnan(cfp).sum())

    rows = n * k
    print(f"PV module footprint: {n:,} modules × {k} BOM lines = {rows:,} line rows "
          f"({unknown:,} footprints unknown: a missing quantity)")
    print(f"data generation {gen_s:.2f} s (not timed below); normrules compile {compile_s * 1000:.0f} ms (apart)")
    print()
    print(f"{'engine':<44} {'seconds':>8} {'ns/line':>8} {'× numpy':>8}")
    base = bincount_s
    for name, s in (("normrules evaluate (read + link + execute)", eval_s),
                    ("  of it: read inputs + link lines to modules", read_s),
                    ("  of it: execute the plan", exec_s),
                    ("numpy by hand, np.bincount", bincount_s),
                    ("numpy by hand, np.add.reduceat", reduceat_s)):
        print(f"{name:<44} {s:>8.3f} {s / rows * 1e9:>8.1f} {s / base:>8.2f}")
    print()
    print("cfp identical: normrules == numpy bincount (float-exact); reduceat within 1e-12 relative")
    print(f"normrules / numpy (bincount): {eval_s / bincount_s:.2f}×  (target ≤ 2×)")

    if args.profile:
        pr = cProfile.Profile()
        pr.enable()
        ruleset.evaluate(modules, children=children)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
