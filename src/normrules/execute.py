"""Phase 6: the vectorized executor.

Every value is a column: a numpy array of data (floats in base units, booleans, category codes,
date ordinals) and a boolean ``known`` mask. Verdicts are int8 codes (:data:`types.PASS` …).
Each plan step is evaluated once for all entities; the Python work per step depends on the size of
the expression, never on the number of entities.

Semantics (shared with :mod:`normrules.reference`, see ``compiler/execute.md``):

* unknown operands give unknown results; ``and``/``or``/``not`` follow Kleene's logic;
* division by zero, or a result that is not finite, is unknown and counted;
* numbers are equal when within ``REL_TOL`` of the right-hand side (the limit), so a value
  converted between units never flips a verdict through floating error;
* a rule is not_applicable when its condition is false, unknown when the condition or the
  requirement is unknown, else pass/fail;
* ``all``: fail if any fails, else unknown if any is unknown, else not_applicable if none applies,
  else pass; ``any`` mirrors it;
* a result takes the first branch whose condition is true; an unknown condition before it makes
  the result unknown; no branch true and no ``otherwise`` is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from . import types as T
from .errors import DataError, Span
from .plan import Plan

REL_TOL = 1e-9
NO_LABEL = -1


class Col(NamedTuple):
    data: np.ndarray
    known: np.ndarray


def verdict_as_bool(codes: np.ndarray) -> Col:
    return Col(codes == T.PASS, codes != T.UNKNOWN)


def tolerance(right: np.ndarray | float):
    return REL_TOL * np.abs(right)


def compare(op: str, a, b):
    """Compare two float arrays (or an array and a scalar) with the limit tolerance."""
    if np.ndim(b):
        # the same arithmetic as below (REL_TOL·|b|, then b ± t), without the temporaries
        t = np.abs(b)
        t *= REL_TOL
        if op == "<=":
            return a <= np.add(b, t, out=t)
        if op == "<":
            return a < np.subtract(b, t, out=t)
        if op == ">=":
            return a >= np.subtract(b, t, out=t)
        if op == ">":
            return a > np.add(b, t, out=t)
        eq = (a >= b - t) & (a <= np.add(b, t, out=t))
        return eq if op == "==" else ~eq
    t = tolerance(b)
    if op == "<=":
        return a <= b + t
    if op == "<":
        return a < b - t
    if op == ">=":
        return a >= b - t
    if op == ">":
        return a > b + t
    eq = (a >= b - t) & (a <= b + t)
    return eq if op == "==" else ~eq


def _bool(x: np.ndarray) -> np.ndarray:
    """A condition's data as booleans (truthiness, as ``np.where`` reads it)."""
    return x if x.dtype == bool else x.astype(bool)


def _is_constant(x: np.ndarray) -> bool:
    """A column made by :meth:`_Eval.const`: one value broadcast over every entity."""
    return x.ndim == 1 and len(x) > 0 and x.strides == (0,)


def select_exclusive(n: int, dtype, default: int, choices) -> np.ndarray:
    """``default`` everywhere, else ``value`` where ``mask`` — for mutually exclusive masks.

    Equal to nested ``np.where`` calls, but as integer arithmetic: ``np.where`` on a mask without
    long runs is an order of magnitude slower (branch mispredictions).
    """
    out = np.full(n, default, dtype=dtype)
    for mask, value in choices:
        if value != default:
            out += mask * dtype(value - default)
    return out


def round_half_even(y):
    """GB/T 8170 rounding to an integer (四舍六入五成双), after clearing float noise below 1e-6."""
    return np.rint(np.rint(y * 1e6) / 1e6)


def apply_rounding(values, rounding: T.Rounding):
    scale = 10.0 ** rounding.decimals
    return round_half_even(values / rounding.factor * scale) / scale * rounding.factor


@dataclass
class Counters:
    """Events counted during one evaluation (shown in the summary)."""

    division_by_zero: dict[Span, int] = field(default_factory=dict)
    lookup_misses: dict[tuple[str, Span], int] = field(default_factory=dict)   # (table, where) → count

    @property
    def total_division_by_zero(self) -> int:
        return sum(self.division_by_zero.values())

    @property
    def total_lookup_misses(self) -> int:
        return sum(self.lookup_misses.values())


