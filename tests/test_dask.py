"""Distributed evaluation (`normrules.dask`) on a `distributed.LocalCluster` of threads: results
identical to `Ruleset.evaluate` on the whole tables, with and without child entities; data errors;
`normrules eval --dask` (`run_eval_command`) writing files."""

from __future__ import annotations

import pickle
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

import normrules
from normrules import dask as nrdask
from normrules.cli import _summary, main
from normrules.tables import read_table

ROOT = Path(__file__).resolve().parent.parent
PARK = ROOT / "rulesets/gb/zero_carbon_park.nr"
PV = ROOT / "rulesets/iec/pv_module_cfp.nr"
EXPORT = ROOT / "rulesets/intl/pv_export_markets.nr"
PARKS, MODULES, LINES = ROOT / "examples/parks.csv", ROOT / "examples/modules.csv", ROOT / "examples/bom_lines.csv"


@pytest.fixture(scope="module")
def cluster():
    # the task-based shuffle: for a few hundred rows it is several times faster than p2p.
    # dashboard_address=":0": no fixed port (with None, this distributed still serves its HTTP routes on 8787)
    with dask.config.set({"dataframe.shuffle.method": "tasks"}):
        with LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
            with Client(c) as client:
                yield client


@pytest.fixture(scope="module")
def park():
    return normrules.load(PARK)


@pytest.fixture(scope="module")
def pv():
    return normrules.load(PV)


def as_arrow(frame: pd.DataFrame, like: pa.Table) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(like.schema.metadata)


def parks_frame(n: int, seed: int = 7) -> pd.DataFrame:
    """Parks in the declared units (tce/yr, t CO2/yr, percent), some values missing."""
    rng = np.random.default_rng(seed)
    energy = rng.uniform(50_000, 3_000_000, n)
    frame = pd.DataFrame({
        "id": [f"G{i:05d}" for i in range(n)],
        "energy": energy,
        "co2": energy * rng.uniform(0.05, 0.35, n),
        "clean_share": rng.uniform(60, 100, n),
        "product_energy_level2": rng.random(n) < 0.9,
        "solid_waste_util": rng.uniform(60, 100, n),
        "waste_heat_util": rng.uniform(30, 90, n),
    })
    frame.loc[rng.random(n) < 0.05, "co2"] = np.nan
    frame.loc[rng.random(n) < 0.05, "clean_share"] = np.nan
    return frame


