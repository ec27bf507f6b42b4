#!/usr/bin/env python
"""Latency of embedding normrules: one entity, compiling, loading compiled IR.

Run by hand (not collected by pytest)::

    .venv/bin/python benchmarks/bench_latency.py [--calls 10000] [--repeat 7] [--json FILE]

It measures, with ``time.perf_counter_ns`` and the garbage collector left on (as in a service):

1. ``normrules.evaluate_one`` on one park of the zero-carbon park ruleset: the median, 90th and 99th
   percentile and minimum over ``--calls`` single calls (after 200 warm-up calls), for the ruleset
   compiled from source and loaded from IR; the same for one PV module with four BOM lines under
   the export-market ruleset (which imports the footprint PCR). For scale: ``Ruleset.evaluate`` on
   the same one-row table and the vectorized one-row path ``embed.evaluate_row``. Target: ≤ 100 µs.
2. Compile time (``normrules.load``: parse, resolve, check, graph, plan) of every shipped ruleset
   with the unit registry, the grammar and the import index warm (one ruleset compiled first):
   the median of ``--repeat`` compiles, and the first one. Target: 100 ms.
3. IR load time (``normrules.ir.load_ir`` from JSON text, json.loads included): the median of
   ``--repeat`` loads, and the IR size. Target: 10 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import normrules  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))
import normrules  # noqa: E402
from normrules import embed, ir  # noqa: E402
from normrules.errors import CheckFailed  # noqa: E402

PARK = ROOT / "rulesets" / "gb" / "zero_carbon_park.nr"
EXPORT = ROOT / "rulesets" / "intl" / "pv_export_markets.nr"
PARK_ROW = {"id": "P1", "energy": 500_000.0, "co2": 90_000.0, "clean_share": 95.0, "product_energy_level2": True,
            "solid_waste_util": 85.0, "waste_heat_util": 60.0}
MODULE_ROW = {"module_id": "M1", "project_capacity": 150.0, "rated_power": 400.0, "line": [
    {"process": "polysilicon", "country": "CN", "quantity": 1.0, "unit": "kg"},
    {"process": "cell", "country": "CN", "quantity": 108.0, "unit": "cell"},
    {"process": "glass", "country": "CN", "quantity": 12_000.0, "unit": "g"},
    {"process": "eva", "country": "CN", "quantity": 1.0, "unit": "kg"}]}


def per_call(fn, calls: int, warmup: int = 200) -> dict:
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    times = []
    cpu = time.process_time()
    for _ in range(calls):
        t = clock()
        fn()
        times.append(clock() - t)
    cpu = time.process_time() - cpu
    times.sort()
    return {"median_us": statistics.median(times) / 1e3, "p90_us": times[int(0.9 * len(times))] / 1e3,
            "p99_us": times[int(0.99 * len(times))] / 1e3, "min_us": times[0] / 1e3,
            "cpu_mean_us": cpu / calls * 1e6, "calls": calls}


def timed(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of one call: on a busy machine the CPU time is the steadier figure."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def one_row_table(row: dict) -> tuple[dict, dict | None]:
    children = None
    table = {k: [v] for k, v in row.items() if not isinstance(v, list)}
    for k, v in row.items():
        if isinstance(v, list):
            children = {k: {f: [r.get(f) for r in v] for f in v[0]} | {"module_id": [row["module_id"]] * len(v)}}
    return table, children


def bench_evaluate_one(calls: int) -> list[tuple[str, dict]]:
    out = []
    for label, path, row in (("park", PARK, PARK_ROW), ("pv export + 4 lines", EXPORT, MODULE_ROW)):
        rs = normrules.load(path)
        from_ir = ir.load_ir(ir.dumps_ir(rs))
        table, children = one_row_table(row)
        out.append((f"evaluate_one, {label}", per_call(lambda: normrules.evaluate_one(rs, row), calls)))
        out.append((f"evaluate_one, {label}, from IR", per_call(lambda: normrules.evaluate_one(from_ir, row), calls)))
        few = max(calls // 10, 200)
        out.append((f"evaluate_row (vectorized, 1 row), {label}",
                    per_call(lambda: embed.evaluate_row(rs, row), few)))
        out.append((f"Ruleset.evaluate (1-row table), {label}",
                    per_call(lambda: rs.evaluate(table, children=children), few)))
    return out


def bench_compile_and_load(repeat: int) -> list[dict]:
    normrules.load(PARK)                       # warm: unit registry, grammar, import index
    normrules.load(EXPORT)
    rows = []
    for path in sorted((ROOT / "rulesets").rglob("*.nr")):
        name = str(path.relative_to(ROOT / "rulesets"))
        try:
            first, _ = timed(lambda: normrules.load(path))
        except CheckFailed:
            rows.append({"ruleset": name, "error": "does not compile"})
            continue
        compiles = [timed(lambda: normrules.load(path)) for _ in range(repeat)]
        text = ir.dumps_ir(normrules.load(path))
        ir.load_ir(text)
        loads = [timed(lambda: ir.load_ir(text)) for _ in range(repeat)]
        rows.append({"ruleset": name, "compile_first_ms": first * 1e3,
                     "compile_median_ms": statistics.median(w for w, _ in compiles) * 1e3,
                     "compile_cpu_median_ms": statistics.median(c for _, c in compiles) * 1e3,
                     "ir_load_median_ms": statistics.median(w for w, _ in loads) * 1e3,
                     "ir_load_cpu_median_ms": statistics.median(c for _, c in loads) * 1e3,
                     "ir_load_min_ms": min(w for w, _ in loads) * 1e3,
                     "ir_bytes": len(text.encode("utf-8"))})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=10_000, help="single evaluate_one calls per measurement")
    ap.add_argument("--repeat", type=int, default=7, help="compiles and IR loads per ruleset")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    print(f"normrules {normrules.__version__}, Python {sys.version.split()[0]}")
    print(f"\n1. one entity ({args.calls} calls; µs per call)")
    print(f"  {'':<52} {'median':>8} {'p90':>8} {'p99':>8} {'min':>8} {'CPU/call':>9}")
    single = bench_evaluate_one(args.calls)
    for label, r in single:
        print(f"  {label:<52} {r['median_us']:8.1f} {r['p90_us']:8.1f} {r['p99_us']:8.1f} {r['min_us']:8.1f} "
              f"{r['cpu_mean_us']:9.1f}")

    print(f"\n2-3. compile (registry warm) and IR load, median of {args.repeat} (ms)")
    print(f"  {'ruleset':<44} {'compile':>8} {'CPU':>7} {'(first)':>8} {'IR load':>8} {'CPU':>6} {'(min)':>6} "
          f"{'IR size':>8}")
    rows = bench_compile_and_load(args.repeat)
    for r in rows:
        if "error" in r:
            print(f"  {r['ruleset']:<44} {r['error']}")
            continue
        print(f"  {r['ruleset']:<44} {r['compile_median_ms']:8.1f} {r['compile_cpu_median_ms']:7.1f} "
              f"{r['compile_first_ms']:8.1f} {r['ir_load_median_ms']:8.2f} {r['ir_load_cpu_median_ms']:6.2f} "
              f"{r['ir_load_min_ms']:6.2f} {r['ir_bytes'] / 1024:7.1f}K")
    ok = [r for r in rows if "error" not in r]
    if ok:
        print(f"  {'max':<44} {max(r['compile_median_ms'] for r in ok):8.1f} "
              f"{max(r['compile_cpu_median_ms'] for r in ok):7.1f} {'':>8} "
              f"{max(r['ir_load_median_ms'] for r in ok):8.2f} {max(r['ir_load_cpu_median_ms'] for r in ok):6.2f}")
    if args.json:
        args.json.write_text(json.dumps({"evaluate_one": dict(single), "rulesets": rows}, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
