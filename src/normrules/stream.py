"""Evaluating a ruleset over input files larger than memory, one batch of rows at a time.

``normrules eval`` reads the root entity's file in record batches of ``batch_rows`` rows (CSV
through ``pyarrow.csv.open_csv``, Parquet through ``ParquetFile.iter_batches``), evaluates each
batch with :meth:`Ruleset.evaluate` and hands each batch's output table on, so memory holds one
batch at a time whatever the size of the file. Entities are independent of each other, so the
rows and their order are exactly those of a whole-table run; the summary counts, counters and
warnings of the batches are merged (:class:`StreamSummary`) into what a whole-table run reports.

Child entities (BOM lines of a module, fuels of an enterprise) are read alongside, merge-style:
the rows of each child file must come grouped by parent, the groups in the order of the parents in
the parent's file (both files sorted by the parent key satisfies this; within one batch of parents
the order is free). Each batch of parents takes the run of child rows that name one of its parents.
A child file in another order is detected and reported with the rows concerned and what to do
(sort both files by the parent key); a child row naming no parent is reported as in a whole-table
run. Keys given twice across batches (a parent key, a child key) are found through hash buckets
spilled to temporary files, so that check too runs in bounded memory. See docs/streaming.md.

Errors name the file and the row of the original file, never of the batch.
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import types as T
from .errors import DataError
from .execute import Counters
from .tables import read_table, split_header

DEFAULT_BATCH_ROWS = 262_144
_CSV_BLOCK = 4 << 20              # bytes per CSV block read by Arrow (a row longer than this is an error)
_SPILL_ROWS = 1 << 20             # keys kept in memory before the duplicate check spills them to disk
_SPILL_BUCKETS = 32


class InputFileError(DataError):
    """A problem in one input file, naming the file and the row of that file (1 = first data row)."""

    def __init__(self, file, message: str, column: str | None = None, row: int | None = None):
        super().__init__(message, column, row)
        self.file = str(file)
        self.message = message
        self.args = (f"{self.file}: {self.args[0]}",)


# --------------------------------------------------------------------------- reading files in batches


def csv_encoding(path: Path) -> str:
    """The encoding :func:`normrules.tables.decode_csv_bytes` would pick for the whole file — UTF-8
    (with or without BOM) unless some byte is not UTF-8, then GB18030 — found in one streaming pass."""
    with open(path, "rb") as fh:
        head = fh.read(3)
        if head == b"\xef\xbb\xbf":
            return "utf8"                                   # Arrow skips the BOM
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(16 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf8"


def _exact_batches(batches: Iterator, rows: int, schema: pa.Schema) -> Iterator[pa.Table]:
    """Re-cut record batches into tables of exactly ``rows`` rows (the last one shorter; one empty
    table when there are no rows at all)."""
    pending: list = []
    count = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending, schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count or not pending:
        yield pa.Table.from_batches(pending, schema)


class BatchSource:
    """One input file read as Arrow tables of at most ``batch_rows`` rows, in file order.

    CSV cells are read as text (Arrow's type guess from the first block could not hold for the
    rest of a large file); :class:`normrules.tables.InputReader` converts them as the ruleset
    declares, as it does for text columns of a whole-table read. Parquet keeps its types. JSON
    (a list of records) is read whole and cut into batches.
    """

    def __init__(self, path: str | Path, batch_rows: int = DEFAULT_BATCH_ROWS):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"no such file: {self.path}")
        self.batch_rows = max(1, int(batch_rows))
        self.size = self.path.stat().st_size
        self.suffix = self.path.suffix.lower()
        self.rows_read = 0
        self._done_bytes: Callable[[], int] = lambda: 0
        if self.suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetFile(self.path)
            self.columns = self._parquet.schema_arrow.names
        elif self.suffix == ".json":
            self._whole = read_table(self.path)
            self.columns = self._whole.column_names
        else:
            self.encoding = csv_encoding(self.path)
            self.columns = self._csv_reader(None).schema.names

    def _csv_reader(self, handle):
        import pyarrow.csv as pacsv

        read = pacsv.ReadOptions(encoding=self.encoding, block_size=_CSV_BLOCK)
        convert = pacsv.ConvertOptions(strings_can_be_null=True, column_types=(
            {name: pa.string() for name in self.columns} if handle is not None else None))
        try:
            return pacsv.open_csv(handle if handle is not None else str(self.path), read_options=read,
                                  convert_options=convert)
        except pa.ArrowInvalid as exc:
            raise InputFileError(self.path, f"cannot read CSV: {exc}") from None

    def _record_batches(self) -> tuple[Iterator, pa.Schema]:
        if self.suffix in (".parquet", ".pq"):
            total = max(self._parquet.metadata.num_rows, 1)
            self._done_bytes = lambda: int(self.size * min(self.rows_read / total, 1.0))
            return self._parquet.iter_batches(batch_size=self.batch_rows), self._parquet.schema_arrow
        if self.suffix == ".json":
            total = max(self._whole.num_rows, 1)
            self._done_bytes = lambda: int(self.size * min(self.rows_read / total, 1.0))
            return iter(self._whole.to_batches(max_chunksize=self.batch_rows)), self._whole.schema
        handle = pa.OSFile(str(self.path))
        reader = self._csv_reader(handle)
        self._done_bytes = handle.tell

        def batches():
            try:
                yield from reader
            except pa.ArrowInvalid as exc:
                raise InputFileError(self.path, f"cannot read CSV near data row {self.rows_read + 1}: {exc}") from None
            finally:
                handle.close()
        return batches(), reader.schema

    def batches(self) -> Iterator[pa.Table]:
        """Tables of ``batch_rows`` rows; :attr:`rows_read` counts the rows handed out so far."""
        self.rows_read = 0
        batches, schema = self._record_batches()
        for table in _exact_batches(batches, self.batch_rows, schema):
            self.rows_read += table.num_rows
            yield table

    def bytes_done(self) -> int:
        """How far reading has got, in bytes of the file (estimated for Parquet and JSON)."""
        try:
            return min(self._done_bytes(), self.size)
        except (OSError, ValueError):          # the file is closed: read to the end
            return self.size

    def empty(self) -> pa.Table:
        """A table of no rows with the file's columns."""
        if self.suffix in (".parquet", ".pq"):
            return self._parquet.schema_arrow.empty_table()
        if self.suffix == ".json":
            return self._whole.schema.empty_table()
        return pa.table({name: pa.array([], pa.string()) for name in self.columns})

    def column_named(self, name: str) -> str | None:
        """The header naming ``name`` (a header may carry a unit: ``energy [tce/yr]``)."""
        return next((c for c in self.columns if split_header(c)[0] == name), None)

    def first_row_with(self, column: str, value: str) -> int | None:
        """The first data row (1-based) whose ``column`` reads as ``value``: a second pass, for error messages."""
        source = BatchSource(self.path, self.batch_rows)
        for table in source.batches():
            hits = np.flatnonzero(np.asarray(pc.fill_null(pc.equal(_as_text(table.column(column)), value), False)))
            if len(hits):
                return source.rows_read - table.num_rows + int(hits[0]) + 1
        return None


