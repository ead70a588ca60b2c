"""Sweeps that check predictions never fall when a mantissa / width / exponent parameter grows.

A wider mantissa, exponent, lane or accumulator never makes an operator smaller in
hardware -- except where a product crosses the DSP48 threshold and leaves the LUTs, which
the DSP indicator features (:data:`mase_cost.features.UNCONSTRAINED`) say.  So, for every
parameter of :func:`width_params` and every pair of consecutive legal values ``v < v'``
(the others held), at equal DSP indicators:

* every other feature is non-decreasing (:func:`feature_violations`), and
* every prediction is non-decreasing (:func:`prediction_violations`).

``ACC_WIDTH`` is swept over its bounded widths only: 0 selects the exact datapath and -1
the derived default, which are modes, not widths.  Points in the exact mode
(``ACC_WIDTH = 0``) are not swept: its accumulator spans the LSB exponents of both
operands, ``max_x(EMAX_x - (MAN_x - 1)) - min_x(-EMAX_x - (MAN_x - 1))``, which *narrows*
when one operand's mantissa grows toward the other's (a real property of the exact
datapath, kept for verification only; with tied mantissas it is monotone again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mase_hwlib import catalog

from mase_cost.features import UNCONSTRAINED, features

__all__ = ["WIDTH_PARAM", "feature_violations", "prediction_violations", "sweep_pairs", "width_params"]

#: Parameters the monotonicity holds for: mantissa, exponent and lane widths.
WIDTH_PARAM = re.compile(r"(_MAN|_EXP|_WIDTH|^MAN_BITS|^EXP_BITS)$")
#: At most this many values of one parameter are swept (evenly spread over its range).
MAX_VALUES = 12


def width_params(module: str) -> list[str]:
    """The integer parameters of ``module`` named like a width (:data:`WIDTH_PARAM`)."""
    return [p.name for p in catalog.get(module).params if p.kind != "str" and WIDTH_PARAM.search(p.name)]


def _values(lo: int, hi: int) -> list[int]:
    if hi - lo + 1 <= MAX_VALUES:
        return list(range(lo, hi + 1))
    step = (hi - lo) / (MAX_VALUES - 1)
    return sorted({round(lo + i * step) for i in range(MAX_VALUES)})


def sweep_pairs(module: str, base: Mapping[str, int], nodsp: bool, ranges: Mapping | None = None):
    """Yield ``(param, v, v', resolved, resolved', features, features')`` for consecutive legal
    values of every width parameter around ``base``, where the DSP indicators agree.
    ``ranges`` (``{param: (lo, hi)}``, e.g. a model's fitted ranges) narrows the sweep."""
    spec = catalog.get(module)
    by_name = {p.name: p for p in spec.params}
    for name in width_params(module):
        p = by_name[name]
        lo, hi = (ranges or {}).get(name, (p.lo, p.hi))
        if name == "ACC_WIDTH":
            lo = max(lo, 1)
        legal = []
        for v in _values(lo, min(hi, lo + 64) if name == "ACC_WIDTH" else hi):
            try:
                r = spec.resolve({**base, name: v})
            except ValueError:  # e.g. an ACC_WIDTH below the minimum for the mantissas
                continue
            if r.get("ACC_WIDTH") == 0 and name != "ACC_WIDTH":
                continue  # the exact mode (module docstring)
            legal.append((v, r, features(module, r, nodsp)))
        for (v1, r1, f1), (v2, r2, f2) in zip(legal, legal[1:]):
            if any(f1.get(u) != f2.get(u) for u in UNCONSTRAINED):
                continue  # a product moved into (or out of) a DSP48: LUTs may fall, DSPs rise
            yield name, v1, v2, r1, r2, f1, f2


def feature_violations(module: str, base: Mapping[str, int], nodsp: bool) -> list[str]:
    """Every constrained feature that falls between consecutive widths (should be none)."""
    out = []
    for name, v1, v2, _, _, f1, f2 in sweep_pairs(module, base, nodsp):
        for k in f1:
            if k not in UNCONSTRAINED and f2[k] < f1[k] - 1e-9 * max(1.0, abs(f1[k])):
                out.append(f"{module} {name} {v1}->{v2}: feature {k} {f1[k]:g} -> {f2[k]:g}")
    return out


def prediction_violations(model, module: str, base: Mapping[str, int], nodsp: bool,
                          targets=None, extrapolate: bool = True) -> list[str]:
    """Every prediction of ``model`` that falls between consecutive widths (should be none).
    ``extrapolate=False`` keeps the sweep inside the model's fitted ranges."""
    ranges = None if extrapolate else model.ranges[module]
    out = []
    for name, v1, v2, _, _, _, _ in sweep_pairs(module, base, nodsp, ranges):
        p1 = model.predict(module, {**base, name: v1}, nodsp, extrapolate=extrapolate)
        p2 = model.predict(module, {**base, name: v2}, nodsp, extrapolate=extrapolate)
        for t in targets or p1:
            if p2[t] < p1[t] - 1e-9 * max(1.0, abs(p1[t])):
                out.append(f"{module} {t} {name} {v1}->{v2}: {p1[t]:.6g} -> {p2[t]:.6g} (base {dict(base)})")
    return out
