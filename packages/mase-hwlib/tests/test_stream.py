"""Stream bridges for whole layers: fixed point -> MXInt, ROM sources, the block-stream
reorder buffer and the re-blocking buffer. Golden models against mx_formats (an
independent oracle), RTL against the golden models bit for bit under random stalls."""

import numpy as np
import pytest

import mx_formats as mxf
from mase_hwlib import catalog, streams
from mase_hwlib.golden import stream as gs
from mase_hwlib.testing import check_against_golden, lint

# ---------------------------------------------------------------------------
# mase_fixed_to_mxint


def _fixed_values(rng, n_beats, b0, width, signed, out_man):
    """Seeded fixed-point lane values: per-beat magnitudes 2^0 .. 2^(width-1) plus edge beats
    (zeros, the largest and smallest codes, a single LSB, and a block whose maximum 2^k
    puts the others (2j+1) 2^(k-m) exactly half an output step away: ties to even)."""
    hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    lo = -(1 << (width - 1)) if signed else 0
    top = rng.integers(0, width - (1 if signed else 0) + 1, size=(n_beats, 1))
    mag = rng.integers(0, 1 << 62, size=(n_beats, b0)) & ((np.int64(1) << top) - 1)
    sign = rng.choice([-1, 1], size=(n_beats, b0)) if signed else 1
    v = np.clip(mag * sign, lo, hi)
    edges = [np.zeros(b0), np.full(b0, hi), np.full(b0, lo), np.eye(1, b0, b0 - 1)[0],
             np.resize([1 << out_man, 1, 3, 5, -7 if signed else 7], b0) << (width - 2 - out_man)]
    return np.concatenate([np.array(edges, dtype=np.int64), v]).astype(np.int64)


def _codes(v, width):
    return np.asarray(v, dtype=np.int64) & ((1 << width) - 1)


FIXED_CONFIGS = [
    # softmax output: unsigned OUT_FRAC+1 bits, 1-D blocks
    dict(params=dict(BLOCK_0=8, IN_WIDTH=13, IN_FRAC=12, IN_SIGNED=0, OUT_MAN=5, OUT_EXP=8), beats=40),
    # layer_norm output into a (4, 2) block: rows of 3 beats paired through the row buffer
    dict(params=dict(BLOCK_0=4, BLOCK_1=2, ROW_BEATS=3, IN_WIDTH=16, IN_FRAC=12, OUT_MAN=7, OUT_EXP=8), beats=42),
    # gelu-like signed lanes, a narrow exponent that clamps (emax = 3) and saturates
    dict(params=dict(BLOCK_0=3, BLOCK_1=3, ROW_BEATS=2, IN_WIDTH=12, IN_FRAC=2, OUT_MAN=3, OUT_EXP=3), beats=36),
]


def _fixed_tensor(cfg, seed):
    p = catalog.get("mase_fixed_to_mxint").resolve(cfg["params"])
    rng = np.random.default_rng(seed)
    v = _fixed_values(rng, cfg["beats"] - 5, p["BLOCK_0"], p["IN_WIDTH"], p["IN_SIGNED"], p["OUT_MAN"])
    return p, v


@pytest.mark.parametrize("index", range(len(FIXED_CONFIGS)))
def test_fixed_to_mxint_golden_is_mx_formats_quantize(index):
    """The golden blocks are mx_formats.quantize of the exact values v * 2^-IN_FRAC, blocked
    (BLOCK_0, BLOCK_1) along (-1, -2) of the [rows, ROW_BEATS * BLOCK_0] tensor."""
    cfg = FIXED_CONFIGS[index]
    p, v = _fixed_tensor(cfg, seed=index)
    b0, b1 = p["BLOCK_0"], p["BLOCK_1"]
    got = gs.fixed_to_mxint(p, {"x": {"data": _codes(v, p["IN_WIDTH"])}})["y"]
    cols = p["ROW_BEATS"] * b0 if b1 > 1 else b0
    tensor = (v.reshape(-1, cols) / 2.0 ** p["IN_FRAC"]).astype(np.float64)  # exact: < 53 bits
    fmt = mxf.MXInt((b0, b1), p["OUT_EXP"], p["OUT_MAN"]) if b1 > 1 else mxf.MXInt((b0,), p["OUT_EXP"], p["OUT_MAN"])
    want = streams.mx_to_beats(mxf.quantize(tensor, fmt, axes=(-1, -2) if b1 > 1 else (-1,)))
    np.testing.assert_array_equal(got["mant"], want["mant"])
    np.testing.assert_array_equal(got["exp"], want["exp"])


