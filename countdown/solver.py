"""Exact Countdown solver built on reachable-value tables.

For a multiset of numbers, `reachable` maps every value that an expression using ALL of them can take to one
expression reaching it. A multiset's table is built from its splits into two non-empty sub-multisets, whose
tables are memoized on the sorted tuple, so sub-multisets shared between problems (pairs, triples) are
computed once per process. `solve_all` chains backwards from the target through the same tables, so it only
enumerates sub-expressions that can still end at the target.

Expressions use binary + - * / with parentheses only where needed, never unary minus, and are exactly what
countdown.reward grades correct. `reachable` and `solve` also take a subset of the operators (a task variant
without division, say); `solve_all` and the batched tables always use all four.
"""
from __future__ import annotations

import threading
from fractions import Fraction
from functools import lru_cache
from typing import Iterable, Sequence, Union

Value = Union[int, Fraction]   # internal: integral values stay plain ints (much faster than Fraction)

OPS = "+-*/"
# Precedence of an expression's top operator: atoms bind tightest.
_ATOM, _MUL, _ADD = 3, 2, 1


def _norm(value: Value) -> Value:
    if type(value) is Fraction and value.denominator == 1:
        return value.numerator
    return value


def _div(a: Value, b: Value) -> Value:
    if type(a) is int and type(b) is int:
        return a // b if a % b == 0 else Fraction(a, b)
    return _norm(Fraction(a) / b)


def render(op: str, left: str, lprec: int, right: str, rprec: int) -> tuple[str, int]:
    """`left op right` with the fewest parentheses that keep the value (and every number) unchanged."""
    if op == "+":
        return f"{left} + {right}", _ADD
    if op == "-":
        return f"{left} - {_wrap(right, rprec, _ADD)}", _ADD
    if op == "*":
        return f"{_wrap(left, lprec, _ADD)} * {_wrap(right, rprec, _ADD)}", _MUL
    return f"{_wrap(left, lprec, _ADD)} / {_wrap(right, rprec, _MUL)}", _MUL


def _wrap(text: str, prec: int, at_or_below: int) -> str:
    return f"({text})" if prec <= at_or_below else text


def _combine(a: Value, b: Value, ops: str = OPS) -> Iterable[tuple[str, bool, Value]]:
    """(op, swapped, value) for every way to combine a and b with `ops`; swapped means the expression is
    `b op a`."""
    if "+" in ops:
        yield "+", False, a + b
    if "*" in ops:
        yield "*", False, a * b
    if "-" in ops:
        yield "-", False, a - b
        yield "-", True, b - a
    if "/" in ops:
        if b != 0:
            yield "/", False, _div(a, b)
        if a != 0:
            yield "/", True, _div(b, a)


