"""The tile knobs of the tiled matmul and linear, shared by every format family's entry.

``mase_mxint_matmul`` / ``mase_fixed_matmul`` and ``mase_mxint_linear`` /
``mase_fixed_linear`` tile and sequence their operands the same way
(``mase_tile_pair_join``, ``mase_linear_sequencer``); only the element format and
the accumulator differ. Their tiling parameters, the lane counts and cycle counts
derived from them and the ROM checks of the linear are stated once here.

* matmul: A tiles ``A_ROWS x BLOCK_K``, B^T tiles ``B_COLS x BLOCK_K``, ``K_TILES``
  tile pairs per ``A_ROWS x B_COLS`` output tile;
* linear: x tiles ``X_ROWS x BLOCK_K``, weight tiles ``OUT_TILE x BLOCK_K``,
  ``IN_TILES`` x tiles per group (``in_features = IN_TILES * BLOCK_K``),
  ``OUT_TILES`` output tiles per group (``out_features = OUT_TILES * OUT_TILE``);
  one tile pair per cycle with x double-buffered, so a group takes
  ``IN_TILES * OUT_TILES`` cycles and the first output ``2 * IN_TILES + S``.

Both tile dot products are pipelined (``mase_tile_dot_pipeline``): a product
register, the accumulator, then ``S`` registers of finished sums that add ``S``
cycles of latency -- ``MXINT_TILE_DOT_STAGES`` (sum, block scale, output) for
``mase_mxint_tile_dot``, ``FIXED_TILE_DOT_STAGES`` (sum, output) for
``mase_fixed_tile_dot``.
"""

from __future__ import annotations

from mase_hwlib.catalog import Param

#: BLOCK_K, A_ROWS, B_COLS, K_TILES of a tiled matmul.
MATMUL_TILES = (
    Param("BLOCK_K", 4, "elements along K per tile (the block of both operands)", 1, 64),
    Param("A_ROWS", 1, "rows of an A tile = output tile rows (A's second block extent)", 1, 16),
    Param("B_COLS", 1, "columns of a B tile = output tile columns (B's second block extent)", 1, 16),
    Param("K_TILES", 2, "tiles along K per output tile", 1, 4096),
)

#: BLOCK_K, X_ROWS, OUT_TILE, IN_TILES, OUT_TILES of a tiled linear.
LINEAR_TILES = (
    Param("BLOCK_K", 4, "elements along in_features per tile (block of x and W)", 1, 64),
    Param("X_ROWS", 1, "rows of an x tile (x's second block extent)", 1, 16),
    Param("OUT_TILE", 2, "out_features per W / output tile (W's second block extent)", 1, 16),
    Param("IN_TILES", 2, "in_features / BLOCK_K", 1, 4096),
    Param("OUT_TILES", 2, "out_features / OUT_TILE", 1, 4096),
)

#: RTL shared by both tile dot products
TILE_DOT_SOURCES = ("mase_int_dot_tree.sv", "mase_tile_dot_pipeline.sv")
#: registers after the accumulator of mase_mxint_tile_dot / mase_fixed_tile_dot (their OUT_STAGES)
MXINT_TILE_DOT_STAGES = 3
FIXED_TILE_DOT_STAGES = 2

HAS_BIAS = Param("HAS_BIAS", 0, "1: add a bias per output feature", 0, 1)


def linear_rom_params(rom_module: str) -> tuple[Param, ...]:
    """WEIGHTS_IN_ROM, WEIGHT_FILE, BIAS_FILE; ``rom_module`` writes the images."""
    return (
        Param("WEIGHTS_IN_ROM", 0, "1: weights (and bias) from ROM files instead of streams", 0, 1),
        Param("WEIGHT_FILE", "", f"$readmemh image of the weight ROM ({rom_module})", kind="str"),
        Param("BIAS_FILE", "", f"$readmemh image of the bias ROM ({rom_module})", kind="str"),
    )


#: docs of the linear's w and b streams
W_STREAM_DOC = "weight tiles W[o, k], order (o, k)"
B_STREAM_DOC = "bias tile of output tile o"


def weights_streamed(p):
    """The linear has a w stream (weights not in ROM)."""
    return not p["WEIGHTS_IN_ROM"]


def bias_streamed(p):
    """The linear has a b stream (a bias, not in ROM)."""
    return p["HAS_BIAS"] and not p["WEIGHTS_IN_ROM"]


def matmul_lanes(p) -> dict:
    """A_LANES, B_LANES, OUT_LANES of a tiled matmul."""
    return {
        "A_LANES": p["A_ROWS"] * p["BLOCK_K"],
        "B_LANES": p["B_COLS"] * p["BLOCK_K"],
        "OUT_LANES": p["A_ROWS"] * p["B_COLS"],
    }


def matmul_cycles(p, dot_stages: int) -> dict:
    """CYCLES_PER_BLOCK, LATENCY of a tiled matmul: K_TILES tile pairs per output tile at one pair
    per cycle, the output ``dot_stages`` cycles after the accumulator takes the last pair."""
    return {"CYCLES_PER_BLOCK": p["K_TILES"], "LATENCY": p["K_TILES"] + dot_stages}


def linear_tiling(module: str, p, writer: str, dot_stages: int) -> dict:
    """Lanes, features and cycle counts of a tiled linear; refuses ROM mode without its files
    (``writer`` names the function that writes them; ``dot_stages``: the tile dot's registers
    after its accumulator)."""
    if p["WEIGHTS_IN_ROM"] and not p["WEIGHT_FILE"]:
        raise ValueError(f"{module}: WEIGHTS_IN_ROM=1 needs WEIGHT_FILE (see {writer})")
    if p["WEIGHTS_IN_ROM"] and p["HAS_BIAS"] and not p["BIAS_FILE"]:
        raise ValueError(f"{module}: WEIGHTS_IN_ROM=1 with HAS_BIAS=1 needs BIAS_FILE")
    return {
        "X_LANES": p["X_ROWS"] * p["BLOCK_K"],
        "W_LANES": p["OUT_TILE"] * p["BLOCK_K"],
        "OUT_LANES": p["X_ROWS"] * p["OUT_TILE"],
        "IN_FEATURES": p["IN_TILES"] * p["BLOCK_K"],
        "OUT_FEATURES": p["OUT_TILES"] * p["OUT_TILE"],
        # steady state (x double-buffered): one tile pair per cycle; the tile dot's
        # registers after its accumulator (mase_tile_dot_pipeline) add dot_stages
        "CYCLES_PER_GROUP": p["IN_TILES"] * p["OUT_TILES"],
        "LATENCY": 2 * p["IN_TILES"] + dot_stages,
    }
