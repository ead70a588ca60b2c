"""Bit-exact model of the bounded (block-floating) accumulator, ``mase_bounded_align.sv`` /
``mase_bounded_accumulator.sv``, and the widths and error bound derived from it.

A sum is a sequence of ``N`` terms ``t_i = P_i * 2^(L_i)``: ``P_i`` a vector of signed
integers (one per lane, ``|P_i| < 2^(TW-1)``, TW the term width), ``L_i`` one LSB exponent per
term shared by its lanes. The accumulator keeps, per lane, an ``ACC_WIDTH``-bit two's
complement integer ``A`` and, shared by the lanes, a reference exponent ``R`` (the largest
``L_i`` so far); its value is ``A * 2^(R - F)`` with

    F = ACC_WIDTH - TW - clog2(N + 1)      fraction bits kept below the largest term's LSB
    minimum legal ACC_WIDTH = TW + clog2(N + 1)   (F = 0)

First term: ``A = P_0 << F``, ``R = L_0``. Each later term:

    R' = max(R, L_i)
    A' = rnd(A, R' - R) + rnd(P_i << F, R' - L_i)

``rnd(v, 0) = v``; for ``d > 0`` it is ``floor(v / 2^d)`` (``rounding='truncate'``, an
arithmetic shift) or ``v / 2^d`` rounded half to even (``'nearest'``: guard bit plus sticky
OR of the bits below it). Only one of the two operands has ``d > 0`` in a step (the one with
the smaller exponent), so the hardware has one shifter per lane behind a swap mux. The RTL
saturates the shift at ACC_WIDTH, which gives the same result: every operand has
``|v| < 2^(ACC_WIDTH-1)``, so from there on ``v / 2^d`` is below half an LSB (nearest: 0,
floor: 0 or -1), exactly as the unbounded integer shift here.

No overflow: each rounded term has magnitude at most ``2^(TW-1+F)`` in units of the current
``2^(R-F)``, and rounding the running sum to a coarser grid does not increase its bound, so
``|A| <= N * 2^(TW-1+F) < 2^(ACC_WIDTH-1)``.

Worst-case error (one rounding per term after the first, each at most one unit (truncate) or
half a unit (nearest) of a grid ``2^(R'-F) <= 2^(Lmax-F)``, ``Lmax = max_i L_i``):

    |bounded - exact| <= (N - 1) * 2^(Lmax - F)        truncate
    |bounded - exact| <= (N - 1) * 2^(Lmax - F - 1)    nearest-even

Derived default: ``F = clog2(N) + 2``, i.e. ``ACC_WIDTH = TW + clog2(N + 1) + clog2(N) + 2``;
since ``N - 1 < 2^clog2(N)`` the error stays below ``2^(Lmax - 3)`` (nearest) or
``2^(Lmax - 2)`` (truncate): under an eighth of the LSB of the largest term's product.

``ACC_WIDTH = 0`` selects the exact (Kulisch) sum, for verification: the RTL builds it as this
accumulator with ``F`` = the largest possible exponent gap, so no shifted-out bit is ever
non-zero; here it is the plain exact sum (:func:`exact_sum`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ROUNDINGS",
    "clog2",
    "min_acc_width",
    "default_acc_width",
    "frac_bits",
    "resolve_acc_width",
    "acc_config",
    "round_shift",
    "bounded_sum",
    "exact_sum",
    "error_bound",
]

#: ACC_ROUND code -> rounding of the shifted-out bits
ROUNDINGS = {0: "truncate", 1: "nearest"}


def clog2(n: int) -> int:
    """Verilog's ``$clog2``: bits to count ``n`` values (``clog2(1) = 0``)."""
    return max(int(n) - 1, 0).bit_length()


def min_acc_width(term_width: int, n_terms: int) -> int:
    """Narrowest legal ACC_WIDTH: the term width plus carry bits for ``n_terms`` terms (F = 0)."""
    return term_width + clog2(n_terms + 1)


def default_acc_width(term_width: int, n_terms: int) -> int:
    """Derived default: ``F = clog2(N) + 2`` fraction bits (error < 2^(Lmax-3) with nearest)."""
    return min_acc_width(term_width, n_terms) + clog2(n_terms) + 2


def frac_bits(acc_width: int, term_width: int, n_terms: int) -> int:
    """``F = ACC_WIDTH - TW - clog2(N + 1)``."""
    return acc_width - min_acc_width(term_width, n_terms)


