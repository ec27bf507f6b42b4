"""Evaluate a ruleset over a Dask DataFrame, partition by partition, on a Dask cluster.

    import dask.dataframe as dd
    from normrules import dask as nrdask

    parks = dd.read_parquet("parks/")
    out = nrdask.evaluate("rulesets/gb/zero_carbon_park.nr", parks)      # a lazy Dask DataFrame
    out.to_parquet("results/")

Each partition is evaluated by :meth:`normrules.Ruleset.evaluate`, so every row gets exactly the
values, verdicts and results of an in-process evaluation. A ruleset with child entities needs each
parent's child rows in the parent's partition: both sides are partitioned by the text of the
parent key into the same buckets first (one shuffle), then evaluated bucket by bucket.

The ruleset travels to the workers as its compiled IR (JSON text) and is rebuilt there once per
process: a :class:`~normrules.Ruleset` does not pickle, its units belong to normrules' own unit
registry. ``normrules eval --dask ADDRESS`` is :func:`run_eval_command`. See ``docs/scale.md``.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import operator
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

try:
    import dask
    import dask.dataframe as dd
    import pandas as pd
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise ImportError(f"normrules.dask needs Dask ({_exc}): pip install 'normrules[dask]'") from None

from . import types as T
from .api import Ruleset, input_paths, load
from .errors import CheckFailed, DataError, NormrulesError
from .execute import Counters
from .imports import default_roots
from .ir import compile_cached, dumps_ir, load_ir
from .tables import read_table, split_header

_BUCKET = "_normrules_bucket"
_POSITION = "_normrules_position"
_ROW_BITS = 32                 # a row's position: partition number << 32 | row within the partition

# ============================================================================ the ruleset on workers

_REBUILT: dict[str, Ruleset] = {}          # sha256 of the IR → the ruleset, the last _KEEP used
_REBUILT_LOCK = threading.Lock()
_KEEP = 32


@dataclass(frozen=True)
class ShippedRuleset:
    """A ruleset as it travels to Dask workers: its compiled IR (JSON text) and the text's sha256.

    :meth:`get` rebuilds the :class:`~normrules.Ruleset` with :func:`normrules.load_ir` the first time
    a worker process needs it and keeps it, keyed by the sha256, for every later task.
    """

    ir_text: str = field(repr=False)
    digest: str

    @classmethod
    def of(cls, ruleset: Ruleset) -> "ShippedRuleset":
        text = dumps_ir(ruleset)
        return cls(text, hashlib.sha256(text.encode("utf-8")).hexdigest())

    def get(self) -> Ruleset:
        hit = _REBUILT.get(self.digest)
        if hit is None:
            with _REBUILT_LOCK:
                hit = _REBUILT.get(self.digest)
                if hit is None:
                    hit = _REBUILT[self.digest] = load_ir(self.ir_text)
                    while len(_REBUILT) > _KEEP:
                        del _REBUILT[next(iter(_REBUILT))]
        return hit


def _ruleset_of(ruleset) -> Ruleset:
    if isinstance(ruleset, Ruleset):
        return ruleset
    if isinstance(ruleset, (str, os.PathLike)):
        return compile_cached(ruleset)
    raise TypeError(f"expected a normrules.Ruleset or the path of a ruleset, got {type(ruleset).__name__}")


# ============================================================================ one partition


@dataclass(frozen=True)
class PartitionStats:
    """What one partition's evaluation counted, beside its rows (see :class:`Summary`)."""

    n: int
    counts: dict
    counters: Counters
    invalid_counts: dict
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Settings:
    """Everything a partition task needs besides the data (pickled into the graph once)."""

    shipped: ShippedRuleset
    child_names: tuple[str, ...]
    as_of: object
    outputs: tuple[str, ...] | None
    invalid: str
    copartitioned: bool               # parents (and children) come in key buckets, with positions


