"""Columns and the whole-column operations the executor is built from.

A :class:`Col` holds one value per row of an entity and a ``known`` mask; the functions here
combine columns without a Python loop over rows: the limit tolerance (:func:`compare`,
:func:`compare_limit`), Kleene logic (:func:`kleene`), verdict codes (:func:`select_exclusive`,
:func:`combine_verdicts`), GB/T 8170 rounding. See ``compiler/execute.md``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import types as T

REL_TOL = 1e-9
NO_LABEL = -1


class Col:
    """One column: ``data`` (one value per row of its entity) and the boolean ``known`` mask.

    ``data`` holds numbers in base units. A number column may be carried in another unit instead:
    ``raw`` × ``scale`` is then the value in base units (``scale`` > 0). The reader keeps a column
    in the unit it was given in that way, and the executor folds the scale into limits and
    constants; ``data`` converts when first read and keeps the result. A column may also be a
    *choice* between two numbers (``if c then 0.3 t CO2/tce else 0.2 t CO2/tce``):
    ``choice = (pick, (raw where pick is false, raw where it is true))``, turned into an array only
    when ``raw`` or ``data`` is read. Columns are never written to once made.

    ``known`` may be the read-only stride-0 view :func:`all_known` (every row known), which
    operations recognise (:func:`known_everywhere`) to skip mask work. ``bounds``, when given, is
    the smallest and the largest of ``raw`` over the known rows (the reader knows them).

    ``scratch`` marks a column whose ``data`` is a new array that only the expression consuming it
    reads (a product, a unit conversion): that consumer may write its result over it instead of
    asking for new memory. A column kept for later (a ``let``) is never scratch.
    """

    __slots__ = ("known", "scale", "choice", "bounds", "scratch", "_raw", "_data")

    def __init__(self, data, known, scale: float = 1.0, choice=None, bounds: tuple[float, float] | None = None,
                 scratch: bool = False):
        self.known = known
        self.scale = float(scale)
        self.choice = choice
        self.bounds = bounds
        self.scratch = scratch
        self._raw = data
        self._data = data if self.scale == 1.0 else None

    @property
    def raw(self) -> np.ndarray:
        """The values in units of ``scale`` base units."""
        if self._raw is None:
            pick, values = self.choice
            self._raw = np.array(values, dtype=np.float64)[pick.view(np.uint8)]   # a two-entry lookup table
        return self._raw

    @property
    def data(self) -> np.ndarray:
        """The values in base units."""
        if self._data is None:
            raw = self.raw
            if self.scale == 1.0:
                self._data = raw
            else:
                with np.errstate(all="ignore"):
                    self._data = raw * self.scale
        return self._data

    @property
    def is_constant(self) -> bool:
        """One value broadcast over every row (a :meth:`_Eval.const` column)."""
        return self._raw is not None and is_constant_array(self._raw)

    def __iter__(self):                # unpacks as ``data, known``
        yield self.data
        yield self.known

    def __repr__(self) -> str:
        scale = f", scale={self.scale!r}" if self.scale != 1.0 else ""
        return f"Col(data={self.data!r}, known={self.known!r}{scale})"


@lru_cache(maxsize=64)
def all_known(n: int) -> np.ndarray:
    """A known mask true for every one of ``n`` rows: a read-only stride-0 view, no memory."""
    return np.broadcast_to(np.True_, (n,))


def known_everywhere(mask: np.ndarray) -> bool:
    """Whether ``mask`` is an :func:`all_known` view (a computed mask that happens to be all true
    is not recognised: this is a shortcut, not a test)."""
    return mask.strides == (0,) and (mask.size == 0 or bool(mask[0]))


def both(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a & b`` for masks, without the work when one of them is known everywhere."""
    if known_everywhere(a):
        return b
    if known_everywhere(b):
        return a
    return a & b