@pytest.mark.parametrize("index", range(len(FIXED_CONFIGS)))
def test_fixed_to_mxint_rtl_matches_golden(index):
    cfg = FIXED_CONFIGS[index]
    p, v = _fixed_tensor(cfg, seed=index)
    lint("mase_fixed_to_mxint", cfg["params"])
    check_against_golden("mase_fixed_to_mxint", cfg["params"], {"x": {"data": _codes(v, p["IN_WIDTH"])}},
                         idle=0.3, backpressure=0.4, seed=index)


def test_fixed_to_mxint_refuses_a_partial_block_row():
    spec = catalog.get("mase_fixed_to_mxint")
    p = spec.resolve(dict(BLOCK_0=4, BLOCK_1=2, ROW_BEATS=3))
    with pytest.raises(ValueError, match="7 beats is not a whole number of block rows"):
        spec.golden(p, {"x": {"data": np.zeros((7, 4), np.int64)}})


def test_ops_fixed_to_mxint_golden_and_rtl_equal_quantize():
    """A softmax-like unsigned [4, 16] tensor into MXInt((8, 2)): whole-tensor wrapper, both backends."""
    from mase_hwlib import ops

    rng = np.random.default_rng(11)
    v = rng.integers(0, 1 << 12, size=(4, 16)) >> rng.integers(0, 12, size=(4, 1))
    fmt = mxf.MXInt((8, 2), 8, 4)
    want = mxf.quantize(v / 2.0**12, fmt, axes=(-1, -2))
    for backend in ("golden", "rtl"):
        got = ops.fixed_to_mxint(v, fmt, width=13, frac=12, signed=False, backend=backend)
        np.testing.assert_array_equal(got.elements, want.elements)
        np.testing.assert_array_equal(got.scales, want.scales)
    with pytest.raises(ValueError, match="must fit 13 unsigned bits"):
        ops.fixed_to_mxint(-v, fmt, width=13, frac=12, signed=False)


# ---------------------------------------------------------------------------
# mase_mxint_rom_source

ROM_CONFIGS = [
    # layer-norm gamma of a [rows, 24] activation in (8, 2) blocks: 3 words, one pass per block row
    dict(const_shape=(2, 24), block=(8, 2), man=5, exp=8, hold=1, repeat=4, idle=0.0, backpressure=0.4),
    # a scalar (the attention scale) broadcast to every element of 32-lane blocks
    dict(const_shape=(2, 16), block=(16, 2), man=3, exp=8, hold=1, repeat=5, idle=0.0, backpressure=0.6, scalar=True),
    # 1-D blocks, each word held for 3 beats (a column-major consumer), narrow exponent
    dict(const_shape=(10,), block=(2,), man=7, exp=4, hold=3, repeat=2, idle=0.0, backpressure=0.2),
]


def _rom_case(cfg, tmp_path, seed):
    """A constant tensor, its quantization (the oracle) and the ROM image + parameters."""
    from mase_hwlib.rom import write_mx_rom

    rng = np.random.default_rng(seed)
    fmt = mxf.MXInt(cfg["block"], cfg["exp"], cfg["man"])
    if cfg.get("scalar"):
        const = np.full(cfg["const_shape"], 0.125 * 1.41421356)
    elif len(cfg["const_shape"]) == 2:  # a per-column vector broadcast over the block's rows
        const = np.broadcast_to(rng.standard_normal(cfg["const_shape"][1]) * 3, cfg["const_shape"])
    else:
        const = rng.standard_normal(cfg["const_shape"]) * np.exp2(rng.integers(-9, 9, cfg["const_shape"]))
    q = mxf.quantize(const, fmt, axes=(-1, -2) if len(cfg["block"]) == 2 else (-1,))
    words = streams.mx_to_beats(q)
    path = write_mx_rom(tmp_path / f"rom{seed}.hex", words, cfg["man"], cfg["exp"])
    params = dict(LANES=int(np.prod(cfg["block"])), MAN=cfg["man"], EXP=cfg["exp"], DEPTH=len(words["mant"]),
                  HOLD=cfg["hold"], REPEAT=cfg["repeat"], ROM_FILE=str(path))
    return params, words


