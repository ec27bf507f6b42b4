#!/usr/bin/env python
"""Benchmark: peak memory of ``normrules eval`` streaming a file larger than one batch.

Run by hand (not collected by pytest)::

    .venv/bin/python benchmarks/bench_stream_rss.py [--rows 1e7] [--modules 1e6] [--lines 10]
                                                    [--batch-rows 262144] [--dir DIR] [--keep]

Generates, on disk and a chunk at a time (never the whole table in memory):

* ``--rows`` zero-carbon parks (``rulesets/gb/zero_carbon_park.nr``) as CSV — headers with units
  (``energy [万tce/yr]``), percentages written ``93%`` in one row of seven, booleans ``是``/``否``,
  2 % of the co2 cells empty — and the same rows as Parquet;
* ``--modules`` PV modules with ``--lines`` bill-of-materials lines each (``rulesets/iec/
  pv_module_cfp.nr``), the lines grouped by module in module order, as CSV;

then runs ``normrules eval … -o OUT`` on each in a subprocess and reports its wall time and peak
resident memory (``ru_maxrss`` of that child, from ``os.wait4``), and the output's size. The target
is under 2 GB for 10⁷ rows. ``--rows 0`` or ``--modules 0`` skips a case.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 500_000


def park_chunks(rows: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        index = np.arange(start, start + n)
        share = rng.uniform(50, 100, n).round(1).astype(str)
        share = np.where(index % 7 == 0, np.char.add(share, "%"), share)
        co2 = rng.uniform(0.5, 90, n).round(2).astype(str)
        co2 = np.where(rng.random(n) < 0.02, "", co2)
        yield pa.table({
            "id": pa.array(np.char.add("P", np.char.zfill(index.astype(str), 8))),
            "energy [万tce/yr]": rng.uniform(5, 300, n).round(2),
            "co2 [万t CO2/yr]": pa.array(co2),
            "clean_share": pa.array(share),
            "product_energy_level2": pa.array(np.where(rng.random(n) < 0.8, "是", "否")),
            "solid_waste_util": rng.uniform(50, 100, n).round(1),
            "waste_heat_util": rng.uniform(0, 100, n).round(1),
        })


def pcr_chunks(modules: int, lines: int, seed: int = 11):
    """(modules table, lines table) per chunk of modules; lines grouped by module, in module order."""
    rng = np.random.default_rng(seed)
    processes = np.array(["polysilicon", "wafer", "cell", "glass", "eva", "pet"])
    units = np.array(["kg", "wafer", "cell", "g", "kg", "kg"])
    countries = np.array(["CN", "FR", "DE", "US"])
    per = max(1, CHUNK // lines)
    for start in range(0, modules, per):
        n = min(per, modules - start)
        ids = np.char.add("M", np.char.zfill(np.arange(start, start + n).astype(str), 7))
        module = pa.table({"module_id": pa.array(ids), "rated_power [W]": rng.uniform(300, 700, n).round(0)})
        k = n * lines
        owner = np.repeat(ids, lines)
        line_no = np.arange(start * lines, start * lines + k)
        p = rng.integers(0, len(processes), k)
        line = pa.table({
            "line_id": pa.array(np.char.add("L", np.char.zfill(line_no.astype(str), 9))),
            "module_id": pa.array(owner), "process": pa.array(processes[p]),
            "country": pa.array(countries[rng.integers(0, 4, k)]),
            "quantity": rng.uniform(0.1, 200, k).round(3), "unit": pa.array(units[p]),
        })
        yield module, line


def write_csv(path: Path, chunks) -> None:
    writer = None
    for table in chunks:
        if writer is None:
            writer = pacsv.CSVWriter(str(path), table.schema)
        writer.write_table(table)
    writer.close()


def run(label: str, args: list[str]) -> None:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "normrules", "eval", *args, "-q"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label}: normrules eval failed:\n{err}")
    out = Path(args[args.index("-o") + 1])
    print(f"{label:<44} {seconds:8.1f} s   peak RSS {usage.ru_maxrss / 1024 ** 2:6.2f} GB   "
          f"output {out.stat().st_size / 1e9:.2f} GB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--modules", type=float, default=1e6)
    ap.add_argument("--lines", type=int, default=10)
    ap.add_argument("--batch-rows", type=int, default=None)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the data (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    a = ap.parse_args()
    rows, modules = int(a.rows), int(a.modules)
    work = a.dir or Path(tempfile.mkdtemp(prefix="normrules-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    batch = ["--batch-rows", str(a.batch_rows)] if a.batch_rows else []
    try:
        if rows:
            csv, parquet = work / "parks.csv", work / "parks.parquet"
            t = time.perf_counter()
            write_csv(csv, park_chunks(rows))
            with pq.ParquetWriter(parquet, next(park_chunks(1)).schema) as writer:
                for table in park_chunks(rows):
                    writer.write_table(table)
            print(f"generated {rows:,} parks: CSV {csv.stat().st_size / 1e9:.2f} GB, Parquet "
                  f"{parquet.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t:.0f} s", flush=True)
            park = str(ROOT / "rulesets/gb/zero_carbon_park.nr")
            run(f"parks CSV → CSV ({rows:,} rows)", [park, "-i", str(csv), "-o", str(work / "out.csv"), *batch])
            run(f"parks Parquet → Parquet ({rows:,} rows)",
                [park, "-i", str(parquet), "-o", str(work / "out.parquet"), *batch])
        if modules:
            mods, lines = work / "modules.csv", work / "lines.csv"
            t = time.perf_counter()
            mw = lw = None
            for m, line in pcr_chunks(modules, a.lines):
                mw = mw or pacsv.CSVWriter(str(mods), m.schema)
                lw = lw or pacsv.CSVWriter(str(lines), line.schema)
                mw.write_table(m)
                lw.write_table(line)
            mw.close()
            lw.close()
            print(f"generated {modules:,} modules × {a.lines} lines: {lines.stat().st_size / 1e9:.2f} GB of lines "
                  f"in {time.perf_counter() - t:.0f} s", flush=True)
            run(f"PCR CSV → CSV ({modules:,} × {a.lines} lines)",
                [str(ROOT / "rulesets/iec/pv_module_cfp.nr"), "-i", f"module={mods}", "-i", f"line={lines}",
                 "-o", str(work / "pcr.csv"), *batch])
    finally:
        if not a.keep and a.dir is None:
            for p in work.iterdir():
                p.unlink()
            work.rmdir()


if __name__ == "__main__":
    main()