@dataclass(frozen=True)
class Entities:
    """Row counts per entity and, for each child entity, the parent row of each child row."""

    root: str
    sizes: dict[str, int]
    parent_rows: dict[str, np.ndarray]          # child entity → int64 index into the parent's rows
    parents: dict[str, str]                     # child entity → parent entity

    @classmethod
    def single(cls, root: str, n: int) -> "Entities":
        return cls(root, {root: n}, {}, {})


class _Eval:
    def __init__(self, env: dict[str, Col], entities: Entities, counters: Counters, params=(), tables=()):
        self.env = env
        self.entities = entities
        self.counters = counters
        self.params = {p.name: p for p in params}
        self.tables = {t.name: t for t in tables}
        self._table_cache: dict = {}
        self._lookup_cache: dict = {}              # rows found by exact lookups, per table and key columns
        self._counts_cache: dict[str, np.ndarray] = {}
        self._true = {name: np.ones(n, dtype=bool) for name, n in entities.sizes.items()}
        self.limit_tests: dict[tuple, Col] = {}    # `name op limit`, computed once (rules share scopes)
        self.enter(entities.root)

    def enter(self, entity: str) -> str:
        """Evaluate in the context of ``entity`` from now on; returns the previous context."""
        previous = getattr(self, "ctx", entity)
        self.ctx = entity
        self.n = self.entities.sizes[entity]
        self.all_true = self._true[entity]
        return previous

    def const(self, e: T.Const) -> Col:
        # a read-only view of one value (stride 0): no memory and no time per entity
        if isinstance(e.type, T.BoolT):
            value = np.bool_(bool(e.value))
        elif isinstance(e.type, (T.TextT, T.LabelT)):
            value = np.int32(int(e.value))
        else:
            value = np.float64(float(e.value))
        return Col(np.broadcast_to(value, (self.n,)), self.all_true)

    def ev(self, e, active: np.ndarray) -> Col:
        return getattr(self, "e_" + type(e).__name__)(e, active)

    def e_Const(self, e, active):
        return self.const(e)

    def e_Load(self, e: T.Load, active):
        if e.kind == "param":
            return self.const(self.params[e.name].expr)
        col = self.env[e.name]
        if e.kind == "rule":
            return verdict_as_bool(col.data)
        return col

    def e_Neg(self, e, active):
        x = self.ev(e.operand, active)
        return Col(-x.data, x.known)

    def e_Arith(self, e: T.Arith, active):
        a, b = self.ev(e.left, active), self.ev(e.right, active)
        known = a.known & b.known
        if e.op == "+":
            data = a.data + b.data
        elif e.op == "-":
            data = a.data - b.data
        elif e.op == "*":
            data = a.data * b.data
        else:
            zero = b.data == 0
            if zero.any():
                count = int(np.count_nonzero(zero & known & active))
                data = a.data / np.where(zero, 1.0, b.data)
                known = known & ~zero
            else:
                count = 0
                data = a.data / b.data
            self.counters.division_by_zero[e.span] = self.counters.division_by_zero.get(e.span, 0) + count
        return Col(data, known & np.isfinite(data))

    def e_Cmp(self, e: T.Cmp, active):
        if isinstance(e.left.type, T.NumT) and isinstance(e.right, T.Const):
            # a limit: compared as a scalar, known wherever the left side is
            key = (self.ctx, e.left.name, e.op, e.right.value, e.rounding) if isinstance(e.left, T.Load) else None
            if key in self.limit_tests:
                return self.limit_tests[key]
            a = self.ev(e.left, active)
            left = apply_rounding(a.data, e.rounding) if e.rounding is not None else a.data
            col = Col(compare(e.op, left, e.right.value), a.known)
            if key is not None:
                self.limit_tests[key] = col
            return col
        a, b = self.ev(e.left, active), self.ev(e.right, active)
        known = a.known & b.known
        if isinstance(e.left.type, T.NumT):
            left = apply_rounding(a.data, e.rounding) if e.rounding is not None else a.data
            return Col(compare(e.op, left, b.data), known)
        eq = a.data == b.data
        if e.op in ("==", "!="):
            return Col(eq if e.op == "==" else ~eq, known)
        data = {"<": a.data < b.data, "<=": a.data <= b.data, ">": a.data > b.data, ">=": a.data >= b.data}[e.op]
        return Col(data, known)

    def e_BoolOp(self, e: T.BoolOp, active):
        return kleene(e.op, self.ev(e.left, active), self.ev(e.right, active))

    def e_NotOp(self, e, active):
        x = self.ev(e.operand, active)
        return Col(~x.data, x.known)

    def e_IsState(self, e: T.IsState, active):
        if isinstance(e.operand.type, T.VerdictT):
            codes = self.verdict_codes(e.operand, active)
            return Col(codes == T.VERDICT_NAMES.index(e.state), self.all_true)
        x = self.ev(e.operand, active)
        return Col(~x.known if e.state == "unknown" else x.known.copy(), self.all_true)

    def verdict_codes(self, e, active) -> np.ndarray:
        if isinstance(e, T.Up):                    # a parent's verdict read in a child row
            rows = self.entities.parent_rows[self.ctx]
            previous = self.enter(self.entities.parents[self.ctx])
            try:
                codes = self.verdict_codes(e.operand, self.all_true)
            finally:
                self.enter(previous)
            return codes[rows]
        if isinstance(e, T.Load):
            return self.env[e.name].data
        return self.verdict_set_codes(e)

    def e_InSet(self, e: T.InSet, active):
        x = self.ev(e.operand, active)
        return Col(_in_set(x.data, e.codes), x.known)

    def e_IfElse(self, e: T.IfElse, active):
        c = self.ev(e.cond, active)
        cond = _bool(c.data)
        chosen_then = c.known & cond
        a = self.ev(e.then, active & chosen_then)
        b = self.ev(e.else_, active & c.known & ~cond)
        if _is_constant(a.data) and _is_constant(b.data) and a.data.dtype == b.data.dtype:
            data = np.array([b.data[0], a.data[0]])[cond.view(np.uint8)]   # a two-entry lookup table
        else:
            data = np.where(cond, a.data, b.data)
        return Col(data, c.known & ((cond & a.known) | (~cond & b.known)))

    def e_CaseWhen(self, e: T.CaseWhen, active):
        decided = np.zeros(self.n, dtype=bool)
        data = known = None
        for cond, value in e.whens:
            c = self.ev(cond, active & ~decided)
            take = ~decided & c.known & c.data
            v = self.ev(value, active & take)
            data = v.data.copy() if data is None else np.where(take, v.data, data)
            known = take & v.known if known is None else np.where(take, v.known, known)
            decided = decided | take | (~decided & ~c.known)
        v = self.ev(e.else_, active & ~decided)
        rest = ~decided
        return Col(np.where(rest, v.data, data), np.where(rest, v.known, known))

    def e_Func(self, e: T.Func, active):
        if e.name == "convert":
            return self.convert(e, active)
        args = [self.ev(a, active) for a in e.args]
        known = np.logical_and.reduce([a.known for a in args])
        if e.name == "abs":
            return Col(np.abs(args[0].data), known)
        if e.name == "year_day":
            days = np.where(known, args[0].data, 0).astype("int64").astype("datetime64[D]")
            return Col(days.astype("datetime64[Y]").astype("int64").astype(float) + 1970.0, known)
        if e.name == "year_month":
            return Col(np.floor(args[0].data / 12.0), known)
        reduce = np.minimum if e.name == "min" else np.maximum
        return Col(reduce.reduce([a.data for a in args]), known)

    def verdict_set_codes(self, e: T.VerdictSet) -> np.ndarray:
        codes = [self.env[r].data for r in e.rules] if e.rules else np.full((1, self.n), T.NOT_APPLICABLE, np.int8)
        return combine_verdicts(e.func, codes, self.n)

    def e_VerdictSet(self, e: T.VerdictSet, active):
        return verdict_as_bool(self.verdict_set_codes(e))

    def convert(self, e: T.Func, active):
        q, a, b = (self.ev(x, active) for x in e.args[:3])
        matrix = np.asarray(e.args[3].value, dtype=float)
        codes_known = a.known & b.known
        known = q.known & codes_known
        ia, ib = a.data, b.data
        if not codes_known.all():            # codes of unknown units may be anything: read cell (0, 0)
            ia, ib = np.where(codes_known, ia, 0), np.where(codes_known, ib, 0)
        factor = matrix.ravel()[ia * matrix.shape[1] + ib]     # one gather: matrix[ia, ib] (codes are small)
        nan = np.isnan(factor)
        bad = known & active & nan if nan.any() else None
        if bad is not None and bad.any():
            row = int(np.flatnonzero(bad)[0])
            cats_a, cats_b = e.args[1].type.categories, e.args[2].type.categories
            raise DataError(f"unit `{cats_a[int(a.data[row])]}` cannot be converted to `{cats_b[int(b.data[row])]}` "
                            f"({e.span})", column=self.ctx, row=row + 1)
        return Col(q.data * factor, known & ~nan)

    # ------------------------------------------------------------------ entities and tables
    def e_Up(self, e: T.Up, active):
        rows = self.entities.parent_rows[self.ctx]
        previous = self.enter(self.entities.parents[self.ctx])
        try:
            col = self.ev(e.operand, self.all_true)
        finally:
            self.enter(previous)
        return Col(col.data[rows], col.known[rows])

    def e_Aggregate(self, e: T.Aggregate, active):
        rows = self.entities.parent_rows[e.child]
        n_parent = self.n
        everywhere = active is self.all_true          # evaluated for every parent row
        previous = self.enter(e.child)
        try:
            child_active = self.all_true if everywhere else active[rows]
            if e.where is not None:
                w = self.ev(e.where, child_active)
                included = w.known & _bool(w.data)
                undecided = None if w.known.all() else ~w.known
                value_active = included if child_active is self.all_true else child_active & included
                value = self.ev(e.value, value_active) if e.value is not None else None
            else:                                     # every row is included: no mask to apply
                included = undecided = None
                value = self.ev(e.value, child_active) if e.value is not None else None
        finally:
            self.enter(previous)
        count = self._row_counts(e.child) if included is None else _counts(rows, included, n_parent)
        if value is not None:
            bad = ~value.known if included is None else included & ~value.known
            undecided = bad if undecided is None else undecided | bad
            good = value.known if included is None else included & value.known
        else:
            good = self._true[e.child] if included is None else included
        unknown_rows = _any_per(rows, undecided, n_parent) if undecided is not None else np.zeros(n_parent, dtype=bool)
        known = ~unknown_rows & (count > 0)
        if e.func in ("sum", "mean"):
            total = _sums(rows, _masked(value.data, good), n_parent)
            data = total if e.func == "sum" else total / np.where(count > 0, count, 1.0)
        elif e.func in ("min", "max"):
            ufunc = np.minimum if e.func == "min" else np.maximum
            data = np.full(n_parent, np.inf if e.func == "min" else -np.inf)
            ufunc.at(data, rows[good], value.data[good])
        elif e.func == "count":
            data = count.copy()
        else:
            truth = good & _bool(value.data)
            trues = _counts(rows, truth, n_parent)
            if e.func == "share":
                data = trues / np.where(count > 0, count, 1.0)
            elif e.func == "any":
                data = trues > 0
                known = (data | ~unknown_rows) & (count > 0)
            else:
                falses = _any_per(rows, good & ~_bool(value.data), n_parent)
                data = ~falses
                known = (falses | ~unknown_rows) & (count > 0)
        if e.default is not None:
            empty = (count == 0) & ~unknown_rows
            data = np.where(empty, e.default.value, data)
            known = known | empty
        return Col(data, known)

    def _row_counts(self, child: str) -> np.ndarray:
        """How many rows of ``child`` each parent row has (float64; once per run)."""
        counts = self._counts_cache.get(child)
        if counts is None:
            rows = self.entities.parent_rows[child]
            counts = self._counts_cache[child] = _counts(rows, None, self.entities.sizes[self.entities.parents[child]])
        return counts

    def _table_index(self, table):
        """Per table: the key arrays and a dense index from key codes to rows (built once per run)."""
        cached = self._table_cache.get(table.name)
        if cached is not None:
            return cached
        keys = []
        for (name, typ), values in ((k, table.values(k[0])) for k in table.keys):
            if isinstance(typ, T.TextT):
                codes = np.array([typ.categories.index(v) if v is not None else -1 for v in values], dtype=np.int64)
                keys.append(("text", len(typ.categories), codes, None))
            else:
                uniq = np.unique(np.array([v for v in values if v is not None], dtype=float))
                codes = np.searchsorted(uniq, np.array([np.nan if v is None else v for v in values], dtype=float))
                keys.append(("number", len(uniq), codes.astype(np.int64), uniq))
        dims = [k[1] for k in keys]
        flat = np.zeros(len(table.rows), dtype=np.int64)
        for (_, size, codes, _), stride in zip(keys, np.cumprod([1] + dims[:0:-1])[::-1]):
            flat = flat + codes * stride
        row_of = np.full(int(np.prod(dims)) if dims else 0, -1, dtype=np.int64)
        row_of[flat] = np.arange(len(table.rows))
        columns = {}
        for name, typ in table.fields:
            vals = table.values(name)
            known = np.array([v is not None for v in vals], dtype=bool)
            if isinstance(typ, T.TextT):
                data = np.array([typ.categories.index(v) if v is not None else 0 for v in vals], dtype=np.int32)
            elif isinstance(typ, T.BoolT):
                data = np.array([bool(v) for v in vals], dtype=bool)
            else:
                data = np.array([v if v is not None else np.nan for v in vals], dtype=float)
            columns[name] = (data, known)
        # per column, its cells over the dense key grid (a grid point without a row: unknown)
        safe = np.where(row_of >= 0, row_of, 0)
        grid = {name: (data[safe], known[safe] & (row_of >= 0)) if len(row_of) and len(data) else
                (np.zeros(len(row_of), dtype=data.dtype), np.zeros(len(row_of), dtype=bool))
                for name, (data, known) in columns.items()}
        columns = {name: (cols, grid[name]) for name, cols in columns.items()}
        cached = (keys, dims, row_of, columns)
        self._table_cache[table.name] = cached
        return cached

    def e_Lookup(self, e: T.Lookup, active):
        table = self.tables[e.table]
        keys, dims, row_of, columns = self._table_index(table)
        args = [self.ev(k, active) for k in e.keys]
        known = np.logical_and.reduce([a.known for a in args]) if args else self.all_true
        if e.latest is not None:
            values = table.values(table.keys[0][0])
            order = np.argsort(np.array([np.nan if v is None else v for v in values], dtype=float), kind="stable")
            sorted_keys = np.array([values[i] for i in order], dtype=float)
            side = "right" if e.latest == "<=" else "left"
            pos = np.searchsorted(sorted_keys, np.where(known, args[0].data, -np.inf), side=side) - 1
            row = np.where(pos >= 0, order[np.clip(pos, 0, None)], -1)
        else:
            # exact keys: the point of the dense key grid each row names, and whether a table row is there
            flat, hit = self._grid_points(e, args, known, keys, dims, row_of)
            where = (e.table, e.span)
            missed = known & ~hit
            self.counters.lookup_misses[where] = self.counters.lookup_misses.get(where, 0) + int(
                np.count_nonzero(missed if active is self.all_true else missed & active))
            _, (grid_data, grid_known) = columns[e.column]
            if not len(grid_data):
                return Col(np.zeros(self.n, dtype=grid_data.dtype), np.zeros(self.n, dtype=bool))
            # a full table (a row with this cell at every grid point): known wherever a row is hit
            return Col(grid_data[flat], hit if grid_known.all() else hit & grid_known[flat])
        miss = known & (row < 0)
        where = (e.table, e.span)
        self.counters.lookup_misses[where] = self.counters.lookup_misses.get(where, 0) + int(
            np.count_nonzero(miss & active))
        (data, cell_known), _ = columns[e.column]
        safe = np.where(row >= 0, row, 0)
        return Col(data[safe], known & (row >= 0) & cell_known[safe])

    def _grid_points(self, e: T.Lookup, args, known, keys, dims, row_of):
        """For an exact lookup: per row, the index into the table's dense key grid (0 where the keys
        name no grid point) and whether a table row is there. Lookups of one table by the same key
        columns (``f[k].a`` and ``f[k].b``) share the work; the argument columns are kept with the
        result, so the ids in the cache key stay theirs."""
        cache_key = (e.table, e.key_maps, tuple((id(a.data), id(a.known)) for a in args))
        cached = self._lookup_cache.get(cache_key)
        if cached is not None:
            return cached[0]
        # every code below is a grid index (0 where the keys name no grid point): so is their sum
        index_type = np.int32 if len(row_of) < 1 << 31 else np.intp
        flat = None
        valid = known.copy()
        strides = [int(x) for x in np.cumprod([1] + dims[:0:-1])[::-1]]
        for (kind, size, _, uniq), key_map, arg, stride in zip(keys, e.key_maps, args, strides):
            if kind == "text":
                code = arg.data if arg.known.all() else np.where(arg.known, arg.data, 0)
                if key_map is not None and key_map != tuple(range(len(key_map))):
                    code = np.asarray(key_map, dtype=np.intp)[code]
                    ok = code >= 0
                    valid &= ok
                    code = np.where(ok, code, 0)
            else:
                x = np.where(arg.known, arg.data, np.nan)
                code = np.clip(np.searchsorted(uniq, x), 0, max(size - 1, 0))
                code = np.where(uniq[code] == x, code, -1) if size else np.full(self.n, -1)
                ok = code >= 0
                valid &= ok
                code = np.where(ok, code, 0)
            term = code * stride if stride != 1 else code
            flat = term.astype(index_type) if flat is None else flat + term
        if flat is None:                               # no keys: the table's single grid point
            flat = np.zeros(self.n, dtype=index_type)
        present = row_of >= 0
        if not len(row_of):
            hit = np.zeros(self.n, dtype=bool)
        else:
            hit = valid if present.all() else valid & present[flat]
        self._lookup_cache[cache_key] = ((flat, hit), args)
        return flat, hit