@pytest.mark.parametrize("index", range(len(ROM_CONFIGS)))
def test_rom_source_streams_the_quantized_constant(index, tmp_path):
    """Golden = the quantized constant's blocks (mx_formats), each HOLD times, REPEAT passes;
    the RTL sends exactly those beats under back-pressure."""
    cfg = ROM_CONFIGS[index]
    params, words = _rom_case(cfg, tmp_path, index)
    want = {k: np.tile(np.repeat(v, cfg["hold"], axis=0), (cfg["repeat"], 1)) for k, v in words.items()}
    spec = catalog.get("mase_mxint_rom_source")
    got = spec.golden(spec.resolve(params), {})["y"]
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    lint("mase_mxint_rom_source", params)
    r = check_against_golden("mase_mxint_rom_source", params, {}, idle=cfg["idle"],
                             backpressure=cfg["backpressure"], seed=index)
    if cfg["backpressure"] == 0:
        assert r.cycles_per_block == 1.0


def test_rom_source_free_running_and_full_rate(tmp_path):
    """REPEAT=0 keeps sending (the golden model needs a beat count); without back-pressure
    one beat per cycle."""
    from mase_hwlib.simulate import simulate

    params, words = _rom_case(ROM_CONFIGS[0], tmp_path, 9)
    params["REPEAT"] = 0
    spec = catalog.get("mase_mxint_rom_source")
    with pytest.raises(ValueError, match="REPEAT=0 runs forever"):
        spec.golden(spec.resolve(params), {})
    want = gs.rom_source_beats(spec.resolve(params), 17)
    r = simulate("mase_mxint_rom_source", params, {}, expected_beats={"y": 17})
    for k in want:
        np.testing.assert_array_equal(r.outputs["y"][k], want[k])
    np.testing.assert_array_equal(want["mant"][:3], words["mant"])
    assert r.cycles_per_block == 1.0


def test_rom_source_refuses_a_wrong_depth(tmp_path):
    params, _ = _rom_case(ROM_CONFIGS[0], tmp_path, 3)
    spec = catalog.get("mase_mxint_rom_source")
    with pytest.raises(ValueError, match="holds 3 words, DEPTH=4"):
        spec.golden(spec.resolve({**params, "DEPTH": 4}), {})


# ---------------------------------------------------------------------------
# mase_mxint_reblock

REBLOCK_CONFIGS = [
    # V of attention: a linear's 2x2 output tiles -> 8 rows x 2 columns, lanes column-major
    # (the B operand of P @ V, blocked along the sequence)
    dict(params=dict(ROWS=8, COLS=4, IN_B0=2, IN_B1=2, OUT_B0=2, OUT_B1=8, OUT_COL_MAJOR=1, IN_MAN=7, OUT_MAN=5),
         bands=3, spread=(-6, 6), idle=0.3, backpressure=0.3),
    # scores 2x2 tiles -> one-row blocks for softmax: a split, lossless at the same formats; two banks
    dict(params=dict(ROWS=2, COLS=8, IN_B0=2, IN_B1=2, OUT_B0=2, OUT_B1=1, IN_MAN=6, IN_EXP=6, OUT_MAN=6,
                     OUT_EXP=6, BANKS=2), bands=4, spread=(-20, 20), idle=0.2, backpressure=0.5),
    # coarsen (4, 1) -> (8, 2) into a narrow exponent (emax = 7) that clamps and saturates
    dict(params=dict(ROWS=2, COLS=8, IN_B0=4, IN_B1=1, OUT_B0=8, OUT_B1=2, IN_MAN=12, OUT_MAN=4, OUT_EXP=4),
         bands=4, spread=(-14, 14), idle=0.4, backpressure=0.2),
]


