"""Cycle counts of the modelled operators, as formulas checked against ``mase_hwlib.simulate``.

Unstalled streams (no idle input cycles, no back-pressure):

* elementwise ``cast``, ``relu``, ``mul``, ``add``: one block (pair) per cycle,
  latency 1 cycle (output register), so ``cycles_per_block = 1``;
* ``linear``: ``IN_TILES * OUT_TILES`` tile pairs per x group at one pair per
  cycle; with x double-buffered an output tile leaves every ``IN_TILES``
  cycles (``cycles_per_block = IN_TILES``), the first one ``2 * IN_TILES + S``
  cycles after the first x tile, ``S`` the tile dot's registers after its
  accumulator (3 MXInt, 2 fixed point; the catalog's resolved ``LATENCY``);
* ``matmul``: ``K_TILES`` tile pairs per output tile at one pair per cycle,
  latency ``K_TILES + S`` (the catalog's ``LATENCY``), ``cycles_per_block =
  K_TILES``, ``A_ROWS * B_COLS * BLOCK_K`` MACs per cycle;
* ``bmf_linear`` / ``bl_linear``: the linear's schedule, an output block of
  ``OUT_GROUP`` output tiles every ``OUT_GROUP * IN_TILES`` cycles (the catalog's
  ``CYCLES_PER_BLOCK``, ``LATENCY``);
* ``gelu``: one block per cycle, latency 1;
* ``softmax``: a row of ``ROW_BLOCKS`` blocks takes ``3 * ROW_BLOCKS`` cycles
  (in, exponentials, out; rows do not overlap), the first output ``2 * ROW_BLOCKS``
  cycles after the first input: ``cycles_per_block = 3`` on average;
* ``layer_norm``: ``2 * ROW_BLOCKS + 1`` cycles per row (in, one square-root
  cycle, out), latency ``ROW_BLOCKS + 1``: ``cycles_per_block = 2 + 1/ROW_BLOCKS``.

Rates at clock ``f`` (MHz): ``blocks_per_s = f * 1e6 / cycles_per_block``;
``elements_per_s`` multiplies by the output elements per block;
``macs_per_s`` (linear) is ``X_ROWS * OUT_TILE * BLOCK_K * f * 1e6`` since one
tile pair -- that many multiply-adds -- enters per cycle.
The tests simulate one point per family and compare with these formulas.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["cycles", "throughput"]

_ELEMENTWISE = ("mase_mxint_cast", "mase_mxint_relu", "mase_mxint_mul", "mase_mxint_add",
                "mase_mxint_block_to_fixed")
# fixed-point elementwise operators: one beat of BLOCK lanes per cycle, registered output
_FIXED_ELEMENTWISE = ("mase_fixed_add", "mase_fixed_relu", "mase_fixed_cast")
_ROW = {  # module -> (latency, cycles per row) as functions of ROW_BLOCKS
    "mase_mxint_softmax": (lambda rb: 2 * rb, lambda rb: 3 * rb),
    "mase_mxint_layer_norm": (lambda rb: rb + 1, lambda rb: 2 * rb + 1),
}


def cycles(module: str, p: Mapping[str, int]) -> dict[str, float]:
    """``{"latency": cycles, "cycles_per_block": cycles, "elements_per_block": n}`` (resolved params)."""
    if module in _ELEMENTWISE:
        return {"latency": 1, "cycles_per_block": 1.0, "elements_per_block": p["BLOCK_0"] * p["BLOCK_1"]}
    if module in _FIXED_ELEMENTWISE:
        return {"latency": 1, "cycles_per_block": 1.0, "elements_per_block": p["BLOCK"]}
    # the fixed-point linear / matmul share the MXInt ones' sequencing (mase_linear_sequencer,
    # mase_tile_pair_join): one tile pair per cycle
    if module in ("mase_mxint_linear", "mase_fixed_linear"):
        return {
            "latency": p["LATENCY"],
            "cycles_per_block": float(p["IN_TILES"]),
            "elements_per_block": p["X_ROWS"] * p["OUT_TILE"],
            "macs_per_cycle": p["X_ROWS"] * p["OUT_TILE"] * p["BLOCK_K"],
        }
    if module in ("mase_bmf_linear", "mase_bl_linear"):
        # one tile pair per cycle as the MXInt linear; an output block is OUT_GROUP output tiles,
        # quantized together (the catalog's CYCLES_PER_BLOCK and LATENCY, checked by simulation)
        return {
            "latency": p["LATENCY"],
            "cycles_per_block": float(p["CYCLES_PER_BLOCK"]),
            "elements_per_block": p["OUT_BLOCK_LANES"],
            "macs_per_cycle": p["X_ROWS"] * p["OUT_TILE"] * p["BLOCK_K"],
        }
    if module in ("mase_mxint_matmul", "mase_fixed_matmul"):
        return {
            "latency": p["LATENCY"],
            "cycles_per_block": float(p["K_TILES"]),
            "elements_per_block": p["A_ROWS"] * p["B_COLS"],
            "macs_per_cycle": p["A_ROWS"] * p["B_COLS"] * p["BLOCK_K"],
        }
    if module == "mase_mxint_gelu":
        return {"latency": 1, "cycles_per_block": 1.0, "elements_per_block": p["BLOCK"]}
    if module in _ROW:
        latency, per_row = _ROW[module]
        rb = p["ROW_BLOCKS"]
        return {"latency": latency(rb), "cycles_per_block": per_row(rb) / rb, "elements_per_block": p["BLOCK"]}
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