def _evaluate_partition(settings: _Settings, number: int, parent, *children_and_duplicates):
    """Evaluate one partition (and its co-partitioned child rows): ``(pandas frame, PartitionStats)``.

    The frame has one row per root entity, the columns of ``Evaluation.to_arrow()`` as pandas
    Arrow-backed columns (the same types in every partition, nulls or not).
    """
    k = len(settings.child_names)
    children, duplicates = children_and_duplicates[:k], children_and_duplicates[k:]
    rs = settings.shipped.get()
    for entity, key in zip(settings.child_names, duplicates):
        if key is not None:
            raise DataError(f"{entity} key `{key}` appears twice (double counting)", column=rs.checked.key_of(entity))
    index = parent.index
    if settings.copartitioned:
        parent = _in_input_order(parent)
        children = [_in_input_order(c) for c in children]
    tables = dict(zip(settings.child_names, children))
    try:
        ev = rs.evaluate(parent, children=tables or None, as_of=settings.as_of,
                         outputs=settings.outputs, invalid=settings.invalid)
    except DataError as exc:
        if number < 0:                 # the empty frame evaluated for the output schema
            raise
        raise DataError(f"{exc} ({_where(rs, number, parent, tables, exc)})") from None
    frame = ev.to_arrow().to_pandas(types_mapper=pd.ArrowDtype)
    if not settings.copartitioned:
        frame.index = index
    stats = PartitionStats(ev.n, ev.counts(), ev.counters, dict(ev.invalid_counts), tuple(ev.warnings))
    return frame, stats


def _in_input_order(part):
    """Rows of a bucket back in the order of the input (child sums then add up as in-process)."""
    order = np.argsort(part[_POSITION].to_numpy(), kind="stable")
    return part.iloc[order].drop(columns=[_POSITION]).reset_index(drop=True)


def _column_named(frame, name: str) -> str | None:
    """The column of ``frame`` whose name (before any ``[unit]``) is ``name``."""
    return next((c for c in frame.columns if split_header(str(c))[0] == name), None)


def _where(rs: Ruleset, number: int, parent, tables: dict, exc: DataError) -> str:
    """Where a data error happened: the partition and, for a row, that row's entity key."""
    c = rs.checked
    text = f"Dask partition {number}"
    if exc.row is None or exc.column is None:
        return text
    candidates = [(c.entity, parent), *tables.items()]
    hits = [(e, t) for e, t in candidates if exc.column in t.columns and exc.row <= len(t)]
    if len(hits) > 1:                  # the parent key column of a child table: the row is a child's
        hits = [(e, t) for e, t in hits if e != c.entity]
    if len(hits) != 1:
        return text
    entity, table = hits[0]
    key = c.key_of(entity) if c.entities else c.key
    column = _column_named(table, key)
    if column is None:
        return text
    return f"{text}, whose row {exc.row} is the {entity} with {key} `{table[column].iloc[exc.row - 1]}`"


# ============================================================================ co-partitioning


def _key_array(part, column: str) -> pa.Array:
    """The keys as normrules compares them: Arrow's text of each value, 'None' for a missing one
    (a parent's missing key reads as 'None'; a child's matches no parent whatever its bucket)."""
    arr = pa.Table.from_pandas(part[[column]], preserve_index=False).column(0).combine_chunks()
    return pc.fill_null(arr.cast(pa.string()), "None")


def _key_texts(part, column: str) -> np.ndarray:
    return np.asarray(_key_array(part, column).to_numpy(zero_copy_only=False), dtype=object)


def bucket_of(texts: pa.Array, buckets: int) -> np.ndarray:
    """A bucket in ``[0, buckets)`` for each text, from pandas' stable 64-bit hash of the text:
    equal texts get equal buckets, in any partition and any process."""
    objects = np.asarray(texts.to_numpy(zero_copy_only=False), dtype=object)
    return (pd.util.hash_array(objects, categorize=False) % np.uint64(buckets)).astype(np.int64)


def _with_bucket(part, column: str, buckets: int, partition_info=None):
    """Add the bucket of each row (from its key text) and its position in the input."""
    number = partition_info["number"] if partition_info else 0
    position = (np.int64(number) << _ROW_BITS) + np.arange(len(part), dtype=np.int64)
    return part.assign(**{_BUCKET: bucket_of(_key_array(part, column), buckets), _POSITION: position})