def _reblock_case(cfg, seed):
    """Input beats (a random tensor, per-row scales, a zero row, quantized to the input format)
    and the expected beats from mx_formats: quantize(dequantize(input), output format)."""
    p = catalog.get("mase_mxint_reblock").resolve(cfg["params"])
    rng = np.random.default_rng(seed)
    shape = (p["ROWS"] * cfg["bands"], p["COLS"])
    x = rng.standard_normal(shape) * np.exp2(rng.integers(*cfg["spread"], size=(shape[0], 1)))
    x[0] = 0.0
    fin = mxf.MXInt((p["IN_B0"], p["IN_B1"]), p["IN_EXP"], p["IN_MAN"])
    fout = mxf.MXInt((p["OUT_B0"], p["OUT_B1"]), p["OUT_EXP"], p["OUT_MAN"])
    qin = mxf.quantize(x, fin, axes=(-1, -2))
    want = streams.mx_to_beats(mxf.quantize(mxf.dequantize(qin).astype(np.float64), fout, axes=(-1, -2)))
    if p["OUT_COL_MAJOR"]:
        want["mant"] = want["mant"].reshape(-1, p["OUT_B1"], p["OUT_B0"]).transpose(0, 2, 1).reshape(len(want["mant"]), -1)
    return p, qin, streams.mx_to_beats(qin), want


@pytest.mark.parametrize("index", range(len(REBLOCK_CONFIGS)))
def test_reblock_golden_is_quantize_of_the_dequantized_input(index):
    p, _, beats, want = _reblock_case(REBLOCK_CONFIGS[index], seed=index)
    got = gs.reblock(p, {"x": beats})["y"]
    np.testing.assert_array_equal(got["mant"], want["mant"])
    np.testing.assert_array_equal(got["exp"], want["exp"])


def test_reblock_split_is_lossless():
    """Splitting 2x2 blocks into rows at the same mantissa width keeps every value."""
    p, qin, beats, _ = _reblock_case(REBLOCK_CONFIGS[1], seed=1)
    got = gs.reblock(p, {"x": beats})["y"]
    fout = mxf.MXInt((2, 1), p["OUT_EXP"], p["OUT_MAN"])
    back = streams.beats_to_mx(got, fout, qin.shape, (-1, -2))
    np.testing.assert_array_equal(mxf.dequantize(back), mxf.dequantize(qin))


@pytest.mark.parametrize("index", range(len(REBLOCK_CONFIGS)))
def test_reblock_rtl_matches_golden(index):
    cfg = REBLOCK_CONFIGS[index]
    _, _, beats, _ = _reblock_case(cfg, seed=index)
    lint("mase_mxint_reblock", cfg["params"])
    check_against_golden("mase_mxint_reblock", cfg["params"], {"x": beats}, idle=cfg["idle"],
                         backpressure=cfg["backpressure"], seed=index)


@pytest.mark.parametrize("banks,cycles", [(1, (3 * 12 + 7) / 31), (2, 1.0)])
def test_reblock_throughput_one_and_two_banks(banks, cycles):
    """A split of 4 input blocks into 8 per band, 4 bands, no stalls: one bank fills then
    drains (12 cycles per band of 8 output blocks: 43 cycles from the first output to the
    32nd), two banks overlap the next band's fill (one block per cycle)."""
    params = {**REBLOCK_CONFIGS[1]["params"], "BANKS": banks}
    _, _, beats, _ = _reblock_case(REBLOCK_CONFIGS[1], seed=1)
    r = check_against_golden("mase_mxint_reblock", params, {"x": beats}, idle=0, backpressure=0)
    assert r.cycles_per_block == pytest.approx(cycles)
    assert catalog.get("mase_mxint_reblock").resolve(params)["CYCLES_PER_BAND"] == (12 if banks == 1 else 8)


def test_reblock_refuses_bad_bands():
    spec = catalog.get("mase_mxint_reblock")
    with pytest.raises(ValueError, match="COLS=6 is not a multiple of OUT_B0=4"):
        spec.resolve(dict(COLS=6, IN_B0=2, OUT_B0=4))
    p = spec.resolve({})
    with pytest.raises(ValueError, match="3 blocks is not a whole number of bands"):
        spec.golden(p, {"x": {"mant": np.zeros((3, 8), np.int64), "exp": np.zeros((3, 1), np.int64)}})


# ---------------------------------------------------------------------------
# mase_mxint_replay

