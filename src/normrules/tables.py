"""Reading entity tables into canonical columns, and writing evaluation results.

Input columns are matched to declared inputs by name; a header may carry a unit in brackets
(``energy [万tce/yr]``), whose factor to base units pint gives. Numbers keep the unit they were
given in, the factor carried as the column's scale (see :class:`~normrules.columns.Col`); a float
numpy column is used as it is, not copied. Every conversion is a whole-column pyarrow/numpy
operation. Missing cells (empty, NaN, null) become unknown, never zero.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import types as T
from .check import CheckedRuleset, date_ordinal
from .errors import DataError, did_you_mean
from .execute import Col, all_known
from .units import UnitSyntaxError, parse_unit

_HEADER = re.compile(r"^\s*(?P<name>[^\[\]]+?)\s*(?:\[(?P<unit>[^\]]*)\])?\s*$")
_NUMERIC = r"^[+-]?(\d[\d_,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_TRUE = ["true", "yes", "y", "1", "是", "t"]
_FALSE = ["false", "no", "n", "0", "否", "f"]
# data of an absent column (all unknown): the dtype the column would have had (`not flag` needs bools)
_EMPTY_DTYPE = {T.BoolT: bool, T.TextT: np.int32}

# --------------------------------------------------------------------------- reading files


def decode_csv_bytes(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else GBK/GB18030 — the encodings Chinese spreadsheets write."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_table(path: str | os.PathLike) -> pa.Table:
    """Read CSV (UTF-8/GBK), Parquet or JSON (a list of records) into an Arrow table."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.exists():
        raise DataError(f"no such file: {p}")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pq.read_table(p)
    if suffix == ".json":
        data = json.loads(p.read_text("utf-8"))
        rows = data["rows"] if isinstance(data, dict) and "rows" in data else data
        return pa.Table.from_pylist(rows)
    data = decode_csv_bytes(p.read_bytes()).encode("utf-8")
    try:
        # every cell as text, converted later as the ruleset declares its input: a key written `007`
        # stays `007` (as when streaming), and no type guessed from the first rows can fail further down
        names = pacsv.open_csv(io.BytesIO(data)).schema.names
        return pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True, column_types={name: pa.string() for name in names}))
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot read CSV {p}: {exc}") from None


def to_arrow(table) -> pa.Table:
    """Accept a pyarrow Table, a pandas DataFrame or a dict of arrays/lists."""
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    if isinstance(table, dict):
        return pa.table({k: (v if isinstance(v, (pa.Array, pa.ChunkedArray)) else _array(v)) for k, v in table.items()})
    if type(table).__module__.startswith("pandas"):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise TypeError(f"cannot evaluate over a {type(table).__name__}: pass a pandas DataFrame, a pyarrow Table or a dict of arrays")


def _direct(values) -> bool:
    """A column :class:`InputReader` reads straight from numpy: a 1-D float or bool ndarray."""
    if not isinstance(values, np.ndarray) or values.ndim != 1 or not values.dtype.isnative:
        return False
    return values.dtype == np.bool_ or values.dtype in (np.float32, np.float64)