def _bucketed(frame, column: str, buckets: int):
    """``frame`` in ``buckets`` partitions, partition i holding exactly the rows of bucket i."""
    meta = frame._meta.assign(**{_BUCKET: np.zeros(0, np.int64), _POSITION: np.zeros(0, np.int64)})
    tagged = frame.map_partitions(_with_bucket, column, buckets, meta=meta)
    return tagged.set_index(_BUCKET, divisions=list(range(buckets + 1)))


def _first_duplicate(part, column: str):
    texts = _key_texts(part, column)
    seen = pd.Series(texts).duplicated()
    return texts[seen.to_numpy()][0] if seen.any() else None


def _first_found(*found):
    return next((f for f in found if f is not None), None)


def _duplicate_probe(child, column: str, buckets: int):
    """A delayed value: a child key given twice anywhere in ``child`` (None if none), found by
    bucketing the key column alone by key."""
    parts = _bucketed(child[[column]], column, buckets).to_delayed(optimize_graph=False)
    return dask.delayed(_first_found)(*[dask.delayed(_first_duplicate)(p, column) for p in parts])


# ============================================================================ the graph


@dataclass(frozen=True)
class _Graph:
    """The partition tasks, each giving ``(pandas frame, PartitionStats)``, and the output schema."""

    tasks: list
    meta: object
    divisions: tuple | None
    shipped: ShippedRuleset


def _as_dask(frame, entity: str):
    if isinstance(frame, dd.DataFrame):
        return frame
    if type(frame).__module__.startswith("pandas"):
        return dd.from_pandas(frame, npartitions=1)
    raise TypeError(f"the `{entity}` table: expected a Dask (or pandas) DataFrame, got {type(frame).__name__}")


def _build(ruleset, frame, *, children=None, as_of=None, invalid="error", outputs=None,
           npartitions=None, check_child_keys=True) -> _Graph:
    rs = _ruleset_of(ruleset)
    c = rs.checked
    if invalid not in ("error", "unknown"):
        raise ValueError("invalid must be 'error' or 'unknown'")
    frame = _as_dask(frame, c.entity)
    declared = [e.name for e in c.entities if e.parent is not None]
    children = {name: _as_dask(t, name) for name, t in (children or {}).items()}
    for name in children:
        if name not in declared:
            raise NormrulesError(f"`{name}` is not a child entity of {c.ref}"
                                 + (f" (its child entities: {', '.join(declared)})" if declared else " (it has none)"))
    names = tuple(children)
    # With child entities declared, parents are bucketed by key even when no child table is given:
    # a parent key given twice is then always found, as in-process.
    copartition = bool(declared)
    outputs = tuple(outputs) if outputs is not None else None
    settings = _Settings(ShippedRuleset.of(rs), names, as_of, outputs, invalid, copartition)
    meta_parent = _bucket_meta(frame._meta) if copartition else frame._meta
    meta = _evaluate_partition(settings, -1, meta_parent, *[_bucket_meta(children[n]._meta) for n in names])[0]
    # one key in the graph: each worker fetches the IR once, not with every task
    shared = dask.delayed(settings, pure=True, traverse=False)
    if not copartition:
        tasks = [dask.delayed(_evaluate_partition)(shared, i, p)
                 for i, p in enumerate(frame.to_delayed(optimize_graph=False))]
        return _Graph(tasks, meta, frame.divisions if frame.known_divisions else None, settings.shipped)
    pkey = c.key_of(c.entity)
    columns = {c.entity: _column_named(frame._meta, pkey)}
    columns.update({n: _column_named(children[n]._meta, pkey) for n in names})
    for entity, column in columns.items():
        if column is None:
            raise DataError(f"the `{entity}` table needs a column `{pkey}` "
                            + ("(its key: with Dask, child rows are matched to their parent by key)"
                               if entity == c.entity else f"naming each row's {c.entity}"), column=pkey)
    buckets = npartitions or max([frame.npartitions] + [t.npartitions for t in children.values()])
    parents = _bucketed(frame, columns[c.entity], buckets).to_delayed(optimize_graph=False)
    lines = [_bucketed(children[n], columns[n], buckets).to_delayed(optimize_graph=False) for n in names]
    probes = []
    for n in names:
        key = _column_named(children[n]._meta, c.key_of(n))
        probes.append(_duplicate_probe(children[n], key, buckets) if check_child_keys and key else None)
    tasks = [dask.delayed(_evaluate_partition)(shared, i, parents[i], *[ls[i] for ls in lines], *probes)
             for i in range(buckets)]
    return _Graph(tasks, meta, None, settings.shipped)