REPLAY_CONFIGS = [
    # Q row groups of 4 tiles, 2 heads, each head's tiles replayed for 3 key tiles
    dict(params=dict(LANES=4, MAN=5, EXP=6, FRAME_ROWS=1, FRAME_COLS=4, GROUPS=2, REPEAT_INNER=3),
         frames=3, idle=0.3, backpressure=0.3),
    # all of K (3 row tiles x 4), 2 heads, replayed for 2 query tiles
    dict(params=dict(LANES=4, MAN=7, EXP=8, FRAME_ROWS=3, FRAME_COLS=4, GROUPS=2, REPEAT_OUTER=2),
         frames=2, idle=0.1, backpressure=0.5),
    # V: column-major per head, 2x3 tiles transposed to 3x2
    dict(params=dict(LANES=6, MAN=3, EXP=4, FRAME_ROWS=2, FRAME_COLS=2, GROUPS=1, COL_MAJOR=1, REPEAT_OUTER=2,
                     TRANSPOSE_LANES=1, TILE_COLS=3), frames=3, idle=0.5, backpressure=0.2),
]


@pytest.mark.parametrize("index", range(len(REPLAY_CONFIGS)))
def test_replay_rtl_matches_golden(index):
    cfg = REPLAY_CONFIGS[index]
    from mase_hwlib.testing import mxint_blocks

    p = catalog.get("mase_mxint_replay").resolve(cfg["params"])
    beats = mxint_blocks(p["FRAME"] * cfg["frames"] - 6, p["LANES"], p["MAN"], p["EXP"],
                         np.random.default_rng(index))
    lint("mase_mxint_replay", cfg["params"])
    r = check_against_golden("mase_mxint_replay", cfg["params"], {"x": beats}, idle=cfg["idle"],
                             backpressure=cfg["backpressure"], seed=index)
    assert len(r.outputs["y"]["mant"]) == p["OUT_PER_FRAME"] * cfg["frames"]


def test_replay_order_by_hand():
    """A 2x4 frame, 2 groups, column-major, inner repeat 2: the order written out."""
    p = catalog.get("mase_mxint_replay").resolve(dict(FRAME_ROWS=2, FRAME_COLS=4, GROUPS=2, COL_MAJOR=1,
                                                      REPEAT_INNER=2))
    assert gs.replay_order(p) == [0, 4, 1, 5] * 2 + [2, 6, 3, 7] * 2


def test_replay_full_rate_overlaps_the_next_frame():
    """No stalls: one block per cycle, the second frame loads while the first is replayed."""
    from mase_hwlib.testing import mxint_blocks

    params = dict(LANES=2, FRAME_ROWS=1, FRAME_COLS=3, REPEAT_INNER=2)
    beats = mxint_blocks(12, 2, 7, 8, np.random.default_rng(5), edge=False)
    r = check_against_golden("mase_mxint_replay", params, {"x": beats}, idle=0, backpressure=0)
    assert r.cycles_per_block == 1.0
    assert r.first_output_latency == 3 + 1  # one frame, then the registered read


def test_ops_reblock_linear_output_tiles_into_the_next_linear_input_format():
    """A linear's native (2, 2) output tiles -> the (8, 2) input blocks of the next linear:
    both backends equal quantize(dequantize(y), new format)."""
    from mase_hwlib import ops

    rng = np.random.default_rng(4)
    q = mxf.quantize(rng.standard_normal((4, 16)) * np.exp2(rng.integers(-4, 4, (4, 1))), mxf.MXInt((2, 2), 8, 9),
                     axes=(-1, -2))
    fout = mxf.MXInt((8, 2), 8, 5)
    want = mxf.quantize(mxf.dequantize(q).astype(np.float64), fout, axes=(-1, -2))
    for backend in ("golden", "rtl"):
        got = ops.reblock(q, fout, backend=backend)
        np.testing.assert_array_equal(got.elements, want.elements)
        np.testing.assert_array_equal(got.scales, want.scales)
    with pytest.raises(ValueError, match="not whole bands of 4 rows"):
        ops.reblock(mxf.quantize(np.ones((6, 16)), mxf.MXInt((2, 2), 8, 9), axes=(-1, -2)), mxf.MXInt((8, 4), 8, 5))
