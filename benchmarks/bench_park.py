#!/usr/bin/env python
"""Benchmark: the zero-carbon park ruleset in normrules vs hand-written numpy vs a Python loop.

Run by hand (not collected by pytest)::

    .venv/bin/python benchmarks/bench_park.py [--sizes 1e4,1e5,1e6] [--loop-max 1e5] [--no-memory]

For every size N it generates N parks (numpy, seeded): energies below 200 000 tce/yr, in the
[200 000, 1 000 000) band and above, with values exactly on 200 000 / 1 000 000 tce/yr, on the
intensity limits (0.2 / 0.3 t CO2/tce) and on the 90 / 80 / 50 % guidance limits; about 2 % of
``co2`` and ``clean_share`` are missing (NaN).

It times (``time.perf_counter``; normrules and numpy interleaved, best of 5 each, so that a busy
machine slows both alike; the loop best of 3):

* normrules parse + compile (``normrules.load``), reported apart: the first load in the process
  (cold: builds the pint registry) and the best of 3 later loads;
* ``Ruleset.evaluate`` over a dict of numpy arrays (reading/validating the inputs included);
* a hand-written numpy version of the same logic (four-state verdicts, NaN = unknown, Kleene
  ``all``, the result's first-true-branch rule, limits compared with a tolerance of 1e-9 of the
  limit as :func:`normrules.execute.compare` does), written for speed (boolean algebra and int8
  arithmetic rather than ``np.where`` on unsorted masks); it computes what normrules computes
  (the intensity and its limit, five verdicts, the label) but does not validate ranges, convert
  units or build entity keys;
* a plain per-row Python loop of the same logic (only up to ``--loop-max`` rows; larger sizes are
  extrapolated linearly from the largest size measured — from ``--loop-max`` parks when every
  size is larger — and marked ``~``).

A second table splits normrules' time into reading the inputs (validating ranges, finding missing
values; numbers stay in the unit given, see ``compiler/execute.md``) and executing the plan.

All three must give identical verdict codes for the five rules and identical result labels
(asserted). Extra memory over the inputs is measured in a fresh subprocess per engine and size:
tracemalloc peak (numpy and Python allocations) + the Arrow memory pool's high-water mark
(Arrow buffers are invisible to tracemalloc); and, in another fresh process without tracemalloc,
the rise of the peak RSS (VmHWM, reset through /proc/self/clear_refs) as a cross-check — it
understates memory that reuses pages already resident (numpy's temporaries often do).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RULESET = ROOT / "rulesets" / "gb" / "zero_carbon_park.nr"

try:
    import normrules  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))
import normrules  # noqa: E402
from normrules.execute import execute  # noqa: E402
from normrules.tables import InputReader  # noqa: E402

PASS, FAIL, NOT_APPLICABLE, UNKNOWN = 0, 1, 2, 3
NO_LABEL = -1
LABELS = ("not in scope", "met", "not met")
RULES = ("core.intensity", "guide.clean_energy", "guide.product_energy", "guide.solid_waste", "guide.waste_heat")
RESULT = "meets_notice"
REL_TOL = 1e-9                       # normrules.execute.REL_TOL

SCOPE = 200_000.0                    # tce/yr: 20万tce/yr
BIG = 1_000_000.0                    # tce/yr: 100万tce/yr
LIMIT_BAND, LIMIT_BIG = 0.2, 0.3     # t CO2/tce
CLEAN_MIN, SOLID_MIN, HEAT_MIN = 90.0, 80.0, 50.0   # percent

# --------------------------------------------------------------------------- data


def make_parks(n: int, seed: int = 20250708) -> dict[str, np.ndarray]:
    """N parks in the declared units (tce/yr, t CO2/yr, percent); NaN = missing."""
    rng = np.random.default_rng(seed)
    band = rng.integers(0, 3, n)
    energy = np.select(
        [band == 0, band == 1],
        [rng.uniform(1_000, SCOPE, n), rng.uniform(SCOPE, BIG, n)],
        rng.uniform(BIG, 5_000_000, n),
    )
    on_edge = rng.random(n)
    energy[on_edge < 0.01] = SCOPE                       # exactly on the scope limit
    energy[(on_edge >= 0.01) & (on_edge < 0.02)] = BIG    # exactly on the 0.3 switch
    energy[(on_edge >= 0.02) & (on_edge < 0.025)] = SCOPE - 1
    energy[(on_edge >= 0.025) & (on_edge < 0.03)] = BIG - 1

    limit = np.where(energy >= BIG, LIMIT_BIG, LIMIT_BAND)
    intensity = limit * rng.uniform(0.6, 1.4, n)
    on_limit = rng.random(n) < 0.03
    intensity[on_limit] = limit[on_limit]                # intensity exactly on its limit
    co2 = energy * intensity
    co2[rng.random(n) < 0.02] = np.nan

    def percent(low, high, edge):
        v = rng.uniform(low, high, n)
        v[rng.random(n) < 0.03] = edge                    # exactly on the guidance limit
        return v

    clean = percent(75, 100, CLEAN_MIN)
    clean[rng.random(n) < 0.02] = np.nan
    return {
        "energy": energy,
        "co2": co2,
        "clean_share": clean,
        "product_energy_level2": rng.random(n) < 0.9,
        "solid_waste_util": percent(70, 100, SOLID_MIN),
        "waste_heat_util": percent(40, 100, HEAT_MIN),
    }


# --------------------------------------------------------------------------- numpy by hand


def _at_least(x, limit):            # execute.compare(">=", x, limit)
    return x >= limit - REL_TOL * abs(limit)


def numpy_park(d: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The park ruleset written directly in numpy: verdict codes per rule and result label codes.

    Written for speed the way one would by hand: boolean algebra and small-integer arithmetic for
    the four-state verdicts and the labels (``np.where`` on masks without long runs is ~10× slower),
    a two-entry lookup table for the 0.2 / 0.3 limit.
    """
    energy, co2 = d["energy"], d["co2"]
    e_known = ~np.isnan(energy)
    in_scope = _at_least(energy, SCOPE)                    # applies: true (NaN compares false)
    out_scope = e_known & ~in_scope                        # applies: false

    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = co2 / energy
    int_known = np.isfinite(intensity)                     # NaN input or division by zero → unknown
    limit = np.array([LIMIT_BAND, LIMIT_BIG])[_at_least(energy, BIG).view(np.uint8)]
    core_ok = intensity <= limit + REL_TOL * limit         # execute.compare("<=", …) with an array limit

    def verdict(ok, known=None):
        decided = in_scope if known is None else in_scope & known
        # PASS is 0; the three masks are disjoint; what none covers (unknown scope or data) is UNKNOWN
        return ((decided & ~ok) * np.int8(FAIL) + out_scope * np.int8(NOT_APPLICABLE)
                + ~(decided | out_scope) * np.int8(UNKNOWN))

    clean = d["clean_share"]
    codes = {
        "core.intensity": verdict(core_ok, int_known),
        "guide.clean_energy": verdict(_at_least(clean, CLEAN_MIN), ~np.isnan(clean)),
        "guide.product_energy": verdict(d["product_energy_level2"]),
        "guide.solid_waste": verdict(_at_least(d["solid_waste_util"], SOLID_MIN)),
        "guide.waste_heat": verdict(_at_least(d["waste_heat_util"], HEAT_MIN)),
    }
    any_fail = np.zeros(len(energy), dtype=bool)
    any_unknown = np.zeros(len(energy), dtype=bool)
    for c in codes.values():
        any_fail |= c == FAIL
        any_unknown |= c == UNKNOWN
    # "not in scope" (0) first; in scope: any fail → "not met" (2), else any unknown → unknown
    # (NO_LABEL), else "met" (1); an unknown scope leaves the label unknown.
    met = in_scope & ~any_fail & ~any_unknown
    not_met = in_scope & any_fail
    labels = np.full(len(energy), NO_LABEL, dtype=np.int16)
    labels += out_scope * np.int16(0 - NO_LABEL) + met * np.int16(1 - NO_LABEL) + not_met * np.int16(2 - NO_LABEL)
    return codes, labels