def _bucket_meta(meta):
    return meta.assign(**{_POSITION: np.zeros(0, np.int64)})


def evaluate(ruleset, frame, *, children: dict | None = None, as_of=None, invalid: str = "error",
             outputs=None, npartitions: int | None = None, check_child_keys: bool = True):
    """Evaluate ``ruleset`` over a Dask DataFrame of the root entity; a lazy Dask DataFrame.

    ``ruleset`` is a :class:`~normrules.Ruleset` or the path of a ``.nr`` (or IR ``.json``) file;
    ``children`` maps each child entity to its Dask DataFrame (pandas frames are accepted too);
    ``as_of``, ``invalid`` and ``outputs`` are those of :meth:`Ruleset.evaluate`. The output has the
    columns of ``Evaluation.to_arrow()`` (pandas Arrow-backed dtypes, null = unknown), known
    without computing anything (``.columns``, ``.dtypes``).

    Without children, partition i of the output is partition i of ``frame`` evaluated: same rows,
    same order, same index. With children, parents and children are shuffled into ``npartitions``
    buckets (default: the most partitions of any input; ``npartitions`` is not used without child
    entities) by a hash of the parent key; the output
    lists bucket 0's parents, then bucket 1's…, each bucket in input order, with a fresh index —
    sort by the key for a stable order. A child key given twice anywhere is an error, as
    in-process (one more shuffle of the child key column; ``check_child_keys=False`` skips it,
    leaving only the check within each bucket). A :class:`~normrules.DataError` raised while
    computing names the partition and, for a row, its entity's key.
    """
    graph = _build(ruleset, frame, children=children, as_of=as_of, invalid=invalid, outputs=outputs,
                   npartitions=npartitions, check_child_keys=check_child_keys)
    return _frame_of(graph)


def _frame_of(graph: _Graph):
    frames = [dask.delayed(operator.getitem)(t, 0) for t in graph.tasks]
    return dd.from_delayed(frames, meta=graph.meta, divisions=graph.divisions, verify_meta=False)


def _tally(part, names: list[str]):
    """Rows (column, value, how many) of one output partition."""
    rows = [(name, str(value), int(k)) for name in names for value, k in part[name].value_counts().items()]
    return pd.DataFrame(rows, columns=["name", "value", "n"]).astype({"name": str, "value": str, "n": np.int64})


def counts(ruleset, result, *, outputs=None) -> dict[str, dict[str, int]]:
    """``Evaluation.counts()`` of an evaluated Dask DataFrame (computed, from its verdict and
    result columns): per rule, entities per verdict; per result, entities per label."""
    rs = _ruleset_of(ruleset)
    steps = rs.plan_for(outputs).steps if outputs else rs.plan.steps
    wanted = [(kind, name) for kind, name in steps if kind in ("rule", "result") and name in result.columns]
    meta = _tally(pd.DataFrame({name: pd.Series([], dtype=str) for _, name in wanted}), [])
    tallies = result.map_partitions(_tally, [name for _, name in wanted], meta=meta).compute()
    found = tallies.groupby(["name", "value"])["n"].sum().to_dict()
    by_name = rs.checked.by_name()
    out: dict[str, dict[str, int]] = {}
    for kind, name in wanted:
        labels = T.VERDICT_NAMES if kind == "rule" else (*by_name[name].labels, "unknown")
        out[name] = {label: int(found.get((name, label), 0)) for label in labels}
    return out


# ============================================================================ the summary

_INVALID_WARNING = re.compile(r"^(column `.*`): (\d+) (invalid value\(s\) read as unknown .*)$")