def _array(values) -> pa.Array:
    arr = np.asarray(values)
    if arr.dtype.kind == "U" and not isinstance(values, np.ndarray):
        return pa.array(list(values), from_pandas=True)   # a list of strings with NaN: NaN → null
    if arr.dtype.kind == "f":
        return pa.array(arr, from_pandas=True)   # NaN → null
    if arr.dtype.kind in "OU":
        return pa.array(list(arr) if arr.dtype.kind == "O" else arr.tolist(), from_pandas=True)
    return pa.array(arr)


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    """A chunked column as one array: its only chunk as it is (no copy), else the chunks joined."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


# --------------------------------------------------------------------------- inputs


def split_header(column: str) -> tuple[str, str | None]:
    m = _HEADER.match(column)
    if not m:
        return column, None
    return m.group("name"), m.group("unit")


def _first_row(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0]) + 1


def _as_strings(arr: pa.Array) -> pa.Array:
    s = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    return pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)


def _reject_duplicate_keys(keys: np.ndarray, column: str, entity: str) -> None:
    """A key given twice (a ledger entry counted twice) is an error naming the second row."""
    arr = pa.array(keys.astype(str).tolist(), pa.string())
    if len(pc.unique(arr)) == len(arr):
        return
    order = np.argsort(keys.astype(str), kind="stable")
    ordered = keys.astype(str)[order]
    second = order[1:][ordered[1:] == ordered[:-1]][0]
    raise DataError(f"{entity} key `{keys[second]}` appears twice (double counting)", column=column,
                    row=int(second) + 1)


def _integer_link(parent, child, entity: str, column: str) -> np.ndarray | None:
    """The parent row of each child row (-1: none) when both key columns hold integers, through a
    dense table from key to row; None when that does not apply (not both integers, a missing parent
    key, keys spread over too wide a range): then keys are matched as text. Integers are equal
    exactly when their decimal texts are, so both ways link the same rows. A parent key given
    twice is an error naming the key whose first row comes first, as when matching text."""
    if parent is None or child is None:
        return None
    if isinstance(parent, pa.ChunkedArray):
        parent = _one_array(parent)
    if not (pa.types.is_integer(parent.type) and pa.types.is_integer(child.type)) or pa.types.is_uint64(parent.type) \
            or pa.types.is_uint64(child.type) or parent.null_count or len(parent) == 0:
        return None
    p = parent.to_numpy().astype(np.int64, copy=False)
    lo, hi = int(p.min()), int(p.max())
    span = hi - lo + 1
    if span > 4 * len(p) + 1024:
        return None
    offset = p - lo
    counts = np.bincount(offset, minlength=span)
    if counts.max() > 1:
        first = int(np.flatnonzero(counts[offset] > 1)[0])
        raise DataError(f"{entity} key `{p[first]}` appears twice", column=column)
    table = np.full(span, -1, dtype=np.int64)
    table[offset] = np.arange(len(p), dtype=np.int64)
    if not len(child):
        return np.zeros(0, dtype=np.int64)
    c = np.asarray(child) if not child.null_count else np.asarray(pc.fill_null(child.cast(pa.int64()), lo))
    small, large = int(c.min()), int(c.max())
    if not child.null_count and small >= lo and large <= hi:     # every child key within the parents' range
        return table[c - lo if lo else c]
    c = c.astype(np.int64) - lo
    inside = (c >= 0) & (c < span)
    if child.null_count:
        inside &= np.asarray(child.is_valid())
    return np.where(inside, table[np.where(inside, c, 0)], -1)


class RowNumbers:
    """The keys "1", "2", … of a table without a key column, made only when someone reads them."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            if not -self.n <= i < self.n:
                raise IndexError(i)
            return str(int(i) % self.n + 1)
        return self.astype(str)[i]

    def __array__(self, dtype=None, copy=None):
        return self.astype(object if dtype is None else dtype)

    def astype(self, dtype):
        # Arrow's cast is ~10× faster than numpy's astype(str)
        return pa.array(np.arange(1, self.n + 1)).cast(pa.string()).to_numpy(zero_copy_only=False).astype(dtype)


class KeyTexts:
    """The keys of a table read from a key column, as an object array of texts made only when
    someone reads them (turning 10⁶ integer keys into Python strings takes longer than evaluating
    a ruleset over them). Reads like that array: indexing, ``len``, iteration, ``astype``…"""

    def __init__(self, column):
        self._column = column
        self._texts = None

    @property
    def texts(self) -> np.ndarray:
        """The keys as an object array of ``str`` (made once)."""
        if self._texts is None:
            texts = self._column.cast(pa.string()).to_numpy(zero_copy_only=False)
            self._texts = np.asarray(texts, dtype=object)
            self._column = None
        return self._texts

    def __len__(self) -> int:
        return len(self._column) if self._texts is None else len(self._texts)

    def __getitem__(self, i):
        return self.texts[i]

    def __iter__(self):
        return iter(self.texts)

    def __eq__(self, other):
        return self.texts == (other.texts if isinstance(other, KeyTexts) else other)

    __hash__ = None

    def __array__(self, dtype=None, copy=None):
        return self.texts if dtype is None else self.texts.astype(dtype)

    def __getattr__(self, name):                # astype, tolist, shape, dtype…: the array's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.texts, name)

    def __repr__(self) -> str:
        return f"KeyTexts({self.texts!r})"