def resolve_acc_width(module: str, acc_width: int, term_width: int, n_terms: int) -> int:
    """Catalog value -> concrete ACC_WIDTH: -1 is the derived default, 0 (exact) stays 0.

    Raises ValueError naming ACC_WIDTH and the minimum for a narrower width."""
    if acc_width == -1:
        return default_acc_width(term_width, n_terms)
    if acc_width == 0:
        return 0
    lo = min_acc_width(term_width, n_terms)
    if acc_width < lo:
        raise ValueError(
            f"{module}: parameter ACC_WIDTH={acc_width} is below the minimum {lo} "
            f"(term width {term_width} + clog2({n_terms}+1) = {clog2(n_terms + 1)} carry bits for "
            f"{n_terms} terms); use ACC_WIDTH >= {lo}, -1 (derived default "
            f"{default_acc_width(term_width, n_terms)}) or 0 (exact)")
    return acc_width


def acc_config(module: str, acc_width: int, term_width: int, n_terms: int, lsb_min: int,
               lsb_max: int) -> dict:
    """The accumulator a catalog entry builds, from its ACC_WIDTH parameter: the values the
    RTL and the golden models are sized by, for terms whose LSB exponents lie in
    ``[lsb_min, lsb_max]``.

    ``ACC_WIDTH`` is :func:`resolve_acc_width` (-1 -> the derived default, 0 exact stays 0, a
    narrower width raises ValueError naming it and the minimum); ``ACC_BITS`` the built width:
    ``ACC_WIDTH``, or in exact mode ``TW + clog2(N+1) + G`` with ``G = lsb_max - lsb_min`` the
    largest exponent gap, so that ``F = G`` and no shifted-out bit is ever non-zero;
    ``ACC_FRAC`` is ``F`` (:func:`frac_bits`) of that width. ``ACC_TERM_WIDTH`` and
    ``ACC_TERMS`` repeat TW and N."""
    width = resolve_acc_width(module, acc_width, term_width, n_terms)
    bits = width or min_acc_width(term_width, n_terms) + (lsb_max - lsb_min)
    return {"ACC_WIDTH": width, "ACC_TERM_WIDTH": term_width, "ACC_TERMS": n_terms, "ACC_BITS": bits,
            "ACC_FRAC": frac_bits(bits, term_width, n_terms)}


def round_shift(v: int, d: int, rounding: str) -> int:
    """``rnd(v, d)``: ``v / 2^d`` rounded by ``rounding`` ('truncate' = floor, 'nearest' = half to
    even from guard and sticky bits), for signed ``v`` and ``d >= 0``."""
    if d <= 0:
        return v
    floor = v >> d  # arithmetic shift: floor for negative v too
    if rounding == "truncate":
        return floor
    guard = (v >> (d - 1)) & 1
    sticky = (v & ((1 << (d - 1)) - 1)) != 0
    return floor + (guard and (sticky or floor & 1))


def bounded_sum(terms: Sequence[tuple[Sequence[int], int]], acc_width: int, term_width: int,
                rounding: str) -> tuple[list[int], int]:
    """The bounded accumulator over ``terms = [(P_i lanes, L_i), ...]``: ``(A lanes, R - F)``,
    the value of lane j being ``A[j] * 2^(R - F)``."""
    n = len(terms)
    f = frac_bits(acc_width, term_width, n)
    if f < 0:
        raise ValueError(f"bounded_sum: ACC_WIDTH={acc_width} is below the minimum "
                         f"{min_acc_width(term_width, n)} for {n} terms of {term_width} bits")
    lim = 1 << (term_width - 1)
    for p, _ in terms:
        if any(abs(v) >= lim for v in p):
            raise ValueError(f"bounded_sum: a term lane does not fit {term_width} signed bits")
    p0, r = terms[0]
    acc = [int(v) << f for v in p0]
    for p, lsb in terms[1:]:
        r_new = max(r, lsb)
        acc = [round_shift(a, r_new - r, rounding) + round_shift(int(v) << f, r_new - lsb, rounding)
               for a, v in zip(acc, p)]
        r = r_new
    top = 1 << (acc_width - 1)
    assert all(-top <= a < top for a in acc), "bounded accumulator overflow (the width bound is violated)"
    return acc, r - f


def exact_sum(terms: Sequence[tuple[Sequence[int], int]]) -> tuple[list[int], int]:
    """The exact (Kulisch) sum of ``terms``, aligned to the smallest LSB exponent."""
    lsb = min(lsb for _, lsb in terms)
    acc = [0] * len(terms[0][0])
    for p, l in terms:
        acc = [a + (int(v) << (l - lsb)) for a, v in zip(acc, p)]
    return acc, lsb


def error_bound(n_terms: int, lmax: int, frac: int, rounding: str):
    """Worst-case ``|bounded - exact|`` (a Fraction): ``(N-1) 2^(Lmax-F)`` truncate,
    ``(N-1) 2^(Lmax-F-1)`` nearest."""
    from fractions import Fraction

    step = Fraction(2) ** (lmax - frac)
    return (n_terms - 1) * (step if rounding == "truncate" else step / 2)