@dataclass(frozen=True)
class Summary:
    """The partitions' counts added up; reads like an :class:`~normrules.Evaluation` for the
    command line's summary (``ruleset``, ``n``, ``counts()``, ``counters``, ``invalid_counts``,
    ``warnings``)."""

    shipped: ShippedRuleset
    n: int
    totals: dict
    counters: Counters
    invalid_counts: dict
    warnings: tuple[str, ...]

    @property
    def ruleset(self) -> Ruleset:
        return self.shipped.get()

    def counts(self) -> dict[str, dict[str, int]]:
        return self.totals

    @classmethod
    def of(cls, shipped: ShippedRuleset, *parts: PartitionStats) -> "Summary":
        totals: dict[str, dict[str, int]] = {}
        counters = Counters()
        invalid: dict[str, int] = {}
        warnings: dict[tuple, int] = {}     # ("text", w) once; ("invalid", column, what) → values added up
        for p in parts:
            for name, tally in p.counts.items():
                into = totals.setdefault(name, dict.fromkeys(tally, 0))
                for label, k in tally.items():
                    into[label] = into.get(label, 0) + k
            for into, more in ((counters.division_by_zero, p.counters.division_by_zero),
                               (counters.lookup_misses, p.counters.lookup_misses), (invalid, p.invalid_counts)):
                for key, k in more.items():
                    into[key] = into.get(key, 0) + k
            for w in p.warnings:
                m = _INVALID_WARNING.match(w)
                key = ("invalid", m.group(1), m.group(3)) if m else ("text", w)
                warnings[key] = warnings.get(key, 0) + (int(m.group(2)) if m else 0)
        texts = tuple(f"{key[1]}: {k} {key[2]}" if key[0] == "invalid" else key[1] for key, k in warnings.items())
        return cls(shipped, sum(p.n for p in parts), totals, counters, invalid, texts)


# ============================================================================ the command line