class InputReader:
    """Turns an Arrow table into the canonical input columns of one ruleset."""

    def __init__(self, ruleset: CheckedRuleset, invalid: str = "error"):
        if invalid not in ("error", "unknown"):
            raise ValueError("invalid must be 'error' or 'unknown'")
        self.ruleset = ruleset
        self.invalid = invalid
        self.warnings: list[str] = []
        self.invalid_counts: dict[str, int] = {}
        self._key_columns: dict[str, object] = {}       # entity → its key column as given (Arrow)

    def read_all(self, tables: dict[str, object]):
        """Read the root table and every child table; link child rows to their parent rows.

        Returns ``(columns, Entities, keys by entity)``. A child row whose parent key matches no
        parent row is an error naming the row.
        """
        from .execute import Entities

        rs = self.ruleset
        cols: dict[str, Col] = {}
        sizes, parent_rows, parents, keys = {}, {}, {}, {}
        for ent in rs.entities or ():
            if ent.name not in tables:
                if ent.parent is None:
                    raise DataError(f"no table for `{ent.name}`")
                tables = dict(tables)
                tables[ent.name] = {}
                self.warnings.append(f"no table for `{ent.name}`: every {ent.parent} has no {ent.name} rows")
        order = [rs.entity] + [e.name for e in rs.entities if e.parent is not None]
        for name in order:
            c, n, k, extra = self.read(tables[name], entity=name, want=rs.key_of(rs.parent_of(name))
                                       if rs.parent_of(name) else None)
            cols.update(c)
            sizes[name], keys[name] = n, k
            parent = rs.parent_of(name)
            if parent is not None and not isinstance(k, RowNumbers):
                _reject_duplicate_keys(k, rs.key_of(name), name)
            if parent is not None:
                parents[name] = parent
                pkey = rs.key_of(parent)
                if extra is None:
                    if n:
                        raise DataError(f"the `{name}` table needs a column `{pkey}` naming each row's {parent}",
                                        column=pkey)
                    parent_rows[name] = np.zeros(0, dtype=np.int64)
                    continue
                linked = _integer_link(self._key_columns.get(parent), extra, parent, rs.key_of(parent))
                if linked is None:
                    parent_keys = pa.array(keys[parent].astype(str).tolist(), pa.string())
                    if len(pc.unique(parent_keys)) != len(parent_keys):
                        dup = pc.value_counts(parent_keys).filter(pc.greater(pc.value_counts(parent_keys).field("counts"), 1))
                        raise DataError(f"{parent} key `{dup[0]['values']}` appears twice", column=rs.key_of(parent))
                    idx = pc.index_in(extra.cast(pa.string()), value_set=parent_keys)
                    missing = ~np.asarray(idx.is_valid())
                    linked = np.asarray(pc.fill_null(idx, -1), dtype=np.int64)
                else:
                    missing = linked < 0
                if missing.any():
                    row = _first_row(missing)
                    raise DataError(f"`{extra[row - 1]}` matches no {parent}", column=pkey, row=row)
                parent_rows[name] = linked
        return cols, Entities(rs.entity, sizes, parent_rows, parents), keys

    def read(self, table, entity: str | None = None, want: str | None = None):
        """Read the inputs of ``entity`` (the root by default) from one table.

        Returns ``(columns, n, keys)``, or with ``entity`` given ``(columns, n, keys, column)``
        where ``column`` is the Arrow column named ``want`` (the parent key) as given, if present
        (keys are compared as text: see :meth:`read_all`).
        """
        single = entity is None
        entity = entity or self.ruleset.entity
        # float and bool numpy columns of a dict are read straight from numpy (no Arrow round trip)
        direct = {k: v for k, v in table.items() if _direct(v)} if isinstance(table, dict) else {}
        if direct:
            rest = to_arrow({k: v for k, v in table.items() if k not in direct})
            lengths = {len(v) for v in direct.values()} | ({rest.num_rows} if rest.num_columns else set())
            if len(lengths) != 1 or lengths == {0}:
                direct = {}                   # unequal lengths (to_arrow raises, as before) or no rows
        if direct:
            columns, n, table = list(table), lengths.pop(), rest
        else:
            table = to_arrow(table)
            columns, n = table.column_names, table.num_rows
        by_name: dict[str, tuple[str, str | None]] = {}
        for column in columns:
            name, unit = split_header(column)
            by_name[name] = (column, unit)
        cols: dict[str, Col] = {}
        for inp in self.ruleset.inputs:
            if (inp.entity or self.ruleset.entity) != entity:
                continue
            if inp.name not in by_name:
                hint = did_you_mean(inp.name, by_name)
                self.warnings.append(f"no column `{inp.name}`: it is unknown for every entity" + (f" ({hint})" if hint else ""))
                cols[inp.name] = Col(np.zeros(n, dtype=_EMPTY_DTYPE.get(type(inp.type), float)), np.zeros(n, dtype=bool))
                continue
            column, unit = by_name[inp.name]
            if column in direct:
                col = self._convert_numpy(inp, column, unit, direct[column])
                if col is not None:
                    cols[inp.name] = col
                    continue
                arr = _array(direct[column])
            else:
                arr = _one_array(table.column(column)) if n else pa.array([], pa.null())
            cols[inp.name] = self._convert(inp, column, unit, arr, n)
        key = self.ruleset.key_of(entity) if self.ruleset.entities else self.ruleset.key
        if key in by_name:
            column = by_name[key][0]
            arr = _array(direct[column]) if column in direct else table.column(column)
            self._key_columns[entity] = arr
            keys = KeyTexts(arr)
        else:
            keys = RowNumbers(n)
        if single:
            return cols, n, keys
        extra = None
        if want is not None and want in by_name:
            column = by_name[want][0]
            extra = _array(direct[column]) if column in direct else _one_array(table.column(column))
        return cols, n, keys, extra

    # ------------------------------------------------------------------ per type
    def _reject(self, inp, column: str, bad: np.ndarray, known: np.ndarray, message: str) -> np.ndarray:
        count = int(np.count_nonzero(bad))
        if count == 0:
            return known
        if self.invalid == "error":
            raise DataError(message, column=column, row=_first_row(bad))
        self.invalid_counts[inp.name] = self.invalid_counts.get(inp.name, 0) + count
        self.warnings.append(f"column `{column}`: {count} invalid value(s) read as unknown ({message})")
        return known & ~bad

    def _convert_numpy(self, inp, column: str, unit: str | None, arr: np.ndarray) -> Col | None:
        """A float column for a number, or a bool column for a boolean, straight from numpy.

        Gives what :meth:`_convert` gives for the same column through Arrow (NaN = unknown);
        None for any other pairing (read through Arrow instead).
        """
        typ = inp.type
        if isinstance(typ, T.NumT) and arr.dtype.kind == "f":
            factor = self._header_factor(inp, column, unit, typ)
            return self._finish_number(inp, column, unit, typ, arr.astype(np.float64, copy=False), None, factor)
        if isinstance(typ, T.BoolT) and arr.dtype.kind == "b" and not unit:
            return Col(arr, all_known(len(arr)))
        return None

    def _convert(self, inp, column: str, unit: str | None, arr: pa.Array, n: int) -> Col:
        typ = inp.type
        if isinstance(typ, T.NumT):
            return self._number(inp, column, unit, arr, typ)
        if unit:
            raise DataError(f"a unit in the header, but `{inp.name}` is {typ}", column=column)
        if isinstance(typ, T.BoolT):
            return self._boolean(inp, column, arr)
        if isinstance(typ, T.TextT):
            return self._text(inp, column, arr, typ)
        if isinstance(typ, T.DateT):
            return self._date(inp, column, arr, typ)
        raise AssertionError(typ)

    def _header_factor(self, inp, column, unit, typ: T.NumT) -> float:
        """The factor from the header's unit (else the declared unit) to base units."""
        declared = typ.unit
        if unit:
            try:
                given = parse_unit(unit)
            except UnitSyntaxError as exc:
                raise DataError(f"{exc} in the header", column=column) from None
            if given.dimensionality != declared.dimensionality:
                raise DataError(f"unit {unit} cannot be converted to {declared.text} (the unit `{inp.name}` is declared in)",
                                column=column)
            return given.factor
        return declared.factor

    def _number(self, inp, column, unit, arr, typ: T.NumT) -> Col:
        declared = typ.unit
        factor = self._header_factor(inp, column, unit, typ)
        percent_marked = None
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type):
            s = _as_strings(arr)
            has_pct = pc.fill_null(pc.ends_with(s, "%"), False)
            percent_marked = np.asarray(has_pct)
            s = pc.utf8_rtrim(pc.replace_substring(s, "%", ""), " ")
            ok = pc.fill_null(pc.match_substring_regex(s, _NUMERIC), True)
            bad = ~np.asarray(ok)
            if bad.any():
                row = _first_row(bad)
                raise DataError(f"`{s[row - 1]}` is not a number", column=column, row=row)
            s = pc.replace_substring(s, ",", "")
            values = np.asarray(pc.fill_null(s.cast(pa.float64()), np.nan), dtype=float)
            if percent_marked.any() and not declared.is_dimensionless:
                raise DataError(f"`%` values, but `{inp.name}` is in {declared.text}", column=column, row=_first_row(percent_marked))
        elif pa.types.is_boolean(arr.type):
            raise DataError(f"true/false values, but `{inp.name}` is a number in {declared.text}", column=column)
        else:
            values = np.asarray(pc.fill_null(arr.cast(pa.float64()), np.nan), dtype=float)
        return self._finish_number(inp, column, unit, typ, values, percent_marked, factor)

    def _finish_number(self, inp, column, unit, typ: T.NumT, values: np.ndarray, percent_marked, factor: float) -> Col:
        """Float values as read (NaN = missing; ``percent_marked`` where written with %) → a column.

        The values stay in the unit they were given in, and are not copied: the column's ``scale``
        is the factor to base units, which the executor folds into limits and constants.
        """
        declared = typ.unit
        if percent_marked is not None and not percent_marked.any():
            percent_marked = None
        # the smallest and largest value, taken once: `min` is NaN when a value is missing (then the
        # known mask is built, and fmin/fmax skip NaN); both are NaN when every value is missing
        lo = hi = math.nan
        known = all_known(len(values))
        if len(values):
            lo = float(values.min())
            if math.isnan(lo):
                known = values == values                 # not NaN
                lo, hi = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
            else:
                hi = float(values.max())
        if declared.text in ("percent", "%") and not unit and percent_marked is None and hi <= 1 and lo >= -1:
            self._percent_warning(inp, column)          # every known value within ±1 (false when none is)
        if percent_marked is not None:
            return self._in_range(inp, column, Col(np.where(percent_marked, values * 0.01, values * factor), known))
        if factor <= 0:
            return self._in_range(inp, column, Col(values * factor, known))
        extremes = (lo * factor, hi * factor)            # a positive factor keeps the order
        if (math.isfinite(lo) and not math.isfinite(extremes[0])) or (math.isfinite(hi) and not math.isfinite(extremes[1])):
            # a value too large for base units: converted now, infinite as the reference has it
            return self._in_range(inp, column, Col(values * factor, known), extremes)
        bounds = (lo, hi) if lo <= hi else None            # over the known values (None: none is known)
        return self._in_range(inp, column, Col(values, known, factor, bounds=bounds), extremes)

    def _percent_warning(self, inp, column) -> None:
        self.warnings.append(
            f"column `{column}`: every value is ≤ 1 — `{inp.name}` is a percentage, so 0.95 means 0.95 %, "
            f"not 95 %; write 95 or 95% (or put `[1]` in the header for fractions)")

    def _in_range(self, inp, column, col: Col, extremes=None) -> Col:
        """``col`` with its values outside the declared range rejected: an error, or unknown (and
        counted) with ``invalid="unknown"``. ``extremes``: its smallest and largest value in base
        units, when already known."""
        if inp.low is None and inp.high is None:
            return col
        if extremes is None and len(col.known):
            extremes = (np.fmin.reduce(col.data), np.fmax.reduce(col.data))    # NaN skipped
        if extremes is not None and self._within(inp, *extremes):
            return col                                   # the smallest and the largest value are in range
        data, known = col.data, col.known
        bad = np.zeros(len(data), dtype=bool)
        if inp.low is not None:
            bad |= known & ((data < inp.low) if inp.low_inclusive else (data <= inp.low))
        if inp.high is not None:
            bad |= known & ((data > inp.high) if inp.high_inclusive else (data >= inp.high))
        if not bad.any():
            return col
        d = inp.decl.range
        in_range = self._reject(inp, column, bad, known,
                                f"outside the declared range {'[' if d.low.inclusive else '('}{d.low.text}, "
                                f"{d.high.text}{']' if d.high.inclusive else ')'} {inp.type}")
        return Col(np.where(in_range, data, np.nan), in_range)

    @staticmethod
    def _within(inp, smallest: float, largest: float) -> bool:
        """Whether [smallest, largest] lies in the declared range (False when they are NaN)."""
        if inp.low is not None and not (smallest >= inp.low if inp.low_inclusive else smallest > inp.low):
            return False
        if inp.high is not None and not (largest <= inp.high if inp.high_inclusive else largest < inp.high):
            return False
        return True

    def _boolean(self, inp, column, arr) -> Col:
        if pa.types.is_boolean(arr.type):
            known = all_known(len(arr)) if not arr.null_count else np.asarray(arr.is_valid())
            return Col(np.asarray(pc.fill_null(arr, False)), known)
        if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
            v = np.asarray(pc.fill_null(arr.cast(pa.float64()), np.nan), dtype=float)
            known = ~np.isnan(v)
            bad = known & (v != 0) & (v != 1)
            known = self._reject(inp, column, bad, known, "expected true/false (or 1/0)")
            return Col(v == 1, known)
        s = pc.utf8_lower(_as_strings(arr))
        is_true = np.asarray(pc.fill_null(pc.is_in(s, pa.array(_TRUE)), False))
        is_false = np.asarray(pc.fill_null(pc.is_in(s, pa.array(_FALSE)), False))
        present = np.asarray(s.is_valid())
        bad = present & ~is_true & ~is_false
        known = self._reject(inp, column, bad, present, "expected true/false, yes/no, 1/0 or 是/否")
        return Col(is_true, known)

    def _text(self, inp, column, arr, typ: T.TextT) -> Col:
        if pa.types.is_dictionary(arr.type):
            return self._text_dictionary(inp, column, arr, typ)
        s = _as_strings(arr)
        idx = pc.index_in(s, value_set=pa.array(typ.categories, pa.string()))
        if not idx.null_count:                             # every row holds a declared category
            return Col(np.asarray(idx).astype(np.int32, copy=False), all_known(len(idx)))
        present = np.asarray(s.is_valid())
        found = np.asarray(idx.is_valid())
        bad = present & ~found
        if bad.any() and self.invalid == "error":
            row = _first_row(bad)
            value = s[row - 1].as_py()
            hint = did_you_mean(value, typ.categories)
            raise DataError(f'"{value}" is not a declared category of `{inp.name}`'
                            + (f"; {hint}" if hint else "") + " (categories: " + ", ".join(typ.categories) + ")",
                            column=column, row=row)
        known = self._reject(inp, column, bad, present, "undeclared category")
        codes = np.asarray(pc.fill_null(idx, 0), dtype=np.int32)
        return Col(codes, known)

    def _text_dictionary(self, inp, column, arr: pa.DictionaryArray, typ: T.TextT) -> Col:
        """What :meth:`_text` gives for a dictionary-encoded column (Parquet, pandas categoricals),
        reading each distinct text once and spreading the results by the indices."""
        d = _as_strings(arr.dictionary)
        idx = pc.index_in(d, value_set=pa.array(typ.categories, pa.string()))
        # per dictionary entry, plus one last entry standing for a missing index
        present_of = np.append(np.asarray(d.is_valid(), dtype=bool), False)
        found_of = np.append(np.asarray(idx.is_valid(), dtype=bool), False)
        code_of = np.append(np.asarray(pc.fill_null(idx, 0), dtype=np.int32), np.int32(0))
        indices = arr.indices
        if not indices.null_count and present_of[:-1].all() and found_of[:-1].all():
            # every row holds a declared category (the usual case): only the codes to spread
            indices = np.asarray(indices)
            identity = np.array_equal(code_of[:-1], np.arange(len(d)))
            codes = indices.astype(np.int32, copy=False) if identity else code_of[indices]
            return Col(codes, all_known(len(indices)))
        if indices.null_count:
            indices = pc.fill_null(indices.cast(pa.int64()), len(d))
        indices = np.asarray(indices)
        present, found = present_of[indices], found_of[indices]
        bad = present & ~found
        if bad.any() and self.invalid == "error":
            row = _first_row(bad)
            value = d[int(indices[row - 1])].as_py()
            hint = did_you_mean(value, typ.categories)
            raise DataError(f'"{value}" is not a declared category of `{inp.name}`'
                            + (f"; {hint}" if hint else "") + " (categories: " + ", ".join(typ.categories) + ")",
                            column=column, row=row)
        known = self._reject(inp, column, bad, present, "undeclared category")
        return Col(code_of[indices], known)

    def _date(self, inp, column, arr, typ: T.DateT) -> Col:
        if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
            days = np.asarray(pc.fill_null(arr.cast(pa.date32()).cast(pa.int32()), 0), dtype=float)
            known = np.asarray(arr.is_valid())
            if typ.precision == "month":
                d = arr.cast(pa.date32())
                months = pc.add(pc.multiply(pc.year(d), 12), pc.subtract(pc.month(d), 1))
                days = np.asarray(pc.fill_null(months, 0), dtype=float)
            return Col(days, known)
        s = _as_strings(arr)
        present = np.asarray(s.is_valid())
        pattern = r"^\d{4}-\d{2}$" if typ.precision == "month" else r"^\d{4}-\d{2}-\d{2}$"
        if typ.precision == "month":
            pattern = r"^\d{4}-\d{2}(-\d{2})?$"
        ok = np.asarray(pc.fill_null(pc.match_substring_regex(s, pattern), False))
        bad = present & ~ok
        if bad.any() and self.invalid == "error":
            row = _first_row(bad)
            raise DataError(f"`{s[row - 1]}` is not a date like {'2025-07' if typ.precision == 'month' else '2025-07-08'}",
                            column=column, row=row)
        known = self._reject(inp, column, bad, present, "not a date")
        good = pc.if_else(pa.array(known), s, pa.scalar(None, pa.string()))
        if typ.precision == "month":
            year = pc.cast(pc.utf8_slice_codeunits(good, 0, 4), pa.int64())
            month = pc.cast(pc.utf8_slice_codeunits(good, 5, 7), pa.int64())
            values = np.asarray(pc.fill_null(pc.add(pc.multiply(year, 12), pc.subtract(month, 1)), 0), dtype=float)
        else:
            ts = pc.strptime(good, format="%Y-%m-%d", unit="s", error_is_null=True)
            known = known & np.asarray(ts.is_valid())
            values = np.asarray(pc.fill_null(ts.cast(pa.date32()).cast(pa.int32()), 0), dtype=float)
        return Col(values, known)


__all__ = ["InputReader", "read_table", "to_arrow", "split_header", "decode_csv_bytes", "date_ordinal"]