def _as_text(column) -> pa.Array:
    """Keys compared as text, as :meth:`InputReader.read_all` compares them."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.cast(pa.string())


# --------------------------------------------------------------------------- child rows beside their parents


class ChildFeed:
    """The rows of one child file, handed out per batch of parents (merge-style; see the module doc)."""

    def __init__(self, source: BatchSource, entity: str, parent: str, parent_key: str, parent_source: BatchSource):
        self.source, self.entity, self.parent, self.parent_key = source, entity, parent, parent_key
        self.parent_source = parent_source
        self.column = source.column_named(parent_key)
        self._batches = source.batches()
        self._buffer: pa.Table | None = None
        self._buffer_row = 0              # file row (0-based) of the buffer's first row
        self.next_row = 0                 # file row (0-based) of the next row to hand out

    def _fill(self) -> bool:
        if self._buffer is not None and self._buffer.num_rows:
            return True
        table = next(self._batches, None)
        if table is None:
            self._buffer = None
            return False
        self._buffer, self._buffer_row = table, self.source.rows_read - table.num_rows
        if self.column is None and table.num_rows:
            raise InputFileError(self.source.path, f"the `{self.entity}` table needs a column `{self.parent_key}` "
                                 f"naming each row's {self.parent}", column=self.parent_key)
        return True

    def take(self, parent_keys: pa.Array) -> tuple[pa.Table | None, int]:
        """The child rows naming one of ``parent_keys`` (text), and the file row (0-based) of the first."""
        first, parts = self.next_row, []
        while self._fill():
            buffer = self._buffer
            if self.column is None:
                self._buffer = None
                continue
            mine = np.asarray(pc.fill_null(pc.is_in(_as_text(buffer.column(self.column)), value_set=parent_keys), False))
            if mine.all():
                parts.append(buffer)
                self._buffer = None
                continue
            cut = int(np.argmin(mine))
            parts.append(buffer.slice(0, cut))
            if mine[cut:].any():
                later = cut + int(np.argmax(mine[cut:]))
                self._out_of_order(buffer, cut, later)
            self._buffer, self._buffer_row = buffer.slice(cut), self._buffer_row + cut
            break
        parts = [p for p in parts if p.num_rows]
        rows = sum(p.num_rows for p in parts)
        self.next_row = first + rows
        if not parts:
            return None, first
        return (parts[0] if len(parts) == 1 else pa.concat_tables(parts)), first

    def finish(self) -> None:
        """After the last batch of parents: a child row left over names no parent, or came too late."""
        if self._fill() and self.column is not None:
            self._out_of_order(self._buffer, 0, None)

    def _out_of_order(self, buffer: pa.Table, stray: int, later: int | None) -> None:
        """Raise for the row ``stray`` of ``buffer`` that names none of the current parents (while
        row ``later``, if given, does): it names no parent at all, or the file is not grouped."""
        keys = _as_text(buffer.column(self.column))
        key = keys[stray].as_py()
        row = self._buffer_row + stray + 1
        parent_column = self.parent_source.column_named(self.parent_key)
        if key is None:
            parent_row = None
        elif parent_column is None:                # parents keyed by row number
            parent_row = int(key) if key.isdigit() else None
        else:
            parent_row = self.parent_source.first_row_with(parent_column, key)
        if parent_row is None:
            raise InputFileError(self.source.path, f"`{key}` matches no {self.parent}", column=self.column, row=row)
        where = (f"row {self._buffer_row + later + 1} (`{keys[later].as_py()}`) comes after it" if later is not None
                 else "it comes after the rows of later ones")
        raise InputFileError(
            self.source.path,
            f"this {self.entity} row names {self.parent} `{key}` (row {parent_row} of {self.parent_source.path}), "
            f"but {where}: the {self.entity} rows must be grouped by {self.parent}, in the order of the "
            f"{self.parent} rows of {self.parent_source.path} — sort both files by `{self.parent_key}` "
            f"(or evaluate the whole table from Python)", column=self.column, row=row)


# --------------------------------------------------------------------------- keys given twice across batches


def _bucket_of(keys: pa.Array, buckets: int) -> np.ndarray:
    """A hash bucket per key (text), from its length and up to 8 bytes at each end."""
    arr = pc.fill_null(keys.cast(pa.large_string()), "")
    _, offsets, data = arr.buffers()
    offsets = np.frombuffer(offsets, np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(data, np.uint8) if data is not None and data.size else np.zeros(1, np.uint8)
    start, end = offsets[:-1], offsets[1:]
    h = (end - start).astype(np.uint64)
    prime = np.uint64(1099511628211)
    for j in range(8):
        for index in (start + j, end - 1 - j):
            inside = (index >= start) & (index < end)
            byte = np.where(inside, data[np.clip(index, 0, len(data) - 1)], 0).astype(np.uint64)
            h = (h ^ byte) * prime
    h ^= h >> np.uint64(29)
    return (h % np.uint64(buckets)).astype(np.int64)


class DuplicateKeys:
    """The keys of one file across all its batches; :meth:`check` raises for a key given twice.

    Keys stay in memory up to ``_SPILL_ROWS``, then go to hash buckets in temporary files (a key's
    copies share a bucket), so the check needs memory for one bucket, not for every key."""

    def __init__(self, source: BatchSource, column: str, what: str, tmpdir: str):
        self.source, self.column, self.what, self.tmpdir = source, column, what, tmpdir
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writers: list | None = None
        self._schema = pa.schema([("key", pa.string()), ("row", pa.int64())])

    def add(self, keys: pa.Array, first_row: int) -> None:
        """``keys`` (text) of the file rows ``first_row + 1, …`` (1-based)."""
        rows = pa.array(np.arange(first_row + 1, first_row + 1 + len(keys), dtype=np.int64))
        self._pending.append(pa.Table.from_arrays([keys, rows], schema=self._schema))
        self._pending_rows += len(keys)
        if self._pending_rows >= _SPILL_ROWS:
            self._spill()

    def _spill(self) -> None:
        if self._writers is None:
            self._writers = [pa.ipc.new_stream(pa.OSFile(f"{self.tmpdir}/{id(self)}-{b}.arrow", "wb"), self._schema)
                             for b in range(_SPILL_BUCKETS)]
        if self._pending:
            table = pa.concat_tables(self._pending)
            bucket = _bucket_of(table.column("key").combine_chunks(), _SPILL_BUCKETS)
            order = np.argsort(bucket, kind="stable")
            bounds = np.searchsorted(bucket[order], np.arange(_SPILL_BUCKETS + 1))
            table = table.take(pa.array(order))
            for b in range(_SPILL_BUCKETS):
                if bounds[b + 1] > bounds[b]:
                    self._writers[b].write_table(table.slice(bounds[b], bounds[b + 1] - bounds[b]))
        self._pending, self._pending_rows = [], 0

    def _parts(self) -> Iterator[pa.Table]:
        if self._writers is None:
            if self._pending:
                yield pa.concat_tables(self._pending)
            return
        self._spill()
        for b, writer in enumerate(self._writers):
            writer.close()
            with pa.OSFile(f"{self.tmpdir}/{id(self)}-{b}.arrow") as fh:
                yield pa.ipc.open_stream(fh).read_all()

    def check(self) -> None:
        """Raise :class:`InputFileError` for the key given twice whose second row comes first."""
        best = None
        for part in self._parts():
            if part.num_rows < 2:
                continue
            part = part.sort_by([("key", "ascending"), ("row", "ascending")])
            keys, rows = part.column("key").combine_chunks(), part.column("row").to_numpy()
            same = np.asarray(pc.fill_null(pc.equal(keys[1:], keys[:-1]), False))
            if same.any():
                second = np.flatnonzero(same) + 1
                repeat = second[np.argmin(rows[second])]
                first_of = repeat - 1
                while first_of > 0 and keys[first_of - 1] == keys[repeat]:
                    first_of -= 1
                found = (int(rows[repeat]), int(rows[first_of]), keys[repeat].as_py())
                best = found if best is None or found < best else best
        if best is not None:
            row, first, key = best
            raise InputFileError(self.source.path, f"{self.what} key `{key}` appears twice (rows {first} and {row}; "
                                 "double counting)", column=self.column, row=row)


# --------------------------------------------------------------------------- the merged summary


_INVALID = re.compile(r"^(?P<prefix>(?:[^`:]+: )*)column `(?P<column>[^`]*)`: (?P<n>\d+) invalid value\(s\) read as "
                      r"unknown \((?P<why>.*)\)$", re.S)
_PERCENT = re.compile(r"^(?P<prefix>(?:[^`:]+: )*)column `[^`]*`: every value is ≤ 1 — `(?P<name>[^`]+)` is a percentage")


def _percent_inputs(ruleset, prefix: str = "") -> list[str]:
    """Qualified names (``alias.name``) of the inputs in percent, of the ruleset and its imports."""
    c = ruleset.checked
    names = [prefix + i.name for i in c.inputs
             if isinstance(i.type, T.NumT) and i.type.unit.text in ("percent", "%")]
    for alias, sub in c.imports:
        names += _percent_inputs(sub, f"{prefix}{alias}.")
    return names


@dataclass
class StreamSummary:
    """What a whole-table :class:`~normrules.api.Evaluation` reports, merged over batches: the
    entity count, :meth:`counts`, :attr:`counters`, :attr:`invalid_counts` and :attr:`warnings`."""

    ruleset: object
    n: int = 0
    counters: Counters = field(default_factory=Counters)
    invalid_counts: dict = field(default_factory=dict)
    _counts: dict = field(default_factory=dict)
    _warnings: dict = field(default_factory=dict)          # slot → text, or [prefix, column, count, why]
    _percent_broken: set = field(default_factory=set)      # percent inputs with a batch of known values not all ≤ 1

    def add(self, ev) -> None:
        """Merge one batch's evaluation."""
        self.n += ev.n
        for name, by_verdict in ev.counts().items():
            slot = self._counts.setdefault(name, dict.fromkeys(by_verdict, 0))
            for verdict, k in by_verdict.items():
                slot[verdict] = slot.get(verdict, 0) + k
        for span, k in ev.counters.division_by_zero.items():
            self.counters.division_by_zero[span] = self.counters.division_by_zero.get(span, 0) + k
        for where, k in ev.counters.lookup_misses.items():
            self.counters.lookup_misses[where] = self.counters.lookup_misses.get(where, 0) + k
        for name, k in ev.invalid_counts.items():
            self.invalid_counts[name] = self.invalid_counts.get(name, 0) + k
        warned = set()
        for text in ev.warnings:
            m = _INVALID.match(text)
            if m:
                slot = self._warnings.setdefault(("invalid", m["prefix"], m["column"], m["why"]),
                                                 [m["prefix"], m["column"], 0, m["why"]])
                slot[2] += int(m["n"])
                continue
            m = _PERCENT.match(text)
            if m:
                warned.add(m["prefix"].replace(": ", ".") + m["name"])
            self._warnings.setdefault(text, text)
        for name in _percent_inputs(self.ruleset):
            col = ev.columns.get(name)
            if name not in warned and (col is None or col.known.any()):
                self._percent_broken.add(name)

    def counts(self) -> dict[str, dict[str, int]]:
        return self._counts

    @property
    def warnings(self) -> tuple[str, ...]:
        out = []
        for slot in self._warnings.values():
            if isinstance(slot, list):
                prefix, column, k, why = slot
                out.append(f"{prefix}column `{column}`: {k} invalid value(s) read as unknown ({why})")
                continue
            m = _PERCENT.match(slot)
            if m and m["prefix"].replace(": ", ".") + m["name"] in self._percent_broken:
                continue
            out.append(slot)
        return tuple(out)