def _csv_encoding(head: bytes) -> str:
    """The encoding of a CSV file from its first bytes: UTF-8 (BOM or not), else GB18030 (GBK)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def read_input(path: str, *, blocksize=None):
    """A Dask DataFrame of one input: Parquet (a file, a directory or a glob), CSV (a file or a
    glob, every cell read as text and converted by normrules; UTF-8 or GBK, told apart by each
    file's first 64 KiB) or JSON (read whole on the client)."""
    import fsspec

    lower = str(path).lower().rstrip("/")
    if Path(path).is_dir():
        csv = sorted(Path(path).glob("*.csv"))
        if csv and not any(Path(path).glob("*.parquet")):
            return read_input(str(Path(path) / "*.csv"), blocksize=blocksize)
        return dd.read_parquet(path)
    if lower.endswith((".parquet", ".pq")):
        return dd.read_parquet(path)
    if lower.endswith(".json"):
        table = read_table(path)
        return dd.from_pandas(table.to_pandas(), npartitions=max(1, table.num_rows // 1_000_000))
    if not lower.endswith((".csv", ".txt")):
        raise DataError(f"{path}: with --dask, inputs are CSV (.csv), Parquet (.parquet, or a directory) or JSON")
    files = fsspec.open_files(path, mode="rb")
    if not files:
        raise DataError(f"no input file {path}")
    runs: list[tuple[str, list[str]]] = []          # consecutive files of one encoding
    for f in files:
        with f as fh:
            encoding = _csv_encoding(fh.read(1 << 16))
        url = f.fs.unstrip_protocol(f.path)
        if runs and runs[-1][0] == encoding:
            runs[-1][1].append(url)
        else:
            runs.append((encoding, [url]))
    options = {} if blocksize is None else {"blocksize": blocksize}
    nulls = pacsv.ConvertOptions().null_values           # the texts `normrules eval` reads as missing
    frames = [dd.read_csv(urls, dtype=str, encoding=enc, keep_default_na=False, na_values=nulls, **options)
              for enc, urls in runs]
    return frames[0] if len(frames) == 1 else dd.concat(frames)


def _output_table(frame, ref: str, sha: str, with_ruleset_columns: bool) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if with_ruleset_columns:                   # as `normrules eval` writes CSV
        n = table.num_rows
        table = table.append_column("_ruleset", pa.array([ref] * n, pa.string())) \
                     .append_column("_sha256", pa.array([sha] * n, pa.string()))
    return table.replace_schema_metadata({b"normrules.ruleset": ref.encode(), b"normrules.sha256": sha.encode()})


def _json_rows(table: pa.Table) -> str:
    """Rows as `normrules eval --format json` lays them out (indent 1, inside ``"rows": [``)."""
    return ",\n".join("\n".join("  " + line for line in json.dumps(row, ensure_ascii=False, indent=1,
                                                                  default=str).splitlines())
                      for row in table.to_pylist())


class _FileWriter:
    """One output file (or standard output) written by the client, partition after partition, in
    the layout `normrules eval` writes; a file is written to a temporary name and renamed at the end."""

    def __init__(self, fmt: str, output: Path | None, ref: str, sha: str):
        self.fmt, self.output, self.ref, self.sha = fmt, output, ref, sha
        self.tmp = self.sink = self.parquet = None
        self.started = False                   # CSV header, or JSON's `"rows": [`, written
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = output.parent / f".{output.name}.{uuid.uuid4().hex[:8]}.tmp"

    def _emit(self, text: str) -> None:
        if self.output is None:
            import click

            click.echo(text, nl=False)
            return
        if self.sink is None:
            self.sink = open(self.tmp, "w", encoding="utf-8", newline="")
        self.sink.write(text)

    def _json_head(self) -> str:
        return json.dumps({"ruleset": self.ref, "sha256": self.sha}, ensure_ascii=False, indent=1)[:-2] + ",\n"

    def write(self, frame) -> None:
        table = _output_table(frame, self.ref, self.sha, self.fmt == "csv")
        if self.fmt == "parquet":
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.tmp, table.schema)
            self.parquet.write_table(table)
        elif self.fmt == "json":
            if table.num_rows:
                self._emit((",\n" if self.started else self._json_head() + ' "rows": [\n') + _json_rows(table))
                self.started = True
        else:
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=not self.started))
            self._emit(sink.getvalue().to_pybytes().decode("utf-8"))
            self.started = True

    def finish(self) -> None:
        if self.fmt == "json":
            self._emit("\n ]\n}\n" if self.started else self._json_head() + ' "rows": []\n}\n')
        for handle in (self.parquet, self.sink):
            if handle is not None:
                handle.close()
        if self.tmp is not None:
            os.replace(self.tmp, self.output)

    def abandon(self) -> None:
        for handle in (self.parquet, self.sink):
            if handle is not None:
                handle.close()
        if self.tmp is not None and self.tmp.exists():
            self.tmp.unlink()


def _write_part(task_result, directory: str, number: int, fmt: str, ref: str, sha: str) -> PartitionStats:
    """On a worker: write one partition as ``part-00000.parquet`` (or ``.csv``) under ``directory``."""
    frame, stats = task_result
    table = _output_table(frame, ref, sha, fmt == "csv")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"part-{number:05d}.{fmt}")
    (pq.write_table if fmt == "parquet" else pacsv.write_csv)(table, path)
    return stats