def pv_frames(modules: int, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Modules and BOM lines; lines in random order, so a module's lines fall in several partitions."""
    rng = np.random.default_rng(seed)
    mods = pd.DataFrame({"module_id": [f"M{i:04d}" for i in range(modules)],
                         "rated_power": rng.uniform(300, 700, modules)})
    per = rng.integers(0, 7, modules)                      # some modules have no line: unknown footprint
    owner = np.repeat(mods["module_id"].to_numpy(), per)
    n = len(owner)
    processes = np.array(["polysilicon", "ingot", "wafer", "cell", "glass", "eva", "pet", "pvf"])
    units = {"polysilicon": "kg", "ingot": "kg", "wafer": "wafer", "cell": "cell", "glass": "g", "eva": "kg",
             "pet": "kg", "pvf": "kg"}
    process = processes[rng.integers(0, len(processes), n)]
    lines = pd.DataFrame({
        "line_id": [f"L{i:06d}" for i in range(n)],
        "module_id": owner,
        "process": process,
        "country": np.array(["CN", "FR", "DE", "US"])[rng.integers(0, 4, n)],
        "quantity": rng.uniform(0.1, 120, n),
        "unit": [units[p] for p in process],
    })
    lines.loc[rng.random(n) < 0.03, "quantity"] = np.nan
    return mods, lines.sample(frac=1.0, random_state=3).reset_index(drop=True)


# ----------------------------------------------------------------------------- without children


def test_park_examples_partition_by_partition_identical(cluster, park):
    parks = read_table(PARKS).to_pandas()
    expected = park.evaluate(parks).to_arrow()
    out = nrdask.evaluate(park, dd.from_pandas(parks, npartitions=3))
    assert out.npartitions == 3
    got = out.compute()
    assert as_arrow(got, expected).equals(expected)             # same rows, same order
    assert list(got.index) == list(range(len(parks)))           # each row keeps its input index


def test_generated_parks_over_several_partitions_identical(cluster, park):
    parks = parks_frame(3_000)
    frame = dd.from_pandas(parks, npartitions=6)
    out = nrdask.evaluate(str(PARK), frame)                     # a path is compiled on the client
    assert list(out.columns) == park.evaluate(parks.head(2)).to_arrow().column_names   # known before computing
    expected = park.evaluate(parks)
    got = out.compute()
    assert dict(got.dtypes) == dict(out.dtypes)                 # the schema given is the schema computed
    assert as_arrow(got, expected.to_arrow()).equals(expected.to_arrow())
    assert nrdask.counts(park, out) == expected.counts()


def test_invalid_unknown_and_outputs_pass_through(cluster, park):
    parks = parks_frame(400)
    parks.loc[[5, 250, 399], "clean_share"] = 140.0              # outside [0, 100] percent
    frame = dd.from_pandas(parks, npartitions=4)
    expected = park.evaluate(parks, invalid="unknown", outputs=["core.intensity"])
    out = nrdask.evaluate(park, frame, invalid="unknown", outputs=["core.intensity"])
    assert as_arrow(out.compute(), expected.to_arrow()).equals(expected.to_arrow())
    assert "guide.clean_energy" not in out.columns


def test_range_error_names_the_partition_and_the_entity(cluster, park):
    parks = parks_frame(400)
    parks.loc[250, "clean_share"] = 140.0
    frame = dd.from_pandas(parks, npartitions=4)                  # rows 200–299 in partition 2
    with pytest.raises(normrules.DataError) as err:
        park.evaluate(parks)
    assert "column `clean_share`, row 251: outside the declared range" in str(err.value)
    with pytest.raises(normrules.DataError) as err:
        nrdask.evaluate(park, frame).compute()
    message = str(err.value)
    assert "column `clean_share`, row 51: outside the declared range [0, 100] percent" in message
    assert "Dask partition 2, whose row 51 is the park with id `G00250`" in message


# ----------------------------------------------------------------------------- child entities


def test_pv_examples_with_bom_lines_identical(cluster, pv):
    modules, lines = read_table(MODULES).to_pandas(), read_table(LINES).to_pandas()
    expected = pv.evaluate(modules, children={"line": lines}).to_arrow()
    out = nrdask.evaluate(pv, dd.from_pandas(modules, npartitions=2), children={"line": dd.from_pandas(lines, npartitions=3)})
    got = out.compute().sort_values("module_id")
    assert as_arrow(got, expected).equals(expected)


def test_lines_of_one_module_in_different_partitions_identical(cluster, pv):
    modules, lines = pv_frames(300)
    line_parts = dd.from_pandas(lines, npartitions=4)
    spread = line_parts.map_partitions(lambda p: p[["module_id"]].drop_duplicates()).compute()
    assert spread["module_id"].duplicated().sum() > 100          # many modules have lines in several partitions
    expected = pv.evaluate(modules, children={"line": lines}).to_arrow()
    out = nrdask.evaluate(pv, dd.from_pandas(modules, npartitions=3), children={"line": line_parts})
    assert out.npartitions == 4
    got = out.compute()
    assert got["module_id"].is_unique and len(got) == len(modules)
    assert as_arrow(got.sort_values("module_id"), expected).equals(expected)   # each module's lines summed in input order


def test_imported_ruleset_with_children_identical(cluster):
    export = normrules.load(EXPORT)
    modules, lines = read_table(MODULES).to_pandas(), read_table(LINES).to_pandas()
    ev = export.evaluate(modules, children={"line": lines})
    out = nrdask.evaluate(export, dd.from_pandas(modules, npartitions=2), children={"line": dd.from_pandas(lines, npartitions=2)},
                          npartitions=3)
    assert out.npartitions == 3
    assert as_arrow(out.compute().sort_values("module_id"), ev.to_arrow()).equals(ev.to_arrow())
    assert nrdask.counts(export, out) == ev.counts()


def test_line_naming_no_module_is_the_same_data_error(cluster, pv):
    modules, lines = pv_frames(50)
    lines.loc[7, "module_id"] = "M9999"
    with pytest.raises(normrules.DataError, match="`M9999` matches no module"):
        pv.evaluate(modules, children={"line": lines})
    out = nrdask.evaluate(pv, dd.from_pandas(modules, npartitions=2), children={"line": dd.from_pandas(lines, npartitions=3)})
    with pytest.raises(normrules.DataError) as err:
        out.compute()
    assert "column `module_id`" in str(err.value) and "`M9999` matches no module" in str(err.value)
    assert f"is the line with line_id `{lines.loc[7, 'line_id']}`" in str(err.value)


def test_child_key_twice_under_different_modules_is_found_across_partitions(cluster, pv):
    modules, lines = pv_frames(200)
    other = lines.index[lines["module_id"] != lines.loc[0, "module_id"]][0]
    lines.loc[other, "line_id"] = lines.loc[0, "line_id"]              # one line id, two modules
    with pytest.raises(normrules.DataError, match="appears twice"):
        pv.evaluate(modules, children={"line": lines})
    args = dict(children={"line": dd.from_pandas(lines, npartitions=4)}, npartitions=8)
    with pytest.raises(normrules.DataError, match=f"line key `{lines.loc[0, 'line_id']}` appears twice"):
        nrdask.evaluate(pv, dd.from_pandas(modules, npartitions=2), **args).compute()


def test_child_table_without_the_parent_key_is_refused_before_computing(cluster, pv):
    modules, lines = pv_frames(20)
    with pytest.raises(normrules.DataError, match="the `line` table needs a column `module_id`"):
        nrdask.evaluate(pv, dd.from_pandas(modules, npartitions=1),
                        children={"line": dd.from_pandas(lines.drop(columns=["module_id"]), npartitions=1)})
    with pytest.raises(normrules.NormrulesError, match="`lnie` is not a child entity"):
        nrdask.evaluate(pv, dd.from_pandas(modules, npartitions=1), children={"lnie": dd.from_pandas(lines, npartitions=1)})


# ----------------------------------------------------------------------------- the ruleset on workers


def test_ruleset_travels_as_ir_and_is_rebuilt_once(park):
    with pytest.raises(Exception):
        pickle.loads(pickle.dumps(park))                    # why the IR is shipped instead
    shipped = pickle.loads(pickle.dumps(nrdask.ShippedRuleset.of(park)))
    rebuilt = shipped.get()
    assert rebuilt is shipped.get() and rebuilt.content_hash == park.content_hash
    parks = read_table(PARKS)
    assert rebuilt.evaluate(parks).to_arrow().equals(park.evaluate(parks).to_arrow())


# ----------------------------------------------------------------------------- normrules eval --dask


def reference_output(tmp_path: Path, ruleset: Path, inputs: list[str], name: str) -> Path:
    path = tmp_path / name
    args = ["eval", str(ruleset), *[a for i in inputs for a in ("-i", i)], "-o", str(path), "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("suffix", ["csv", "json", "parquet"])
def test_eval_command_writes_what_normrules_eval_writes(cluster, tmp_path, capsys, suffix):
    expected = reference_output(tmp_path, PARK, [str(PARKS)], f"expected.{suffix}")
    out = tmp_path / f"out.{suffix}"
    code = nrdask.run_eval_command(PARK, (str(PARKS),), address=cluster.scheduler.address, output=out, blocksize=300)
    assert code == 0
    assert nrdask.read_input(str(PARKS), blocksize=300).npartitions > 1
    if suffix == "parquet":
        assert pq.read_table(out).equals(pq.read_table(expected))
        assert pq.read_table(out).schema.metadata == pq.read_table(expected).schema.metadata
    else:
        assert out.read_bytes() == expected.read_bytes()
    park = normrules.load(PARK)
    assert capsys.readouterr().err.strip() == _summary(park.evaluate(read_table(PARKS))).strip()


def test_eval_command_gbk_csv_with_header_units(cluster, tmp_path):
    gbk = tmp_path / "parks_gbk.csv"
    gbk.write_bytes(PARKS.read_text("utf-8").encode("gbk"))
    expected = reference_output(tmp_path, PARK, [str(gbk)], "expected.csv")
    out = tmp_path / "out.csv"
    assert nrdask.run_eval_command(PARK, (str(gbk),), address=cluster.scheduler.address, output=out,
                                   blocksize=250, quiet=True) == 0
    assert out.read_bytes() == expected.read_bytes()


def test_eval_command_children_to_a_parquet_directory(cluster, tmp_path, capsys):
    modules, lines = pv_frames(120)
    modules.to_csv(tmp_path / "modules.csv", index=False)
    lines.to_parquet(tmp_path / "lines.parquet")
    out = tmp_path / "results"
    code = nrdask.run_eval_command(EXPORT, (f"module={tmp_path / 'modules.csv'}", f"line={tmp_path / 'lines.parquet'}"),
                                   address=cluster.scheduler.address, output=out, blocksize=1_000)
    assert code == 0
    assert len(list(out.glob("part-*.parquet"))) > 1 and not list(tmp_path.glob(".results*"))
    export = normrules.load(EXPORT)
    ev = export.evaluate(read_table(tmp_path / "modules.csv"), children={"line": lines})
    got = pads.dataset(out).to_table().sort_by("module_id")
    assert got.replace_schema_metadata(None).equals(ev.to_arrow().replace_schema_metadata(None))
    assert capsys.readouterr().err.strip() == _summary(ev).strip()


def test_eval_command_data_error_exits_2_and_writes_nothing(cluster, tmp_path, capsys):
    bad = tmp_path / "lines.csv"
    text = LINES.read_text("utf-8").replace("L0003,M001", "L0003,M404")
    bad.write_text(text, "utf-8")
    out = tmp_path / "out.csv"
    code = nrdask.run_eval_command(PV, (f"module={MODULES}", f"line={bad}"), address=cluster.scheduler.address,
                                   output=out)
    assert code == 2 and not out.exists() and not list(tmp_path.glob(".out*"))
    assert "`M404` matches no module" in capsys.readouterr().err


def test_eval_command_unreachable_scheduler(tmp_path, capsys):
    code = nrdask.run_eval_command(PARK, (str(PARKS),), address="tcp://127.0.0.1:1", output=tmp_path / "o.csv",
                                   connect_timeout=1)
    assert code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in capsys.readouterr().err


def test_eval_command_two_child_entities_csv_text_cells(cluster, tmp_path):
    cq = ROOT / "rulesets/local/chongqing_zero_carbon_factory.nr"
    inputs = [f"factory={ROOT / 'examples/cq_factories.csv'}", f"offset={ROOT / 'examples/cq_offset_ledger.csv'}",
              f"measure={ROOT / 'examples/cq_measures.csv'}"]
    expected = reference_output(tmp_path, cq, inputs, "expected.csv")
    out = tmp_path / "out.csv"
    assert nrdask.run_eval_command(cq, tuple(inputs), address=cluster.scheduler.address, output=out,
                                   blocksize=200, quiet=True) == 0
    read = lambda p: pacsv.read_csv(p).sort_by("id")            # noqa: E731 - bucket order: compare sorted
    assert read(out).equals(read(expected))


def test_as_of_fills_the_reporting_date_on_every_partition(cluster):
    ghg = normrules.load(ROOT / "rulesets/gb/ghg_accounting.nr")
    enterprises = read_table(ROOT / "examples/enterprises.csv").drop_columns(["as_of"]).to_pandas()
    fuels = read_table(ROOT / "examples/enterprise_fuels.csv").to_pandas()
    expected = ghg.evaluate(enterprises, children={"fuel": fuels}, as_of="2024-06-30").to_arrow()
    out = nrdask.evaluate(ghg, dd.from_pandas(enterprises, npartitions=2), children={"fuel": dd.from_pandas(fuels, npartitions=2)},
                          as_of="2024-06-30")
    assert as_arrow(out.compute().sort_values("enterprise_id"), expected).equals(expected)


def test_eval_command_summary_adds_up_the_partitions(cluster, tmp_path, capsys):
    rows = [line.split(",") for line in PARKS.read_text("utf-8").splitlines()]
    rows[1][4] = rows[9][4] = "140%"                                   # clean_share of P001 and P009
    parks = tmp_path / "parks.csv"
    parks.write_text("\n".join(",".join(r) for r in rows) + "\n", "utf-8")
    out = tmp_path / "out.csv"
    assert nrdask.run_eval_command(PARK, (str(parks),), address=cluster.scheduler.address, output=out,
                                   invalid="unknown", blocksize=300) == 0
    assert nrdask.read_input(str(parks), blocksize=300).npartitions >= 2      # the two values in different partitions
    ev = normrules.load(PARK).evaluate(read_table(parks), invalid="unknown")
    assert ev.invalid_counts == {"clean_share": 2}
    summary = capsys.readouterr().err.strip()
    assert summary == _summary(ev).strip()
    assert "invalid values read as unknown: 2 in `clean_share`" in summary


def test_eval_command_csv_parts_replace_an_older_directory(cluster, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "stale.csv").write_text("old\n", "utf-8")
    assert nrdask.run_eval_command(PARK, (str(PARKS),), address=cluster.scheduler.address, output=out, fmt="csv",
                                   blocksize=300, quiet=True) == 0
    parts = sorted(out.iterdir())
    assert [p.name for p in parts] == ["part-00000.csv", "part-00001.csv"]
    got = pa.concat_tables([pacsv.read_csv(p) for p in parts])
    expected = pacsv.read_csv(reference_output(tmp_path, PARK, [str(PARKS)], "expected.csv"))
    assert got.equals(expected)


def test_buckets_follow_the_key_text_only():
    keys = pa.array([f"M{i:05d}" for i in range(20_000)])
    buckets = nrdask.bucket_of(keys, 8)
    assert np.bincount(buckets, minlength=8).min() > 2_000                # spread over every bucket
    same = nrdask.bucket_of(pa.array(["M00005", "M00006", "M00007"], pa.large_string()), 8)
    assert list(nrdask.bucket_of(keys.slice(5, 3), 8)) == list(same) == list(buckets[5:8])


def test_cli_eval_dask_option_uses_the_scheduler(cluster, tmp_path):
    """`normrules eval … --dask ADDRESS` runs run_eval_command against the scheduler and writes what eval writes."""
    expected = reference_output(tmp_path, PARK, [str(PARKS)], "expected.csv")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["eval", str(PARK), "-i", str(PARKS), "-o", str(out), "-q",
                                       "--dask", cluster.scheduler.address])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == expected.read_bytes()
    refused = CliRunner().invoke(main, ["eval", str(PARK), "-i", str(PARKS), "--format", "pact",
                                        "--dask", cluster.scheduler.address])
    assert refused.exit_code == 2 and "--format pact is not available with --dask" in refused.output
