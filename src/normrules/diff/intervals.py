"""Sets of values of one quantity as unions of intervals, and where two such sets differ.

A set is a list of ``(low, high, low closed, high closed)`` in canonical units; :func:`true_set`
is where a comparison with a constant holds (with GB/T 8170 rounding if asked) and
:func:`flip_regions` where the outcome of two comparisons differs.
"""

from __future__ import annotations

import math

INF = math.inf
Set_ = list[tuple[float, float, bool, bool]]       # a union of intervals, canonical units


def _complement(s: Set_) -> Set_:
    out: Set_ = []
    lo, lo_c = -INF, False
    for a, b, ac, bc in sorted(s):
        out.append((lo, a, lo_c, not ac))
        lo, lo_c = b, not bc
    out.append((lo, INF, lo_c, False))
    return [iv for iv in out if iv[0] < iv[1] or (iv[0] == iv[1] and iv[2] and iv[3] and math.isfinite(iv[0]))]


def true_set(op: str, c: float, quantum: float | None = None) -> Set_:
    """Where ``x op c`` holds; with ``quantum``, where ``round(x) op c`` holds (GB/T 8170 rounded
    value: round half to even on multiples of ``quantum``)."""
    if quantum is None:
        return {"<=": [(-INF, c, False, True)], "<": [(-INF, c, False, False)],
                ">=": [(c, INF, True, False)], ">": [(c, INF, False, False)],
                "==": [(c, c, True, True)], "!=": [(-INF, c, False, False), (c, INF, False, False)]}[op]
    q = quantum
    k_floor = math.floor(c / q + 1e-9)
    k_ceil = math.ceil(c / q - 1e-9)

    def at_most(k: int) -> Set_:        # round(x) <= k·q
        return [(-INF, (k + 0.5) * q, False, k % 2 == 0)]

    if op == "<=":
        return at_most(k_floor)
    if op == "<":
        return at_most(k_ceil - 1)
    if op == ">=":
        return _complement(at_most(k_ceil - 1))
    if op == ">":
        return _complement(at_most(k_floor))
    if k_floor != k_ceil:              # the limit is not a multiple of the quantum: == never holds
        eq: Set_ = []
    else:
        even = k_floor % 2 == 0
        eq = [((k_floor - 0.5) * q, (k_floor + 0.5) * q, even, even)]
    return eq if op == "==" else _complement(eq)


def _contains(s: Set_, x: float) -> bool:
    return any(a < x < b or (x == a and ac) or (x == b and bc) for a, b, ac, bc in s)


def flip_regions(old: Set_, new: Set_) -> list[tuple[float, float, bool, bool, bool, bool]]:
    """Maximal intervals where membership differs: (lo, hi, lo closed, hi closed, old, new)."""
    pts = sorted({x for s in (old, new) for a, b, _, _ in s for x in (a, b) if math.isfinite(x)})
    regions = []
    if not pts:
        regions.append((-INF, INF, False, False, 0.0))
    else:
        regions.append((-INF, pts[0], False, False, pts[0] - 1 - abs(pts[0])))
        for i, p in enumerate(pts):
            regions.append((p, p, True, True, p))
            if i + 1 < len(pts):
                regions.append((p, pts[i + 1], False, False, (p + pts[i + 1]) / 2))
        regions.append((pts[-1], INF, False, False, pts[-1] + 1 + abs(pts[-1])))
    out: list = []
    for lo, hi, lc, hc, rep in regions:
        b, a = _contains(old, rep), _contains(new, rep)
        if b == a:
            continue
        if out and out[-1][1] == lo and (out[-1][3] or lc) and out[-1][4:] == (b, a):
            prev = out[-1]
            out[-1] = (prev[0], hi, prev[2], hc, b, a)
        else:
            out.append((lo, hi, lc, hc, b, a))
    return out


def _intersect(r, bound):
    lo, hi, lc, hc = r
    blo, bhi, blc, bhc = bound
    if blo > lo:
        lo, lc = blo, blc
    elif blo == lo:
        lc = lc and blc
    if bhi < hi:
        hi, hc = bhi, bhc
    elif bhi == hi:
        hc = hc and bhc
    if lo < hi or (lo == hi and lc and hc):
        return lo, hi, lc, hc
    return None