def splits(key: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Each unordered split of a sorted multiset into two non-empty sorted sub-multisets, once."""
    n = len(key)
    seen: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
    out = []
    for mask in range(1, 1 << (n - 1)):   # masks without the top element: each unordered split once
        left = tuple(key[i] for i in range(n) if mask >> i & 1)
        right = tuple(key[i] for i in range(n) if not mask >> i & 1)
        pair = (left, right) if left <= right else (right, left)
        if pair not in seen:
            seen.add(pair)
            out.append(pair)
    return out


@lru_cache(maxsize=1 << 16)
def _table(key: tuple[int, ...], ops: str = OPS) -> dict[Value, tuple[str, int]]:
    """value -> (expression, precedence) for the sorted multiset `key` with the operators `ops` (cached; never
    mutate the result)."""
    if len(key) == 1:
        return {key[0]: (str(key[0]), _ATOM)}
    table: dict[Value, tuple[str, int]] = {}
    for left, right in splits(key):
        lt, rt = _table(left, ops), _table(right, ops)
        for a, (ea, pa) in lt.items():
            for b, (eb, pb) in rt.items():
                for op, swapped, value in _combine(a, b, ops):
                    if value not in table:   # build the string only for new values
                        table[value] = (render(op, eb, pb, ea, pa) if swapped else render(op, ea, pa, eb, pb))
    return table


def _key(numbers: Sequence[int]) -> tuple[int, ...]:
    key = tuple(sorted(int(n) for n in numbers))
    if not key:
        raise ValueError("numbers is empty")
    if key[0] < 0:
        raise ValueError("numbers must be non-negative (a negative literal would need unary minus)")
    return key


def _ops(ops: str) -> str:
    if not ops or set(ops) - set(OPS):
        raise ValueError(f"ops must be a non-empty subset of {OPS!r}, got {ops!r}")
    return "".join(op for op in OPS if op in ops)   # one spelling per subset: one cache entry


def reachable(numbers: Sequence[int], ops: str = OPS) -> dict[Fraction, str]:
    """Every value reachable using ALL of `numbers` exactly once (with the operators `ops`) -> one expression
    that reaches it."""
    return {Fraction(v): expr for v, (expr, _) in _table(_key(numbers), _ops(ops)).items()}


def solve(numbers: Sequence[int], target: int | Fraction, ops: str = OPS) -> str | None:
    """One expression over all `numbers` (with the operators `ops`) equal to `target`, or None when there is
    none."""
    hit = _table(_key(numbers), _ops(ops)).get(_norm(Fraction(target)))
    return hit[0] if hit else None


def solve_all(numbers: Sequence[int], target: int | Fraction, limit: int | None = None) -> list[str]:
    """Distinct expressions over all `numbers` equal to `target` (up to `limit`), sorted for stable output.

    Expressions differing only by the order of + or * operands, or by regrouping that renders to the same
    text, count once; other rearrangements (a - b + c vs a + c - b) are distinct.
    """
    exprs = _all(_key(numbers), _norm(Fraction(target)))
    out = sorted({e for e, _ in exprs}, key=lambda e: (len(e), e))
    return out[:limit] if limit is not None else out


@lru_cache(maxsize=1 << 14)
def _all(key: tuple[int, ...], target: Value) -> tuple[tuple[str, int], ...]:
    """Every (expression, precedence) over the multiset `key` that equals `target`."""
    if len(key) == 1:
        return ((str(key[0]), _ATOM),) if key[0] == target else ()
    found: dict[str, int] = {}
    for left, right in splits(key):
        right_values = _table(right, OPS)
        for a in _table(left, OPS):
            # the b that each operator needs so that `a op b` (or `b op a`) hits the target
            for op, swapped, b in _needed(a, target, right_values):
                for ea, pa in _all(left, a):
                    for eb, pb in _all(right, b):
                        expr, prec = render(op, eb, pb, ea, pa) if swapped else render(op, ea, pa, eb, pb)
                        found.setdefault(expr, prec)
    return tuple(found.items())


def _needed(a: Value, t: Value, right_values: dict) -> Iterable[tuple[str, bool, Value]]:
    """(op, swapped, b) with b reachable on the right such that `a op b` (`b op a` if swapped) equals t."""
    wanted: list[tuple[str, bool, Value]] = [("+", False, t - a), ("-", False, a - t), ("-", True, a + t)]
    if a != 0:
        wanted.append(("*", False, _div(t, a)))
        wanted.append(("/", True, t * a))
        if t != 0:
            wanted.append(("/", False, _div(a, t)))
    elif t == 0:   # 0 * b and 0 / b are 0 for every b the right side makes (b != 0 for division)
        wanted += [("*", False, b) for b in right_values]
        wanted += [("/", False, b) for b in right_values if b != 0]
    return [w for w in wanted if w[2] in right_values]


# ---------------------------------------------------------------------------------------------------------
# Batched tables for the generator: the same split recursion, evaluated for many number sets at once with
# numpy. Values are exact rationals P/Q in int64 (no reduction needed: for k numbers of magnitude <= m,
# |P|, |Q| <= 2**(k-1) * m**k, checked by `batch_fits`). An invalid value (division by zero) is P = Q = 0,
# which every operator below propagates.

def batch_fits(k: int, max_abs: int) -> bool:
    """Whether k numbers of magnitude <= max_abs can go through `batch_table` without int64 overflow."""
    return 2 <= k <= 4 and 2 ** (k - 1) * max(max_abs, 1) ** k < 2 ** 62


def _submasks(mask: int) -> list[tuple[int, int]]:
    """Splits (a, b) of a bit mask into two non-empty parts, a holding the lowest bit (each split once)."""
    low = mask & -mask
    rest = mask ^ low
    out, sub = [], rest
    while True:
        a = sub | low
        if a != mask:
            out.append((a, mask ^ a))
        if sub == 0:
            break
        sub = (sub - 1) & rest
    return out


_OPS = (("+", False), ("-", False), ("-", True), ("*", False), ("/", False), ("/", True))


@lru_cache(maxsize=None)
def batch_templates(k: int) -> tuple[str, ...]:
    """Expression templates ("{0} + {2} * {1}" ...) in the column order of `batch_table` for k numbers."""
    def forms(mask: int) -> list[tuple[str, int]]:
        if mask & (mask - 1) == 0:
            return [("{%d}" % (mask.bit_length() - 1), _ATOM)]
        out = []
        for a, b in _submasks(mask):
            fa, fb = forms(a), forms(b)
            for op, swapped in _OPS:
                for ea, pa in fa:
                    for eb, pb in fb:
                        out.append(render(op, eb, pb, ea, pa) if swapped else render(op, ea, pa, eb, pb))
        return out
    return tuple(e for e, _ in forms((1 << k) - 1))


def batch_table(numbers):
    """Exact values of every expression form over each row of `numbers` (int array, shape (rows, k)).

    Returns int64 arrays (P, Q) of shape (rows, len(batch_templates(k))): column j of row r is the value of
    template j filled with that row's numbers, as the fraction P/Q (Q == 0: division by zero on the way).
    """
    import numpy as np

    x = np.asarray(numbers, dtype=np.int64)
    rows, k = x.shape
    memo: dict[int, tuple] = {}

    def table(mask: int):
        if mask not in memo:
            if mask & (mask - 1) == 0:
                i = mask.bit_length() - 1
                memo[mask] = (x[:, i][None, :], np.ones((1, rows), dtype=np.int64))
            else:
                memo[mask] = _combine_tables([(table(a), table(b)) for a, b in _submasks(mask)])
        return memo[mask]

    p, q = table((1 << k) - 1)
    return p.T, q.T


# Internally tables are laid out forms x rows: every numpy operation then runs over long contiguous rows of
# the batch instead of a handful of forms, which is several times faster than rows x forms.

def batch_solve(numbers, targets):
    """For each row of `numbers` (shape (rows, k)), the index into batch_templates(k) of one expression equal
    to that row's target, or -1 when the target is unreachable.

    The same exact arithmetic as `batch_table`, with three savings: the last combination is only compared
    with the target, never stored; rows leave the batch once one split reaches their target (cheap balanced
    splits first); and sub-tables of 3+ numbers keep one form per distinct rational function (a + (b + c)
    and b + (a + c) are the same function), which drops a third of their forms.
    """
    import numpy as np

    x = np.asarray(numbers, dtype=np.int64)
    t = np.asarray(targets, dtype=np.int64)
    rows, k = x.shape
    # int32 halves the memory traffic when every product, including target * denominator, fits in it
    if rows and 2 ** (k - 1) * max(int(abs(x).max()), 1) ** k * max(int(abs(t).max()), 1) < 2 ** 31:
        x, t = x.astype(np.int32), t.astype(np.int32)
    full = (1 << k) - 1
    result = np.full(rows, -1, dtype=np.int64)
    alive = np.arange(rows)
    # with a zero among the numbers two equal functions can differ in where they divide by zero: no pruning
    prune = rows > 0 and int(x.min()) >= 1
    memo: dict[int, tuple] = {}
    forms: dict[int, np.ndarray] = {}   # mask -> the unpruned form index of each kept form

    def table(mask: int):
        if mask not in memo:
            if mask & (mask - 1) == 0:
                i = mask.bit_length() - 1
                memo[mask] = (x[alive, i][None, :], np.ones((1, len(alive)), dtype=x.dtype))
            else:
                p, q = _combine_tables([(table(a), table(b)) for a, b in _submasks(mask)])
                keep = _distinct_columns(bin(mask).count("1")) if prune else None
                if keep is not None:
                    p, q = p[keep], q[keep]
                    forms[mask] = keep
                memo[mask] = (p, q)
        return memo[mask]

    def count(mask: int) -> int:   # unpruned number of forms
        return len(batch_templates(bin(mask).count("1"))) if mask & (mask - 1) else 1

    splits_ = _submasks(full)
    offsets, offset = [], 0
    for a, b in splits_:
        offsets.append(offset)
        offset += 6 * count(a) * count(b)
    order = sorted(range(len(splits_)), key=lambda s: count(splits_[s][0]) * count(splits_[s][1]))
    done = np.zeros(rows, dtype=bool)     # rows (of the current `alive`) that already have a solution
    for s in order:
        if not len(alive):
            break
        a, b = splits_[s]
        (pa, qa), (pb, qb) = table(a), table(b)
        tt = t[alive]
        found = _hits(pa, qa, pb, qb, tt, detail=False).any(axis=(0, 1)) & ~done
        if not found.any():
            continue
        # which (operator, left form, right form) hit, recomputed for the rows that have one
        hits = _hits(pa[:, found], qa[:, found], pb[:, found], qb[:, found], tt[found], detail=True)
        detail = np.stack(hits)                                       # (6, ma, mb, hit rows)
        _, ma, mb, n = detail.shape
        op, i, j = np.unravel_index(detail.reshape(-1, n).argmax(axis=0), (6, ma, mb))
        if a in forms:
            i = forms[a][i]
        if b in forms:
            j = forms[b][j]
        result[alive[found]] = offsets[s] + (op * count(a) + i) * count(b) + j
        done |= found
        # dropping solved rows copies every table, so it only pays once many rows are solved
        if done.mean() > 0.25:
            keep = ~done
            alive, done = alive[keep], done[keep]
            for m, (p, q) in memo.items():
                memo[m] = (p[:, keep], q[:, keep])
    return result


def _hits(pa, qa, pb, qb, tt, detail: bool):
    """Where `a op b == target` (a = pa/qa, b = pb/qb; tables forms x rows) for every pair of forms: with
    detail, six boolean arrays (ma, mb, rows), one per operator in _OPS order; without, their union.

    The union is the hot path: it writes into reused scratch buffers, because allocating and freeing
    temporaries of a megabyte each costs more in page faults than the arithmetic itself.
    """
    import numpy as np

    pa, qa = pa[:, None, :], qa[:, None, :]
    pb, qb = pb[None, :, :], qb[None, :, :]
    if detail:
        x1, x2 = pa * qb, pb * qa          # a and b over the common denominator z
        z = qa * qb
        tz = tt * z
        valid = z != 0                     # an invalid side is P = Q = 0, which would match a zero target
        # x2 != 0 implies qa != 0 and pb != 0: both sides valid (invalid is P = Q = 0) and b non-zero
        return [(x1 + x2 == tz) & valid, (x1 - x2 == tz) & valid, (x2 - x1 == tz) & valid,
                (pa * pb == tz) & valid, (x1 == tt * x2) & (x2 != 0), (x2 == tt * x1) & (x1 != 0)]
    shape = (pa.shape[0], pb.shape[1], pa.shape[2])
    x1, x2, z, tz, w = _scratch(pa.dtype, shape, 5)
    hit, valid, other = _scratch(np.bool_, shape, 3)
    np.multiply(pa, qb, out=x1)
    np.multiply(pb, qa, out=x2)
    np.multiply(qa, qb, out=z)
    np.multiply(tt, z, out=tz)
    np.not_equal(z, 0, out=valid)
    np.equal(np.add(x1, x2, out=w), tz, out=hit)                                # a + b
    np.logical_or(hit, np.equal(np.subtract(x1, x2, out=w), tz, out=other), out=hit)   # a - b
    np.logical_or(hit, np.equal(w, np.negative(tz, out=z), out=other), out=hit)      # b - a
    np.logical_or(hit, np.equal(np.multiply(pa, pb, out=w), tz, out=other), out=hit)  # a * b
    np.logical_and(hit, valid, out=hit)
    for num, den in ((x1, x2), (x2, x1)):                                       # a / b, b / a
        np.equal(num, np.multiply(tt, den, out=w), out=other)
        np.logical_and(other, np.not_equal(den, 0, out=valid), out=other)
        np.logical_or(hit, other, out=hit)
    return hit


_SCRATCH = threading.local()


def _scratch(dtype, shape, count):
    """`count` reusable arrays of `shape` (views of per-thread buffers; valid until the next call)."""
    import numpy as np

    size = int(np.prod(shape))
    key = (np.dtype(dtype).str, count)
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    have = buffers.get(key)
    if have is None or have.shape[1] < size:
        have = buffers[key] = np.empty((count, max(size, 1 << 16)), dtype=dtype)
    return [have[i, :size].reshape(shape) for i in range(count)]


@lru_cache(maxsize=None)
def _distinct_columns(m: int):
    """Forms of the m-number table that are distinct rational functions (the first of each kind).

    Two forms are taken as the same function when they agree exactly on three rows of large distinct primes
    (a false match would need a polynomial identity to hold by accident at all three points). A wrong merge
    could only hide a reachable target, never produce a wrong solution: every hit is checked exactly.
    """
    import numpy as np

    primes = [[1009, 1013, 1019, 1021], [7919, 7927, 7933, 7937], [104729, 104723, 104717, 104711]]
    p, q = batch_table(np.array([row[:m] for row in primes], dtype=np.int64))
    seen: set = set()
    keep = []
    for col in range(p.shape[1]):
        sig = tuple(Fraction(int(p[r, col]), int(q[r, col])) if q[r, col] else None for r in range(3))
        if sig not in seen:
            seen.add(sig)
            keep.append(col)
    return np.array(keep, dtype=np.int64)


def _combine_tables(pairs):
    """The (P, Q) table (forms x rows) of a mask from its splits' tables, in batch_templates order.

    Every operator writes straight into its slice of the output (no temporaries, no concatenation).
    """
    import numpy as np

    (pa0, _), _ = pairs[0]
    rows, dtype = pa0.shape[1], pa0.dtype
    total = sum(6 * pa.shape[0] * pb.shape[0] for (pa, _), (pb, _) in pairs)
    p_out = np.empty((total, rows), dtype=dtype)
    q_out = np.empty((total, rows), dtype=dtype)
    at = 0
    for (pa, qa), (pb, qb) in pairs:
        ma, mb = pa.shape[0], pb.shape[0]
        shape = (ma, mb, rows)
        pa, qa = pa[:, None, :], qa[:, None, :]
        pb, qb = pb[None, :, :], qb[None, :, :]
        p_ops = [p_out[at + i * ma * mb: at + (i + 1) * ma * mb].reshape(shape) for i in range(6)]
        q_ops = [q_out[at + i * ma * mb: at + (i + 1) * ma * mb].reshape(shape) for i in range(6)]
        at += 6 * ma * mb
        # a/b = x1/x2 and b/a = x2/x1 over the common denominator: compute x1, x2 where they end up
        x1, x2 = p_ops[4], p_ops[5]
        np.multiply(pa, qb, out=x1)
        np.multiply(pb, qa, out=x2)
        np.add(x1, x2, out=p_ops[0])
        np.subtract(x1, x2, out=p_ops[1])
        np.subtract(x2, x1, out=p_ops[2])
        np.multiply(pa, pb, out=p_ops[3])
        np.multiply(qa, qb, out=q_ops[0])
        for i in (1, 2, 3):
            q_ops[i][...] = q_ops[0]
        q_ops[4][...] = x2
        q_ops[5][...] = x1
        # a zero divisor makes the value invalid: P = Q = 0 (x1 * (x2 != 0) and x2 * (x1 != 0))
        np.multiply(x1, q_ops[4] != 0, out=p_ops[4])
        np.multiply(x2, q_ops[5] != 0, out=p_ops[5])
    return p_out, q_out