# --------------------------------------------------------------------------- per-row loop


def loop_park(d: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The same logic, one row at a time in plain Python."""
    cols = [d[k].tolist() for k in ("energy", "co2", "clean_share", "product_energy_level2",
                                    "solid_waste_util", "waste_heat_util")]
    n = len(cols[0])
    out = {r: [0] * n for r in RULES}
    labels = [NO_LABEL] * n
    scope_t, big_t = SCOPE * (1 - REL_TOL), BIG * (1 - REL_TOL)
    clean_t, solid_t, heat_t = CLEAN_MIN * (1 - REL_TOL), SOLID_MIN * (1 - REL_TOL), HEAT_MIN * (1 - REL_TOL)
    core, clean_r, prod_r, solid_r, heat_r = (out[r] for r in RULES)
    for i, (energy, co2, clean, prod, solid, heat) in enumerate(zip(*cols)):
        if energy != energy:                                # unknown scope
            core[i] = clean_r[i] = prod_r[i] = solid_r[i] = heat_r[i] = UNKNOWN
            continue
        if energy < scope_t:
            core[i] = clean_r[i] = prod_r[i] = solid_r[i] = heat_r[i] = NOT_APPLICABLE
            labels[i] = 0
            continue
        if co2 != co2 or energy == 0:
            c = UNKNOWN
        else:
            limit = LIMIT_BIG if energy >= big_t else LIMIT_BAND
            c = PASS if co2 / energy <= limit * (1 + REL_TOL) else FAIL
        g = UNKNOWN if clean != clean else (PASS if clean >= clean_t else FAIL)
        p = PASS if prod else FAIL
        s = PASS if solid >= solid_t else FAIL
        h = PASS if heat >= heat_t else FAIL
        core[i], clean_r[i], prod_r[i], solid_r[i], heat_r[i] = c, g, p, s, h
        verdicts = (c, g, p, s, h)
        if FAIL in verdicts:
            labels[i] = 2
        elif UNKNOWN not in verdicts:
            labels[i] = 1
    return ({r: np.array(v, dtype=np.int8) for r, v in out.items()}, np.array(labels, dtype=np.int16))


# --------------------------------------------------------------------------- timing


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(repeat):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def best_interleaved(fns: dict, repeat: int = 5) -> dict[str, tuple[float, object]]:
    """Each function's best time and last result, the functions run in turn ``repeat`` times."""
    out = {name: (math.inf, None) for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            best = out[name][0]
            out[name] = (best, None)                 # the previous result is freed before the next run
            gc.collect()
            t0 = time.perf_counter()
            result = fn()
            out[name] = (min(best, time.perf_counter() - t0), result)
            del result
    return out


def check_same(name: str, ev, codes: dict[str, np.ndarray], labels: np.ndarray) -> None:
    for rule in RULES:
        mine = codes[rule]
        theirs = ev.verdict_codes(rule)
        if not np.array_equal(mine, theirs):
            i = int(np.flatnonzero(mine != theirs)[0])
            raise AssertionError(f"{name}: {rule} differs from normrules at row {i}: {mine[i]} vs {theirs[i]}")
    if not np.array_equal(labels, ev.columns[RESULT].data):
        i = int(np.flatnonzero(labels != ev.columns[RESULT].data)[0])
        raise AssertionError(f"{name}: {RESULT} differs from normrules at row {i}")
    table = np.array(list(LABELS) + [None], dtype=object)
    assert list(table[np.where(labels == NO_LABEL, len(LABELS), labels)]) == ev.labels(RESULT), name


def fmt_s(t: float | None, approx: bool = False) -> str:
    if t is None:
        return "—"
    prefix = "~" if approx else ""
    if t < 1e-3:
        return f"{prefix}{t * 1e6:.0f} µs"
    if t < 1:
        return f"{prefix}{t * 1e3:.1f} ms"
    return f"{prefix}{t:.2f} s"


def fmt_mb(b: float | None) -> str:
    return "—" if b is None else f"{b / 2**20:.1f} MiB"


# --------------------------------------------------------------------------- memory (child)


def _vm(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _memory_child(engine: str, n: int, traced: bool) -> None:
    """In a fresh process: extra memory (over the inputs) used by one engine at size n.

    ``traced``: tracemalloc peak + Arrow pool high-water mark; else the rise of the peak RSS
    (measured without tracemalloc, whose own bookkeeping would inflate the RSS).
    """
    import tracemalloc

    import pyarrow as pa

    rs = normrules.load(RULESET)
    data = make_parks(n)
    if engine == "normrules":
        rs.evaluate({k: v[:10] for k, v in data.items()})      # warm imports and caches
        run = lambda: rs.evaluate(data)  # noqa: E731
    else:
        numpy_park({k: v[:10] for k, v in data.items()})
        run = lambda: numpy_park(data)  # noqa: E731
    gc.collect()
    pool = pa.default_memory_pool()
    arrow_before = pool.bytes_allocated()
    hwm_ok = True
    try:
        with open("/proc/self/clear_refs", "w") as fh:        # reset VmHWM to the current RSS
            fh.write("5")
    except OSError:
        hwm_ok = False
    rss_before = _vm("VmRSS")
    if traced:
        tracemalloc.start()
    result = run()
    traced_peak = tracemalloc.get_traced_memory()[1] if traced else None
    tracemalloc.stop()
    arrow_peak = max(pool.max_memory() - arrow_before, 0)
    rss_peak = _vm("VmHWM") - rss_before if hwm_ok and not traced else None
    del result
    print(json.dumps({"traced": traced_peak, "arrow": arrow_peak, "rss": rss_peak,
                      "inputs": int(sum(v.nbytes for v in data.values()))}))


def measure_memory(engine: str, n: int) -> dict:
    def child(mode: str) -> dict:
        out = subprocess.run([sys.executable, __file__, "--_memory", engine, str(n), mode],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    traced, rss = child("traced"), child("rss")
    return traced | {"rss": rss["rss"]}


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e4,1e5,1e6", help="comma-separated entity counts (default 1e4,1e5,1e6)")
    ap.add_argument("--loop-max", default="1e5", help="largest size timed with the Python loop (default 1e5)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    ap.add_argument("--_memory", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._memory:
        _memory_child(args._memory[0], int(float(args._memory[1])), args._memory[2] == "traced")
        return

    sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()]
    loop_max = int(float(args.loop_max))

    t0 = time.perf_counter()
    rs = normrules.load(RULESET)
    cold = time.perf_counter() - t0
    warm, _ = best_of(lambda: normrules.load(RULESET))

    import numpy
    import pyarrow
    print(f"normrules park benchmark — {RULESET.relative_to(ROOT)}")
    print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}, pyarrow {pyarrow.__version__}, "
          f"{os.cpu_count()} CPU(s); times: normrules and numpy interleaved, best of 5 each; loop best of 3")
    print(f"parse + compile (normrules.load): first {fmt_s(cold)} (cold, builds the pint registry), "
          f"best of 3 later {fmt_s(warm)}")
    print()

    rows, stages, loop_rate = [], [], None
    if sizes and min(sizes) > loop_max:           # no size small enough: the loop's rate from loop_max parks
        data = make_parks(loop_max)
        t_loop, (lp_codes, lp_labels) = best_of(lambda: loop_park(data))
        check_same("loop", rs.evaluate(data), lp_codes, lp_labels)
        loop_rate, loop_from = t_loop / loop_max, loop_max
        print(f"N={loop_max:>9,}: loop {fmt_s(t_loop)}, verdicts identical to normrules (the rate extrapolated below)")
    for n in sizes:
        data = make_parks(n)
        timed = best_interleaved({"normrules": lambda: rs.evaluate(data), "numpy": lambda: numpy_park(data)})
        (t_nr, ev), (t_np, (np_codes, np_labels)) = timed["normrules"], timed["numpy"]
        check_same("numpy", ev, np_codes, np_labels)
        if n <= loop_max:
            t_loop, (lp_codes, lp_labels) = best_of(lambda: loop_park(data))
            check_same("loop", ev, lp_codes, lp_labels)
            loop_rate, loop_from, approx = t_loop / n, n, False
        elif loop_rate is not None:
            t_loop, approx = loop_rate * n, True
        else:
            t_loop, approx = None, False
        c = ev.counts()
        # where normrules' time goes: reading the inputs (range checks, known masks) and executing the plan
        t_read, (inputs, _, _) = best_of(lambda: InputReader(rs.checked).read(data), 5)
        t_exec, _ = best_of(lambda: execute(rs.plan, inputs, n), 5)
        stages.append((n, t_read, t_exec))
        rows.append((n, t_nr, t_np, t_loop, approx))
        print(f"N={n:>9,}: verdicts identical in normrules / numpy / loop"
              f"{'' if n <= loop_max else ' (loop not run)'}; "
              f"core.intensity {c['core.intensity']}, meets_notice {c[RESULT]}")
        del ev, data
    print()
    header = f"{'N':>10} | {'normrules':>10} | {'numpy':>10} | {'loop':>10} | {'normrules/numpy':>15} | {'loop/normrules':>14}"
    print(header)
    print("-" * len(header))
    for n, t_nr, t_np, t_loop, approx in rows:
        ratio_loop = f"{'~' if approx else ''}{t_loop / t_nr:.1f}×" if t_loop is not None else "—"
        print(f"{n:>10,} | {fmt_s(t_nr):>10} | {fmt_s(t_np):>10} | {fmt_s(t_loop, approx):>10} | "
              f"{t_nr / t_np:>14.2f}× | {ratio_loop:>14}")
    if any(approx for *_, approx in rows):
        print(f"(~ = loop not run at this size; extrapolated linearly from N={loop_from:,})")
    print()
    print("normrules stages (each best of 5):")
    header = (f"{'N':>10} | {'read inputs':>11} | {'read/numpy':>10} | {'execute':>10} | {'execute/numpy':>13}")
    print(header)
    print("-" * len(header))
    for (n, t_read, t_exec), (_, t_nr, t_np, _, _) in zip(stages, rows):
        print(f"{n:>10,} | {fmt_s(t_read):>11} | {t_read / t_np:>9.2f}× | {fmt_s(t_exec):>10} | {t_exec / t_np:>12.2f}×")
    print("(entity keys — the row numbers \"1\", \"2\", … of a table without an id column — are made only when read)")

    mem = {}
    if not args.no_memory:
        print()
        print("extra memory over the inputs during one evaluation (fresh process per cell):")
        header = (f"{'N':>10} | {'inputs':>10} | {'normrules':>22} | {'numpy':>22} | {'ratio':>6} | "
                  f"{'peak RSS rise nr / np':>24}")
        print(header)
        print("-" * len(header))
        for n in sizes:
            a, b = measure_memory("normrules", n), measure_memory("numpy", n)
            nr_total, np_total = a["traced"] + a["arrow"], b["traced"] + b["arrow"]
            mem[n] = nr_total / np_total
            rss = (f"{fmt_mb(a['rss'])} / {fmt_mb(b['rss'])}" if a["rss"] is not None else "n/a")
            print(f"{n:>10,} | {fmt_mb(a['inputs']):>10} | "
                  f"{fmt_mb(nr_total):>10} (arrow {fmt_mb(a['arrow'])}) | "
                  f"{fmt_mb(np_total):>10} (arrow {fmt_mb(b['arrow'])}) | {nr_total / np_total:>5.2f}× | {rss:>24}")
        print("(tracemalloc peak + Arrow pool high-water mark; both peaks added, so an upper bound)")

    big = [r for r in rows if r[0] == 1_000_000]
    if big:
        n, t_nr, t_np, t_loop, approx = big[0]
        print()
        print("targets at N=1e6:")
        print(f"  normrules ≤ 1.2× numpy time : {t_nr / t_np:.2f}× — {'met' if t_nr / t_np <= 1.2 else 'MISSED'}")
        if t_loop is not None:
            print(f"  ≥ 10× faster than the loop  : {'~' if approx else ''}{t_loop / t_nr:.0f}× — "
                  f"{'met' if t_loop / t_nr >= 10 else 'MISSED'}{' (loop extrapolated)' if approx else ''}")
        if n in mem:
            print(f"  memory ≤ 2× numpy's         : {mem[n]:.2f}× — {'met' if mem[n] <= 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