def take_rows(mask: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``mask[rows]``, staying an :func:`all_known` view when ``mask`` is one."""
    return all_known(len(rows)) if known_everywhere(mask) else mask[rows]


def verdict_as_bool(codes: np.ndarray) -> Col:
    return Col(codes == T.PASS, codes != T.UNKNOWN)


def tolerance(right: np.ndarray | float):
    return REL_TOL * np.abs(right)


def compare_limit(op: str, a: np.ndarray, limit: float, scale: float = 1.0) -> np.ndarray:
    """``compare(op, a * scale, limit)`` for a scalar ``limit``, as one pass over ``a``: the
    tolerance and the scale are folded into the threshold (see :func:`scalable`)."""
    if not scalable(limit, scale):
        a, scale = a * scale, 1.0
    t = REL_TOL * abs(limit)
    low, high = (limit - t) / scale, (limit + t) / scale
    if op == "<=":
        return a <= high
    if op == "<":
        return a < low
    if op == ">=":
        return a >= low
    if op == ">":
        return a > high
    eq = a >= low
    eq &= a <= high
    return eq if op == "==" else ~eq


def scalable(limit: float, scale: float) -> bool:
    """Whether ``a <= limit`` (with the tolerance) may be tested as ``a / scale <= limit / scale``
    — the same up to rounding at the tolerance's own edge. Not when the limit is zero, or so small
    or large that a value scaled could underflow or overflow across it."""
    size = abs(limit)              # the threshold's size, within 1e-9
    return scale == 1.0 or (1e-280 < size < 1e280 and 1e-280 < size / scale < 1e280)


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


# `a op b` and `a negated-op b` are complementary wherever `a` is known
NEGATION_FAMILY = {"<": ">=", ">=": ">=", "<=": ">", ">": ">", "==": "==", "!=": "=="}


def common_scale(a: Col, b: Col) -> tuple[float, np.ndarray, np.ndarray]:
    """The values of two number columns in one unit: ``(scale, a's, b's)`` — their own when they
    are carried in the same unit, else base units."""
    if a.scale == b.scale:
        return a.scale, a.raw, b.raw
    return 1.0, a.data, b.data


def moderate(x: Col) -> bool:
    """Whether every known value of ``x`` — and its scale — is far from zero and from overflow, on
    one side of zero: products and quotients of such values are safe in any unit."""
    if x.bounds is None or not 1e-100 < x.scale < 1e100:
        return False
    lo, hi = x.bounds
    return (1e-100 < lo <= hi < 1e100) or (-1e100 < lo <= hi < -1e-100)


def as_bool(x: np.ndarray) -> np.ndarray:
    """A condition's data as booleans (truthiness, as ``np.where`` reads it)."""
    return x if x.dtype == bool else x.astype(bool)


def is_constant_array(x: np.ndarray) -> bool:
    """A column made by :meth:`_Eval.const`: one value broadcast over every entity."""
    return x.ndim == 1 and len(x) > 0 and x.strides == (0,)


def select_exclusive(n: int, dtype, default: int, choices) -> np.ndarray:
    """``default`` everywhere, else ``value`` where ``mask`` — for mutually exclusive masks.

    Equal to nested ``np.where`` calls, but as integer arithmetic: ``np.where`` on a mask without
    long runs is an order of magnitude slower (branch mispredictions).
    """
    out = np.full(n, default, dtype=dtype)
    for mask, value in choices:
        if value != default:       # bool·int8 as int8·int8: several times faster
            out += mask.view(np.int8) * dtype(value - default) if dtype == np.int8 else mask * dtype(value - default)
    return out


def round_half_even(y):
    """GB/T 8170 rounding to an integer (四舍六入五成双), after clearing float noise below 1e-6."""
    return np.rint(np.rint(y * 1e6) / 1e6)


def apply_rounding(values, rounding: T.Rounding):
    scale = 10.0 ** rounding.decimals
    return round_half_even(values / rounding.factor * scale) / scale * rounding.factor


def kleene(op: str, a: Col, b: Col) -> Col:
    """Three-valued ``and``/``or`` (Kleene): ``false and unknown`` is false, ``true or unknown`` is true."""
    if known_everywhere(a.known) and known_everywhere(b.known):
        return Col(a.data & b.data if op == "and" else a.data | b.data, a.known)
    # on bools, `greater(known, data)` is `known & ~data`: known false
    if op == "and":
        false = np.greater(a.known, a.data) | np.greater(b.known, b.data)
        true = both(a.known, a.data) & both(b.known, b.data)
        return Col(true, true | false)
    true = both(a.known, a.data) | both(b.known, b.data)
    false = np.greater(a.known, a.data) & np.greater(b.known, b.data)
    return Col(true, true | false)


def verdicts_present(codes, n: int) -> np.ndarray:
    """Per entity, which verdicts its rows of ``codes`` hold, as the bits ``1 << code`` (int8)."""
    rows = list(codes)
    if not rows:
        return np.full(n, 1 << T.NOT_APPLICABLE, dtype=np.int8)
    one = np.int8(1)
    present = np.left_shift(one, rows[0], dtype=np.int8)
    bit = np.empty(n, dtype=np.int8) if len(rows) > 1 else None
    for row in rows[1:]:
        present |= np.left_shift(one, row, out=bit)
    return present


def combine_verdicts(func: str, codes, n: int | None = None) -> np.ndarray:
    """``all``/``any`` over verdict codes: a (rules × entities) array, or a list of rows of length ``n``."""
    rows = list(codes)
    if n is None:
        n = len(rows[0])
    present = verdicts_present(rows, n)
    any_fail = (present & (1 << T.FAIL)) != 0
    any_pass = (present & (1 << T.PASS)) != 0
    any_unknown = (present & (1 << T.UNKNOWN)) != 0
    none_applies = present == (1 << T.NOT_APPLICABLE)
    decides, decided, otherwise = (any_fail, T.FAIL, T.PASS) if func == "all" else (any_pass, T.PASS, T.FAIL)
    unknown = ~decides & any_unknown
    not_applicable = ~decides & ~any_unknown & none_applies
    return select_exclusive(n, np.int8, otherwise,
                            [(decides, decided), (unknown, T.UNKNOWN), (not_applicable, T.NOT_APPLICABLE)])


def combined_as_bool(func: str, present: np.ndarray) -> Col:
    """:func:`combine_verdicts` read as a condition (pass, and known: not unknown), straight from
    the bits of :func:`verdicts_present` (which it overwrites)."""
    P, F, U = 1 << T.PASS, 1 << T.FAIL, 1 << T.UNKNOWN
    # all: passes when some rule passes and none fails or is unknown; unknown when one is and none fails
    # any: passes when some rule passes; unknown when none does and one is unknown
    settled, passing = (F | U, (F | U | P, P)) if func == "all" else (P | U, (P, P))
    known = present & np.int8(settled)
    np.not_equal(known, U, out=known.view(np.bool_))
    np.bitwise_and(present, np.int8(passing[0]), out=present)
    np.equal(present, passing[1], out=present.view(np.bool_))
    return Col(present.view(np.bool_), known.view(np.bool_))


def column_of_values(typ, values: list) -> Col:
    """A column of a few canonical values (None = unknown) of type ``typ``: example rows, one entity."""
    if isinstance(typ, T.BoolT):
        data = np.array([bool(v) for v in values], dtype=bool)
    elif isinstance(typ, T.TextT):
        data = np.array([v if v is not None else 0 for v in values], dtype=np.int32)
    else:
        data = np.array([v if v is not None else np.nan for v in values], dtype=float)
    return Col(data, np.array([v is not None for v in values], dtype=bool))
