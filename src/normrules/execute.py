"""Phase 6: the vectorized executor.

Every value is a column (:class:`~normrules.columns.Col`): a numpy array of data (floats in base
units — or in another unit with a scale, folded into limits where exact —, booleans, category
codes, date ordinals) and a boolean ``known`` mask. Verdicts are int8 codes (:data:`types.PASS` …).
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

import numpy as np

from . import types as T
from .columns import (NEGATION_FAMILY, NO_LABEL, REL_TOL, Col, all_known, apply_rounding, as_bool, both,  # noqa: F401
                      combine_verdicts, combined_as_bool, common_scale, compare, compare_limit, is_constant_array,
                      kleene, known_everywhere, moderate, round_half_even, scalable, select_exclusive, take_rows,
                      tolerance, verdict_as_bool, verdicts_present)
from .errors import DataError, Span
from .plan import Plan

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
        self._weights: np.ndarray | None = None   # reused for the weights of each bincount (see weights_buffer)
        self._true = {name: all_known(n) for name, n in entities.sizes.items()}
        self.limit_tests: dict[tuple, dict[str, Col]] = {}    # `name op limit`, computed once (rules share scopes)
        self._scopes: dict[tuple, tuple] = {}      # per `applies` column: the rows in scope, codes out of it
        self._uses_active: dict[int, bool] = {}
        self._consts: dict[tuple, Col] = {}
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
        key = (self.n, value.dtype, value)
        col = self._consts.get(key)
        if col is None:
            col = self._consts[key] = Col(np.broadcast_to(value, (self.n,)), self.all_true)
        return col

    def ev(self, e, active: np.ndarray) -> Col:
        return getattr(self, "e_" + type(e).__name__)(e, active)

    def uses_active(self, e) -> bool:
        """Whether evaluating ``e`` reads its ``active`` mask: to count or report something only for
        the rows it is evaluated for (a division, a lookup, a unit conversion, an aggregate)."""
        found = self._uses_active.get(id(e))
        if found is None:
            found = self._uses_active[id(e)] = any(
                isinstance(x, (T.Aggregate, T.Lookup)) or (isinstance(x, T.Arith) and x.op == "/")
                or (isinstance(x, T.Func) and x.name == "convert") for x in T.texpr_walk(e))
        return found

    def narrow(self, e, active: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The active mask for a sub-expression ``e`` evaluated where ``mask`` holds."""
        return both(active, mask) if self.uses_active(e) else active

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
        return Col(-x.raw, x.known, x.scale, bounds=(-x.bounds[1], -x.bounds[0]) if x.bounds else None)

    def e_Arith(self, e: T.Arith, active):
        a, b = self.ev(e.left, active), self.ev(e.right, active)
        known = both(a.known, b.known)
        if e.op in ("*", "/") and moderate(a) and moderate(b):
            # no zero, no overflow, no underflow: in the operands' own units, the product or quotient
            # differs from the one in base units by rounding only, its sign the same
            corners = [x / y if e.op == "/" else x * y for x in a.bounds for y in b.bounds]
            if e.op == "/":
                self.counters.division_by_zero.setdefault(e.span, 0)
                return Col(a.raw / b.raw, known, a.scale / b.scale, bounds=(min(corners), max(corners)))
            return Col(a.raw * b.raw, known, a.scale * b.scale, bounds=(min(corners), max(corners)))
        # else in base units, as the reference computes; into an operand's memory when it is scratch
        out = _scratch_out(a, b)
        if e.op == "/":
            if out is not None and out is b.data:       # the divisor is overwritten: no zeros to look for after
                out = None
            data = np.divide(a.data, b.data, out=out)
            finite = np.isfinite(data)
            # a known divisor of zero makes the result infinite or NaN: look for zeros among those rows only
            spots = np.flatnonzero(np.greater(known, finite))
            count = int(np.count_nonzero(active[spots[b.data[spots] == 0]]))
            self.counters.division_by_zero[e.span] = self.counters.division_by_zero.get(e.span, 0) + count
            return Col(data, both(known, finite), scratch=True)
        ufunc = np.add if e.op == "+" else np.subtract if e.op == "-" else np.multiply
        data = ufunc(a.data, b.data, out=out)
        return Col(data, both(known, np.isfinite(data)), scratch=True)

    def e_Cmp(self, e: T.Cmp, active):
        if isinstance(e.left.type, T.NumT) and isinstance(e.right, T.Const):
            # a limit: compared as a scalar, known wherever the left side is; `x < v` is `not x >= v`
            # (and so on) wherever x is known, so a test and its negation share the work
            key = ((self.ctx, e.left.name, NEGATION_FAMILY[e.op], e.right.value, e.rounding)
                   if isinstance(e.left, T.Load) else None)
            tests = self.limit_tests.setdefault(key, {}) if key is not None else {}
            if e.op in tests:
                return tests[e.op]
            if tests:                                   # the negation is there
                done = next(iter(tests.values()))
                col = tests[e.op] = Col(~done.data, done.known)
                return col
            a = self.ev(e.left, active)
            col = tests[e.op] = Col(self.compare_limit(e.op, a, e.right.value, e.rounding), a.known)
            return col
        a, b = self.ev(e.left, active), self.ev(e.right, active)
        known = both(a.known, b.known)
        if isinstance(e.left.type, T.NumT):
            if e.rounding is not None:
                return Col(compare(e.op, apply_rounding(a.data, e.rounding), b.data), known)
            if b.choice is not None and a.choice is None:
                # a limit that is one of two numbers: two scalar comparisons, picked per row
                pick, values = b.choice
                limits = [v * b.scale for v in values]
                left, scale = (a.raw, a.scale) if all(scalable(x, a.scale) for x in limits) else (a.data, 1.0)
                no, yes = (compare_limit(e.op, left, x, scale) for x in limits)
                no ^= pick & (no ^ yes)
                return Col(no, known)
            return Col(compare(e.op, a.data, b.data), known)
        eq = a.data == b.data
        if e.op in ("==", "!="):
            return Col(eq if e.op == "==" else ~eq, known)
        data = {"<": a.data < b.data, "<=": a.data <= b.data, ">": a.data > b.data, ">=": a.data >= b.data}[e.op]
        return Col(data, known)

    def compare_limit(self, op: str, a: Col, limit: float, rounding: T.Rounding | None) -> np.ndarray:
        """The data of ``a op limit`` for a number column ``a`` and a scalar limit in base units."""
        if rounding is not None:
            return compare_limit(op, apply_rounding(a.data, rounding), limit)
        if a.choice is not None:                    # each of the two numbers is on one side of the limit
            pick, values = a.choice
            no, yes = compare_limit(op, np.array(values, dtype=np.float64), limit, a.scale)
            if no == yes:
                return np.broadcast_to(np.bool_(no), (self.n,))
            return pick.copy() if yes else ~pick
        if not scalable(limit, a.scale):
            return compare_limit(op, a.data, limit)
        return compare_limit(op, a.raw, limit, a.scale)

    def scope(self, applies: Col) -> tuple[np.ndarray, np.ndarray]:
        """For a rule's ``applies`` column: the rows in scope (known and true) and the int8 codes of
        the rows out of it (NOT_APPLICABLE where known false, else UNKNOWN). Rules with one condition
        (the same cached limit test) share the work."""
        key = (id(applies.data), id(applies.known))
        cached = self._scopes.get(key)
        if cached is None:
            if len(self._scopes) >= 8:                # rules sharing a condition come together: keep a few
                del self._scopes[next(iter(self._scopes))]
            true = as_bool(applies.data)
            out_of_scope = np.greater(applies.known, true).view(np.int8)     # known & ~true
            codes = out_of_scope * np.int8(T.NOT_APPLICABLE - T.UNKNOWN)
            codes += np.int8(T.UNKNOWN)
            cached = self._scopes[key] = (both(applies.known, true), codes, applies)   # applies keeps the ids
        return cached[0], cached[1]

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
        if e.state == "unknown":
            return Col(~x.known, self.all_true)
        return Col(x.known if known_everywhere(x.known) else x.known.copy(), self.all_true)

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
        cond = as_bool(c.data)
        a = self.ev(e.then, self.narrow(e.then, active, both(c.known, cond)))
        b = self.ev(e.else_, self.narrow(e.else_, active, np.greater(c.known, cond)))   # known & ~cond
        if known_everywhere(a.known) and known_everywhere(b.known):
            known = c.known
        else:
            known = both(c.known, (cond & a.known) | (~cond & b.known))
        if a.is_constant and b.is_constant and a.raw.dtype == b.raw.dtype:
            if a.raw.dtype == np.float64:               # built only if read: a limit of two numbers is compared as scalars
                return Col(None, known, choice=(cond, (b.raw[0] * b.scale, a.raw[0] * a.scale)))
            return Col(np.array([b.raw[0], a.raw[0]])[cond.view(np.uint8)], known)   # a two-entry lookup table
        scale, then, otherwise = common_scale(a, b)
        return Col(np.where(cond, then, otherwise), known, scale)

    def e_CaseWhen(self, e: T.CaseWhen, active):
        decided = np.zeros(self.n, dtype=bool)
        data = known = None
        for cond, value in e.whens:
            c = self.ev(cond, self.narrow(cond, active, ~decided))
            take = ~decided & c.known & c.data
            v = self.ev(value, self.narrow(value, active, take))
            data = v.data.copy() if data is None else np.where(take, v.data, data)
            known = take & v.known if known is None else np.where(take, v.known, known)
            decided = decided | take | (~decided & ~c.known)
        v = self.ev(e.else_, self.narrow(e.else_, active, ~decided))
        rest = ~decided
        return Col(np.where(rest, v.data, data), np.where(rest, v.known, known))

    def e_Func(self, e: T.Func, active):
        if e.name == "convert":
            return self.convert(e, active)
        args = [self.ev(a, active) for a in e.args]
        known = args[0].known
        for arg in args[1:]:
            known = both(known, arg.known)
        if e.name == "abs":
            return Col(np.abs(args[0].raw), known, args[0].scale)
        if e.name == "year_day":
            days = np.where(known, args[0].data, 0).astype("int64").astype("datetime64[D]")
            return Col(days.astype("datetime64[Y]").astype("int64").astype(float) + 1970.0, known)
        if e.name == "year_month":
            return Col(np.floor(args[0].data / 12.0), known)
        reduce = np.minimum if e.name == "min" else np.maximum
        if len({a.scale for a in args}) == 1:
            return Col(reduce.reduce([a.raw for a in args]), known, args[0].scale)
        return Col(reduce.reduce([a.data for a in args]), known)

    def verdict_set_codes(self, e: T.VerdictSet) -> np.ndarray:
        codes = [self.env[r].data for r in e.rules] if e.rules else np.full((1, self.n), T.NOT_APPLICABLE, np.int8)
        return combine_verdicts(e.func, codes, self.n)

    def e_VerdictSet(self, e: T.VerdictSet, active):
        return combined_as_bool(e.func, verdicts_present([self.env[r].data for r in e.rules], self.n))

    def convert(self, e: T.Func, active):
        q, a, b = (self.ev(x, active) for x in e.args[:3])
        matrix = np.asarray(e.args[3].value, dtype=float)
        codes_known = both(a.known, b.known)
        known = both(q.known, codes_known)
        ia, ib = a.data, b.data
        if not known_everywhere(codes_known) and not codes_known.all():
            ia, ib = np.where(codes_known, ia, 0), np.where(codes_known, ib, 0)   # unknown codes: read cell (0, 0)
        index = np.multiply(ia, matrix.shape[1], dtype=np.intp)     # one gather: matrix[ia, ib] (codes are small)
        index += ib
        factor = matrix.ravel()[index]
        del index
        nan = np.isnan(factor) if np.isnan(matrix).any() else None
        if nan is not None and not nan.any():
            nan = None
        if nan is not None:
            bad = both(both(known, active), nan)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                cats_a, cats_b = e.args[1].type.categories, e.args[2].type.categories
                raise DataError(f"unit `{cats_a[int(a.data[row])]}` cannot be converted to `{cats_b[int(b.data[row])]}` "
                                f"({e.span})", column=self.ctx, row=row + 1)
            if active is self.all_true:          # every known row converts (else the error above)
                nan = None
        np.multiply(q.data, factor, out=factor)                      # the factors are ours: no new array
        return Col(factor, known if nan is None else np.greater(known, nan), scratch=True)       # known & ~nan

    # ------------------------------------------------------------------ entities and tables
    def e_Up(self, e: T.Up, active):
        rows = self.entities.parent_rows[self.ctx]
        previous = self.enter(self.entities.parents[self.ctx])
        try:
            col = self.ev(e.operand, self.all_true)
        finally:
            self.enter(previous)
        return Col(col.raw[rows], take_rows(col.known, rows), col.scale, bounds=col.bounds)

    def e_Aggregate(self, e: T.Aggregate, active):
        rows = self.entities.parent_rows[e.child]
        n_parent = self.n
        everywhere = active is self.all_true          # evaluated for every parent row
        previous = self.enter(e.child)
        try:
            child_active = self.all_true if everywhere else active[rows]
            if e.where is not None:
                w = self.ev(e.where, child_active)
                included = both(w.known, as_bool(w.data))
                undecided = None if known_everywhere(w.known) or w.known.all() else ~w.known
                value_active = included if child_active is self.all_true else child_active & included
                value = self.ev(e.value, value_active) if e.value is not None else None
            else:                                     # every row is included: no mask to apply
                included = undecided = None
                value = self.ev(e.value, child_active) if e.value is not None else None
        finally:
            self.enter(previous)
        count = self._row_counts(e.child) if included is None else _counts(rows, included, n_parent,
                                                                             self.weights_buffer(len(rows)))
        if value is not None and not known_everywhere(value.known):
            bad = ~value.known if included is None else included & ~value.known
            undecided = bad if undecided is None else undecided | bad
            good = value.known if included is None else included & value.known
        elif value is not None:
            good = value.known if included is None else included
        else:
            good = self._true[e.child] if included is None else included
        unknown_rows = _any_per(rows, undecided, n_parent) if undecided is not None else np.zeros(n_parent, dtype=bool)
        known = ~unknown_rows & (count > 0)
        scale = 1.0
        if e.func in ("sum", "mean"):                 # in base units: the sums are exactly the sums of `data`
            # without `where`, an unknown value makes its parent's sum unknown: whatever it adds there
            # is never read, so the values are summed as they are
            weights = value.data if included is None or known_everywhere(good) else \
                _masked(value.data, good, self.weights_buffer(len(rows)))
            total = _sums(rows, weights, n_parent)
            data = total if e.func == "sum" else total / np.where(count > 0, count, 1.0)
        elif e.func in ("min", "max"):
            scale = value.scale
            ufunc = np.minimum if e.func == "min" else np.maximum
            data = np.full(n_parent, np.inf if e.func == "min" else -np.inf)
            ufunc.at(data, rows[good], value.raw[good])
        elif e.func == "count":
            data = count.copy()
        else:
            truth = good & as_bool(value.data)
            trues = _counts(rows, truth, n_parent)
            if e.func == "share":
                data = trues / np.where(count > 0, count, 1.0)
            elif e.func == "any":
                data = trues > 0
                known = (data | ~unknown_rows) & (count > 0)
            else:
                falses = _any_per(rows, good & ~as_bool(value.data), n_parent)
                data = ~falses
                known = (falses | ~unknown_rows) & (count > 0)
        if e.default is not None:
            empty = (count == 0) & ~unknown_rows
            data = np.where(empty, e.default.value / scale if scale != 1.0 else e.default.value, data)
            known = known | empty
        return Col(data, known, scale)

    def weights_buffer(self, n: int) -> np.ndarray:
        """A float64 array of ``n`` rows for the weights of one ``np.bincount``, which reads them and
        is done with them: reused by every aggregate of the run (on 10⁷ rows the page faults of a
        new array cost as much as the sum itself)."""
        if self._weights is None or len(self._weights) != n:
            self._weights = np.empty(n, dtype=np.float64)
        return self._weights

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
        known = self.all_true
        for arg in args:
            known = both(known, arg.known)
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
            missed = np.greater(known, hit) if hit is not known else None      # known & ~hit
            self.counters.lookup_misses[where] = self.counters.lookup_misses.get(where, 0) + (
                0 if missed is None else int(np.count_nonzero(missed if active is self.all_true else missed & active)))
            _, (grid_data, grid_known) = columns[e.column]
            if not len(grid_data):
                return Col(np.zeros(self.n, dtype=grid_data.dtype), np.zeros(self.n, dtype=bool))
            # a full table (a row with this cell at every grid point): known wherever a row is hit
            return Col(grid_data[flat], hit if grid_known.all() else both(hit, grid_known[flat]))
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
        flat = None
        valid = None                                   # None: every key names a grid point
        strides = [int(x) for x in np.cumprod([1] + dims[:0:-1])[::-1]]
        for (kind, size, _, uniq), key_map, arg, stride in zip(keys, e.key_maps, args, strides):
            if kind == "text":
                code = arg.data if known_everywhere(arg.known) or arg.known.all() else np.where(arg.known, arg.data, 0)
                if key_map is not None and key_map != tuple(range(len(key_map))):
                    code = np.asarray(key_map, dtype=np.intp)[code]
                    ok = code >= 0
                    valid = ok if valid is None else valid & ok
                    code = np.where(ok, code, 0)
            else:
                x = np.where(arg.known, arg.data, np.nan)
                code = np.clip(np.searchsorted(uniq, x), 0, max(size - 1, 0))
                code = np.where(uniq[code] == x, code, -1) if size else np.full(self.n, -1)
                ok = code >= 0
                valid = ok if valid is None else valid & ok
                code = np.where(ok, code, 0)
            if flat is None:                           # an array of our own, added to in place
                flat = np.multiply(code, stride, dtype=np.intp)
            elif stride != 1:
                flat += np.multiply(code, stride, dtype=np.intp)
            else:
                flat += code
        if flat is None:                               # no keys: the table's single grid point
            flat = np.zeros(self.n, dtype=np.intp)
        valid = known if valid is None else both(known, valid)
        present = row_of >= 0
        if not len(row_of):
            hit = np.zeros(self.n, dtype=bool)
        else:
            hit = valid if present.all() else both(valid, present[flat])
        self._lookup_cache[cache_key] = ((flat, hit), args)
        return flat, hit


