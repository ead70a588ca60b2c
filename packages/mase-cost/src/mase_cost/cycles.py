"""Cycle counts of the modelled operators, as formulas checked against ``mase_hwlib.simulate``.

Unstalled streams (no idle input cycles, no back-pressure):

* elementwise ``cast``, ``relu``, ``mul``, ``add``: one block (pair) per cycle,
  latency 1 cycle (output register), so ``cycles_per_block = 1``;
* ``linear``: ``IN_TILES * OUT_TILES`` tile pairs per x group at one pair per
  cycle; with x double-buffered an output tile leaves every ``IN_TILES``
  cycles (``cycles_per_block = IN_TILES``), the first one ``2 * IN_TILES``
  cycles after the first x tile (the catalog's ``LATENCY``).

Rates at clock ``f`` (MHz): ``blocks_per_s = f * 1e6 / cycles_per_block``;
``elements_per_s`` multiplies by the output elements per block;
``macs_per_s`` (linear) is ``X_ROWS * OUT_TILE * BLOCK_K * f * 1e6`` since one
tile pair -- that many multiply-adds -- enters per cycle.
The tests simulate one point per family and compare with these formulas.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["cycles", "throughput"]

_ELEMENTWISE = ("mase_mxint_cast", "mase_mxint_relu", "mase_mxint_mul", "mase_mxint_add")


def cycles(module: str, p: Mapping[str, int]) -> dict[str, float]:
    """``{"latency": cycles, "cycles_per_block": cycles, "elements_per_block": n}`` (resolved params)."""
    if module in _ELEMENTWISE:
        return {"latency": 1, "cycles_per_block": 1.0, "elements_per_block": p["BLOCK_0"] * p["BLOCK_1"]}
    if module == "mase_mxint_linear":
        return {
            "latency": 2 * p["IN_TILES"],
            "cycles_per_block": float(p["IN_TILES"]),
            "elements_per_block": p["X_ROWS"] * p["OUT_TILE"],
            "macs_per_cycle": p["X_ROWS"] * p["OUT_TILE"] * p["BLOCK_K"],
        }
    raise KeyError(f"mase_cost: no cycle model for module {module!r}")


def throughput(module: str, p: Mapping[str, int], clock_mhz: float) -> dict[str, float]:
    """Cycle counts plus ``latency_ns``, ``blocks_per_s``, ``elements_per_s`` (and ``macs_per_s``)."""
    c = cycles(module, p)
    hz = clock_mhz * 1e6
    out = {**c, "clock_mhz": clock_mhz, "latency_ns": c["latency"] * 1e3 / clock_mhz,
           "blocks_per_s": hz / c["cycles_per_block"]}
    out["elements_per_s"] = out["blocks_per_s"] * c["elements_per_block"]
    if "macs_per_cycle" in c:
        out["macs_per_s"] = c["macs_per_cycle"] * hz
    return out