# --------------------------------------------------------------------------- the evaluation


def _input_entities(ruleset, out: dict | None = None) -> dict[str, str]:
    """Input name → the entity whose table holds it (of the ruleset and its imports)."""
    out = {} if out is None else out
    c = ruleset.checked
    for i in c.inputs:
        out.setdefault(i.name, i.entity or c.entity)
    for _, sub in c.imports:
        _input_entities(sub, out)
    return out


def _number_inputs(ruleset, out: dict | None = None) -> dict[str, bool]:
    """Input name → whether every ruleset declaring it declares a number."""
    out = {} if out is None else out
    for i in ruleset.checked.inputs:
        out[i.name] = out.get(i.name, True) and isinstance(i.type, T.NumT)
    for _, sub in ruleset.checked.imports:
        _number_inputs(sub, out)
    return out


def _numbers_as_floats(table: pa.Table, numbers: dict[str, bool]) -> pa.Table:
    """Text columns of number inputs that are plain numbers throughout, as floats (what a
    whole-table CSV read guesses); any other column stays text, converted by the InputReader."""
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if numbers.get(split_header(name)[0]) and pa.types.is_string(col.type):
            try:
                table = table.set_column(i, name, pc.cast(col, pa.float64()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
    return table


class StreamEvaluation:
    """Evaluate ``ruleset`` over ``files`` (entity → path) batch by batch.

    Iterate :meth:`tables` for each batch's output (``Evaluation.to_arrow()``); :attr:`summary` is
    complete once the iteration ends (keys given twice are checked then). ``progress()`` gives
    ``(bytes read, bytes in all)`` over the input files.
    """

    def __init__(self, ruleset, files: dict[str, str | Path], *, batch_rows: int = DEFAULT_BATCH_ROWS,
                 as_of=None, invalid: str = "error"):
        c = ruleset.checked
        if c.entity not in files:
            raise DataError(f"no table for `{c.entity}`")
        self.ruleset, self.as_of, self.invalid = ruleset, as_of, invalid
        self.root = c.entity
        self.sources = {entity: BatchSource(path, batch_rows) for entity, path in files.items()}
        self.children = [e.name for e in c.entities if e.parent is not None and e.name in self.sources]
        for name in self.children:
            if c.parent_of(name) not in self.sources:
                raise DataError(f"a table for `{name}` but none for its parent `{c.parent_of(name)}`: "
                                f"pass --input {c.parent_of(name)}=FILE too")
        self.summary = StreamSummary(ruleset)
        self._owner = _input_entities(ruleset)
        self._numbers = _number_inputs(ruleset)

    def key_of(self, entity: str) -> str:
        c = self.ruleset.checked
        return c.key_of(entity) if c.entities else c.key

    def progress(self) -> tuple[int, int]:
        return (sum(s.bytes_done() for s in self.sources.values()), sum(s.size for s in self.sources.values()))

    def _keyed(self, entity: str, table: pa.Table, first_row: int) -> tuple[pa.Table, str | None]:
        """The table with its key column (file row numbers when it has none, as a whole-table read
        numbers rows) and the header of the key column it had, if any."""
        key = self.sources[entity].column_named(self.key_of(entity))
        if key is None:
            numbers = pa.array(np.arange(first_row + 1, first_row + 1 + table.num_rows, dtype=np.int64))
            table = table.append_column(self.key_of(entity), numbers)
        return table, key

    def tables(self) -> Iterator[pa.Table]:
        """Each batch's output table, in file order."""
        with tempfile.TemporaryDirectory(prefix="normrules-keys-") as tmpdir:
            root = self.sources[self.root]
            feeds = {name: ChildFeed(self.sources[name], name, self.ruleset.checked.parent_of(name),
                                     self.key_of(self.ruleset.checked.parent_of(name)),
                                     self.sources[self.ruleset.checked.parent_of(name)])
                     for name in self.children}
            checks: dict[str, DuplicateKeys] = {}
            for entity in ([self.root] if self.children else []) + self.children:
                column = self.sources[entity].column_named(self.key_of(entity))
                if column is not None:
                    checks[entity] = DuplicateKeys(self.sources[entity], column, entity, tmpdir)
            for batch in root.batches():
                first = root.rows_read - batch.num_rows
                yield self._evaluate_batch(batch, first, feeds, checks)
            try:
                for feed in feeds.values():
                    feed.finish()
            except InputFileError:
                for check in checks.values():      # a key given twice explains a stray child row: say that first
                    check.check()
                raise
            for check in checks.values():
                check.check()

    def _evaluate_batch(self, batch: pa.Table, first: int, feeds: dict, checks: dict) -> pa.Table:
        tables, starts, keyed = {self.root: batch}, {self.root: first}, {}
        tables[self.root], keyed[self.root] = self._keyed(self.root, batch, first)
        self._add_keys(checks, self.root, tables, keyed, starts)
        for name in self.children:
            parent = self.ruleset.checked.parent_of(name)
            parent_keys = _as_text(tables[parent].column(keyed[parent] or self.key_of(parent)))
            try:
                rows, start = feeds[name].take(parent_keys)
            except InputFileError:
                if parent in checks:           # a parent key given twice explains a stray child row: say that first
                    checks[parent].check()
                raise
            starts[name] = start
            tables[name], keyed[name] = self._keyed(name, self.sources[name].empty() if rows is None else rows, start)
            self._add_keys(checks, name, tables, keyed, starts)
        tables = {e: _numbers_as_floats(t, self._numbers) for e, t in tables.items()}
        children = {name: tables[name] for name in self.children}
        try:
            ev = self.ruleset.evaluate(tables[self.root], children=children or None, as_of=self.as_of,
                                       invalid=self.invalid)
        except InputFileError:
            raise
        except DataError as exc:
            raise self._locate(exc, starts) from None
        self.summary.add(ev)
        return ev.to_arrow()

    @staticmethod
    def _add_keys(checks: dict, entity: str, tables: dict, keyed: dict, starts: dict) -> None:
        if entity in checks:
            checks[entity].add(_as_text(tables[entity].column(keyed[entity])), starts[entity])

    def _locate(self, exc: DataError, starts: dict[str, int]) -> InputFileError:
        """The batch's error, naming the file it comes from and the row of that file."""
        where = ", ".join(([f"column `{exc.column}`"] if exc.column is not None else [])
                          + ([f"row {exc.row}"] if exc.row is not None else []))
        message = str(exc)[len(where) + 2:] if where else str(exc)
        named = re.match(r"^(\w+) key `", message)
        if named and named[1] in self.sources:
            entity = named[1]
        elif exc.column in self.sources:                # an error of the executor names the entity
            entity = exc.column
        elif exc.column is not None:
            entity = self._owner.get(split_header(exc.column)[0], self.root)
        else:
            entity = self.root
        entity = entity if entity in self.sources else self.root
        row = None if exc.row is None else exc.row + starts.get(entity, 0)
        return InputFileError(self.sources[entity].path, message, exc.column, row)


# --------------------------------------------------------------------------- writing the output


def _repeat(text: str, n: int) -> pa.Array:
    """``text`` ``n`` times, built from buffers (no Python list of n strings)."""
    data = text.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


class OutputWriter:
    """Writes batch output tables as one CSV, JSON or Parquet file, byte for byte what writing the
    whole table at once gives (CSV, JSON) or the same columns, rows and metadata (Parquet).

    ``emit`` receives the CSV/JSON bytes as they come; Parquet goes to ``path``.
    """

    def __init__(self, fmt: str, ref: str, sha256: str, emit: Callable[[bytes], None] | None = None,
                 path: str | None = None):
        if fmt not in ("csv", "json", "parquet"):
            raise ValueError(f"unknown output format {fmt!r}")
        if (fmt == "parquet") != (path is not None) or (fmt != "parquet" and emit is None):
            raise ValueError("parquet needs a path; csv and json need emit")
        self.fmt, self.ref, self.sha256, self.emit, self.path = fmt, ref, sha256, emit, path
        self.rows = 0
        self._first = True
        self._parquet = None

    def write(self, table: pa.Table) -> None:
        """Append one batch's rows."""
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table)
        elif self.fmt == "csv":
            import pyarrow.csv as pacsv

            n = table.num_rows
            table = table.append_column("_ruleset", _repeat(self.ref, n)).append_column("_sha256", _repeat(self.sha256, n))
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=self._first))
            self.emit(sink.getvalue().to_pybytes())
        else:
            self._json(table)
        self.rows += table.num_rows
        self._first = False

    def _json(self, table: pa.Table) -> None:
        if self._first:
            head = {"ruleset": self.ref, "sha256": self.sha256, "rows": []}
            text = json.dumps(head, ensure_ascii=False, indent=1)
            self.emit(text[: text.rindex("[") + 1].encode("utf-8"))
        if not table.num_rows:
            return
        body = json.dumps(table.to_pylist(), ensure_ascii=False, indent=1, default=str)
        inner = body[2:-2]                                  # without "[\n" and "\n]"
        sep = ",\n" if self.rows else "\n"
        self.emit((sep + " " + inner.replace("\n", "\n ")).encode("utf-8"))

    def close(self) -> None:
        """Finish the document (JSON) or the file footer (Parquet)."""
        if self.fmt == "json":
            self.emit(("\n ]\n}\n" if self.rows else "]\n}\n").encode("utf-8"))
        elif self._parquet is not None:
            self._parquet.close()


__all__ = ["DEFAULT_BATCH_ROWS", "BatchSource", "ChildFeed", "DuplicateKeys", "InputFileError", "OutputWriter",
           "StreamEvaluation", "StreamSummary", "csv_encoding"]
