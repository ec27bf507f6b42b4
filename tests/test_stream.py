"""Streaming evaluation (``normrules.stream``, ``normrules eval --batch-rows``): the same rows, order
and summary as a whole-table run, child rows with their parents, errors naming the original
file and row, the progress bar, and atomic output (including runs killed while writing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import normrules
from normrules.atomic import atomic_path, write_text_atomic
from normrules.cli import _summary, main
from normrules.stream import OutputWriter, StreamEvaluation, _bucket_of, csv_encoding
from normrules.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
EX, DATA = ROOT / "examples", ROOT / "tests" / "data"
PARK = ROOT / "rulesets/gb/zero_carbon_park.nr"
PCR = ROOT / "rulesets/iec/pv_module_cfp.nr"
EXPORT = ROOT / "rulesets/intl/pv_export_markets.nr"
GHG = ROOT / "rulesets/gb/ghg_accounting.nr"

CASES = {
    "park csv": (PARK, {"park": EX / "parks.csv"}),
    "park utf8 bom": (PARK, {"park": DATA / "parks_utf8_bom.csv"}),
    "park gbk": (PARK, {"park": DATA / "parks_gbk.csv"}),
    "park parquet": (PARK, {"park": DATA / "parks.parquet"}),
    "park json": (PARK, {"park": DATA / "parks.json"}),
    "factory grading": (ROOT / "rulesets/local/t_ceca_g0171_2022.nr", {"factory": EX / "factories.csv"}),
    "pv provinces": (ROOT / "rulesets/local/pv_self_consumption/all_provinces.nr", {"project": EX / "pv_projects.csv"}),
    "pcr": (PCR, {"module": EX / "modules.csv", "line": EX / "bom_lines.csv"}),
    "export markets": (EXPORT, {"module": EX / "modules.csv", "line": EX / "bom_lines.csv"}),
    "ghg": (GHG, {"enterprise": EX / "enterprises.csv", "fuel": EX / "enterprise_fuels.csv"}),
    "ghg without fuels": (GHG, {"enterprise": EX / "enterprises.csv"}),
    "ets": (ROOT / "rulesets/gb/national_ets_inclusion.nr", {"enterprise": EX / "enterprises.csv",
                                                             "fuel": EX / "enterprise_fuels.csv"}),
    "chongqing": (ROOT / "rulesets/local/chongqing_zero_carbon_factory.nr",
                  {"factory": EX / "cq_factories.csv", "offset": EX / "cq_offset_ledger.csv",
                   "measure": EX / "cq_measures.csv"}),
}
AS_OF = "2025-06-30"


def _whole(rs, files: dict, invalid="error"):
    """The whole-table evaluation ``normrules eval`` did before streaming."""
    tables = {entity: read_table(path) for entity, path in files.items()}
    root = tables.pop(rs.checked.entity)
    return rs.evaluate(root, children=tables or None, as_of=AS_OF, invalid=invalid)


def _whole_bytes(ev, fmt: str) -> bytes:
    """CSV / JSON exactly as written from one whole table."""
    table, ref, sha = ev.to_arrow(), ev.ruleset.ref, ev.ruleset.content_hash
    if fmt == "json":
        doc = {"ruleset": ref, "sha256": sha, "rows": table.to_pylist()}
        return (json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8")
    n = table.num_rows
    table = table.append_column("_ruleset", pa.array([ref] * n)).append_column("_sha256", pa.array([sha] * n))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def _streamed(rs, files, fmt, tmp_path, batch_rows, invalid="error"):
    run = StreamEvaluation(rs, files, batch_rows=batch_rows, as_of=AS_OF, invalid=invalid)
    if fmt == "parquet":
        path = str(tmp_path / "out.parquet")
        writer = OutputWriter(fmt, rs.ref, rs.content_hash, path=path)
    else:
        chunks: list[bytes] = []
        writer = OutputWriter(fmt, rs.ref, rs.content_hash, emit=chunks.append)
    for table in run.tables():
        writer.write(table)
    writer.close()
    out = pq.read_table(path) if fmt == "parquet" else b"".join(chunks)
    return out, run.summary


@pytest.mark.parametrize("batch_rows", [1, 3, 1000])
@pytest.mark.parametrize("case", sorted(CASES))
def test_streaming_gives_the_whole_table_output_and_summary(case, batch_rows, tmp_path):
    path, files = CASES[case]
    rs = normrules.load(path)
    ev = _whole(rs, files)
    for fmt in ("csv", "json"):
        out, summary = _streamed(rs, files, fmt, tmp_path, batch_rows)
        assert out == _whole_bytes(ev, fmt), fmt
    assert _summary(summary) == _summary(ev)
    table, _ = _streamed(rs, files, "parquet", tmp_path, batch_rows)
    assert table.equals(ev.to_arrow())
    assert table.schema.metadata[b"normrules.ruleset"] == rs.ref.encode()
    assert table.schema.metadata[b"normrules.sha256"] == rs.content_hash.encode()


def _parks(n: int, seed: int = 0, *, shares=None) -> dict:
    rng = np.random.default_rng(seed)
    energy = rng.uniform(1e5, 3e6, n).round(1)
    co2 = rng.uniform(1e4, 9e5, n).round(1)
    share = rng.uniform(50, 100, n).round(2) if shares is None else shares
    share = np.array([f"{v}%" if i % 7 == 0 else str(v) for i, v in enumerate(share)], dtype=object)
    co2 = co2.astype(str).astype(object)
    co2[rng.random(n) < 0.05] = ""                                  # missing → unknown
    return {"id": [f"P{i:07d}" for i in range(n)], "energy": energy, "co2": co2, "clean_share": share,
            "product_energy_level2": np.where(rng.random(n) < 0.8, "是", "否"),
            "solid_waste_util": rng.uniform(50, 120, n).round(1),          # some out of [0, 100]
            "waste_heat_util": rng.uniform(0, 100, n).round(1)}


def _write_csv(path: Path, columns: dict) -> Path:
    pacsv.write_csv(pa.table({k: pa.array([str(x) for x in v]) for k, v in columns.items()}), path)
    return path


def test_generated_parks_with_invalid_values_merge_counts_and_warnings(tmp_path):
    rs = normrules.load(PARK)
    files = {"park": _write_csv(tmp_path / "parks.csv", _parks(5000))}
    ev = _whole(rs, files, invalid="unknown")
    assert ev.invalid_counts["solid_waste_util"] > 100           # spread over every batch
    out, summary = _streamed(rs, files, "csv", tmp_path, 256, invalid="unknown")
    assert out == _whole_bytes(ev, "csv")
    assert summary.invalid_counts == ev.invalid_counts
    assert summary.warnings == ev.warnings
    assert _summary(summary) == _summary(ev)


@pytest.mark.parametrize("shares, warned", [
    (np.r_[np.full(300, 0.9), np.full(300, 95.0)], False),     # ≤ 1 only in the first batches: no warning
    (np.r_[np.full(300, 0.9), np.full(300, np.nan)], True),    # ≤ 1 wherever known: the warning, once
])
def test_the_percent_warning_is_judged_over_the_whole_file(tmp_path, shares, warned):
    rs = normrules.load(PARK)
    columns = _parks(600, shares=np.zeros(600))
    columns["clean_share"] = ["" if np.isnan(v) else str(v) for v in shares]
    files = {"park": _write_csv(tmp_path / "parks.csv", columns)}
    ev = _whole(rs, files, invalid="unknown")
    _, summary = _streamed(rs, files, "csv", tmp_path, 100, invalid="unknown")
    assert any("every value is ≤ 1" in w for w in ev.warnings) is warned
    assert summary.warnings == ev.warnings


def test_json_output_is_one_document_and_empty_input_gives_empty_rows(tmp_path):
    rs = normrules.load(PARK)
    out, _ = _streamed(rs, {"park": EX / "parks.csv"}, "json", tmp_path, 2)
    assert len(json.loads(out)["rows"]) == 10
    empty = tmp_path / "empty.csv"
    empty.write_text("id,energy,co2,clean_share\n", "utf-8")
    ev = _whole(rs, {"park": empty})
    for fmt in ("csv", "json"):
        out, summary = _streamed(rs, {"park": empty}, fmt, tmp_path, 5)
        assert out == _whole_bytes(ev, fmt)
        assert summary.n == 0
    assert json.loads(out)["rows"] == []


def test_rows_without_a_key_column_are_numbered_across_batches(tmp_path):
    rs = normrules.load(PARK)
    columns = _parks(50)
    del columns["id"]
    files = {"park": _write_csv(tmp_path / "parks.csv", columns)}
    out, _ = _streamed(rs, files, "csv", tmp_path, 7, invalid="unknown")
    assert out == _whole_bytes(_whole(rs, files, invalid="unknown"), "csv")
    assert b'\n"50",' in out


def test_gbk_is_chosen_when_a_byte_late_in_the_file_is_not_utf8(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"id,sector\n" + b"A,x\n" * 5_000_000 + "B,钢铁\n".encode("gbk"))
    assert csv_encoding(path) == "gb18030"
    path.write_bytes(b"\xef\xbb\xbfid\nA\n")
    assert csv_encoding(path) == "utf8"


def test_hash_buckets_spread_keys():
    keys = pa.array([f"M{i:07d}" for i in range(100_000)])
    counts = np.bincount(_bucket_of(keys, 32), minlength=32)
    assert counts.min() > 2000 and counts.max() < 4500
    assert (_bucket_of(pa.array(["a", "a", None, ""]), 7)[:2] == _bucket_of(pa.array(["a"]), 7)[0]).all()


# --------------------------------------------------------------------------- child entities


def _pcr_files(tmp_path, modules: int, lines_per: int, *, shuffle=False, edit=None):
    """Modules and BOM lines (grouped by module, in module order unless shuffled)."""
    mod = {"module_id": [f"M{i:05d}" for i in range(modules)], "rated_power [W]": ["400"] * modules}
    n = modules * lines_per
    order = np.random.default_rng(1).permutation(n) if shuffle else np.arange(n)
    processes = np.array(["polysilicon", "cell", "glass", "eva"])
    line = {"line_id": [f"L{i:07d}" for i in order], "module_id": [f"M{i // lines_per:05d}" for i in order],
            "process": processes[order % 4], "country": np.where(order % 3 == 0, "FR", "CN"),
            "quantity": [str(1 + i % 5) for i in order], "unit": np.where(order % 4 == 1, "cell", "kg")}
    line["quantity"] = [q if line["unit"][k] != "kg" or line["process"][k] != "glass" else "12000"
                        for k, q in enumerate(line["quantity"])]
    line["unit"] = np.where(line["process"] == "glass", "g", line["unit"])
    if edit:
        edit(mod, line)
    return {"module": _write_csv(tmp_path / "modules.csv", mod), "line": _write_csv(tmp_path / "lines.csv", line)}


@pytest.mark.parametrize("batch_rows", [1, 7, 64])
def test_child_rows_reach_the_batch_of_their_parent(tmp_path, batch_rows):
    rs = normrules.load(EXPORT)
    files = _pcr_files(tmp_path, 120, 5)
    ev = _whole(rs, files)
    out, summary = _streamed(rs, files, "csv", tmp_path, batch_rows)
    assert out == _whole_bytes(ev, "csv")
    assert _summary(summary) == _summary(ev)


def test_modules_without_lines_and_lines_sorted_by_key(tmp_path):
    def drop_some(mod, line):                        # modules 10–19 have no lines at all
        keep = [not ("M00010" <= m <= "M00019") for m in line["module_id"]]
        for k in line:
            line[k] = [v for v, ok in zip(line[k], keep) if ok]

    rs = normrules.load(PCR)
    files = _pcr_files(tmp_path, 40, 3, edit=drop_some)
    out, _ = _streamed(rs, files, "csv", tmp_path, 4)
    assert out == _whole_bytes(_whole(rs, files), "csv")


def _stream_error(rs, files, batch_rows=8, invalid="error") -> str:
    with pytest.raises(normrules.DataError) as info:
        list(StreamEvaluation(rs, files, batch_rows=batch_rows, invalid=invalid).tables())
    return str(info.value)


def test_an_unmatched_parent_key_names_the_child_file_and_row(tmp_path):
    def stray(mod, line):
        line["module_id"][203] = "M99999"
    files = _pcr_files(tmp_path, 60, 4, edit=stray)
    msg = _stream_error(normrules.load(PCR), files)
    assert msg == f"{files['line']}: column `module_id`, row 204: `M99999` matches no module"


def test_a_late_unmatched_parent_key_is_reported_at_the_end(tmp_path):
    def stray(mod, line):
        line["module_id"][-1] = "M99999"
    files = _pcr_files(tmp_path, 60, 4, edit=stray)
    assert _stream_error(normrules.load(PCR), files).endswith("row 240: `M99999` matches no module")


def test_a_duplicate_child_key_in_another_batch_names_both_rows(tmp_path):
    def twice(mod, line):
        line["line_id"][230] = line["line_id"][3]
    files = _pcr_files(tmp_path, 60, 4, edit=twice)
    msg = _stream_error(normrules.load(PCR), files)
    assert msg == (f"{files['line']}: column `line_id`, row 231: line key `L0000003` appears twice "
                   "(rows 4 and 231; double counting)")


def test_a_duplicate_parent_key_in_another_batch_is_an_error(tmp_path):
    def twice(mod, line):
        mod["module_id"][50] = mod["module_id"][2]
    files = _pcr_files(tmp_path, 60, 4, edit=twice)
    msg = _stream_error(normrules.load(PCR), files)
    assert msg.startswith(f"{files['module']}: column `module_id`, row 51: module key `M00002` appears twice")


def test_many_keys_spill_to_buckets_and_a_duplicate_is_still_found(tmp_path, monkeypatch):
    import normrules.stream as stream

    monkeypatch.setattr(stream, "_SPILL_ROWS", 100)
    def twice(mod, line):
        line["line_id"][1999] = line["line_id"][17]
    files = _pcr_files(tmp_path, 500, 4, edit=twice)
    assert "line key `L0000017` appears twice (rows 18 and 2000" in _stream_error(normrules.load(PCR), files, 50)


def test_an_invalid_value_in_a_later_batch_names_the_row_of_the_file(tmp_path):
    def bad(mod, line):
        line["process"][217] = "unobtainium"
        mod["rated_power [W]"][41] = "-5"
    files = _pcr_files(tmp_path, 60, 4, edit=bad)
    rs = normrules.load(PCR)
    msg = _stream_error(rs, files)                               # module batch 6 (rows 41–48) comes first
    assert msg.startswith(f"{files['module']}: column `rated_power [W]`, row 42: outside the declared range")
    files = _pcr_files(tmp_path, 60, 4, edit=lambda m, l: l["process"].__setitem__(217, "unobtainium"))
    msg = _stream_error(rs, files)
    assert msg.startswith(f"{files['line']}: column `process`, row 218: \"unobtainium\" is not a declared category")


def test_child_rows_out_of_parent_order_are_reported_with_what_to_do(tmp_path):
    files = _pcr_files(tmp_path, 60, 4, shuffle=True)
    msg = _stream_error(normrules.load(PCR), files)
    assert str(files["line"]) in msg and "must be grouped by module" in msg
    assert "sort both files by `module_id`" in msg
    # a whole-table evaluation of the same files is fine (what the message points to)
    _whole(normrules.load(PCR), files)


# --------------------------------------------------------------------------- the command


def test_eval_command_streams_and_writes_the_same_file(tmp_path):
    files = _pcr_files(tmp_path, 30, 3)
    rs = normrules.load(EXPORT)
    ev = _whole(rs, files)
    for name in ("out.csv", "out.json"):
        r = CliRunner().invoke(main, ["eval", str(EXPORT), "-i", f"module={files['module']}", "-i",
                                      f"line={files['line']}", "--as-of", AS_OF, "--batch-rows", "4",
                                      "-o", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        assert (tmp_path / name).read_bytes() == _whole_bytes(ev, name.split(".")[1])
        assert "evaluating" not in r.stderr and _summary(ev) in r.stderr        # no bar when not a terminal
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_fail_on_counts_every_batch(tmp_path):
    files = {"park": EX / "parks.csv"}
    args = ["eval", str(PARK), "-i", str(files["park"]), "-o", str(tmp_path / "o.csv"), "-q", "--batch-rows", "1"]
    assert CliRunner().invoke(main, args + ["--fail-on", "fail"]).exit_code == 1
    only_passing = tmp_path / "good.csv"
    only_passing.write_text((EX / "parks.csv").read_text("utf-8").splitlines()[0] + "\n" +
                            (EX / "parks.csv").read_text("utf-8").splitlines()[1] + "\n", "utf-8")
    args[3] = str(only_passing)
    assert CliRunner().invoke(main, args + ["--fail-on", "fail"]).exit_code == 0


def test_an_error_leaves_no_output_and_names_file_and_row(tmp_path):
    columns = _parks(100)
    columns["solid_waste_util"] = ["50"] * 100
    columns["solid_waste_util"][77] = "150"
    data = _write_csv(tmp_path / "parks.csv", columns)
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(main, ["eval", str(PARK), "-i", str(data), "-o", str(out), "--batch-rows", "10"])
    assert r.exit_code == 2
    assert f"error: {data}: column `solid_waste_util`, row 78: outside the declared range" in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.csv.*"))


def _pty_run(args: list[str]) -> str:
    """Run with standard error on a terminal; what it showed there."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait()
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_only_and_not_with_quiet(tmp_path):
    data = _write_csv(tmp_path / "parks.csv", _parks(2000))
    args = [sys.executable, "-m", "normrules", "eval", str(PARK), "-i", str(data), "--invalid", "unknown",
            "--batch-rows", "100", "-o", str(tmp_path / "o.csv")]
    shown = _pty_run(args)
    assert "evaluating" in shown and "100%" in shown
    assert "2000 park entities evaluated" in shown
    assert _pty_run(args + ["--quiet"]).strip() == ""