def _scratch_out(a: Col, b: Col) -> np.ndarray | None:
    """Where an arithmetic result may be written: over a scratch operand's float64 array of the
    result's shape (then not read again), else None (new memory)."""
    for x, other in ((a, b), (b, a)):
        if x.scratch and x.scale == 1.0:
            data = x.data
            if data.dtype == np.float64 and data.flags.writeable and data.shape == np.broadcast(data, other.data).shape \
                    and other.data.dtype.kind in "fbiu" and not is_constant_array(data):
                return data
    return None


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


def _counts(rows: np.ndarray, mask: np.ndarray | None, n: int, buffer: np.ndarray | None = None) -> np.ndarray:
    """Per parent row, how many of its child rows are in ``mask`` (all with None); float64.
    ``buffer``: a float64 array of the rows' length to hold the mask as weights."""
    if mask is None:
        counts = np.bincount(rows, minlength=n)
    elif _sparse(mask):
        counts = np.bincount(rows[mask], minlength=n)
    else:
        if buffer is not None:
            np.copyto(buffer, mask)
            mask = buffer
        counts = np.bincount(rows, weights=mask, minlength=n)
    return counts.astype(np.float64, copy=False)


def _any_per(rows: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Per parent row, whether any of its child rows is in ``mask``."""
    if not _sparse(mask):
        return np.bincount(rows, weights=mask, minlength=n) > 0
    out = np.zeros(n, dtype=bool)
    out[rows[mask]] = True
    return out


def _masked(values: np.ndarray, mask: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.where(mask, values, 0.0)`` as weights of a sum, as one multiplication (np.where on a mask
    without long runs is twice as slow), into ``out`` if given. It differs only where the product is
    NaN (NaN or ±inf outside the mask), set as np.where sets it, and in giving -0.0 for 0.0, which
    adds the same."""
    out = np.multiply(values, mask, out=out)
    spots = np.flatnonzero(np.isnan(out))
    if len(spots):
        out[spots] = np.where(mask[spots], values[spots], 0.0)
    return out


def _sums(rows: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per parent row, the sum of ``weights`` over its child rows, added in child-row order. Always
    float64: ``np.bincount`` of no rows at all gives int64 zeros, which later arithmetic cannot take."""
    return np.bincount(rows, weights=weights, minlength=n).astype(np.float64, copy=False)


def rule_verdict(ev: _Eval, rule) -> np.ndarray:
    if rule.applies is not None:
        active, codes = ev.scope(ev.ev(rule.applies, ev.all_true))
    else:
        active, codes = ev.all_true, np.int8(T.UNKNOWN)
    req = ev.ev(rule.require, active)
    ok = as_bool(req.data)
    decided = both(active, req.known)
    # decided rows are in scope (code UNKNOWN so far) and become PASS or FAIL; the others keep
    # their code: NOT_APPLICABLE out of scope, UNKNOWN where the scope or the requirement is
    fail = np.greater(decided, ok).view(np.int8)                # decided & ~ok
    if T.FAIL - T.PASS != 1:
        fail *= np.int8(T.FAIL - T.PASS)
    out = decided.view(np.int8) * np.int8(T.PASS - T.UNKNOWN)
    out += codes
    out += fail
    return out


def result_labels(ev: _Eval, result) -> np.ndarray:
    # label indexes are added up in int8 (bool·int8 arithmetic is several times faster than int16)
    small = len(result.labels) < 127
    labels = np.full(ev.n, NO_LABEL, dtype=np.int8 if small else np.int16)
    decided = None         # rows whose label is settled: taken by a branch, or blocked by an unknown condition
    for index, cond in result.branches:
        if cond is None:
            take = ~decided if decided is not None else np.ones(ev.n, dtype=bool)
            settled = None
        else:
            active = ~decided if decided is not None and ev.uses_active(cond) else ev.all_true
            c = ev.ev(cond, active)
            ok = as_bool(c.data)
            hit = both(c.known, ok)
            take = hit if decided is None else np.greater(hit, decided)      # hit & ~decided
            # an unknown condition settles the row without a label: later branches cannot take it
            settled = ok if known_everywhere(c.known) else ~np.greater(c.known, ok)   # ok or unknown
        if small:                                            # the `take` masks are disjoint
            step = index - NO_LABEL
            labels += take.view(np.int8) * np.int8(step) if step != 1 else take.view(np.int8)
        else:
            labels += take * np.int16(index - NO_LABEL)
        if settled is not None:
            decided = settled if decided is None else decided | settled
    return labels.astype(np.int16) if small else labels


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
                if col.is_constant:                    # a constant `let`: give it a column of its own
                    col = Col(np.array(col.raw), col.known, col.scale)
                col.scratch = False                    # kept: read by later steps
                env[name] = col
            elif kind == "rule":
                codes = rule_verdict(ev, rules[name])
                env[name] = Col(codes, codes != T.UNKNOWN)
            else:
                labels = result_labels(ev, results[name])
                env[name] = Col(labels, labels != NO_LABEL)
    return env, counters