def _in_set(data: np.ndarray, codes) -> np.ndarray:
    """``np.isin(data, codes)``; for category codes (small non-negative integers) one gather from a
    table of booleans instead of a sort."""
    if data.dtype.kind in "iu" and len(data) and codes and min(codes) >= 0:
        low, high = int(data.min()), max(int(data.max()), max(codes))
        if low >= 0 and high < 1 << 16:
            table = np.zeros(high + 1, dtype=bool)
            table[list(codes)] = True
            return table[data]
    return np.isin(data, np.asarray(codes, dtype=data.dtype))


def _sparse(mask: np.ndarray) -> bool:
    """Few rows in ``mask``: picking them out beats weighing every row."""
    return np.count_nonzero(mask) < len(mask) // 8


def _counts(rows: np.ndarray, mask: np.ndarray | None, n: int) -> np.ndarray:
    """Per parent row, how many of its child rows are in ``mask`` (all with None); float64."""
    if mask is None:
        counts = np.bincount(rows, minlength=n)
    elif _sparse(mask):
        counts = np.bincount(rows[mask], minlength=n)
    else:
        counts = np.bincount(rows, weights=mask, minlength=n)
    return counts.astype(np.float64, copy=False)


def _any_per(rows: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Per parent row, whether any of its child rows is in ``mask``."""
    if not _sparse(mask):
        return np.bincount(rows, weights=mask, minlength=n) > 0
    out = np.zeros(n, dtype=bool)
    out[rows[mask]] = True
    return out


def _masked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``np.where(mask, values, 0.0)`` as weights of a sum, as one multiplication (np.where on a mask
    without long runs is twice as slow). It differs only where the product is NaN (NaN or ±inf
    outside the mask), set as np.where sets it, and in giving -0.0 for 0.0, which adds the same."""
    out = values * mask
    spots = np.flatnonzero(np.isnan(out))
    if len(spots):
        out[spots] = np.where(mask[spots], values[spots], 0.0)
    return out


def _sums(rows: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per parent row, the sum of ``weights`` over its child rows, added in child-row order. Always
    float64: ``np.bincount`` of no rows at all gives int64 zeros, which later arithmetic cannot take."""
    return np.bincount(rows, weights=weights, minlength=n).astype(np.float64, copy=False)


def kleene(op: str, a: Col, b: Col) -> Col:
    """Three-valued ``and``/``or`` (Kleene): ``false and unknown`` is false, ``true or unknown`` is true."""
    if op == "and":
        false = (a.known & ~a.data) | (b.known & ~b.data)
        true = a.known & a.data & b.known & b.data
        return Col(true, true | false)
    true = (a.known & a.data) | (b.known & b.data)
    false = a.known & ~a.data & b.known & ~b.data
    return Col(true, true | false)


def combine_verdicts(func: str, codes, n: int | None = None) -> np.ndarray:
    """``all``/``any`` over verdict codes: a (rules × entities) array, or a list of rows of length ``n``."""
    rows = list(codes)
    if n is None:
        n = len(rows[0])
    present = np.zeros(n, dtype=np.int8)           # bit 1 << code set when some rule has that verdict
    for row in rows:
        present |= np.left_shift(np.int8(1), row, dtype=np.int8)
    any_fail = (present & (1 << T.FAIL)) != 0
    any_pass = (present & (1 << T.PASS)) != 0
    any_unknown = (present & (1 << T.UNKNOWN)) != 0
    none_applies = present == (1 << T.NOT_APPLICABLE)
    decides, decided, otherwise = (any_fail, T.FAIL, T.PASS) if func == "all" else (any_pass, T.PASS, T.FAIL)
    unknown = ~decides & any_unknown
    not_applicable = ~decides & ~any_unknown & none_applies
    return select_exclusive(n, np.int8, otherwise,
                            [(decides, decided), (unknown, T.UNKNOWN), (not_applicable, T.NOT_APPLICABLE)])


def rule_verdict(ev: _Eval, rule) -> np.ndarray:
    choices = []
    if rule.applies is not None:
        app = ev.ev(rule.applies, ev.all_true)
        applies = _bool(app.data)
        active = app.known & applies
        choices.append((app.known & ~applies, T.NOT_APPLICABLE))
    else:
        active = ev.all_true
    req = ev.ev(rule.require, active)
    ok = _bool(req.data)
    decided = active & req.known
    choices += [(decided & ok, T.PASS), (decided & ~ok, T.FAIL)]
    return select_exclusive(ev.n, np.int8, T.UNKNOWN, choices)


def result_labels(ev: _Eval, result) -> np.ndarray:
    decided = np.zeros(ev.n, dtype=bool)
    choices = []                                   # the branches' `take` masks are disjoint
    for index, cond in result.branches:
        if cond is None:
            take = ~decided
            c_known = ev.all_true
        else:
            c = ev.ev(cond, ~decided)
            take = ~decided & c.known & _bool(c.data)
            c_known = c.known
        choices.append((take, index))
        decided = decided | take | (~decided & ~c_known)
    return select_exclusive(ev.n, np.int16, NO_LABEL, choices)


def execute(plan: Plan, inputs: dict[str, Col], n: "int | Entities",
            imported: dict[str, Col] | None = None) -> tuple[dict[str, Col], Counters]:
    """Evaluate every step of ``plan`` over all entities at once.

    ``inputs`` maps input names to columns already in canonical units (see :mod:`normrules.tables`);
    ``n`` is the number of entities, or an :class:`Entities` for rulesets with child entities;
    ``imported`` holds the columns computed by imported rulesets (``alias.name``).
    Returns the column of every step (verdicts and result labels as codes) and the counters.
    """
    rs = plan.ruleset
    entities = n if isinstance(n, Entities) else Entities.single(rs.entity, n)
    values = {v.name: v for v in rs.values}
    rules = {r.id: r for r in rs.rules}
    results = {r.name: r for r in rs.results}
    owner = {i.name: i.entity or rs.entity for i in rs.inputs}
    owner.update({x.name: x.entity or rs.entity for x in (*rs.values, *rs.results)})
    owner.update({r.id: r.entity or rs.entity for r in rs.rules})
    env: dict[str, Col] = dict(imported or {})
    counters = Counters()
    ev = _Eval(env, entities, counters, rs.params, rs.tables)
    with np.errstate(all="ignore"):
        for kind, name in plan.steps:
            if kind in ("param", "table", "import"):
                continue
            ev.enter(owner[name])
            if kind == "input":
                env[name] = inputs[name]
            elif kind == "value":
                col = ev.ev(values[name].expr, ev.all_true)
                if _is_constant(col.data):             # a constant `let`: give it a column of its own
                    col = Col(np.array(col.data), col.known)
                env[name] = col
            elif kind == "rule":
                codes = rule_verdict(ev, rules[name])
                env[name] = Col(codes, codes != T.UNKNOWN)
            else:
                labels = result_labels(ev, results[name])
                env[name] = Col(labels, labels != NO_LABEL)
    return env, counters