# --------------------------------------------------------------------------- atomic output


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", "utf-8")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            Path(tmp).write_text("half", "utf-8")
            raise RuntimeError("boom")
    assert target.read_text("utf-8") == "old" and os.listdir(tmp_path) == ["out.txt"]
    write_text_atomic(target, "new\r\n")
    assert target.read_bytes() == b"new\r\n" and os.listdir(tmp_path) == ["out.txt"]
    target.chmod(0o640)
    write_text_atomic(target, "newer")
    assert target.stat().st_mode & 0o777 == 0o640                 # the old file's permissions are kept
    umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "fresh.txt", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "fresh.txt").stat().st_mode & 0o777 == 0o644   # as open() would create it


@pytest.fixture(scope="module")
def big_parks(tmp_path_factory) -> Path:
    """Enough parks that writing the output takes seconds."""
    path = tmp_path_factory.mktemp("big") / "parks.csv"
    n = 400_000
    rng = np.random.default_rng(3)
    table = pa.table({
        "id": pa.array(np.char.add("P", np.arange(n).astype(str))),
        "energy": rng.uniform(1e5, 3e6, n).round(1), "co2": rng.uniform(1e4, 9e5, n).round(1),
        "clean_share": rng.uniform(50, 100, n).round(2), "product_energy_level2": rng.random(n) < 0.8,
        "solid_waste_util": rng.uniform(50, 100, n).round(1), "waste_heat_util": rng.uniform(0, 100, n).round(1)})
    pacsv.write_csv(table, path)
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("old", [b"old output\n", None])
def test_a_run_killed_while_writing_leaves_the_old_output(tmp_path, big_parks, sig, old):
    out = tmp_path / "out.csv"
    if old is not None:
        out.write_bytes(old)
    proc = subprocess.Popen([sys.executable, "-m", "normrules", "eval", str(PARK), "-i", str(big_parks),
                             "-o", str(out), "--batch-rows", "2000", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 60
    temps: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        temps = [p for p in tmp_path.glob(".out.csv.*.tmp") if p.stat().st_size > 0]
        if temps:
            break
        time.sleep(0.02)
    assert temps and proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    if old is None:
        assert not out.exists()
    else:
        assert out.read_bytes() == old
    left = list(tmp_path.glob(".out.csv.*.tmp"))
    if sig == signal.SIGKILL:
        assert left == temps              # an uncatchable kill leaves the hidden temporary file, never the output
    else:
        assert left == []                 # SIGTERM and Ctrl-C remove it


def test_streaming_doc_snippets_run(monkeypatch):
    import re

    text = (ROOT / "docs/streaming.md").read_text("utf-8")
    blocks = re.findall(r"^```python[ \t]*\n(.*?)^```", text, re.M | re.S)
    assert blocks
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/streaming.md", "exec"), namespace)