def _commit_directory(tmp: Path, output: Path) -> None:
    """Put the finished directory in place of ``output`` (replacing an earlier one)."""
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.{uuid.uuid4().hex[:8]}.old"
        os.replace(output, old)
    os.replace(tmp, output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _is_directory_output(output) -> bool:
    text = str(output)
    return text.endswith(("/", os.sep)) or Path(text).is_dir() or not Path(text).suffix


def run_eval_command(ruleset_path, inputs, *, address: str, as_of=None, roots=(), output=None, fmt=None,
                     invalid: str = "error", fail_on: str | None = None, quiet: bool = False,
                     blocksize=None, connect_timeout: float = 10.0) -> int:
    """``normrules eval RULESET --input … --dask ADDRESS``: evaluate on the Dask scheduler at
    ``address``; return the exit code (0 ok, 1 a ruleset error or ``--fail-on``, 2 a usage or data error).

    An ``output`` with a file suffix (``out.csv``, ``out.parquet``, ``out.json``) is one file written
    by this process as the partitions arrive, in order; a path without a suffix (or an existing
    directory, or one ending in ``/``) becomes a directory of ``part-NNNNN.parquet`` (or ``.csv``)
    files written by the workers, which must see that path. No output: CSV or JSON on standard output.
    ``blocksize`` is the bytes per CSV partition (Dask's default: about 64 MB).
    """
    import click

    def fail(message: str) -> int:
        click.echo(f"error: {message}", err=True)
        return 2

    try:
        rs = load(ruleset_path, roots=[*default_roots(), *map(Path, roots)], as_of=as_of)
    except CheckFailed as exc:
        click.echo(str(exc), err=True)
        return 1
    except NormrulesError as exc:
        return fail(str(exc))
    c = rs.checked
    paths = input_paths(rs, inputs)
    if c.entity not in paths:
        return fail(f"no table for `{c.entity}`: pass --input {c.entity}=FILE")
    directory = output is not None and _is_directory_output(output)
    output = Path(output) if output is not None else None
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None and not directory else ""
        fmt = {"pq": "parquet", "parquet": "parquet", "json": "json"}.get(suffix, "parquet" if directory else "csv")
    if fmt == "parquet" and output is None:
        return fail("--format parquet needs --output FILE (or a directory)")
    if fmt == "json" and directory:
        return fail("JSON output is one file: give --output a .json file name, or use --format parquet for a directory")
    try:
        frames = {entity: read_input(path, blocksize=blocksize) for entity, path in paths.items()}
    except (DataError, OSError, ValueError) as exc:
        return fail(str(exc))
    try:
        from distributed import Client

        client = Client(address, set_as_default=False, timeout=connect_timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        return fail(f"cannot reach the Dask scheduler at {address}: {exc} (start one with `dask scheduler`, "
                    f"and workers with `dask worker {address}`)")
    try:
        root = frames.pop(c.entity)
        try:
            graph = _build(rs, root, children=frames or None, as_of=as_of, invalid=invalid)
            summary = _compute_and_write(client, graph, rs, fmt, output, directory)
        except DataError as exc:
            return fail(f"{', '.join(inputs)}: {exc}")
        except UnicodeDecodeError as exc:
            return fail(f"{', '.join(inputs)}: {exc} — a CSV file changes encoding after its first 64 KiB; "
                        "convert it to UTF-8 (iconv -f GBK -t UTF-8) or to Parquet")
        except pd.errors.ParserError as exc:
            return fail(f"{', '.join(inputs)}: cannot read CSV: {exc}")
    finally:
        client.close()
    if not quiet:
        from .cli import _summary

        click.echo(_summary(summary), err=True)
    if fail_on:
        bad = sum(k.get("fail", 0) + (k.get("unknown", 0) if fail_on == "unknown" else 0)
                  for k in summary.counts().values() if "fail" in k)
        if bad:
            return 1
    return 0


def _compute_and_write(client, graph: _Graph, rs: Ruleset, fmt: str, output: Path | None, directory: bool) -> Summary:
    ref, sha = rs.ref, rs.content_hash
    if directory:
        tmp = output.parent / f".{output.name}.{uuid.uuid4().hex[:8]}.tmp"
        writes = [dask.delayed(_write_part)(t, str(tmp), i, fmt, ref, sha) for i, t in enumerate(graph.tasks)]
        try:
            stats = client.gather(client.compute(writes))
            _commit_directory(tmp, output)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return Summary.of(graph.shipped, *stats)
    writer = _FileWriter(fmt, output, ref, sha)
    futures = client.compute(graph.tasks)
    stats = []
    try:
        for future in futures:
            frame, part_stats = future.result()
            future.release()
            writer.write(frame)
            stats.append(part_stats)
        writer.finish()
    except BaseException:
        client.cancel(futures)
        writer.abandon()
        raise
    return Summary.of(graph.shipped, *stats)


__all__ = ["evaluate", "counts", "bucket_of", "Summary", "PartitionStats", "ShippedRuleset", "read_input",
           "run_eval_command"]
